"""Initial conditions: Eddington inversion against analytic distribution functions, sampled profiles, orbits."""
import numpy as np
import pytest

from nbody.direct import direct_forces
from nbody.ics import (DehnenModel, EddingtonDF, HernquistModel, PlummerModel, galaxy_merger, kepler_orbit_state,
                       spherical_galaxy)


def test_eddington_plummer_matches_analytic_df():
    # f(E) = 24 sqrt(2) / (7 pi^3) a^2 / (G^5 M^4) E^(7/2)  (Binney & Tremaine 2008, eq. 4.83 with n = 5)
    m = PlummerModel(mass=2.0, a=0.7)
    df = EddingtonDF(m)
    E = np.array([0.05, 0.3, 0.7, 0.95]) * (2.0 / 0.7)
    exact = 24 * np.sqrt(2) / (7 * np.pi**3) * 0.7**2 / 2.0**4 * E**3.5
    assert np.allclose(df.f(E), exact, rtol=5e-3)


def test_eddington_hernquist_matches_analytic_df():
    # Hernquist (1990, ApJ 356, 359), eq. (17)
    M, a = 1.0, 1.0
    df = EddingtonDF(HernquistModel(M, a))
    q = np.array([0.2, 0.5, 0.8, 0.95])
    E = q**2 * M / a
    vg = np.sqrt(M / a)
    exact = (M / (8 * np.sqrt(2) * np.pi**3 * a**3 * vg**3) * (1 - q**2) ** -2.5
             * (3 * np.arcsin(q) + q * np.sqrt(1 - q**2) * (1 - 2 * q**2) * (8 * q**4 - 8 * q**2 - 3)))
    assert np.allclose(df.f(E), exact, rtol=1e-2)


def test_dehnen_model_consistency():
    m = DehnenModel(gamma=1.5, mass=3.0, a=2.0)
    r = np.logspace(-3, 3, 50)
    # dM/dr = 4 pi r^2 rho and the mass inversion
    dr = r * 1e-6
    dM = (m.enclosed_mass(r + dr) - m.enclosed_mass(r - dr)) / (2 * dr)
    assert np.allclose(dM, 4 * np.pi * r**2 * m.density(r), rtol=1e-6)
    x = m.enclosed_mass(r) / m.M
    assert np.allclose(m.radius_of_mass(x), r, rtol=1e-8)
    # -dPhi/dr = G M(r) / r^2
    dphi = (m.potential(r + dr) - m.potential(r - dr)) / (2 * dr)
    assert np.allclose(dphi, m.enclosed_mass(r) / r**2, rtol=1e-6)
    with pytest.raises(ValueError, match="gamma"):
        DehnenModel(gamma=3.0)


@pytest.mark.parametrize("profile,m_bh", [("plummer", 0.0), ("hernquist", 0.0), ("hernquist", 0.01),
                                          ("dehnen", 0.005)])
def test_sampled_galaxy_is_in_virial_equilibrium(profile, m_bh):
    p = spherical_galaxy(3000, profile, gamma=1.5, m_bh=m_bh, seed=4, r_max=50)
    _, pot = direct_forces(p.pos, p.mass, 1e-3)
    K = 0.5 * np.sum(p.mass * np.sum(p.vel**2, axis=1))
    W = 0.5 * np.sum(p.mass * pot)
    # 2K/|W| = 1 up to sampling noise (~2/sqrt(N)) and the r_max truncation
    assert 2 * K / abs(W) == pytest.approx(1.0, abs=0.04)
    assert p.is_bh.sum() == (1 if m_bh > 0 else 0)
    c, v = p.com()
    assert np.allclose(v, 0, atol=1e-12)
    # centred on the model centre: the CoM offset is sampling noise ~ r_rms / sqrt(N) per axis
    r_rms = np.sqrt(np.mean(np.sum(p.pos**2, axis=1)))
    assert np.linalg.norm(c) < 4 * r_rms / np.sqrt(len(p))
    if m_bh > 0:
        assert np.all(p.pos[p.is_bh] == 0)


def test_sampled_profile_and_dispersion():
    n = 20000
    p = spherical_galaxy(n, "hernquist", seed=9, r_max=1e4)
    r = np.linalg.norm(p.pos, axis=1)
    # half-mass radius of a Hernquist model: (1 + sqrt 2) a
    assert np.median(r) == pytest.approx(1 + np.sqrt(2), rel=0.04)
    q = PlummerModel()
    pl = spherical_galaxy(n, "plummer", seed=3, r_max=1e3)
    rp = np.linalg.norm(pl.pos, axis=1)
    shell = (rp > 0.5) & (rp < 1.0)
    s1 = np.std(pl.vel[shell], axis=0).mean()
    # isotropic Plummer dispersion sigma^2 = G M / (6 sqrt(r^2 + a^2)), averaged over the shell
    expect = np.sqrt(np.mean(q.velocity_dispersion(rp[shell]) ** 2))
    assert s1 == pytest.approx(expect, rel=0.03)


def test_kepler_orbit_state_and_merger_setup():
    m1, m2 = 1.0, 0.5
    x, v = kepler_orbit_state(m1, m2, r0=10.0, rp=1.0, e=0.9)
    M = m1 + m2
    E = 0.5 * v @ v - M / np.linalg.norm(x)
    h = np.linalg.norm(np.cross(x, v))
    a = 1.0 / (1 - 0.9)
    assert E == pytest.approx(-M / (2 * a))
    assert h == pytest.approx(np.sqrt(M * 1.0 * 1.9))
    assert x @ v < 0  # approaching
    g1 = spherical_galaxy(500, "plummer", mass=m1, m_bh=0.01, seed=1)
    g2 = spherical_galaxy(500, "plummer", mass=m2, m_bh=0.01, seed=2)
    p = galaxy_merger(g1, g2, 10.0, 1.0, e=0.9)
    assert len(p) == 1002 and p.is_bh.sum() == 2
    c, w = p.com()
    assert np.allclose(w, 0, atol=1e-12)
    bh = p.pos[p.is_bh]
    assert np.linalg.norm(bh[1] - bh[0]) == pytest.approx(10.0)
    assert len(np.unique(p.ids)) == len(p)
    with pytest.raises(ValueError, match="rp"):
        kepler_orbit_state(1, 1, r0=1.0, rp=2.0)
    with pytest.raises(ValueError, match="apocentre"):
        kepler_orbit_state(1, 1, r0=100.0, rp=1.0, e=0.5)


def test_bad_ic_arguments():
    with pytest.raises(ValueError, match="profile"):
        spherical_galaxy(10, "nfw")
    with pytest.raises(ValueError, match="m_bh"):
        spherical_galaxy(10, m_bh=-1)
    with pytest.raises(ValueError, match="n must"):
        spherical_galaxy(0)
