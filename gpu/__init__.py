"""Where kernels run: the CPU/CUDA backend switch, MPI plumbing, progress bars, and the shared HDF5/TOML helpers.

Every scaleforge package picks its backend and communicator here, so that a
missing GPU or a missing MPI produces one clear error in one place.

Backends
--------
>>> import gpu
>>> gpu.get_backend("auto") in ("cpu", "cuda")   # "cuda" if CuPy and a device work, else "cpu"
True
>>> gpu.xp("cpu").__name__                       # the array module (cupy for "cuda")
'numpy'

``gpu.get_backend("cuda")`` on a machine without a usable GPU raises
:class:`gpu.GPUUnavailableError` with the reason; it never falls back silently.

MPI
---
>>> comm = gpu.get_comm()          # MPI.COMM_WORLD under mpiexec, a serial stand-in otherwise
>>> gpu.block_range(10, 3, 0), gpu.block_range(10, 3, 2)   # items [lo, hi) of ranks 0 and 2 of 3
((0, 4), (7, 10))
"""
import os as _os

# Numba's OpenMP workers busy-wait after each parallel loop by default; on shared 2-core machines and
# oversubscribed MPI ranks that spinning slowed hierarchical-timestep runs 10-20x (issue 4 measurements).
# Passive waiting costs nothing measurable on an idle machine. Users may override it in the environment.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# Under mpirun, one Numba thread pool per rank sized to the rank's share of the node (gpu.threads).
from .threads import cap_threads as _cap_threads  # noqa: E402

_cap_threads()

from .backend import (  # noqa: E402
    GPUUnavailableError,
    available,
    get_backend,
    unavailable_reason,
    to_host,
    xp,
)
from .mpi import (  # noqa: E402
    MPIUnavailableError,
    SerialComm,
    allreduce_sum,
    block_range,
    get_comm,
    mpi_available,
)
from .progress import progress  # noqa: E402
from .io import code_version as _code_version  # noqa: E402

#: version of the installed scaleforge distribution (from the package metadata)
__version__ = _code_version()

__all__ = [
    "GPUUnavailableError",
    "MPIUnavailableError",
    "SerialComm",
    "allreduce_sum",
    "available",
    "block_range",
    "get_backend",
    "get_comm",
    "mpi_available",
    "progress",
    "to_host",
    "unavailable_reason",
    "xp",
]
