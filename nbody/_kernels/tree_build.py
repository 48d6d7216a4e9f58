"""Barnes-Hut octree construction (Barnes & Hut 1986) with monopole + quadrupole moments, in Numba.

Layout: nodes are stored in depth-first preorder, so a node's first child is the
next node and ``next[node]`` (the node after its subtree) lets the walk skip a
whole subtree without a stack. Each node covers a contiguous range
``perm[start:start+count]`` of particle indices. Leaves hold at most
``leaf_size`` particles (or sit at ``MAX_DEPTH``).

Multipoles are about the node's centre of mass: mass M, and the second moment
S_ab = sum m y_a y_b (y = x - com); the traceless quadrupole is
Q = 3 S - tr(S) I (Hernquist 1987, ApJS 64, 715, eqs. 2.3-2.5; the far field is
evaluated by :mod:`nbody._kernels.tree_walk`).

Here: :func:`build_tree`, the packed node record (:func:`pack_nodes`), the refit of the nodes to new
positions with the same topology (:func:`tree_parents`, :func:`refit_nodes`), and the fixed groups of
the grouped walk (:func:`group_nodes`, :func:`group_boxes`).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange
from gpu.jit import refresh_stale_cache

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
    """Build the octree. Returns (perm, center, half, start, count, isleaf, nxt, M, com, Q, hmax, delta).

    Over 100 lines: one depth-first pass (partition, recurse, moments bottom-up) whose node arrays grow in
    place; splitting it would risk the summation order of the moments, on which the bitwise MPI and
    restart tests depend, so it stays in one piece.
    """
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
    """Pack the node arrays into one float row per node plus one int row (start, count, next, leaf).

    Eleven arguments: the node arrays that :func:`build_tree` returns, one per field.
    """
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


@njit(cache=True)
def group_boxes(gnode, g, spos, sh):
    """(gbox[ng, 6] = (min xyz, max xyz) of each group's particles, ghmax[ng] their largest support).

    Serial: one pass over the particles (~3 ms at N = 1e6); as a parallel loop its thread start-up cost
    4-8 ms of CPU time at N = 1e4 on the loaded 2-core development machine, 10 % of a whole force call."""
    ng = gnode.shape[0]
    gbox = np.empty((ng, 6))
    ghmax = np.empty(ng)
    for q in range(ng):
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


refresh_stale_cache(globals())   # callees in other files are compiled in: see gpu.jit
