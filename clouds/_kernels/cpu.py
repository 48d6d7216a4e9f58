"""Numba kernels: implicit droplet growth, trilinear interpolation/deposition, droplet motion.

All arrays float64 in SI units. No objects, no I/O. Thermodynamic formulas are the Numba twins
of the ones in :mod:`clouds.thermo` (written once there).

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

import numpy as np
from numba import njit, prange

from gpu.jit import njit_dual

from ..thermo import hydrostatic_pressure_jit, supersaturation_pqT_jit

#: below this many droplets the thread start-up of a parallel loop costs more than it saves
PARALLEL_MIN = 4096
#: iterations per dynamically scheduled chunk of a parallel loop
CHUNK = 512


def _dual(arg=0):
    """Compile a prange kernel twice (parallel and serial, :func:`gpu.jit.njit_dual`) and dispatch on the size
    of ``args[arg]``: dynamic chunks for the parallel loop, as the cost per droplet varies (stiff haze
    droplets need more Newton steps) and populations are often sorted by size."""
    return njit_dual(size_arg=arg, min_size=PARALLEL_MIN, chunksize=CHUNK, cache=True)


@njit(cache=True, inline="always")
def _seq_and_deriv(r, rd3, kappa, A):
    er = math.exp(A / r)
    r3 = r * r * r
    den = r3 - rd3 * (1.0 - kappa)
    if den <= 0.0:
        return -1.0, 0.0
    P = (r3 - rd3) / den
    dP = 3.0 * r * r * (rd3 * kappa) / (den * den)
    return P * er - 1.0, er * (dP - P * A / (r * r))


@njit(cache=True)
def implicit_radius(r0, rd, kappa, S, G, A, dt):
    """One backward-Euler growth step of one droplet; returns the new radius [m]."""
    rd3 = rd * rd * rd
    c = 2.0 * dt * G
    lo = rd
    # f at the lower end (r -> r_d or r -> 0)
    if lo > 0.0:
        seq_lo, _ = _seq_and_deriv(lo, rd3, kappa, A)
        if kappa <= 0.0:
            seq_lo = math.exp(A / lo) - 1.0
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
        seq0, _ = _seq_and_deriv(r0, rd3, kappa, A)
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
        seq, dseq = _seq_and_deriv(r, rd3, kappa, A)
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
def grow_uniform(r, rd, kappa, S_prime, S, G, A, dt, mult, r_out):
    """Grow all droplets at the common (S + S_prime[i], G, A); returns sum mult (r1^3 - r0^3)."""
    n = r.shape[0]
    acc = 0.0
    for i in prange(n):
        r1 = implicit_radius(r[i], rd[i], kappa[i], S + S_prime[i], G, A, dt)
        r_out[i] = r1
        acc += mult[i] * (r1 * r1 * r1 - r[i] * r[i] * r[i])
    return acc


@njit(cache=True, inline="always")
def _fitted_theta(z):
    """theta(z) = 1 / (1 - e^-z) - 1 / z: the theta-method with this weight damps y' = -y / tau by
    exactly e^-z over dt = z tau (exponential fitting, Liniger & Willoughby 1970, SIAM J. Numer. Anal. 7:47).
    theta = 1/2 + z/12 + O(z^3) for z -> 0 (trapezoidal, second order), -> 1 for z -> inf (backward
    Euler, L-stable); 1/2 for z <= 0 (no decay)."""
    if z <= 0.0:
        return 0.5
    if z < 1e-2:
        return 0.5 + z / 12.0 - z * z * z / 720.0
    return 1.0 / (-math.expm1(-z)) - 1.0 / z


@_dual(0)
def grow_uniform_d(r, rd, kappa, S_prime, S, G, A, dt, mult, r_out):
    """Second-order, L-stable growth of all droplets at the common S + S_prime[i]; returns
    (sum mult (r1^3 - r0^3), its derivative d/dS) for the Newton coupling of the parcel model.

    The growth law d(r^2)/dt = 2 G (S - S_eq(r)) is integrated in x = r^2 by the theta-method::

        r1^2 = r0^2 + 2 dt G (S - (1 - theta) S_eq(r0) - theta S_eq(r1)),

    i.e. :func:`implicit_radius` at S' = (S - (1 - theta) S_eq(r0)) / theta over theta dt, with the
    exponentially fitted theta = :func:`_fitted_theta` (dt / tau_i), 1 / tau_i = G S_eq'(r0) / r0 the
    droplet's own relaxation rate: trapezoidal (second order) for droplets that change slowly
    over a step, backward Euler (no oscillation) for stiff haze droplets that relax to
    equilibrium within a step. ``G`` is an array of length 1 (common G) or len(r) (per droplet,
    e.g. with gas-kinetic corrections). From f(r1; S) = 0: dr1/dS = 2 dt G / (2 r1 + c S_eq'(r1))
    with c = 2 theta dt G; zero if clamped.
    """
    n = r.shape[0]
    acc = 0.0
    dacc = 0.0
    per = G.shape[0] > 1
    for i in prange(n):
        g = G[i] if per else G[0]
        r0 = r[i]
        rd3 = rd[i] * rd[i] * rd[i]
        seq0 = 0.0
        theta = 1.0
        if r0 > 0.0:
            seq0, dseq0 = _seq_and_deriv(r0, rd3, kappa[i], A)
            theta = _fitted_theta(dt * g * dseq0 / r0)
        c = 2.0 * theta * dt * g
        r1 = implicit_radius(r0, rd[i], kappa[i], (S + S_prime[i] - (1.0 - theta) * seq0) / theta, g, A,
                             theta * dt)
        r_out[i] = r1
        acc += mult[i] * (r1 * r1 * r1 - r0 * r0 * r0)
        if r1 > rd[i] and r1 > 0.0:
            _, dseq = _seq_and_deriv(r1, rd3, kappa[i], A)
            den = 2.0 * r1 + c * dseq
            if den > 0.0:
                dacc += mult[i] * 3.0 * r1 * r1 * (2.0 * dt * g) / den
    return acc, dacc


@_dual(0)
def grow_local(r, rd, kappa, S, G, A, dt, r_out):
    """Grow each droplet at its own (S[i], G[i], A[i]) (DNS: values interpolated to droplets)."""
    n = r.shape[0]
    for i in prange(n):
        r_out[i] = implicit_radius(r[i], rd[i], kappa[i], S[i], G[i], A[i], dt)


@njit(cache=True)
def ou_step(w, S_prime, dt, tau_t, sigma_w, A1, tau_relax, noise):
    """Eddy-hopping update (Grabowski & Abade 2017, eqs. 4-5) for every superdroplet.

    w' is an Ornstein-Uhlenbeck process with time scale tau_t and std sigma_w (exact update);
    dS'/dt = A1 w' - S'/tau_relax is integrated with the exponential (exact for frozen w').
    """
    a = math.exp(-dt / tau_t)
    b = math.sqrt(1.0 - a * a) * sigma_w
    e = math.exp(-dt / tau_relax)
    for i in range(w.shape[0]):
        wm = w[i]
        w[i] = a * wm + b * noise[i]
        wmid = 0.5 * (wm + w[i])
        S_prime[i] = S_prime[i] * e + A1 * wmid * tau_relax * (1.0 - e)


# ---------------------------------------------------------------- grid <-> droplet transfer

@njit(cache=True, inline="always")
def _cell(x, dx, n):
    s = x / dx
    i0 = int(math.floor(s))
    f = s - i0
    i0 = i0 % n
    return i0, (i0 + 1) % n, f


@njit(cache=True, inline="always")
def _cell_x(x, dx, n, nglob, xoff):
    """x cell of a (possibly slab-local) array: global index minus xoff, periodic in nglob."""
    s = x / dx
    i0 = int(math.floor(s))
    f = s - i0
    i0 = (i0 - xoff) % nglob
    return i0, (i0 + 1) % n, f


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
        gx, gy, gz = 1.0 - fx, 1.0 - fy, 1.0 - fz
        for k in range(nf):
            F = fields[k]
            out[p, k] = (gx * (gy * (gz * F[i0, j0, k0] + fz * F[i0, j0, k1])
                               + fy * (gz * F[i0, j1, k0] + fz * F[i0, j1, k1]))
                         + fx * (gy * (gz * F[i1, j0, k0] + fz * F[i1, j0, k1])
                                 + fy * (gz * F[i1, j1, k0] + fz * F[i1, j1, k1])))


@njit(cache=True, inline="always")
def _deposit_one(p, pos, val, dx, grid, nxg, xoff):
    nx, ny, nz = grid.shape
    v = val[p]
    if v == 0.0:
        return
    i0, i1, fx = _cell_x(pos[p, 0], dx[0], nx, nxg, xoff)
    j0, j1, fy = _cell(pos[p, 1], dx[1], ny)
    k0, k1, fz = _cell(pos[p, 2], dx[2], nz)
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
                d = vel[p, k] - ut
                pos[p, k] += ut * dt + d * tau * (1.0 - e)
                vel[p, k] = ut + d * e
        else:
            for k in range(3):
                vel[p, k] = u_at[p, k]
                pos[p, k] += u_at[p, k] * dt
        for k in range(3):
            x = pos[p, k] % box[k]
            pos[p, k] = x if x < box[k] else 0.0


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
    c = 4.0 / 3.0 * math.pi * 1000.0
    for i in prange(r.shape[0]):
        out[i] = mult[i] * c * (r[i] ** 3 - rd[i] ** 3)


@_dual(0)
def heun_finish(pos, vel, u1, u2, dt, box):
    """Tracer Heun corrector: v = (u(x0) + u(x0 + dt u(x0))) / 2, x1 = x0 + dt v (periodic)."""
    for p in prange(pos.shape[0]):
        for k in range(3):
            v = 0.5 * (u1[p, k] + u2[p, k])
            vel[p, k] = v
            x = (pos[p, k] + dt * v) % box[k]
            pos[p, k] = x if x < box[k] else 0.0


@njit(cache=True)
def cell_index(pos, dx, n):
    """Linear cell index of every droplet (for sorting droplets by cell: memory locality)."""
    out = np.empty(pos.shape[0], dtype=np.int64)
    for p in range(pos.shape[0]):
        i = int(pos[p, 0] / dx[0]) % n[0]
        j = int(pos[p, 1] / dx[1]) % n[1]
        k = int(pos[p, 2] / dx[2]) % n[2]
        out[p] = (i * n[1] + j) * n[2] + k
    return out


@_dual(1)
def condense(vals, r, rd, kappa, mult, T0, p0, G, A, dt, iT, iq, iz, r_out, dm_out, S_out):
    """Fused DNS droplet step: local S from interpolated (theta, q_v, zeta), implicit growth, mass change.

    S as in :func:`droplet_supersaturation`; r_out from :func:`implicit_radius`;
    dm_out = mult (4/3) pi rho_w (r1^3 - r0^3) [kg] (water gained by the droplets).
    """
    c = 4.0 / 3.0 * math.pi * 1000.0
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
        xs0 = (pos[p, 0] + dt * u1[p, 0]) % box[0]
        xs1 = (pos[p, 1] + dt * u1[p, 1]) % box[1]
        xs2 = (pos[p, 2] + dt * u1[p, 2]) % box[2]
        i0, i1, fx = _cell_x(xs0, dx[0], nx, nxg, xoff)
        j0, j1, fy = _cell(xs1, dx[1], ny)
        k0, k1, fz = _cell(xs2, dx[2], nz)
        gx, gy, gz = 1.0 - fx, 1.0 - fy, 1.0 - fz
        for k in range(3):
            F = fields[k]
            u2 = (gx * (gy * (gz * F[i0, j0, k0] + fz * F[i0, j0, k1])
                        + fy * (gz * F[i0, j1, k0] + fz * F[i0, j1, k1]))
                  + fx * (gy * (gz * F[i1, j0, k0] + fz * F[i1, j0, k1])
                          + fy * (gz * F[i1, j1, k0] + fz * F[i1, j1, k1])))
            v = 0.5 * (u1[p, k] + u2)
            vel[p, k] = v
            x = (pos[p, k] + dt * v) % box[k]
            pos[p, k] = x if x < box[k] else 0.0
