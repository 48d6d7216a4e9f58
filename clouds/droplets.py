"""Droplet populations (superdroplets) and the implicit growth integrator.

A population is a set of superdroplets, each with wet radius ``r`` [m], dry (CCN) radius
``r_dry`` [m], hygroscopicity ``kappa`` and multiplicity ``n`` (the number of real droplets it
stands for; per kg of dry air in the parcel model, per superdroplet in the DNS). Samplers build
populations from lognormal or gamma spectra and from binned (observed) spectra; :func:`grow`
advances radii with the unconditionally stable backward-Euler scheme of
:func:`clouds._kernels.droplets.implicit_radius`.

Droplet inertia (Stokes drag: response time, terminal velocity) is in :mod:`clouds.drag`.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from . import growth, koehler
from . import thermo as th
from ._kernels import droplets as K


@dataclasses.dataclass
class Population:
    """Superdroplet arrays (all float64, SI)."""

    r: np.ndarray
    r_dry: np.ndarray
    kappa: np.ndarray
    n: np.ndarray

    def __post_init__(self):
        self.r = np.ascontiguousarray(self.r, dtype=np.float64)
        m = self.r.shape[0]
        self.r_dry = np.ascontiguousarray(np.broadcast_to(np.asarray(self.r_dry, float), (m,)), dtype=np.float64)
        self.kappa = np.ascontiguousarray(np.broadcast_to(np.asarray(self.kappa, float), (m,)), dtype=np.float64)
        self.n = np.ascontiguousarray(np.broadcast_to(np.asarray(self.n, float), (m,)), dtype=np.float64)
        validate(self.r, self.r_dry, self.kappa, self.n)

    def __len__(self):
        return self.r.shape[0]

    def subset(self, lo, hi):
        return Population(self.r[lo:hi].copy(), self.r_dry[lo:hi].copy(), self.kappa[lo:hi].copy(), self.n[lo:hi].copy())

    def liquid_mass(self):
        """Sum of n (4/3) pi rho_w (r^3 - r_dry^3) [kg per unit of n]."""
        return float(np.sum(self.n * (4.0 / 3.0) * np.pi * th.RHO_W * (self.r ** 3 - self.r_dry ** 3)))


def validate(r, r_dry, kappa, n):
    """Raise ValueError naming the bad field (negative counts, radius below the dry radius ...)."""
    if r.ndim != 1:
        raise ValueError("radius r must be a 1-D array")
    if not np.all(np.isfinite(r)) or np.any(r < 0):
        raise ValueError("radius r must be finite and >= 0 m")
    if np.any(r_dry < 0):
        raise ValueError("dry radius r_dry must be >= 0 m")
    if np.any(r < r_dry):
        raise ValueError("radius r must be >= the dry radius r_dry (got r < r_dry)")
    if np.any(kappa < 0) or np.any(kappa > 1.5):
        raise ValueError("hygroscopicity kappa must be in [0, 1.5]")
    if not np.all(np.isfinite(n)) or np.any(n < 0):
        raise ValueError("multiplicity / number concentration n must be finite and >= 0")


def grow(r, S, T, p, dt, r_dry=0.0, kappa=0.0, curvature=True, G=None):
    """Radii after one implicit growth step of length dt [s] at supersaturation S.

    ``S`` may be a scalar or per-droplet array; ``G`` [m^2/s] overrides the Mason G(T, p).
    ``curvature=False`` drops the Kelvin term (A = 0). Returns a new array.
    """
    if dt <= 0:
        raise ValueError(f"time step dt must be > 0 s, got {dt}")
    r = np.ascontiguousarray(np.atleast_1d(r), dtype=np.float64)
    m = r.shape[0]
    rd = np.ascontiguousarray(np.broadcast_to(np.asarray(r_dry, float), (m,)))
    ka = np.ascontiguousarray(np.broadcast_to(np.asarray(kappa, float), (m,)))
    validate(r, rd, ka, np.ones(m))
    Gv = float(growth.growth_parameter(T, p)) if G is None else float(G)
    if Gv <= 0:
        raise ValueError("growth parameter G must be > 0")
    A = float(koehler.curvature_A(T)) if curvature else 0.0
    Sv = np.ascontiguousarray(np.broadcast_to(np.asarray(S, float), (m,)))
    if np.any(Sv <= -1):
        raise ValueError("supersaturation S must be > -1")
    out = np.empty_like(r)
    K.grow_local(r, rd, ka, Sv, np.full(m, Gv), np.full(m, A), float(dt), out)
    return out


# ----------------------------------------------------------------------------- samplers

def equilibrium_radii(S, r_dry, kappa, T, iters=200):
    """Vectorised stable Köhler equilibrium wet radii at S (bisection in log r on (r_d, r_c)).

    Where S exceeds the particle's critical supersaturation the critical radius is returned.
    """
    r_dry = np.asarray(r_dry, float)
    kappa = np.broadcast_to(np.asarray(kappa, float), r_dry.shape)
    if np.any(r_dry <= 0) or np.any(kappa <= 0):
        raise ValueError("equilibrium_radii needs r_dry > 0 and kappa > 0")
    A = float(koehler.curvature_A(T))
    rc = np.sqrt(3.0 * kappa * r_dry ** 3 / A)
    lo = np.log(r_dry) + 1e-12
    hi = np.log(np.maximum(rc, r_dry * 1.001))
    rd3 = r_dry ** 3

    def seq(lr):
        r = np.exp(lr)
        return (r ** 3 - rd3) / (r ** 3 - rd3 * (1 - kappa)) * np.exp(A / r) - 1.0

    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        below = seq(mid) < S
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
        if np.all(hi - lo < 1e-13):
            break
    return np.exp(0.5 * (lo + hi))


def lognormal(N, r_median, sigma_g, n_sd, r_min_factor=1e-2, r_max_factor=1e2):
    """Radii and multiplicities of a lognormal number spectrum on n_sd log-uniform superdroplets.

    dN/dln r = N / (sqrt(2 pi) ln sigma_g) exp(-ln^2(r/r_median) / (2 ln^2 sigma_g)); each
    superdroplet holds the number in its log bin (midpoint quadrature, deterministic).
    Returns (r, n) with sum(n) ~ N (normalised exactly to N).
    """
    if N <= 0:
        raise ValueError(f"number concentration N must be > 0, got {N}")
    if r_median <= 0:
        raise ValueError("median radius r_median must be > 0")
    if sigma_g <= 1:
        raise ValueError("geometric standard deviation sigma_g must be > 1")
    if n_sd < 1:
        raise ValueError("number of superdroplets n_sd must be >= 1")
    ls = np.log(sigma_g)
    edges = np.linspace(np.log(r_median) - 5 * ls, np.log(r_median) + 5 * ls, n_sd + 1)
    mids = 0.5 * (edges[1:] + edges[:-1])
    pdf = np.exp(-((mids - np.log(r_median)) ** 2) / (2 * ls ** 2))
    n = pdf / pdf.sum() * N
    return np.exp(mids), n


def gamma(N, r_mean, shape, n_sd):
    """Gamma number spectrum n(r) ~ r^(shape-1) exp(-shape r / r_mean) on n_sd superdroplets.

    Relative dispersion of the spectrum is 1/sqrt(shape). Returns (r, n), sum(n) = N.
    """
    if N <= 0:
        raise ValueError(f"number concentration N must be > 0, got {N}")
    if r_mean <= 0 or shape <= 0 or n_sd < 1:
        raise ValueError("gamma spectrum needs r_mean > 0, shape > 0 and n_sd >= 1")
    from scipy import stats

    dist = stats.gamma(a=shape, scale=r_mean / shape)
    q = (np.arange(n_sd) + 0.5) / n_sd
    r = dist.ppf(q)
    return r, np.full(n_sd, N / n_sd)


def from_histogram(edges, counts, n_per_bin=1):
    """Superdroplets from a binned spectrum: bin edges [m] and counts (number per volume or mass).

    Each bin gives ``n_per_bin`` superdroplets spread uniformly in radius across the bin.
    """
    edges = np.asarray(edges, float)
    counts = np.asarray(counts, float)
    if edges.ndim != 1 or edges.size != counts.size + 1:
        raise ValueError("edges must have one more entry than counts")
    if np.any(np.diff(edges) <= 0) or edges[0] < 0:
        raise ValueError("bin edges must be >= 0 and increasing")
    if np.any(counts < 0):
        raise ValueError("counts must be >= 0 (negative number concentration)")
    k = int(n_per_bin)
    frac = (np.arange(k) + 0.5) / k
    r = (edges[:-1, None] + np.diff(edges)[:, None] * frac[None, :]).ravel()
    n = np.repeat(counts / k, k)
    keep = n > 0
    return r[keep], n[keep]
