"""Analytic galaxy-dynamics predictions used to validate KETJU runs: dynamical friction and binary hardening.

* Chandrasekhar (1943) dynamical friction on a point mass M moving at speed v
  through an isotropic Maxwellian background of density rho and 1D dispersion
  sigma (Binney & Tremaine 2008, eq. 8.7):
      a_df = -4 pi G^2 M rho lnLambda chi(X) / v^2,  chi(X) = erf(X) - 2X/sqrt(pi) exp(-X^2),  X = v / (sqrt 2 sigma).
* Orbital decay of a circular orbit: with L = r v_c(r), dL/dt = r a_df gives
      dr/dt = -4 pi G^2 M rho lnLambda chi r / (v_c^3 (1 + dln v_c / dln r));
  for a Plummer sphere 1 + dln v_c/dln r = (1 + 3/(1 + r^2/a^2)) / 2 (REFERENCES.md).
* Coulomb logarithm lnLambda = ln(b_max / b_min), b_min = G M / v_c^2 (b_90 of a point mass), with
  b_max = min(rho / |d rho/dr|, r) (Just & Penarrubia 2005, MNRAS 361, 794; Petts, Gualandris & Read
  2015, MNRAS 454, 3778, eq. 5) or b_max = r (Hashimoto, Funato & Makino 2003, ApJ 582, 196).
* Hardening rate of a massive binary (Quinlan 1996, New Astron. 1, 35, eq. 11):
      H = (sigma / (G rho)) d(1/a)/dt,  H ~ 15-20 for a hard equal-mass binary;
  the hard-binary separation a_h = q / (1+q)^2 r_m / 4 with M_*(<r_m) = 2 M_BH (Merritt 2013, eq. 8.71).
"""
from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp
from scipy.special import erf


def chi(X):
    """erf(X) - 2X/sqrt(pi) exp(-X^2): the fraction of the Maxwellian slower than the body."""
    X = np.asarray(X, dtype=np.float64)
    return erf(X) - 2 * X / np.sqrt(np.pi) * np.exp(-X * X)


def plummer_quantities(r, M=1.0, a=1.0, G=1.0):
    """rho, d rho/dr, v_c, sigma (isotropic 1D) and 1 + dln v_c/dln r of a Plummer sphere at radius r."""
    r = np.asarray(r, dtype=np.float64)
    s = 1 + (r / a) ** 2
    rho = 3 * M / (4 * np.pi * a**3) * s**-2.5
    drho = rho * (-5 * r / a**2) / s
    vc = np.sqrt(G * M * r**2 / (r**2 + a**2) ** 1.5)
    sigma = np.sqrt(G * M / (6 * np.sqrt(r**2 + a**2)))
    beta1 = 0.5 * (1 + 3 / s)
    return rho, drho, vc, sigma, beta1


def coulomb_log(r, m_bh, rho, drho, vc, G=1.0, fixed=None, bmax="local"):
    """ln(b_max/b_min) with b_min = G m / v_c^2 (floored at 1: no negative logs) and

    * ``bmax="local"``: b_max = min(rho/|rho'|, r) (Just & Penarrubia 2005; Petts et al. 2015);
    * ``bmax="orbit"``: b_max = r, the orbital radius (Hashimoto, Funato & Makino 2003, ApJ 582, 196).
    """
    if fixed is not None:
        return float(fixed)
    if bmax not in ("local", "orbit"):
        raise ValueError(f"bmax must be 'local' or 'orbit', got {bmax!r}")
    bmax = np.minimum(rho / np.abs(drho), r) if bmax == "local" else r
    bmin = G * m_bh / vc**2
    return max(np.log(bmax / bmin), 1.0)


def plummer_sinking(r0, m_bh, t, M=1.0, a=1.0, G=1.0, lnL=None, bmax="local"):
    """r(t) of a point mass on a circular orbit sinking by dynamical friction in a Plummer sphere.

    Integrates dr/dt = -8 pi lnLambda G^2 rho chi(X) m r / (v_c^3 (1 + 3/(1 + r^2/a^2))) (see module doc).
    ``lnL`` fixes the Coulomb logarithm; by default it is :func:`coulomb_log` with ``bmax``.
    """
    def rhs(_, y):
        r = max(y[0], 1e-6 * a)
        rho, drho, vc, sigma, beta1 = plummer_quantities(r, M, a, G)
        L = coulomb_log(r, m_bh, rho, drho, vc, G, lnL, bmax)
        X = vc / (np.sqrt(2) * sigma)
        return [-4 * np.pi * G**2 * m_bh * rho * L * chi(X) * r / (vc**3 * beta1)]

    t = np.asarray(t, dtype=np.float64)
    sol = solve_ivp(rhs, (0.0, float(t.max())), [float(r0)], t_eval=t, rtol=1e-8, atol=1e-10)
    return sol.y[0]


def hardening_rate(t, a, sigma, rho, G=1.0):
    """H = sigma / (G rho) d(1/a)/dt from a least-squares slope of 1/a against t."""
    slope = np.polyfit(np.asarray(t, float), 1.0 / np.asarray(a, float), 1)[0]
    return sigma / (G * rho) * slope


def hard_binary_separation(m1, m2, r_m):
    """a_h = q/(1+q)^2 r_m / 4 (Merritt 2013), r_m: radius enclosing twice the binary mass in stars."""
    q = min(m1, m2) / max(m1, m2)
    return q / (1 + q) ** 2 * r_m / 4
