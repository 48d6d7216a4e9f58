"""yt reads the snapshots in their real units through nbody.snapshot.load_yt (GADGET-4 unit parameters)."""
import numpy as np
import pytest

from nbody.particles import Particles
from nbody.snapshot import Snapshot, load_yt, read_snapshot, write_snapshot

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def yt():
    return pytest.importorskip("yt")


def test_cosmological_box_and_peculiar_velocities(yt, tmp_path):
    from nbody.cosmological import PMConfig, PMSimulation

    paths = PMSimulation(PMConfig(box=64.0, nside=8, nsteps=3, a_start=0.1, output_redshifts=[1.0])).run(tmp_path)
    ds = load_yt(paths[0])
    assert ds.cosmological_simulation and abs(ds.current_redshift - 1.0) < 1e-12
    # GADGET's 3.085678e24 cm per Mpc against yt's 3.0856776e24: the box agrees to 2e-7
    np.testing.assert_allclose(ds.domain_width.to("Mpccm/h").value, 64.0, rtol=1e-6)
    snap = read_snapshot(paths[0])
    ad = ds.all_data()
    order = np.argsort(ad["PartType1", "ParticleIDs"].value)
    v_yt = ad["PartType1", "Velocities"].to("km/s").value[order]
    ref = snap.particles[1]
    np.testing.assert_allclose(v_yt, ref.vel[np.argsort(ref.ids)], rtol=1e-6, atol=1e-6)  # peculiar km/s
    x_yt = ad["PartType1", "Coordinates"].to("Mpccm/h").value[order]
    np.testing.assert_allclose(x_yt, ref.pos[np.argsort(ref.ids)], rtol=1e-6)


def _galaxy_snapshot(path, bh_only=False):
    from nbody.units import UnitSystem

    u = UnitSystem(mass="1e10 Msun", length="1 kpc")
    rng = np.random.default_rng(3)
    parts = {5: Particles.from_arrays(np.array([1e-3, 1e-3]), np.array([[0.0, 0, 0], [0.5, 0.1, 0]]),
                                      np.array([[0.0, 0, 0], [0, 0.3, 0]]), 5, ids=np.array([1, 2]))}
    if not bh_only:
        n = 50
        pos, vel = rng.normal(0, 1, (n, 3)), rng.normal(0, 0.2, (n, 3))
        parts[4] = Particles.from_arrays(np.full(n, 1e-2), pos, vel, 4, ids=np.arange(10, 10 + n))
    units = {"UnitLength_in_cm": u.length.to_value("cm"), "UnitMass_in_g": u.mass.to_value("g"),
             "UnitVelocity_in_cm_per_s": u.velocity.to_value("cm/s"), "ComovingIntegrationOn": 0}
    header = {"BoxSize": 0.0, "Time": 0.0, "Redshift": 0.0, "HubbleParam": 1.0, "Omega0": 0.0, "OmegaLambda": 0.0}
    write_snapshot(path, Snapshot(parts, header=header, units=units))
    return u


def test_galaxy_units_and_a_black_hole_only_file(yt, tmp_path):
    u = _galaxy_snapshot(tmp_path / "g.hdf5")
    ds = load_yt(tmp_path / "g.hdf5")
    ad = ds.all_data()
    snap = read_snapshot(tmp_path / "g.hdf5")
    o = np.argsort(ad["PartType4", "ParticleIDs"].value)
    ref = snap.particles[4]
    vel_kms = ref.vel[np.argsort(ref.ids)] * u.velocity.to_value("km/s")   # code unit ~207 km/s
    # astropy's and unyt's constants differ slightly (kpc by ~2e-10, the solar mass by 3e-6 relative)
    np.testing.assert_allclose(ad["PartType4", "Velocities"].to("km/s").value[o], vel_kms, rtol=1e-8)
    np.testing.assert_allclose(ad["PartType4", "Coordinates"].to("kpc").value[o], ref.pos[np.argsort(ref.ids)],
                               rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(ad["PartType4", "Masses"].to("Msun").value, 1e8, rtol=1e-5)
    _galaxy_snapshot(tmp_path / "bh.hdf5", bh_only=True)   # two black holes in one plane
    bh = load_yt(tmp_path / "bh.hdf5").all_data()["PartType5", "Coordinates"].to("kpc").value
    np.testing.assert_allclose(np.sort(bh[:, 0]), [0.0, 0.5], atol=1e-12)
