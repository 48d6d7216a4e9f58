"""kSZ radial weight and velocity reconstruction noise N_vv(k, mu)."""
import math

import numpy as np
import pytest
from astropy import constants as const
from astropy import units as u
from astropy.cosmology import Planck18

from cosmo.ksz import electron_density0, ksz_weight, nvv, nvv_white, optical_depth
from cosmo.surveys import CMBExperiment, load_surveys

S = load_surveys()
LRG = S.sample("DESI_LRG")
Z = 0.75
B = float(LRG.bias(Z))
NBAR = float(LRG.nbar())


def test_ksz_weight_against_astropy_constants():
    rho_c = (3 * Planck18.H0**2 / (8 * math.pi * const.G)).to(u.kg / u.m**3)
    ne = ((1 - 0.2454 / 2) * Planck18.Ob0 * rho_c / const.m_p).to(1 / u.Mpc**3).value  # per Mpc^3
    h = Planck18.h
    assert electron_density0() == pytest.approx(ne / h**3, rel=1e-6)
    K0 = -2.7255e6 * const.sigma_T.to(u.Mpc**2).value * ne  # uK per Mpc at z = 0
    assert ksz_weight(0.0) == pytest.approx(K0 / h, rel=1e-6)
    # (1+z)^2 e^{-tau} scaling
    assert ksz_weight(1.0) / ksz_weight(0.0) == pytest.approx(4 * math.exp(-optical_depth(1.0)), rel=1e-10)
    assert 0.005 < optical_depth(2.0) < 0.015


def test_nvv_white_and_inverse_mu_squared():
    exp = S.experiment("SO_baseline")
    k = np.array([0.005, 0.02, 0.1])
    mu = np.array([0.2, 0.5, 1.0])
    N = nvv(k[:, None], mu[None, :], exp, Z, B, NBAR, S.foregrounds)
    assert np.allclose(N * mu[None, :] ** 2, N[0, -1], rtol=1e-12)
    # reconstruction noise of the order of the velocity power at k ~ 0.05 (Smith et al. 2018, Fig. 2)
    assert 1e9 < N[0, -1] < 1e12


def test_nvv_scaling_with_number_density():
    exp = S.experiment("SO_baseline")
    # shot-noise dominated P_gg^tot -> N_vv ∝ 1/nbar
    n1 = nvv_white(exp, Z, B, 1e-7, S.foregrounds)
    n2 = nvv_white(exp, Z, B, 2e-7, S.foregrounds)
    assert n1 / n2 == pytest.approx(2.0, rel=1e-3)
    # denser sample -> lower noise, saturating when P_gg^tot -> b^2 P
    assert nvv_white(exp, Z, B, 1e-3, S.foregrounds) < nvv_white(exp, Z, B, 1e-4, S.foregrounds)


def test_nvv_scaling_with_cmb_noise():
    # white-noise dominated C^TT,tot (huge noise, no beam, no foregrounds): N_vv ∝ Delta_T^2
    e1 = CMBExperiment(freqs_ghz=[150.0], beam_arcmin=[0.0], noise_uK_arcmin=[3e5], name="noisy")
    e2 = CMBExperiment(freqs_ghz=[150.0], beam_arcmin=[0.0], noise_uK_arcmin=[6e5], name="noisier")
    assert nvv_white(e2, Z, B, NBAR, None) / nvv_white(e1, Z, B, NBAR, None) == pytest.approx(4.0, rel=2e-3)
    # SO goal beats SO baseline beats ACT
    n = [nvv_white(S.experiment(e), Z, B, NBAR, S.foregrounds) for e in ("SO_goal", "SO_baseline", "ACT_DR6")]
    assert n[0] < n[1] < n[2]


def test_bad_input():
    exp = S.experiment("SO_baseline")
    with pytest.raises(ValueError, match="mu"):
        nvv(0.1, 0.0, exp, Z, B, NBAR, S.foregrounds)
    with pytest.raises(ValueError, match="nbar"):
        nvv_white(exp, Z, B, -1.0, S.foregrounds)
