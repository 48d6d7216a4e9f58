"""Orbital elements and the Peters (1964) formulas."""
import math

import numpy as np
import pytest
from scipy.integrate import quad

from nbody import orbits


def test_elements_round_trip():
    a, e, inc, w, Om, M = 2.0, 0.6, 0.4, 1.1, 0.7, 1.5
    # build the state at true anomaly f from the elements (Murray & Dermott 2.122)
    f = 0.9
    r = a * (1 - e * e) / (1 + e * math.cos(f))
    h = math.sqrt(M * a * (1 - e * e))
    Rz = lambda t: np.array([[math.cos(t), -math.sin(t), 0], [math.sin(t), math.cos(t), 0], [0, 0, 1]])
    Rx = lambda t: np.array([[1, 0, 0], [0, math.cos(t), -math.sin(t)], [0, math.sin(t), math.cos(t)]])
    R = Rz(Om) @ Rx(inc) @ Rz(w)
    x = R @ [r * math.cos(f), r * math.sin(f), 0]
    v = R @ [-M / h * math.sin(f), M / h * (e + math.cos(f)), 0]
    el = orbits.elements(1.0, 0.5, x, np.zeros(3), v, np.zeros(3))
    assert el["a"] == pytest.approx(a, rel=1e-13)
    assert el["e"] == pytest.approx(e, rel=1e-13)
    assert el["inclination"] == pytest.approx(inc, abs=1e-13)
    assert el["periapsis_argument"] == pytest.approx(w, abs=1e-12)
    assert el["node"] == pytest.approx(Om, abs=1e-12)
    assert el["period"] == pytest.approx(2 * math.pi * math.sqrt(a**3 / M), rel=1e-13)


def test_peters_a_of_e_solves_the_rate_ratio():
    """da/de = (da/dt)/(de/dt) along a(e) (Peters eqs. 5.6, 5.7 -> 5.11)."""
    a0, e0 = 1.0, 0.8
    for e in (0.1, 0.5, 0.79):
        h = 1e-6
        dade = (orbits.peters_a_of_e(e + h, a0, e0) - orbits.peters_a_of_e(e - h, a0, e0)) / (2 * h)
        a = orbits.peters_a_of_e(e, a0, e0)
        ratio = orbits.peters_dadt(a, e, 1, 1, 10.0) / orbits.peters_dedt(a, e, 1, 1, 10.0)
        assert dade == pytest.approx(ratio, rel=1e-7)
    assert orbits.peters_a_of_e(e0, a0, e0) == pytest.approx(a0, rel=1e-14)


def test_coalescence_time_limits():
    m1, m2, c = 1.0, 0.5, 50.0
    Tc = orbits.coalescence_time_circular(1.0, m1, m2, c)
    beta = 64 / 5 * m1 * m2 * (m1 + m2) / c**5
    assert Tc == pytest.approx(1 / (4 * beta), rel=1e-14)
    # e0 -> 0 joins the circular result continuously
    assert orbits.coalescence_time(1.0, 1e-4, m1, m2, c) == pytest.approx(Tc, rel=1e-6)
    # high-eccentricity limit T ~ (768/425) Tc (1 - e0^2)^(7/2) (Peters 1964 eq. 5.14 asymptotics);
    # the next term of the integral is O(sqrt(1 - e0^2)) relative
    devs = []
    for e0 in (0.9999, 0.999999):
        approx = 768 / 425 * Tc * (1 - e0**2) ** 3.5
        dev = abs(orbits.coalescence_time(1.0, e0, m1, m2, c) / approx - 1)
        assert dev < 2 * np.sqrt(1 - e0**2)
        devs.append(dev)
    assert devs[1] < devs[0] / 5
    # monotonic in e0
    Ts = [orbits.coalescence_time(1.0, e, m1, m2, c) for e in (0.1, 0.5, 0.9, 0.99)]
    assert all(np.diff(Ts) < 0)


def test_coalescence_time_equals_time_to_integrate_peters_odes():
    """T(a0, e0) from eq. 5.14 = time for the orbit-averaged ODEs to shrink a to ~0."""
    m1 = m2 = 1.0
    c, a0, e0 = 10.0, 1.0, 0.7
    T = orbits.coalescence_time(a0, e0, m1, m2, c)
    # time = int da / |da/dt| along a(e): independent quadrature over e
    c0 = orbits.peters_c0(a0, e0)
    f = lambda e: 1.0 / abs(orbits.peters_dedt(orbits.peters_a_of_e(e, a0, e0), e, m1, m2, c))
    t_e, _ = quad(f, 1e-12, e0, limit=200, epsrel=1e-11)
    assert T == pytest.approx(t_e, rel=1e-7)
    a, e = orbits.peters_evolve(a0, e0, m1, m2, c, np.array([0.0, 0.5 * T, 0.99 * T]))
    assert a[1] == pytest.approx(orbits.peters_a_of_e(e[1], a0, e0), rel=1e-6)
    assert a[2] < 0.4 * a0


def test_periastron_advance_value():
    # Mercury: 42.98 arcsec per century (M_sun, a = 0.387098 au, e = 0.205630, P = 87.969 d)
    GM, c, a, e = 1.32712440018e20, 299792458.0, 0.387098 * 1.495978707e11, 0.205630
    dw = orbits.periastron_advance_1pn(a, e, GM, c)  # G folded into GM
    per_century = dw * 36525 / 87.969 * 180 / math.pi * 3600
    assert per_century == pytest.approx(42.98, abs=0.05)


@pytest.mark.parametrize("bad", [dict(a=-1.0, e=0.1), dict(a=1.0, e=1.0), dict(a=1.0, e=-0.1)])
def test_bad_orbits(bad):
    with pytest.raises(ValueError):
        orbits.peters_dadt(bad["a"], bad["e"], 1, 1, 10)
    with pytest.raises(ValueError, match="c"):
        orbits.coalescence_time(1.0, 0.1, 1, 1, -1.0)
