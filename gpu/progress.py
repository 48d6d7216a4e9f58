"""Progress bars for long runs: one rule for every driver.

A bar (``tqdm.auto``: a text bar in a terminal, a widget in Jupyter) is shown on MPI rank 0 when

* ``SCALEFORGE_PROGRESS=1`` is set (always) or ``=0`` (never), else
* stderr is a terminal or the code runs in a Jupyter/IPython kernel,

and the driver was not asked to be quiet (``quiet=True`` / ``--quiet``). Logs, CI and batch jobs
therefore get no bar lines; notebooks and terminals do.
"""
from __future__ import annotations

import os
import sys

from tqdm.auto import tqdm


def _in_notebook() -> bool:
    """True inside a Jupyter (ipykernel) session, where stderr is not a TTY but bars render."""
    if "ipykernel" not in sys.modules:
        return False
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except Exception:
        return False
    return shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell"


def show_progress() -> bool:
    """Whether bars are shown by default here (before ``quiet`` and the rank are considered)."""
    env = os.environ.get("SCALEFORGE_PROGRESS", "").strip()
    if env in ("0", "1"):
        return env == "1"
    return sys.stderr.isatty() or _in_notebook()


def progress(iterable=None, *, total=None, desc=None, comm=None, quiet: bool = False, **kw):
    """A ``tqdm.auto`` progress bar following the module's rule (rank 0 only; see above).

    Works as a wrapper around an iterable or as a manual bar (``.update(n)``).
    """
    rank = getattr(comm, "rank", 0) if comm is not None else 0
    disable = quiet or rank != 0 or not show_progress()
    return tqdm(iterable, total=total, desc=desc, disable=disable, **kw)
