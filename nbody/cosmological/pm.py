"""Particle-mesh gravity on an MPI x-slab mesh: CIC assignment, FFT Poisson solve with CIC
deconvolution, spectral gradient, CIC force interpolation; and the measured power spectrum.

Poisson equation in the PM code's units (H0 = 1, Mpc/h): ``lap phi = (3/2) Omega_m0 delta``,
``F = -grad phi`` (see :mod:`nbody.cosmological.growth`). In Fourier space
``F_k = i k (3/2) Omega_m0 delta_k / (k^2 W(k)^2)`` where ``W = prod_i sinc(k_i dx / 2)`` is
the CIC window, divided out once for the assignment and once for the interpolation
(Hockney & Eastwood 1988, ch. 8; Jing 2005, ApJ 620, 559 for the power-spectrum deconvolution).

Particles live on the rank whose mesh slab contains them (``exchange_particles``);
the slab's right ghost plane is exchanged with the neighbour after assignment and
before interpolation.
"""
from __future__ import annotations

import numpy as np

from . import _kernels as K
from .fft import SlabFFT


def owner_of(pos, box, n, size):
    """Rank owning each particle: the slab of its mesh cell ``floor(x n / L)``."""
    ix = np.floor(pos[:, 0] * (n / box)).astype(np.int64)
    np.clip(ix, 0, n - 1, out=ix)
    return ix // (n // size)


def exchange_particles(comm, dest, *arrays):
    """Send rows of ``arrays`` to ranks ``dest``; returns the arrays this rank now holds."""
    size = getattr(comm, "size", 1)
    if size == 1:
        return arrays
    order = np.argsort(dest, kind="stable")
    counts = np.bincount(dest, minlength=size)
    splits = np.cumsum(counts)[:-1]
    out = []
    for a in arrays:
        chunks = np.split(a[order], splits)
        recv = comm.alltoall(chunks)
        out.append(np.concatenate(recv) if recv else a[:0])
    return tuple(out)


def _ghost_from_right(comm, plane):
    """Return the right neighbour's ``plane`` (periodic); serial: our own."""
    size, rank = getattr(comm, "size", 1), getattr(comm, "rank", 0)
    if size == 1:
        return plane
    out = np.empty_like(plane)
    comm.Sendrecv(np.ascontiguousarray(plane), dest=(rank - 1) % size, recvbuf=out, source=(rank + 1) % size)
    return out


def _ghost_to_right(comm, plane):
    """Send ``plane`` to the right neighbour and return what the left neighbour sent."""
    size, rank = getattr(comm, "size", 1), getattr(comm, "rank", 0)
    if size == 1:
        return plane
    out = np.empty_like(plane)
    comm.Sendrecv(np.ascontiguousarray(plane), dest=(rank + 1) % size, recvbuf=out, source=(rank - 1) % size)
    return out


def _total(comm, counts):
    """``counts`` summed over the ranks of ``comm`` (every rank gets the sum, so every rank raises alike)."""
    counts = np.asarray(counts, dtype=np.int64)
    if getattr(comm, "size", 1) > 1:
        from gpu import allreduce_sum

        counts = allreduce_sum(comm, counts)
    return [int(c) for c in counts]


def check_particles(comm, pos, mass=None, where="particles"):
    """Positions (N, 3) and optional masses (N,) as float64 arrays, after checking on every rank that
    they are finite (collective: all ranks raise the same ValueError, naming the argument, when any rank
    holds a NaN or infinite value), so the CIC kernels never see one."""
    pos = np.asarray(pos, dtype=np.float64)
    if pos.ndim != 2 or pos.shape[1] != 3:
        raise ValueError(f"{where}: pos must have shape (N, 3), got {pos.shape}")
    if mass is not None:
        mass = np.asarray(mass, dtype=np.float64)
        if mass.shape != (len(pos),):
            raise ValueError(f"{where}: mass must have shape ({len(pos)},), got {mass.shape}")
    bad_pos, bad_mass = _total(comm, [np.count_nonzero(~np.all(np.isfinite(pos), axis=1)),
                                      0 if mass is None else np.count_nonzero(~np.isfinite(mass))])
    if bad_pos:
        raise ValueError(f"{where}: pos holds {bad_pos} particle(s) with a NaN or infinite coordinate; "
                         "positions must be finite")
    if bad_mass:
        raise ValueError(f"{where}: mass holds {bad_mass} NaN or infinite value(s); masses must be finite")
    return pos, mass


class ParticleMesh:
    """An n^3 periodic mesh of side ``box`` split in x-slabs over ``comm``.

    Force kernel: the Poisson solution divided by ``deconvolve`` powers of the CIC window
    ``W = prod_i sinc^2(k_i dx / 2)`` and differentiated with ``gradient``: ``"spectral"``
    (i k), ``"fd2"`` (central difference, i sin(k dx)/dx) or ``"fd4"`` (4-point). Measured on
    perturbed lattices (tests/nbody/test_cosmological.py): with a mesh twice as fine as the
    particle lattice (FastPM's B = 2), ``fd2`` with one deconvolution gives the linear force to
    < 0.3% up to k = 0.6 k_Nyquist(particles): its sin(k dx) zero at the mesh Nyquist
    frequency removes the lattice alias there, which a spectral gradient amplifies; with a
    mesh equal to the lattice, the spectral gradient with two deconvolutions is best
    (< 0.5% to k = 0.4 k_Nyquist). On one rank with NumPy, ``fd2`` / ``fd4`` are taken as the finite difference of
    the potential in real space (:func:`nbody.cosmological._kernels.gradient_force`): one inverse FFT instead of three,
    the same force to round-off (tests/nbody/test_cosmological.py).

    ``backend`` ("cpu", "cuda", "auto"; :func:`gpu.get_backend`): where :meth:`force` runs its FFTs and
    Fourier-space arithmetic, through the array module :func:`gpu.xp` (CuPy on "cuda", so the NumPy run
    executes the same code). CIC assignment and interpolation stay on the CPU (Numba): the density
    goes to the device and the three force components come back once per call.
    """

    def __init__(self, n: int, box: float, comm, gradient: str = "fd2", deconvolve: int = 1, backend: str = "cpu"):
        if gradient not in ("spectral", "fd2", "fd4"):
            raise ValueError(f"gradient must be 'spectral', 'fd2' or 'fd4', got {gradient!r}")
        if deconvolve not in (0, 1, 2):
            raise ValueError(f"deconvolve must be 0, 1 or 2 (CIC windows divided out), got {deconvolve!r}")
        self.n, self.box, self.comm = int(n), float(box), comm
        import gpu

        self.backend = gpu.get_backend(backend)  # GPUUnavailableError for "cuda" without CuPy and a device
        self.xp = gpu.xp(self.backend)
        self.fft = SlabFFT(self.n, comm, self.xp)
        self.cell = self.box / self.n
        kx, ky, kz = self.fft.kvectors(self.box)
        h = 0.5 * self.cell
        self.window = np.sinc(kx * h / np.pi) * np.sinc(ky * h / np.pi) * np.sinc(kz * h / np.pi)
        self.k2 = kx ** 2 + ky ** 2 + kz ** 2
        self.kvec = (kx, ky, kz)
        self.deconvolve_power = 2 * deconvolve
        self.gradient = gradient
        d = self.cell
        self.kgrad = {"spectral": self.kvec,
                      "fd2": tuple(np.sin(q * d) / d for q in self.kvec),
                      "fd4": tuple((8 * np.sin(q * d) - np.sin(2 * q * d)) / (6 * d) for q in self.kvec)}
        self._on_device = None  # the Fourier-space constants of force() as xp arrays (made at first use)
        self._green_k, self._green_rs = None, None  # the Green's function of force() for the last rs
        self._buffers = {}  # force()'s density grid and force field, reused (_buffer)

    def _device_constants(self):
        """``k2``, the CIC window power, the gradient kernels and the Nyquist mask as ``xp`` arrays (for
        NumPy the very same arrays)."""
        if self._on_device is None:
            xp = self.xp
            self._on_device = {"k2": xp.asarray(self.k2), "w2": xp.asarray(self.window ** self.deconvolve_power),
                               "kgrad": tuple(xp.asarray(g) for g in self.kgrad[self.gradient]),
                               "nyquist": xp.asarray(self.fft.nyquist_mask())}
        return self._on_device

    def _green(self, rs):
        """``1 / (k^2 W^p)`` (0 at k = 0) times the long-range filter ``exp(-k^2 rs^2)`` for ``rs > 0`` (Springel
        2005, MNRAS 364, 1105, eq. 22; :mod:`nbody.cosmological.split`), an ``xp`` array kept for the last ``rs``."""
        if self._green_rs != rs:
            xp, dev = self.xp, self._device_constants()
            k2, w2 = dev["k2"], dev["w2"]
            inv = xp.zeros_like(k2)
            ok = k2 > 0
            inv[ok] = 1.0 / (k2[ok] * w2[ok])
            if rs > 0:
                from .split import longrange_filter

                inv *= longrange_filter(k2, rs, xp)
            self._green_k, self._green_rs = inv, rs
        return self._green_k

    def grid_positions(self, pos):
        g = pos * (self.n / self.box)
        g[:, 0] -= self.fft.x0
        return np.ascontiguousarray(g)

    def _checked_grid_positions(self, pos, mass, where):
        """Grid positions of finite particles that lie in this rank's slab (collective check: every rank
        raises the same ValueError if any rank holds a non-finite value or a particle outside its slab)."""
        pos, mass = check_particles(self.comm, pos, mass, where)
        g = self.grid_positions(pos)
        ix = np.floor(g[:, 0])
        (outside,) = _total(self.comm, [np.count_nonzero((ix < 0) | (ix >= self.fft.nxl))])
        if outside:
            raise ValueError(f"{where}: {outside} particle(s) lie outside their rank's mesh slab: positions must be "
                             f"in [0, box = {self.box:g}) and on the rank owning their slab (exchange_particles)")
        return g, mass

    def density(self, pos, mass=None):
        """Overdensity ``delta`` on this rank's slab (nxl, n, n) from CIC assignment of local particles.

        ``pos`` must be finite, in [0, box) and in this rank's slab, ``mass`` finite (ValueError otherwise,
        on every rank)."""
        return self._delta(pos, mass, reuse=False)

    def _buffer(self, name, shape):
        """A work array of ``shape`` kept on the mesh between calls (a fresh array of a few hundred MB costs its page
        faults again at every call; contents undefined)."""
        b = self._buffers.get(name)
        if b is None or b.shape != shape:
            b = self._buffers[name] = np.empty(shape)
        return b

    def _delta(self, pos, mass, reuse):
        """:meth:`density`; ``reuse``: written into (and returned as a view of) a work buffer of the mesh, which the
        next call overwrites."""
        nxl, n = self.fft.nxl, self.n
        g, mass = self._checked_grid_positions(pos, mass, "ParticleMesh.density")
        if reuse:
            grid = self._buffer("grid", (nxl + 1, n, n))
            grid.fill(0.0)
        else:
            grid = np.zeros((nxl + 1, n, n))
        m = np.ones(len(g)) if mass is None else mass
        skipped = K.cic_deposit(g, m, grid)
        if skipped:  # cannot happen after the check above; the kernel skipped them instead of writing outside
            raise RuntimeError(f"CIC deposit skipped {skipped} particle(s) outside the slab")
        grid[0] += _ghost_to_right(self.comm, grid[nxl])
        total = self.comm.allreduce(float(m.sum())) if getattr(self.comm, "size", 1) > 1 else float(m.sum())
        mean = total / n ** 3
        if not reuse:
            return grid[:nxl] / mean - 1.0
        delta = grid[:nxl]
        delta /= mean
        delta -= 1.0
        return delta

    def force(self, pos, omega_m: float, mass=None, rs: float = 0.0):
        """PM acceleration ``F = -grad phi`` at the local particles, lap phi = 1.5 Omega_m delta
        (``delta`` of the masses ``mass``, default equal masses).

        ``rs > 0``: only the long-range part of the TreePM split, the potential multiplied by
        ``exp(-k^2 rs^2)`` (Springel 2005, MNRAS 364, 1105, eq. 22; :mod:`nbody.cosmological.split`)."""
        from gpu import to_host

        xp, dev = self.xp, self._device_constants()
        delta_k = self.fft.forward(xp.asarray(self._delta(pos, mass, reuse=True)))
        pot_k = delta_k  # in place: (-1.5 Omega_m delta_k) times the Green's function
        pot_k *= -1.5 * omega_m
        pot_k *= self._green(rs)
        pot_k[dev["nyquist"]] = 0.0
        nxl, n = self.fft.nxl, self.n
        field = self._buffer("field", (nxl + 1, n, n, 3))
        if xp is np and getattr(self.comm, "size", 1) == 1 and self.gradient in ("fd2", "fd4"):
            # one inverse transform: the finite difference of the potential in real space (its Fourier transform
            # is the fd2 / fd4 kernel, so this is the same force to round-off)
            K.gradient_force(self.fft.inverse(pot_k), 1.0 / self.cell, self.gradient == "fd4", field)
        else:
            for c in range(3):
                field[:nxl, :, :, c] = to_host(self.fft.inverse(-1j * dev["kgrad"][c] * pot_k))
        field[nxl] = _ghost_from_right(self.comm, field[0])
        out = np.empty((len(pos), 3))
        skipped = K.cic_interpolate(self.grid_positions(np.asarray(pos, dtype=np.float64)), field, out)
        if skipped:  # density() has checked the same positions
            raise RuntimeError(f"CIC interpolation skipped {skipped} particle(s) outside the slab")
        return out

    def power_spectrum(self, pos, kbins=None, deconvolve: bool = True, shot_noise: bool = False):
        """Measured P(k) [(Mpc/h)^3] of the local particles (already on their slabs); its FFT runs
        with ``xp``, the binning on the host.

        Returns (k_mean, P, n_modes) per bin; default bins are shells of width
        k_f = 2 pi / L centred on multiples of k_f up to the Nyquist frequency.
        """
        n, box = self.n, self.box
        from gpu import to_host

        delta_k = to_host(self.fft.forward(self.xp.asarray(self.density(pos))))
        p3 = np.abs(delta_k) ** 2 * box ** 3 / n ** 6
        if deconvolve:
            p3 = p3 / self.window ** 4
        kmag = np.sqrt(self.k2)
        kf = 2 * np.pi / box
        if kbins is None:
            kbins = kf * (np.arange(1, n // 2 + 1) + 0.5)
            kbins = np.concatenate([[0.5 * kf], kbins])
        w = np.broadcast_to(self.fft.mode_weights(), p3.shape)
        sel = kmag > 0
        idx = np.digitize(kmag[sel], kbins) - 1
        good = (idx >= 0) & (idx < len(kbins) - 1)
        nb = len(kbins) - 1
        ws, ks, ps = w[sel][good], kmag[sel][good], p3[sel][good]
        acc = np.stack([np.bincount(idx[good], ws, minlength=nb), np.bincount(idx[good], ws * ks, minlength=nb),
                        np.bincount(idx[good], ws * ps, minlength=nb)])
        if getattr(self.comm, "size", 1) > 1:
            from gpu import allreduce_sum

            acc = allreduce_sum(self.comm, acc)
        with np.errstate(invalid="ignore", divide="ignore"):
            kmean, pk = acc[1] / acc[0], acc[2] / acc[0]
        if shot_noise:
            npart = self.comm.allreduce(len(pos)) if getattr(self.comm, "size", 1) > 1 else len(pos)
            pk = pk - box ** 3 / npart
        return kmean, pk, acc[0]


def measure_power(pos, box: float, nmesh: int, comm=None, **kw):
    """P(k) of particles ``pos`` (any distribution over ranks): exchanged to slabs, CIC, FFT, shells."""
    import gpu

    comm = gpu.get_comm(comm)
    pos, _ = check_particles(comm, pos, None, "measure_power")
    pos = pos % box
    pos[pos >= box] -= box  # x % box rounds to box for tiny negative x
    pm = ParticleMesh(nmesh, box, comm)
    (pos,) = exchange_particles(comm, owner_of(pos, box, nmesh, getattr(comm, "size", 1)), pos)
    return pm.power_spectrum(pos, **kw)
