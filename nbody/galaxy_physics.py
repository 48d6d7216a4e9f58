"""Analytic galaxy-dynamics predictions used to validate KETJU runs: dynamical friction and binary hardening.

* Chandrasekhar (1943) dynamical friction on a point mass M moving at speed v
  through an isotropic Maxwellian background of density rho and 1D dispersion
  sigma (Binney & Tremaine 2008, eq. 8.7)::

      a_df = -4 pi G^2 M rho lnLambda chi(X) / v^2,  chi(X) = erf(X) - 2X/sqrt(pi) exp(-X^2),  X = v / (sqrt 2 sigma).

* Orbital decay of a circular orbit: with L = r v_c(r), dL/dt = r a_df gives::

      dr/dt = -4 pi G^2 M rho lnLambda chi r / (v_c^3 (1 + dln v_c / dln r));

  for a Plummer (1911) sphere, v_c^2 = G M r^2 / (r^2 + a^2)^(3/2) gives
  1 + dln v_c/dln r = (1 + 3/(1 + r^2/a^2)) / 2.
* Coulomb logarithm lnLambda = ln(b_max / b_min), b_min = G M / v_c^2 (b_90 of a point mass), with
  b_max = min(rho / |d rho/dr|, r) (Just & Penarrubia 2005, MNRAS 361, 794; Petts, Gualandris & Read
  2015, MNRAS 454, 3778, eq. 5) or b_max = r (Hashimoto, Funato & Makino 2003, ApJ 582, 196).
* Hardening rate of a massive binary (Quinlan 1996, New Astron. 1, 35, eq. 11)::

      H = (sigma / (G rho)) d(1/a)/dt,

  with rho and sigma the density and 1D velocity dispersion of the stellar background. In Quinlan's
  and Sesana, Haardt & Madau's (2006, ApJ 651, 392; SHM06) scattering experiments the background is an
  infinite isotropic Maxwellian, and H depends on the hardness: SHM06 fit (their Table 1)::

      H(a) = A (1 + a / (a_0 a_h^Q))^gamma,  a_h^Q = G m_2 / (4 sigma^2)  (Quinlan 1996),

  A = 14.55, a_0 = 3.48, gamma = -0.95 for q = 1 (e = 0): H rises from 11.5 at a = a_h^Q to
  12.8 at a_h^Q/2 and tends to 14.6 (Quinlan: ~16) for a << a_h^Q -- the "H ~ 15-20" of the
  literature is this asymptotic value. In an N-body galaxy the background is the binary's own
  nucleus, which the binary scours: Sesana & Khan (2015, MNRAS 454, L66) showed that N-body
  hardening matches the scattering H when rho and sigma are taken at the binary's influence radius
  r_infl (M_*(<r_infl) = 2 M_bin) *at the time of the hardening*, and N-body papers quote H with
  rho, sigma within r_infl at the time of measurement (e.g. Khan, Just & Merritt 2011, ApJ 732, 89).
  :func:`influence_quantities` gives both (inside r_infl and in a shell at r_infl),
  :func:`hardening_rate` fits 1/a against the time integral of G rho(t)/sigma(t), and
  :func:`sesana_hardening_H` the scattering prediction to compare with.
* Hard-binary separation a_h = q / (1+q)^2 r_m / 4 with M_*(<r_m) = 2 M_BH (Merritt 2013, eq. 8.71;
  = G mu / (4 sigma^2) for a singular isothermal sphere).
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
    """H = sigma / (G rho) d(1/a)/dt (Quinlan 1996 eq. 11) from a least-squares fit of 1/a.

    ``sigma`` and ``rho`` are scalars or arrays sampled at the times ``t``. With arrays the
    definition d(1/a)/dt = H G rho(t) / sigma(t) is integrated: 1/a is fitted as a straight line
    against tau(t) = int_0^t G rho / sigma dt' (trapezoidal), whose slope is H; for constant
    rho and sigma this is sigma / (G rho) times the slope of 1/a against t.
    """
    t = np.asarray(t, dtype=np.float64)
    inv_a = 1.0 / np.asarray(a, dtype=np.float64)
    if len(t) < 3:
        raise ValueError(f"hardening_rate needs at least 3 samples, got {len(t)}")
    if not np.all(np.diff(t) > 0):
        raise ValueError("t must be strictly increasing")
    if not np.all(np.isfinite(inv_a)) or np.any(inv_a <= 0):
        raise ValueError("a must be positive (a bound binary) at every sample")
    rate = G * np.broadcast_to(np.asarray(rho, dtype=np.float64), t.shape) / np.broadcast_to(
        np.asarray(sigma, dtype=np.float64), t.shape)
    if np.any(~np.isfinite(rate)) or np.any(rate <= 0):
        raise ValueError("rho and sigma must be positive")
    tau = np.concatenate([[0.0], np.cumsum(0.5 * (rate[1:] + rate[:-1]) * np.diff(t))])
    return float(np.polyfit(tau, inv_a, 1)[0])


def quinlan_hard_separation(m2, sigma, G=1.0):
    """a_h = G m_2 / (4 sigma^2) (Quinlan 1996; m_2 the lighter hole): the unit of a in SHM06's fits."""
    return G * m2 / (4.0 * np.asarray(sigma, dtype=np.float64) ** 2)


#: SHM06 Table 1, circular binaries: 1/q -> (A, a_0, gamma) of H = A (1 + a / (a_0 a_h^Q))^gamma
SHM06_H_FIT = {1: (14.55, 3.48, -0.95), 3: (15.82, 4.18, -0.90), 9: (17.17, 3.59, -0.79),
               27: (18.15, 3.32, -0.77), 243: (19.16, 4.16, -0.86)}


def sesana_hardening_H(a_over_ah, q=1.0):
    """Scattering-experiment hardening rate H(a) of a circular binary (Sesana, Haardt & Madau 2006, Table 1 fit).

    ``a_over_ah``: semi-major axis in units of a_h^Q = G m_2/(4 sigma^2) (:func:`quinlan_hard_separation`);
    ``q`` = m_2/m_1 must be one of the tabulated 1, 1/3, 1/9, 1/27, 1/243 (SHM06 Table 1).
    """
    x = np.asarray(a_over_ah, dtype=np.float64)
    if np.any(x <= 0):
        raise ValueError("a_over_ah must be positive")
    inv_q = 1.0 / float(q) if q > 0 else np.inf
    key = min(SHM06_H_FIT, key=lambda k: abs(k - inv_q))
    if not np.isclose(key, inv_q, rtol=1e-3):
        raise ValueError(f"q must be one of 1, 1/3, 1/9, 1/27, 1/243 (SHM06 Table 1), got {q}")
    A, a0, gam = SHM06_H_FIT[key]
    return A * (1.0 + x / a0) ** gam


def influence_quantities(pos, vel, mass, centre, vcentre, m_binary, shell=1.3, mass_factor=2.0):
    """Stellar density and 1D dispersion within and at the binary's influence radius.

    r_infl is the radius about ``centre`` enclosing ``mass_factor * m_binary`` in stars (2 M_bin:
    Merritt & Milosavljevic 2005, Living Rev. Rel. 8, 8). Returns a dict with ``r_infl``; ``rho_within`` = M_*(<r_infl) /
    (4/3 pi r_infl^3) and ``sigma_within`` = sqrt(<|v - vcentre|^2>/3) of the stars inside (the
    convention of N-body hardening measurements); ``rho_at`` and ``sigma_at`` from the stars in the
    shell r_infl/shell < r < shell r_infl (the "at r_infl" values of Sesana & Khan 2015).
    """
    pos = np.asarray(pos, dtype=np.float64)
    vel = np.asarray(vel, dtype=np.float64)
    mass = np.broadcast_to(np.asarray(mass, dtype=np.float64), (len(pos),))
    if not shell > 1:
        raise ValueError(f"shell must be > 1, got {shell}")
    if not m_binary > 0:
        raise ValueError(f"m_binary must be > 0, got {m_binary}")
    d = np.linalg.norm(pos - np.asarray(centre, dtype=np.float64), axis=1)
    order = np.argsort(d)
    cm = np.cumsum(mass[order])
    target = mass_factor * m_binary
    if cm[-1] < target:
        raise ValueError(f"the stars hold {cm[-1]:.4g} < {mass_factor} m_binary = {target:.4g}")
    k = int(np.searchsorted(cm, target))
    r = float(d[order[k]])
    inside = order[: k + 1]
    dv2 = np.sum((vel - np.asarray(vcentre, dtype=np.float64)) ** 2, axis=1)
    sig_in = np.sqrt(np.average(dv2[inside], weights=mass[inside]) / 3.0)
    rho_in = cm[k] / (4.0 / 3.0 * np.pi * r**3)
    sh = (d > r / shell) & (d < r * shell)
    rho_at = mass[sh].sum() / (4.0 / 3.0 * np.pi * r**3 * (shell**3 - shell**-3))
    sig_at = np.sqrt(np.average(dv2[sh], weights=mass[sh]) / 3.0) if np.any(sh) else np.nan
    return {"r_infl": r, "rho_within": float(rho_in), "sigma_within": float(sig_in), "rho_at": float(rho_at),
            "sigma_at": float(sig_at), "n_within": int(k + 1), "n_shell": int(sh.sum())}


def hard_binary_separation(m1, m2, r_m):
    """a_h = q/(1+q)^2 r_m / 4 (Merritt 2013), r_m: radius enclosing twice the binary mass in stars."""
    q = min(m1, m2) / max(m1, m2)
    return q / (1 + q) ** 2 * r_m / 4
