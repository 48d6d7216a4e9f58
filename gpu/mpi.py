"""MPI plumbing shared by all drivers: optional mpi4py, serial stand-in, block decomposition.

mpi4py is optional at import (shared/DESIGN.md, "MPI"): ``get_comm(None)``
returns ``MPI.COMM_WORLD`` when mpi4py imports, and a :class:`SerialComm` that
implements the handful of collectives the drivers use otherwise.
"""
from __future__ import annotations

import os

import numpy as np


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
    return MPI.COMM_WORLD


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
