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
