"""Velocity distribution models and maximum-likelihood fits: Gaussian, logistic, Laplace and X.

Xu (2022, arXiv:2202.06515, sec. 4) compares the pairwise-velocity PDFs at each
separation with symmetric two-parameter families and with the X distribution of
arXiv:2110.03126 (Xu 2023, A&A 675, A92), which has a Gaussian core and exponential
wings, a shape parameter alpha and a velocity scale v0, and tends to a Laplace
distribution as alpha -> 0 and to a Gaussian as alpha -> infinity.

All models here carry a location ``mu`` (pairwise velocities have a mean streaming
``<Delta u_L> != 0``) and are written for ``x = v - mu``:

* Gaussian ``N(mu, sigma)``: variance sigma^2, kurtosis 3;
* logistic (scale s): ``exp(-x/s) / (s (1 + exp(-x/s))^2)``, variance pi^2 s^2 / 3, kurtosis 4.2;
* Laplace (scale b): ``exp(-|x|/b) / (2 b)``, variance 2 b^2, kurtosis 6;
* X (alpha, v0): ``f = exp(-alpha sqrt(alpha^2 + x^2/v0^2)) / (2 alpha v0 K1(alpha^2))``,
  the symmetric hyperbolic distribution (Barndorff-Nielsen 1977, Proc. R. Soc. A 353, 401),
  i.e. a Gaussian whose variance w is spread over the halos as a generalised inverse Gaussian
  ``w / v0^2 ~ GIG(p = 1, b = alpha^2)``. Variance ``v0^2 K2(alpha^2)/K1(alpha^2)``;
  alpha -> infinity: Gaussian of dispersion v0; alpha -> 0: Laplace of scale v0/alpha.
  (This parametrisation has exactly the limits stated in arXiv:2110.03126; the same
  family written as ``exp(-sqrt(beta^2 + x^2/w^2))`` has beta = alpha^2, w = v0/alpha.)

  **Caveat (open):** the functional form above is an assumption. The equation of the X
  distribution in arXiv:2110.03126 could not be checked when this was written; the family
  was chosen because it has the properties described in arXiv:2110.03126's abstract (two parameters, Gaussian core,
  exponential wings, Laplace as alpha -> 0, Gaussian as alpha -> infinity). If Xu's X
  distribution is a different family with these limits, or normalises alpha differently,
  fitted alpha values are not directly comparable with his (the example's alpha = 1.30 near
  his 1.33 at small r is suggestive, not a check). Gaussian, logistic and Laplace fits are
  unaffected.

Generalised kurtosis (Xu 2022, sec. 4): ``K_n = <x^{2n}> / <x^2>^n`` of the centred
variable; Gaussian ``(2n-1)!!``, Laplace ``(2n)!/2^n``, X
``(2n-1)!! K_{n+1}(z) K_1(z)^{n-1} / K_2(z)^n`` with z = alpha^2 (moments of the
GIG mixing, Jorgensen 1982, Lecture Notes in Statistics 9, eq. 2.9).

Fits: unbinned maximum likelihood on samples (:func:`fit_samples`), or binned
(multinomial) maximum likelihood on histograms such as the pair PDFs of
:func:`cosmo.pairwise.pair_moments` (:func:`fit_histogram`), per separation bin
with :func:`fit_pdfs`.
"""
from __future__ import annotations

import dataclasses
from math import factorial

import numpy as np
from scipy import optimize, special

MODELS = ("gaussian", "logistic", "laplace", "x")


# ----------------------------------------------------------------------------------------
# log-densities: parameters are (mu, scale) or (mu, alpha, v0)
# ----------------------------------------------------------------------------------------
def logpdf(model: str, x, *params) -> np.ndarray:
    """Log-density of ``model`` (one of MODELS) at ``x``; params (mu, scale) or (mu, alpha, v0) for X."""
    x = np.asarray(x, dtype=np.float64)
    if model == "gaussian":
        mu, s = params
        return -0.5 * ((x - mu) / s) ** 2 - np.log(s * np.sqrt(2 * np.pi))
    if model == "logistic":
        mu, s = params
        y = -np.abs(x - mu) / s  # symmetric, numerically safe form
        return y - 2 * np.log1p(np.exp(y)) - np.log(s)
    if model == "laplace":
        mu, b = params
        return -np.abs(x - mu) / b - np.log(2 * b)
    if model == "x":
        mu, alpha, v0 = params
        z = alpha * alpha
        # log K1(z) with the exponentially scaled Bessel function: K1(z) = k1e(z) exp(-z)
        logk1 = np.log(special.k1e(z)) - z
        return -alpha * np.sqrt(z + ((x - mu) / v0) ** 2) - np.log(2 * alpha * v0) - logk1
    raise ValueError(f"model must be one of {MODELS}, got {model!r}")


def pdf(model: str, x, *params) -> np.ndarray:
    return np.exp(logpdf(model, x, *params))


def variance(model: str, *params) -> float:
    """Variance of ``model`` with the given parameters (location ignored)."""
    if model == "gaussian":
        return params[1] ** 2
    if model == "logistic":
        return np.pi ** 2 * params[1] ** 2 / 3
    if model == "laplace":
        return 2 * params[1] ** 2
    if model == "x":
        _, alpha, v0 = params
        z = alpha * alpha
        return v0 ** 2 * special.kve(2, z) / special.kve(1, z)
    raise ValueError(f"model must be one of {MODELS}, got {model!r}")


def generalized_kurtosis(model: str, n: int, alpha: float | None = None) -> float:
    """Analytic ``K_n = <x^{2n}>/<x^2>^n`` of a model (scale-free; X needs ``alpha``)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    dfact = float(np.prod(np.arange(2 * n - 1, 0, -2))) if n > 0 else 1.0
    if model == "gaussian":
        return dfact
    if model == "laplace":
        return factorial(2 * n) / 2.0 ** n
    if model == "logistic":
        # moments of the logistic: <x^{2n}> = 2 (2n)! (1 - 2^{1-2n}) zeta(2n) s^{2n}
        m = lambda k: 2 * factorial(2 * k) * (1 - 2.0 ** (1 - 2 * k)) * special.zeta(2 * k)  # noqa: E731
        return m(n) / m(1) ** n
    if model == "x":
        if alpha is None or not alpha > 0:
            raise ValueError("the X distribution's kurtosis needs alpha > 0")
        z = alpha * alpha
        # kve ratios: the exp(z) scalings cancel between numerator and denominator
        return dfact * special.kve(n + 1, z) * special.kve(1, z) ** (n - 1) / special.kve(2, z) ** n
    raise ValueError(f"model must be one of {MODELS}, got {model!r}")


def sample_kurtosis(x, n: int = 2, weights=None) -> float:
    """Empirical generalised kurtosis ``<(x - <x>)^{2n}> / <(x - <x>)^2>^n``."""
    x = np.asarray(x, dtype=np.float64)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=np.float64)
    m = np.average(x, weights=w)
    return np.average((x - m) ** (2 * n), weights=w) / np.average((x - m) ** 2, weights=w) ** n


def alpha_from_kurtosis(kurt: float) -> float:
    """Shape alpha of the X distribution with kurtosis ``kurt`` (3 < kurt < 6)."""
    if not 3.0 < kurt < 6.0:
        raise ValueError(f"the X distribution's kurtosis lies in (3, 6); got {kurt}")
    f = lambda la: generalized_kurtosis("x", 2, np.exp(la)) - kurt  # noqa: E731
    return float(np.exp(optimize.brentq(f, np.log(1e-3), np.log(60.0))))


# ----------------------------------------------------------------------------------------
# fits
# ----------------------------------------------------------------------------------------
@dataclasses.dataclass
class FitResult:
    """A maximum-likelihood fit: model, parameters (dict), log-likelihood, AIC, converged flag."""

    model: str
    params: dict
    loglike: float
    aic: float
    success: bool

    def args(self) -> tuple:
        p = self.params
        return (p["mu"], p["alpha"], p["v0"]) if self.model == "x" else (p["mu"], p["scale"])

    def pdf(self, x):
        return pdf(self.model, x, *self.args())


def _unpack(model, theta):
    if model == "x":
        return theta[0], np.exp(theta[1]), np.exp(theta[2])
    return theta[0], np.exp(theta[1])


def _start(model, mu, sd, kurt):
    if model == "gaussian":
        return [mu, np.log(sd)]
    if model == "logistic":
        return [mu, np.log(sd * np.sqrt(3) / np.pi)]
    if model == "laplace":
        return [mu, np.log(sd / np.sqrt(2))]
    a = alpha_from_kurtosis(min(max(kurt, 3.05), 5.9))
    z = a * a
    v0 = sd / np.sqrt(special.kve(2, z) / special.kve(1, z))
    return [mu, np.log(a), np.log(v0)]


def _result(model, theta, ll, ok):
    p = _unpack(model, theta)
    params = {"mu": p[0], "alpha": p[1], "v0": p[2]} if model == "x" else {"mu": p[0], "scale": p[1]}
    params["std"] = float(np.sqrt(variance(model, *p)))
    k = len(theta)
    return FitResult(model, params, float(ll), float(2 * k - 2 * ll), bool(ok))


def _check_model(model):
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")


def fit_samples(x, model: str, weights=None) -> FitResult:
    """Unbinned maximum-likelihood fit of ``model`` to samples ``x`` (optionally weighted)."""
    _check_model(model)
    x = np.asarray(x, dtype=np.float64).ravel()
    if x.size < 5 or not np.all(np.isfinite(x)):
        raise ValueError("x must hold at least 5 finite samples")
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=np.float64)
    mu, sd = np.average(x, weights=w), np.sqrt(np.average((x - np.average(x, weights=w)) ** 2, weights=w))
    kurt = sample_kurtosis(x, 2, w)
    nll = lambda th: -np.sum(w * logpdf(model, x, *_unpack(model, th)))  # noqa: E731
    theta0 = _start(model, mu, sd, kurt)
    res = optimize.minimize(nll, theta0, method="Nelder-Mead",
                            options={"xatol": 1e-8, "fatol": 1e-9, "maxiter": 4000, "maxfev": 8000})
    return _result(model, res.x, -res.fun, res.success)


def _bin_probabilities(model, edges, p, nsub=8):
    """Probability mass of each histogram bin (composite Simpson rule on nsub sub-intervals)."""
    lo, hi = edges[:-1], edges[1:]
    t = np.linspace(0.0, 1.0, 2 * nsub + 1)
    wts = np.ones_like(t)
    wts[1:-1:2], wts[2:-1:2] = 4.0, 2.0
    xs = lo[:, None] + (hi - lo)[:, None] * t[None, :]
    f = pdf(model, xs, *p)
    return (hi - lo) * (f @ wts) / (3.0 * 2 * nsub)


def fit_histogram(edges, counts, model: str) -> FitResult:
    """Binned maximum-likelihood fit: maximise ``sum_i n_i log(P_i / sum_j P_j)`` over the bins.

    ``counts`` may be weighted counts or a PDF times bin widths (only ratios matter); the
    normalisation over the histogram range makes the fit insensitive to pairs outside it.
    The log-likelihood reported is that of the multinomial with ``sum(counts)`` trials.
    """
    _check_model(model)
    edges = np.asarray(edges, dtype=np.float64)
    n = np.asarray(counts, dtype=np.float64)
    if edges.ndim != 1 or n.shape != (edges.size - 1,):
        raise ValueError(f"counts must have len(edges) - 1 = {edges.size - 1} entries, got {n.shape}")
    if np.any(n < 0) or not n.sum() > 0:
        raise ValueError("counts must be >= 0 with a positive total")
    c = 0.5 * (edges[1:] + edges[:-1])
    mu = np.sum(n * c) / n.sum()
    sd = np.sqrt(np.sum(n * (c - mu) ** 2) / n.sum())
    kurt = np.sum(n * (c - mu) ** 4) / n.sum() / sd ** 4

    def nll(th):
        P = _bin_probabilities(model, edges, _unpack(model, th))
        P = np.maximum(P / P.sum(), 1e-300)
        return -np.sum(n * np.log(P))

    res = optimize.minimize(nll, _start(model, mu, sd, kurt), method="Nelder-Mead",
                            options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 4000, "maxfev": 8000})
    return _result(model, res.x, -res.fun, res.success)


def fit_pdfs(stats, quantity: str = "du_L", models=MODELS, min_pairs: int = 50) -> dict:
    """Fit every separation bin's histogram of ``quantity`` in a :class:`cosmo.pairwise.PairStatistics`.

    Returns ``{model: [FitResult or None per r bin]}`` (None where fewer than ``min_pairs``).
    """
    if stats.pdf is None:
        raise ValueError("the pair statistics hold no PDFs; call pair_moments(..., pdf_bins=...)")
    edges = stats.pdf_bins
    out = {m: [] for m in models}
    for ib in range(len(stats.counts)):
        h = stats.pdf[quantity][ib] * np.diff(edges)
        ok = stats.counts[ib] >= min_pairs and np.all(np.isfinite(h)) and h.sum() > 0
        for m in models:
            out[m].append(fit_histogram(edges, h * stats.counts[ib], m) if ok else None)
    return out
