"""cosmo: E_G / V_G gravity forecasts from kSZ-reconstructed velocities and CMB lensing, and dark-matter flow statistics of N-body particles.

Units inside ``cosmo``: k in h/Mpc, lengths in Mpc/h, P(k) in (Mpc/h)^3, H in km/s/Mpc,
velocities in km/s; astropy Quantities are accepted at the API edge.

API conventions: the epoch is the redshift ``z`` everywhere (``linear_power(k, z)``,
``nonlinear_power(k, z)``, ``e_g(model, k, z=...)``); the growth functions take it by keyword,
``growth_factor(z=...)`` / ``growth_rate(z=...)`` / ``solve_growth(k, z=...)``, or explicitly the
scale factor ``a=...``; a positional epoch there raises TypeError. Arrays over redshift and
wavenumber have shape (n_z, n_k) (``linear_power``, ``nonlinear_power``, ``e_g``, ``solve_growth``,
``growth_factor_k``, ``growth_rate_k``). Only the gravity models' ``mu(k, a)`` / ``sigma(k, a)``
keep the scale factor of the MGCAMB convention (:mod:`cosmo.mg`). ``nonlinear_power`` has no
``method="eh"`` (it raises); the forecast's ``power_method = "eh"`` uses the linear EH spectrum.

``VGForecast().run()`` is the paper's set-up (ACT DR6 and SO x DESI LRG/ELG/QSO, CAMB, GR + f(R) +
chameleon; about a minute). A coarse one-cell version (Eisenstein-Hu P(k), 5 k bins, coarse
(k, mu) sums), for a first look:

>>> from cosmo import VGForecast
>>> small = {"forecast": {"experiments": ["SO_baseline"], "samples": ["DESI_LRG"], "power_method": "eh",
...                       "n_bins": 5, "n_k": 4, "n_mu": 8},
...          "models": [{"type": "hu_sawicki", "fR0": 1e-4, "n": 1.0, "name": "fR_1e-4"}]}
>>> r = VGForecast(small).run()["SO_baseline x DESI_LRG"]
>>> round(r["z_eff"], 2), round(r["snr"]), round(r["delta_chi2"]["fR_1e-4"], 1)
(0.76, 10, 0.5)
"""

import gpu  # noqa: F401,E402  first: caps Numba threads per MPI rank before Numba loads (gpu.threads)
from gpu.lazy import lazy_exports  # noqa: E402

#: public name -> submodule defining it (imported on first use; see gpu.lazy)
_EXPORTS = {
    "Background": ".background",
    "background": ".background",
    "get_cosmology": ".background",
    "VGConfig": ".forecast",
    "VGForecast": ".forecast",
    "load_vg_config": ".forecast",
    "growth_factor": ".growth",
    "growth_factor_k": ".growth",
    "growth_rate": ".growth",
    "growth_rate_k": ".growth",
    "solve_growth": ".growth",
    "GR": ".mg",
    "BertschingerZukin": ".mg",
    "HuSawicki": ".mg",
    "MuSigma": ".mg",
    "e_g": ".mg",
    "make_model": ".mg",
    "linear_power": ".power",
    "nonlinear_power": ".power",
    "sigma_R": ".power",
    "load_surveys": ".surveys",
    "fit_histogram": ".distributions",
    "fit_pdfs": ".distributions",
    "fit_samples": ".distributions",
    "generalized_kurtosis": ".distributions",
    "dtfe_density": ".dtfe",
    "FoFCatalogue": ".fof",
    "friends_of_friends": ".fof",
    "PairStatistics": ".pairwise",
    "density_pair_statistics": ".pairwise",
    "pair_counts": ".pairwise",
    "pair_moments": ".pairwise",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
__version__ = gpu.__version__
