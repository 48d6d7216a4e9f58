"""Two-body orbital elements and the Peters (1964) gravitational-wave inspiral formulas.

Units: any consistent set with gravitational constant ``G`` and speed of light
``c`` (defaults G = 1; pass ``c`` in the same units). Formulas:

* Keplerian elements of the relative orbit r = x1 - x2, v = v1 - v2
  (e.g. Murray & Dermott 1999, sect. 2.8): a = -G M / (2 E), eccentricity
  vector e = v x h / (G M) - r/|r|, inclination cos i = h_z / |h|, argument of
  periapsis from the ascending node n = z x h.
* Peters (1964, Phys. Rev. 136, B1224)::

    da/dt = -(64/5) beta_0 / (a^3 (1-e^2)^(7/2)) (1 + 73/24 e^2 + 37/96 e^4)      [eq. 5.6]
    de/dt = -(304/15) beta_0 e / (a^4 (1-e^2)^(5/2)) (1 + 121/304 e^2)            [eq. 5.7]
    with beta_0 = G^3 m1 m2 M / c^5;
    a(e) = c_0 e^(12/19) / (1 - e^2) (1 + 121/304 e^2)^(870/2299)                 [eq. 5.11]
    T_c(a0) = a0^4 / (4 beta), beta = (64/5) beta_0 (circular)                     [eq. 5.10]
    T(a0, e0) = (12/19) c_0^4 / beta int_0^e0 e^(29/19) (1 + 121/304 e^2)^(1181/2299) / (1-e^2)^(3/2) de
                                                                                    [eq. 5.14]
"""
from __future__ import annotations

import math

import numpy as np
from scipy import integrate


def _relative(m1, m2, x1, x2, v1, v2):
    r = np.asarray(x1, float) - np.asarray(x2, float)
    v = np.asarray(v1, float) - np.asarray(v2, float)
    return float(m1) + float(m2), r, v


def elements(m1, m2, x1, x2, v1, v2, G=1.0) -> dict:
    """Keplerian elements of the pair: a, e, inclination, periapsis_argument, node, period, energy, h,
    eccentricity_vector and separation |x1 - x2|.

    Angles in radians. For a hyperbolic pair a < 0 and period = nan. Inclination
    is measured from the z axis; for an orbit in the xy plane the periapsis
    argument is measured from the x axis (longitude of periapsis).
    """
    M, r, v = _relative(m1, m2, x1, x2, v1, v2)
    mu = G * M
    rn = float(np.linalg.norm(r))
    if rn == 0:
        raise ValueError("elements: the two bodies coincide")
    E = 0.5 * float(v @ v) - mu / rn
    a = -mu / (2 * E) if E != 0 else math.inf
    h = np.cross(r, v)
    hn = float(np.linalg.norm(h))
    evec = np.cross(v, h) / mu - r / rn
    e = float(np.linalg.norm(evec))
    inc = math.acos(max(-1.0, min(1.0, h[2] / hn))) if hn > 0 else 0.0
    node = np.cross([0.0, 0.0, 1.0], h)
    nn = float(np.linalg.norm(node))
    if nn > 1e-14 * hn:
        Omega = math.atan2(node[1], node[0])
        cosw = float(node @ evec) / (nn * e) if e > 0 else 1.0
        w = math.acos(max(-1.0, min(1.0, cosw)))
        if evec[2] < 0:
            w = 2 * math.pi - w
    else:
        Omega = 0.0
        w = math.atan2(evec[1], evec[0]) * (1 if h[2] >= 0 else -1) if e > 0 else 0.0
        w %= 2 * math.pi
    period = 2 * math.pi * math.sqrt(a**3 / mu) if a > 0 else math.nan
    return {"a": a, "e": e, "inclination": inc, "periapsis_argument": w, "node": Omega, "period": period,
            "energy": E, "h": h, "eccentricity_vector": evec, "separation": rn}


def _beta0(m1, m2, G, c):
    if not (m1 > 0 and m2 > 0):
        raise ValueError(f"masses must be positive, got {m1}, {m2}")
    if not (c > 0 and np.isfinite(c)):
        raise ValueError(f"c must be positive and finite, got {c}")
    return G**3 * m1 * m2 * (m1 + m2) / c**5


def _check_ae(a, e):
    a = np.asarray(a, float)
    e = np.asarray(e, float)
    if np.any(a <= 0):
        raise ValueError("a must be positive")
    if np.any((e < 0) | (e >= 1)):
        raise ValueError("e must be in [0, 1)")
    return a, e


def peters_dadt(a, e, m1, m2, c, G=1.0):
    """Orbit-averaged da/dt (Peters 1964 eq. 5.6)."""
    a, e = _check_ae(a, e)
    b0 = _beta0(m1, m2, G, c)
    return -64.0 / 5.0 * b0 / (a**3 * (1 - e * e) ** 3.5) * (1 + 73.0 / 24.0 * e**2 + 37.0 / 96.0 * e**4)


def peters_dedt(a, e, m1, m2, c, G=1.0):
    """Orbit-averaged de/dt (Peters 1964 eq. 5.7)."""
    a, e = _check_ae(a, e)
    b0 = _beta0(m1, m2, G, c)
    return -304.0 / 15.0 * b0 * e / (a**4 * (1 - e * e) ** 2.5) * (1 + 121.0 / 304.0 * e**2)


def peters_c0(a0, e0) -> float:
    """Constant c_0 of Peters eq. 5.11 fixed by a(e0) = a0."""
    a0, e0 = _check_ae(a0, e0)
    if e0 == 0:
        return math.inf
    return float(a0 * (1 - e0**2) / e0 ** (12.0 / 19.0) / (1 + 121.0 / 304.0 * e0**2) ** (870.0 / 2299.0))


def peters_a_of_e(e, a0, e0):
    """Semi-major axis as a function of eccentricity along a GW-driven inspiral (Peters eq. 5.11)."""
    c0 = peters_c0(a0, e0)
    e = np.asarray(e, float)
    return c0 * e ** (12.0 / 19.0) / (1 - e * e) * (1 + 121.0 / 304.0 * e * e) ** (870.0 / 2299.0)


def coalescence_time_circular(a0, m1, m2, c, G=1.0) -> float:
    """T_c = a0^4 / (4 beta), beta = (64/5) G^3 m1 m2 M / c^5 (Peters eq. 5.10)."""
    b = 64.0 / 5.0 * _beta0(m1, m2, G, c)
    return float(a0) ** 4 / (4.0 * b)


def coalescence_time(a0, e0, m1, m2, c, G=1.0) -> float:
    """Time to coalescence from (a0, e0) by the general integral of Peters (1964) eq. 5.14.

    T = (12/19) c0^4 / beta * int_0^e0 e^(29/19) (1 + 121/304 e^2)^(1181/2299) / (1-e^2)^(3/2) de.
    Exact for e0 = 0 (eq. 5.10); the integral is done by adaptive quadrature in
    the variable u = -ln(1 - e) near e0 -> 1 to resolve the integrable growth.
    """
    a0, e0 = _check_ae(a0, e0)
    a0, e0 = float(a0), float(e0)
    if e0 == 0:
        return coalescence_time_circular(a0, m1, m2, c, G)
    b = 64.0 / 5.0 * _beta0(m1, m2, G, c)
    c0 = peters_c0(a0, e0)

    def f(e):
        return e ** (29.0 / 19.0) * (1 + 121.0 / 304.0 * e * e) ** (1181.0 / 2299.0) / (1 - e * e) ** 1.5

    # integrate in u = -ln(1-e): de = (1-e) du, smooth near e0 -> 1
    def g(u):
        e = -math.expm1(-u)
        return f(e) * (1 - e)

    umax = -math.log1p(-e0)
    val, _ = integrate.quad(g, 0.0, umax, limit=400, epsabs=0.0, epsrel=1e-12)
    return 12.0 / 19.0 * c0**4 / b * val


def peters_evolve(a0, e0, m1, m2, c, t, G=1.0):
    """Integrate the orbit-averaged Peters equations: arrays (a(t), e(t)) at times ``t`` (before coalescence)."""
    from scipy.integrate import solve_ivp

    a0, e0 = _check_ae(a0, e0)
    t = np.asarray(t, float)

    def rhs(_, y):
        a, e = y
        e = min(max(e, 0.0), 1 - 1e-15)
        if a <= 0:
            return [0.0, 0.0]
        return [float(peters_dadt(a, e, m1, m2, c, G)), float(peters_dedt(a, e, m1, m2, c, G)) if e > 0 else 0.0]

    sol = solve_ivp(rhs, (0.0, float(t.max())), [float(a0), float(e0)], t_eval=t, rtol=1e-10, atol=1e-14 * float(a0),
                    method="DOP853")
    a = np.full(t.shape, np.nan)
    e = np.full(t.shape, np.nan)
    a[: sol.y.shape[1]] = sol.y[0]
    e[: sol.y.shape[1]] = sol.y[1]
    return a, e


def periastron_advance_1pn(a, e, M, c, G=1.0) -> float:
    """1PN periastron advance per orbit, Delta omega = 6 pi G M / (c^2 a (1 - e^2)) (Robertson 1938; Will 2014)."""
    return 6.0 * math.pi * G * M / (c * c * a * (1 - e * e))
