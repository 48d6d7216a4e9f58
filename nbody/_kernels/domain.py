"""Numba kernels of the domain decomposition (:mod:`nbody.domain`).

* Morton (Z-order) keys: 21 bits per axis interleaved into a 63-bit integer
  (Warren & Salmon 1993, "A parallel hashed oct-tree N-body algorithm"): sorting
  by key orders particles along a space-filling curve, so contiguous key ranges
  are compact spatial domains.
* The top node of a domain: mass, centre of mass, traceless quadrupole about the
  centre of mass (Hernquist 1987, ApJS 64, 715, eq. 2.3), the domain's bounding
  cube (centre, half side, as the local tree's root) and the largest softening
  radius in it -- the record every rank publishes (GADGET-2's exchange of the
  top-level tree, Springel 2005, MNRAS 364, 1105, sec. 5.1).
* The opening test of a remote top node for a local target, identical to the
  one of :func:`nbody._kernels.tree_walk._walk_one` (geometric criterion with the
  Barnes 1994 offset or GADGET-2's relative criterion, eq. 18; box test with the
  cube enlarged by 20 %; never accept a node that may hold particles within the
  softening length), and its monopole + quadrupole field when accepted.
* A tree walk for *foreign* targets (positions that are not particles of the
  tree, exported by another rank): the walk of :mod:`nbody._kernels.tree_walk` with
  no self-pair.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from gpu.jit import refresh_stale_cache

from .tree_walk import _walk_one, multipole_field, point_accepts

KEY_BITS = 21
#: top-node record: M, com(3), Q(6: xx yy zz xy xz yz), centre(3), half, hmax, delta
T_M, T_COM, T_Q, T_C, T_HALF, T_HMAX, T_DELTA, T_FIELDS = 0, 1, 4, 10, 13, 14, 15, 16


@njit(cache=True)
def morton_keys(pos, lo, scale):
    """63-bit Morton keys of ``pos``: integer coordinates floor((x - lo) * scale) in [0, 2^21)."""
    n = pos.shape[0]
    keys = np.empty(n, dtype=np.int64)
    top = (1 << KEY_BITS) - 1
    for i in range(n):
        c = np.empty(3, dtype=np.int64)
        for d in range(3):
            v = int((pos[i, d] - lo[d]) * scale)
            c[d] = min(max(v, 0), top)
        key = 0
        for b in range(KEY_BITS - 1, -1, -1):
            key = (key << 3) | (((c[0] >> b) & 1) << 2) | (((c[1] >> b) & 1) << 1) | ((c[2] >> b) & 1)
        keys[i] = key
    return keys


@njit(cache=True)
def hilbert_keys(pos, lo, scale):
    """63-bit Peano-Hilbert keys of ``pos`` (integer coordinates as in :func:`morton_keys`).

    Skilling (2004, AIP Conf. Proc. 707, 381), "Programming the Hilbert curve": the coordinates are
    transformed in place into the "transpose" of the Hilbert index (inverse undo of the excess work,
    then Gray encoding), whose bits interleaved as for the Morton key give the index. Consecutive keys
    are face-neighbouring cells, and every 3-bit prefix is an octree cell (as for Morton keys).
    """
    n = pos.shape[0]
    keys = np.empty(n, dtype=np.int64)
    top = (1 << KEY_BITS) - 1
    X = np.empty(3, dtype=np.int64)
    M = 1 << (KEY_BITS - 1)
    for i in range(n):
        for d in range(3):
            v = int((pos[i, d] - lo[d]) * scale)
            X[d] = min(max(v, 0), top)
        Q = M
        while Q > 1:
            P = Q - 1
            for d in range(3):
                if X[d] & Q:
                    X[0] ^= P
                else:
                    t = (X[0] ^ X[d]) & P
                    X[0] ^= t
                    X[d] ^= t
            Q >>= 1
        X[1] ^= X[0]
        X[2] ^= X[1]
        t = 0
        Q = M
        while Q > 1:
            if X[2] & Q:
                t ^= Q - 1
            Q >>= 1
        for d in range(3):
            X[d] ^= t
        key = 0
        for b in range(KEY_BITS - 1, -1, -1):
            key = (key << 3) | (((X[0] >> b) & 1) << 2) | (((X[1] >> b) & 1) << 1) | ((X[2] >> b) & 1)
        keys[i] = key
    return keys


@njit(cache=True)
def top_node(pos, mass, h):
    """The record of a domain's top node (see the module docstring); zeros for an empty domain."""
    out = np.zeros(T_FIELDS)
    n = pos.shape[0]
    if n == 0:
        return out
    lo = pos[0].copy()
    hi = pos[0].copy()
    M = 0.0
    com = np.zeros(3)
    hmax = 0.0
    for i in range(n):
        for d in range(3):
            v = pos[i, d]
            lo[d] = min(lo[d], v)
            hi[d] = max(hi[d], v)
            com[d] += mass[i] * v
        M += mass[i]
        hmax = max(hmax, h[i])
    centre = 0.5 * (lo + hi)
    half = 0.0
    for d in range(3):
        half = max(half, 0.5 * (hi[d] - lo[d]))
    half = half * 1.0001 + 1e-300  # as the root of nbody._kernels.tree_build.build_tree
    if M > 0:
        com /= M
    else:
        com[:] = centre
    S = np.zeros(6)
    for i in range(n):
        x = pos[i, 0] - com[0]
        y = pos[i, 1] - com[1]
        z = pos[i, 2] - com[2]
        m = mass[i]
        S[0] += m * x * x
        S[1] += m * y * y
        S[2] += m * z * z
        S[3] += m * x * y
        S[4] += m * x * z
        S[5] += m * y * z
    tr = S[0] + S[1] + S[2]
    out[T_M] = M
    for d in range(3):
        out[T_COM + d] = com[d]
        out[T_C + d] = centre[d]
        out[T_Q + d] = 3.0 * S[d] - tr
        out[T_Q + 3 + d] = 3.0 * S[3 + d]
    out[T_HALF] = half
    out[T_HMAX] = hmax
    dx = com - centre
    out[T_DELTA] = np.sqrt(dx[0] ** 2 + dx[1] ** 2 + dx[2] ** 2)
    return out


@njit(cache=True)
def segment_nodes(pos, mass, h, starts, ends):
    """Top-node records of the particle segments [starts[c], ends[c]) (rows of ``pos`` etc.)."""
    nc = starts.shape[0]
    out = np.zeros((nc, T_FIELDS))
    for c in range(nc):
        a, b = starts[c], ends[c]
        out[c] = top_node(pos[a:b], mass[a:b], h[a:b])
    return out


@njit(inline="always")
def _node_field(tops, q, xi, yi, zi, hi, aold, G, theta, alpha, criterion, use_quad):
    """(accepted, ax, ay, az, pot) of top node ``tops[q]`` at (xi, yi, zi), with the tree walk's own opening
    test and multipole field (:func:`nbody._kernels.tree_walk.point_accepts`, :func:`multipole_field`).

    Twelve arguments: the top-node table and the target's scalars, inlined into the walk loops.
    """
    dx = tops[q, T_COM] - xi
    dy = tops[q, T_COM + 1] - yi
    dz = tops[q, T_COM + 2] - zi
    accept, r = point_accepts(xi, yi, zi, hi, dx, dy, dz, tops[q, T_C], tops[q, T_C + 1], tops[q, T_C + 2],
                              2.0 * tops[q, T_HALF], tops[q, T_HMAX], tops[q, T_DELTA], tops[q, T_M], G, theta,
                              alpha, aold, criterion)
    if not accept:
        return False, 0.0, 0.0, 0.0, 0.0
    ax, ay, az, p = multipole_field(tops[q, T_M], dx, dy, dz, r, tops[q, T_Q], tops[q, T_Q + 1], tops[q, T_Q + 2],
                                    tops[q, T_Q + 3], tops[q, T_Q + 4], tops[q, T_Q + 5], use_quad)
    return True, G * ax, G * ay, G * az, G * p


@njit(parallel=True, cache=True)
def remote_top_nodes(tpos, th, aold, cells, nxt, leaf, cstart, cend, me, G, theta, alpha, criterion, use_quad):
    """Far field of the remote domains' top trees on local targets.

    ``cells[cstart[q]:cend[q]]`` is rank q's top tree in preorder (``nxt``: absolute index after a node's
    subtree, ``leaf``: top leaf). For target k and rank q != ``me`` the top tree is walked with the tree's
    opening test: accepted nodes contribute their multipole field; if a top *leaf* must be opened the
    target is exported to q (``export[k, q]``) and q's accepted nodes are discarded (q walks its whole
    local tree for the target). Returns (acc, pot, export, accepted nodes per target).

    Fourteen arguments: the target arrays, the exported top-node table with its links, the range of this
    rank's cells, and the scalar opening parameters; Numba kernels take plain arrays (no objects in
    nopython mode).
    """
    nt = tpos.shape[0]
    nr = cstart.shape[0]
    acc = np.zeros((nt, 3))
    pot = np.zeros(nt)
    export = np.zeros((nt, nr), dtype=np.bool_)
    nacc = np.zeros(nt, dtype=np.int64)
    for k in prange(nt):
        xi = tpos[k, 0]
        yi = tpos[k, 1]
        zi = tpos[k, 2]
        for q in range(nr):
            if q == me or cend[q] == cstart[q]:
                continue
            ax = 0.0
            ay = 0.0
            az = 0.0
            p = 0.0
            ok = True
            na = 0
            node = cstart[q]
            while node < cend[q]:
                if cells[node, T_M] <= 0.0:
                    node = nxt[node]
                    continue
                okc, bx, by, bz, pc = _node_field(cells, node, xi, yi, zi, th[k], aold[k], G, theta, alpha,
                                                  criterion, use_quad)
                if okc:
                    ax += bx
                    ay += by
                    az += bz
                    p += pc
                    na += 1
                    node = nxt[node]
                elif leaf[node]:
                    ok = False
                    break
                else:
                    node += 1
            if not ok:
                export[k, q] = True
                continue
            acc[k, 0] += ax
            acc[k, 1] += ay
            acc[k, 2] += az
            pot[k] += p
            nacc[k] += na
    return acc, pot, export, nacc


@njit(parallel=True, cache=True, fastmath=True)
def tree_accel_foreign(tpos, th, aold, pos, mass, h, G, theta, alpha, criterion, use_quad, perm, f, g):
    """Tree accelerations/potentials at foreign positions ``tpos`` (softening radii ``th``), no self pair.

    ``pos``, ``mass``, ``h``, ``perm``, ``f``, ``g``: the tree-ordered particle data and packed nodes of
    :class:`nbody.tree.Octree`. Returns (acc, pot, interactions per target).

    Fourteen arguments: those of :func:`nbody._kernels.tree_walk.tree_accel` for targets given by position
    rather than index.
    """
    nt = tpos.shape[0]
    acc = np.empty((nt, 3))
    pot = np.empty(nt)
    nint = np.empty(nt, dtype=np.int64)
    for k in prange(nt):
        ax, ay, az, p, ni = _walk_one(tpos[k, 0], tpos[k, 1], tpos[k, 2], th[k], -1, pos, mass, h, G, theta,
                                      alpha, aold[k], criterion, use_quad, perm, f, g)
        acc[k, 0] = ax
        acc[k, 1] = ay
        acc[k, 2] = az
        pot[k] = p
        nint[k] = ni
    return acc, pot, nint


refresh_stale_cache(globals())   # callees in other files are compiled in: see gpu.jit
