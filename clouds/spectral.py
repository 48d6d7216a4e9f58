"""Pseudo-spectral operators on a triply periodic box (array code written against ``gpu.xp``).

Fields live in real space as ``(nx, ny, nz)`` arrays and in Fourier space as the half-complex
``rfftn`` layout ``(nx, ny, nz//2 + 1)``. The NumPy path uses :mod:`scipy.fft` (multi-threaded
with ``workers``); the CuPy path uses :mod:`cupyx.scipy.fft` — the same code, selected by
``gpu.xp(backend)``.

* dealiasing: the 2/3 rule (Orszag 1971), modes with |k_i| > (2/3) k_max,i are zeroed;
* Leray projection P(k) = I - k k^T / k^2 removes the divergent part (the pressure);
* Parseval with the rfft weights (1 for k_z = 0 and Nyquist, 2 otherwise) gives volume means
  <u^2> = sum_k w_k |u_k|^2 / N^2.
"""
from __future__ import annotations

import numpy as np

import gpu


class Spectral:
    """FFT grid of ``shape`` points on a box of side lengths ``box`` [m]."""

    def __init__(self, shape, box, backend="cpu", workers=None):
        self.shape = tuple(int(s) for s in shape)
        if len(self.shape) != 3 or any(s < 4 or s % 2 for s in self.shape):
            raise ValueError(f"grid shape must be three even integers >= 4, got {shape}")
        self.box = tuple(float(b) for b in box)
        if any(not b > 0 for b in self.box):
            raise ValueError(f"box lengths must be > 0, got {box}")
        self.backend = gpu.get_backend(backend)
        self.xp = gpu.xp(self.backend)
        if self.backend == "cuda":  # pragma: no cover - needs a device
            import cupyx.scipy.fft as fftmod
            self._kw = {}
        else:
            import scipy.fft as fftmod
            import os
            self._kw = {"workers": workers or int(os.environ.get("NUMBA_NUM_THREADS", os.cpu_count() or 1))}
        self.fft = fftmod
        xp = self.xp
        nx, ny, nz = self.shape
        self.dx = np.array([b / n for b, n in zip(self.box, self.shape)])
        kx = 2 * np.pi / self.box[0] * np.fft.fftfreq(nx, 1.0 / nx)
        ky = 2 * np.pi / self.box[1] * np.fft.fftfreq(ny, 1.0 / ny)
        kz = 2 * np.pi / self.box[2] * np.fft.rfftfreq(nz, 1.0 / nz)
        self.kx = xp.asarray(kx[:, None, None])
        self.ky = xp.asarray(ky[None, :, None])
        self.kz = xp.asarray(kz[None, None, :])
        self.k2 = self.kx ** 2 + self.ky ** 2 + self.kz ** 2
        k2 = self.k2.copy()
        k2[0, 0, 0] = 1.0
        self.inv_k2 = 1.0 / k2
        self.kmag = xp.sqrt(self.k2)
        mx = np.abs(np.fft.fftfreq(nx, 1.0 / nx)) < nx / 3.0
        my = np.abs(np.fft.fftfreq(ny, 1.0 / ny)) < ny / 3.0
        mz = np.abs(np.fft.rfftfreq(nz, 1.0 / nz)) < nz / 3.0
        self.dealias = xp.asarray(mx[:, None, None] & my[None, :, None] & mz[None, None, :])
        w = np.full(nz // 2 + 1, 2.0)
        w[0] = 1.0
        w[-1] = 1.0
        self.weight = xp.asarray(w[None, None, :])
        self.npts = nx * ny * nz

    # ---------------------------------------------------------------- transforms
    def forward(self, f):
        return self.fft.rfftn(f, axes=(0, 1, 2), **self._kw)

    def inverse(self, fh):
        return self.fft.irfftn(fh, s=self.shape, axes=(0, 1, 2), **self._kw)

    # ---------------------------------------------------------------- operators
    def project(self, uh):
        """Leray projection of a spectral vector field (3, ...) onto divergence-free fields."""
        div = self.kx * uh[0] + self.ky * uh[1] + self.kz * uh[2]
        fac = div * self.inv_k2
        uh[0] -= self.kx * fac
        uh[1] -= self.ky * fac
        uh[2] -= self.kz * fac
        return uh

    def curl(self, uh):
        xp = self.xp
        return xp.stack([1j * (self.ky * uh[2] - self.kz * uh[1]),
                         1j * (self.kz * uh[0] - self.kx * uh[2]),
                         1j * (self.kx * uh[1] - self.ky * uh[0])])

    def divergence(self, uh):
        return 1j * (self.kx * uh[0] + self.ky * uh[1] + self.kz * uh[2])

    def gradient(self, fh):
        return [1j * self.kx * fh, 1j * self.ky * fh, 1j * self.kz * fh]

    # ---------------------------------------------------------------- volume means via Parseval
    def mean_sq(self, fh):
        """<f^2> over the box from the spectral coefficients."""
        return float(self.xp.sum(self.weight * self.xp.abs(fh) ** 2)) / self.npts ** 2

    def mean(self, fh):
        return float(fh[0, 0, 0].real) / self.npts

    def energy(self, uh):
        """Kinetic energy per unit mass E = <|u|^2> / 2 [m^2/s^2]."""
        return 0.5 * sum(self.mean_sq(uh[i]) for i in range(3))

    def dissipation(self, uh, nu):
        """epsilon = 2 nu <s_ij s_ij> = nu <|grad u|^2> = nu sum k^2 |u_k|^2 (periodic box)."""
        xp = self.xp
        s = sum(float(xp.sum(self.weight * self.k2 * xp.abs(uh[i]) ** 2)) for i in range(3))
        return nu * s / self.npts ** 2

    def gradient_sq(self, fh):
        """<|grad f|^2>."""
        return float(self.xp.sum(self.weight * self.k2 * self.xp.abs(fh) ** 2)) / self.npts ** 2

    def spectrum(self, uh):
        """Shell-averaged energy spectrum E(k) on integer shells of k / k_0 (k_0 = 2 pi / box_x)."""
        xp = self.xp
        k0 = 2 * np.pi / self.box[0]
        shell = gpu.to_host(xp.rint(self.kmag / k0)).astype(int).ravel()
        e = gpu.to_host(0.5 * self.weight * sum(xp.abs(uh[i]) ** 2 for i in range(3))).ravel() / self.npts ** 2
        E = np.bincount(shell, weights=e)
        return np.arange(E.size) * k0, E / k0
