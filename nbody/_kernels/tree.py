"""Barnes-Hut octree (Barnes & Hut 1986) with monopole + quadrupole moments, in Numba.

Layout: nodes are stored in depth-first preorder, so a node's first child is the
next node and ``next[node]`` (the node after its subtree) lets the walk skip a
whole subtree without a stack. Each node covers a contiguous range
``perm[start:start+count]`` of particle indices. Leaves hold at most
``leaf_size`` particles (or sit at ``MAX_DEPTH``).

Multipoles are about the node's centre of mass: mass M, and the second moment
S_ab = sum m y_a y_b (y = x - com); the traceless quadrupole is
Q = 3 S - tr(S) I. Far-field potential and acceleration at r = x - com
(Hernquist 1987, ApJS 64, 715, eqs. 2.3-2.5):

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
"""
from __future__ import annotations

import os

# Numba's OpenMP threading layer lets idle workers spin after every parallel region; on a shared,
# oversubscribed machine (2 cores, many processes) that spinning steals the main thread's CPU and made
# the many small serial steps of a hierarchical-timestep run 10-20x slower. Passive waiting costs a few
# microseconds per parallel launch. Only a default: a user's setting wins; it takes effect if no
# parallel kernel has started the OpenMP runtime yet.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
from numba import njit, prange  # noqa: E402

from .direct import spline_force_factor, spline_potential_factor  # noqa: E402

MAX_DEPTH = 48


@njit(cache=True)
def _grow(a, newlen):
    shape = (newlen,) + a.shape[1:]
    b = np.empty(shape, dtype=a.dtype)
    b[: a.shape[0]] = a
    return b


@njit(cache=True, inline="always")
def _point_moment(S, i, m, x, y, z):
    """Add a point mass m at (x, y, z) from node i's centre of mass to its second moments
    ``S_ab = sum m x_a x_b`` (rows xx, yy, zz, xy, xz, yz); the traceless quadrupole of a node is
    ``Q = 3 S - tr(S) I`` (Hernquist 1987, ApJS 64, 715, quadrupole moments of tree cells)."""
    S[i, 0] += m * x * x
    S[i, 1] += m * y * y
    S[i, 2] += m * z * z
    S[i, 3] += m * x * y
    S[i, 4] += m * x * z
    S[i, 5] += m * y * z


@njit(cache=True, inline="always")
def _parallel_axis(S, q, i, m, x, y, z):
    """Parallel-axis theorem: add child i (mass m, centre of mass at (x, y, z) from parent q's) to
    q's second moments, ``S_q += S_i + m x x^T`` (same source as :func:`_point_moment`)."""
    S[q, 0] += S[i, 0] + m * x * x
    S[q, 1] += S[i, 1] + m * y * y
    S[q, 2] += S[i, 2] + m * z * z
    S[q, 3] += S[i, 3] + m * x * y
    S[q, 4] += S[i, 4] + m * x * z
    S[q, 5] += S[i, 5] + m * y * z


@njit(cache=True)
def build_tree(pos, mass, h, leaf_size):
    """Build the octree. Returns (perm, node arrays...) -- see :func:`tree_accel` for the order."""
    n = pos.shape[0]
    perm = np.arange(n)
    lo = np.empty(3)
    hi = np.empty(3)
    for d in range(3):
        lo[d] = pos[0, d]
        hi[d] = pos[0, d]
    for i in range(n):
        for d in range(3):
            v = pos[i, d]
            if v < lo[d]:
                lo[d] = v
            if v > hi[d]:
                hi[d] = v
    half0 = 0.0
    for d in range(3):
        if 0.5 * (hi[d] - lo[d]) > half0:
            half0 = 0.5 * (hi[d] - lo[d])
    half0 = half0 * 1.0001 + 1e-300
    cap = max(64, 2 * n // max(leaf_size, 1) + 64)
    center = np.empty((cap, 3))
    half = np.empty(cap)
    start = np.empty(cap, dtype=np.int64)
    count = np.empty(cap, dtype=np.int64)
    isleaf = np.empty(cap, dtype=np.bool_)
    parent = np.empty(cap, dtype=np.int64)
    # explicit stack for the preorder build
    scap = 8 * MAX_DEPTH + 16
    s_start = np.empty(scap, dtype=np.int64)
    s_end = np.empty(scap, dtype=np.int64)
    s_c = np.empty((scap, 3))
    s_half = np.empty(scap)
    s_depth = np.empty(scap, dtype=np.int64)
    s_parent = np.empty(scap, dtype=np.int64)
    sp = 0
    s_start[0] = 0
    s_end[0] = n
    for d in range(3):
        s_c[0, d] = 0.5 * (lo[d] + hi[d])
    s_half[0] = half0
    s_depth[0] = 0
    s_parent[0] = -1
    sp = 1
    nn = 0
    oct_of = np.empty(n, dtype=np.int64)
    tmp = np.empty(n, dtype=np.int64)
    cnt = np.zeros(8, dtype=np.int64)
    off = np.zeros(9, dtype=np.int64)
    while sp > 0:
        sp -= 1
        a = s_start[sp]
        b = s_end[sp]
        cx, cy, cz = s_c[sp, 0], s_c[sp, 1], s_c[sp, 2]
        hf = s_half[sp]
        depth = s_depth[sp]
        par = s_parent[sp]
        if nn >= cap:
            cap = 2 * cap
            center = _grow(center, cap)
            half = _grow(half, cap)
            start = _grow(start, cap)
            count = _grow(count, cap)
            isleaf = _grow(isleaf, cap)
            parent = _grow(parent, cap)
        node = nn
        nn += 1
        center[node, 0] = cx
        center[node, 1] = cy
        center[node, 2] = cz
        half[node] = hf
        start[node] = a
        count[node] = b - a
        parent[node] = par
        if b - a <= leaf_size or depth >= MAX_DEPTH:
            isleaf[node] = True
            continue
        isleaf[node] = False
        for o in range(8):
            cnt[o] = 0
        for k in range(a, b):
            p = perm[k]
            o = 0
            if pos[p, 0] >= cx:
                o |= 1
            if pos[p, 1] >= cy:
                o |= 2
            if pos[p, 2] >= cz:
                o |= 4
            oct_of[k] = o
            cnt[o] += 1
        off[0] = a
        for o in range(8):
            off[o + 1] = off[o] + cnt[o]
        for o in range(8):
            cnt[o] = off[o]
        for k in range(a, b):
            o = oct_of[k]
            tmp[cnt[o]] = perm[k]
            cnt[o] += 1
        for k in range(a, b):
            perm[k] = tmp[k]
        # push children in reverse octant order so octant 0 is built next
        for o in range(7, -1, -1):
            if off[o + 1] > off[o]:
                s_start[sp] = off[o]
                s_end[sp] = off[o + 1]
                s_c[sp, 0] = cx + (0.5 * hf if (o & 1) else -0.5 * hf)
                s_c[sp, 1] = cy + (0.5 * hf if (o & 2) else -0.5 * hf)
                s_c[sp, 2] = cz + (0.5 * hf if (o & 4) else -0.5 * hf)
                s_half[sp] = 0.5 * hf
                s_depth[sp] = depth + 1
                s_parent[sp] = node
                sp += 1
    center = center[:nn]
    half = half[:nn]
    start = start[:nn]
    count = count[:nn]
    isleaf = isleaf[:nn]
    parent = parent[:nn]
    # subtree sizes -> skip pointers
    size = np.ones(nn, dtype=np.int64)
    for i in range(nn - 1, 0, -1):
        size[parent[i]] += size[i]
    nxt = np.empty(nn, dtype=np.int64)
    for i in range(nn):
        nxt[i] = i + size[i] if i + size[i] < nn else -1
    # moments: pass 1 mass and centre of mass, max softening
    M = np.zeros(nn)
    com = np.zeros((nn, 3))
    hmax = np.zeros(nn)
    for i in range(nn - 1, -1, -1):
        if isleaf[i]:
            for k in range(start[i], start[i] + count[i]):
                p = perm[k]
                M[i] += mass[p]
                for d in range(3):
                    com[i, d] += mass[p] * pos[p, d]
                if h[p] > hmax[i]:
                    hmax[i] = h[p]
        if i > 0:
            q = parent[i]
            M[q] += M[i]
            for d in range(3):
                com[q, d] += com[i, d]
            if hmax[i] > hmax[q]:
                hmax[q] = hmax[i]
    for i in range(nn):
        if M[i] > 0:
            for d in range(3):
                com[i, d] /= M[i]
        else:
            for d in range(3):
                com[i, d] = center[i, d]
    # pass 2: second moments about each node's centre of mass (parallel-axis theorem upwards)
    S = np.zeros((nn, 6))
    for i in range(nn - 1, -1, -1):
        if isleaf[i]:
            for k in range(start[i], start[i] + count[i]):
                p = perm[k]
                x = pos[p, 0] - com[i, 0]
                y = pos[p, 1] - com[i, 1]
                z = pos[p, 2] - com[i, 2]
                _point_moment(S, i, mass[p], x, y, z)
        if i > 0:
            q = parent[i]
            x = com[i, 0] - com[q, 0]
            y = com[i, 1] - com[q, 1]
            z = com[i, 2] - com[q, 2]
            _parallel_axis(S, q, i, M[i], x, y, z)
    # traceless quadrupole Q = 3 S - tr(S) I
    Q = np.empty((nn, 6))
    for i in range(nn):
        tr = S[i, 0] + S[i, 1] + S[i, 2]
        Q[i, 0] = 3.0 * S[i, 0] - tr
        Q[i, 1] = 3.0 * S[i, 1] - tr
        Q[i, 2] = 3.0 * S[i, 2] - tr
        Q[i, 3] = 3.0 * S[i, 3]
        Q[i, 4] = 3.0 * S[i, 4]
        Q[i, 5] = 3.0 * S[i, 5]
    # Barnes (1994) offset of the centre of mass from the geometric centre
    delta = np.empty(nn)
    for i in range(nn):
        dx = com[i, 0] - center[i, 0]
        dy = com[i, 1] - center[i, 1]
        dz = com[i, 2] - center[i, 2]
        delta[i] = np.sqrt(dx * dx + dy * dy + dz * dz)
    return perm, center, half, start, count, isleaf, nxt, M, com, Q, hmax, delta


# packed node record (one cache-friendly row per node): the fields of the box and opening tests come
# first (one 64-byte line for a node that is opened because the target is inside it), the moments after
N_COMX, N_COMY, N_COMZ, N_CX, N_CY, N_CZ, N_HALF, N_DELTA = 0, 1, 2, 3, 4, 5, 6, 7
N_HMAX, N_MASS = 8, 9
N_Q = 10  # 6 components xx yy zz xy xz yz
N_FIELDS = 16


@njit(cache=True)
def pack_nodes(center, half, M, com, Q, hmax, delta, start, count, isleaf, nxt):
    """Pack the node arrays into one float row per node plus one int row (start, count, next, leaf)."""
    nn = half.shape[0]
    f = np.empty((nn, N_FIELDS))
    g = np.empty((nn, 4), dtype=np.int64)
    for i in range(nn):
        f[i, N_COMX] = com[i, 0]
        f[i, N_COMY] = com[i, 1]
        f[i, N_COMZ] = com[i, 2]
        f[i, N_MASS] = M[i]
        for k in range(6):
            f[i, N_Q + k] = Q[i, k]
        f[i, N_CX] = center[i, 0]
        f[i, N_CY] = center[i, 1]
        f[i, N_CZ] = center[i, 2]
        f[i, N_HALF] = half[i]
        f[i, N_HMAX] = hmax[i]
        f[i, N_DELTA] = delta[i]
        g[i, 0] = start[i]
        g[i, 1] = count[i]
        g[i, 2] = nxt[i]
        g[i, 3] = 1 if isleaf[i] else 0
    return f, g


@njit(cache=True, inline="always")
def point_accepts(xi, yi, zi, hi, dx, dy, dz, cx, cy, cz, l, hmax, delta, mass, G, theta, alpha, aold, criterion):
    """(accepted, r) of a node for one target: the opening tests of the module docstring (0.6 l box test,
    no particle within the softening, then the geometric or relative criterion). (dx, dy, dz) = com - x."""
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
    (dx, dy, dz) = com - x: Hernquist (1987) eqs. 2.3-2.5 (module docstring)."""
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


@njit(parallel=True, cache=True, fastmath=True)
def tree_accel(targets, pos, mass, h, G, theta, alpha, aold, criterion, use_quad, perm, f, g):
    """Accelerations and potentials on particles ``targets`` from the tree (packed nodes ``f``, ``g``).

    ``pos``, ``mass``, ``h`` must be in tree order (``x[perm]``) and ``targets`` are indices into them
    (walk targets in tree order for cache locality); ``aold`` (len(targets)) is |a| from the previous
    step for the relative criterion. Returns (acc, pot, interactions per target).
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


@njit(cache=True, fastmath=True)
def tree_accel_serial(targets, pos, mass, h, G, theta, alpha, aold, criterion, use_quad, perm, f, g):
    """Serial twin of :func:`tree_accel` for small active sets (no thread launch overhead)."""
    nt = targets.shape[0]
    acc = np.empty((nt, 3))
    pot = np.empty(nt)
    nint = np.empty(nt, dtype=np.int64)
    for k in range(nt):
        i = targets[k]
        ax, ay, az, p, ni = _walk_one(pos[i, 0], pos[i, 1], pos[i, 2], h[i], i, pos, mass, h, G, theta,
                                      alpha, aold[k], criterion, use_quad, perm, f, g)
        acc[k, 0] = ax
        acc[k, 1] = ay
        acc[k, 2] = az
        pot[k] = p
        nint[k] = ni
    return acc, pot, nint


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
L_X, L_Y, L_Z, L_M = 0, 1, 2, 3  # rows of the node list (then 6 quadrupole rows)


@njit(cache=True)
def group_nodes(g, group_size):
    """The groups of the grouped walk: maximal nodes with <= ``group_size`` particles (or leaves).

    Topology only (it survives :func:`refit_nodes`). Returns (grp_of[n] group id per tree-order particle,
    gnode[ng] the node of each group).
    """
    n = g[0, 1]
    grp_of = np.empty(n, dtype=np.int64)
    gnode = np.empty(g.shape[0], dtype=np.int64)
    ng = 0
    node = 0
    while node != -1:
        if g[node, 1] <= group_size or g[node, 3] == 1:
            s = g[node, 0]
            for k in range(s, s + g[node, 1]):
                grp_of[k] = ng
            gnode[ng] = node
            ng += 1
            node = g[node, 2]
        else:
            node += 1
    return grp_of, gnode[:ng].copy()


@njit(parallel=True, cache=True)
def group_boxes(gnode, g, spos, sh):
    """(gbox[ng, 6] = (min xyz, max xyz) of each group's particles, ghmax[ng] their largest support)."""
    ng = gnode.shape[0]
    gbox = np.empty((ng, 6))
    ghmax = np.empty(ng)
    for q in prange(ng):
        s = g[gnode[q], 0]
        c = g[gnode[q], 1]
        for d in range(3):
            gbox[q, d] = spos[s, d]
            gbox[q, 3 + d] = spos[s, d]
        hm = 0.0
        for k in range(s, s + c):
            for d in range(3):
                v = spos[k, d]
                if v < gbox[q, d]:
                    gbox[q, d] = v
                if v > gbox[q, 3 + d]:
                    gbox[q, 3 + d] = v
            if sh[k] > hm:
                hm = sh[k]
        ghmax[q] = hm
    return gbox, ghmax


@njit(cache=True, fastmath=True, error_model="numpy")
def _group_list(bx0, by0, bz0, bx1, by1, bz1, hg, amin, pos, mass, G, theta, alpha, criterion, use_quad, f, g,
                nl, pl, qk):
    """Interaction list of one group (box b*, largest support hg): accepted nodes -> ``nl`` (com, mass,
    quadrupole rows), particles of far leaves -> ``pl`` (x, y, z, m), of near leaves -> ``qk`` (indices).
    Returns (n nodes, n far, n near, fitted); fitted is False if a buffer was too small (caller grows it
    and repeats: no reallocation inside the walk loop, which would cost reference counting per node)."""
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
        overlap = (bx1 > cx - ext and bx0 < cx + ext and by1 > cy - ext and by0 < cy + ext
                   and bz1 > cz - ext and bz0 < cz + ext)
        accept = False
        if not overlap:
            mx = f[node, N_COMX]
            my = f[node, N_COMY]
            mz = f[node, N_COMZ]
            dx = 0.0
            if mx < bx0:
                dx = bx0 - mx
            elif mx > bx1:
                dx = mx - bx1
            dy = 0.0
            if my < by0:
                dy = by0 - my
            elif my > by1:
                dy = my - by1
            dz = 0.0
            if mz < bz0:
                dz = bz0 - mz
            elif mz > bz1:
                dz = mz - bz1
            r2 = dx * dx + dy * dy + dz * dz
            r = np.sqrt(r2)
            hp = hg if hg > f[node, N_HMAX] else f[node, N_HMAX]
            dl = f[node, N_DELTA]
            if r > hp + 0.8660254037844386 * l + dl:
                if criterion == 0:
                    accept = r * theta > l + theta * dl
                else:
                    accept = G * f[node, N_MASS] * l * l <= alpha * amin * r2 * r2
        if accept:
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
                for k in range(k0, k0 + c):
                    pl[L_X, npl] = pos[k, 0]
                    pl[L_Y, npl] = pos[k, 1]
                    pl[L_Z, npl] = pos[k, 2]
                    pl[L_M, npl] = mass[k]
                    npl += 1
            else:
                if nnear + c > qk.shape[0]:
                    return nn, npl, nnear, False
                for k in range(k0, k0 + c):
                    qk[nnear] = k
                    nnear += 1
            node = g[node, 2]
        else:
            node = node + 1
    return nn, npl, nnear, True


@njit(cache=True, fastmath=True, error_model="numpy")
def _grouped_block(s0, s1, seg, gid, targets, pos, mass, h, G, theta, alpha, aold, criterion, use_quad,
                   f, g, gbox, ghmax, acc, pot, nint):
    """Walk and sum segments s0..s1-1 (each = the targets of one group, ``targets[seg[s]:seg[s+1]]``)."""
    nl = np.empty((10, 1024))
    pl = np.empty((4, 1024))
    qk = np.empty(256, dtype=np.int64)
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
            nn, npl, nnear, fitted = _group_list(bx0, by0, bz0, bx1, by1, bz1, hg, amin, pos, mass, G, theta,
                                                 alpha, criterion, use_quad, f, g, nl, pl, qk)
            if fitted:
                break
            # (rare) which buffer overflowed is not reported: double all three
            nl = np.empty((10, 2 * nl.shape[1]))
            pl = np.empty((4, 2 * pl.shape[1]))
            qk = np.empty(2 * qk.shape[0], dtype=np.int64)
        # ---- sum the list for every target of the group
        for t in range(a, e):
            i = targets[t]
            xi = pos[i, 0]
            yi = pos[i, 1]
            zi = pos[i, 2]
            hi = h[i]
            ax = 0.0
            ay = 0.0
            az = 0.0
            p = 0.0
            # accepted nodes: monopole + quadrupole (Hernquist 1987 eqs. 2.3-2.5), r = x_i - com
            for j in range(nn):
                rx = xi - nl[L_X, j]
                ry = yi - nl[L_Y, j]
                rz = zi - nl[L_Z, j]
                rr = rx * rx + ry * ry + rz * rz
                rinv = 1.0 / np.sqrt(rr)
                rinv2 = rinv * rinv
                m = nl[L_M, j]
                mr3 = m * rinv * rinv2
                qxx = nl[4, j]
                qyy = nl[5, j]
                qzz = nl[6, j]
                qxy = nl[7, j]
                qxz = nl[8, j]
                qyz = nl[9, j]
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
            # particles of far leaves: Newtonian, branch-free
            for j in range(npl):
                ddx = pl[L_X, j] - xi
                ddy = pl[L_Y, j] - yi
                ddz = pl[L_Z, j] - zi
                rr2 = ddx * ddx + ddy * ddy + ddz * ddz
                rinvk = 1.0 / np.sqrt(rr2)
                mr = pl[L_M, j] * rinvk
                fk = mr * rinvk * rinvk
                ax += fk * ddx
                ay += fk * ddy
                az += fk * ddz
                p -= mr
            # particles of near leaves (the group's own leaf among them): spline inside the support,
            # the self pair skipped by index
            ni = nn + npl + nnear
            for j in range(nnear):
                k = qk[j]
                if k == i:
                    ni -= 1
                    continue
                ddx = pos[k, 0] - xi
                ddy = pos[k, 1] - yi
                ddz = pos[k, 2] - zi
                rr2 = ddx * ddx + ddy * ddy + ddz * ddz
                hij = hi if hi > h[k] else h[k]
                if rr2 == 0.0 and hij == 0.0:
                    ni -= 1
                    continue
                fk, pk = _pair_term(mass[k], rr2, hij)
                p -= pk
                ax += fk * ddx
                ay += fk * ddy
                az += fk * ddz
            acc[t, 0] = G * ax
            acc[t, 1] = G * ay
            acc[t, 2] = G * az
            pot[t] = G * p
            nint[t] = ni


@njit(parallel=True, cache=True, error_model="numpy")
def tree_accel_grouped(targets, seg, gid, pos, mass, h, G, theta, alpha, aold, criterion, use_quad, f, g,
                       gbox, ghmax, nblocks):
    """Grouped-walk twin of :func:`tree_accel`: ``targets`` (tree-order indices, sorted) are split into
    segments ``seg`` (offsets, one segment per group ``gid``); segments are dealt to ``nblocks`` threads'
    blocks. Returns (acc, pot, interactions per target)."""
    nt = targets.shape[0]
    acc = np.empty((nt, 3))
    pot = np.empty(nt)
    nint = np.empty(nt, dtype=np.int64)
    nseg = seg.shape[0] - 1
    for b in prange(nblocks):
        _grouped_block(b * nseg // nblocks, (b + 1) * nseg // nblocks, seg, gid, targets, pos, mass, h, G,
                       theta, alpha, aold, criterion, use_quad, f, g, gbox, ghmax, acc, pot, nint)
    return acc, pot, nint


@njit(cache=True, error_model="numpy")
def tree_accel_grouped_serial(targets, seg, gid, pos, mass, h, G, theta, alpha, aold, criterion, use_quad, f,
                              g, gbox, ghmax):
    """Serial twin of :func:`tree_accel_grouped` (small active sets)."""
    nt = targets.shape[0]
    acc = np.empty((nt, 3))
    pot = np.empty(nt)
    nint = np.empty(nt, dtype=np.int64)
    _grouped_block(0, seg.shape[0] - 1, seg, gid, targets, pos, mass, h, G, theta, alpha, aold, criterion,
                   use_quad, f, g, gbox, ghmax, acc, pot, nint)
    return acc, pot, nint


@njit(cache=True)
def tree_parents(g):
    """(parent[nn] node index or -1 for the root, leaves: the leaf node indices) of a packed tree."""
    nn = g.shape[0]
    parent = np.full(nn, -1, dtype=np.int64)
    nleaf = 0
    for i in range(nn):
        if g[i, 3] == 0:
            c = i + 1
            end = g[i, 2]
            while c != end and c != -1:
                parent[c] = i
                c = g[c, 2]
        else:
            nleaf += 1
    leaves = np.empty(nleaf, dtype=np.int64)
    nleaf = 0
    for i in range(nn):
        if g[i, 3] == 1:
            leaves[nleaf] = i
            nleaf += 1
    return parent, leaves


@njit(parallel=True, cache=True)
def refit_nodes(pos, perm, spos, smass, f, g, half0, parent, leaves):
    """Update the packed nodes ``f`` in place for new positions ``spos`` (tree order), same topology.

    GADGET-style reuse of a tree between rebuilds (Springel 2005, sec. 3.1: nodes are drifted instead of
    rebuilt while few particles are active): centres of mass, quadrupoles and the Barnes offsets are
    recomputed exactly from the current positions (bottom-up, parallel-axis theorem), and each node's
    cube keeps its geometric centre but its half-side grows to ``max(half0, extent)`` so that it always
    contains its particles -- the opening tests (which assume that) stay valid and exactly as
    conservative as for a fresh tree of the same cubes; the cost is more openings as particles move.
    Masses and supports are unchanged (the caller rebuilds when they change).

    ``spos`` (tree order) is overwritten with ``pos[perm]``; ``parent`` and ``leaves`` come from
    :func:`tree_parents`. Leaves are independent (gathered and reduced in parallel); the bottom-up sums
    over nodes keep the serial order, so the result does not depend on the thread count.
    """
    nn = g.shape[0]
    com = np.zeros((nn, 3))
    ext = np.zeros(nn)
    S = np.zeros((nn, 6))
    for q in prange(leaves.shape[0]):
        i = leaves[q]
        e = 0.0
        for k in range(g[i, 0], g[i, 0] + g[i, 1]):
            for d in range(3):
                x = pos[perm[k], d]
                spos[k, d] = x
                com[i, d] += smass[k] * x
                v = abs(x - f[i, N_CX + d])
                if v > e:
                    e = v
        ext[i] = e
    for i in range(nn - 1, -1, -1):
        h = half0[i] if half0[i] > ext[i] else ext[i]
        f[i, N_HALF] = h
        q = parent[i]
        if q >= 0:
            for d in range(3):
                com[q, d] += com[i, d]
            e = h + max(abs(f[i, N_CX] - f[q, N_CX]), abs(f[i, N_CY] - f[q, N_CY]), abs(f[i, N_CZ] - f[q, N_CZ]))
            if e > ext[q]:
                ext[q] = e
    for i in prange(nn):
        M = f[i, N_MASS]
        dd = 0.0
        for d in range(3):
            com[i, d] = com[i, d] / M if M > 0 else f[i, N_CX + d]
            f[i, N_COMX + d] = com[i, d]
            dd += (com[i, d] - f[i, N_CX + d]) ** 2
        f[i, N_DELTA] = np.sqrt(dd)
    for q in prange(leaves.shape[0]):
        i = leaves[q]
        for k in range(g[i, 0], g[i, 0] + g[i, 1]):
            x = spos[k, 0] - com[i, 0]
            y = spos[k, 1] - com[i, 1]
            z = spos[k, 2] - com[i, 2]
            _point_moment(S, i, smass[k], x, y, z)
    for i in range(nn - 1, -1, -1):
        q = parent[i]
        if q >= 0:
            x = com[i, 0] - com[q, 0]
            y = com[i, 1] - com[q, 1]
            z = com[i, 2] - com[q, 2]
            _parallel_axis(S, q, i, f[i, N_MASS], x, y, z)
    for i in prange(nn):
        tr = S[i, 0] + S[i, 1] + S[i, 2]
        f[i, N_Q] = 3.0 * S[i, 0] - tr
        f[i, N_Q + 1] = 3.0 * S[i, 1] - tr
        f[i, N_Q + 2] = 3.0 * S[i, 2] - tr
        f[i, N_Q + 3] = 3.0 * S[i, 3]
        f[i, N_Q + 4] = 3.0 * S[i, 4]
        f[i, N_Q + 5] = 3.0 * S[i, 5]


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

