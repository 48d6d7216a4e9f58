"""Thread-team sizing for the pde Numba kernels on small inputs."""
from __future__ import annotations

class few_threads:
    """Context manager: run a ``parallel=True`` kernel on ``max(1, work // per_thread)`` Numba threads.

    Small inputs (1D meshes of the TD model: a few hundred elements) gain nothing from a thread team and pay
    its wake-up and barrier on every call; on shared, oversubscribed cores that cost dominated the
    assembly of the 1D matrices (measured 1.1-2.3 s -> 0.5 s for the 4-level LPBF model)."""

    def __init__(self, work: int, per_thread: int = 4096):
        import numba

        self._numba = numba
        self.n = int(max(1, min(numba.config.NUMBA_NUM_THREADS, work // per_thread)))

    def __enter__(self):
        self._old = self._numba.get_num_threads()
        self._numba.set_num_threads(min(self.n, self._old))
        return self

    def __exit__(self, *exc):
        self._numba.set_num_threads(self._old)
        return False
