"""RegularizedIntegrator (Newtonian): LogH/GBS accuracy, MSTAR coordinates, output landing, reversibility, input checks."""
import math

import astropy.units as u
import numpy as np
import pytest

from nbody import Particles, RegularizedIntegrator, UnitSystem, orbits
from nbody._kernels.forces import energy_state
from nbody._kernels.logh import leapfrog
from nbody._kernels.mst import to_absolute
from nbody.particles import PTYPE_STAR
from nbody.regularized import _State

from .helpers import hierarchical_triple, kepler_pair, pythagorean

PERIOD = 2 * np.pi / np.sqrt(1.001)  # a = 1, M = 1.001


@pytest.mark.parametrize("e", [0.0, 0.9, 0.999])
def test_kepler_energy_100_orbits(e):
    tol = 1e-10
    p = kepler_pair(e)
    out, rec = RegularizedIntegrator(tolerance=tol).integrate(p, 100 * PERIOD + 0.1)
    assert rec.energy_error <= tol
    el = orbits.elements(out.mass[0], out.mass[1], out.pos[0], out.pos[1], out.vel[0], out.vel[1])
    assert el["a"] == pytest.approx(1.0, rel=10 * tol)
    assert el["e"] == pytest.approx(e, abs=1e-8)


@pytest.mark.parametrize("e", [0.0, 0.9, 0.999])
def test_kepler_energy_1000_orbits(e):
    """The issue's criterion: |dE/E| <= 10 x tolerance over 1000 orbits (measured 0.1-3.5 x at 1e-10)."""
    tol = 1e-10
    out, rec = RegularizedIntegrator(tolerance=tol).integrate(kepler_pair(e), 1000 * PERIOD + 0.1)
    assert rec.energy_error <= 10 * tol


@pytest.mark.parametrize("e", [0.3, 0.99])
def test_logh_leapfrog_kepler_has_only_phase_error(e):
    """Preto & Tremaine 1999: the LogH leapfrog maps a Kepler orbit onto the exact ellipse.

    With a coarse, non-extrapolated leapfrog (8 substeps per orbit) the energy,
    angular momentum and eccentricity vector are conserved to round-off while
    the orbital phase is visibly off.
    """
    p = kepler_pair(e)
    st = _State(p, math.inf, RegularizedIntegrator())
    T, U = energy_state(st.y, 2, st.par, st.order, st.mass)
    y = st.y.copy()
    H = 2 * math.pi / 8 * (T + y[1])  # ~1/8 orbit of fictitious time per substep on average
    y1 = leapfrog(y, 2, 80, 10 * H, st.mass, st.isbh, st.par, st.order, st.prm, st.flg)
    x = np.empty((2, 3))
    v = np.empty((2, 3))
    to_absolute(y1[3:9].reshape(2, 3), st.par, st.order, x)
    to_absolute(y1[9:15].reshape(2, 3), st.par, st.order, v)
    el0 = orbits.elements(p.mass[0], p.mass[1], p.pos[0], p.pos[1], p.vel[0], p.vel[1])
    el1 = orbits.elements(p.mass[0], p.mass[1], x[0], x[1], v[0], v[1])
    assert el1["energy"] == pytest.approx(el0["energy"], rel=1e-12)
    assert np.allclose(el1["h"], el0["h"], rtol=0, atol=1e-12)
    assert np.allclose(el1["eccentricity_vector"], el0["eccentricity_vector"], rtol=0, atol=1e-11)
    # ... but the time (phase) is not that of the exact orbit: compare with a converged run
    out, _ = RegularizedIntegrator(tolerance=1e-12).integrate(p, y1[0])
    assert np.max(np.abs(out.pos - x)) > 1e-6


def test_pythagorean_energy_and_coordinates():
    """Burrau's three-body problem through its close encounters to t = 70."""
    for coords in ("mstar", "chain", "cartesian"):
        out, rec = RegularizedIntegrator(tolerance=1e-10, coordinates=coords).integrate(pythagorean(), 70.0)
        assert rec.energy_error <= 1e-10, coords
        assert out.time == 70.0
        assert np.allclose(out.momentum(), 0.0, atol=1e-9)  # GBS is not exactly momentum-conserving in tree coords
        # the known outcome: the lightest body (3) is ejected upwards-right and the 4-5 pair forms a binary
        el = orbits.elements(out.mass[1], out.mass[2], out.pos[1], out.pos[2], out.vel[1], out.vel[2])
        assert 0 < el["a"] < 1.0 and np.linalg.norm(out.pos[0]) > 15


def test_time_reversibility_pythagorean():
    """Integrate to t = 20 and back (both by reversing velocities and by a negative time direction).

    Chaos amplifies the per-step errors (tolerance 1e-13 -> local errors ~1e-16)
    by the Lyapunov growth over the close encounters of the first 20 time units;
    measured returns are ~3e-11, so 1e-9 bounds them with margin while any
    irreversibility of the scheme (a first-order error) would show up at >1e-6.
    """
    integ = RegularizedIntegrator(tolerance=1e-13)
    p0 = pythagorean()
    out, _ = integ.integrate(p0, 20.0)
    back, _ = integ.integrate(out, 0.0)
    assert back.time == 0.0
    assert np.max(np.abs(back.pos - p0.pos)) < 1e-9
    assert np.max(np.abs(back.vel - p0.vel)) < 1e-9
    flipped = out.copy()
    flipped.vel = -flipped.vel
    flipped.time = 0.0
    ret, _ = integ.integrate(flipped, 20.0)
    assert np.max(np.abs(ret.pos - p0.pos)) < 1e-9


def test_hierarchical_triple_energy_and_inner_orbit():
    """A tight binary (a = 0.01, ~800 inner orbits) orbiting a third body."""
    p = hierarchical_triple()
    for coords in ("mstar", "chain"):
        out, rec = RegularizedIntegrator(tolerance=1e-10, coordinates=coords).integrate(p, 5.0)
        assert rec.energy_error <= 1e-10, coords
        el = orbits.elements(out.mass[0], out.mass[1], out.pos[0], out.pos[1], out.vel[0], out.vel[1])
        assert el["a"] == pytest.approx(0.01, rel=0.02)  # tidal perturbation ~ (a_in/a_out)^3


def test_mstar_beats_cartesian_for_a_very_hard_binary():
    """a_in/a_out = 1e-4: Cartesian coordinates lose ~4 digits of the binary separation to round-off.

    Measured (tolerance 1e-10, t = 0.01, ~1600 inner orbits): MSTAR ~5e-11,
    Cartesian ~1e-8 relative energy error with ~10x more steps.
    """
    p = hierarchical_triple(a_in=1e-4)
    _, rec_tree = RegularizedIntegrator(tolerance=1e-10).integrate(p, 0.01)
    _, rec_cart = RegularizedIntegrator(tolerance=1e-10, coordinates="cartesian").integrate(p, 0.01)
    assert rec_tree.energy_error <= 1e-10
    assert rec_cart.energy_error > 10 * rec_tree.energy_error
    assert rec_cart.n_steps > 3 * rec_tree.n_steps


def test_outputs_landed_exactly_and_consistent():
    p = kepler_pair(0.7)
    integ = RegularizedIntegrator(tolerance=1e-11)
    times = np.linspace(0.5, 20.0, 7)
    out, rec = integ.integrate(p, 25.0, outputs=times)
    assert [t for t, _ in rec.snapshots] == list(times)
    for t, snap in rec.snapshots:
        assert snap.time == t
        direct, _ = integ.integrate(p, t)
        assert np.max(np.abs(direct.pos - snap.pos)) < 1e-8


def test_step_counts_and_binding_variable():
    out, rec = RegularizedIntegrator(tolerance=1e-10).integrate(pythagorean(), 10.0)
    assert rec.n_steps > 10 and rec.n_force_evaluations > rec.n_steps
    assert rec.binding_error < 1e-10
    assert rec["energy_error"] == rec.energy_error


def test_unit_independence():
    """One physical hierarchical triple in two unit systems: the same trajectory in physical units.

    The error norm is dimensionless and G = 1 in both, so the only differences are round-off
    in the unit conversions (~1e-16), amplified mildly over ~30 inner orbits.
    """
    q = hierarchical_triple(a_in=0.05, a_out=1.0, e_in=0.3)
    mu, lu = 1e8 * u.Msun, 0.1 * u.pc
    ref = UnitSystem(mu, lu)
    m, pos, vel = q.mass * mu, q.pos * lu, ref.to_quantity(q.vel, "velocity")
    t_end = ref.to_quantity(2.0, "time")
    res = []
    for us in (ref, UnitSystem(1 * u.Msun, 1 * u.pc), UnitSystem(3e5 * u.Msun, 2 * u.kpc)):
        p = Particles(m, pos, vel, units=us)
        out, _ = RegularizedIntegrator(tolerance=1e-12, merger_radius_rs=0).integrate(p, t_end)
        qq = out.quantities()
        res.append((qq["pos"].to_value(u.pc), qq["vel"].to_value(u.km / u.s)))
    for r in res[1:]:
        assert np.allclose(r[0], res[0][0], rtol=0, atol=1e-10 * 0.1)
        assert np.allclose(r[1], res[0][1], rtol=0, atol=1e-9 * np.abs(res[0][1]).max())


@pytest.mark.parametrize("kwargs, match", [
    ({"tolerance": 0.0}, "tolerance"), ({"tolerance": 1e-2}, "tolerance"), ({"tolerance": float("nan")}, "tolerance"),
    ({"pn": ["4PN"]}, "pn"), ({"coordinates": "polar"}, "coordinates"), ({"merger_radius_rs": -1}, "merger_radius_rs"),
    ({"k_min": 1}, "k_min"), ({"time_transform": "foo"}, "time_transform"),
])
def test_bad_integrator_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RegularizedIntegrator(**kwargs)


def test_bad_particles():
    with pytest.raises(ValueError, match="mass"):
        Particles([1.0, 0.0], [[0, 0, 0], [1, 0, 0]], np.zeros((2, 3)))
    with pytest.raises(ValueError, match="mass"):
        Particles([1.0, -1.0], [[0, 0, 0], [1, 0, 0]], np.zeros((2, 3)))
    with pytest.raises(ValueError, match="pos"):
        Particles([1.0, 1.0], [[0, 0, 0], [np.nan, 0, 0]], np.zeros((2, 3)))
    with pytest.raises(ValueError, match="coincident"):
        Particles([1.0, 1.0], [[1, 0, 0], [1, 0, 0]], np.zeros((2, 3)))
    with pytest.raises(ValueError, match="shape"):
        Particles([1.0, 1.0], [[1, 0, 0]], np.zeros((2, 3)))
    with pytest.raises(ValueError, match="spin"):
        Particles([1.0, 1.0], [[0, 0, 0], [1, 0, 0]], np.zeros((2, 3)), spin=[[0, 0, 1.5], [0, 0, 0]])


def test_pn_without_speed_of_light_is_an_error():
    with pytest.raises(ValueError, match="speed of light"):
        RegularizedIntegrator(pn="all").integrate(kepler_pair(0.1), 1.0)


def test_pn_parsing():
    assert RegularizedIntegrator(pn="all").pn == {"1PN", "2PN", "2.5PN", "3PN", "3.5PN", "spin"}
    assert RegularizedIntegrator(pn="none").pn == set()
    assert RegularizedIntegrator(pn="1pn,2.5PN").pn == {"1PN", "2.5PN"}


@pytest.mark.parametrize("tt", ["ttl", "leapfrog", (0.5, 0.5, 0.0)])
def test_other_time_transformations(tt):
    """TTL (Mikkola & Aarseth 2002), the plain leapfrog and a mixed (alpha, beta, gamma) also converge.

    The plain leapfrog (gamma = 1) has no regularization, so the e = 0.99 orbit costs many more steps
    than with LogH at the same accuracy."""
    p = kepler_pair(0.99)
    out, rec = RegularizedIntegrator(tolerance=1e-10, time_transform=tt).integrate(p, 10 * PERIOD + 0.3)
    ref, rec_ref = RegularizedIntegrator(tolerance=1e-12).integrate(p, 10 * PERIOD + 0.3)
    assert rec.energy_error < 1e-9
    assert np.max(np.abs(out.pos - ref.pos)) < 1e-6
    if tt == "leapfrog":
        assert rec.n_steps > 2 * rec_ref.n_steps


def test_tolerance_controls_the_error():
    """Energy errors shrink with the tolerance from 1e-6 to 1e-13 (Pythagorean problem to t = 10)."""
    errs = []
    for tol in (1e-6, 1e-8, 1e-10, 1e-13):
        _, rec = RegularizedIntegrator(tolerance=tol).integrate(pythagorean(), 10.0)
        errs.append(rec.energy_error)
        assert rec.energy_error < max(10 * tol, 1e-12)
    assert errs[0] > errs[-1]


def test_only_black_holes_feel_pn_terms():
    p = kepler_pair(0.5, m1=0.6, m2=0.4)
    stars = p.copy()
    stars.ptype[:] = PTYPE_STAR
    a, _ = RegularizedIntegrator(tolerance=1e-12, pn="all", c=5.0).integrate(stars, 10.0)
    b, _ = RegularizedIntegrator(tolerance=1e-12).integrate(p, 10.0)
    c, _ = RegularizedIntegrator(tolerance=1e-12, pn="all", c=5.0).integrate(p, 10.0)
    assert np.max(np.abs(a.pos - b.pos)) < 1e-10  # no PN terms, no merger for non-BHs
    assert np.max(np.abs(c.pos - b.pos)) > 1e-3


def test_unit_independence_with_pn():
    """A relativistic binary (a = 50 r_s) with all PN terms: same physical trajectory in two unit systems,
    with c converted to code units by each system."""
    q = kepler_pair(0.3, m1=0.6, m2=0.4)
    mu, lu = 1e8 * u.Msun, 5e-4 * u.pc  # r_s(1e8 Msun) = 9.6e-6 pc
    ref = UnitSystem(mu, lu)
    m, pos, vel = q.mass * mu, q.pos * lu, ref.to_quantity(q.vel, "velocity")
    t_end = ref.to_quantity(30.0, "time")
    res = []
    for us in (ref, UnitSystem(1 * u.Msun, 1 * u.au)):
        p = Particles(m, pos, vel, spin=[[0, 0.3, 0.5], [0, 0, 0]], units=us)
        out, rec = RegularizedIntegrator(tolerance=1e-11, pn="all").integrate(p, t_end)
        qq = out.quantities()
        res.append((qq["pos"].to_value(u.pc), out.spin))
        assert not rec.mergers and rec.binding_error < 1e-8  # B tracks -(T - U) through the dissipative PN work
    assert np.allclose(res[0][0], res[1][0], rtol=0, atol=1e-9 * 5e-4)
    assert np.allclose(res[0][1], res[1][1], rtol=0, atol=1e-9)


INF, NAN = float("inf"), float("nan")


@pytest.mark.parametrize("kwargs, match", [
    ({"tolerance": INF}, "tolerance"), ({"tolerance": -INF}, "tolerance"), ({"step_safety": INF}, "step_safety"),
    ({"step_safety": NAN}, "step_safety"), ({"merger_radius_rs": INF}, "merger_radius_rs"),
    ({"time_transform": (1.0, 0.0, INF)}, "time_transform"), ({"time_transform": (NAN, 0.0, 1.0)}, "time_transform"),
])
def test_non_finite_integrator_parameters_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RegularizedIntegrator(**kwargs)


@pytest.mark.parametrize("call, match", [
    (lambda p: RegularizedIntegrator().integrate(p, INF), "t_end must be finite"),
    (lambda p: RegularizedIntegrator().integrate(p, NAN), "t_end must be finite"),
    (lambda p: RegularizedIntegrator().integrate(p, 1.0, outputs=[NAN]), "outputs"),
    (lambda p: RegularizedIntegrator(c=INF).integrate(p, 1.0), "c must be positive and finite"),
    (lambda p: RegularizedIntegrator(c=NAN).integrate(p, 1.0), "c must be positive and finite"),
    (lambda p: Particles(p.mass, p.pos, p.vel, time=INF), "time must be finite"),
])
def test_non_finite_times_are_refused(call, match):
    with pytest.raises(ValueError, match=match):
        call(kepler_pair(0.1))


def test_region_integrators_refuse_a_non_finite_step():
    from nbody.ketju import NewtonianFewBody, RegularizedRegionIntegrator

    p = kepler_pair(0.1)
    for integ in (NewtonianFewBody(), RegularizedRegionIntegrator()):
        for dt in (INF, NAN):
            with pytest.raises(ValueError, match="dt must be finite"):
                integ.integrate(p.mass, p.pos, p.vel, p.is_bh, p.ids, dt)


def test_energy_error_tracks_tolerance_kepler():
    """Error control without a plateau: on Kepler e = 0.9 over 30 orbits the relative energy error
    falls strictly with the tolerance over 1e-6 ... 1e-12 and stays within [1e-3, 1] x tolerance
    (measured 0.03-0.16 x; local tolerance = 1e-3 tolerance + 5e-16, HNW sect. II.9 error test)."""
    errs = []
    for tol in (1e-6, 1e-7, 1e-8, 1e-9, 1e-10, 1e-11, 1e-12):
        _, rec = RegularizedIntegrator(tolerance=tol).integrate(kepler_pair(0.9), 30 * PERIOD + 0.1)
        assert 1e-3 * tol <= rec.energy_error <= tol, (tol, rec.energy_error)
        errs.append(rec.energy_error)
    assert all(b < a for a, b in zip(errs, errs[1:])), errs


def test_step_control_rejections_kepler():
    """Step and order control (HNW sect. II.9, ODEX; nbody._kernels.gbs.choose_next) on Kepler e = 0.9
    over 100 orbits at tolerances 1e-6, 1e-8, 1e-10.

    Rejections: after an accepted step the controller predicts the next error at
    0.65 x 0.94^(2j-1) ~ 0.2-0.4 of the tolerance (step factor 0.94 (0.65/err)^(1/(2j-1)) for an error
    ~ H^(2j-1)), so a step fails the error test only where the error constant grows 2.5-5x within one
    step: on the approach to pericentre, once per orbit at most. Hence error-test rejections <= one
    per orbit (100) and <= 0.5 per accepted step (the orbit takes ~2 steps); measured 0-46 (0-0.22 per
    accepted step). The energy error falls strictly with the tolerance (measured 9.9e-9, 2.2e-9, 6.0e-13)."""
    errs = []
    for tol in (1e-6, 1e-8, 1e-10):
        _, rec = RegularizedIntegrator(tolerance=tol).integrate(kepler_pair(0.9), 100 * PERIOD + 0.1)
        error_rejections = rec.n_rejected - rec.n_landing_iterations
        assert 0 <= error_rejections <= min(100, 0.5 * rec.n_steps), (tol, error_rejections, rec.n_steps)
        errs.append(rec.energy_error)
    assert all(b < a for a, b in zip(errs, errs[1:])), errs


def test_order_and_step_control_rules():
    """The ODEX rules of nbody._kernels.gbs.choose_next on made-up column errors (HNW sect. II.9):
    work per unit step W_j = j (j + 1) / (H_j / H) picks the order; after a rejected step neither the
    order nor the step grows; a rejection never lengthens the step; a diverging extrapolation halves it."""
    from nbody._kernels.gbs import choose_next, step_factor

    kmin, kmax = 2, 10
    hfac = np.ones(kmax + 1)
    for j in range(2, 8):                       # errors err_j = 10^(8 - 2j) at column j
        hfac[j - 1] = step_factor(10.0 ** (8 - 2 * j), j)
    assert hfac[1] < hfac[2] < hfac[3] < 1.0 < hfac[4]
    assert hfac[5] == pytest.approx(0.02 ** (-1 / 11))   # growth limit of column 6
    k, H = choose_next(5, 5, True, False, 1.0, hfac, kmin, kmax)
    W = [j * (j + 1.0) / hfac[j - 1] for j in range(1, 8)]
    assert W[4] < 0.9 * W[3] and k == 6           # W_5 < 0.9 W_4: raise the order
    assert H == pytest.approx(hfac[4] * 42.0 / 30.0)   # H_kc A_6 / A_5
    k2, H2 = choose_next(5, 5, True, True, 1.0, hfac, kmin, kmax)
    assert k2 <= 5 and H2 <= 1.0                 # after a rejection: no growth
    k3, H3 = choose_next(5, 5, False, True, 1.0, hfac, kmin, kmax)
    assert kmin <= k3 <= 5 and H3 <= 0.9
    assert choose_next(0, 6, False, True, 1.0, hfac, kmin, kmax) == (6, 0.5)
    k4, H4 = choose_next(4, 5, False, False, 1.0, hfac, kmin, kmax)   # monitor gave up at column k - 1
    assert k4 == 5 and H4 <= 0.9                                     # the order is kept
    # step factors: 0.94 (0.65/err)^(1/(2j-1)) inside [0.02^(1/(2j-1)) / 4, 0.02^(-1/(2j-1))]
    assert step_factor(0.65, 4) == pytest.approx(0.94)
    assert step_factor(0.0, 5) == pytest.approx(0.02 ** (-1 / 9))
    assert step_factor(1e30, 5) == pytest.approx(0.25 * 0.02 ** (1 / 9))
    assert step_factor(float("nan"), 3) == pytest.approx(0.25 * 0.02 ** 0.2)


def test_tight_tolerances_give_distinct_runs():
    """Tolerances 1e-11, 1e-12, 1e-13 were one run under the former 1e-14 floor of the local
    tolerance; now each tightening costs more force evaluations and changes the final state."""
    from nbody.regularized import TOL_ROUNDOFF, local_tolerance

    assert local_tolerance(1e-13) < local_tolerance(1e-12) < local_tolerance(1e-11)
    assert local_tolerance(1e-30) == pytest.approx(TOL_ROUNDOFF)
    runs = [RegularizedIntegrator(tolerance=tol).integrate(kepler_pair(0.9), 10 * PERIOD + 0.1)
            for tol in (1e-11, 1e-12, 1e-13)]
    nfev = [rec.n_force_evaluations for _, rec in runs]
    assert nfev[0] < nfev[1] < nfev[2], nfev
    for (a, _), (b, _) in zip(runs, runs[1:]):
        assert np.max(np.abs(a.pos - b.pos)) > 0.0
