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
        #: 1j k_x, 1j k_y, 1j k_z (the derivative factors, broadcast shapes)
        self.ik = (1j * self.kx, 1j * self.ky, 1j * self.kz)
        mx = np.abs(np.fft.fftfreq(nx, 1.0 / nx)) < nx / 3.0
        my = np.abs(np.fft.fftfreq(ny, 1.0 / ny)) < ny / 3.0
        mz = np.abs(np.fft.rfftfreq(nz, 1.0 / nz)) < nz / 3.0
        self.dealias = xp.asarray(mx[:, None, None] & my[None, :, None] & mz[None, None, :])
        w = np.full(nz // 2 + 1, 2.0)
        w[0] = 1.0
        w[-1] = 1.0
        self.weight = xp.asarray(w[None, None, :])
        self.npts = nx * ny * nz
        #: local real-space block: x planes [x_lo, x_hi) (the whole grid in serial)
        self.x_lo, self.x_hi = 0, nx
        self.owns_k0 = True

    def _reduce(self, x):
        """Sum a float over ranks (identity in serial)."""
        return x

    @property
    def local_shape(self):
        return (self.x_hi - self.x_lo,) + self.shape[1:]

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

    def curl_inverse(self, uh):
        """The curl of the spectral vector field uh in real space, (3, ...): i k x uh, transformed back.

        (i k) x uh is formed with the factors :attr:`ik` (i (k_y u_z) = (i k_y) u_z exactly) and one
        scratch array for the three components, instead of the temporaries of :meth:`curl`.
        """
        xp = self.xp
        ikx, iky, ikz = self.ik
        a = xp.empty_like(uh[0])
        b = xp.empty_like(uh[0])
        out = []
        for (p, i), (q, j) in (((iky, 2), (ikz, 1)), ((ikz, 0), (ikx, 2)), ((ikx, 1), (iky, 0))):
            xp.multiply(p, uh[i], out=a)
            xp.multiply(q, uh[j], out=b)
            a -= b
            out.append(self.inverse(a))
        return xp.stack(out)

    def flux_divergence(self, u, s):
        """-i k . FFT(u s) * dealias: the spectral -div(u s) of a scalar s carried by the velocity u (real space),
        2/3-dealiased (terms summed in the order x, y, z)."""
        xp = self.xp
        acc = None
        for i in range(3):
            f = self.forward(u[i] * s)
            f *= self.ik[i]
            if acc is None:
                acc = f
            else:
                acc += f
        xp.negative(acc, out=acc)
        acc *= self.dealias
        return acc

    def forcing_modes(self, kmax):
        """(index, rfft weight) of the modes 0 < |k| <= kmax held here (cached): the forced shell."""
        cache = self.__dict__.setdefault("_forcing_modes", {})
        if kmax not in cache:
            xp = self.xp
            shell = (self.kmag <= kmax) & (self.k2 > 0)
            idx = xp.nonzero(shell)
            cache[kmax] = (idx, xp.broadcast_to(self.weight, self.k2.shape)[idx])
        return cache[kmax]

    def divergence(self, uh):
        return 1j * (self.kx * uh[0] + self.ky * uh[1] + self.kz * uh[2])

    def gradient(self, fh):
        return [1j * self.kx * fh, 1j * self.ky * fh, 1j * self.kz * fh]

    # ---------------------------------------------------------------- volume means via Parseval
    def mean_sq(self, fh):
        """<f^2> over the box from the spectral coefficients."""
        return self._reduce(float(self.xp.sum(self.weight * self.xp.abs(fh) ** 2))) / self.npts ** 2

    def global_sum(self, a):
        return self._reduce(float(self.xp.sum(a)))

    def mean(self, fh):
        return self._reduce(float(fh[0, 0, 0].real) if self.owns_k0 else 0.0) / self.npts

    def energy(self, uh):
        """Kinetic energy per unit mass E = <|u|^2> / 2 [m^2/s^2]."""
        return 0.5 * sum(self.mean_sq(uh[i]) for i in range(3))

    def dissipation(self, uh, nu):
        """epsilon = 2 nu <s_ij s_ij> = nu <|grad u|^2> = nu sum k^2 |u_k|^2 (periodic box)."""
        xp = self.xp
        s = sum(float(xp.sum(self.weight * self.k2 * xp.abs(uh[i]) ** 2)) for i in range(3))
        return nu * self._reduce(s) / self.npts ** 2

    def gradient_sq(self, fh):
        """<|grad f|^2>."""
        return self._reduce(float(self.xp.sum(self.weight * self.k2 * self.xp.abs(fh) ** 2))) / self.npts ** 2

    def spectrum(self, uh):
        """Shell-averaged energy spectrum E(k) on integer shells of k / k_0 (k_0 = 2 pi / box_x)."""
        xp = self.xp
        k0 = 2 * np.pi / self.box[0]
        shell = gpu.to_host(xp.rint(self.kmag / k0)).astype(int).ravel()
        e = gpu.to_host(0.5 * self.weight * sum(xp.abs(uh[i]) ** 2 for i in range(3))).ravel() / self.npts ** 2
        kmax = int(np.ceil(np.sqrt(sum((n / 2) ** 2 for n in self.shape)))) + 2
        E = np.bincount(shell, weights=e, minlength=kmax)[:kmax]
        E = np.array([self._reduce(float(x)) for x in E])
        return np.arange(E.size) * k0, E / k0


class SlabSpectral(Spectral):
    """Slab-decomposed FFT grid over an MPI communicator (NumPy path).

    Real space: rank q holds x planes [q nx/P, (q+1) nx/P) of the full (nx, ny, nz) grid.
    Fourier space: rank q holds ky modes [q ny/P, (q+1) ny/P) of the (nx, ny, nz/2+1) rfft grid.
    forward: rfft along z and fft along y locally, one Alltoall transpose (x <-> y), fft along x;
    inverse: the reverse. The transforms equal scipy's rfftn/irfftn to round-off.
    """

    def __init__(self, shape, box, comm, backend="cpu", workers=None):
        super().__init__(shape, box, backend=backend, workers=workers)
        if self.backend != "cpu":
            raise ValueError("SlabSpectral runs on the CPU (NumPy) path only")
        self.comm = comm
        P, q = comm.size, comm.rank
        nx, ny, nz = self.shape
        if nx % P or ny % P:
            raise ValueError(f"grid.n = {nx} must be divisible by the number of MPI ranks ({P}) for slabs")
        self.P, self.q = P, q
        self.nxl, self.nyl, self.nzh = nx // P, ny // P, nz // 2 + 1
        self.x_lo, self.x_hi = q * self.nxl, (q + 1) * self.nxl
        ys = slice(q * self.nyl, (q + 1) * self.nyl)
        self.ky = self.ky[:, ys, :]
        self.k2 = self.k2[:, ys, :]
        self.inv_k2 = self.inv_k2[:, ys, :]
        self.kmag = self.kmag[:, ys, :]
        self.ik = (self.ik[0], 1j * self.ky, self.ik[2])
        self.dealias = self.dealias[:, ys, :]
        self.owns_k0 = q == 0

    def _reduce(self, x):
        from mpi4py import MPI

        return self.comm.allreduce(x, op=MPI.SUM)

    def forward(self, f):
        fft, kw = self.fft, self._kw
        a = fft.fft(fft.rfft(f, axis=2, **kw), axis=1, **kw)             # (nxl, ny, nzh)
        send = np.ascontiguousarray(a.reshape(self.nxl, self.P, self.nyl, self.nzh).transpose(1, 0, 2, 3))
        recv = np.empty_like(send)
        self.comm.Alltoall(send, recv)                                      # recv[i] = x block i
        return fft.fft(recv.reshape(self.P * self.nxl, self.nyl, self.nzh), axis=0, **kw)

    def inverse(self, fh):
        fft, kw = self.fft, self._kw
        b = fft.ifft(fh, axis=0, **kw)                                      # (nx, nyl, nzh)
        send = np.ascontiguousarray(b.reshape(self.P, self.nxl, self.nyl, self.nzh))
        recv = np.empty_like(send)
        self.comm.Alltoall(send, recv)                                      # recv[j] = y block j
        c = recv.transpose(1, 0, 2, 3).reshape(self.nxl, self.P * self.nyl, self.nzh)
        return fft.irfft(fft.ifft(c, axis=1, **kw), n=self.shape[2], axis=2, **kw)
