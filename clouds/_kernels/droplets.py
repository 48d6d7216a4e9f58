"""Droplet kernels: implicit droplet growth, trilinear interpolation/deposition, droplet motion.

All arrays float64 in SI units. No objects, no I/O. The physics formulas are not typed here: the
kernels call the Numba functions of the physics modules (:mod:`clouds.thermo` for e_s, the vapour
pressure and the hydrostatic pressure, :func:`clouds.koehler.seq_and_derivative` for S_eq) and use
their constants (:data:`clouds.thermo.RHO_W`). Numba's on-disk cache does not notice changes to
those modules; :func:`gpu.jit.refresh_stale_cache` (called at the end of this module)
flushes the cached kernels when they change.

Implicit growth (backward Euler in x = r^2, unconditionally stable)::

    r1^2 = r0^2 + 2 dt G (S - S_eq(r1)),
    S_eq(r) = (r^3 - r_d^3) / (r^3 - r_d^3 (1 - kappa)) exp(A / r) - 1   (kappa-Köhler).

Since S_eq >= -1, f(r) = r^2 - r0^2 - 2 dt G (S - S_eq(r)) is negative at r = r_d (for
r0 >= r_d, S > -1) and positive at r_hi = sqrt(r0^2 + 2 dt G (S + 1)), so a root is bracketed
and found by safeguarded Newton (Press et al., Numerical Recipes "rtsafe"). If f(r_d) >= 0
the droplet has evaporated completely to its dry radius (or to 0 for r_d = 0). For constant S
and A = kappa = 0 the scheme reproduces r^2 = r0^2 + 2 G S t exactly.
"""
from __future__ import annotations

import math

import numba
import numpy as np
from numba import njit, prange

from gpu.jit import njit_dual, refresh_stale_cache

from ..koehler import seq_and_derivative
from ..thermo import RHO_W, hydrostatic_pressure_jit, supersaturation_pqT_jit

#: below this many droplets the thread start-up of a parallel loop costs more than it saves
PARALLEL_MIN = 4096
#: iterations per dynamically scheduled chunk of a parallel loop
CHUNK = 512


def _dual(arg=0):
    """Compile a prange kernel twice (parallel and serial, :func:`gpu.jit.njit_dual`) and dispatch on the size
    of ``args[arg]``: dynamic chunks for the parallel loop, as the cost per droplet varies (stiff haze
    droplets need more Newton steps) and populations are often sorted by size."""
    return njit_dual(size_arg=arg, min_size=PARALLEL_MIN, chunksize=CHUNK, cache=True)


@njit(cache=True)
def implicit_radius(r0, rd, kappa, S, G, A, dt):
    """One backward-Euler growth step of one droplet; returns the new radius [m]."""
    rd3 = rd * rd * rd
    c = 2.0 * dt * G
    lo = rd
    # f at the lower end (r -> r_d or r -> 0)
    if lo > 0.0:
        # at r = r_d there is no water: S_eq(r_d) = P(r_d) exp(A / r_d) - 1 = -1 exactly for kappa > 0
        # (P = 0; seq_and_derivative returns that value, so it is not called for it), and pure
        # curvature exp(A / r_d) - 1 for an insoluble core
        seq_lo = -1.0 if kappa > 0.0 else math.exp(A / lo) - 1.0
        flo = lo * lo - r0 * r0 - c * (S - seq_lo)
    elif A == 0.0:
        flo = -r0 * r0 - c * S
    else:
        # pure water with curvature: S_eq -> +inf as r -> 0, so f > 0 near 0 (a spurious root).
        # Scan down from r0 for the physical lower bracket; none above 1 nm = evaporated.
        lo = r0
        flo = 1.0
        while lo > 1e-9:
            flo = lo * lo - r0 * r0 - c * (S - (math.exp(A / lo) - 1.0))
            if flo < 0.0:
                break
            lo *= 0.5
        if flo >= 0.0:
            return 0.0
    if flo >= 0.0:
        return lo if rd > 0.0 else 0.0
    s1 = S + 1.0 if S > -1.0 else 0.0
    hi = math.sqrt(r0 * r0 + c * s1) * (1.0 + 1e-12) + 1e-15
    # tighten the bracket with the sign of f at r0 (the root lies on the side S - S_eq(r0) points
    # to) and start Newton from r0: robust for stiff haze droplets near equilibrium, where an
    # explicit first guess would overshoot by orders of magnitude
    if r0 > lo and r0 < hi:
        seq0, _ = seq_and_derivative(r0, rd3, kappa, A)
        if rd <= 0.0 and kappa <= 0.0:
            seq0 = math.exp(A / r0) - 1.0
        f0 = -c * (S - seq0)
        if f0 == 0.0:
            return r0
        if f0 < 0.0:
            lo = r0
        else:
            hi = r0
        # explicit step as first guess when it falls inside the tightened bracket (non-stiff
        # droplets: Newton then needs 1-2 iterations); r0 otherwise
        x = r0 * r0 + c * (S - seq0)
        r = math.sqrt(x) if x > 0.0 else r0
        if not (r > lo and r < hi):
            r = r0
    else:
        r = 0.5 * (lo + hi)
    for _ in range(100):
        seq, dseq = seq_and_derivative(r, rd3, kappa, A)
        f = r * r - r0 * r0 - c * (S - seq)
        if f < 0.0:
            lo = r
        else:
            hi = r
        df = 2.0 * r + c * dseq
        if df > 0.0:
            delta = f / df
            if abs(delta) <= 1e-14 * r:
                r -= delta
                break
            rn = r - delta
        else:
            rn = 0.5 * (lo + hi)
        if rn < lo or rn > hi:
            rn = 0.5 * (lo + hi)
        if hi - lo <= 1e-14 * hi:
            r = rn
            break
        r = rn
    return r


@_dual(0)
def grow_local(r, rd, kappa, S, G, A, dt, r_out):
    """Grow each droplet at its own (S[i], G[i], A[i]) (DNS: values interpolated to droplets)."""
    n = r.shape[0]
    for i in prange(n):
        r_out[i] = implicit_radius(r[i], rd[i], kappa[i], S[i], G[i], A[i], dt)


# ---------------------------------------------------------------- grid <-> droplet transfer

@njit(cache=True, inline="always")
def _imod(i, n):
    """``i % n`` for integers, n > 0 (floored modulo), without an integer division when -n <= i < 2 n
    (the only cases a droplet inside the box or one cell beyond it produces)."""
    if i >= 0:
        if i < n:
            return i
        if i < 2 * n:
            return i - n
    elif i >= -n:
        return i + n
    return i % n


@njit(cache=True, inline="always")
def _cell(x, dx, n):
    s = x / dx
    i0 = int(math.floor(s))
    f = s - i0
    i0 = _imod(i0, n)
    return i0, _imod(i0 + 1, n), f


@njit(cache=True, inline="always")
def _cell_x(x, dx, n, nglob, xoff):
    """x cell of a (possibly slab-local) array: global index minus xoff, periodic in nglob."""
    s = x / dx
    i0 = int(math.floor(s))
    f = s - i0
    i0 = _imod(i0 - xoff, nglob)
    return i0, _imod(i0 + 1, n), f


@njit(cache=True, inline="always")
def _trilinear(F, i0, i1, j0, j1, k0, k1, fx, fy, fz):
    """Trilinear interpolation of the 3-D array F inside the cell (i0..i1, j0..j1, k0..k1) at the
    fractional offsets (fx, fy, fz)."""
    gx, gy, gz = 1.0 - fx, 1.0 - fy, 1.0 - fz
    return (gx * (gy * (gz * F[i0, j0, k0] + fz * F[i0, j0, k1])
                  + fy * (gz * F[i0, j1, k0] + fz * F[i0, j1, k1]))
            + fx * (gy * (gz * F[i1, j0, k0] + fz * F[i1, j0, k1])
                    + fy * (gz * F[i1, j1, k0] + fz * F[i1, j1, k1])))


@njit(cache=True, inline="always")
def _mod(x, L):
    """``x % L`` for L > 0 (Python's floored modulo), bit for bit, without calling fmod when -L <= x < 2 L.

    For L <= x < 2 L, fmod(x, L) = x - L, and x - L is exact (Sterbenz); for -L <= x < 0 the floored
    modulo is the rounded x + L; zero of either sign gives +0. Other x (and NaN) take ``x % L``.
    A droplet moves less than a cell per step, so the fast branches are the only ones taken.
    """
    if x > 0.0:
        if x < L:
            return x
        if x < 2.0 * L:
            return x - L
    elif x == 0.0:
        return 0.0
    elif x >= -L:
        return x + L
    return x % L


@njit(cache=True, inline="always")
def _wrap(x, L):
    """x mapped into [0, L) (periodic); the round-off case x % L == L maps to 0."""
    x = _mod(x, L)
    return x if x < L else 0.0


@njit(cache=True, inline="always")
def _drag_step(x, v, ut, dt, tau, e):
    """Exact update over dt of dv/dt = (ut - v) / tau with the target velocity ut frozen
    (e = exp(-dt / tau)): returns (x1, v1) = (x + ut dt + (v - ut) tau (1 - e), ut + (v - ut) e)."""
    d = v - ut
    return x + (ut * dt + d * tau * (1.0 - e)), ut + d * e


@_dual(1)
def interpolate(fields, pos, dx, out, nxg, xoff):
    """Trilinear interpolation of fields[k, ix, iy, iz] (periodic, nodes at i*dx) to pos[n, 3].

    The x axis of ``fields`` may be a slab with ghost planes: array index = global index - xoff
    (mod nxg, the global number of x cells); serial runs pass nxg = nx, xoff = 0.
    """
    nf, nx, ny, nz = fields.shape
    for p in prange(pos.shape[0]):
        i0, i1, fx = _cell_x(pos[p, 0], dx[0], nx, nxg, xoff)
        j0, j1, fy = _cell(pos[p, 1], dx[1], ny)
        k0, k1, fz = _cell(pos[p, 2], dx[2], nz)
        for k in range(nf):
            out[p, k] = _trilinear(fields[k], i0, i1, j0, j1, k0, k1, fx, fy, fz)


@njit(cache=True, inline="always")
def _deposit_one(p, pos, val, dx, grid, nxg, xoff):
    nx, ny, nz = grid.shape
    v = val[p]
    if v == 0.0:
        return
    i0, i1, fx = _cell_x(pos[p, 0], dx[0], nx, nxg, xoff)
    j0, j1, fy = _cell(pos[p, 1], dx[1], ny)
    k0, k1, fz = _cell(pos[p, 2], dx[2], nz)
    _deposit_cell(grid, v, i0, i1, j0, j1, k0, k1, fx, fy, fz)


@njit(cache=True, inline="always")
def _deposit_cell(grid, v, i0, i1, j0, j1, k0, k1, fx, fy, fz):
    """Add v to the 8 nodes of the cell (i0..i1, j0..j1, k0..k1) with trilinear weights (the adjoint of
    :func:`_trilinear`). Many arguments: the cell as plain arrays and scalars, as :func:`_trilinear` takes it."""
    gx, gy, gz = 1.0 - fx, 1.0 - fy, 1.0 - fz
    grid[i0, j0, k0] += v * gx * gy * gz
    grid[i0, j0, k1] += v * gx * gy * fz
    grid[i0, j1, k0] += v * gx * fy * gz
    grid[i0, j1, k1] += v * gx * fy * fz
    grid[i1, j0, k0] += v * fx * gy * gz
    grid[i1, j0, k1] += v * fx * gy * fz
    grid[i1, j1, k0] += v * fx * fy * gz
    grid[i1, j1, k1] += v * fx * fy * fz


@njit(cache=True)
def _deposit_serial(pos, val, dx, grid, nxg, xoff):
    for p in range(pos.shape[0]):
        _deposit_one(p, pos, val, dx, grid, nxg, xoff)


@njit(cache=True, parallel=True)
def _deposit_parallel(pos, val, dx, grid, nxg, xoff, nchunks):
    n = pos.shape[0]
    chunk = (n + nchunks - 1) // nchunks
    tmp = np.zeros((nchunks,) + grid.shape)
    for t in prange(nchunks):
        hi = min(n, (t + 1) * chunk)
        for p in range(t * chunk, hi):
            _deposit_one(p, pos, val, dx, tmp[t], nxg, xoff)
    for t in range(nchunks):          # fixed order: deterministic for a given chunk count
        grid += tmp[t]


def deposit(pos, val, dx, grid, nxg, xoff):
    """Add val[p] to grid with trilinear (cloud-in-cell) weights; the adjoint of interpolate.

    Large droplet sets are split into as many fixed chunks as Numba threads, each deposited into a
    private grid, then summed in chunk order (deterministic for a given thread count); small sets
    run serially. sum(grid) increases by sum(val) up to round-off.
    """
    import numba

    nthreads = numba.get_num_threads()
    if pos.shape[0] >= 8 * PARALLEL_MIN and nthreads > 1:
        _deposit_parallel(pos, val, dx, grid, nxg, xoff, nthreads)
    else:
        _deposit_serial(pos, val, dx, grid, nxg, xoff)


@_dual(0)
def move_droplets(pos, vel, u_at, tau_p, v_settle, dt, box, inertial):
    """Advance droplet velocity and position over dt with the fluid velocity u_at frozen.

    Inertial (Stokes drag + gravity along -z): dv/dt = (u - v + v_settle e_z... ) / tau_p is
    integrated exactly: v1 = u + vs + (v0 - u - vs) e^{-dt/tau}, x1 = x0 + (u + vs) dt +
    (v0 - u - vs) tau (1 - e^{-dt/tau}) (v_settle < 0 points down). Tracers: v = u.
    """
    for p in prange(pos.shape[0]):
        if inertial:
            tau = tau_p[p]
            e = math.exp(-dt / tau) if tau > 0.0 else 0.0
            for k in range(3):
                ut = u_at[p, k] + (v_settle[p] if k == 2 else 0.0)
                pos[p, k], vel[p, k] = _drag_step(pos[p, k], vel[p, k], ut, dt, tau, e)
        else:
            for k in range(3):
                vel[p, k] = u_at[p, k]
                pos[p, k] += u_at[p, k] * dt
        for k in range(3):
            pos[p, k] = _wrap(pos[p, k], box[k])


@_dual(0)
def droplet_supersaturation(vals, T0, p0, iT, iq, iz, out):
    """S = e / e_s(T) - 1 at droplets from interpolated theta (column iT, T = T0 + theta) and q_v.

    e = p q / (eps + q) with the local pressure p = p0 exp(-g zeta / (R_d T0)) of fluid displaced
    vertically by zeta (column iz; iz < 0: p = p0); formulas from :mod:`clouds.thermo`
    (:func:`~clouds.thermo.supersaturation_pqT`, :func:`~clouds.thermo.hydrostatic_pressure`).
    """
    for p in prange(vals.shape[0]):
        pl = hydrostatic_pressure_jit(p0, T0, vals[p, iz]) if iz >= 0 else p0
        out[p] = supersaturation_pqT_jit(pl, T0 + vals[p, iT], vals[p, iq])


@_dual(0)
def liquid_mass(r, rd, mult, out):
    """out[i] = mult[i] (4/3) pi rho_w (r^3 - r_d^3) [kg]."""
    for i in prange(r.shape[0]):
        out[i] = _liquid_mass_one(mult[i], r[i], rd[i])


@njit(cache=True, inline="always")
def _liquid_mass_one(mult, r, rd):
    """mult (4/3) pi rho_w (r^3 - r_d^3) [kg]: the liquid water of one superdroplet."""
    c = 4.0 / 3.0 * math.pi * RHO_W
    return mult * c * (r ** 3 - rd ** 3)


@njit(cache=True)
def cell_index(pos, dx, n):
    """Linear cell index of every droplet (for sorting droplets by cell: memory locality)."""
    out = np.empty(pos.shape[0], dtype=np.int64)
    for p in range(pos.shape[0]):
        out[p] = _cell_id(pos[p, 0], pos[p, 1], pos[p, 2], dx[0], dx[1], dx[2], n[0], n[1], n[2])
    return out


@njit(cache=True, inline="always")
def _cell_id(x, y, z, dx0, dx1, dx2, n0, n1, n2):
    """Linear (C-order) index of the grid cell holding (x, y, z), periodic."""
    i = _imod(int(x / dx0), n0)
    j = _imod(int(y / dx1), n1)
    k = _imod(int(z / dx2), n2)
    return (i * n1 + j) * n2 + k


@_dual(1)
def condense(vals, r, rd, kappa, mult, T0, p0, G, A, dt, iT, iq, iz, r_out, dm_out, S_out):
    """Fused DNS droplet step: local S from interpolated (theta, q_v, zeta), implicit growth, mass change.

    S as in :func:`droplet_supersaturation`; r_out from :func:`implicit_radius`;
    dm_out = mult (4/3) pi rho_w (r1^3 - r0^3) [kg] (water gained by the droplets).
    Many arguments: Numba kernels take plain arrays and scalars (no objects in nopython mode).
    """
    c = 4.0 / 3.0 * math.pi * RHO_W
    for p in prange(r.shape[0]):
        pl = hydrostatic_pressure_jit(p0, T0, vals[p, iz]) if iz >= 0 else p0
        S = supersaturation_pqT_jit(pl, T0 + vals[p, iT], vals[p, iq])
        S_out[p] = S
        r1 = implicit_radius(r[p], rd[p], kappa[p], S, G, A, dt)
        dm_out[p] = mult[p] * c * (r1 * r1 * r1 - r[p] * r[p] * r[p])
        r_out[p] = r1


@_dual(0)
def tracer_heun(pos, vel, u1, fields, dx, nxg, xoff, dt, box):
    """Fused tracer step (Heun): x* = x + dt u(x); x1 = x + dt (u(x) + u(x*)) / 2, periodic.

    ``fields`` holds (u, v, w) on the (possibly slab-local, see :func:`interpolate`) grid.
    """
    nf, nx, ny, nz = fields.shape
    for p in prange(pos.shape[0]):
        xs0 = _mod(pos[p, 0] + dt * u1[p, 0], box[0])
        xs1 = _mod(pos[p, 1] + dt * u1[p, 1], box[1])
        xs2 = _mod(pos[p, 2] + dt * u1[p, 2], box[2])
        i0, i1, fx = _cell_x(xs0, dx[0], nx, nxg, xoff)
        j0, j1, fy = _cell(xs1, dx[1], ny)
        k0, k1, fz = _cell(xs2, dx[2], nz)
        for k in range(3):
            u2 = _trilinear(fields[k], i0, i1, j0, j1, k0, k1, fx, fy, fz)
            v = 0.5 * (u1[p, k] + u2)
            vel[p, k] = v
            pos[p, k] = _wrap(pos[p, k] + dt * v, box[k])


# ---------------------------------------------------------------- the fused DNS droplet pass (tracers)

@njit(cache=True)
def _droplet_range(lo, hi, fields, pos, vel, r, rd, kappa, mult, T0, p0, G, A, dt, iT, iq, iz, dx, box, nxg, xoff,
                   r_out, S_out, src, liq):
    """Droplets lo..hi-1 of :func:`droplet_pass`, depositing into ``src`` and ``liq`` in droplet order.

    Per droplet, with the arithmetic of the separate kernels: :func:`interpolate` of every field used at x0,
    :func:`condense`, the source dm deposited at x0 as by :func:`deposit`, :func:`tracer_heun`, and
    :func:`liquid_mass` deposited at x1. Many arguments: Numba kernels take plain arrays and scalars.
    """
    nf, nx, ny, nz = fields.shape
    c = 4.0 / 3.0 * math.pi * RHO_W
    for p in range(lo, hi):
        i0, i1, fx = _cell_x(pos[p, 0], dx[0], nx, nxg, xoff)
        j0, j1, fy = _cell(pos[p, 1], dx[1], ny)
        k0, k1, fz = _cell(pos[p, 2], dx[2], nz)
        u0 = _trilinear(fields[0], i0, i1, j0, j1, k0, k1, fx, fy, fz)
        u1 = _trilinear(fields[1], i0, i1, j0, j1, k0, k1, fx, fy, fz)
        u2 = _trilinear(fields[2], i0, i1, j0, j1, k0, k1, fx, fy, fz)
        theta = _trilinear(fields[iT], i0, i1, j0, j1, k0, k1, fx, fy, fz)
        qv = _trilinear(fields[iq], i0, i1, j0, j1, k0, k1, fx, fy, fz)
        if iz >= 0:
            pl = hydrostatic_pressure_jit(p0, T0, _trilinear(fields[iz], i0, i1, j0, j1, k0, k1, fx, fy, fz))
        else:
            pl = p0
        S = supersaturation_pqT_jit(pl, T0 + theta, qv)
        S_out[p] = S
        r0 = r[p]
        r1 = implicit_radius(r0, rd[p], kappa[p], S, G, A, dt)
        r_out[p] = r1
        dm = mult[p] * c * (r1 * r1 * r1 - r0 * r0 * r0)
        if dm != 0.0:
            _deposit_cell(src, dm, i0, i1, j0, j1, k0, k1, fx, fy, fz)
        # Heun: the fluid velocity at x* = x0 + dt u(x0)
        i0, i1, fx = _cell_x(_mod(pos[p, 0] + dt * u0, box[0]), dx[0], nx, nxg, xoff)
        j0, j1, fy = _cell(_mod(pos[p, 1] + dt * u1, box[1]), dx[1], ny)
        k0, k1, fz = _cell(_mod(pos[p, 2] + dt * u2, box[2]), dx[2], nz)
        v = 0.5 * (u0 + _trilinear(fields[0], i0, i1, j0, j1, k0, k1, fx, fy, fz))
        vel[p, 0] = v
        pos[p, 0] = _wrap(pos[p, 0] + dt * v, box[0])
        v = 0.5 * (u1 + _trilinear(fields[1], i0, i1, j0, j1, k0, k1, fx, fy, fz))
        vel[p, 1] = v
        pos[p, 1] = _wrap(pos[p, 1] + dt * v, box[1])
        v = 0.5 * (u2 + _trilinear(fields[2], i0, i1, j0, j1, k0, k1, fx, fy, fz))
        vel[p, 2] = v
        pos[p, 2] = _wrap(pos[p, 2] + dt * v, box[2])
        lm = _liquid_mass_one(mult[p], r1, rd[p])
        if lm != 0.0:
            i0, i1, fx = _cell_x(pos[p, 0], dx[0], nx, nxg, xoff)
            j0, j1, fy = _cell(pos[p, 1], dx[1], ny)
            k0, k1, fz = _cell(pos[p, 2], dx[2], nz)
            _deposit_cell(liq, lm, i0, i1, j0, j1, k0, k1, fx, fy, fz)


@njit(cache=True)
def _droplet_pass_serial(fields, pos, vel, r, rd, kappa, mult, T0, p0, G, A, dt, iT, iq, iz, dx, box, nxg, xoff,
                         r_out, S_out, src, liq):
    """:func:`droplet_pass` on one thread. Many arguments: Numba kernels take plain arrays and scalars."""
    _droplet_range(0, pos.shape[0], fields, pos, vel, r, rd, kappa, mult, T0, p0, G, A, dt, iT, iq, iz, dx, box,
                   nxg, xoff, r_out, S_out, src, liq)


@njit(cache=True, parallel=True)
def _droplet_pass_parallel(fields, pos, vel, r, rd, kappa, mult, T0, p0, G, A, dt, iT, iq, iz, dx, box, nxg, xoff,
                           r_out, S_out, src, liq, nchunks):
    """:func:`droplet_pass` over ``nchunks`` contiguous droplet ranges, each depositing into private grids that
    are then added in chunk order (as :func:`deposit`). Many arguments: Numba kernels take plain arrays."""
    n = pos.shape[0]
    chunk = (n + nchunks - 1) // nchunks
    tmp = np.zeros((nchunks, 2) + src.shape)
    for t in prange(nchunks):
        hi = min(n, (t + 1) * chunk)
        _droplet_range(t * chunk, hi, fields, pos, vel, r, rd, kappa, mult, T0, p0, G, A, dt, iT, iq, iz, dx, box,
                       nxg, xoff, r_out, S_out, tmp[t, 0], tmp[t, 1])
    for t in range(nchunks):          # fixed order: deterministic for a given chunk count
        src += tmp[t, 0]
    for t in range(nchunks):
        liq += tmp[t, 1]


def droplet_pass(fields, pos, vel, r, rd, kappa, mult, T0, p0, G, A, dt, iT, iq, iz, dx, box, nxg, xoff,
                 r_out, S_out, src, liq):
    """The DNS droplet step for tracers in one pass over the droplets (one read of each droplet's data).

    Does what :func:`interpolate`, :func:`condense`, :func:`deposit` (of dm at the old position, into
    ``src``), :func:`tracer_heun` and :func:`liquid_mass` + :func:`deposit` (at the new position, into
    ``liq``) do one after the other, with the same arithmetic and the same deposition order (the droplets
    split into as many contiguous chunks as :func:`deposit` uses), so the results are bitwise those of the
    separate kernels (tests/clouds/test_droplet_pass.py). ``pos`` and ``vel`` are updated in place; ``r_out``
    gets the new radii, ``S_out`` the supersaturation at the droplets; ``src`` and ``liq`` must be zero.
    Many arguments: Numba kernels take plain arrays and scalars (no objects in nopython mode).
    """
    nthreads = numba.get_num_threads()
    args = (fields, pos, vel, r, rd, kappa, mult, float(T0), float(p0), float(G), float(A), float(dt), int(iT),
            int(iq), int(iz), dx, box, int(nxg), int(xoff), r_out, S_out, src, liq)
    if pos.shape[0] >= 8 * PARALLEL_MIN and nthreads > 1:
        _droplet_pass_parallel(*args, nthreads)
    else:
        _droplet_pass_serial(*args)


refresh_stale_cache(globals())
