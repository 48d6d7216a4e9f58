"""Slab-decomposed 3-D real FFTs with mpi4py (x-slabs in real space, y-slabs in Fourier space).

Real space: rank r holds planes ``x in [r n/P, (r+1) n/P)`` as ``a[nxl, n, n]``.
Fourier space: rank r holds ``A[n (kx), nyl (ky block r), n//2 + 1 (kz)]``.
Forward: rfft along z, fft along y on the slab, an ``Alltoall`` transpose, fft along x.
The 1-D transforms are the same on any number of ranks, so the results are identical
to the serial transform bit for bit (NumPy's pocketfft; DFT convention
``A_k = sum_x a_x exp(-i k.x)``, inverse normalised by 1/n^3).

The transforms run with the array module ``xp`` (:func:`gpu.xp`): for NumPy arrays with ``scipy.fft`` (pocketfft,
each 1-D transform batch split over ``numba.get_num_threads()`` threads, ``workers``; the split does not change the
numbers), or CuPy (cuFFT) on a GPU, which agrees with pocketfft to round-off, not bit for bit. With several ranks and CuPy the
``Alltoall`` goes through host memory. The wavenumber helpers return NumPy arrays.
"""
from __future__ import annotations

import numba
import numpy as np


class SlabFFT:
    """Forward/inverse real 3-D FFT of an n^3 grid split in x-slabs over ``comm``."""

    def __init__(self, n: int, comm, xp=np):
        size = getattr(comm, "size", 1)
        if n % size:
            raise ValueError(f"mesh size {n} must be divisible by the number of MPI ranks ({size})")
        self.n, self.comm, self.size, self.rank = n, comm, size, getattr(comm, "rank", 0)
        self.nxl = n // size
        self.x0 = self.rank * self.nxl
        self.nyl = n // size
        self.y0 = self.rank * self.nyl
        self.nz = n // 2 + 1
        self.xp = xp

    def _transpose(self, a, forward: bool):
        """Exchange blocks: (nxl, n, nz) x-slab <-> (n, nyl, nz) y-slab."""
        if self.size == 1:
            return a
        if self.xp is not np:  # the exchange goes through host memory (no CUDA-aware MPI assumed)
            from gpu import to_host

            return self.xp.asarray(self._transpose_host(to_host(a), forward))
        return self._transpose_host(a, forward)

    def _transpose_host(self, a, forward: bool):
        P, nxl, nyl, nz = self.size, self.nxl, self.nyl, self.nz
        from mpi4py import MPI  # noqa: F401

        if forward:
            send = np.ascontiguousarray(a.reshape(nxl, P, nyl, nz).transpose(1, 0, 2, 3))
            recv = np.empty_like(send)
            self.comm.Alltoall(send, recv)  # recv[s] = rank s's x-block for my y-block
            return recv.reshape(P * nxl, nyl, nz)
        send = np.ascontiguousarray(a.reshape(P, nxl, nyl, nz))
        recv = np.empty_like(send)
        self.comm.Alltoall(send, recv)  # recv[s] = my x-block of rank s's y-block
        return np.ascontiguousarray(recv.transpose(1, 0, 2, 3)).reshape(nxl, P * nyl, nz)

    def _fft(self):
        """The FFT module, its keyword arguments and those for a transform whose input may be overwritten:
        ``scipy.fft`` with threads for NumPy, else ``xp.fft`` (CuPy's ``cupy.fft`` takes no ``workers`` or
        ``overwrite_x``)."""
        if self.xp is np:
            import scipy.fft

            kw = {"workers": numba.get_num_threads()}
            return scipy.fft, kw, {**kw, "overwrite_x": True}
        return self.xp.fft, {}, {}

    def forward(self, a):
        """Forward transform of this rank's real x-slab (an ``xp`` array) to its y-slab of modes."""
        fft, kw, kw_over = self._fft()
        b = fft.fft(fft.rfft(a, axis=2, **kw), axis=1, **kw_over)
        return fft.fft(self._transpose(b, True), axis=0, **kw_over)

    def inverse(self, A):
        """Inverse of :meth:`forward` (normalised by 1/n^3), ``xp`` arrays in and out (``A`` is not changed)."""
        fft, kw, kw_over = self._fft()
        b = self._transpose(fft.ifft(A, axis=0, **kw), False)
        return fft.irfft(fft.ifft(b, axis=1, **kw_over), n=self.n, axis=2, **kw)

    def kvectors(self, box: float):
        """Wavenumbers (kx[:, None, None], ky[None, :, None], kz[None, None, :]) of this rank's k-slab."""
        n = self.n
        k = 2 * np.pi / box * np.fft.fftfreq(n, 1.0 / n)
        kx = k[:, None, None]
        ky = k[self.y0:self.y0 + self.nyl][None, :, None]
        kz = (2 * np.pi / box * np.arange(self.nz))[None, None, :]
        return kx, ky, kz

    def nyquist_mask(self):
        """True where any of |kx|, |ky|, |kz| sits on the Nyquist frequency (mode without a partner)."""
        n = self.n
        ix = np.fft.fftfreq(n, 1.0 / n)
        mx = (np.abs(ix) == n // 2)[:, None, None]
        my = (np.abs(ix[self.y0:self.y0 + self.nyl]) == n // 2)[None, :, None]
        mz = (np.arange(self.nz) == n // 2)[None, None, :]
        return mx | my | mz

    def mode_weights(self):
        """Multiplicity of each rfft mode in the full complex grid (2 for 0 < kz < n/2, else 1)."""
        w = np.full(self.nz, 2.0)
        w[0] = 1.0
        if self.n % 2 == 0:
            w[-1] = 1.0
        return w[None, None, :]
