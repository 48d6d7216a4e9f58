"""C^{kappa g} against CAMB's own source windows; lensing reconstruction noise; ILC."""
import numpy as np
import pytest

from cosmo.lensing import cmb_spectra, quadratic_estimator_noise
from cosmo.spectra import ModelSpectra
from cosmo.surveys import CMBExperiment, ilc_noise, load_surveys

S = load_surveys()


@pytest.fixture(scope="module")
def camb_ckg():
    """C_l^{kappa g} from CAMB's number-count source window (density term only, Limber, linear P)."""
    import camb
    from camb import sources

    from cosmo.power import camb_params

    g = S.sample("DESI_LRG")
    z = np.linspace(g.z_min - 0.02, g.z_max + 0.02, 300)
    # dN/dz of the constant-comoving-density window with smooth 0.01-wide edges for the spline
    from cosmo.background import background

    bg = background()
    dndz = bg.chi(z) ** 2 / bg.E(z)
    edge = 0.5 * (np.tanh((z - g.z_min) / 0.004) - np.tanh((z - g.z_max) / 0.004))
    w = dndz * edge
    bias = g.bD / __import__("cosmo").growth_factor(z=z)
    p = camb_params(redshifts=[0.0])
    p.WantCls = True
    p.set_for_lmax(800, lens_potential_accuracy=1)
    p.NonLinear = camb.model.NonLinear_none  # after set_for_lmax, which switches on non-linear lensing
    p.SourceWindows = [sources.SplinedSourceWindow(z=z, W=w, bias_z=bias)]
    st = p.SourceTerms
    st.counts_redshift = st.counts_lensing = st.counts_velocity = st.counts_radial = False
    st.counts_timedelay = st.counts_ISW = st.counts_potential = st.counts_evolve = False
    st.limber_windows = True
    res = camb.get_results(p)
    cl = res.get_source_cls_dict(raw_cl=True, lmax=800)
    ell = np.arange(cl["PxW1"].size)
    ckg = 0.5 * ell * (ell + 1) * cl["PxW1"]
    return ell, ckg, z, w, bias, g


def test_ckappag_matches_camb_sources(camb_ckg):
    ell, ckg, z, w, bias, g = camb_ckg
    ms = ModelSpectra(method="camb")
    sel = np.array([30, 60, 100, 200, 300, 500])
    ours = ms.c_kappa_g(sel.astype(float), g)
    rel = ours / ckg[sel] - 1
    assert np.max(np.abs(rel)) < 0.01, rel


def test_qe_noise_properties():
    exp = S.experiment("SO_baseline")
    L = np.array([50.0, 200.0, 800.0])
    mv, parts = quadratic_estimator_noise(exp, L, S.foregrounds)
    for n in parts.values():
        assert np.all(mv <= n * (1 + 1e-12))
    # lower noise -> lower reconstruction noise; SO goal beats baseline beats ACT DR6
    goal, _ = quadratic_estimator_noise(S.experiment("SO_goal"), L, S.foregrounds)
    act, _ = quadratic_estimator_noise(S.experiment("ACT_DR6"), L, S.foregrounds)
    assert np.all(goal < mv) and np.all(mv < act)
    # reconstruction S/N per mode ~ 1 near L ~ 100-200 for ACT-like data (Qu et al. 2024, Fig. 1)
    from cosmo.spectra import c_kappa_kappa

    ckk = c_kappa_kappa(L)
    assert 0.3 < ckk[0] / act[0] < 10


def test_qe_tt_scales_with_white_noise_when_noise_dominated():
    # N^TT ∝ (C^tot)^2 / C^2 response: with noise >> CMB, N ∝ (C^tot)^2 ∝ Delta_T^4
    e1 = CMBExperiment(freqs_ghz=[150.0], beam_arcmin=[0.0], noise_uK_arcmin=[1e5], lensing_estimators=["TT"],
                       lensing_ell_min=30, name="a")
    e2 = CMBExperiment(freqs_ghz=[150.0], beam_arcmin=[0.0], noise_uK_arcmin=[2e5], lensing_estimators=["TT"],
                       lensing_ell_min=30, name="b")
    n1, _ = quadratic_estimator_noise(e1, [100.0], None)
    n2, _ = quadratic_estimator_noise(e2, [100.0], None)
    assert n2[0] / n1[0] == pytest.approx(16.0, rel=0.01)


def test_ilc_single_channel_and_inverse_variance():
    ell = np.array([500.0, 2000.0])
    e = CMBExperiment(freqs_ghz=[150.0, 150.0], beam_arcmin=[1.0, 1.0], noise_uK_arcmin=[10.0, 10.0], name="x")
    one = CMBExperiment(freqs_ghz=[150.0], beam_arcmin=[1.0], noise_uK_arcmin=[10.0], name="y")
    assert np.allclose(ilc_noise(e, ell, None), 0.5 * ilc_noise(one, ell, None), rtol=1e-10)
    assert np.allclose(ilc_noise(one, ell, None), one.channel_noise(ell)[0], rtol=1e-12)
    with pytest.raises(Exception, match="noise_uK_arcmin"):
        CMBExperiment(freqs_ghz=[150.0], beam_arcmin=[1.0], noise_uK_arcmin=[-1.0], name="bad")


def test_cmb_spectra_sane():
    cl = cmb_spectra()
    ell = cl["ell"]
    d = ell * (ell + 1) / (2 * np.pi)
    i = int(np.argmax(d[2:2000] * cl["TT"][2:2000])) + 2
    assert 180 < i < 260                       # first acoustic peak
    assert 5000 < (d * cl["TT"])[i] < 6500     # uK^2


def test_ckappakappa_matches_camb_lensing_potential():
    # Limber + halofit (Takahashi) vs CAMB's own non-linear lensing potential power (beyond Limber)
    from cosmo.spectra import c_kappa_kappa

    L = np.array([20, 50, 100, 200, 400, 800])
    rel = c_kappa_kappa(L.astype(float)) / cmb_spectra()["kk"][L] - 1
    assert np.max(np.abs(rel)) < 0.02, rel
