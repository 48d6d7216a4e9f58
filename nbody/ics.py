"""Initial conditions: isotropic spherical galaxies with central SMBHs, and galaxy-merger setups.

Models (G = 1 internal units, total mass M, scale radius a):

* Dehnen (1993, MNRAS 265, 250) gamma-models, eqs. (1)-(3):
  rho = (3-gamma) M a / (4 pi r^gamma (r+a)^(4-gamma)),  M(r) = M (r/(r+a))^(3-gamma),
  Phi = -G M / ((2-gamma) a) [1 - (r/(r+a))^(2-gamma)]  (gamma != 2), G M/a ln(r/(r+a)) (gamma = 2);
  gamma = 1 is the Hernquist (1990, ApJ 356, 359) model.
* Plummer (1911): rho = 3 M / (4 pi a^3) (1 + r^2/a^2)^(-5/2), Phi = -G M / sqrt(r^2 + a^2).

Velocities are drawn from the isotropic distribution function given by
Eddington's formula (Binney & Tremaine 2008, eq. 4.46b),

    f(E) = 1/(sqrt(8) pi^2) d/dE  int_0^E  (d rho/d Psi) dPsi / sqrt(E - Psi),

with Psi = -Phi the relative potential and E = Psi - v^2/2, evaluated
numerically for the stellar density in the *total* potential (stars plus a
central SMBH of mass ``m_bh``), so the cusp is in equilibrium around the black
hole (Tremaine et al. 1994, AJ 107, 634). Radii are drawn by inverting M(r);
speeds by rejection from p(v) ~ v^2 f(Psi(r) - v^2/2).
"""
from __future__ import annotations

import numpy as np

from .particles import PTYPE_BH, PTYPE_DM, PTYPE_STAR, Particles


def combine(parts) -> Particles:
    """Galaxies ``parts`` in one set with fresh GADGET IDs 1..N (uint64)."""
    p = Particles.concatenate(parts)
    p.ids = np.arange(1, len(p) + 1, dtype=np.uint64)
    return p


# ------------------------------------------------------------------------------------------------
# density models
# ------------------------------------------------------------------------------------------------
class DehnenModel:
    """Dehnen (1993) gamma-model: rho, enclosed mass, potential and its inverse mass profile."""

    def __init__(self, gamma=1.0, mass=1.0, a=1.0, G=1.0):
        if not (0.0 <= gamma < 3.0):
            raise ValueError(f"gamma must be in [0, 3), got {gamma}")
        if not mass > 0 or not a > 0:
            raise ValueError(f"mass and scale radius a must be > 0, got mass={mass}, a={a}")
        self.gamma, self.M, self.a, self.G = float(gamma), float(mass), float(a), float(G)

    def density(self, r):
        g, a = self.gamma, self.a
        return (3 - g) * self.M * a / (4 * np.pi * r**g * (r + a) ** (4 - g))

    def dlnrho_dlnr(self, r):
        return -self.gamma - (4 - self.gamma) * r / (r + self.a)

    def enclosed_mass(self, r):
        return self.M * (r / (r + self.a)) ** (3 - self.gamma)

    def radius_of_mass(self, x):
        """r with M(r)/M = x."""
        y = np.asarray(x, dtype=np.float64) ** (1.0 / (3 - self.gamma))
        return self.a * y / (1 - y)

    def potential(self, r):
        g, a = self.gamma, self.a
        if g == 2.0:
            return self.G * self.M / a * np.log(r / (r + a))
        return -self.G * self.M / ((2 - g) * a) * (1 - (r / (r + a)) ** (2 - g))


class HernquistModel(DehnenModel):
    """Hernquist (1990) model = Dehnen gamma = 1: rho = M a / (2 pi r (r+a)^3)."""

    def __init__(self, mass=1.0, a=1.0, G=1.0):
        super().__init__(1.0, mass, a, G)


class PlummerModel:
    """Plummer sphere: rho = 3M/(4 pi a^3) (1 + r^2/a^2)^(-5/2)."""

    gamma = 0.0

    def __init__(self, mass=1.0, a=1.0, G=1.0):
        if not mass > 0 or not a > 0:
            raise ValueError(f"mass and scale radius a must be > 0, got mass={mass}, a={a}")
        self.M, self.a, self.G = float(mass), float(a), float(G)

    def density(self, r):
        return 3 * self.M / (4 * np.pi * self.a**3) * (1 + (r / self.a) ** 2) ** -2.5

    def dlnrho_dlnr(self, r):
        x2 = (r / self.a) ** 2
        return -5 * x2 / (1 + x2)

    def enclosed_mass(self, r):
        x = r / self.a
        return self.M * x**3 / (1 + x**2) ** 1.5

    def radius_of_mass(self, x):
        x = np.asarray(x, dtype=np.float64)
        return self.a / np.sqrt(x ** (-2.0 / 3.0) - 1)

    def potential(self, r):
        return -self.G * self.M / np.sqrt(r**2 + self.a**2)

    def velocity_dispersion(self, r):
        """1D isotropic dispersion sigma^2 = G M / (6 sqrt(r^2 + a^2)) (Plummer; Dejonghe 1987)."""
        return np.sqrt(self.G * self.M / (6 * np.sqrt(r**2 + self.a**2)))


MODELS = {"hernquist": HernquistModel, "dehnen": DehnenModel, "plummer": PlummerModel}


def make_model(profile: str, mass=1.0, a=1.0, gamma=1.0, G=1.0):
    profile = profile.lower()
    if profile not in MODELS:
        raise ValueError(f"profile must be one of {sorted(MODELS)}, got {profile!r}")
    if profile == "dehnen":
        return DehnenModel(gamma, mass, a, G)
    return MODELS[profile](mass, a, G)


# ------------------------------------------------------------------------------------------------
# Eddington inversion
# ------------------------------------------------------------------------------------------------
class EddingtonDF:
    """Isotropic f(E) of ``model``'s density in the potential of the model plus a point mass ``m_bh``.

    Tabulated on a log grid of r in [rmin, rmax] (in units of a); f is interpolated in log-log.
    """

    def __init__(self, model, m_bh=0.0, rmin=1e-5, rmax=1e5, npts=1200):
        self.model, self.m_bh = model, float(m_bh)
        a = model.a
        r = a * np.logspace(np.log10(rmin), np.log10(rmax), npts)
        self.r = r
        self.psi_r = self.psi(r)
        rho = model.density(r)
        dpsi_dr = -(model.G * (model.enclosed_mass(r) + self.m_bh)) / r**2
        drho_dpsi = rho * model.dlnrho_dlnr(r) / r / dpsi_dr  # > 0
        # F(E) = int_0^E drho/dPsi dPsi / sqrt(E - Psi) with Psi = E - t^2:  F = 2 int_0^sqrt(E) rho'(E - t^2) dt
        psi_inc = self.psi_r[::-1]
        lg_psi = np.log(psi_inc)
        lg_drho = np.log(np.maximum(drho_dpsi[::-1], 1e-300))

        def drho_at(p):
            return np.exp(np.interp(np.log(np.maximum(p, 1e-300)), lg_psi, lg_drho, left=-np.inf, right=lg_drho[-1]))

        E = psi_inc
        # Gauss-Legendre in t on [0, sqrt(E)] with a substitution clustering points near t = sqrt(E) (Psi -> 0)
        xg, wg = np.polynomial.legendre.leggauss(200)
        s = 0.5 * (xg + 1)
        ws = 0.5 * wg
        # t = sqrt(E) * (1 - (1-s)^2)  => dt = 2 sqrt(E) (1-s) ds
        sq = np.sqrt(E)[:, None]
        t = sq * (1 - (1 - s) ** 2)
        F = 2 * np.sum(drho_at(E[:, None] - t**2) * 2 * sq * (1 - s) * ws, axis=1)
        # f = 1/(sqrt 8 pi^2) dF/dE, differentiated in log space: dF/dE = F/E dlnF/dlnE
        lnF = np.log(np.maximum(F, 1e-300))
        dlnF = np.gradient(lnF, np.log(E))
        f = F / E * dlnF / (np.sqrt(8) * np.pi**2)
        good = f > 0
        if good.sum() < 10:
            raise ValueError("Eddington inversion gave no positive f(E): model not consistent with this BH mass")
        self.E = E[good]
        self.lnE = np.log(self.E)
        self.lnf = np.log(f[good])

    def psi(self, r):
        return -self.model.potential(r) + self.model.G * self.m_bh / r

    def f(self, E):
        E = np.asarray(E, dtype=np.float64)
        out = np.exp(np.interp(np.log(np.maximum(E, 1e-300)), self.lnE, self.lnf))
        return np.where(E > 0, out, 0.0)

    def sample_speeds(self, r, rng):
        """Speeds at radii r from p(v) ~ v^2 f(Psi - v^2/2), by rejection (vectorised)."""
        psi = self.psi(r)
        vesc = np.sqrt(2 * psi)
        q = np.linspace(0, 1, 65)[1:-1]
        # envelope: max over a q grid, times a safety factor
        pq = q[None, :] ** 2 * self.f(psi[:, None] * (1 - q[None, :] ** 2))
        env = 1.2 * pq.max(axis=1)
        v = np.empty(len(r))
        todo = np.arange(len(r))
        for _ in range(200):
            if len(todo) == 0:
                break
            qq = rng.random(len(todo))
            y = rng.random(len(todo)) * env[todo]
            p = qq**2 * self.f(psi[todo] * (1 - qq**2))
            ok = y < p
            v[todo[ok]] = qq[ok] * vesc[todo[ok]]
            todo = todo[~ok]
        if len(todo):
            raise RuntimeError("velocity rejection sampling did not converge")
        return v


def _isotropic(n, rng):
    u = rng.normal(size=(n, 3))
    return u / np.linalg.norm(u, axis=1)[:, None]


def spherical_galaxy(n, profile="hernquist", mass=1.0, a=1.0, gamma=1.0, m_bh=0.0, n_bh=None,
                     r_max=100.0, ptype=PTYPE_STAR, G=1.0, seed=None, rng=None) -> Particles:
    """An isotropic spherical galaxy of ``n`` particles, with a central SMBH of mass ``m_bh`` if > 0.

    Parameters
    ----------
    profile : "hernquist", "dehnen" (with ``gamma`` in [0, 3)) or "plummer"
    mass, a : stellar mass and scale radius (internal units)
    m_bh : SMBH mass (0: none); the stellar velocities are in equilibrium in stars + SMBH
    r_max : truncation radius in units of a; particle masses are M(<r_max)/n so the mass inside
        r_max, and hence the force field there, is that of the model
    ptype : 4 (stars, default) or 1 (dark matter)

    Returns
    -------
    Particles
        Centred on the model centre with zero total momentum, the SMBH last.
    """
    if not (isinstance(n, (int, np.integer)) and n >= 1):
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    if m_bh < 0:
        raise ValueError(f"m_bh must be >= 0, got {m_bh}")
    if not r_max > 0:
        raise ValueError(f"r_max must be > 0, got {r_max}")
    if ptype not in (PTYPE_DM, PTYPE_STAR):
        raise ValueError(f"ptype must be 1 (dark matter) or 4 (stars), got {ptype}")
    rng = rng if rng is not None else np.random.default_rng(seed)
    model = make_model(profile, mass, a, gamma, G)
    df = EddingtonDF(model, m_bh)
    xmax = model.enclosed_mass(r_max * a) / model.M
    x = rng.random(n) * xmax
    x = np.clip(x, 1e-12, None)
    r = model.radius_of_mass(x)
    v = df.sample_speeds(r, rng)
    pos = r[:, None] * _isotropic(n, rng)
    vel = v[:, None] * _isotropic(n, rng)
    m = np.full(n, model.M * xmax / n)
    types = np.full(n, ptype)
    if m_bh > 0:
        pos = np.vstack([pos, np.zeros((1, 3))])
        vel = np.vstack([vel, np.zeros((1, 3))])
        m = np.append(m, m_bh)
        types = np.append(types, PTYPE_BH)
    p = Particles.from_arrays(m, pos, vel, types, ids=np.arange(1, len(m) + 1, dtype=np.uint64))
    # zero net momentum; positions stay centred on the model centre (where the SMBH sits): recentring
    # on the sampled centre of mass would shift the cusp by the noise of the far-out particles
    # (mass-weighted mean by a matrix product, as these ICs have always been drawn)
    p.vel -= (p.mass @ p.vel) / p.mass.sum()
    return p


def kepler_orbit_state(m1, m2, r0, rp, e=1.0, G=1.0):
    """Relative position and velocity of two point masses at separation ``r0`` on the incoming branch
    of an orbit of eccentricity ``e`` and pericentre ``rp`` (Kepler problem: h^2 = G M rp (1+e),
    v^2 = G M (2/r - (1-e)/rp); the radial velocity follows from energy, the tangential from h).
    """
    if not rp > 0 or not r0 >= rp:
        raise ValueError(f"need 0 < rp <= r0, got rp={rp}, r0={r0}")
    if e < 0:
        raise ValueError(f"eccentricity e must be >= 0, got {e}")
    M = G * (m1 + m2)
    h = np.sqrt(M * rp * (1 + e))
    v2 = M * (2 / r0 - (1 - e) / rp)
    if e < 1 and r0 > rp * (1 + e) / (1 - e) * (1 + 1e-12):
        raise ValueError(f"r0={r0} exceeds the apocentre {rp * (1 + e) / (1 - e)} of the orbit")
    vt = h / r0
    vr = -np.sqrt(max(v2 - vt**2, 0.0))
    return np.array([r0, 0.0, 0.0]), np.array([vr, vt, 0.0])


def galaxy_merger(g1: Particles, g2: Particles, r0, rp, e=1.0, G=1.0) -> Particles:
    """Place galaxies g1 and g2 (each centred on its own centre, at rest) on a Keplerian orbit of eccentricity ``e``
    and pericentre ``rp`` (point-mass approximation), centres ``r0`` apart, total momentum zero."""
    m1, m2 = g1.mass.sum(), g2.mass.sum()
    dx, dv = kepler_orbit_state(m1, m2, r0, rp, e, G)
    f1, f2 = -m2 / (m1 + m2), m1 / (m1 + m2)
    return combine([g1.shifted(f1 * dx, f1 * dv), g2.shifted(f2 * dx, f2 * dv)])
