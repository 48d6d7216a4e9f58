"""MPI plumbing shared by all drivers: optional mpi4py, serial stand-in, block decomposition.

mpi4py is optional at import: ``get_comm(None)`` returns ``MPI.COMM_WORLD`` when mpi4py
imports, and a :class:`SerialComm` that implements the handful of collectives the drivers use
otherwise.

An uncaught exception on one rank must end the whole job, not leave the other ranks waiting in a
collective forever. :func:`get_comm` therefore installs, once, a ``sys.excepthook`` that prints the
traceback with the rank and calls ``MPI.COMM_WORLD.Abort(1)`` whenever more than one rank runs
(the behaviour ``python -m mpi4py script.py`` gives, now also for ``python -m <package>`` and for
library drivers called from a user's script under ``mpirun``).
"""
from __future__ import annotations

import os
import sys
import traceback

import numpy as np

_ABORT_HOOK_INSTALLED = False


class MPIUnavailableError(RuntimeError):
    """MPI was explicitly requested but mpi4py (or an MPI library) is missing."""


def _launched_under_mpi() -> bool:
    keys = ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS", "PMIX_RANK", "HYDI_CONTROL_FD")
    return any(k in os.environ for k in keys)


def mpi_available() -> bool:
    """True when mpi4py imports and initialises an MPI library."""
    try:
        from mpi4py import MPI  # noqa: F401
    except Exception:
        return False
    return True


class SerialComm:
    """A one-rank communicator with the subset of the mpi4py API the drivers use."""

    rank = 0
    size = 1

    def Get_rank(self) -> int:
        return 0

    def Get_size(self) -> int:
        return 1

    def Barrier(self) -> None:
        return None

    barrier = Barrier

    def bcast(self, obj, root: int = 0):
        return obj

    def allreduce(self, obj, op=None):
        return obj

    def reduce(self, obj, op=None, root: int = 0):
        return obj

    def gather(self, obj, root: int = 0):
        return [obj]

    def allgather(self, obj):
        return [obj]

    def scatter(self, objs, root: int = 0):
        return objs[0]

    def Allreduce(self, sendbuf, recvbuf, op=None) -> None:
        np.copyto(np.asarray(recvbuf), np.asarray(sendbuf))

    def Bcast(self, buf, root: int = 0) -> None:
        return None

    def Abort(self, errorcode: int = 1):
        raise SystemExit(errorcode)


def get_comm(comm=None, require: bool = False):
    """Return the communicator a driver should use.

    Parameters
    ----------
    comm : mpi4py communicator or None
        Passed through when given. ``None`` means ``MPI.COMM_WORLD`` when
        mpi4py is importable, else a :class:`SerialComm`.
    require : bool
        If True, raise :class:`MPIUnavailableError` instead of falling back.
    """
    if comm is not None:
        return comm
    try:
        from mpi4py import MPI
    except Exception as exc:
        if require or _launched_under_mpi():
            raise MPIUnavailableError(
                f"MPI requested (or launched under mpiexec) but mpi4py is unusable: {exc}; "
                "install scaleforge[mpi] (cluster MPI) or scaleforge[mpi-wheel]"
            ) from exc
        return SerialComm()
    if MPI.COMM_WORLD.Get_size() > 1:
        install_abort_hook()
    return MPI.COMM_WORLD


def abort_job(code: int = 1, message: str | None = None) -> None:
    """End the whole MPI job now with exit status ``code`` (serial: ``SystemExit(code)``).

    Prints ``message`` (one line, with the rank) to stderr first. Used when one rank meets an error
    the others cannot know of, so that nobody waits in a collective forever.
    """
    if message:
        print(message, file=sys.stderr, flush=True)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        from mpi4py import MPI

        if MPI.Is_initialized() and not MPI.Is_finalized() and MPI.COMM_WORLD.Get_size() > 1:
            # give the launcher a moment to forward this rank's last lines: MPI_Abort tears the job
            # down at once, and the error message was sometimes lost with it (seen with Hydra)
            import time

            time.sleep(0.5)
            MPI.COMM_WORLD.Abort(code)
    except ImportError:
        pass
    raise SystemExit(code)


def world_size() -> int:
    """Ranks in ``MPI.COMM_WORLD`` if MPI is initialised, else 1 (never initialises MPI itself)."""
    mpi = sys.modules.get("mpi4py.MPI")
    if mpi is None:
        return 1
    try:
        return mpi.COMM_WORLD.Get_size() if mpi.Is_initialized() and not mpi.Is_finalized() else 1
    except Exception:
        return 1


def world_rank() -> int:
    """This process's rank in ``MPI.COMM_WORLD`` if MPI is initialised, else 0."""
    mpi = sys.modules.get("mpi4py.MPI")
    if mpi is None or world_size() == 1:
        return 0
    return mpi.COMM_WORLD.Get_rank()


def install_abort_hook() -> None:
    """Make an uncaught exception on any rank abort every rank (idempotent)."""
    global _ABORT_HOOK_INSTALLED
    if _ABORT_HOOK_INSTALLED:
        return
    _ABORT_HOOK_INSTALLED = True
    previous = sys.excepthook

    def hook(exc_type, exc, tb):
        if issubclass(exc_type, (KeyboardInterrupt, SystemExit)) or world_size() == 1:
            return previous(exc_type, exc, tb)
        lines = traceback.format_exception(exc_type, exc, tb)
        sys.stderr.write(f"[rank {world_rank()}] uncaught exception; aborting all ranks\n" + "".join(lines))
        abort_job(1)

    sys.excepthook = hook


def block_range(n: int, size: int, rank: int) -> tuple[int, int]:
    """Contiguous block [lo, hi) of ``n`` items owned by ``rank`` out of ``size``.

    The first ``n % size`` ranks get one extra item, so blocks differ by at most one.
    """
    if n < 0 or size < 1 or not (0 <= rank < size):
        raise ValueError(f"block_range needs n >= 0, size >= 1, 0 <= rank < size; got {n}, {size}, {rank}")
    base, extra = divmod(n, size)
    lo = rank * base + min(rank, extra)
    hi = lo + base + (1 if rank < extra else 0)
    return lo, hi


def allreduce_sum(comm, arr):
    """Sum a NumPy array over ranks (returns a new float/int array; serial: a copy).

    The reduction order inside MPI is fixed for a given rank count, so results
    are deterministic; across rank counts they agree to round-off.
    """
    a = np.ascontiguousarray(arr)
    if getattr(comm, "size", 1) == 1:
        return a.copy()
    from mpi4py import MPI

    out = np.empty_like(a)
    comm.Allreduce(a, out, op=MPI.SUM)
    return out
