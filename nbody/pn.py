"""Post-Newtonian accelerations, spin precession and conserved energies (harmonic gauge, G = 1 code units).

All functions take the speed of light ``c`` in code units (``c = inf`` switches
every term off) and are Numba-compiled so the integrator kernels call them
directly; they are equally usable from Python on float64 arrays.

Orders and sources
------------------
* 1PN, N bodies with all cross terms: Einstein-Infeld-Hoffmann equations,
  Thorne & Hartle (1985, PRD 31, 1815) eq. (4.11a); Will (2014, Living Rev.
  Relativ. 17, 4); Poisson & Will (2014, *Gravity*) eq. (9.127).
* two-body relative acceleration through 3.5PN in harmonic coordinates,
  ``a = -(G M / r^2) [(1 + A) n + B v]`` with ``v = v_1 - v_2``,
  ``n = (x_1 - x_2)/r``, ``rdot = n . v``, ``nu = m_1 m_2 / M^2``:
  Blanchet (2014, Living Rev. Relativ. 17, 2) eq. (203) [A_1PN ... B_3.5PN];
  the 3PN logarithms are removed by the gauge transformation of his eq. (204)
  (r'_0 drops out; with the gauge vector proportional to n ln(r/r'_0) / r^2 the
  non-logarithmic coefficients shift by k (1, -1, 8) in the (G M/r)^3, (G M/r)^2 v^2,
  (G M/r)^2 rdot^2 terms of A and by -2 k in the (G M/r)^2 rdot term of B, k = 22 nu / 3,
  which is how the coefficients below relate to the logarithmic harmonic ones);
  the 3.5PN coefficient printed with ``G^3 M^3 / r^6`` in Nissanke & Blanchet (2005)
  is taken as a misprint for ``r^5``, as the dimension of the term requires, and ``r^5`` is
  used here.
  The 2.5PN part is Damour & Deruelle's radiation reaction,
  ``(8/5) nu G^2 M^2 / (c^5 r^3) [rdot n (3 v^2 + 17 G M / (3 r)) - v (v^2 + 3 G M / r)]``
  (Kidder 1995, PRD 52, 821, harmonic gauge; Blanchet 2014 eq. 203).
* spin-orbit (1.5PN), spin-spin and quadrupole-monopole (2PN, Kerr quadrupole) accelerations of a binary:
  Kidder (1995) eqs. (2.2c)-(2.2d), the two-body form of Thorne & Hartle (1985)
  eqs. (4.11b)-(4.11d); spin precession: Kidder (1995) eq. (2.4), the two-body
  form of Thorne & Hartle eq. (4.17) / Barker & O'Connell (1975).

The pairwise (2PN and higher) terms act between each pair of flagged black
holes with the relative acceleration distributed as ``a_1 = (m_2/M) a``,
``a_2 = -(m_1/M) a`` (the KETJU / MSTAR convention, Rantala et al. 2017, ApJ 840, 53).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit


# ------------------------------------------------------------------------------------------------
# two-body relative accelerations (Blanchet 2014 eq. 203)
# ------------------------------------------------------------------------------------------------


@njit(cache=True)
def coeffs_1pn(r, v2, rd, M, nu):
    """(A_1PN, B_1PN) of Blanchet (2014) eq. (203) (multiply by 1/c^2)."""
    A = -1.5 * rd * rd * nu + v2 + 3.0 * nu * v2 - M / r * (4.0 + 2.0 * nu)
    B = -4.0 * rd + 2.0 * rd * nu
    return A, B


@njit(cache=True)
def coeffs_2pn(r, v2, rd, M, nu):
    """(A_2PN, B_2PN) of Blanchet (2014) eq. (203) (multiply by 1/c^4)."""
    nu2 = nu * nu
    rd2 = rd * rd
    m = M / r
    A = (15.0 / 8.0 * rd2 * rd2 * nu - 45.0 / 8.0 * rd2 * rd2 * nu2 - 4.5 * rd2 * nu * v2 + 6.0 * rd2 * nu2 * v2
         + 3.0 * nu * v2 * v2 - 4.0 * nu2 * v2 * v2
         + m * (-2.0 * rd2 - 25.0 * rd2 * nu - 2.0 * rd2 * nu2 - 6.5 * nu * v2 + 2.0 * nu2 * v2)
         + m * m * (9.0 + 87.0 / 4.0 * nu))
    B = (4.5 * rd2 * rd * nu + 3.0 * rd2 * rd * nu2 - 7.5 * rd * nu * v2 - 2.0 * rd * nu2 * v2
         + m * (2.0 * rd + 20.5 * rd * nu + 4.0 * rd * nu2))
    return A, B


@njit(cache=True)
def coeffs_25pn(r, v2, rd, M, nu):
    """(A_2.5PN, B_2.5PN) of Blanchet (2014) eq. (203) (multiply by 1/c^5)."""
    m = M / r
    A = -24.0 / 5.0 * rd * nu * v2 * m - 136.0 / 15.0 * rd * nu * m * m
    B = 8.0 / 5.0 * nu * v2 * m + 24.0 / 5.0 * nu * m * m
    return A, B


@njit(cache=True)
def coeffs_3pn(r, v2, rd, M, nu):
    """(A_3PN, B_3PN) of Blanchet (2014) eq. (203) after the gauge shift of eq. (204) (multiply by 1/c^6).

    The logarithm terms ln(r/r'_0) of the harmonic-gauge expression are removed
    by the coordinate transformation of Blanchet eq. (204); what remains are the
    coefficients below, including the pi^2 terms of the 3PN point-particle
    regularisation.
    """
    nu2 = nu * nu
    nu3 = nu2 * nu
    rd2 = rd * rd
    rd4 = rd2 * rd2
    m = M / r
    pi2 = math.pi * math.pi
    A = (-35.0 / 16.0 * rd4 * rd2 * nu + 175.0 / 16.0 * rd4 * rd2 * nu2 - 175.0 / 16.0 * rd4 * rd2 * nu3
         + 15.0 / 2.0 * rd4 * nu * v2 - 135.0 / 4.0 * rd4 * nu2 * v2 + 255.0 / 8.0 * rd4 * nu3 * v2
         - 15.0 / 2.0 * rd2 * nu * v2 * v2 + 237.0 / 8.0 * rd2 * nu2 * v2 * v2 - 45.0 / 2.0 * rd2 * nu3 * v2 * v2
         + 11.0 / 4.0 * nu * v2 * v2 * v2 - 49.0 / 4.0 * nu2 * v2 * v2 * v2 + 13.0 * nu3 * v2 * v2 * v2
         + m * (79.0 * rd4 * nu - 69.0 / 2.0 * rd4 * nu2 - 30.0 * rd4 * nu3 - 121.0 * rd2 * nu * v2
                + 16.0 * rd2 * nu2 * v2 + 20.0 * rd2 * nu3 * v2 + 75.0 / 4.0 * nu * v2 * v2
                + 8.0 * nu2 * v2 * v2 - 10.0 * nu3 * v2 * v2)
         + m * m * (rd2 + 32573.0 / 168.0 * rd2 * nu + 11.0 / 8.0 * rd2 * nu2 - 7.0 * rd2 * nu3
                    + 615.0 / 64.0 * rd2 * nu * pi2 - 26987.0 / 840.0 * nu * v2 + nu3 * v2
                    - 123.0 / 64.0 * nu * pi2 * v2)
         + m * m * m * (-16.0 - 437.0 / 4.0 * nu - 71.0 / 2.0 * nu2 + 41.0 / 16.0 * nu * pi2))
    B = (-45.0 / 8.0 * rd4 * rd * nu + 15.0 * rd4 * rd * nu2 + 15.0 / 4.0 * rd4 * rd * nu3
         + 12.0 * rd2 * rd * nu * v2 - 111.0 / 4.0 * rd2 * rd * nu2 * v2 - 12.0 * rd2 * rd * nu3 * v2
         - 65.0 / 8.0 * rd * nu * v2 * v2 + 19.0 * rd * nu2 * v2 * v2 + 6.0 * rd * nu3 * v2 * v2
         + m * (329.0 / 6.0 * rd2 * rd * nu + 59.0 / 2.0 * rd2 * rd * nu2 + 18.0 * rd2 * rd * nu3
                - 15.0 * rd * nu * v2 - 27.0 * rd * nu2 * v2 - 10.0 * rd * nu3 * v2)
         + m * m * (-4.0 * rd - 18169.0 / 840.0 * rd * nu + 25.0 * rd * nu2 + 8.0 * rd * nu3
                    - 123.0 / 32.0 * rd * nu * pi2))
    return A, B


@njit(cache=True)
def coeffs_35pn(r, v2, rd, M, nu):
    """(A_3.5PN, B_3.5PN) of Blanchet (2014) eq. (203) (multiply by 1/c^7); Nissanke & Blanchet (2005).

    The ``G^3 M^3`` terms carry ``1/r^5`` overall (here ``m^3 = (M/r)^3`` inside the
    bracket multiplying ``G M / r^2``); Nissanke & Blanchet (2005) printed ``1/r^6``,
    a misprint. Validated in the tests against the 1PN-accurate adiabatic decay of
    circular orbits, Blanchet (2014) eq. (227a).
    """
    nu2 = nu * nu
    rd2 = rd * rd
    m = M / r
    A = rd * nu * m * ((366.0 / 35.0 + 12.0 * nu) * v2 * v2 - (114.0 + 12.0 * nu) * v2 * rd2 + 112.0 * rd2 * rd2
                       + m * ((692.0 / 35.0 - 724.0 / 15.0 * nu) * v2 + (294.0 / 5.0 + 376.0 / 5.0 * nu) * rd2)
                       + m * m * (3956.0 / 35.0 + 184.0 / 5.0 * nu))
    B = -nu * m * ((626.0 / 35.0 + 12.0 / 5.0 * nu) * v2 * v2 - (678.0 / 5.0 + 12.0 / 5.0 * nu) * v2 * rd2
                   + 120.0 * rd2 * rd2 - (164.0 / 21.0 + 148.0 / 5.0 * nu) * m * v2
                   + (82.0 / 3.0 + 848.0 / 15.0 * nu) * m * rd2 + (1060.0 / 21.0 + 104.0 / 5.0 * nu) * m * m)
    return A, B


@njit(cache=True)
def _cross(a, b, out):
    out[0] = a[1] * b[2] - a[2] * b[1]
    out[1] = a[2] * b[0] - a[0] * b[2]
    out[2] = a[0] * b[1] - a[1] * b[0]


@njit(cache=True)
def pn_pair_accel(dx, dv, m1, m2, S1, S2, c, o1, o2, o25, o3, o35, ospin, out):
    """PN relative acceleration ``out`` = d(v_1 - v_2)/dt beyond Newton for one pair.

    dx = x_1 - x_2, dv = v_1 - v_2; flags o1..ospin switch 1PN, 2PN, 2.5PN, 3PN,
    3.5PN and the spin terms (spin-orbit 1.5PN and spin-spin 2PN, S1/S2 spin
    angular momenta in code units). Blanchet (2014) eq. (203); spins: Kidder
    (1995) eqs. (2.2c)-(2.2d).
    """
    M = m1 + m2
    nu = m1 * m2 / (M * M)
    r = math.sqrt(dx[0] * dx[0] + dx[1] * dx[1] + dx[2] * dx[2])
    n0 = dx[0] / r
    n1 = dx[1] / r
    n2 = dx[2] / r
    rd = n0 * dv[0] + n1 * dv[1] + n2 * dv[2]
    v2 = dv[0] * dv[0] + dv[1] * dv[1] + dv[2] * dv[2]
    ic2 = 1.0 / (c * c)
    A = 0.0
    B = 0.0
    if o1:
        a, b = coeffs_1pn(r, v2, rd, M, nu)
        A += a * ic2
        B += b * ic2
    if o2:
        a, b = coeffs_2pn(r, v2, rd, M, nu)
        A += a * ic2 * ic2
        B += b * ic2 * ic2
    if o25:
        a, b = coeffs_25pn(r, v2, rd, M, nu)
        A += a * ic2 * ic2 / c
        B += b * ic2 * ic2 / c
    if o3:
        a, b = coeffs_3pn(r, v2, rd, M, nu)
        A += a * ic2 * ic2 * ic2
        B += b * ic2 * ic2 * ic2
    if o35:
        a, b = coeffs_35pn(r, v2, rd, M, nu)
        A += a * ic2 * ic2 * ic2 / c
        B += b * ic2 * ic2 * ic2 / c
    f = -M / (r * r)
    out[0] = f * (A * n0 + B * dv[0])
    out[1] = f * (A * n1 + B * dv[1])
    out[2] = f * (A * n2 + B * dv[2])
    if ospin:
        spin_accel_pair(dx, dv, m1, m2, S1, S2, c, out)


@njit(cache=True)
def spin_accel_pair(dx, dv, m1, m2, S1, S2, c, out):
    """Add the spin-orbit (1.5PN) and spin-spin (2PN) relative accelerations to ``out``.

    Kidder (1995) eq. (2.2c), with S = S1 + S2, Delta = M (S2/m2 - S1/m1),
    dm = m1 - m2, n = dx/r, v = dv (harmonic gauge, covariant spin supplementary
    condition)::

        a_SO = (1/(c^2 r^3)) { 6 n [(n x v).(2S + (dm/M) Delta)]
                               - [v x (7S + 3 (dm/M) Delta)]
                               + 3 rdot [n x (3S + (dm/M) Delta)] }
        a_SS = -(3/(mu c^2 r^4)) { n (S1.S2) + S1 (n.S2) + S2 (n.S1)
                                   - 5 n (n.S1)(n.S2) }

    (Thorne & Hartle 1985 eqs. 4.11b-d in the two-body centre-of-mass form), plus the Kerr
    quadrupole-monopole term below. Checked in the tests: the test-particle limit of the
    spin-orbit part is the gravitomagnetic (Lense-Thirring) acceleration, the orbital plane
    precesses at the rate of the spin precession equation (J conserved), and the
    quadrupole-monopole part is the Newtonian field of the Kerr quadrupole -S^2/(m c^2).
    """
    M = m1 + m2
    mu = m1 * m2 / M
    dm = m1 - m2
    r = math.sqrt(dx[0] * dx[0] + dx[1] * dx[1] + dx[2] * dx[2])
    n = np.empty(3)
    for d in range(3):
        n[d] = dx[d] / r
    rd = n[0] * dv[0] + n[1] * dv[1] + n[2] * dv[2]
    S = np.empty(3)
    D = np.empty(3)
    for d in range(3):
        S[d] = S1[d] + S2[d]
        D[d] = M * (S2[d] / m2 - S1[d] / m1)
    nxv = np.empty(3)
    _cross(n, dv, nxv)
    q = dm / M
    t1 = 0.0
    for d in range(3):
        t1 += nxv[d] * (2.0 * S[d] + q * D[d])
    w = np.empty(3)
    for d in range(3):
        w[d] = 7.0 * S[d] + 3.0 * q * D[d]
    vxw = np.empty(3)
    _cross(dv, w, vxw)
    for d in range(3):
        w[d] = 3.0 * S[d] + q * D[d]
    nxw = np.empty(3)
    _cross(n, w, nxw)
    f = 1.0 / (c * c * r * r * r)
    for d in range(3):
        out[d] += f * (6.0 * n[d] * t1 - vxw[d] + 3.0 * rd * nxw[d])
    # spin-spin
    s12 = S1[0] * S2[0] + S1[1] * S2[1] + S1[2] * S2[2]
    ns1 = n[0] * S1[0] + n[1] * S1[1] + n[2] * S1[2]
    ns2 = n[0] * S2[0] + n[1] * S2[1] + n[2] * S2[2]
    g = -3.0 / (mu * c * c * r ** 4)
    for d in range(3):
        out[d] += g * (n[d] * s12 + S1[d] * ns2 + S2[d] * ns1 - 5.0 * n[d] * ns1 * ns2)
    # quadrupole-monopole (2PN) for Kerr black holes (spin-induced quadrupole Q_i = -S_i^2 / (m_i c^2)):
    # a_QM = -(3/(2 mu c^2 r^4)) sum_i (m_j/m_i) [n S_i^2 + 2 S_i (n.S_i) - 5 n (n.S_i)^2]
    # (Barker & O'Connell 1975; Racine 2008, PRD 78, 044021, with kappa = 1 for black holes)
    s11 = S1[0] * S1[0] + S1[1] * S1[1] + S1[2] * S1[2]
    s22 = S2[0] * S2[0] + S2[1] * S2[1] + S2[2] * S2[2]
    h = -1.5 / (mu * c * c * r ** 4)
    for d in range(3):
        out[d] += h * (m2 / m1 * (n[d] * s11 + 2.0 * S1[d] * ns1 - 5.0 * n[d] * ns1 * ns1)
                       + m1 / m2 * (n[d] * s22 + 2.0 * S2[d] * ns2 - 5.0 * n[d] * ns2 * ns2))


@njit(cache=True)
def spin_precession_pair(dx, dv, m1, m2, S1, S2, c, dS1, dS2):
    """dS1/dt, dS2/dt of a binary (Kidder 1995 eq. 2.4; Thorne & Hartle 1985 eq. 4.17; Barker & O'Connell 1975).

    ::

        dS1/dt = (1/(c^2 r^3)) { (L_N x S1)(2 + 3 m2/(2 m1)) - S2 x S1 + 3 (n.S2) n x S1
                                 + 3 (m2/m1) (n.S1) n x S1 }

    with the Newtonian orbital angular momentum L_N = mu (dx x dv); the last term is
    the quadrupole-monopole torque of a Kerr BH (Racine 2008); likewise for S2 with 1 <-> 2.
    """
    M = m1 + m2
    mu = m1 * m2 / M
    r = math.sqrt(dx[0] * dx[0] + dx[1] * dx[1] + dx[2] * dx[2])
    n = np.empty(3)
    for d in range(3):
        n[d] = dx[d] / r
    L = np.empty(3)
    _cross(dx, dv, L)
    for d in range(3):
        L[d] *= mu
    f = 1.0 / (c * c * r * r * r)
    a = np.empty(3)
    b = np.empty(3)
    e = np.empty(3)
    ns1 = n[0] * S1[0] + n[1] * S1[1] + n[2] * S1[2]
    ns2 = n[0] * S2[0] + n[1] * S2[1] + n[2] * S2[2]
    _cross(L, S1, a)
    _cross(S2, S1, b)
    _cross(n, S1, e)
    for d in range(3):
        dS1[d] = f * (a[d] * (2.0 + 1.5 * m2 / m1) - b[d] + 3.0 * ns2 * e[d] + 3.0 * m2 / m1 * ns1 * e[d])
    _cross(L, S2, a)
    _cross(S1, S2, b)
    _cross(n, S2, e)
    for d in range(3):
        dS2[d] = f * (a[d] * (2.0 + 1.5 * m1 / m2) - b[d] + 3.0 * ns1 * e[d] + 3.0 * m1 / m2 * ns2 * e[d])


# ------------------------------------------------------------------------------------------------
# N-body 1PN: Einstein-Infeld-Hoffmann
# ------------------------------------------------------------------------------------------------
@njit(cache=True, inline="always")
def _sep(i, j, x, Q, par):
    """(dx, dy, dz) = x_j - x_i with the MSTAR tree rule when a tree is given (par.size > 0).

    Rantala et al. 2020 (arXiv:2001.03180) sec. 3: for tree distance <= 2 the separation is summed
    from the tree edge vectors Q (parent -> child) instead of differencing absolute positions, which
    keeps the round-off of tight pairs inside wide systems small. Shared with the integrator kernels.
    """
    if par.shape[0] > 0:
        pi = par[i]
        pj = par[j]
        if pj == i:
            return Q[j, 0], Q[j, 1], Q[j, 2]
        if pi == j:
            return -Q[i, 0], -Q[i, 1], -Q[i, 2]
        if pi >= 0 and pi == pj:
            return Q[j, 0] - Q[i, 0], Q[j, 1] - Q[i, 1], Q[j, 2] - Q[i, 2]
        if pj >= 0 and par[pj] == i:
            return Q[j, 0] + Q[pj, 0], Q[j, 1] + Q[pj, 1], Q[j, 2] + Q[pj, 2]
        if pi >= 0 and par[pi] == j:
            return -(Q[i, 0] + Q[pi, 0]), -(Q[i, 1] + Q[pi, 1]), -(Q[i, 2] + Q[pi, 2])
    return x[j, 0] - x[i, 0], x[j, 1] - x[i, 1], x[j, 2] - x[i, 2]


@njit(cache=True)
def eih_accel(x, v, mass, isbh, c, out, Q, par, phi, aN):
    """Add the 1PN Einstein-Infeld-Hoffmann accelerations of the flagged bodies to ``out``.

    Thorne & Hartle (1985) eq. (4.11a) / Poisson & Will (2014) eq. (9.127), with
    n_ab = (x_b - x_a)/r_ab and a_b the Newtonian acceleration of b (all bodies
    flagged ``isbh`` take part; unflagged bodies neither feel nor source the terms)::

        c^2 a_a^(1PN) = sum_b m_b n_ab / r_ab^2 [ -4 sum_{d!=a} m_d/r_ad - sum_{d!=b} m_d/r_bd
                        + v_a^2 + 2 v_b^2 - 4 v_a.v_b - 3/2 (v_b.n_ab)^2 + 1/2 (x_b - x_a).a_b ]
                      + sum_b m_b / r_ab^2 [n_ba.(4 v_a - 3 v_b)] (v_a - v_b)
                      + 7/2 sum_b m_b a_b / r_ab
    """
    n = mass.shape[0]
    ic2 = 1.0 / (c * c)
    # work arrays (passed in to keep the hot loop allocation-free):
    # phi = sum_{d != a} m_d / r_ad and aN = Newtonian acceleration, both over flagged bodies
    for i in range(n):
        phi[i] = 0.0
        aN[i, 0] = 0.0
        aN[i, 1] = 0.0
        aN[i, 2] = 0.0
    for i in range(n):
        if not isbh[i]:
            continue
        for j in range(i + 1, n):
            if not isbh[j]:
                continue
            d0, d1, d2 = _sep(i, j, x, Q, par)
            r2 = d0 * d0 + d1 * d1 + d2 * d2
            r = math.sqrt(r2)
            phi[i] += mass[j] / r
            phi[j] += mass[i] / r
            f = 1.0 / (r2 * r)
            aN[i, 0] += mass[j] * d0 * f
            aN[i, 1] += mass[j] * d1 * f
            aN[i, 2] += mass[j] * d2 * f
            aN[j, 0] -= mass[i] * d0 * f
            aN[j, 1] -= mass[i] * d1 * f
            aN[j, 2] -= mass[i] * d2 * f
    for a in range(n):
        if not isbh[a]:
            continue
        va2 = v[a, 0] ** 2 + v[a, 1] ** 2 + v[a, 2] ** 2
        for b in range(n):
            if b == a or not isbh[b]:
                continue
            d0, d1, d2 = _sep(a, b, x, Q, par)
            r2 = d0 * d0 + d1 * d1 + d2 * d2
            r = math.sqrt(r2)
            nx = d0 / r
            ny = d1 / r
            nz = d2 / r
            vb2 = v[b, 0] ** 2 + v[b, 1] ** 2 + v[b, 2] ** 2
            vavb = v[a, 0] * v[b, 0] + v[a, 1] * v[b, 1] + v[a, 2] * v[b, 2]
            nvb = nx * v[b, 0] + ny * v[b, 1] + nz * v[b, 2]
            xab = d0 * aN[b, 0] + d1 * aN[b, 1] + d2 * aN[b, 2]
            brk = -4.0 * phi[a] - phi[b] + va2 + 2.0 * vb2 - 4.0 * vavb - 1.5 * nvb * nvb + 0.5 * xab
            # n_ba . (4 v_a - 3 v_b), n_ba = -n_ab
            nv43 = -(nx * (4.0 * v[a, 0] - 3.0 * v[b, 0]) + ny * (4.0 * v[a, 1] - 3.0 * v[b, 1])
                     + nz * (4.0 * v[a, 2] - 3.0 * v[b, 2]))
            f = mass[b] / r2
            out[a, 0] += ic2 * (f * nx * brk + f * nv43 * (v[a, 0] - v[b, 0]) + 3.5 * mass[b] * aN[b, 0] / r)
            out[a, 1] += ic2 * (f * ny * brk + f * nv43 * (v[a, 1] - v[b, 1]) + 3.5 * mass[b] * aN[b, 1] / r)
            out[a, 2] += ic2 * (f * nz * brk + f * nv43 * (v[a, 2] - v[b, 2]) + 3.5 * mass[b] * aN[b, 2] / r)


# ------------------------------------------------------------------------------------------------
# conserved energies (diagnostics)
# ------------------------------------------------------------------------------------------------
@njit(cache=True)
def newton_energy(pos, vel, mass, G):
    """Kinetic plus unsoftened Newtonian potential energy of N bodies,
    E = sum_i m_i v_i^2 / 2 - G sum_{i<j} m_i m_j / r_ij (the conserved energy of the Newtonian N-body
    problem, e.g. Aarseth 2003, "Gravitational N-Body Simulations", eq. 1.3), as a compiled pair loop."""
    n = pos.shape[0]
    e = 0.0
    for i in range(n):
        e += 0.5 * mass[i] * (vel[i, 0] ** 2 + vel[i, 1] ** 2 + vel[i, 2] ** 2)
        for j in range(i + 1, n):
            dx = pos[j, 0] - pos[i, 0]
            dy = pos[j, 1] - pos[i, 1]
            dz = pos[j, 2] - pos[i, 2]
            e -= G * mass[i] * mass[j] / np.sqrt(dx * dx + dy * dy + dz * dz)
    return e


def newtonian_energy(mass, pos, vel) -> float:
    """E = sum m v^2 / 2 - sum_{i<j} m_i m_j / r_ij (G = 1), the compiled pair loop of the few-body kernels."""
    mass = np.ascontiguousarray(mass, dtype=float)
    pos = np.ascontiguousarray(pos, dtype=float)
    vel = np.ascontiguousarray(vel, dtype=float)
    return float(newton_energy(pos, vel, mass, 1.0))


def eih_energy(mass, pos, vel, c, isbh=None) -> float:
    """Newtonian + 1PN energy of N bodies, conserved by the EIH equations.

    From the EIH Lagrangian (Landau & Lifshitz, *The Classical Theory of Fields*,
    sect. 106) by E = sum v.dL/dv - L::

        E = sum m v^2/2 - 1/2 sum_{a!=b} m_a m_b / r_ab
          + c^-2 { sum 3/8 m_a v_a^4
                   + 1/2 sum_{a!=b} m_a m_b / r_ab [3 v_a^2 - 7/2 v_a.v_b - 1/2 (n_ab.v_a)(n_ab.v_b)]
                   + 1/2 sum_a sum_{b!=a} sum_{d!=a} m_a m_b m_d / (r_ab r_ad) }

    Only bodies flagged ``isbh`` enter the 1PN part (as they do in the integrator).
    """
    mass = np.asarray(mass, float)
    pos = np.asarray(pos, float)
    vel = np.asarray(vel, float)
    E = newtonian_energy(mass, pos, vel)
    sel = np.ones(len(mass), bool) if isbh is None else np.asarray(isbh, bool)
    m, x, v = mass[sel], pos[sel], vel[sel]
    nb = len(m)
    if nb == 0:
        return E
    d = x[None, :, :] - x[:, None, :]  # x_b - x_a at [a, b]
    r = np.sqrt(np.sum(d * d, axis=-1))
    np.fill_diagonal(r, np.inf)
    nvec = d / r[..., None]
    v2 = np.sum(v * v, axis=1)
    E1 = np.sum(3.0 / 8.0 * m * v2 * v2)
    va_vb = v @ v.T
    n_va = np.einsum("abk,ak->ab", nvec, v)
    n_vb = np.einsum("abk,bk->ab", nvec, v)
    mm_r = m[:, None] * m[None, :] / r
    E1 += 0.5 * np.sum(mm_r * (3.0 * v2[:, None] - 3.5 * va_vb - 0.5 * n_va * n_vb))
    inv = 1.0 / r
    s = inv @ m  # sum_b m_b / r_ab
    E1 += 0.5 * np.sum(m * s * s)
    return float(E + E1 / c**2)


def kidder_energy_1pn(m1, m2, r, v2, rdot, c) -> float:
    """1PN energy of a binary in its centre-of-mass frame (Kidder 1995, PRD 52, 821, sect. II).

    ::

        E / mu = v^2/2 - M/r + c^-2 [3/8 (1 - 3 nu) v^4 + M/(2r) ((3 + nu) v^2 + nu rdot^2 + M/r)]
    """
    M = m1 + m2
    nu = m1 * m2 / M**2
    mu = m1 * m2 / M
    e = 0.5 * v2 - M / r + (3.0 / 8.0 * (1 - 3 * nu) * v2 * v2
                            + M / (2 * r) * ((3 + nu) * v2 + nu * rdot * rdot + M / r)) / c**2
    return float(mu * e)
