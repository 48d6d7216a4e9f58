"""Progress bars for long runs: tqdm on rank 0 only, silent when not a TTY or when asked."""
from __future__ import annotations

import sys

from tqdm.auto import tqdm


def progress(iterable=None, *, total=None, desc=None, comm=None, quiet: bool = False, **kw):
    """A tqdm progress bar shown only on MPI rank 0 and only when stderr is a terminal.

    Works as a wrapper around an iterable or as a manual bar (``.update(n)``).
    """
    rank = getattr(comm, "rank", 0) if comm is not None else 0
    disable = quiet or rank != 0 or not sys.stderr.isatty()
    return tqdm(iterable, total=total, desc=desc, disable=disable, **kw)
