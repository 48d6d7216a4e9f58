"""TreePM gravity (nbody.cosmological.treepm) and its Ewald reference (nbody.cosmological.ewald)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from gpu.config import ConfigError
from nbody.cosmological.ewald import ewald_accelerations
from nbody.cosmological._treepm_kernels import quad_shortrange
from nbody.cosmological.split import (TABLE_PER_RS, shortrange_factor_derivs, shortrange_force_factor,
                                      shortrange_table, table_factor)
from nbody.cosmological.treepm import TreePMGravity


def clustered_periodic_sample(n, box, seed=3, nclumps=5, field_fraction=0.25):
    """Plummer clumps (scale radii 1-4 % of the box, truncated at 10 scale radii) at random centres plus a
    uniform field, wrapped into the periodic box; equal masses."""
    rng = np.random.default_rng(seed)
    nfield = int(field_fraction * n)
    per = (n - nfield) // nclumps
    parts = []
    for _ in range(nclumps):
        a = rng.uniform(0.01, 0.04) * box
        r = np.minimum(a / np.sqrt(rng.random(per) ** (-2.0 / 3.0) - 1.0), 10 * a)
        v = rng.normal(size=(per, 3))
        parts.append(rng.random(3) * box + v / np.linalg.norm(v, axis=1)[:, None] * r[:, None])
    parts.append(rng.random((n - per * nclumps, 3)) * box)
    return np.concatenate(parts) % box, np.ones(n)


def _relerr(a, ref):
    return np.linalg.norm(a - ref, axis=1) / np.linalg.norm(ref, axis=1)


# ---------------------------------------------------------------- the split (Springel 2005 eq. 24)
def test_shortrange_factor_limits_and_derivatives():
    rs = 0.7
    assert shortrange_force_factor(0.0, rs) == 1.0
    # the force of erfc(r/2rs)/r (eq. 23) is the Newtonian force times the factor: check by differentiation
    for r in (0.1, 0.9, 2.5, 4.0):
        d = 1e-5
        psi = lambda x: math.erfc(0.5 * x / rs) / x  # noqa: E731
        force = -(psi(r + d) - psi(r - d)) / (2 * d)
        assert force == pytest.approx(shortrange_force_factor(r, rs) / r ** 2, rel=1e-7)
        f, f1, f2 = shortrange_factor_derivs(r, rs)
        assert f == shortrange_force_factor(r, rs)
        assert f1 == pytest.approx((shortrange_force_factor(r + d, rs) - shortrange_force_factor(r - d, rs)) / (2 * d),
                                   rel=1e-7, abs=1e-12)
        f1p = shortrange_factor_derivs(r + d, rs)[1]
        f1m = shortrange_factor_derivs(r - d, rs)[1]
        assert f2 == pytest.approx((f1p - f1m) / (2 * d), rel=1e-6, abs=1e-12)
    assert shortrange_force_factor(4.5 * rs, rs) < 0.02  # GADGET's r_cut = 4.5 r_s


def test_shortrange_table_interpolation():
    tab = shortrange_table(4.5)
    rs = 2.0
    x = np.random.default_rng(0).random(2000) * 4.5 * rs
    for r in x:
        exact = shortrange_factor_derivs(r, rs)
        u = r * TABLE_PER_RS / rs
        assert abs(table_factor(tab, 0, u) - exact[0]) < 1e-7
        assert abs(table_factor(tab, 1, u) / rs - exact[1]) < 1e-6 / rs
        assert abs(table_factor(tab, 2, u) / rs ** 2 - exact[2]) < 1e-5 / rs ** 2


def _clump_errors(size, x, rs=1.0):
    rng = np.random.default_rng(0)
    y = rng.normal(size=(50, 3)) * size
    m = rng.random(50)
    com = (m[:, None] * y).sum(0) / m.sum()
    yc = y - com
    S = np.einsum("i,ia,ib->ab", m, yc, yc)
    d = x[None, :] - y
    r = np.linalg.norm(d, axis=1)
    exact = -sum(m[j] * d[j] / r[j] ** 3 * shortrange_force_factor(r[j], rs) for j in range(50))
    xc = x - com
    rc = np.linalg.norm(xc)
    mono = -m.sum() * xc / rc ** 3 * shortrange_force_factor(rc, rs)
    quad = np.array(quad_shortrange(xc[0], xc[1], xc[2], rc, rs, S[0, 0], S[1, 1], S[2, 2], S[0, 1], S[0, 2], S[1, 2]))
    norm = np.linalg.norm(exact)
    return np.linalg.norm(mono - exact) / norm, np.linalg.norm(mono + quad - exact) / norm


def test_truncated_quadrupole_against_direct_sum():
    """A small clump seen from r ~ 2-3 r_s: the monopole error of the truncated force falls as (size/r)^2,
    with the quadrupole (Taylor expansion of erfc(r/2r_s)/r) as (size/r)^3 and much smaller."""
    for x in (np.array([3.0, 0.4, -0.2]), np.array([-0.5, 2.0, 1.1])):
        m1, q1 = _clump_errors(0.15, x)
        m2, q2 = _clump_errors(0.075, x)
        assert q1 < 0.05 * m1
        assert 3.5 < m1 / m2 < 4.5  # second order
        assert 7.0 < q1 / q2 < 9.0  # third order


# ---------------------------------------------------------------- the Ewald reference
def test_ewald_pair_independent_of_alpha_and_antisymmetric():
    pos = np.array([[0.1, 0.2, 0.3], [0.37, 0.05, 0.61]])
    m = np.array([1.0, 2.0])
    a9 = ewald_accelerations(pos, m, 1.0, alpha_L=9.0)
    a11 = ewald_accelerations(pos, m, 1.0, alpha_L=11.0)
    # the split between real and k space is arbitrary: both truncations are ~exp(-20) here
    assert np.abs(a9 - a11).max() < 1e-7 * np.abs(a9).max()
    np.testing.assert_allclose(m[0] * a9[0], -m[1] * a9[1], rtol=1e-12, atol=1e-12)


def test_ewald_small_separation_limit():
    """Near a particle the periodic images' tidal field vanishes (cubic symmetry) and the background of mean
    density m / L^3 adds +(4 pi / 3) G rho x: a = G m x / r^3 - (4 pi / 3) G m x / L^3 + O(r^3)."""
    m = np.array([1.0, 1.0])
    for r in (0.01, 0.03):
        x = r * np.array([0.6, 0.0, 0.8])
        a = ewald_accelerations(np.array([[0.5, 0.5, 0.5], 0.5 + x]), m, 1.0, G=2.0)[0]
        expect = 2.0 * (x / r ** 3 - 4 * np.pi / 3 * x)
        # next term: the cubic harmonic of the image sum, a relative O(r^5 / L^5) correction (measured ~6 r^5)
        assert np.abs(a - expect).max() < 20 * r ** 5 * np.abs(expect).max()


def test_ewald_lattice_and_momentum():
    g = (np.arange(6) + 0.5) / 6 * 10.0
    lat = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    a = ewald_accelerations(lat, np.ones(len(lat)), 10.0)
    scale = 1.0 / (10.0 / 6) ** 2  # G m / d^2 for the lattice spacing d
    assert np.abs(a).max() < 1e-7 * scale  # every lattice site is a symmetry centre: zero force
    rng = np.random.default_rng(1)
    p, m = rng.random((500, 3)), rng.random(500)
    a = ewald_accelerations(p, m, 1.0)
    assert np.abs((m[:, None] * a).sum(0)).max() < 1e-12 * np.abs(m[:, None] * a).sum()


# ---------------------------------------------------------------- TreePM against Ewald
def test_treepm_pair_split_matches_ewald():
    """One pair at separations across the split scale: long + exact short range = Ewald (only the mesh error)."""
    box, nmesh = 100.0, 32
    tp = TreePMGravity(box, nmesh, omega_m=0.3, theta=0.01)
    G = tp.gravitational_constant(np.ones(2))
    errs = []
    for r in (0.5, 2.0, 5.0, 9.0, 15.0, 30.0):
        pos = np.array([[20.3, 40.1, 60.7], [20.3 + r * 0.48, 40.1 + r * 0.6, 60.7 + r * 0.64]])
        ref = ewald_accelerations(pos, np.ones(2), box, G=G)
        errs.append(_relerr(tp.accelerations(pos, np.ones(2)), ref).max())
    assert max(errs) < 0.02, errs
    assert errs[0] < 1e-4  # far inside r_s the tree's exact short-range force dominates


def test_treepm_clustered_sample_against_ewald():
    """Acceptance test at the default settings (asmth, rcut, theta, grouped walk, quadrupoles; mesh 2 N^(1/3)):
    median relative error <= 1e-3 (measured 3.7e-4), 99th percentile < 1e-2 (measured 4.9e-3)."""
    box, n, eps = 100.0, 4096, 0.05
    pos, m = clustered_periodic_sample(n, box)
    tp = TreePMGravity(box, 32, omega_m=0.3, eps=eps)
    ref = ewald_accelerations(pos, m, box, G=tp.gravitational_constant(m), eps=eps)
    err = _relerr(tp.accelerations(pos, m), ref)
    assert np.median(err) <= 1e-3, np.median(err)
    assert np.percentile(err, 99) < 1e-2
    # the tree alone: quadrupoles of the truncated potential are more accurate than monopoles (measured 7x)
    exact = TreePMGravity(box, 32, omega_m=0.3, eps=eps, theta=0.02).short_range(pos, m)
    nr = np.linalg.norm(ref, axis=1)
    e_q = np.median(np.linalg.norm(tp.short_range(pos, m) - exact, axis=1) / nr)
    mono = TreePMGravity(box, 32, omega_m=0.3, eps=eps, quadrupole=False)
    e_m = np.median(np.linalg.norm(mono.short_range(pos, m) - exact, axis=1) / nr)
    assert e_q < 0.35 * e_m, (e_q, e_m)


def test_treepm_per_particle_walk_and_grouped_walk_agree():
    """group_size = 0 (one walk per particle, minimum image per pair) and the grouped walk (gathered lists at
    shifted images, plus the per-pair fallback for groups too large for the shift) converge to the same force."""
    box = 100.0
    pos, m = clustered_periodic_sample(2000, box, seed=7)
    a = TreePMGravity(box, 32, eps=0.05, theta=0.3, group_size=0).short_range(pos, m)
    b = TreePMGravity(box, 32, eps=0.05, theta=0.3, group_size=32).short_range(pos, m)
    exact = TreePMGravity(box, 32, eps=0.05, theta=0.01, group_size=0).short_range(pos, m)
    assert np.median(_relerr(a, exact)) < 1e-3 and np.median(_relerr(b, exact)) < 1e-3


def test_treepm_positions_wrapped_and_translation_invariant():
    box = 50.0
    pos, m = clustered_periodic_sample(1000, box, seed=5)
    tp = TreePMGravity(box, 32, eps=0.05)
    a = tp.accelerations(pos, m)
    shift = np.array([box * 0.5, box * 0.25, 0.0])  # a shift by whole mesh cells: the mesh sees the same field
    b = tp.accelerations(pos + shift - 3 * box, m)
    assert np.median(_relerr(b, a)) < 1e-3


@pytest.mark.parametrize("kw, exc", [({"box": -1.0}, ConfigError), ({"theta": 0.0}, ConfigError),
                                      ({"omega_m": float("nan")}, ConfigError), ({"nmesh": 16}, ValueError),
                                      ({"rcut": 40.0}, ValueError), ({"nmesh": 3.5}, ValueError)])
def test_treepm_bad_arguments(kw, exc):
    args = {"box": 10.0, "nmesh": 32}
    args.update(kw)
    with pytest.raises(exc):
        TreePMGravity(**args)


def test_treepm_bad_particles():
    tp = TreePMGravity(10.0, 32)
    with pytest.raises(ValueError, match="NaN or infinite"):
        tp.accelerations(np.array([[1.0, np.nan, 2.0], [1.0, 2.0, 3.0]]), np.ones(2))
    with pytest.raises(ValueError, match="masses"):
        tp.accelerations(np.ones((2, 3)), np.zeros(2))
    with pytest.raises(ValueError, match="softening"):
        TreePMGravity(10.0, 32, eps=5.0).accelerations(np.random.default_rng(0).random((10, 3)), np.ones(10))


# ---------------------------------------------------------------- PMSimulation(gravity="treepm")
def test_pm_simulation_with_treepm_runs_and_agrees_on_large_scales(tmp_path):
    """A short 16^3 run with TreePM gravity: snapshots written, the largest-scale power within 3 % of the PM
    run's (measured 0.7 %: linear scales are the mesh's in both), and its final, clustered state's TreePM
    forces within a median 5e-3 of the Ewald sum (measured 1.4e-3; the PM force alone: 16 %)."""
    from nbody.cosmological import PMConfig, PMSimulation

    kw = dict(box=128.0, nside=16, a_start=0.05, nsteps=8, output_redshifts=[1.0, 0.0])
    tp = PMSimulation(PMConfig(gravity="treepm", **kw))
    paths = tp.run(tmp_path / "treepm")
    assert [p.name for p in paths] == ["snap_000.hdf5", "snap_001.hdf5"]
    assert np.all(np.isfinite(tp.pos)) and np.all(np.isfinite(tp.p))
    pm = PMSimulation(PMConfig(gravity="pm", **kw))
    pm.run(write=False)
    p_tp, p_pm = tp.measure_power()[1], pm.measure_power()[1]
    assert abs(p_tp[0] / p_pm[0] - 1) < 0.03
    m = np.ones(len(tp.pos))
    ref = ewald_accelerations(tp.pos, m, 128.0, G=tp.treepm.gravitational_constant(m), eps=tp.config.eps())
    assert np.median(_relerr(tp.force(), ref)) < 5e-3


def test_pm_config_treepm_cut_too_large():
    from nbody.cosmological import PMConfig, PMSimulation

    with pytest.raises(ConfigError, match="treepm_asmth"):
        PMSimulation(PMConfig(box=64.0, nside=8, nmesh=16, gravity="treepm"))
    with pytest.raises(ConfigError, match="softening"):
        PMSimulation(PMConfig(box=64.0, nside=16, gravity="treepm", softening=20.0))


def test_cli_pm_gravity_treepm(tmp_path, capsys):
    """``python -m nbody pm`` with ``gravity = "treepm"``: exit 0, a GADGET-4 snapshot, the summary names TreePM."""
    from nbody.__main__ import main

    cfg = tmp_path / "pm.toml"
    cfg.write_text(f'box = 64.0\nnside = 16\nnsteps = 3\na_start = 0.1\noutput_redshifts = [0.0]\n'
                   f'gravity = "treepm"\noutput_dir = "{tmp_path / "out"}"\n')
    assert main(["pm", str(cfg), "--quiet"]) == 0
    assert "TREEPM: 16^3 particles, mesh 32^3" in capsys.readouterr().out
    assert (tmp_path / "out" / "snap_000.hdf5").exists()
