"""Droplet kernels of the DNS as ``numba.cuda`` kernels: interpolation, growth, motion, deposition.

One thread per droplet; droplet arrays in structure-of-arrays layout on the device (positions and
velocities ``(3, n)``, interpolated fields ``(n_fields, n)``, radii ``(n,)``), so that consecutive
threads read and write consecutive addresses (coalesced); the grid is read by gathers (trilinear
weights) and written by atomic adds (deposition). The arithmetic is that of the CPU kernels in
:mod:`clouds._kernels.droplets`: every scalar function they call (cell index, trilinear weights,
implicit growth, S_eq, e_s, the hydrostatic pressure, the exact Stokes-drag update) is compiled as a
CUDA device function from the *same* Python function (:func:`device_twin`), not retyped. Results
equal the CPU kernels to round-off; deposition adds with atomics in thread order, so a grid cell's
sum differs from the CPU's by summation order only.

The launch functions take device arrays (``numba.cuda`` device arrays, or CuPy arrays through
``__cuda_array_interface__``) and never copy to the host. Under ``NUMBA_ENABLE_CUDASIM=1`` they run
in numba's CUDA simulator (how the tests exercise them). :func:`bytes_moved` gives the compulsory
memory traffic of each kernel for bandwidth figures.
"""
from __future__ import annotations

import math
import types

import numpy as np
from numba import cuda  # a module global named cuda: the simulator swaps it
from numba.core.registry import CPUDispatcher

from gpu.cuda import cuda_module, launch_config

from ..drag import stokes_tau
from ..thermo import G_ACC, RHO_W, hydrostatic_pressure_jit, supersaturation_pqT_jit
from .droplets import _cell, _cell_id, _drag_step, _mod, _trilinear, _wrap, implicit_radius

_DEVICE: dict = {}


def device_twin(f):
    """CUDA device function compiled from the Python function of the Numba function ``f``.

    The twin runs the same code object; the Numba functions it calls (names in its code that are
    bound to CPU dispatchers in its module) are replaced by their own device twins, recursively.
    """
    py = getattr(f, "py_func", f)
    if py in _DEVICE:
        return _DEVICE[py]
    ns = dict(py.__globals__)
    for name in py.__code__.co_names:
        obj = ns.get(name)
        if isinstance(obj, CPUDispatcher):
            ns[name] = device_twin(obj)
    g = types.FunctionType(py.__code__, ns, py.__name__ + "_cuda", py.__defaults__, py.__closure__)
    g.__qualname__ = py.__qualname__ + "_cuda"
    twin = cuda.jit(device=True)(g)
    _DEVICE[py] = twin
    return twin


_cell_d = device_twin(_cell)
_trilinear_d = device_twin(_trilinear)
_wrap_d = device_twin(_wrap)
_mod_d = device_twin(_mod)
_drag_step_d = device_twin(_drag_step)
_implicit_radius_d = device_twin(implicit_radius)
_supersat_d = device_twin(supersaturation_pqT_jit)
_hydrostatic_d = device_twin(hydrostatic_pressure_jit)
_stokes_tau_d = device_twin(stokes_tau)
_cell_id_d = device_twin(_cell_id)

#: 4/3 pi rho_w, as in the CPU kernels
_MASS_COEF = 4.0 / 3.0 * math.pi * RHO_W


@cuda.jit
def _interpolate_k(fields, pos, dx0, dx1, dx2, out):
    p = cuda.grid(1)
    if p < pos.shape[1]:
        nf, nx, ny, nz = fields.shape
        i0, i1, fx = _cell_d(pos[0, p], dx0, nx)
        j0, j1, fy = _cell_d(pos[1, p], dx1, ny)
        k0, k1, fz = _cell_d(pos[2, p], dx2, nz)
        for k in range(nf):
            out[k, p] = _trilinear_d(fields[k], i0, i1, j0, j1, k0, k1, fx, fy, fz)


@cuda.jit
def _condense_k(vals, r, rd, kappa, mult, T0, p0, G, A, dt, iT, iq, iz, r_out, dm_out, S_out):
    """Condensation of one droplet per thread (device twin of the CPU loop body). Many arguments: a CUDA
    kernel takes device arrays and scalars (no objects on the device)."""
    p = cuda.grid(1)
    if p < r.shape[0]:
        pl = _hydrostatic_d(p0, T0, vals[iz, p]) if iz >= 0 else p0
        S = _supersat_d(pl, T0 + vals[iT, p], vals[iq, p])
        S_out[p] = S
        r0 = r[p]
        r1 = _implicit_radius_d(r0, rd[p], kappa[p], S, G, A, dt)
        dm_out[p] = mult[p] * _MASS_COEF * (r1 * r1 * r1 - r0 * r0 * r0)
        r_out[p] = r1


@cuda.jit
def _liquid_mass_k(r, rd, mult, out):
    i = cuda.grid(1)
    if i < r.shape[0]:
        out[i] = mult[i] * _MASS_COEF * (r[i] ** 3 - rd[i] ** 3)


@cuda.jit
def _deposit_k(pos, val, dx0, dx1, dx2, grid):
    p = cuda.grid(1)
    if p < pos.shape[1]:
        v = val[p]
        if v != 0.0:
            nx, ny, nz = grid.shape
            i0, i1, fx = _cell_d(pos[0, p], dx0, nx)
            j0, j1, fy = _cell_d(pos[1, p], dx1, ny)
            k0, k1, fz = _cell_d(pos[2, p], dx2, nz)
            gx, gy, gz = 1.0 - fx, 1.0 - fy, 1.0 - fz
            cuda.atomic.add(grid, (i0, j0, k0), v * gx * gy * gz)
            cuda.atomic.add(grid, (i0, j0, k1), v * gx * gy * fz)
            cuda.atomic.add(grid, (i0, j1, k0), v * gx * fy * gz)
            cuda.atomic.add(grid, (i0, j1, k1), v * gx * fy * fz)
            cuda.atomic.add(grid, (i1, j0, k0), v * fx * gy * gz)
            cuda.atomic.add(grid, (i1, j0, k1), v * fx * gy * fz)
            cuda.atomic.add(grid, (i1, j1, k0), v * fx * fy * gz)
            cuda.atomic.add(grid, (i1, j1, k1), v * fx * fy * fz)


@cuda.jit
def _move_inertial_k(pos, vel, u_at, r, mu, settling, dt, L0, L1, L2):
    p = cuda.grid(1)
    if p < pos.shape[1]:
        tau = _stokes_tau_d(r[p], mu)
        e = math.exp(-dt / tau) if tau > 0.0 else 0.0
        vs = -G_ACC * tau if settling else 0.0
        pos[0, p], vel[0, p] = _drag_step_d(pos[0, p], vel[0, p], u_at[0, p] + 0.0, dt, tau, e)
        pos[1, p], vel[1, p] = _drag_step_d(pos[1, p], vel[1, p], u_at[1, p] + 0.0, dt, tau, e)
        pos[2, p], vel[2, p] = _drag_step_d(pos[2, p], vel[2, p], u_at[2, p] + vs, dt, tau, e)
        pos[0, p] = _wrap_d(pos[0, p], L0)
        pos[1, p] = _wrap_d(pos[1, p], L1)
        pos[2, p] = _wrap_d(pos[2, p], L2)


@cuda.jit
def _tracer_heun_k(pos, vel, u1, fields, dx0, dx1, dx2, dt, L0, L1, L2):
    """The tracer Heun step of one droplet per thread. Many arguments: a CUDA kernel takes device arrays and
    scalars (no objects on the device)."""
    p = cuda.grid(1)
    if p < pos.shape[1]:
        nf, nx, ny, nz = fields.shape
        xs0 = _mod_d(pos[0, p] + dt * u1[0, p], L0)
        xs1 = _mod_d(pos[1, p] + dt * u1[1, p], L1)
        xs2 = _mod_d(pos[2, p] + dt * u1[2, p], L2)
        i0, i1, fx = _cell_d(xs0, dx0, nx)
        j0, j1, fy = _cell_d(xs1, dx1, ny)
        k0, k1, fz = _cell_d(xs2, dx2, nz)
        v = 0.5 * (u1[0, p] + _trilinear_d(fields[0], i0, i1, j0, j1, k0, k1, fx, fy, fz))
        vel[0, p] = v
        pos[0, p] = _wrap_d(pos[0, p] + dt * v, L0)
        v = 0.5 * (u1[1, p] + _trilinear_d(fields[1], i0, i1, j0, j1, k0, k1, fx, fy, fz))
        vel[1, p] = v
        pos[1, p] = _wrap_d(pos[1, p] + dt * v, L1)
        v = 0.5 * (u1[2, p] + _trilinear_d(fields[2], i0, i1, j0, j1, k0, k1, fx, fy, fz))
        vel[2, p] = v
        pos[2, p] = _wrap_d(pos[2, p] + dt * v, L2)


@cuda.jit
def _cell_index_k(pos, dx0, dx1, dx2, n0, n1, n2, out):
    p = cuda.grid(1)
    if p < pos.shape[1]:
        out[p] = _cell_id_d(pos[0, p], pos[1, p], pos[2, p], dx0, dx1, dx2, n0, n1, n2)


# ---------------------------------------------------------------------------------- launches
def _launch(kernel, n, *args):
    if n > 0:
        cuda_module()
        blocks, threads = launch_config(n)
        kernel[blocks, threads](*args)


def interpolate(fields, pos, dx, out):
    """out[k, p] = trilinear interpolation of fields[k] (periodic, nodes at i dx) to pos[:, p].

    CUDA twin of :func:`clouds._kernels.droplets.interpolate` (whole grid: nxg = nx, xoff = 0)."""
    _launch(_interpolate_k, pos.shape[1], fields, pos, float(dx[0]), float(dx[1]), float(dx[2]), out)


def condense(vals, r, rd, kappa, mult, T0, p0, G, A, dt, iT, iq, iz, r_out, dm_out, S_out):
    """Fused droplet step (local S, implicit growth, mass change); CUDA twin of
    :func:`clouds._kernels.droplets.condense` with ``vals`` as (n_fields, n).
    Many arguments: a CUDA kernel takes device arrays and scalars (no objects on the device).
    """
    _launch(_condense_k, r.shape[0], vals, r, rd, kappa, mult, float(T0), float(p0), float(G), float(A), float(dt),
            int(iT), int(iq), int(iz), r_out, dm_out, S_out)


def liquid_mass(r, rd, mult, out):
    """out[i] = mult[i] (4/3) pi rho_w (r^3 - r_d^3) [kg]; CUDA twin of the CPU kernel."""
    _launch(_liquid_mass_k, r.shape[0], r, rd, mult, out)


def deposit(pos, val, dx, grid):
    """Add val[p] to ``grid`` with trilinear weights (atomic adds); the adjoint of :func:`interpolate`."""
    _launch(_deposit_k, pos.shape[1], pos, val, float(dx[0]), float(dx[1]), float(dx[2]), grid)


def move_inertial(pos, vel, u_at, r, mu, settling, dt, box):
    """Stokes drag (+ settling) update with the fluid velocity u_at (3, n) frozen; tau_p from r and the
    air viscosity mu (:func:`clouds.drag.stokes_tau`); CUDA twin of ``move_droplets(inertial=True)``."""
    _launch(_move_inertial_k, pos.shape[1], pos, vel, u_at, r, float(mu), bool(settling), float(dt),
            float(box[0]), float(box[1]), float(box[2]))


def tracer_heun(pos, vel, u1, fields, dx, dt, box):
    """Fused tracer Heun step; CUDA twin of :func:`clouds._kernels.droplets.tracer_heun`."""
    _launch(_tracer_heun_k, pos.shape[1], pos, vel, u1, fields, float(dx[0]), float(dx[1]), float(dx[2]),
            float(dt), float(box[0]), float(box[1]), float(box[2]))


def cell_index(pos, dx, n, out):
    """out[p] = linear index of the cell holding droplet p (int64); CUDA twin of the CPU kernel."""
    _launch(_cell_index_k, pos.shape[1], pos, float(dx[0]), float(dx[1]), float(dx[2]), int(n[0]), int(n[1]),
            int(n[2]), out)


# ---------------------------------------------------------------------------------- traffic
_F8 = 8  # bytes per float64


def bytes_moved(n_droplets, grid_shape, kernel="step", n_fields=5, inertial=True):
    """Compulsory device-memory traffic [bytes] of one call of ``kernel``, for bandwidth fractions.

    Counts every droplet array element read or written once and every grid value touched once (the
    grid gathered by :func:`interpolate` is read once, a deposit grid read and written once): the
    traffic of an ideal cache, so bytes / time is a lower bound on the bandwidth actually used.
    ``kernel``: "interpolate", "condense", "liquid_mass", "deposit", "move_inertial",
    "tracer_heun", or "step" (one DNS droplet step: interpolate, condense, deposit of dm, the move,
    liquid mass and its deposit). ``n_fields`` is the number of interpolated fields (5, or 6 with
    ``thermo.lapse``); ``inertial`` selects the move of "step".
    """
    n = int(n_droplets)
    ng = int(np.prod(grid_shape))
    if n < 0 or ng < 1:
        raise ValueError(f"bytes_moved needs n_droplets >= 0 and a non-empty grid, got {n}, {grid_shape}")
    nf = int(n_fields)
    per = {
        "interpolate": 3 * n + nf * n + nf * ng,                    # pos in, fields gathered, vals out
        "condense": (3 if nf > 5 else 2) * n + 4 * n + 3 * n,       # theta, q(, zeta); r, rd, kappa, mult; 3 out
        "liquid_mass": 4 * n,                                       # r, rd, mult in; mass out
        "deposit": 4 * n + 2 * ng,                                  # pos, val in; grid read + write
        "move_inertial": 3 * n + 3 * n + 3 * n + n + 6 * n,         # pos, vel, u, r in; pos, vel out
        "tracer_heun": 3 * n + 3 * n + 3 * ng + 6 * n,              # pos, u1 in; (u, v, w) gathered; pos, vel out
    }
    if kernel == "step":
        move = per["move_inertial"] if inertial else per["tracer_heun"]
        return _F8 * (per["interpolate"] + per["condense"] + 2 * per["deposit"] + move + per["liquid_mass"])
    if kernel not in per:
        raise ValueError(f"kernel must be one of {sorted(per) + ['step']}, got {kernel!r}")
    return _F8 * per[kernel]
