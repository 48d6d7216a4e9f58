"""cosmo: E_G / V_G gravity forecasts from kSZ-reconstructed velocities and CMB lensing, and dark-matter flow statistics of N-body particles.

Units inside ``cosmo``: k in h/Mpc, lengths in Mpc/h, P(k) in (Mpc/h)^3, H in km/s/Mpc,
velocities in km/s; astropy Quantities are accepted at the API edge.
"""
from .background import Background, background, get_cosmology
from .growth import growth_factor, growth_factor_k, growth_rate, growth_rate_k, solve_growth
from .power import linear_power, sigma_R

__all__ = [
    "Background",
    "background",
    "get_cosmology",
    "growth_factor",
    "growth_factor_k",
    "growth_rate",
    "growth_rate_k",
    "linear_power",
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
