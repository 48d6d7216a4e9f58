"""Numba kernel of the TreePM short-range force: a periodic Barnes-Hut walk with the erfc-truncated
pair force (Springel 2005, MNRAS 364, 1105, sec. 2.2-2.3; GADGET-2 ``force_treeevaluate_shortrange``).

The tree is :func:`nbody._kernels.tree_build.build_tree` over positions in ``[0, box)`` (packed with
``pack_nodes``). For each target the walk

* skips every node whose cube lies farther than ``r_cut`` from the target (periodic distance from the
  target to the cube, per axis the minimum image of the centre offset less the half side);
* opens a node whose cube, enlarged by 20 %, contains the target's nearest image (GADGET's 0.6 l test),
  or that may hold a particle within the softening support, else accepts it with the geometric
  criterion of Barnes (1994), ``r > l / theta + delta`` (r: minimum-image distance to the centre of mass,
  delta: its offset from the cube centre); an accepted node contributes its monopole (GADGET-2) and, with
  ``use_quad``, its quadrupole for the truncated potential (:func:`quad_shortrange`);
* sums the particles of opened leaves with minimum-image separations and the cubic-spline softening of
  the tree code (Springel 2005 eq. 4) for r < h.

Every contribution within ``r_cut`` is multiplied by the factor of eq. 24, linearly interpolated in the
table ``tab`` of :func:`nbody.cosmological.split.shortrange_table` (``u = r * tscale``, ``tscale = per_rs / r_s``;
GADGET-2 tabulates it too); contributions beyond ``r_cut`` are dropped (GADGET-2). Minimum images are exact for
``r_cut < box / 2`` (checked by the caller).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from gpu.jit import refresh_stale_cache

from .._kernels.direct import spline_force_factor
from .._kernels.tree_build import N_COMX, N_COMY, N_COMZ, N_CX, N_CY, N_CZ, N_DELTA, N_HALF, N_HMAX, N_MASS
from .split import min_image, shortrange_factor_derivs, table_factor


@njit(cache=True)
def second_moments(pos, mass, f, g):
    """Second moments ``S_ab = sum m y_a y_b`` (y = x - com; rows xx yy zz xy xz yz) of every node, from the
    tree-order positions ``pos`` and the packed nodes (exact sums over each node's particles)."""
    nn = f.shape[0]
    S = np.zeros((nn, 6))
    for i in range(nn):
        cx = f[i, N_COMX]
        cy = f[i, N_COMY]
        cz = f[i, N_COMZ]
        for k in range(g[i, 0], g[i, 0] + g[i, 1]):
            x = pos[k, 0] - cx
            y = pos[k, 1] - cy
            z = pos[k, 2] - cz
            m = mass[k]
            S[i, 0] += m * x * x
            S[i, 1] += m * y * y
            S[i, 2] += m * z * z
            S[i, 3] += m * x * y
            S[i, 4] += m * x * z
            S[i, 5] += m * y * z
    return S


@njit(cache=True, inline="always")
def quad_shortrange(x, y, z, r, rs, sxx, syy, szz, sxy, sxz, syz):
    """Quadrupole acceleration / G at ``(x, y, z)`` = target - centre of mass from a node with second moments S
    in the truncated potential ``psi(r) = -erfc(r / 2 r_s) / r`` (Springel 2005 eq. 23). Taylor expansion of
    ``sum_j m_j psi(|x - y_j|)`` to second order: ``Phi_2 = (D2 x.S.x + D1 tr S) / 2`` with ``D1 = psi'/r = f/r^3``,
    ``D2 = (psi'' - psi'/r) / r^2 = f'/r^4 - 3 f/r^5`` (f: eq. 24 factor), so
    ``a = -[D2' (x.S.x) x / r + 2 D2 S.x + D1' tr S x / r] / 2``. For f = 1 this is Hernquist (1987) eq. 2.5.
    Many arguments: Numba kernels take plain arrays and scalars (no objects in nopython mode).
    """
    f, f1, f2 = shortrange_factor_derivs(r, rs)
    return _quad_from(f, f1, f2, x, y, z, r, sxx, syy, szz, sxy, sxz, syz)


@njit(cache=True, inline="always")
def _quad_from(f, f1, f2, x, y, z, r, sxx, syy, szz, sxy, sxz, syz):
    """:func:`quad_shortrange` given the truncation factor and its derivatives at r.
    Many arguments: Numba kernels take plain arrays and scalars (no objects in nopython mode).
    """
    ri = 1.0 / r
    ri2 = ri * ri
    ri3 = ri2 * ri
    ri4 = ri2 * ri2
    ri5 = ri4 * ri
    ri6 = ri3 * ri3
    d1p = f1 * ri3 - 3.0 * f * ri4
    d2 = f1 * ri4 - 3.0 * f * ri5
    d2p = f2 * ri4 - 7.0 * f1 * ri5 + 15.0 * f * ri6
    sx = sxx * x + sxy * y + sxz * z
    sy = sxy * x + syy * y + syz * z
    sz = sxz * x + syz * y + szz * z
    xsx = x * sx + y * sy + z * sz
    tr = sxx + syy + szz
    c = -0.5 * (d2p * xsx + d1p * tr) * ri
    return c * x - d2 * sx, c * y - d2 * sy, c * z - d2 * sz


@njit(cache=True, inline="always")
def _pair_short(mk, rr2, hij, tab, tscale):
    """Short-range pull m_k g(r) / r^3 of one particle: Newtonian outside the softening length ``hij``,
    the cubic spline inside, times the erfc truncation of the split (Springel 2005 eq. 24, tabulated)."""
    rr = np.sqrt(rr2)
    if rr >= hij:
        fk = mk / (rr2 * rr)
    else:
        fk = mk * spline_force_factor(rr2, hij)
    return fk * table_factor(tab, 0, rr * tscale)


@njit(cache=True, inline="always")
def _walk_short(xi, yi, zi, hi, self_k, pos, mass, h, box, rs, rcut2, theta, f, g, S, use_quad, tab, tscale):
    """One target's walk of the short-range tree (the TreePM split force of each accepted node or leaf
    particle). Many arguments: Numba kernels take plain arrays and scalars (no objects in nopython mode)."""
    ax = 0.0
    ay = 0.0
    az = 0.0
    ninter = 0
    node = 0
    while node != -1:
        hl = f[node, N_HALF]
        l = 2.0 * hl
        cx = min_image(f[node, N_CX] - xi, box)
        cy = min_image(f[node, N_CY] - yi, box)
        cz = min_image(f[node, N_CZ] - zi, box)
        gx = abs(cx) - hl
        gy = abs(cy) - hl
        gz = abs(cz) - hl
        gap2 = 0.0
        if gx > 0.0:
            gap2 += gx * gx
        if gy > 0.0:
            gap2 += gy * gy
        if gz > 0.0:
            gap2 += gz * gz
        if gap2 > rcut2:  # the whole cube is beyond the short-range cut
            node = g[node, 2]
            continue
        accept = False
        dx = 0.0
        dy = 0.0
        dz = 0.0
        r2 = 0.0
        ext = 0.6 * l
        if not (abs(cx) < ext and abs(cy) < ext and abs(cz) < ext):
            dx = min_image(f[node, N_COMX] - xi, box)
            dy = min_image(f[node, N_COMY] - yi, box)
            dz = min_image(f[node, N_COMZ] - zi, box)
            r2 = dx * dx + dy * dy + dz * dz
            r = np.sqrt(r2)
            hp = hi if hi > f[node, N_HMAX] else f[node, N_HMAX]
            delta = f[node, N_DELTA]
            if r > hp + 0.8660254037844386 * l + delta and r * theta > l + theta * delta:
                accept = True
        if accept:
            if r2 < rcut2:
                r = np.sqrt(r2)
                u = r * tscale
                fr = table_factor(tab, 0, u)
                fac = f[node, N_MASS] / (r2 * r) * fr
                ax += fac * dx
                ay += fac * dy
                az += fac * dz
                if use_quad:
                    qx, qy, qz = _quad_from(fr, table_factor(tab, 1, u) / rs, table_factor(tab, 2, u) / (rs * rs),
                                            -dx, -dy, -dz, r, S[node, 0], S[node, 1], S[node, 2], S[node, 3],
                                            S[node, 4], S[node, 5])
                    ax += qx
                    ay += qy
                    az += qz
                ninter += 1
            node = g[node, 2]
        elif g[node, 3] == 1:
            for k in range(g[node, 0], g[node, 0] + g[node, 1]):
                if k == self_k:
                    continue
                ddx = min_image(pos[k, 0] - xi, box)
                ddy = min_image(pos[k, 1] - yi, box)
                ddz = min_image(pos[k, 2] - zi, box)
                rr2 = ddx * ddx + ddy * ddy + ddz * ddz
                if rr2 >= rcut2:
                    continue
                hij = hi if hi > h[k] else h[k]
                if rr2 == 0.0 and hij == 0.0:  # unsoftened coincident pair: no defined force
                    continue
                fk = _pair_short(mass[k], rr2, hij, tab, tscale)
                ax += fk * ddx
                ay += fk * ddy
                az += fk * ddz
                ninter += 1
            node = g[node, 2]
        else:
            node = node + 1
    return ax, ay, az, ninter


@njit(parallel=True, cache=True)
def shortrange_accel(pos, mass, h, box, rs, rcut, theta, f, g, S, use_quad, tab, tscale):
    """Short-range accelerations / G of all particles (tree order ``pos``, ``mass``, ``h``; packed nodes
    ``f``, ``g``; node second moments ``S`` used if ``use_quad``), one periodic walk per particle, parallel over
    particles.
    Returns (acc[N, 3], interactions per particle).
    Many arguments: Numba kernels take plain arrays and scalars (no objects in nopython mode).
    """
    n = pos.shape[0]
    acc = np.empty((n, 3))
    nint = np.empty(n, dtype=np.int64)
    rcut2 = rcut * rcut
    for i in prange(n):
        ax, ay, az, ni = _walk_short(pos[i, 0], pos[i, 1], pos[i, 2], h[i], i, pos, mass, h, box, rs, rcut2,
                                     theta, f, g, S, use_quad, tab, tscale)
        acc[i, 0] = ax
        acc[i, 1] = ay
        acc[i, 2] = az
        nint[i] = ni
    return acc, nint


# ---------------------------------------------------------------------------------------------------
# Grouped walk (Barnes 1990, J. Comput. Phys. 87, 161; GADGET-4): one periodic walk per group of nearby
# particles (the maximal tree nodes with <= group_size particles, :func:`nbody._kernels.tree_build.group_nodes`),
# the tests applied to the group's bounding box: a node is skipped if its cube is farther than r_cut from
# every point of the box, opened if its 0.6 l-enlarged cube overlaps the box or if the distance r_min from
# its centre of mass to the box fails the softening or geometric test, else accepted for the whole group.
# As r_min <= r for every target this is more conservative than the per-target walk. The accepted nodes and
# the opened leaves form an interaction list summed for each target of the group (minimum images, the
# r_cut test and the truncation factor per pair, as in :func:`_walk_short`).
# ---------------------------------------------------------------------------------------------------
@njit(cache=True)
def _group_lists(bcx, bcy, bcz, bex, bey, bez, hg, box, rcut2, theta, f, g, nodes, leaves):
    """Interaction list of one group (box centre bc*, half extents be*, largest support hg): accepted node
    indices -> ``nodes``, opened leaves -> ``leaves``. Returns (n nodes, n leaves, fitted).
    Many arguments: Numba kernels take plain arrays and scalars (no objects in nopython mode).
    """
    nn = 0
    nl = 0
    node = 0
    while node != -1:
        hl = f[node, N_HALF]
        l = 2.0 * hl
        cx = abs(min_image(f[node, N_CX] - bcx, box))
        cy = abs(min_image(f[node, N_CY] - bcy, box))
        cz = abs(min_image(f[node, N_CZ] - bcz, box))
        gx = cx - hl - bex
        gy = cy - hl - bey
        gz = cz - hl - bez
        gap2 = 0.0
        if gx > 0.0:
            gap2 += gx * gx
        if gy > 0.0:
            gap2 += gy * gy
        if gz > 0.0:
            gap2 += gz * gz
        if gap2 > rcut2:
            node = g[node, 2]
            continue
        ext = 0.6 * l
        accept = False
        if not (cx < ext + bex and cy < ext + bey and cz < ext + bez):
            dx = abs(min_image(f[node, N_COMX] - bcx, box)) - bex
            dy = abs(min_image(f[node, N_COMY] - bcy, box)) - bey
            dz = abs(min_image(f[node, N_COMZ] - bcz, box)) - bez
            r2 = 0.0
            if dx > 0.0:
                r2 += dx * dx
            if dy > 0.0:
                r2 += dy * dy
            if dz > 0.0:
                r2 += dz * dz
            r = np.sqrt(r2)
            hp = hg if hg > f[node, N_HMAX] else f[node, N_HMAX]
            delta = f[node, N_DELTA]
            accept = r > hp + 0.8660254037844386 * l + delta and r * theta > l + theta * delta
        if accept:
            if nn == nodes.shape[0]:
                return nn, nl, False
            nodes[nn] = node
            nn += 1
            node = g[node, 2]
        elif g[node, 3] == 1:
            if nl == leaves.shape[0]:
                return nn, nl, False
            leaves[nl] = node
            nl += 1
            node = g[node, 2]
        else:
            node += 1
    return nn, nl, True


@njit(cache=True, fastmath=True, error_model="numpy")
def _sum_lists(xi, yi, zi, hi, nb, nn, pf, nf, pq, nq, tab, tscale, rcut2, irs, irs2, use_quad):
    """Acceleration / G on one target from a group's gathered lists (sources already shifted to the images
    nearest the group, so no minimum-image test per pair): accepted nodes ``nb[:, :nn]`` (x, y, z, m, S rows),
    far particles ``pf[:, :nf]`` (x, y, z, m; Newtonian: beyond every softening support) and near particles
    ``pq[:, :nq]`` (x, y, z, m, h). Branch-free masked loops for the first two (SIMD-friendly), the spline
    kernel for the near ones; sources at r >= r_cut contribute nothing, a source at r = 0 (the target) neither.
    Many arguments: Numba kernels take plain arrays and scalars (no objects in nopython mode).
    """
    ax = 0.0
    ay = 0.0
    az = 0.0
    ni = 0
    for t in range(nn):
        dx = nb[0, t] - xi
        dy = nb[1, t] - yi
        dz = nb[2, t] - zi
        r2 = dx * dx + dy * dy + dz * dz
        inside = r2 < rcut2
        r2 = r2 if inside else rcut2
        r = np.sqrt(r2)
        u = r * tscale
        j = int(u)
        w = u - j
        fr = tab[0, j] + (tab[0, j + 1] - tab[0, j]) * w
        ri = 1.0 / r
        ri2 = ri * ri
        ri3 = ri2 * ri
        fac = nb[3, t] * ri3 * fr
        if use_quad:
            f1 = (tab[1, j] + (tab[1, j + 1] - tab[1, j]) * w) * irs
            f2 = (tab[2, j] + (tab[2, j + 1] - tab[2, j]) * w) * irs2
            # _quad_from with x = -d (target - centre of mass), written out for vectorisation
            ri4 = ri2 * ri2
            ri5 = ri4 * ri
            d1p = f1 * ri3 - 3.0 * fr * ri4
            d2 = f1 * ri4 - 3.0 * fr * ri5
            d2p = f2 * ri4 - 7.0 * f1 * ri5 + 15.0 * fr * ri4 * ri2
            sx = -(nb[4, t] * dx + nb[7, t] * dy + nb[8, t] * dz)
            sy = -(nb[7, t] * dx + nb[5, t] * dy + nb[9, t] * dz)
            sz = -(nb[8, t] * dx + nb[9, t] * dy + nb[6, t] * dz)
            xsx = -(dx * sx + dy * sy + dz * sz)
            c = -0.5 * (d2p * xsx + (d1p * (nb[4, t] + nb[5, t] + nb[6, t]))) * ri
            qx = -c * dx - d2 * sx
            qy = -c * dy - d2 * sy
            qz = -c * dz - d2 * sz
        else:
            qx = 0.0
            qy = 0.0
            qz = 0.0
        if inside:
            ax += fac * dx + qx
            ay += fac * dy + qy
            az += fac * dz + qz
            ni += 1
    for t in range(nf):
        dx = pf[0, t] - xi
        dy = pf[1, t] - yi
        dz = pf[2, t] - zi
        r2 = dx * dx + dy * dy + dz * dz
        inside = r2 < rcut2
        r2 = r2 if inside else rcut2
        r = np.sqrt(r2)
        u = r * tscale
        j = int(u)
        w = u - j
        fac = pf[3, t] / (r2 * r) * (tab[0, j] + (tab[0, j + 1] - tab[0, j]) * w)
        if inside:
            ax += fac * dx
            ay += fac * dy
            az += fac * dz
            ni += 1
    for t in range(nq):
        dx = pq[0, t] - xi
        dy = pq[1, t] - yi
        dz = pq[2, t] - zi
        r2 = dx * dx + dy * dy + dz * dz
        if r2 >= rcut2 or r2 == 0.0:  # beyond the cut, or the target itself (or a coincident particle)
            continue
        hij = hi if hi > pq[4, t] else pq[4, t]
        r = np.sqrt(r2)
        if r >= hij:
            fk = pq[3, t] / (r2 * r)
        else:
            fk = pq[3, t] * spline_force_factor(r2, hij)
        u = r * tscale
        j = int(u)
        w = u - j
        fk *= tab[0, j] + (tab[0, j + 1] - tab[0, j]) * w
        ax += fk * dx
        ay += fk * dy
        az += fk * dz
        ni += 1
    return ax, ay, az, ni


@njit(cache=True)
def _gather_lists(bcx, bcy, bcz, bex, bey, bez, hg, box, nodes, nn, leaves, nl, pos, mass, h, f, g, S, nb, pf, pq):
    """Copy a group's accepted nodes and the particles of its opened leaves into ``nb``, ``pf`` (far: the leaf's
    cube farther from the group box than both softening supports) and ``pq`` (near), shifted to the periodic
    images nearest the group centre. Returns (nf, nq), or (-1, -1) if ``pf``/``pq`` are too small.
    Many arguments: Numba kernels take plain arrays and scalars (no objects in nopython mode).
    """
    for t in range(nn):
        node = nodes[t]
        nb[0, t] = bcx + min_image(f[node, N_COMX] - bcx, box)
        nb[1, t] = bcy + min_image(f[node, N_COMY] - bcy, box)
        nb[2, t] = bcz + min_image(f[node, N_COMZ] - bcz, box)
        nb[3, t] = f[node, N_MASS]
        for c in range(6):
            nb[4 + c, t] = S[node, c]
    nf = 0
    nq = 0
    for t in range(nl):
        leaf = leaves[t]
        hl = f[leaf, N_HALF]
        ox = min_image(f[leaf, N_CX] - bcx, box)
        oy = min_image(f[leaf, N_CY] - bcy, box)
        oz = min_image(f[leaf, N_CZ] - bcz, box)
        gx = max(0.0, abs(ox) - hl - bex)
        gy = max(0.0, abs(oy) - hl - bey)
        gz = max(0.0, abs(oz) - hl - bez)
        hp = hg if hg > f[leaf, N_HMAX] else f[leaf, N_HMAX]
        far = gx * gx + gy * gy + gz * gz > hp * hp
        k0 = g[leaf, 0]
        cnt = g[leaf, 1]
        if far and nf + cnt > pf.shape[1]:
            return -1, -1
        if (not far) and nq + cnt > pq.shape[1]:
            return -1, -1
        for k in range(k0, k0 + cnt):
            x = bcx + min_image(pos[k, 0] - bcx, box)
            y = bcy + min_image(pos[k, 1] - bcy, box)
            z = bcz + min_image(pos[k, 2] - bcz, box)
            if far:
                pf[0, nf] = x
                pf[1, nf] = y
                pf[2, nf] = z
                pf[3, nf] = mass[k]
                nf += 1
            else:
                pq[0, nq] = x
                pq[1, nq] = y
                pq[2, nq] = z
                pq[3, nq] = mass[k]
                pq[4, nq] = h[k]
                nq += 1
    return nf, nq


@njit(cache=True)
def _group_block(q0, q1, gstart, gcount, gbox, ghmax, pos, mass, h, box, rs, rcut2, theta, f, g, S, use_quad,
                 tab, tscale, act, acc, nint):
    """The grouped short-range walk for the groups ``q0 <= q < q1``: one interaction list per group, then the
    sums for its particles with ``act`` true (the others are left untouched). Many arguments: Numba kernels take plain arrays and scalars (no objects in
    nopython mode). The list buffers are allocated once per block, so it stays in one function."""
    irs = 1.0 / rs
    irs2 = irs * irs
    nodes = np.empty(1024, dtype=np.int64)
    leaves = np.empty(1024, dtype=np.int64)
    nb = np.empty((10, 1024))
    pf = np.empty((4, 4096))
    pq = np.empty((5, 1024))
    for q in range(q0, q1):
        bcx = 0.5 * (gbox[q, 0] + gbox[q, 3])
        bcy = 0.5 * (gbox[q, 1] + gbox[q, 4])
        bcz = 0.5 * (gbox[q, 2] + gbox[q, 5])
        bex = 0.5 * (gbox[q, 3] - gbox[q, 0])
        bey = 0.5 * (gbox[q, 4] - gbox[q, 1])
        bez = 0.5 * (gbox[q, 5] - gbox[q, 2])
        while True:
            nn, nl, ok = _group_lists(bcx, bcy, bcz, bex, bey, bez, ghmax[q], box, rcut2, theta, f, g, nodes, leaves)
            if ok:
                break
            nodes = np.empty(2 * nodes.shape[0], dtype=np.int64)
            leaves = np.empty(2 * leaves.shape[0], dtype=np.int64)
        # gathered lists with sources at the images nearest the group centre: the image nearest to every target
        # of the group for all sources within r_cut of it when r_cut + the box half extents < box / 2
        if np.sqrt(rcut2) + max(bex, bey, bez) < 0.5 * box:
            if nb.shape[1] < nn:
                nb = np.empty((10, 2 * nn))
            while True:
                nf, nq = _gather_lists(bcx, bcy, bcz, bex, bey, bez, ghmax[q], box, nodes, nn, leaves, nl, pos, mass,
                                       h, f, g, S, nb, pf, pq)
                if nf >= 0:
                    break
                pf = np.empty((4, 2 * pf.shape[1]))
                pq = np.empty((5, 2 * pq.shape[1]))
            for i in range(gstart[q], gstart[q] + gcount[q]):
                if not act[i]:
                    continue
                ax, ay, az, ni = _sum_lists(pos[i, 0], pos[i, 1], pos[i, 2], h[i], nb, nn, pf, nf, pq, nq, tab, tscale,
                                            rcut2, irs, irs2, use_quad)
                acc[i, 0] = ax
                acc[i, 1] = ay
                acc[i, 2] = az
                nint[i] = ni
            continue
        for i in range(gstart[q], gstart[q] + gcount[q]):
            if not act[i]:
                continue
            xi = pos[i, 0]
            yi = pos[i, 1]
            zi = pos[i, 2]
            hi = h[i]
            ax = 0.0
            ay = 0.0
            az = 0.0
            ni = 0
            for t in range(nn):
                node = nodes[t]
                dx = min_image(f[node, N_COMX] - xi, box)
                dy = min_image(f[node, N_COMY] - yi, box)
                dz = min_image(f[node, N_COMZ] - zi, box)
                r2 = dx * dx + dy * dy + dz * dz
                if r2 < rcut2:
                    r = np.sqrt(r2)
                    u = r * tscale
                    fr = table_factor(tab, 0, u)
                    if use_quad:
                        fac = f[node, N_MASS] / (r2 * r) * fr
                        qx, qy, qz = _quad_from(fr, table_factor(tab, 1, u) * irs, table_factor(tab, 2, u) * irs2,
                                                -dx, -dy, -dz, r, S[node, 0], S[node, 1], S[node, 2],
                                                S[node, 3], S[node, 4], S[node, 5])
                        ax += fac * dx + qx
                        ay += fac * dy + qy
                        az += fac * dz + qz
                    else:
                        fac = f[node, N_MASS] / (r2 * r) * fr
                        ax += fac * dx
                        ay += fac * dy
                        az += fac * dz
                    ni += 1
            for t in range(nl):
                leaf = leaves[t]
                for k in range(g[leaf, 0], g[leaf, 0] + g[leaf, 1]):
                    if k == i:
                        continue
                    ddx = min_image(pos[k, 0] - xi, box)
                    ddy = min_image(pos[k, 1] - yi, box)
                    ddz = min_image(pos[k, 2] - zi, box)
                    rr2 = ddx * ddx + ddy * ddy + ddz * ddz
                    if rr2 >= rcut2:
                        continue
                    hij = hi if hi > h[k] else h[k]
                    if rr2 == 0.0 and hij == 0.0:
                        continue
                    fk = _pair_short(mass[k], rr2, hij, tab, tscale)
                    ax += fk * ddx
                    ay += fk * ddy
                    az += fk * ddz
                    ni += 1
            acc[i, 0] = ax
            acc[i, 1] = ay
            acc[i, 2] = az
            nint[i] = ni


@njit(parallel=True, cache=True)
def shortrange_accel_grouped(gstart, gcount, gbox, ghmax, pos, mass, h, box, rs, rcut, theta, f, g, S, use_quad,
                             tab, tscale, nblocks, act):
    """Short-range accelerations / G of the particles (tree order) by grouped walks: groups ``q`` cover the
    tree-order particles ``gstart[q] : gstart[q] + gcount[q]``, with bounding boxes ``gbox`` (min xyz, max xyz)
    and largest supports ``ghmax``; the groups are dealt to ``nblocks`` parallel blocks. Only the particles with
    ``act`` true (boolean per tree-order particle) are summed; the other rows are 0.
    Returns (acc[N, 3], interactions per particle).
    Many arguments: Numba kernels take plain arrays and scalars (no objects in nopython mode).
    """
    n = pos.shape[0]
    acc = np.zeros((n, 3))
    nint = np.zeros(n, dtype=np.int64)
    ng = gstart.shape[0]
    rcut2 = rcut * rcut
    for b in prange(nblocks):
        _group_block(b * ng // nblocks, (b + 1) * ng // nblocks, gstart, gcount, gbox, ghmax, pos, mass, h, box,
                     rs, rcut2, theta, f, g, S, use_quad, tab, tscale, act, acc, nint)
    return acc, nint


refresh_stale_cache(globals())   # callees in other files are compiled in: see gpu.jit
