"""Threads per MPI rank: cap Numba's thread pool so ranks on one node do not oversubscribe it.

Numba starts as many worker threads as the process may use cores. Under ``mpirun -n 4`` on a
16-core node each of the four ranks would start 16 threads (64 on 16 cores), which slows every
parallel kernel and the MPI progress of all ranks. This module runs when :mod:`gpu` is imported,
before Numba starts its pool, and sets ``NUMBA_NUM_THREADS`` to

    max(1, usable cores of this process // MPI ranks on this node)

when the process was launched by an MPI starter (``MPI_LOCALNRANKS`` from MPICH/Hydra,
``OMPI_COMM_WORLD_LOCAL_SIZE`` from Open MPI, ``SLURM_NTASKS_PER_NODE`` from srun). If the
launcher already pinned the rank to fewer cores than the node has, those cores are the rank's and
are not divided again. The choice is logged once (logger ``gpu``).

Overrides: an explicit ``NUMBA_NUM_THREADS`` in the environment is always respected;
``SCALEFORGE_THREADS_PER_RANK=N`` sets the cap by hand.
"""
from __future__ import annotations

import logging
import os

_log = logging.getLogger("gpu")

#: environment variables that launchers set to the number of ranks on this node
_LOCAL_SIZE_KEYS = ("MPI_LOCALNRANKS", "OMPI_COMM_WORLD_LOCAL_SIZE", "PMI_LOCAL_SIZE", "SLURM_NTASKS_PER_NODE")

#: what was decided at import: (threads or None, reason)
DECISION: tuple[int | None, str] = (None, "not decided")


def ranks_on_node(environ=os.environ) -> int | None:
    """Ranks sharing this node according to the launcher's environment, or None outside MPI."""
    for key in _LOCAL_SIZE_KEYS:
        raw = environ.get(key, "")
        digits = raw.split("(")[0].split(",")[0]  # SLURM may write "4(x2)" or "4,2"
        if digits.isdigit() and int(digits) >= 1:
            return int(digits)
    return None


def usable_cores() -> tuple[int, bool]:
    """(cores this process may run on, whether the launcher pinned it to fewer than the node has)."""
    total = os.cpu_count() or 1
    try:
        mine = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        mine = total
    return mine, mine < total


def threads_per_rank(environ=os.environ) -> tuple[int | None, str]:
    """The Numba thread count for this rank and why (None: leave Numba's default)."""
    if environ.get("NUMBA_NUM_THREADS"):
        return None, f"NUMBA_NUM_THREADS={environ['NUMBA_NUM_THREADS']} set by the user"
    forced = environ.get("SCALEFORGE_THREADS_PER_RANK", "")
    if forced:
        if not forced.isdigit() or int(forced) < 1:
            raise ValueError(f"SCALEFORGE_THREADS_PER_RANK={forced!r} must be a positive integer")
        return int(forced), f"SCALEFORGE_THREADS_PER_RANK={forced}"
    local = ranks_on_node(environ)
    if local is None:
        return None, "not launched under MPI"
    cores, pinned = usable_cores()
    if pinned:
        return max(1, cores), f"rank pinned by the launcher to {cores} core(s)"
    return max(1, cores // local), f"{cores} cores / {local} ranks on this node"


def cap_threads() -> None:
    """Set ``NUMBA_NUM_THREADS`` for this rank (once, before Numba starts its thread pool)."""
    global DECISION
    n, why = threads_per_rank()
    DECISION = (n, why)
    if n is None:
        return
    os.environ["NUMBA_NUM_THREADS"] = str(n)
    os.environ.setdefault("OMP_NUM_THREADS", str(n))
    import sys

    if "numba" in sys.modules:  # imported before gpu: its pool size is fixed, so lower the active count
        import numba

        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    _log.info("Numba threads per rank: %d (%s)", n, why)
