"""Distribution models: normalisation, moments, limits, and ML fits recovering known parameters."""
import numpy as np
import pytest
from scipy import integrate, stats

from cosmo.distributions import (MODELS, alpha_from_kurtosis, fit_histogram, fit_samples, generalized_kurtosis,
                                 logpdf, pdf, variance)

PARAMS = {"gaussian": (0.3, 1.2), "logistic": (-0.2, 0.7), "laplace": (0.1, 0.9), "x": (-0.4, 1.3, 1.1)}


def draw(model, n, rng):
    p = PARAMS[model]
    if model == "gaussian":
        return rng.normal(p[0], p[1], n)
    if model == "logistic":
        return rng.logistic(p[0], p[1], n)
    if model == "laplace":
        return rng.laplace(p[0], p[1], n)
    mu, alpha, v0 = p  # Gaussian variance mixture: w / v0^2 ~ GIG(p=1, b=alpha^2)
    w = v0 ** 2 * stats.geninvgauss.rvs(1.0, alpha ** 2, size=n, random_state=rng)
    return mu + np.sqrt(w) * rng.normal(size=n)


@pytest.mark.parametrize("model", MODELS)
def test_normalisation_variance_kurtosis(model):
    p = PARAMS[model]
    norm = integrate.quad(lambda x: pdf(model, x, *p), -np.inf, np.inf)[0]
    var = integrate.quad(lambda x: (x - p[0]) ** 2 * pdf(model, x, *p), -np.inf, np.inf)[0]
    m4 = integrate.quad(lambda x: (x - p[0]) ** 4 * pdf(model, x, *p), -np.inf, np.inf)[0]
    m6 = integrate.quad(lambda x: (x - p[0]) ** 6 * pdf(model, x, *p), -np.inf, np.inf)[0]
    assert norm == pytest.approx(1.0, rel=1e-8)
    assert var == pytest.approx(variance(model, *p), rel=1e-7)
    alpha = p[1] if model == "x" else None
    assert m4 / var ** 2 == pytest.approx(generalized_kurtosis(model, 2, alpha), rel=1e-6)
    assert m6 / var ** 3 == pytest.approx(generalized_kurtosis(model, 3, alpha), rel=1e-6)


def test_known_kurtosis_values():
    assert generalized_kurtosis("gaussian", 2) == 3 and generalized_kurtosis("laplace", 2) == 6
    assert generalized_kurtosis("logistic", 2) == pytest.approx(4.2)
    assert generalized_kurtosis("x", 2, 1e-2) == pytest.approx(6.0, rel=1e-3)
    assert generalized_kurtosis("x", 2, 60.0) == pytest.approx(3.0, rel=1e-3)
    assert alpha_from_kurtosis(generalized_kurtosis("x", 2, 1.33)) == pytest.approx(1.33, rel=1e-8)


def test_x_distribution_limits():
    x = np.linspace(-4, 4, 41)
    # alpha -> infinity: Gaussian of dispersion v0
    assert np.allclose(pdf("x", x, 0.0, 40.0, 1.0), stats.norm.pdf(x), rtol=0.02, atol=1e-6)
    # alpha -> 0: Laplace of scale v0/alpha
    a = 0.02
    assert np.allclose(pdf("x", x, 0.0, a, a * 1.0), stats.laplace.pdf(x), rtol=2e-3, atol=1e-6)


@pytest.mark.parametrize("model", MODELS)
def test_unbinned_fit_recovers_parameters(model):
    rng = np.random.default_rng(11)
    x = draw(model, 40000, rng)
    fit = fit_samples(x, model)
    truth = PARAMS[model]
    got = fit.args()
    assert fit.success
    assert got[0] == pytest.approx(truth[0], abs=0.03)
    for g, t in zip(got[1:], truth[1:]):
        assert g == pytest.approx(t, rel=0.06)
    # the true model is preferred (lowest AIC) over the others
    aics = {m: fit_samples(x, m).aic for m in MODELS}
    assert min(aics, key=aics.get) == model or aics[model] - min(aics.values()) < 4


@pytest.mark.parametrize("model", MODELS)
def test_binned_fit_recovers_parameters(model):
    rng = np.random.default_rng(5)
    x = draw(model, 60000, rng)
    edges = np.linspace(-8, 8, 81)
    counts, _ = np.histogram(x, edges)
    fit = fit_histogram(edges, counts, model)
    truth = PARAMS[model]
    got = fit.args()
    assert got[0] == pytest.approx(truth[0], abs=0.03)
    for g, t in zip(got[1:], truth[1:]):
        assert g == pytest.approx(t, rel=0.06)


def test_bad_input():
    with pytest.raises(ValueError, match="model"):
        logpdf("cauchy", 0.0, 0, 1)
    with pytest.raises(ValueError, match="counts"):
        fit_histogram(np.linspace(0, 1, 5), np.ones(3), "gaussian")
    with pytest.raises(ValueError, match=r"\(3, 6\)"):
        alpha_from_kurtosis(7.0)
