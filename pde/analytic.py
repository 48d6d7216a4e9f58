"""Analytic references for moving-source heat conduction.

* :func:`green_gaussian` -- exact temperature of a moving Gaussian (volumetric or surface) source in an
  infinite medium, by superposition of the Gaussian-spread heat kernel (shared/REFERENCES.md, "Moving
  Gaussian volumetric source"; Carslaw & Jaeger 1959, Sec. 10.2)::

      T - T0 = (1 / rho c) int_0^t P(t') prod_i [2 pi (sigma_i^2 + 2 alpha (t - t'))]^(-1/2)
               exp(-(x_i - s_i(t'))^2 / (2 (sigma_i^2 + 2 alpha (t - t')))) dt'

  For the half-space z <= 0 with an adiabatic top surface and the source centred on it, the image
  source doubles the field (the factor 2 in the half-Gaussian depth profile of
  :class:`pde.heat_source.GaussianBeam`).  The t' integral is done with composite Gauss-Legendre
  on a grid refined towards t' = t, where the kernel is narrowest.
* :func:`rosenthal` -- quasi-steady point source moving at speed v on a semi-infinite body
  (Rosenthal 1946): T = T0 + P / (2 pi k R) exp(-v (R + xi) / (2 alpha)), xi = x - x_s(t).
"""
from __future__ import annotations

import numpy as np


def green_gaussian(points, t, beam, rho_c: float, alpha: float, T0: float = 0.0, n_t: int = 400,
                   half_space: bool = True) -> np.ndarray:
    """Exact T(points, t) of the moving :class:`~pde.heat_source.GaussianBeam` in an infinite medium
    (``half_space``: adiabatic plane z = 0 through the source centre, image doubled)."""
    X = np.atleast_2d(np.asarray(points, float))
    t = float(t)
    if t <= 0:
        return np.full(len(X), T0)
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
    for a, b in zip(edges[:-1], edges[1:]):
        taus = 0.5 * (b - a) * (xg + 1) + a
        ws = 0.5 * (b - a) * wg
        for tau, w in zip(taus, ws):
            tp = t - tau
            if tp < 0 or tp > beam.t_off:
                continue
            xs, ys = beam.position(tp)
            vx = sx2 + 2 * alpha * tau
            vz = sz2 + 2 * alpha * tau
            g = (np.exp(-(X[:, 0] - xs) ** 2 / (2 * vx) - (X[:, 1] - ys) ** 2 / (2 * vx)) / (2 * np.pi * vx)
                 * np.exp(-X[:, 2] ** 2 / (2 * vz)) / np.sqrt(2 * np.pi * vz))
            total += w * g
    factor = 2.0 if half_space else 1.0
    return T0 + factor * beam.absorbed_power * total / rho_c


def rosenthal(points, t, beam, conductivity: float, alpha: float, T0: float = 0.0) -> np.ndarray:
    """Rosenthal quasi-steady solution of a point source (absorbed power) moving along +x on z = 0."""
    X = np.atleast_2d(np.asarray(points, float))
    xs, ys = beam.position(t)
    xi = X[:, 0] - xs
    R = np.sqrt(xi ** 2 + (X[:, 1] - ys) ** 2 + X[:, 2] ** 2)
    R = np.maximum(R, 1e-30)
    return T0 + beam.absorbed_power / (2 * np.pi * conductivity * R) * np.exp(-beam.speed * (R + xi) / (2 * alpha))
