"""GADGET's cubic-spline gravitational softening.

The mass of a particle is smeared with the cubic-spline kernel W(r, h) of
Monaghan & Lattanzio (1985) as written in Springel (2005, MNRAS 364, 1105, eq. 4),
with support radius h = 2.8 eps, where eps is the Plummer-equivalent softening
(the softened potential at r = 0 equals -G m / eps, as for a Plummer sphere of
scale eps). Solving Poisson's equation for that density gives, with u = r/h,
(the expressions coded in GADGET-2's forcetree.c; Springel, Yoshida & White
2001, New Astron. 6, 79, sec. 2.3):

potential  phi = -G m g(r),  acceleration  a = -G m f(r) r_vec::

    0 <= u < 1/2 :  g = (14/5 - 16/3 u^2 + 48/5 u^4 - 32/5 u^5) / h
                    f = (32/3 - 192/5 u^2 + 32 u^3) / h^3
    1/2 <= u < 1 :  g = (16/5 - 1/(15 u) - 32/3 u^2 + 16 u^3 - 48/5 u^4 + 32/15 u^5) / h
                    f = (64/3 - 48 u + 192/5 u^2 - 32/3 u^3 - 1/(15 u^3)) / h^3
    u >= 1       :  g = 1/r,  f = 1/r^3   (exactly Newtonian)

so for r >= h = 2.8 eps gravity is exactly Newtonian; this is why a KETJU
region radius must be at least 2.8 eps (Rantala et al. 2017, ApJ 840, 53, sec. 3).
"""
from __future__ import annotations

import numpy as np

#: ratio of the spline support radius to the Plummer-equivalent softening
SPLINE_H_OVER_EPS = 2.8


def spline_radius(eps):
    """Support radius h = 2.8 eps of the spline for Plummer-equivalent softening ``eps``."""
    eps = np.asarray(eps, dtype=np.float64)
    if np.any(eps < 0) or not np.all(np.isfinite(eps)):
        raise ValueError(f"softening eps must be finite and >= 0, got {eps}")
    return SPLINE_H_OVER_EPS * eps


def _u(r, h):
    r = np.asarray(r, dtype=np.float64)
    h = np.broadcast_to(np.asarray(h, dtype=np.float64), r.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.where(h > 0, r / np.where(h > 0, h, 1.0), np.inf)
    return r, h, u


def potential_kernel(r, eps):
    """g(r) with phi = -G m g(r) for a particle of softening ``eps`` (g(0) = 1/eps)."""
    r, h, u = _u(r, spline_radius(eps))
    hs = np.where(h > 0, h, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        inner = (14 / 5 - 16 / 3 * u**2 + 48 / 5 * u**4 - 32 / 5 * u**5) / hs
        outer = (16 / 5 - 1 / (15 * u) - 32 / 3 * u**2 + 16 * u**3 - 48 / 5 * u**4 + 32 / 15 * u**5) / hs
        newton = 1.0 / r
    return np.where(u < 0.5, inner, np.where(u < 1.0, outer, newton))


def force_kernel(r, eps):
    """f(r) with a = -G m f(r) r_vec (f = 1/r^3 beyond 2.8 eps)."""
    r, h, u = _u(r, spline_radius(eps))
    hs = np.where(h > 0, h, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        inner = (32 / 3 - 192 / 5 * u**2 + 32 * u**3) / hs**3
        outer = (64 / 3 - 48 * u + 192 / 5 * u**2 - 32 / 3 * u**3 - 1 / (15 * u**3)) / hs**3
        newton = 1.0 / r**3
    return np.where(u < 0.5, inner, np.where(u < 1.0, outer, newton))


def density_kernel(r, eps):
    """The smoothing kernel W(r, h) (Springel 2005, eq. 4), normalised to unit integral."""
    r, h, u = _u(r, spline_radius(eps))
    hs = np.where(h > 0, h, 1.0)
    w = np.where(u < 0.5, 1 - 6 * u**2 + 6 * u**3, np.where(u < 1.0, 2 * (1 - u) ** 3, 0.0))
    return 8.0 / (np.pi * hs**3) * w
