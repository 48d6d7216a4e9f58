"""Delaunay Tessellation Field Estimator (DTFE) densities of particles in a periodic box.

Schaap & van de Weygaert (2000, A&A 363, L29, eq. 3; van de Weygaert & Schaap 2009,
Lect. Notes Phys. 665, eq. 5.5): the density at particle i is

    rho_i = (D + 1) m_i / W_i,

where ``W_i`` is the volume of the contiguous Voronoi cell of i, the union of all
Delaunay simplices (tetrahedra in D = 3) that have i as a vertex. The linear
interpolation of these vertex densities over each tetrahedron conserves mass exactly:
``sum_T V_T * mean_{v in T}(rho_v) = sum_i rho_i W_i / (D + 1) = sum_i m_i``.

Periodic boxes: the triangulation is built on the particles plus periodic ghost copies
within a padding ``pad`` of the faces (scipy.spatial.Delaunay / Qhull). The padding is
checked: the tetrahedra whose centroid lies inside the box must tile the box volume
(each periodic tetrahedron has exactly one such image); if not, the padding is doubled.
MPI: the box is cut into x-slabs, each rank triangulates its slab plus padding and
computes the densities of its own particles; the results are all-gathered.

Xu (2022, arXiv:2202.06515, sec. 5) uses these per-particle densities to form pairwise
density statistics versus separation: see :func:`cosmo.pairwise.density_pair_statistics`
and :func:`density_spectrum` here.
"""
from __future__ import annotations

import numpy as np

import gpu

from .cell_grid import as_points, check_box, wrap_into_box


def _tet_volumes(pts, simplices):
    a = pts[simplices[:, 0]]
    d1 = pts[simplices[:, 1]] - a
    d2 = pts[simplices[:, 2]] - a
    d3 = pts[simplices[:, 3]] - a
    return np.abs(np.einsum("ij,ij->i", d1, np.cross(d2, d3))) / 6.0


def _padded_points(pos, box, x0, x1, pad):
    """Particles with x in [x0 - pad, x1 + pad) (periodic images) and y, z padded by ``pad``.

    Returns (points, original index of each point)."""
    idx = np.arange(len(pos))
    pts, ids = [], []
    for sx in (-1, 0, 1):
        for sy in (-1, 0, 1):
            for sz in (-1, 0, 1):
                shifted = pos + box * np.array([sx, sy, sz])
                m = ((shifted[:, 0] >= x0 - pad) & (shifted[:, 0] < x1 + pad)
                     & (shifted[:, 1] >= -pad) & (shifted[:, 1] < box + pad)
                     & (shifted[:, 2] >= -pad) & (shifted[:, 2] < box + pad))
                pts.append(shifted[m])
                ids.append(idx[m])
    return np.concatenate(pts), np.concatenate(ids)


def contiguous_voronoi_volumes(pos, box, pad=None, comm=None, max_tries: int = 4):
    """Volume ``W_i`` of the contiguous Voronoi cell of every particle (periodic box).

    Returns (W, tiled_volume) where ``tiled_volume`` is the total volume of the
    tetrahedra whose centroids lie in the box (= box^3 when the padding is sufficient).
    """
    from scipy.spatial import Delaunay

    box = check_box(box, True)
    pos = wrap_into_box("pos", as_points("pos", pos), box)
    n = len(pos)
    if n < 5:
        raise ValueError(f"DTFE needs at least 5 particles, got {n}")
    comm = gpu.get_comm(comm)
    size, rank = getattr(comm, "size", 1), getattr(comm, "rank", 0)
    x0, x1 = box * rank / size, box * (rank + 1) / size
    pad = 3.0 * box / n ** (1.0 / 3.0) if pad is None else float(pad)
    if not pad > 0:
        raise ValueError(f"pad must be > 0, got {pad}")
    mine = (pos[:, 0] >= x0) & (pos[:, 0] < x1)
    for _ in range(max_tries):
        pad = min(pad, box)
        pts, ids = _padded_points(pos, box, x0, x1, pad)
        tri = Delaunay(pts)
        simp = tri.simplices
        vol = _tet_volumes(pts, simp)
        cen = pts[simp].mean(axis=1)
        inside = ((cen[:, 0] >= x0) & (cen[:, 0] < x1) & (cen[:, 1] >= 0) & (cen[:, 1] < box)
                  & (cen[:, 2] >= 0) & (cen[:, 2] < box))
        tiled = float(vol[inside].sum())
        # every tetrahedron touching one of my particles (as the original, unshifted point)
        W = np.zeros(len(pts))
        for k in range(4):
            np.add.at(W, simp[:, k], vol)
        orig = np.zeros(len(pts), dtype=bool)
        # the unshifted copy of particle i is the one lying in the box
        inbox = (pts[:, 0] >= 0) & (pts[:, 0] < box) & (pts[:, 1] >= 0) & (pts[:, 1] < box) & \
                (pts[:, 2] >= 0) & (pts[:, 2] < box)
        orig[inbox] = True
        Wi = np.zeros(n)
        sel = orig & mine[ids]
        Wi[ids[sel]] = W[sel]
        # check (collective): the centroid-selected tetrahedra of all ranks tile the box, and the
        # cells of my particles stay clear of the padding's outer hull
        tiled_all = float(gpu.allreduce_sum(comm, np.array([tiled]))[0])
        ok = gpu.allreduce_sum(comm, np.array([int(_cells_inside(tri, pts, ids, sel, x0, x1, box, pad))]))[0]
        if abs(tiled_all - box ** 3) <= 1e-9 * box ** 3 and ok == size:
            break
        pad *= 2.0
    else:
        raise RuntimeError(f"DTFE ghost padding failed to reproduce the periodic tessellation (pad = {pad}); "
                           "the particle distribution may be too sparse")
    return gpu.allreduce_sum(comm, Wi), tiled_all


def _cells_inside(tri, pts, ids, sel, x0, x1, box, pad):
    """True when no simplex around my particles reaches the outer 30% of the padding."""
    simp = tri.simplices
    touch = sel[simp].any(axis=1)
    p = pts[simp[touch]].reshape(-1, 3)
    lim = 0.7 * pad
    return bool(np.all(p[:, 0] >= x0 - lim) and np.all(p[:, 0] < x1 + lim)
                and np.all(p[:, 1:] >= -lim) and np.all(p[:, 1:] < box + lim))


def dtfe_density(pos, box, mass=None, pad=None, comm=None) -> np.ndarray:
    """DTFE density ``rho_i = 4 m_i / W_i`` at every particle of a periodic box (D = 3).

    Parameters
    ----------
    pos : (N, 3) positions in [0, box).
    box : float  box side.
    mass : (N,) or float, optional (default 1 per particle; density in mass per unit volume^3).
    pad : float, optional  ghost padding width (default 3 mean separations; doubled as needed).
    """
    pos = as_points("pos", pos)
    n = len(pos)
    m = np.broadcast_to(np.asarray(1.0 if mass is None else mass, dtype=np.float64), (n,))
    if not np.all(np.isfinite(m)) or np.any(m <= 0):
        raise ValueError("mass must be finite and > 0")
    W, _ = contiguous_voronoi_volumes(pos, box, pad=pad, comm=comm)
    return 4.0 * m / W


def density_spectrum(r, corr, k) -> np.ndarray:
    """Spectrum of a pair correlation function: ``P(k) = 4 pi int xi(r) r^2 sin(kr)/(kr) dr``.

    Trapezoidal rule over the tabulated ``r`` (Peebles 1980, eq. 41.4 convention).
    """
    r = np.asarray(r, dtype=np.float64)
    corr = np.asarray(corr, dtype=np.float64)
    k = np.atleast_1d(np.asarray(k, dtype=np.float64))
    ok = np.isfinite(corr)
    r, corr = r[ok], corr[ok]
    kr = k[:, None] * r[None, :]
    integrand = corr[None, :] * r[None, :] ** 2 * np.sinc(kr / np.pi)
    return 4.0 * np.pi * np.trapezoid(integrand, r, axis=1)
