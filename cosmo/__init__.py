"""cosmo: E_G / V_G gravity forecasts from kSZ-reconstructed velocities and CMB lensing, and dark-matter flow statistics of N-body particles.

Units inside ``cosmo``: k in h/Mpc, lengths in Mpc/h, P(k) in (Mpc/h)^3, H in km/s/Mpc,
velocities in km/s; astropy Quantities are accepted at the API edge.

>>> from cosmo import VGForecast
>>> res = VGForecast().run()          # ACT DR6 and SO x DESI LRG/ELG/QSO, GR + f(R) + chameleon
>>> res["SO_baseline x DESI_LRG"]["snr"], res["SO_baseline x DESI_LRG"]["delta_chi2"]
"""
from .background import Background, background, get_cosmology
from .forecast import VGConfig, VGForecast, load_vg_config
from .growth import growth_factor, growth_factor_k, growth_rate, growth_rate_k, solve_growth
from .mg import GR, BertschingerZukin, HuSawicki, MuSigma, e_g, make_model
from .power import linear_power, nonlinear_power, sigma_R
from .surveys import load_surveys

__all__ = [
    "Background",
    "BertschingerZukin",
    "GR",
    "HuSawicki",
    "MuSigma",
    "VGConfig",
    "VGForecast",
    "background",
    "e_g",
    "get_cosmology",
    "growth_factor",
    "growth_factor_k",
    "growth_rate",
    "growth_rate_k",
    "linear_power",
    "load_surveys",
    "load_vg_config",
    "make_model",
    "nonlinear_power",
    "sigma_R",
    "solve_growth",
]

# --- dark-matter flow statistics (issue 6) ---
from .distributions import fit_histogram, fit_pdfs, fit_samples, generalized_kurtosis  # noqa: E402
from .dtfe import dtfe_density  # noqa: E402
from .fof import FoFCatalogue, friends_of_friends  # noqa: E402
from .pairwise import PairStatistics, density_pair_statistics, pair_counts, pair_moments  # noqa: E402

__all__ += [
    "FoFCatalogue",
    "PairStatistics",
    "density_pair_statistics",
    "dtfe_density",
    "fit_histogram",
    "fit_pdfs",
    "fit_samples",
    "friends_of_friends",
    "generalized_kurtosis",
    "pair_counts",
    "pair_moments",
]
