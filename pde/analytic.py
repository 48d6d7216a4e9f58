"""Analytic references for moving-source heat conduction.

* :func:`green_gaussian` -- exact temperature of a moving Gaussian (volumetric or surface) source in an
  infinite medium, by superposition of the Gaussian-spread heat kernel (Carslaw & Jaeger 1959, Sec. 10.2)::

      T - T0 = (1 / rho c) int_0^t P(t') prod_i [2 pi (sigma_i^2 + 2 alpha (t - t'))]^(-1/2)
               exp(-(x_i - s_i(t'))^2 / (2 (sigma_i^2 + 2 alpha (t - t')))) dt'

  For the half-space z <= 0 with an adiabatic top surface and the source centred on it, the image
  source doubles the field (the factor 2 in the half-Gaussian depth profile of
  :class:`pde.heat_source.GaussianBeam`).  The t' integral is done with composite Gauss-Legendre
  on a grid refined towards t' = t, where the kernel is narrowest.
* :func:`green_gaussian_rate` -- its exact time derivative at fixed points (Leibniz rule on the same
  integral, analytic kernel derivative): the true heating / cooling rate of the material.
* :func:`rosenthal` -- quasi-steady point source moving at speed v on a semi-infinite body
  (Rosenthal 1946): T = T0 + P / (2 pi k R) exp(-v (R + xi) / (2 alpha)), xi = x - x_s(t).
"""
from __future__ import annotations

import numpy as np

from .heat_source import gaussian


def _kernel_sum(X, t, beam, alpha, n_t, rate=False):
    """int_0^min(t, t_off) K(x - s(t'), t - t') dt' of the Gaussian-spread heat kernel K (module docstring),
    or with ``rate`` its t-derivative at fixed x: int dK/dtau dt' (+ K(x - s(t), 0) while the beam is on)."""
    t_end = min(t, beam.t_off)
    # graded nodes in tau = t - t' (dense near tau = 0 where the kernel width -> sigma)
    tau_lo = t - t_end
    tau_scale = max(beam.sigma ** 2 / alpha, 1e-30)
    u = np.linspace(0.0, 1.0, 65)
    # map: tau = tau_lo + (t - tau_lo) * (u^3) concentrates nodes near tau_lo when tau_lo = 0
    edges = tau_lo + (t - tau_lo) * u ** 3 if tau_lo < tau_scale else tau_lo + (t - tau_lo) * u
    xg, wg = np.polynomial.legendre.leggauss(max(4, n_t // 64))
    total = np.zeros(len(X))
    sx2, sz2 = beam.sigma ** 2, beam.sigma_z ** 2

    def kernel(tau, xs, ys, deriv):
        # the source's Gaussian (variance sigma^2) spread by the heat kernel (variance 2 alpha tau)
        vx = sx2 + 2 * alpha * tau
        vz = sz2 + 2 * alpha * tau
        sx, sz = np.sqrt(vx), np.sqrt(vz)
        g = gaussian(X[:, 0] - xs, sx) * gaussian(X[:, 1] - ys, sx) * gaussian(X[:, 2], sz)
        if not deriv:
            return g
        # d/dtau of ln K with d(v)/dtau = 2 alpha: alpha (r^2 / vx^2 - 2 / vx + z^2 / vz^2 - 1 / vz)
        r2 = (X[:, 0] - xs) ** 2 + (X[:, 1] - ys) ** 2
        z2 = X[:, 2] ** 2
        return g * alpha * (r2 / vx ** 2 - 2 / vx + z2 / vz ** 2 - 1 / vz)

    for a, b in zip(edges[:-1], edges[1:]):
        taus = 0.5 * (b - a) * (xg + 1) + a
        ws = 0.5 * (b - a) * wg
        for tau, w in zip(taus, ws):
            tp = t - tau
            if tp < 0 or tp > beam.t_off:
                continue
            total += w * kernel(tau, *beam.position(tp), rate)
    if rate and t <= beam.t_off and beam.sigma_z > 0:  # the source term K(x - s(t), tau = 0) of d/dt int_0^t
        total += kernel(0.0, *beam.position(t), False)
    return total


def green_gaussian(points, t, beam, rho_c: float, alpha: float, T0: float = 0.0, n_t: int = 400,
                   half_space: bool = True) -> np.ndarray:
    """Exact T(points, t) of the moving :class:`~pde.heat_source.GaussianBeam` in an infinite medium
    (``half_space``: adiabatic plane z = 0 through the source centre, image doubled)."""
    X = np.atleast_2d(np.asarray(points, float))
    t = float(t)
    if t <= 0:
        return np.full(len(X), T0)
    factor = 2.0 if half_space else 1.0
    return T0 + factor * beam.absorbed_power * _kernel_sum(X, t, beam, alpha, n_t) / rho_c


def green_gaussian_rate(points, t, beam, rho_c: float, alpha: float, n_t: int = 400,
                        half_space: bool = True) -> np.ndarray:
    """Exact dT/dt at fixed points (the material's heating / cooling rate, K/s) of :func:`green_gaussian`:
    the t-derivative of the superposition integral, d/dt int_0^t q(t') K(x, t - t') dt' = q(t) K(x, 0) +
    int_0^t q(t') dK/dt dt' (Leibniz rule), with the heat-kernel derivative done analytically.  For a surface
    source (d = 0) the instantaneous term is a delta on z = 0 and is left out (exact for z < 0, and for any
    point outside the beam footprint)."""
    X = np.atleast_2d(np.asarray(points, float))
    t = float(t)
    if t <= 0:
        return np.zeros(len(X))
    factor = 2.0 if half_space else 1.0
    return factor * beam.absorbed_power * _kernel_sum(X, t, beam, alpha, n_t, rate=True) / rho_c


def rosenthal_centreline_cooling_rate(beam, conductivity: float, T_s: float, T0: float) -> float:
    """Quasi-steady cooling rate at the rear point of the isotherm T_s on the trailing centreline of a point
    source (Rosenthal 1946): there R = -xi, so T - T0 = q / (2 pi k |xi|), dT/dxi = q / (2 pi k xi^2) and
    -dT/dt = v dT/dxi = 2 pi k v (T_s - T0)^2 / q (q = absorbed power; Rosenthal, Trans. ASME 68 (1946) 849,
    the thick-plate cooling rate 2 pi k (T - T0)^2 / (q / v))."""
    return 2 * np.pi * conductivity * beam.speed * (T_s - T0) ** 2 / beam.absorbed_power


def rosenthal(points, t, beam, conductivity: float, alpha: float, T0: float = 0.0) -> np.ndarray:
    """Rosenthal quasi-steady solution of a point source (absorbed power) moving along +x on z = 0."""
    X = np.atleast_2d(np.asarray(points, float))
    xs, ys = beam.position(t)
    xi = X[:, 0] - xs
    R = np.sqrt(xi ** 2 + (X[:, 1] - ys) ** 2 + X[:, 2] ** 2)
    R = np.maximum(R, 1e-30)
    return T0 + beam.absorbed_power / (2 * np.pi * conductivity * R) * np.exp(-beam.speed * (R + xi) / (2 * alpha))
