"""Remnant fits: published numerical-relativity numbers."""
import numpy as np
import pytest

from nbody.mergers import C_KMS, isco_energy, isco_radius, remnant

X = (np.zeros(3), np.array([1.0, 0, 0]), np.zeros(3), np.array([0, 1.0, 0]))


def _rem(q, chi1=(0, 0, 0), chi2=(0, 0, 0)):
    m1, m2 = 1 / (1 + q), q / (1 + q)
    x1, x2 = np.array([m2, 0, 0]), np.array([-m1, 0, 0])
    v1, v2 = np.array([0, m2, 0]), np.array([0, -m1, 0])
    return remnant(m1, m2, np.array(chi1, float), np.array(chi2, float), x1, x2, v1, v2, C_KMS)


def test_isco():
    assert isco_radius(0.0) == pytest.approx(6.0)
    assert isco_radius(1.0) == pytest.approx(1.0, abs=1e-6)
    assert isco_radius(-1.0) == pytest.approx(9.0)
    assert isco_energy(0.0) == pytest.approx(np.sqrt(8 / 9))


def test_equal_mass_nonspinning():
    """NR: final spin 0.686, radiated energy 4.8% M, no recoil (e.g. Scheel et al. 2009; Rezzolla 2008)."""
    r = _rem(1.0)
    assert r["chi_magnitude"] == pytest.approx(0.686, abs=0.003)
    assert np.allclose(r["chi"] / r["chi_magnitude"], [0, 0, 1])  # along L
    assert r["e_rad"] == pytest.approx(0.048, abs=0.002)
    assert r["mass"] == pytest.approx(1 - r["e_rad"])
    assert np.linalg.norm(r["recoil"]) == pytest.approx(0.0, abs=1e-12)


def test_mass_ratio_kick_maximum():
    """Non-spinning kicks peak at ~175 km/s near q = 0.36 (Gonzalez et al. 2007, PRL 98, 091101)."""
    qs = np.linspace(0.2, 0.8, 121)
    kicks = np.array([_rem(q)["kick_kms"] for q in qs])
    assert kicks.max() == pytest.approx(175.0, abs=5.0)
    assert 0.3 < qs[kicks.argmax()] < 0.42
    # recoil lies in the orbital plane for non-spinning binaries
    assert abs(_rem(0.5)["recoil"][2]) < 1e-12


def test_aligned_spins_raise_final_spin_superkick_out_of_plane():
    up = _rem(1.0, (0, 0, 0.9), (0, 0, 0.9))
    down = _rem(1.0, (0, 0, -0.9), (0, 0, -0.9))
    assert up["chi_magnitude"] > 0.85 and down["chi_magnitude"] < 0.5
    assert up["e_rad"] > down["e_rad"]
    sk = _rem(1.0, (0.8, 0, 0), (-0.8, 0, 0))  # antiparallel in-plane spins: "superkick" along L
    assert sk["kick_kms"] > 1000
    assert abs(sk["recoil"][2]) / np.linalg.norm(sk["recoil"]) > 0.99


def test_bad_masses():
    with pytest.raises(ValueError, match="positive"):
        remnant(0.0, 1.0, np.zeros(3), np.zeros(3), *X, 1.0)
