"""Barnes-Hut tree walks (Barnes & Hut 1986) over the packed octree of :mod:`nbody._kernels.tree_build`.

Far-field potential and acceleration of a node of mass M and traceless quadrupole Q
at r = x - com (Hernquist 1987, ApJS 64, 715, eqs. 2.3-2.5):

    phi = -G M / r - G (r.Q.r) / (2 r^5)
    a   = -G M r / r^3 + G [Q.r / r^5 - 5/2 (r.Q.r) r / r^7]

Opening criteria: ``criterion=0`` geometric with the Barnes (1994) offset,
accept if r > l/theta + |com - centre|; ``criterion=1`` GADGET-2's relative
criterion (Springel 2005, MNRAS 364, 1105, eq. 18), accept if
G M l^2 / r^4 <= alpha |a_old|, and in both cases open any node whose cube
(enlarged by 20 %, GADGET's 0.6 l test) contains the particle, and any node
that may hold particles within the softening length (so accepted nodes are
exactly Newtonian and particle pairs are spline-softened).

Two walks: :func:`tree_accel` walks once per target; :func:`tree_accel_grouped` (the default of
:class:`nbody.tree.Octree`) walks once per group of nearby particles and applies the tests to the
group's bounding box (see the section "Grouped walks" below). The grouped test is what makes
pytreegrav's (grouped) walk ~1.6x more accurate than our per-target walk at equal theta: with
``group_size=1`` pytreegrav's median error equals ours (2.15e-4 at theta = 0.5, 5.8e-4 at 0.7, Hernquist
N = 1e5); the opening formula, node sizes, CoM quadrupole and softening treatment are the same.

The serial and parallel variants of each walk are compiled from one body (:func:`gpu.jit.njit_variants`):
``tree_accel`` / ``tree_accel_serial``, ``tree_accel_grouped`` / ``tree_accel_grouped_serial``.
:func:`ball_candidates` is the neighbour walk of a refitted tree.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from gpu.jit import njit_variants, refresh_stale_cache

from .direct import _DBL_MIN as DBL_MIN
from .direct import newtonian_chunk, rsqrt, softened_chunk, spline_force_factor, spline_potential_factor
from .tree_build import N_COMX, N_COMY, N_COMZ, N_CX, N_CY, N_CZ, N_DELTA, N_HALF, N_HMAX, N_MASS, N_Q


@njit(cache=True, inline="always")
def point_accepts(xi, yi, zi, hi, dx, dy, dz, cx, cy, cz, l, hmax, delta, mass, G, theta, alpha, aold, criterion):
    """(accepted, r) of a node for one target: the opening tests of the module docstring (0.6 l box test,
    no particle within the softening, then the geometric or relative criterion). (dx, dy, dz) = com - x.

    Nineteen scalar arguments: inlined into the walk loop, it reads the target's and the node's fields as
    scalars the caller already holds in registers (no array or record in the hot loop).
    """
    if abs(cx - xi) < 0.6 * l and abs(cy - yi) < 0.6 * l and abs(cz - zi) < 0.6 * l:
        return False, 0.0
    r2 = dx * dx + dy * dy + dz * dz
    r = np.sqrt(r2)
    hp = hi if hi > hmax else hmax
    if r > hp + 0.8660254037844386 * l + delta:
        if criterion == 0:
            return r * theta > l + theta * delta, r
        return G * mass * l * l <= alpha * aold * r2 * r2, r
    return False, r


@njit(cache=True, inline="always")
def multipole_field(m, dx, dy, dz, r, qxx, qyy, qzz, qxy, qxz, qyz, use_quad):
    """(ax, ay, az, pot) / G of a node of mass m and traceless quadrupole Q about its CoM at distance r,
    (dx, dy, dz) = com - x: Hernquist (1987) eqs. 2.3-2.5 (module docstring).

    Twelve scalar arguments (node mass, separation, distance, six quadrupole components, switch): inlined
    into the walks, fed from registers.
    """
    rinv = 1.0 / r
    rinv2 = rinv * rinv
    rinv3 = rinv * rinv2
    # r_vec points from com to the particle: (-dx, -dy, -dz)
    ax = m * dx * rinv3
    ay = m * dy * rinv3
    az = m * dz * rinv3
    pot = -m * rinv
    if use_quad:
        rx = -dx
        ry = -dy
        rz = -dz
        qx = qxx * rx + qxy * ry + qxz * rz
        qy = qxy * rx + qyy * ry + qyz * rz
        qz = qxz * rx + qyz * ry + qzz * rz
        rqr = rx * qx + ry * qy + rz * qz
        rinv5 = rinv3 * rinv2
        c = 2.5 * rqr * rinv5 * rinv2
        ax += qx * rinv5 - c * rx
        ay += qy * rinv5 - c * ry
        az += qz * rinv5 - c * rz
        pot -= 0.5 * rqr * rinv5
    return ax, ay, az, pot


@njit(cache=True, inline="always")
def _pair_term(mk, rr2, hij):
    """(force factor, potential) of one particle of mass ``mk`` at squared distance ``rr2`` (G = 1; rr2 > 0
    unless hij > 0):
    Newtonian outside the spline support ``hij`` (one square root, one division), else GADGET's
    cubic-spline kernel (Springel 2005, MNRAS 364, 1105, eq. 4; :mod:`nbody._kernels.direct`)."""
    if rr2 >= hij * hij:
        rinvk = 1.0 / np.sqrt(rr2)
        mr = mk * rinvk
        return mr * rinvk * rinvk, mr
    return mk * spline_force_factor(rr2, hij), mk * spline_potential_factor(rr2, hij)


@njit(cache=True, inline="always")
def _walk_one(xi, yi, zi, hi, self_k, pos, mass, h, G, theta, alpha, aold, criterion, use_quad, perm, f, g):
    """(ax, ay, az, pot, interactions) at (xi, yi, zi) with support ``hi``: the stackless preorder walk of
    one target (accepted nodes by :func:`multipole_field`, particles of opened leaves by :func:`_pair_term`,
    skipping the tree-order index ``self_k``; -1 for a target that is not a particle).

    Seventeen arguments: the target's scalars, the tree-order particle arrays, the packed tree and the
    scalar opening parameters, inlined into the walks' loops (Numba kernels take plain arrays).
    """
    ax = 0.0
    ay = 0.0
    az = 0.0
    pot = 0.0
    ninter = 0
    node = 0
    while node != -1:
        l = 2.0 * f[node, N_HALF]
        dx = f[node, N_COMX] - xi
        dy = f[node, N_COMY] - yi
        dz = f[node, N_COMZ] - zi
        accept, r = point_accepts(xi, yi, zi, hi, dx, dy, dz, f[node, N_CX], f[node, N_CY], f[node, N_CZ], l,
                                  f[node, N_HMAX], f[node, N_DELTA], f[node, N_MASS], G, theta, alpha, aold,
                                  criterion)
        if accept:
            fx, fy, fz, fp = multipole_field(f[node, N_MASS], dx, dy, dz, r, f[node, N_Q], f[node, N_Q + 1],
                                             f[node, N_Q + 2], f[node, N_Q + 3], f[node, N_Q + 4],
                                             f[node, N_Q + 5], use_quad)
            ax += fx
            ay += fy
            az += fz
            pot += fp
            ninter += 1
            node = g[node, 2]
        elif g[node, 3] == 1:
            # pos/mass/h are stored in tree order here (contiguous per leaf), perm maps back to indices
            for k in range(g[node, 0], g[node, 0] + g[node, 1]):
                if k == self_k:
                    continue
                ddx = pos[k, 0] - xi
                ddy = pos[k, 1] - yi
                ddz = pos[k, 2] - zi
                rr2 = ddx * ddx + ddy * ddy + ddz * ddz
                hij = hi if hi > h[k] else h[k]
                if rr2 == 0.0 and hij == 0.0:  # unsoftened coincident pair: no defined force
                    continue
                fk, pk = _pair_term(mass[k], rr2, hij)
                pot -= pk
                ax += fk * ddx
                ay += fk * ddy
                az += fk * ddz
                ninter += 1
            node = g[node, 2]
        else:
            node = node + 1
    return G * ax, G * ay, G * az, G * pot, ninter


def tree_accel(targets, pos, mass, h, G, theta, alpha, aold, criterion, use_quad, perm, f, g):
    """Accelerations and potentials on particles ``targets`` from the tree (packed nodes ``f``, ``g``).

    ``pos``, ``mass``, ``h`` must be in tree order (``x[perm]``) and ``targets`` are indices into them
    (walk targets in tree order for cache locality); ``aold`` (len(targets)) is |a| from the previous
    step for the relative criterion. Returns (acc, pot, interactions per target).

    Thirteen arguments: the tree-order particle arrays, the packed tree, and the scalar opening
    parameters; Numba kernels take plain arrays (no objects in nopython mode).
    """
    nt = targets.shape[0]
    acc = np.empty((nt, 3))
    pot = np.empty(nt)
    nint = np.empty(nt, dtype=np.int64)
    for k in prange(nt):
        i = targets[k]
        ax, ay, az, p, ni = _walk_one(pos[i, 0], pos[i, 1], pos[i, 2], h[i], i, pos, mass, h, G, theta,
                                      alpha, aold[k], criterion, use_quad, perm, f, g)
        acc[k, 0] = ax
        acc[k, 1] = ay
        acc[k, 2] = az
        pot[k] = p
        nint[k] = ni
    return acc, pot, nint


tree_accel_serial, tree_accel = njit_variants(tree_accel, cache=True, fastmath=True)


# ---------------------------------------------------------------------------------------------------
# Grouped walks (Barnes 1990, J. Comput. Phys. 87, 161: one walk per group of nearby targets; GADGET-4's
# and pytreegrav's ``grouped_treewalk``). Groups are fixed by the tree alone -- the maximal nodes that hold
# at most ``group_size`` particles -- and each group's box is the bounding box of *all* its particles, so
# the force on a particle depends only on the tree and on that particle, never on which other particles
# are active or on how the targets are split over MPI ranks.
#
# A node is accepted for the whole group only if the single-target tests hold for every point of the
# group box: the box must not overlap the node's cube enlarged by 20 % (GADGET's 0.6 l test), and the
# distance r_min from the node's centre of mass to the box must pass the opening test (geometric:
# r_min > l/theta + delta; relative: G M l^2 / r_min^4 <= alpha min|a_old|) and the softening test
# r_min > max(h) + sqrt(3)/2 l + delta. As r_min <= r for every target this is strictly more
# conservative than the per-target walk: more accurate at equal theta, with more interactions per
# target but one walk per group. The accepted nodes and the particles of the opened leaves go into an
# interaction list that is then summed for every target of the group in branch-free, SIMD-friendly loops.
# ---------------------------------------------------------------------------------------------------
@njit(cache=True, inline="always")
def _sqrt_gt(r2, c, b):
    """sqrt(r2) * c > b for r2 >= 0, c > 0, b >= 0, with the square root (whose latency would stall
    the walk's next branch) taken only when r2 c^2 lies within 1e-14 relative of b^2; elsewhere the
    squares decide, with a margin (1e-14 >> the ~4 ulp rounding of the squares) that makes the result
    the same as the square root's."""
    q = r2 * c * c
    bb = b * b
    if q > bb * 1.00000000000001:
        return True
    if q < bb * 0.99999999999999:
        return False
    return np.sqrt(r2) * c > b


L_X, L_Y, L_Z, L_M, L_H = 0, 1, 2, 3, 4  # rows of the lists (nodes: then 6 quadrupole rows; near: support)
#: accepted nodes of at most this many particles enter the grouped walk's list as their particles (exact
#: Newtonian terms, ~20 flop each, vectorised with :func:`nbody._kernels.direct.rsqrt`) instead of one
#: monopole + quadrupole term (~56 flop with a square root and a division): cheaper and exact.
SMALL_NODE = 2


@njit(cache=True, inline="always")
def _append_particles(pl, npl, pos, mass, k0, c):
    """Particles k0 .. k0 + c - 1 appended to the far-particle list ``pl`` (rows x, y, z, m) from column
    ``npl``; returns the new length (the caller has checked the room)."""
    for k in range(k0, k0 + c):
        pl[L_X, npl] = pos[k, 0]
        pl[L_Y, npl] = pos[k, 1]
        pl[L_Z, npl] = pos[k, 2]
        pl[L_M, npl] = mass[k]
        npl += 1
    return npl


@njit(cache=True, fastmath=True, error_model="numpy")
def _group_list(bx0, by0, bz0, bx1, by1, bz1, hg, amin, pos, mass, h, G, theta, alpha, criterion, use_quad, f,
                g, nl, pl, ql, qk):
    """Interaction list of one group (box b*, largest support hg): accepted nodes -> ``nl`` (com, mass,
    quadrupole rows), particles of far leaves -> ``pl`` (x, y, z, m), of near leaves -> ``ql`` (x, y, z, m, h)
    and ``qk`` (their tree-order indices, increasing: leaves are met in tree order).
    Returns (n nodes, n far, n near, fitted); fitted is False if a buffer was too small (caller grows it
    and repeats: no reallocation inside the walk loop, which would cost reference counting per node).

    Twenty-two arguments: the group box and support as scalars, the particle arrays, the packed tree, the
    opening parameters and the four preallocated list buffers (no allocation inside the walk).
    """
    nn = 0
    npl = 0
    nnear = 0
    node = 0
    while node != -1:
        l = 2.0 * f[node, N_HALF]
        ext = 0.6 * l
        cx = f[node, N_CX]
        cy = f[node, N_CY]
        cz = f[node, N_CZ]
        # branch-free box tests (the walk's one hard-to-predict branch is the accept below)
        overlap = ((bx1 > cx - ext) & (bx0 < cx + ext) & (by1 > cy - ext) & (by0 < cy + ext)
                   & (bz1 > cz - ext) & (bz0 < cz + ext))
        accept = False
        if not overlap:
            # distance from the centre of mass to the group box, per axis (0 inside the slab)
            mx = f[node, N_COMX]
            my = f[node, N_COMY]
            mz = f[node, N_COMZ]
            dx = max(bx0 - mx, mx - bx1, 0.0)
            dy = max(by0 - my, my - by1, 0.0)
            dz = max(bz0 - mz, mz - bz1, 0.0)
            r2 = dx * dx + dy * dy + dz * dz
            hp = hg if hg > f[node, N_HMAX] else f[node, N_HMAX]
            dl = f[node, N_DELTA]
            if _sqrt_gt(r2, 1.0, hp + 0.8660254037844386 * l + dl):
                if criterion == 0:
                    accept = _sqrt_gt(r2, theta, l + theta * dl)
                else:
                    accept = G * f[node, N_MASS] * l * l <= alpha * amin * r2 * r2
        if accept and g[node, 1] <= SMALL_NODE:
            # a node of few particles: their exact (Newtonian: the softening test above puts every one of
            # them beyond both supports) terms cost less than one quadrupole term (see SMALL_NODE)
            k0 = g[node, 0]
            c = g[node, 1]
            if npl + c > pl.shape[1]:
                return nn, npl, nnear, False
            npl = _append_particles(pl, npl, pos, mass, k0, c)
            node = g[node, 2]
        elif accept:
            if nn == nl.shape[1]:
                return nn, npl, nnear, False
            nl[L_X, nn] = f[node, N_COMX]
            nl[L_Y, nn] = f[node, N_COMY]
            nl[L_Z, nn] = f[node, N_COMZ]
            nl[L_M, nn] = f[node, N_MASS]
            for q in range(6):
                nl[4 + q, nn] = f[node, N_Q + q] if use_quad else 0.0
            nn += 1
            node = g[node, 2]
        elif g[node, 3] == 1:
            k0 = g[node, 0]
            c = g[node, 1]
            # leaf: its particles go to the far list (every pair with the group Newtonian: the gap
            # between the group box and the leaf's cube exceeds both supports) or the near list
            hl = f[node, N_HALF]
            gx = max(0.0, cx - hl - bx1, bx0 - cx - hl)
            gy = max(0.0, cy - hl - by1, by0 - cy - hl)
            gz = max(0.0, cz - hl - bz1, bz0 - cz - hl)
            hp = hg if hg > f[node, N_HMAX] else f[node, N_HMAX]
            if gx * gx + gy * gy + gz * gz > hp * hp:
                if npl + c > pl.shape[1]:
                    return nn, npl, nnear, False
                npl = _append_particles(pl, npl, pos, mass, k0, c)
            else:
                if nnear + c > qk.shape[0]:
                    return nn, npl, nnear, False
                for k in range(k0, k0 + c):
                    ql[L_X, nnear] = pos[k, 0]
                    ql[L_Y, nnear] = pos[k, 1]
                    ql[L_Z, nnear] = pos[k, 2]
                    ql[L_M, nnear] = mass[k]
                    ql[L_H, nnear] = h[k]
                    qk[nnear] = k
                    nnear += 1
            node = g[node, 2]
        else:
            node = node + 1
    return nn, npl, nnear, True


@njit(cache=True, inline="always")
def _node_sums(X, Y, Z, M, QXX, QYY, QZZ, QXY, QXZ, QYZ, xi, yi, zi):
    """(ax, ay, az, pot) / G at (xi, yi, zi) of the accepted nodes (centres of mass X, Y, Z, masses M,
    traceless quadrupoles Q..): monopole + quadrupole, Hernquist (1987) eqs. 2.3-2.5 (module docstring),
    with r = x_i - com; branch-free, vectorised by LLVM.

    Thirteen arguments: the list's rows as 1-d arrays (plain arrays) and the target; inlined.
    """
    ax = 0.0
    ay = 0.0
    az = 0.0
    p = 0.0
    for j in range(X.shape[0]):
        rx = xi - X[j]
        ry = yi - Y[j]
        rz = zi - Z[j]
        rr = rx * rx + ry * ry + rz * rz
        rinv = 1.0 / np.sqrt(rr)
        rinv2 = rinv * rinv
        m = M[j]
        mr3 = m * rinv * rinv2
        qxx = QXX[j]
        qyy = QYY[j]
        qzz = QZZ[j]
        qxy = QXY[j]
        qxz = QXZ[j]
        qyz = QYZ[j]
        qx = qxx * rx + qxy * ry + qxz * rz
        qy = qxy * rx + qyy * ry + qyz * rz
        qz = qxz * rx + qyz * ry + qzz * rz
        rqr = rx * qx + ry * qy + rz * qz
        rinv5 = rinv2 * rinv2 * rinv
        c = 2.5 * rqr * rinv5 * rinv2 + mr3
        ax += qx * rinv5 - c * rx
        ay += qy * rinv5 - c * ry
        az += qz * rinv5 - c * rz
        p -= m * rinv + 0.5 * rqr * rinv5
    return ax, ay, az, p


@njit(cache=True, inline="always")
def _far_sums(X, Y, Z, M, xi, yi, zi):
    """(ax, ay, az, pot) / G at (xi, yi, zi) of particles that are all beyond their spline supports
    (the far-leaf list): Newtonian, branch-free, 1/r by :func:`nbody._kernels.direct.rsqrt`: this short
    loop is bound by the divider with 1/sqrt; the node sums (about 40 operations per node) are bound by
    their arithmetic and keep 1/sqrt (rsqrt measured slower there)."""
    ax = 0.0
    ay = 0.0
    az = 0.0
    p = 0.0
    for j in range(X.shape[0]):
        ddx = X[j] - xi
        ddy = Y[j] - yi
        ddz = Z[j] - zi
        rr2 = ddx * ddx + ddy * ddy + ddz * ddz
        rinvk = rsqrt(rr2)
        mr = M[j] * rinvk
        fk = mr * rinvk * rinvk
        ax += fk * ddx
        ay += fk * ddy
        az += fk * ddz
        p -= mr
    return ax, ay, az, p


@njit(cache=True, fastmath=True, error_model="numpy")
def _grouped_block(s0, s1, seg, gid, targets, pos, mass, h, G, theta, alpha, aold, criterion, use_quad,
                   f, g, gbox, ghmax, acc, pot, nint):
    """Walk and sum segments s0..s1-1 (each = the targets of one group, ``targets[seg[s]:seg[s+1]]``).

    Twenty-one arguments: the arguments of :func:`tree_accel_grouped` plus the block's range and output
    arrays; the list walk and the branch-free sums over the list (:func:`_node_sums`, :func:`_far_sums`,
    inlined: LLVM vectorises them) share the per-group buffers, which stay in cache. The near-leaf
    particles are summed as :func:`nbody._kernels.direct.direct_accel` sums a chunk: a vectorised Newtonian
    pass over the pairs beyond the list's largest support (:func:`nbody._kernels.direct.newtonian_chunk`),
    then the spline for the flagged pairs (:func:`nbody._kernels.direct.softened_chunk`).
    """
    nl = np.empty((10, 1024))
    pl = np.empty((4, 1024))
    ql = np.empty((5, 256))
    qk = np.empty(256, dtype=np.int64)
    flag = np.empty(256)
    for s in range(s0, s1):
        a = seg[s]
        e = seg[s + 1]
        gi = gid[s]
        bx0 = gbox[gi, 0]
        by0 = gbox[gi, 1]
        bz0 = gbox[gi, 2]
        bx1 = gbox[gi, 3]
        by1 = gbox[gi, 4]
        bz1 = gbox[gi, 5]
        hg = ghmax[gi]
        amin = 0.0
        if criterion == 1:
            amin = aold[a]
            for t in range(a + 1, e):
                if aold[t] < amin:
                    amin = aold[t]
        # ---- walk: the interaction list of the group (grow the buffers and repeat if they overflow)
        while True:
            nn, npl, nnear, fitted = _group_list(bx0, by0, bz0, bx1, by1, bz1, hg, amin, pos, mass,
                                                 h, G, theta, alpha, criterion, use_quad, f, g, nl, pl, ql, qk)
            if fitted:
                break
            # (rare) which buffer overflowed is not reported: double all three
            nl = np.empty((10, 2 * nl.shape[1]))
            pl = np.empty((4, 2 * pl.shape[1]))
            ql = np.empty((5, 2 * ql.shape[1]))
            qk = np.empty(2 * qk.shape[0], dtype=np.int64)
            flag = np.empty(2 * flag.shape[0])
        # largest support in the near list: pairs beyond it (and the target's own) are Newtonian
        hq = 0.0
        for j in range(nnear):
            if ql[L_H, j] > hq:
                hq = ql[L_H, j]
        # ---- sum the list for every target of the group
        for t in range(a, e):
            i = targets[t]
            xi = pos[i, 0]
            yi = pos[i, 1]
            zi = pos[i, 2]
            hi = h[i]
            # accepted nodes, then particles of far leaves (vectorised), then of near leaves
            ax, ay, az, p = _node_sums(nl[L_X, :nn], nl[L_Y, :nn], nl[L_Z, :nn], nl[L_M, :nn], nl[4, :nn],
                                       nl[5, :nn], nl[6, :nn], nl[7, :nn], nl[8, :nn], nl[9, :nn], xi, yi, zi)
            fx, fy, fz, fp = _far_sums(pl[L_X, :npl], pl[L_Y, :npl], pl[L_Z, :npl], pl[L_M, :npl], xi, yi, zi)
            ax += fx
            ay += fy
            az += fz
            p += fp
            # particles of near leaves (the group's own leaf among them): as the direct sum does, pairs beyond
            # the largest support are summed Newtonian in a vectorised pass that flags the others, which the
            # spline pass then sums, skipping the self pair (its slot: qk is increasing)
            me = np.searchsorted(qk[:nnear], i)
            me = me if me < nnear and qk[me] == i else -1
            H = hi if hi > hq else hq
            fx, fy, fz, fp, nfl = newtonian_chunk(ql[L_X, :nnear], ql[L_Y, :nnear], ql[L_Z, :nnear], ql[L_M, :nnear],
                                                  flag[:nnear], xi, yi, zi, max(H * H, DBL_MIN))
            if nfl > 0.0:
                sx, sy, sz, sp = softened_chunk(0, flag[:nnear], me, xi, yi, zi, hi, ql[L_X], ql[L_Y], ql[L_Z],
                                                ql[L_M], ql[L_H], True)
                fx += sx
                fy += sy
                fz += sz
                fp += sp
            ax += fx
            ay += fy
            az += fz
            p += fp
            ni = nn + npl + nnear - (1 if me >= 0 else 0)
            if hi == 0.0:  # unsoftened coincident pairs are skipped: not interactions
                for j in range(nnear):
                    if j != me and ql[L_H, j] == 0.0 and ql[L_X, j] == xi and ql[L_Y, j] == yi and ql[L_Z, j] == zi:
                        ni -= 1
            acc[t, 0] = G * ax
            acc[t, 1] = G * ay
            acc[t, 2] = G * az
            pot[t] = G * p
            nint[t] = ni

def tree_accel_grouped(targets, seg, gid, pos, mass, h, G, theta, alpha, aold, criterion, use_quad, f, g,
                       gbox, ghmax, nblocks):
    """Grouped-walk twin of :func:`tree_accel`: ``targets`` (tree-order indices, sorted) are split into
    segments ``seg`` (offsets, one segment per group ``gid``); segments are dealt to ``nblocks`` threads'
    blocks. Returns (acc, pot, interactions per target).

    Seventeen arguments: the targets and their segmentation into groups, the tree-order particle arrays,
    the packed tree, the group boxes and the scalar opening parameters; Numba kernels take plain arrays
    (no objects in nopython mode).
    """
    nt = targets.shape[0]
    acc = np.empty((nt, 3))
    pot = np.empty(nt)
    nint = np.empty(nt, dtype=np.int64)
    nseg = seg.shape[0] - 1
    for b in prange(nblocks):
        _grouped_block(b * nseg // nblocks, (b + 1) * nseg // nblocks, seg, gid, targets, pos, mass, h, G,
                       theta, alpha, aold, criterion, use_quad, f, g, gbox, ghmax, acc, pot, nint)
    return acc, pot, nint


tree_accel_grouped_serial, tree_accel_grouped = njit_variants(tree_accel_grouped, cache=True, error_model="numpy")


@njit(cache=True)
def ball_candidates(f, g, spos, perm, cx, cy, cz, r):
    """Indices (input order) of the particles within distance ``r`` of (cx, cy, cz), found by a walk
    that skips every node whose cube (refitted cubes contain their particles) lies farther than ``r``.

    The particle test is padded by a relative 1e-12 (the caller applies its exact test to the result),
    so the set is a superset of the exact one whatever the rounding.
    """
    out = np.empty(g[0, 1], dtype=np.int64)
    n = 0
    r2 = (r * (1.0 + 1e-12)) ** 2
    node = 0
    while node != -1:
        h = f[node, N_HALF]
        dx = max(abs(cx - f[node, N_CX]) - h, 0.0)
        dy = max(abs(cy - f[node, N_CY]) - h, 0.0)
        dz = max(abs(cz - f[node, N_CZ]) - h, 0.0)
        if dx * dx + dy * dy + dz * dz > r2:
            node = g[node, 2]
        elif g[node, 3] == 1:
            for k in range(g[node, 0], g[node, 0] + g[node, 1]):
                ex = spos[k, 0] - cx
                ey = spos[k, 1] - cy
                ez = spos[k, 2] - cz
                if ex * ex + ey * ey + ez * ez <= r2:
                    out[n] = perm[k]
                    n += 1
            node = g[node, 2]
        else:
            node += 1
    return np.sort(out[:n])


refresh_stale_cache(globals())   # callees in other files are compiled in: see gpu.jit
