"""Speed paths of the KETJU region integration: vectorised pair sum and physical-time landing.

Both must leave the physics unchanged: the pair sum equals a plain double loop to round-off, and a
region integrated over many short steps with the physical-time landing agrees with the
regula-falsi landing (and with a much stricter reference) at the integrator's tolerance.
"""
import numpy as np
import pytest

from nbody import Particles, RegularizedIntegrator
from nbody._kernels.forces import newton_acc
from nbody._kernels.mst import build_mst, to_absolute, to_tree
from nbody._kernels.state import F_PHYSLAND
from nbody.ketju import RegularizedRegionIntegrator


def _cusp(n_star=60, seed=3):
    """A BH binary (a = 0.002, e = 0.5) in a cloud of light stars within r = 0.03 (a KETJU region)."""
    rng = np.random.default_rng(seed)
    m_bh = 0.005
    r = 0.03 * rng.random(n_star) ** (1 / 2)
    u = rng.normal(size=(n_star, 3))
    x = r[:, None] * u / np.linalg.norm(u, axis=1)[:, None]
    vc = np.sqrt(2 * m_bh / r)
    w = rng.normal(size=(n_star, 3))
    v = 0.6 * vc[:, None] * w / np.linalg.norm(w, axis=1)[:, None]
    a, e = 0.002, 0.5
    rp = a * (1 - e)
    vp = np.sqrt(2 * m_bh * (1 + e) / rp)  # relative speed at periapsis, M = 2 m_bh
    xb = np.array([[-rp / 2, 0, 0], [rp / 2, 0, 0]])
    vb = np.array([[0, -vp / 2, 0], [0, vp / 2, 0]])
    mass = np.concatenate([[m_bh, m_bh], np.full(n_star, 1e-5)])
    pos = np.vstack([xb, x])
    vel = np.vstack([vb, v])
    m = mass.sum()
    pos -= mass @ pos / m
    vel -= mass @ vel / m
    is_bh = np.arange(len(mass)) < 2
    return mass, pos, vel, is_bh, np.arange(len(mass))


def test_pair_sum_matches_double_loop():
    mass, pos, _, _, _ = _cusp()
    for mode in (0, 1, 2):  # MSTAR tree, chain, Cartesian
        par, order = build_mst(pos, mass, mode)
        Q = np.empty_like(pos)
        to_tree(pos, par, Q)
        x = np.empty_like(pos)
        to_absolute(Q, par, order, x)
        acc = np.empty_like(pos)
        U = newton_acc(Q, x, par, mass, acc)
        d = pos[None, :, :] - pos[:, None, :]
        r = np.linalg.norm(d, axis=2)
        np.fill_diagonal(r, np.inf)
        ref = np.einsum("j,ijk->ik", mass, d / r[:, :, None] ** 3)
        Uref = 0.5 * np.sum(mass[:, None] * mass[None, :] / r)
        err = np.linalg.norm(acc - ref, axis=1) / np.linalg.norm(ref, axis=1)
        assert err.max() < 1e-11, mode  # the tight binary's relative round-off in absolute coordinates
        assert U == pytest.approx(Uref, rel=1e-13)


def test_physical_landing_same_trajectory_fewer_evaluations():
    """20 region steps of dt = 1e-3 (~40 binary orbits in all): both landings agree with a tol 1e-13 reference."""
    mass, pos, vel, is_bh, ids = _cusp()
    runs = {}
    for key, kw in (("phys", dict(tolerance=1e-10, physical_landing=True)),
                    ("falsi", dict(tolerance=1e-10, physical_landing=False)),
                    ("ref", dict(tolerance=1e-13, physical_landing=False))):
        integ = RegularizedRegionIntegrator(**kw)
        x, v, nf = pos.copy(), vel.copy(), 0
        for _ in range(20):
            res = integ.integrate(mass, x, v, is_bh, ids, 1e-3)
            x, v = res.pos, res.vel
            nf += integ.last_record.n_force_evaluations
            assert integ.last_record.energy_error < 1e-10
        runs[key] = (x, v, nf)
    scale = np.abs(pos).max()
    for key in ("phys", "falsi"):
        assert np.abs(runs[key][0] - runs["ref"][0]).max() / scale < 1e-8, key
    assert np.abs(runs["phys"][0] - runs["falsi"][0]).max() / scale < 1e-8
    assert runs["phys"][2] < 0.8 * runs["falsi"][2]  # the landing iterations are what it saves


def test_physical_landing_flag_and_ttl():
    integ = RegularizedIntegrator(physical_landing=True)
    prm, flg = integ._params(np.inf)
    assert flg[F_PHYSLAND] == 1
    prm, flg = RegularizedIntegrator(physical_landing=True, time_transform="ttl")._params(np.inf)
    assert flg[F_PHYSLAND] == 0  # TTL's omega is carried only by the transformed leapfrog
    for pn in (["2.5PN"], ["1PN"], "all"):  # PN runs land by regula falsi (physical landing gave wrong inspirals)
        prm, flg = RegularizedIntegrator(physical_landing=True, pn=pn)._params(1e4)
        assert flg[F_PHYSLAND] == 0
    p = Particles([1.0, 1e-3], [[0, 0, 0], [1, 0, 0]], [[0, 0, 0], [0, 1, 0]])
    outs = [0.3, 1.7, 2.5]
    _, rec = integ.integrate(p, 3.0, outputs=outs)
    assert [t for t, _ in rec.snapshots] == outs  # output times are hit exactly
    assert rec.energy_error < 1e-10


def test_physical_landing_off_by_default_and_for_ketju():
    """Physical-time landing is opt-in (it accepted a wrong step across the periapsis of an e = 0.99
    Kepler orbit: energy error 1e-2 against 3.8e-11 by regula falsi, tolerance 1e-10, 4000 outputs);
    the default and KETJU's regions land by regula falsi, and its opt-in use on the Pythagorean
    problem's t = 10 (Burrau 1913) still lands exactly with fewer force evaluations (measured 2150 vs
    2248) and an energy error of the same size."""
    from nbody.ketju import RegularizedRegionIntegrator

    assert RegularizedIntegrator()._params(np.inf)[1][F_PHYSLAND] == 0
    assert RegularizedRegionIntegrator().integrator.physical_landing is False
    p = Particles([3.0, 4.0, 5.0], [[1, 3, 0], [-2, -1, 0], [1, -1, 0.0]], np.zeros((3, 3)))
    out_on, rec_on = RegularizedIntegrator(tolerance=1e-7, physical_landing=True).integrate(p, 10.0)
    out_off, rec_off = RegularizedIntegrator(tolerance=1e-7).integrate(p, 10.0)
    assert out_on.time == 10.0 and out_off.time == 10.0
    assert rec_on.n_force_evaluations < rec_off.n_force_evaluations
    assert rec_on.energy_error < 2 * rec_off.energy_error
    assert rec_off.energy_error < 2 * rec_on.energy_error
    assert rec_on.n_landing_iterations < rec_off.n_landing_iterations
