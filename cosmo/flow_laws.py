"""Scaling laws of dark-matter flow for pairwise velocities, to compare with :mod:`cosmo.pairwise`.

Units: comoving separations r in Mpc/h, peculiar velocities in km/s, H(a) = 100 E(a)
km/s per Mpc/h, so the physical separation is ``a r`` and ``H a r`` is in km/s.

* Linear/quasi-linear mean pairwise velocity (Juszkiewicz, Springel & Durrer 1999,
  ApJ 518, L25, eqs. 4-6): ``v12(r) = -(2/3) H a r f xibar(r) [1 + alpha xibar(r)] / (1 + xi(r))``
  with ``xibar(r) = (3/r^3) int_0^r xi(x) x^2 dx`` and ``alpha = 1.2 - 0.65 gamma``,
  ``gamma = -dln xi/dln r``; ``alpha = 0`` is the linear-theory limit (Peebles 1980, sec. 71).
* Stable clustering (Peebles 1980, sec. 71; Xu 2022, arXiv:2202.06515, eq. 30): on small
  scales bound pairs keep fixed physical separation, ``<Delta u_L> = -H a r``.
* Two-thirds law (Xu 2022, sec. 6): ``<(Delta u_L)^2> = beta2 (-epsilon_u a r)^{2/3}`` on small
  scales, epsilon_u < 0 the rate of the inverse kinetic-energy cascade (Xu finds about
  -4.6e-7 m^2/s^3). Only the combination ``beta2 (-epsilon_u)^{2/3}`` is measured by the
  amplitude, so ``epsilon_u`` is reported for a user-chosen constant ``beta2``.
  **Caveat (open):** Xu's value of the constant ``beta2`` is not recorded in the project's
  references and was not verified; the default ``beta2 = 1`` is a placeholder, not his
  value. ``epsilon_u`` scales as ``beta2^{-3/2}``, so compare with Xu's -4.6e-7 m^2/s^3 only
  after setting his ``beta2``. The fitted slope and amplitude do not depend on it.
* Odd moments (Xu 2022, eq. 34): ``<(Delta u_L)^{2n+1}> = (2n+1) <(Delta u_L)^{2n}> <Delta u_L>``
  on small scales.
"""
from __future__ import annotations

import numpy as np
from scipy import integrate

#: 1 Mpc in m
MPC_M = 3.0856775814913673e22


def hubble(a: float, cosmology=None) -> float:
    """H(a) in km/s per Mpc/h: 100 E(a)."""
    from .background import get_cosmology

    c = get_cosmology(cosmology)
    return 100.0 * float(c.efunc(1.0 / a - 1.0))


def xi_bar_from_pairs(stats) -> np.ndarray:
    """Volume-averaged correlation ``xibar(<r_hi)`` per bin from cumulative pair counts (periodic box).

    ``1 + xibar(r) = DD(< r) / RR(< r)``; needs ``rbins[0] == 0`` for the full volume average
    (otherwise the average starts at rbins[0]).
    """
    if not stats.periodic:
        raise ValueError("xi_bar_from_pairs needs a periodic box (analytic random pairs)")
    vol = 4.0 / 3.0 * np.pi * (stats.rbins[1:] ** 3 - stats.rbins[0] ** 3) / stats.box ** 3
    npair = 0.5 * stats.n1 * (stats.n1 - 1) if stats.auto else float(stats.n1) * stats.n2
    return np.cumsum(stats.counts) / (npair * vol) - 1.0


def xi_from_power(r, k, pk, smoothing: float = 0.0):
    """``xi(r)`` and ``xibar(r)`` from a tabulated P(k) (k in h/Mpc, log-spaced), by quadrature.

    ``xi = int k^2 P j0(kr) dk / (2 pi^2)``, ``xibar = int k^2 P W(kr) dk / (2 pi^2)`` with the
    top hat ``W(x) = 3 (sin x - x cos x)/x^3``; an optional Gaussian damping ``exp(-k^2 R^2)``
    suppresses ringing.
    """
    r = np.atleast_1d(np.asarray(r, dtype=np.float64))
    k = np.asarray(k, dtype=np.float64)
    damp = np.exp(-(k * smoothing) ** 2)
    x = k[None, :] * r[:, None]
    j0 = np.sinc(x / np.pi)
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(x > 1e-3, 3 * (np.sin(x) - x * np.cos(x)) / x ** 3, 1 - x ** 2 / 10)
    kern = (k ** 3 * pk * damp)[None, :] / (2 * np.pi ** 2)  # integrate in ln k
    lnk = np.log(k)
    return integrate.simpson(kern * j0, x=lnk, axis=1), integrate.simpson(kern * w, x=lnk, axis=1)


def juszkiewicz_v12(r, xi, xibar, a: float, f: float, H: float, alpha="jsd"):
    """Mean pairwise velocity [km/s] of Juszkiewicz et al. (1999); ``alpha=0`` for linear theory.

    Parameters: comoving ``r`` [Mpc/h], ``xi``, ``xibar`` at r, scale factor ``a``, growth rate
    ``f``, ``H`` [km/s per Mpc/h]; ``alpha="jsd"`` uses 1.2 - 0.65 gamma with gamma from xi(r).
    """
    r = np.asarray(r, dtype=np.float64)
    xi = np.asarray(xi, dtype=np.float64)
    xibar = np.asarray(xibar, dtype=np.float64)
    if isinstance(alpha, str):
        if alpha != "jsd":
            raise ValueError(f"alpha must be a number or 'jsd', got {alpha!r}")
        with np.errstate(invalid="ignore", divide="ignore"):
            gamma = -np.gradient(np.log(np.abs(xi)), np.log(r))
        alpha = 1.2 - 0.65 * gamma
    return -(2.0 / 3.0) * H * a * r * f * xibar * (1.0 + alpha * xibar) / (1.0 + xi)


def stable_clustering_v12(r, a: float, H: float):
    """``<Delta u_L> = -H a r`` [km/s] for comoving r [Mpc/h] (pairs at fixed physical separation)."""
    return -H * a * np.asarray(r, dtype=np.float64)


def fit_power_law(r, y, rmin=None, rmax=None, weights=None) -> tuple[float, float]:
    """Least-squares fit ``y = A r^p`` in log-log over rmin <= r <= rmax: returns (p, A)."""
    r = np.asarray(r, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    sel = np.isfinite(y) & (y > 0) & (r > 0)
    if rmin is not None:
        sel &= r >= rmin
    if rmax is not None:
        sel &= r <= rmax
    if sel.sum() < 2:
        raise ValueError("need at least two positive points in [rmin, rmax] to fit a power law")
    w = None if weights is None else np.asarray(weights, dtype=np.float64)[sel]
    p, lnA = np.polyfit(np.log(r[sel]), np.log(y[sel]), 1, w=w)
    return float(p), float(np.exp(lnA))


def two_thirds_law(r, m2, a: float, h: float, rmin=None, rmax=None, beta2: float = 1.0) -> dict:
    """Fit ``<(Delta u_L)^2> = beta2 (-epsilon_u a r)^{2/3}`` on small scales.

    Returns the free log-log slope (2/3 expected), the amplitude ``A`` of ``m2 = A r^{2/3}``
    [(km/s)^2 (Mpc/h)^{-2/3}] and ``epsilon_u`` [m^2/s^3] for the constant ``beta2``
    (``epsilon_u = -(A / beta2)^{3/2} / (a / h Mpc)``).
    """
    r = np.asarray(r, dtype=np.float64)
    m2 = np.asarray(m2, dtype=np.float64)
    slope, _ = fit_power_law(r, m2, rmin, rmax)
    sel = np.isfinite(m2) & (m2 > 0)
    if rmin is not None:
        sel &= r >= rmin
    if rmax is not None:
        sel &= r <= rmax
    A = float(np.exp(np.mean(np.log(m2[sel] / r[sel] ** (2.0 / 3.0)))))
    eps_kms3_per_mpch = -(A / beta2) ** 1.5 / a  # (km/s)^3 per physical Mpc/h
    eps = eps_kms3_per_mpch * 1e9 / (MPC_M / h)
    return {"slope": slope, "amplitude": A, "epsilon_u": eps, "beta2": beta2}


def odd_moment_ratio(stats, n: int = 1, quantity: str = "du_L") -> np.ndarray:
    """``<q^{2n+1}> / ((2n+1) <q^{2n}> <q>)``: 1 where Xu's odd-moment relation holds."""
    return stats.moment(quantity, 2 * n + 1) / ((2 * n + 1) * stats.moment(quantity, 2 * n) * stats.mean(quantity))
