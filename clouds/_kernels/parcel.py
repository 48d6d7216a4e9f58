"""Parcel-model kernels: second-order growth of all superdroplets at a common supersaturation
(with its derivative for the Newton coupling of :class:`clouds.ParcelModel`) and the eddy-hopping
fluctuation update.

All arrays float64 in SI units. The growth step is :func:`clouds._kernels.droplets.implicit_radius`
and S_eq is :func:`clouds.koehler.seq_and_derivative` (written once there).
"""
from __future__ import annotations

import math

from numba import njit, prange

from gpu.jit import refresh_stale_cache

from ..koehler import seq_and_derivative
from .droplets import _dual, implicit_radius


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
            seq0, dseq0 = seq_and_derivative(r0, rd3, kappa[i], A)
            theta = _fitted_theta(dt * g * dseq0 / r0)
        c = 2.0 * theta * dt * g
        r1 = implicit_radius(r0, rd[i], kappa[i], (S + S_prime[i] - (1.0 - theta) * seq0) / theta, g, A,
                             theta * dt)
        r_out[i] = r1
        acc += mult[i] * (r1 * r1 * r1 - r0 * r0 * r0)
        if r1 > rd[i] and r1 > 0.0:
            _, dseq = seq_and_derivative(r1, rd3, kappa[i], A)
            den = 2.0 * r1 + c * dseq
            if den > 0.0:
                dacc += mult[i] * 3.0 * r1 * r1 * (2.0 * dt * g) / den
    return acc, dacc


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


refresh_stale_cache(globals())
