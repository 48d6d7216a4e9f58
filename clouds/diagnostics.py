"""Droplet-spectrum diagnostics: moments, relative dispersion, LWC, effective radius, growth coefficient.

All functions take radii r [m] and optional weights n (multiplicities or number concentrations).
Definitions (Liu & Daum 2002/2004; Bhowmik et al., arXiv:2303.00987):

* mean radius r_mean = sum n r / sum n, standard deviation sigma_r = sqrt(<r^2> - <r>^2);
* relative dispersion epsilon = sigma_r / r_mean;
* liquid water content LWC = (4/3) pi rho_w sum n r^3 (per the volume or mass unit of n);
* effective radius r_e = sum n r^3 / sum n r^2 (Hansen & Travis 1974);
* mean growth-rate coefficient <G/r> in cm/s (see :mod:`clouds.growth`).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import growth
from . import thermo as th


def _prep(r, n):
    r = np.asarray(r, float).ravel()
    n = np.ones_like(r) if n is None else np.broadcast_to(np.asarray(n, float), r.shape).ravel()
    if np.any(n < 0):
        raise ValueError("weights n (number concentrations) must be >= 0")
    if np.any(r < 0):
        raise ValueError("radii r must be >= 0")
    return r, n


def dispersion_stats(r, n=None):
    """(r_mean, sigma_r) of the spectrum: sum n r / sum n and sqrt(sum n (r - r_mean)^2 / sum n)."""
    r, n = _prep(r, n)
    m = np.sum(n * r) / np.sum(n)
    return float(m), float(np.sqrt(max(np.sum(n * (r - m) ** 2) / np.sum(n), 0.0)))


def mean_radius(r, n=None):
    """r_mean (see :func:`dispersion_stats`)."""
    return dispersion_stats(r, n)[0]


def std_radius(r, n=None):
    """sigma_r (see :func:`dispersion_stats`)."""
    return dispersion_stats(r, n)[1]


def relative_dispersion(r, n=None):
    """epsilon = sigma_r / r_mean."""
    mean, sd = dispersion_stats(r, n)
    return sd / mean


def number_concentration(n, volume=1.0):
    """Total number divided by the volume (or mass) it occupies."""
    if volume <= 0:
        raise ValueError("volume must be > 0")
    return float(np.sum(np.asarray(n, float)) / volume)


def liquid_water(r, n=None, r_dry=0.0):
    """(4/3) pi rho_w sum n (r^3 - r_dry^3): kg per unit of n (LWC if n is per m^3)."""
    r, n = _prep(r, n)
    rd = np.broadcast_to(np.asarray(r_dry, float), r.shape)
    return float((4.0 / 3.0) * np.pi * th.RHO_W * np.sum(n * (r ** 3 - rd ** 3)))


def effective_radius(r, n=None):
    """r_e = <r^3> / <r^2> (Hansen & Travis 1974)."""
    r, n = _prep(r, n)
    return float(np.sum(n * r ** 3) / np.sum(n * r ** 2))


def growth_coefficient(r, T, p, n=None):
    """Mean diffusional growth-rate coefficient <G/r> in cm/s over droplets with r > 0."""
    r, n = _prep(r, n)
    keep = r > 0
    return growth.mean_growth_coefficient(r[keep], T, p, n[keep])


def size_distribution(r, n=None, bins=40, r_range=None):
    """Histogram (edges [m], number per bin) of the droplet spectrum."""
    r, n = _prep(r, n)
    return_edges = np.histogram_bin_edges(r, bins=bins, range=r_range)
    counts, _ = np.histogram(r, bins=return_edges, weights=n)
    return return_edges, counts


class LinearFit(NamedTuple):
    """Result of :func:`linear_fit`: intercept, slope, their standard errors, correlation coefficient."""
    a: float
    b: float
    se_a: float
    se_b: float
    r: float


def linear_fit(x, y) -> LinearFit:
    """Ordinary least squares y = a + b x with standard errors: (a, b, se_a, se_b, r_correlation).

    se from the residual variance s^2 = sum(res^2) / (n - 2): se_b = s / sqrt(Sxx),
    se_a = s sqrt(1/n + xbar^2 / Sxx) (e.g. Press et al., Numerical Recipes, 3rd ed., sec. 15.2).
    Needs at least three points.
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    if x.size < 3 or x.shape != y.shape:
        raise ValueError("linear_fit needs at least three (x, y) points of equal shape")
    xb, yb = x.mean(), y.mean()
    sxx = np.sum((x - xb) ** 2)
    if not sxx > 0:
        raise ValueError("linear_fit needs at least two distinct x values")
    b = np.sum((x - xb) * (y - yb)) / sxx
    a = yb - b * xb
    s2 = np.sum((y - a - b * x) ** 2) / (x.size - 2)
    rc = float(np.corrcoef(x, y)[0, 1]) if np.ptp(y) > 0 else 0.0
    return LinearFit(float(a), float(b), float(np.sqrt(s2 * (1 / x.size + xb ** 2 / sxx))), float(np.sqrt(s2 / sxx)), rc)
