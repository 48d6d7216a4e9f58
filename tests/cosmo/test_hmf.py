"""The Tinker et al. (2008) halo mass function (cosmo.hmf)."""
from __future__ import annotations

import numpy as np
import pytest
from astropy.cosmology import FlatLambdaCDM

from cosmo.hmf import TINKER08_TABLE, sigma_of_mass, tinker08_dndlnm, tinker08_f, tinker08_parameters

H, OM, OB, NS, S8 = 0.6766, 0.30966, 0.04897, 0.9665, 0.8102
COSMO = FlatLambdaCDM(H0=100 * H, Om0=OM, Ob0=OB, Tcmb0=0.0, meta={"n": NS, "sigma8": S8})


def test_parameters_table_and_redshift_evolution():
    """Table 2 values at the tabulated Delta; eqs. 5-8 at z = 1 (alpha(200) = 10^-(0.75/log10(200/75))^1.2)."""
    for row in TINKER08_TABLE:
        assert tinker08_parameters(row[0]) == pytest.approx(tuple(row[1:]), rel=1e-12)
    A, a, b, c = tinker08_parameters(200.0, 1.0)
    alpha = 10 ** (-(0.75 / np.log10(200 / 75)) ** 1.2)
    assert (A, a, b, c) == pytest.approx((0.186 * 2 ** -0.14, 1.47 * 2 ** -0.06, 2.57 * 2 ** -alpha, 1.19))
    between = tinker08_parameters(250.0)
    assert 0.186 < between[0] < 0.200 and 2.25 < between[2] < 2.57
    # f(sigma) at sigma = b: A (1 + 1) exp(-c / b^2)
    assert tinker08_f(2.57) == pytest.approx(2 * 0.186 * np.exp(-1.19 / 2.57 ** 2), rel=1e-12)


def test_sigma_of_mass_is_sigma8_at_8_mpc():
    """The top-hat sphere of radius 8 Mpc/h holds M = (4 pi / 3) Omega_m rho_crit 8^3: sigma(M) = sigma8."""
    M8 = 4 * np.pi / 3 * OM * 2.77536627e11 * 8.0 ** 3
    assert sigma_of_mass(M8, COSMO, method="eh", sigma8=S8)[0] == pytest.approx(S8, rel=2e-3)


def test_against_ccl():
    """dn/dlnM of Delta = 200m halos at z = 0 against CCL's MassFuncTinker08 with the same Eisenstein-Hu linear
    power (measured agreement 5e-5 from 1e11 to 1e15 Msun/h)."""
    ccl = pytest.importorskip("pyccl")
    c = ccl.Cosmology(Omega_c=OM - OB, Omega_b=OB, h=H, n_s=NS, sigma8=S8, transfer_function="eisenstein_hu",
                      T_CMB=2.7255, Neff=0, m_nu=0, Omega_g=0)
    M = np.logspace(11, 15, 9)
    ours = tinker08_dndlnm(M, COSMO, 0.0, 200.0, method="eh", sigma8=S8)
    ref = ccl.halos.MassFuncTinker08(mass_def=ccl.halos.MassDef200m)(c, M / H, 1.0) / np.log(10) / H ** 3
    np.testing.assert_allclose(ours, ref, rtol=1e-3)


@pytest.mark.parametrize("kw", [{"delta": 100.0}, {"delta": 5000.0}, {"z": -1.0}, {"z": np.nan}])
def test_bad_arguments(kw):
    with pytest.raises(ValueError):
        tinker08_parameters(**kw)
    with pytest.raises(ValueError, match="M must be"):
        sigma_of_mass([1e12, -1.0], COSMO, method="eh")
