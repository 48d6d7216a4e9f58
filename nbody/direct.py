"""Direct-summation softened gravity: the O(N^2) reference for the tree and the small-N solver."""
from __future__ import annotations

import numpy as np

from ._kernels.direct import direct_accel
from .softening import spline_radius


def _as_eps(eps, n):
    eps = np.broadcast_to(np.asarray(eps, dtype=np.float64), (n,))
    return np.ascontiguousarray(spline_radius(eps))


def check_particles(pos, mass):
    pos = np.ascontiguousarray(pos, dtype=np.float64)
    mass = np.ascontiguousarray(mass, dtype=np.float64)
    if pos.ndim != 2 or pos.shape[1] != 3:
        raise ValueError(f"pos must have shape (N, 3), got {pos.shape}")
    if mass.shape != (pos.shape[0],):
        raise ValueError(f"mass must have shape ({pos.shape[0]},), got {mass.shape}")
    if np.any(mass < 0) or not np.all(np.isfinite(mass)):
        raise ValueError("mass must be finite and >= 0")
    if not np.all(np.isfinite(pos)):
        raise ValueError("pos must be finite")
    return pos, mass


def direct_forces(pos, mass, eps, G=1.0, targets=None, potential=True):
    """Softened accelerations and potentials by direct summation.

    Parameters
    ----------
    pos : (N, 3) float array; mass : (N,) ; eps : float or (N,) Plummer-equivalent
        softening (cubic spline with h = 2.8 eps; pairs use max(h_i, h_j)).
    G : gravitational constant in the caller's units (1 for N-body units).
    targets : indices of the particles to compute (default all).

    Returns
    -------
    acc (len(targets), 3), pot (len(targets),) -- pot excludes the self term.
    """
    pos, mass = check_particles(pos, mass)
    h = _as_eps(eps, len(mass))
    t = np.arange(len(mass)) if targets is None else np.ascontiguousarray(targets, dtype=np.int64)
    return direct_accel(t, pos, mass, h, float(G), bool(potential))


def potential_energy(pos, mass, eps, G=1.0):
    """Total softened potential energy W = 1/2 sum_i m_i phi_i (direct sum)."""
    _, pot = direct_forces(pos, mass, eps, G)
    return 0.5 * float(np.sum(np.asarray(mass) * pot))
