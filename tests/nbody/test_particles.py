"""The one particle container, its conversions at the file boundary, the unit system and orbital elements."""
import math

import astropy.units as u
import numpy as np
import pytest
from astropy import constants as const

from gpu.config import ConfigError
from nbody import orbits
from nbody.particles import PTYPE_BH, PTYPE_DM, PTYPE_STAR, Particles
from nbody.snapshot import (Snapshot, gadget_units, particles_from_snapshot, read_snapshot, snapshot_from_particles,
                            write_snapshot)
from nbody.units import UnitSystem


def _mixed(units=None, seed=5):
    """Dark matter, stars and two black holes, ordered by type (the order a snapshot read gives back)."""
    rng = np.random.default_rng(seed)
    ptype = np.repeat([PTYPE_DM, PTYPE_STAR, PTYPE_BH], [40, 25, 2])
    n = len(ptype)
    ids = rng.permutation(np.arange(1, n + 1, dtype=np.uint64) * 7)
    return Particles(rng.uniform(0.1, 2.0, n), rng.normal(0, 3.0, (n, 3)), rng.normal(0, 0.5, (n, 3)),
                     ids=ids, ptype=ptype, time=0.0, units=units)


@pytest.mark.parametrize("num_files", [1, 3])
def test_particles_snapshot_particles_round_trip_is_exact(tmp_path, num_files):
    U = UnitSystem(mass=1e8 * u.Msun, length=1 * u.pc)
    p = _mixed(U)
    snap = snapshot_from_particles(p, {"Time": 0.25})
    assert sorted(snap.particles) == [PTYPE_DM, PTYPE_STAR, PTYPE_BH]
    assert all(np.all(q.ptype == t) for t, q in snap.particles.items())
    write_snapshot(tmp_path / "snap_007.hdf5", snap, num_files=num_files)
    back = read_snapshot(tmp_path / ("snap_007.hdf5" if num_files == 1 else "snapdir_007"))
    q = particles_from_snapshot(back)
    for k in ("mass", "pos", "vel", "ptype", "ids"):
        a, b = getattr(p, k), getattr(q, k)
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), k
    # the unit attributes: written from the UnitSystem, read back bit for bit
    expect = gadget_units(U.length, U.mass, U.velocity)
    for k, v in expect.items():
        assert back.units[k] == v, k
    assert back.header["Time"] == 0.25
    # code units: the same UnitSystem, and the values to the round-off of the unit conversion
    c = particles_from_snapshot(back, code_units=True)
    assert c.units.mass_si == pytest.approx(U.mass_si, rel=1e-15)
    assert c.units.length_si == pytest.approx(U.length_si, rel=1e-15)
    np.testing.assert_allclose(c.pos, p.pos, rtol=4e-16, atol=0)
    np.testing.assert_allclose(c.vel, p.vel, rtol=1e-15, atol=0)  # V_file / V_code = 1 to round-off
    np.testing.assert_allclose(c.mass, p.mass, rtol=4e-16, atol=0)


def test_snapshot_precision_is_kept_and_simulation_types_are_enforced(tmp_path):
    pos = np.arange(12, dtype=np.float32).reshape(4, 3)
    snap = Snapshot({0: Particles.from_arrays(np.ones(2), pos[:2], pos[:2], 0, ids=np.array([1, 2], np.uint32)),
                     4: Particles.from_arrays(np.ones(2), pos[2:], pos[2:], 4, ids=np.array([3, 4], np.uint32))})
    write_snapshot(tmp_path / "s.hdf5", snap)
    back = read_snapshot(tmp_path / "s.hdf5")
    assert back.particles[4].pos.dtype == np.float32 and back.particles[4].ids.dtype == np.uint32
    with pytest.raises(ConfigError, match="particle type 0"):
        particles_from_snapshot(tmp_path / "s.hdf5", types=(PTYPE_DM, PTYPE_STAR, PTYPE_BH))
    p = particles_from_snapshot(tmp_path / "s.hdf5")
    assert p.pos.dtype == np.float64 and p.ids.dtype == np.uint64 and list(p.ptype) == [0, 0, 4, 4]
    assert p.pos.tobytes() == pos.astype(np.float64).tobytes()
    with pytest.raises(ConfigError, match="holds no particles"):
        particles_from_snapshot(Snapshot({}))


def test_unit_system_G_and_c_are_astropy_constants():
    for mass, length in ((1.0, 1.0), (1e8 * u.Msun, 1 * u.pc), (1e10 * u.Msun, 1 * u.kpc), ("3 kg", "2 m"),
                         (1e12 * u.Msun, 1 * u.Mpc)):
        U = UnitSystem(mass=mass, length=length)
        G_code = (const.G * U.mass * U.time**2 / U.length**3).decompose()
        assert G_code.unit == u.dimensionless_unscaled
        assert abs(G_code.value - 1.0) < 1e-15  # measured <= 5.6e-16 (roundings of the unit scales)
        c_code = (const.c / U.velocity).decompose().value
        assert U.c == pytest.approx(c_code, rel=1e-15)


def test_simulation_units_come_from_the_unit_system(tmp_path):
    from nbody import Simulation

    sim = Simulation({"units": {"length_kpc": 2.0, "mass_msun": 3e9},
                      "ics": {"galaxies": [{"n": 10, "m_bh": 0.01}]}, "output": {"dir": str(tmp_path / "o")}})
    U = sim.units
    assert U == UnitSystem(mass=3e9 * u.Msun, length=2 * u.kpc)
    v = np.sqrt(const.G * 3e9 * u.Msun / (2 * u.kpc)).to_value(u.km / u.s)
    assert sim.unit_quantities()["velocity"].to_value(u.km / u.s) == pytest.approx(v, rel=1e-15)
    assert sim.c_internal == pytest.approx(const.c.to_value(u.km / u.s) / v, rel=1e-15)


def test_elements_of_a_circular_orbit_and_body_order():
    G, m1, m2, d = 2.5, 0.7, 0.3, 1.7
    v = math.sqrt(G * (m1 + m2) / d)  # relative circular speed
    x1, x2 = np.array([m2 * d, 0, 0]), np.array([-m1 * d, 0, 0])
    v1, v2 = np.array([0, m2 * v, 0]), np.array([0, -m1 * v, 0])
    el = orbits.elements(m1, m2, x1, x2, v1, v2, G)
    assert el["separation"] == pytest.approx(d, rel=1e-15)
    assert el["a"] == pytest.approx(d, rel=1e-14)
    assert el["e"] < 1e-14
    assert el["period"] == pytest.approx(2 * math.pi * math.sqrt(d**3 / (G * (m1 + m2))), rel=1e-14)
    assert el["inclination"] == 0.0
    # swapping the bodies flips r and v exactly: a, e and the separation are the same bits
    sw = orbits.elements(m1, m2, x2, x1, v2, v1, G)
    assert (sw["a"], sw["e"], sw["separation"]) == (el["a"], el["e"], el["separation"])
    # hyperbolic: a < 0 and no period
    hyp = orbits.elements(m1, m2, x1, x2, 2 * v1, 2 * v2, G)
    assert hyp["a"] < 0 and math.isnan(hyp["period"]) and hyp["e"] > 1


def test_particles_checks():
    pos = np.zeros((4, 3))
    pos[:, 0] = [0.0, 1.0, 2.0, 1.0]  # particles 1 and 3 coincide (not neighbours in index order)
    with pytest.raises(ValueError, match="particles 1 and 3 are coincident"):
        Particles(np.ones(4), pos, np.zeros((4, 3)))
    with pytest.raises(ValueError, match="either ptype or is_bh"):
        Particles([1.0], [[0, 0, 0]], [[0, 0, 0]], is_bh=[True], ptype=[5])
    with pytest.raises(ValueError, match=r"ptype must be a GADGET particle type in \[0, 5\], got \[7\]"):
        Particles([1.0], [[0, 0, 0]], [[0, 0, 0]], ptype=7)
    p = Particles([1.0, 2.0], [[0, 0, 0], [1, 0, 0]], np.zeros((2, 3)), is_bh=[True, False])
    assert list(p.ptype) == [PTYPE_BH, PTYPE_STAR] and list(p.is_bh) == [True, False]
    with pytest.raises(ValueError, match="read-only"):
        p.is_bh[:] = True  # derived from ptype: a write would be lost, so it is refused
    assert list(Particles(1.0, [[0, 0, 0], [1, 0, 0]], np.zeros((2, 3))).mass) == [1.0, 1.0]
