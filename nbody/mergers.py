"""Black-hole merger remnants: final mass, spin and gravitational-wave recoil from numerical-relativity fits.

* radiated energy, hence the remnant mass: the fit of Barausse, Morozova & Rezzolla (2012,
  ApJ 758, 63)::

      E_rad / M = (1 - E_ISCO(a)) nu + 4 nu^2 [4 p0 + 16 p1 a (a + 1) + E_ISCO(a) - 1],
      p0 = 0.04827, p1 = 0.01707,

  with E_ISCO the specific ISCO energy of a Kerr BH of spin a (Bardeen, Press &
  Teukolsky 1972) and a the orbit-projected spin combination below;
* final spin: Rezzolla et al. (2008, ApJ 684, L29), formula for generic spin
  orientations, with s4 = -0.1229, s5 = 0.4537, t0 = -2.8904, t2 = -3.5171,
  t3 = 2.5763 (q = m2/m1 <= 1, nu symmetric mass ratio);
* recoil: Campanelli et al. (2007, ApJ 659, L5) with the
  hang-up corrections of Lousto & Zlochower (2013, PRD 87, 084027) as used by
  Zlochower & Lousto (2015, PRD 92, 024022):
  v_m = A nu^2 sqrt(1 - 4 nu) (1 + B nu), A = 1.2e4 km/s, B = -0.93;
  v_perp = H nu^2 / (1 + q) (chi2_par - q chi1_par), H = 6.9e3 km/s, xi = 145 deg;
  v_par = 16 nu^2 / (1 + q) [V11 + VA S_par + VB S_par^2 + VC S_par^3]
  |chi2_perp - q chi1_perp| cos(phi), V11 = 3677.76, VA = 2481.21, VB = 1792.45,
  VC = 1506.52 km/s, S_par = 2 (chi1_par + q^2 chi2_par)/(1 + q)^2, phi the angle
  of the in-plane spin difference to the separation vector at merger.

All masses in code units, spins dimensionless; velocities returned in code
units through the speed of light ``c`` (code units).
"""
from __future__ import annotations

import math

import numpy as np

from .units import C_KMS


def isco_radius(a: float) -> float:
    """Prograde ISCO radius / M of a Kerr BH, spin a in [-1, 1] (Bardeen, Press & Teukolsky 1972 eq. 2.21)."""
    z1 = 1 + (1 - a * a) ** (1 / 3) * ((1 + a) ** (1 / 3) + (1 - a) ** (1 / 3))
    z2 = math.sqrt(3 * a * a + z1 * z1)
    return 3 + z2 - math.copysign(math.sqrt((3 - z1) * (3 + z1 + 2 * z2)), a)


def isco_energy(a: float) -> float:
    """Specific energy at the ISCO, E = sqrt(1 - 2/(3 r_isco)) (Bardeen et al. 1972)."""
    return math.sqrt(1 - 2 / (3 * isco_radius(a)))


def _frame(L_hat, sep):
    """Orthonormal frame (e1, e2, ez): ez along L, e1 along the separation projected on the orbital plane."""
    ez = L_hat / np.linalg.norm(L_hat)
    e1 = sep - np.dot(sep, ez) * ez
    if np.linalg.norm(e1) == 0:
        e1 = np.cross(ez, [1.0, 0, 0]) if abs(ez[0]) < 0.9 else np.cross(ez, [0, 1.0, 0])
    e1 = e1 / np.linalg.norm(e1)
    e2 = np.cross(ez, e1)
    return e1, e2, ez


def remnant(m1, m2, chi1, chi2, x1, x2, v1, v2, c) -> dict:
    """Remnant of merging BHs 1 and 2: {'mass', 'chi' (vector), 'recoil' (velocity vector, code units), 'e_rad'}.

    The orbital angular momentum direction is taken from the relative orbit
    (x1 - x2) x (v1 - v2). Labels are swapped internally so that m1 >= m2.
    """
    m1, m2 = float(m1), float(m2)
    if m1 <= 0 or m2 <= 0:
        raise ValueError(f"merging masses must be positive, got {m1}, {m2}")
    chi1, chi2 = np.asarray(chi1, float), np.asarray(chi2, float)
    x1, x2, v1, v2 = (np.asarray(a, float) for a in (x1, x2, v1, v2))
    if m2 > m1:
        m1, m2, chi1, chi2, x1, x2, v1, v2 = m2, m1, chi2, chi1, x2, x1, v2, v1
    M = m1 + m2
    q = m2 / m1
    nu = m1 * m2 / M**2
    sep = x1 - x2
    L = np.cross(sep, v1 - v2)
    if np.linalg.norm(L) == 0:
        L = np.array([0.0, 0.0, 1.0])
    e1, e2, ez = _frame(L, sep)
    c1p, c2p = float(np.dot(chi1, ez)), float(np.dot(chi2, ez))
    # --- final spin, Rezzolla et al. 2008 (generic orientations)
    s4, s5, t0, t2, t3 = -0.1229, 0.4537, -2.8904, -3.5171, 2.5763
    a1, a2 = float(np.linalg.norm(chi1)), float(np.linalg.norm(chi2))
    cos_a = float(np.dot(chi1, chi2) / (a1 * a2)) if a1 > 0 and a2 > 0 else 1.0
    cos_b = c1p / a1 if a1 > 0 else 1.0
    cos_g = c2p / a2 if a2 > 0 else 1.0
    ss = a1 * a1 + a2 * a2 * q**4 + 2 * a1 * a2 * q * q * cos_a
    ell = (s4 / (1 + q * q) ** 2 * ss + (s5 * nu + t0 + 2) / (1 + q * q) * (a1 * cos_b + a2 * q * q * cos_g)
           + 2 * math.sqrt(3) + t2 * nu + t3 * nu * nu)
    af2 = (ss + 2 * (a1 * cos_b + a2 * q * q * cos_g) * ell * q + ell * ell * q * q) / (1 + q) ** 4
    af = math.sqrt(max(af2, 0.0))
    # vector form of the same fit: a_f = (chi1 + q^2 chi2 + q ell L_hat) / (1 + q)^2, |a_f| = af
    chi_f = (chi1 + q * q * chi2 + q * ell * ez) / (1 + q) ** 2
    # --- radiated energy, Barausse et al. 2012; a = orbit-projected spin of Rezzolla's aligned formula
    atil = (c1p + c2p * q * q) / (1 + q) ** 2
    atil = min(max(atil, -0.999), 0.999)
    p0, p1 = 0.04827, 0.01707
    Eiso = isco_energy(atil)
    e_rad = (1 - Eiso) * nu + 4 * nu * nu * (4 * p0 + 16 * p1 * atil * (atil + 1) + Eiso - 1)
    mf = M * (1 - e_rad)
    # --- recoil (km/s), Campanelli et al. 2007 + Lousto & Zlochower 2013
    A, B, Hk, xi = 1.2e4, -0.93, 6.9e3, math.radians(145.0)
    V11, VA, VB, VC = 3677.76, 2481.21, 1792.45, 1506.52
    vm = A * nu * nu * math.sqrt(max(1 - 4 * nu, 0.0)) * (1 + B * nu)
    vperp = Hk * nu * nu / (1 + q) * (c2p - q * c1p)
    d_perp = (chi2 - c2p * ez) - q * (chi1 - c1p * ez)
    S_par = 2 * (c1p + q * q * c2p) / (1 + q) ** 2
    mag = float(np.linalg.norm(d_perp))
    cosphi = float(np.dot(d_perp, e1) / mag) if mag > 0 else 0.0
    vpar = 16 * nu * nu / (1 + q) * (V11 + VA * S_par + VB * S_par**2 + VC * S_par**3) * mag * cosphi
    kick_kms = vm * e1 + vperp * (math.cos(xi) * e1 + math.sin(xi) * e2) + vpar * ez
    kick = kick_kms / C_KMS * float(c)
    return {"mass": mf, "chi": chi_f, "recoil": kick, "e_rad": e_rad, "chi_magnitude": af,
            "kick_kms": float(np.linalg.norm(kick_kms))}
