"""Particles in a (periodic) box: input checks and the cell list shared by the pair engine, the
friends-of-friends finder and the Delaunay density estimator.

A cell list (Hockney & Eastwood 1988, "Computer Simulation Using Particles", sec. 8-4) puts the
particles into ``nc^3`` cubic cells of side ``span/nc`` at least ``r_max/ext``, so that every pair
closer than ``r_max`` lies within ``ext`` cells; within each cell the particles are sorted by z, so
that the pair kernels can cut exact z windows.
"""
from __future__ import annotations

import numpy as np

from gpu.config import ConfigError


def as_points(name, a, n=None):
    """``a`` as a contiguous float64 (N, 3) array of finite numbers (``n`` rows if given), else ConfigError."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != 3:
        raise ConfigError(f"{name} must have shape (N, 3), got {a.shape}")
    if n is not None and a.shape[0] != n:
        raise ConfigError(f"{name} has {a.shape[0]} rows but the positions have {n}; arrays must match")
    finite = np.isfinite(a)
    if not np.all(finite):
        rows = np.flatnonzero(~finite.all(axis=1))
        raise ConfigError(f"{name} contains NaN or infinite values ({rows.size} of {a.shape[0]} rows, first row "
                          f"{rows[0]}: {a[rows[0]].tolist()}); the pair kernels need finite numbers")
    return np.ascontiguousarray(a)


def check_box(box, periodic):
    """The box side as a float (0.0 for an open sample); a periodic sample needs a finite box > 0."""
    if box is None:
        if periodic:
            raise ConfigError("box must be given (> 0) for periodic pairs; pass periodic=False for open samples")
        return 0.0
    box = float(box)
    if not (box > 0 and np.isfinite(box)):
        raise ConfigError(f"box must be a finite number > 0, got {box}")
    return box


def wrap_into_box(name, pos, box):
    """Positions in [0, box]; a coordinate equal to box is mapped to 0. Outside -> error."""
    if np.any(pos < 0) or np.any(pos > box):
        bad = pos[(pos < 0) | (pos > box)][0]
        raise ConfigError(f"{name} must lie inside the periodic box [0, {box}); found coordinate {bad}")
    return np.where(pos >= box, pos - box, pos)


def choose_grid(span: float, rmax: float, n: int, periodic: bool, refine: int = 2) -> tuple[int, int]:
    """Cells per side ``nc`` and neighbour reach ``ext`` (cells) for a cell list.

    The cell size ``span/nc`` is at least ``rmax/ext``, so all pairs closer than
    ``rmax`` lie within ``ext`` cells. Periodic grids need ``nc >= 2 ext + 1`` so the
    wrapped neighbour cells are distinct; the number of cells is capped at ~4 per particle.
    """
    cap = max(1, int(round((4.0 * max(n, 1)) ** (1.0 / 3.0))))
    for ext in range(max(int(refine), 1), 0, -1):
        nc = int(np.floor(span * ext / rmax * (1 - 1e-12))) if rmax > 0 else 1
        nc = min(nc, cap, 1024)
        if periodic:
            if nc >= 2 * ext + 1:
                return nc, ext
        elif nc >= 1:
            return nc, ext
    return 1, (0 if periodic else 1)


def sort_into_cells(pos, lo, cs, nc):
    """(order, start): particles sorted by cell (row-major x, y, z), each cell by z; cell c holds
    ``order[start[c]:start[c + 1]]``."""
    idx = np.floor((pos - lo) / cs).astype(np.int64)
    np.clip(idx, 0, nc - 1, out=idx)
    cid = (idx[:, 0] * nc + idx[:, 1]) * nc + idx[:, 2]
    order = np.argsort(cid, kind="stable")
    start = np.zeros(nc ** 3 + 1, dtype=np.int64)
    np.cumsum(np.bincount(cid, minlength=nc ** 3), out=start[1:])
    # within each cell by z: every (x, y) column is then sorted by z (exact z-windows in the kernel)
    from ._kernels.cells import zsort_cells

    zsort_cells(order, np.ascontiguousarray(pos[:, 2], dtype=np.float64), start)
    return order, start
