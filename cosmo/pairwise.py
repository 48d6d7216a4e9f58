"""Pairwise velocity statistics of N-body particles versus separation, without a grid.

This is the pair engine of Xu's statistical theory of dark-matter flow (Xu 2022,
arXiv:2202.06515, sec. 2; arXiv:2202.02991): for all particle pairs at separation r
it accumulates, in one pass and without storing pairs,

* pair counts (and weighted counts) per separation bin;
* raw moments of order 1..8 (any ``orders``) of the longitudinal velocities
  ``u_L = v . rhat`` and ``u_L' = v' . rhat``, of the pairwise velocity
  ``Delta u_L = u_L' - u_L`` and of the velocity sum ``Sigma u_L = u_L' + u_L``,
  and of the transverse speeds ``u_T = |v - u_L rhat|`` and
  ``Delta u_T = |(v' - v) - Delta u_L rhat|``;
* histograms (PDFs) of ``u_L``, ``u_L'``, ``Delta u_L`` and ``Sigma u_L`` per bin.

Orientation convention
----------------------
``r = x' - x`` points from the first particle (unprimed) to the second (primed),
``rhat = r / |r|`` (minimum image in a periodic box). Then ``Delta u_L =
(v' - v) . rhat`` is *negative for approaching pairs*: it equals halotools'
``v12 = (v1 - v2) . (x1 - x2) / r`` and the ``v12`` of Juszkiewicz et al. (1999).

Label swap
----------
For one sample ("auto" pairs) the labels of a pair are arbitrary. Swapping them
sends ``rhat -> -rhat``, ``u_L -> -u_L'``, ``u_L' -> -u_L``: ``Delta u_L`` is
invariant while ``Sigma u_L -> -Sigma u_L``. The engine therefore counts every
auto pair in both orientations (Xu 2022, eq. 4 uses both particles of each pair),
so that odd moments of ``Sigma u_L`` vanish identically, the ``u_L'`` distribution
is the mirror image of the ``u_L`` one, and nothing depends on particle order.
Cross pairs (sample 1 x sample 2, e.g. halo x out-of-halo particles) are oriented
from sample 1 (unprimed) to sample 2 (primed) and are not symmetrised.

Pairs at exactly zero separation have no direction and are skipped.

Example
-------
>>> import numpy as np
>>> from cosmo.pairwise import pair_moments
>>> rng = np.random.default_rng(1)
>>> pos = rng.uniform(0, 100.0, (2000, 3)); vel = rng.normal(0, 300.0, (2000, 3))
>>> st = pair_moments(pos, vel, box=100.0, rbins=np.logspace(0, 1.5, 8))
>>> st.mean("du_L").shape, bool(st.counts.sum() > 0)
((7,), True)

MPI: every rank holds all particles; the cells of the first sample are split in
blocks of similar work between ranks and the accumulators are summed with
``Allreduce``: pair counts (and, with unit weights, histogram counts) equal the serial ones
exactly; moments and PDFs differ from the serial ones by the order of the additions only
(round-off, tested to 1e-12 relative with ``mpiexec -n 2``).

GPU: ``backend="cuda"`` (or ``"auto"`` on a machine with a CUDA device) runs the same pair pass as
numba.cuda kernels (:mod:`cosmo._kernels.cuda_pairs`, one thread per particle over the same cell
list), with bit-identical per-pair numbers: counts and unit-weight histograms equal the CPU ones
exactly, moments to round-off (the additions happen in another order); tested against the CPU
engine under the CUDA simulator.

Precision: float64 by default; ``precision="mixed"`` computes the per-pair velocity projections
in float32 with float64 counts and power sums (identical counts, moments within 6e-7 relative of
float64 on a PM snapshot: see :func:`pair_moments` and :func:`mixed_precision_errors`).

Bad input (NaN or infinite positions, velocities, weights or bins, mismatched shapes, r_max beyond
half a periodic box) raises :class:`gpu.config.ConfigError` (a ``ValueError``) naming the array,
before any kernel runs.
"""
from __future__ import annotations

import dataclasses

import numpy as np

import gpu
from gpu.config import ConfigError

from .cell_grid import as_points, check_box, choose_grid, sort_into_cells, wrap_into_box

#: quantity names, in kernel order (cosmo/_kernels/pair_scan.py)
QUANTITIES = ("u_L", "u_L'", "du_L", "su_L", "u_T", "du_T")
#: quantities with histograms
PDF_QUANTITIES = QUANTITIES[:4]
#: arithmetic of the per-pair velocity quantities (:func:`pair_moments`'s ``precision``)
PRECISIONS = ("double", "mixed")
#: error budget of ``precision="mixed"`` against ``"double"`` (:func:`mixed_precision_errors`), enforced by
#: tests/cosmo/test_pairwise.py: moments (relative to the scale m_n) and the fraction of PDF values moved to
#: another velocity bin; measured at most 5.8e-7 and 1.7e-5 (benchmarks/pairwise_precision.py)
MIXED_ERROR_BUDGET = {"moments": 2e-6, "pdf_moved": 5e-5}
_HDF5_NAMES = {"u_L": "uL", "u_L'": "uLp", "du_L": "duL", "su_L": "suL", "u_T": "uT", "du_T": "duT"}
_MAX_ORDER = 16


# ----------------------------------------------------------------------------------------
# input validation and the cell grid
# ----------------------------------------------------------------------------------------
def check_rbins(rbins, box=None, periodic=True) -> np.ndarray:
    """Validate separation bin edges: increasing, >= 0, and r_max <= box/2 when periodic."""
    r = np.asarray(rbins, dtype=np.float64)
    if r.ndim != 1 or r.size < 2:
        raise ConfigError(f"rbins must be a 1-D array of at least 2 edges, got shape {r.shape}")
    if not np.all(np.isfinite(r)) or r[0] < 0 or np.any(np.diff(r) <= 0):
        raise ConfigError(f"rbins must be finite, >= 0 and strictly increasing, got {r}")
    if periodic and box is not None and r[-1] > 0.5 * box:
        raise ConfigError(f"rbins: r_max = {r[-1]} exceeds half the box ({0.5 * box}); the minimum-image "
                         "convention is ambiguous beyond box/2")
    return r


def _uniform(edges) -> bool:
    d = np.diff(edges)
    return bool(np.allclose(d, d[0], rtol=1e-12, atol=0))


def _work_bounds(start1, start2, comm, nchunks):
    """Cell ranges of this rank split in ``nchunks`` chunks of similar estimated work (n1 * n2 per cell)."""
    n1 = np.diff(start1).astype(np.float64)
    n2 = np.diff(start2).astype(np.float64)
    work = n1 * (n2 + n2.mean()) + n1
    cum = np.concatenate([[0.0], np.cumsum(work)])
    total = cum[-1]
    ncell = len(n1)
    size, rank = getattr(comm, "size", 1), getattr(comm, "rank", 0)
    lo_r = int(np.searchsorted(cum, total * rank / size, side="left")) if rank > 0 else 0
    hi_r = int(np.searchsorted(cum, total * (rank + 1) / size, side="left")) if rank < size - 1 else ncell
    lo_r, hi_r = min(lo_r, ncell), min(max(hi_r, lo_r), ncell)
    targets = cum[lo_r] + (cum[hi_r] - cum[lo_r]) * np.arange(1, nchunks) / nchunks
    inner = np.searchsorted(cum, targets, side="left").clip(lo_r, hi_r)
    return np.concatenate([[lo_r], inner, [hi_r]]).astype(np.int64)


def _nchunks():
    import numba

    return max(1, 8 * numba.get_num_threads())


@dataclasses.dataclass
class _Prepared:
    pos1: np.ndarray
    vel1: np.ndarray
    w1: np.ndarray
    start1: np.ndarray
    pos2: np.ndarray
    vel2: np.ndarray
    w2: np.ndarray
    start2: np.ndarray
    nc: int
    ext: int
    box: float
    periodic: bool
    lo: np.ndarray
    cs: float


def _prepare(pos1, vel1, w1, pos2, vel2, w2, box, rmax, periodic, refine):
    if periodic:
        lo = np.zeros(3)
        span = box
    else:
        allp = pos1 if pos2 is None else np.vstack([pos1, pos2])
        lo = allp.min(axis=0)
        span = float(np.max(allp.max(axis=0) - lo)) or 1.0
        span *= 1 + 1e-9
    n = len(pos1) + (0 if pos2 is None else len(pos2))
    nc, ext = choose_grid(span, rmax, n, periodic, refine)
    cs = span / nc
    o1, s1 = sort_into_cells(pos1, lo, cs, nc)
    p1, v1, ww1 = pos1[o1], vel1[o1], w1[o1]
    if pos2 is None:
        p2, v2, ww2, s2 = p1, v1, ww1, s1
    else:
        o2, s2 = sort_into_cells(pos2, lo, cs, nc)
        p2, v2, ww2 = pos2[o2], vel2[o2], w2[o2]
    c = np.ascontiguousarray
    return _Prepared(c(p1), c(v1), c(ww1), s1, c(p2), c(v2), c(ww2), s2, nc, ext, box, periodic,
                     np.asarray(lo, dtype=np.float64), float(cs))


# ----------------------------------------------------------------------------------------
# results
# ----------------------------------------------------------------------------------------
@dataclasses.dataclass
class PairStatistics:
    """Pair statistics per separation bin (see the module docstring for the conventions).

    Attributes
    ----------
    rbins : (nb+1,) bin edges; ``r`` gives bin centres (geometric for log bins).
    counts : (nb,) number of distinct pairs per bin (unweighted).
    weighted_counts : (nb,) sum of pair weights ``w_i w_j`` over distinct pairs.
    orders : tuple of the moment orders stored.
    moments : dict quantity -> (nb, len(orders)) weighted raw moments ``<q^n>``.
    pdf_bins : (nh+1,) histogram edges or None; pdf : dict quantity -> (nb, nh) densities,
        normalised by all pairs of the bin (so they integrate to the fraction inside the range).
    n1, n2 : sizes of the samples (n2 = n1 for auto pairs); box, periodic, auto.
    """

    rbins: np.ndarray
    counts: np.ndarray
    weighted_counts: np.ndarray
    orders: tuple
    moments: dict
    pdf_bins: np.ndarray | None
    pdf: dict | None
    n1: int
    n2: int
    box: float
    periodic: bool
    auto: bool
    total_weight1: float = 0.0
    total_weight2: float = 0.0

    @property
    def r(self) -> np.ndarray:
        lo, hi = self.rbins[:-1], self.rbins[1:]
        return np.where(lo > 0, np.sqrt(lo * np.where(lo > 0, hi, 1.0)), 0.5 * (lo + hi))

    def moment(self, name: str, n: int) -> np.ndarray:
        """Raw moment ``<q^n>`` of quantity ``name`` (one of QUANTITIES) per bin."""
        if name not in self.moments:
            raise KeyError(f"unknown quantity {name!r}; choose from {list(self.moments)}")
        if n not in self.orders:
            raise KeyError(f"order {n} was not accumulated; orders = {self.orders}")
        return self.moments[name][:, self.orders.index(n)]

    def mean(self, name: str) -> np.ndarray:
        return self.moment(name, 1)

    def central_moment(self, name: str, n: int) -> np.ndarray:
        """Central moment ``<(q - <q>)^n>`` from the raw moments (binomial expansion)."""
        from math import comb

        m = self.mean(name)
        out = np.zeros_like(m)
        for k in range(n + 1):
            raw = np.ones_like(m) if k == 0 else self.moment(name, k)
            out += comb(n, k) * raw * (-m) ** (n - k)
        return out

    def std(self, name: str) -> np.ndarray:
        return np.sqrt(np.maximum(self.central_moment(name, 2), 0.0))

    def skewness(self, name: str) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.central_moment(name, 3) / self.std(name) ** 3

    def kurtosis(self, name: str) -> np.ndarray:
        """Kurtosis ``mu_4 / mu_2^2`` (3 for a Gaussian, 6 for Laplace)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.central_moment(name, 4) / self.central_moment(name, 2) ** 2

    def xi(self) -> np.ndarray:
        """Two-point correlation ``DD/RR - 1`` with the analytic RR of a periodic box.

        RR = N1 N2 (4 pi / 3)(r_hi^3 - r_lo^3) / V (halved for auto pairs with N1 (N1 - 1)).
        """
        if not self.periodic:
            raise ValueError("xi() needs a periodic box (analytic random pairs); use randoms for open samples")
        shell = 4.0 / 3.0 * np.pi * (self.rbins[1:] ** 3 - self.rbins[:-1] ** 3) / self.box ** 3
        npair = 0.5 * self.n1 * (self.n1 - 1) if self.auto else float(self.n1) * self.n2
        return self.counts / (npair * shell) - 1.0

    def to_datasets(self) -> dict:
        d = {"rbins": self.rbins, "r": self.r, "counts": self.counts, "weighted_counts": self.weighted_counts,
             "orders": np.asarray(self.orders)}
        for k, v in self.moments.items():
            d[f"moments/{_HDF5_NAMES[k]}"] = v
        if self.pdf is not None:
            d["pdf_bins"] = self.pdf_bins
            for k, v in self.pdf.items():
                d[f"pdf/{_HDF5_NAMES[k]}"] = v
        if self.periodic:
            d["xi"] = self.xi()
        return d

    def write(self, path, params: dict | None = None, units: dict | None = None):
        """Write to HDF5 (atomic, with the standard header) via :func:`gpu.io.write_results`."""
        from gpu.io import write_results

        p = {"n1": self.n1, "n2": self.n2, "box": self.box, "periodic": self.periodic, "auto": self.auto,
             "orientation": "r = x2 - x1; du_L = (v2 - v1).rhat < 0 approaching (halotools v12)",
             "label_swap": "auto pairs counted in both orientations" if self.auto else "cross pairs 1 -> 2"}
        p.update(params or {})
        return write_results(path, self.to_datasets(), params=p, units=units)


def mixed_precision_errors(st_double: PairStatistics, st_mixed: PairStatistics, min_values: float = 1000.0) -> dict:
    """How far ``precision="mixed"`` statistics are from the float64 ones of the same sample.

    Returns ``{"moments": {quantity: [e_n for each order]}, "worst_moment", "pdf_moved", "pdf_bin_rel"}``:

    * ``e_n = max_b |<q^n>_mixed - <q^n>_double| / m_n`` over the r bins with pairs, with the scale
      ``m_n = <q^n>`` for even n and ``m_n = sqrt(<q^(n-1)> <q^(n+1)>)`` for odd n (an upper bound of
      ``<|q|^n>`` by the Cauchy-Schwarz inequality; ``<q^0> = 1``), so that odd moments close to zero
      are measured against the size of their terms (odd orders without both neighbours are skipped);
    * ``pdf_moved``: per r bin the fraction of the binned values that went to another velocity bin,
      ``sum_k |h_mixed - h_double| / (2 sum_k h_double)`` (largest over r bins and PDF quantities);
    * ``pdf_bin_rel``: the largest relative change of a velocity bin holding at least ``min_values``
      values (unit weights).

    Raises ``ValueError`` unless pair counts and weighted counts are identical (the mixed mode keeps
    them exact)."""
    if not (np.array_equal(st_double.counts, st_mixed.counts)
            and np.array_equal(st_double.weighted_counts, st_mixed.weighted_counts)):
        raise ValueError("pair counts of the two statistics differ")
    ok = st_double.counts > 0
    orders = st_double.orders
    moments = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        for q in st_double.moments:
            def mom(n):
                return np.ones(ok.sum()) if n == 0 else st_double.moment(q, n)[ok]

            row = []
            for n in orders:
                if n % 2 == 0:
                    scale = mom(n)
                elif (n - 1 == 0 or n - 1 in orders) and n + 1 in orders:
                    scale = np.sqrt(mom(n - 1) * mom(n + 1))
                else:
                    continue
                d = np.abs(st_mixed.moment(q, n)[ok] - st_double.moment(q, n)[ok])
                row.append(float(np.max(np.where(scale > 0, d / scale, np.where(d > 0, np.inf, 0.0)))))
            moments[q] = row
        moved = bin_rel = None
        if st_double.pdf:
            moved = bin_rel = 0.0
            dh = np.diff(st_double.pdf_bins)
            wtot = (2.0 if st_double.auto else 1.0) * st_double.weighted_counts[ok]
            for q in st_double.pdf:
                hd = st_double.pdf[q][ok] * dh * wtot[:, None]       # weight per velocity bin
                hm = st_mixed.pdf[q][ok] * dh * wtot[:, None]
                tot = hd.sum(axis=1)
                moved = max(moved, float(np.max(np.where(tot > 0, np.abs(hm - hd).sum(axis=1) / (2 * tot), 0.0))))
                big = hd >= min_values
                if big.any():
                    bin_rel = max(bin_rel, float(np.max(np.abs(hm - hd)[big] / hd[big])))
    worst = max((max(r) for r in moments.values() if r), default=0.0)
    return {"moments": moments, "worst_moment": worst, "pdf_moved": moved, "pdf_bin_rel": bin_rel}


# ----------------------------------------------------------------------------------------
# the driver
# ----------------------------------------------------------------------------------------
def pair_moments(pos, vel, box, rbins, orders=range(1, 9), pdf_bins=None, comm=None, *,
                 pos2=None, vel2=None, weights=None, weights2=None, periodic=None,
                 cell_refine: int = 2, quantities=None, backend: str = "auto",
                 precision: str = "double") -> PairStatistics:
    """Counts, velocity moments and PDFs of all particle pairs in separation bins.

    Parameters
    ----------
    pos, vel : (N, 3) arrays
        Positions (comoving, e.g. Mpc/h) and velocities (any unit, e.g. km/s peculiar).
    box : float or None
        Periodic box side (same unit as ``pos``); ``None`` for an open (non-periodic) sample.
        Periodic positions must lie in ``[0, box]``.
    rbins : array
        Separation bin edges (linear, log or any increasing set); ``r_max <= box/2`` when periodic.
    orders : iterable of int
        Moment orders to accumulate (1..16).
    pdf_bins : array or None
        Velocity histogram edges shared by the PDF quantities (uniform edges are fastest). PDFs
        are kept for those of ``u_L``, ``u_L'``, ``du_L``, ``su_L`` that are in ``quantities``;
        asking for ``du_L`` alone runs the cheapest pass (about half the time of all four).
    comm : mpi4py communicator or None
        See the module docstring.
    pos2, vel2 : (N2, 3) arrays, optional
        A second sample: cross pairs (1 -> 2) instead of auto pairs.
    weights, weights2 : (N,) arrays, optional
        Particle weights; a pair has weight ``w_i w_j``.
    periodic : bool or None
        Default: ``box is not None``.
    cell_refine : int
        Cells per ``r_max`` in the cell list (2 visits ~15.6 r_max^3 of volume per particle, 1 visits 27).
    quantities : iterable of str or None
        Subset of QUANTITIES whose moments (and PDFs, see ``pdf_bins``) are accumulated
        (default all); e.g. ``("du_L",)`` for halotools-like mean and dispersion of the pairwise
        velocity only.
    backend : {"auto", "cpu", "cuda"}
        Where the pair pass runs (:func:`resolve_backend`): ``"cuda"`` runs the numba.cuda engine
        (:mod:`cosmo._kernels.cuda_pairs`, a device or the CUDA simulator), with the same pairs and the
        same per-pair arithmetic: counts and unit-weight histograms equal the CPU ones exactly, moments
        to round-off (the order of the additions differs).
    precision : {"double", "mixed"}
        Arithmetic of the per-pair velocity quantities (CPU backend). ``"double"`` (default): all in
        float64. ``"mixed"``: separations, r bins, pair counts, weights and the power sums stay
        float64 (counts identical to ``"double"``), while the projections ``u_L``, ``u_L'``, the
        transverse speeds, ``Delta u_L``, ``Sigma u_L`` and the values binned into the PDFs are
        computed in float32 from the float64 dot products (one reciprocal ``1/|r|`` per pair;
        each value then carries a relative error of a few float32 units, 6e-8, and an n-th power
        about n times that). Measured against ``"double"`` (:func:`mixed_precision_errors`,
        ``benchmarks/pairwise_precision.py``; a 32^3 PM snapshot at z = 0 and a clustered mock of
        1e5 points): moments 1-8 of every quantity within 5.8e-7 relative (to ``<q^n>`` for even n,
        ``sqrt(<q^(n-1)> <q^(n+1)>)`` for odd n), at most 1.7e-5 of the values of an r bin moved to
        another velocity bin of 50 km/s (values within float32 round-off of an edge); the
        tests hold it to :data:`MIXED_ERROR_BUDGET` (2e-6, 5e-5) and the counts to identity.
        ``backend="cuda"`` with ``"mixed"`` is an error; ``"auto"`` runs it on the CPU.

    Returns
    -------
    PairStatistics
    """
    from ._kernels import pair_scan as K

    qproto = _precision_proto(precision, backend)
    if precision == "mixed" and backend == "auto":
        backend = "cpu"   # the mixed mode is a CPU-kernel mode
    backend = resolve_backend(backend)

    periodic = (box is not None) if periodic is None else bool(periodic)
    box = check_box(box, periodic)
    pos = as_points("pos", pos)
    vel = as_points("vel", vel, len(pos))
    auto = pos2 is None
    if auto and vel2 is not None:
        raise ConfigError("vel2 given without pos2")
    if not auto:
        pos2 = as_points("pos2", pos2)
        if vel2 is None:
            raise ConfigError("pos2 given without vel2")
        vel2 = as_points("vel2", vel2, len(pos2))
    rb = check_rbins(rbins, box, periodic)
    orders = tuple(orders)
    if any(isinstance(o, bool) or not isinstance(o, (int, np.integer)) or o < 1 or o > _MAX_ORDER
                         for o in orders):
        raise ConfigError(f"orders must be integers in [1, {_MAX_ORDER}], got {orders}")
    orders = tuple(int(o) for o in orders)
    nmax = max(orders) if orders else 0
    w1 = _weights("weights", weights, len(pos))
    w2 = None if auto else _weights("weights2", weights2, len(pos2))
    if periodic:
        pos = wrap_into_box("pos", pos, box)
        if not auto:
            pos2 = wrap_into_box("pos2", pos2, box)
    if pdf_bins is None:
        hedges = np.zeros(1)
        huni = True
    else:
        hedges = np.asarray(pdf_bins, dtype=np.float64)
        if hedges.ndim != 1 or hedges.size < 2 or np.any(np.diff(hedges) <= 0) or not np.all(np.isfinite(hedges)):
            raise ConfigError("pdf_bins must be a 1-D increasing array of at least 2 finite edges")
        huni = _uniform(hedges)
    if not isinstance(cell_refine, (int, np.integer)) or not 1 <= cell_refine <= 4:
        raise ConfigError(f"cell_refine must be an integer in [1, 4], got {cell_refine!r}")

    comm = gpu.get_comm(comm)
    if quantities is None:
        quantities = QUANTITIES
    bad = [q for q in quantities if q not in QUANTITIES]
    if bad:
        raise ConfigError(f"quantities must be among {QUANTITIES}, got {bad}")
    want = ((K.WANT_L if ("u_L" in quantities or "u_L'" in quantities) else 0)
            | (K.WANT_D if "du_L" in quantities else 0) | (K.WANT_S if "su_L" in quantities else 0)
            | (K.WANT_T if ("u_T" in quantities or "du_T" in quantities) else 0)
            | _pdf_want(K, pdf_bins, quantities))
    prep = _prepare(pos, vel, w1, pos2, vel2, w2, box, rb[-1], periodic, cell_refine)
    bounds = _work_bounds(prep.start1, prep.start2, comm, _nchunks())
    counts, wcounts, mom, hist = _run_kernel(prep, auto, rb, nmax, hedges, huni, bounds, want, backend, qproto)
    counts = gpu.allreduce_sum(comm, counts.sum(axis=0))
    wcounts = gpu.allreduce_sum(comm, wcounts.sum(axis=0))
    mom = gpu.allreduce_sum(comm, mom.sum(axis=0))
    hist = gpu.allreduce_sum(comm, hist.sum(axis=0))

    # assemble per-quantity means over oriented pairs (see cosmo/_kernels/pair_scan.py for the raw sums)
    idx = list(orders)
    with np.errstate(invalid="ignore", divide="ignore"):
        if auto:
            wtot = 2.0 * wcounts[:, None]
            sign = np.array([(-1.0) ** o for o in orders])
            even = np.array([o % 2 == 0 for o in orders], dtype=float)
            raw = {"u_L": mom[:, 0, idx] / wtot, "du_L": mom[:, 2, idx] / wcounts[:, None],
                   "su_L": mom[:, 3, idx] * even / wcounts[:, None], "u_T": mom[:, 4, idx] / wtot,
                   "du_T": mom[:, 5, idx] / wcounts[:, None]}
            raw["u_L'"] = raw["u_L"] * sign
        else:
            wtot = wcounts[:, None]
            raw = {name: mom[:, k, idx] / wtot for k, name in enumerate(QUANTITIES)}
        moments = {name: raw[name] for name in QUANTITIES if name in quantities}
        pdf = None
        if pdf_bins is not None:
            dh = np.diff(hedges)
            pdf = {name: hist[:, k, :] / wtot / dh for k, name in enumerate(PDF_QUANTITIES) if name in quantities}
    return PairStatistics(rbins=rb, counts=counts, weighted_counts=wcounts, orders=orders, moments=moments,
                          pdf_bins=None if pdf_bins is None else hedges, pdf=pdf, n1=len(pos),
                          n2=len(pos) if auto else len(pos2), box=box, periodic=periodic, auto=auto,
                          total_weight1=float(w1.sum()), total_weight2=float(w1.sum() if auto else w2.sum()))


def _pdf_want(K, pdf_bins, quantities):
    """Histogram bits of the kernel's ``want`` mask: the Delta u_L histogram alone (the cheapest
    pass: only ``(v' - v) . r`` is kept per pair) when it is the only PDF quantity asked for, else
    all four (the driver returns those asked for)."""
    if pdf_bins is None:
        return 0
    asked = [q for q in PDF_QUANTITIES if q in quantities]
    if not asked:
        return 0
    return K.WANT_HD if asked == ["du_L"] else K.WANT_H


def resolve_backend(backend) -> str:
    """``"auto"|"cpu"|"cuda"`` -> ``"cpu"`` or ``"cuda"`` for the pair engine (:func:`gpu.cuda.numba_backend`:
    ``"auto"`` takes a CUDA device when numba.cuda finds one; ``"cuda"`` without a device or the CUDA
    simulator raises :class:`gpu.GPUUnavailableError` with the reason). A name outside the three is a
    :class:`ConfigError`."""
    from gpu.cuda import numba_backend

    try:
        return numba_backend(backend)
    except ValueError as exc:
        raise ConfigError(f"backend: {exc}") from None


def _precision_proto(precision, backend) -> np.ndarray:
    """``precision`` ("double" or "mixed") as the kernel's dtype prototype (float64 or float32); "mixed"
    is a CPU-kernel mode (the CUDA engine computes in float64): with ``backend="cuda"`` a ConfigError,
    checked before any device is looked for."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "mixed" and backend == "cuda":
        raise ConfigError("precision='mixed' is implemented for the CPU backend only; use backend='cpu' "
                          "or precision='double'")
    return np.zeros(1, dtype=np.float32 if precision == "mixed" else np.float64)


def _run_kernel(prep, auto, rb, nmax, hedges, huni, bounds, want, backend="cpu", qproto=None):
    from ._kernels.pair_scan import Cells, Grid, pair_pass

    c1 = Cells(prep.pos1[:, 0].copy(), prep.pos1[:, 1].copy(), prep.pos1[:, 2].copy(), prep.vel1, prep.w1, prep.start1)
    c2 = Cells(prep.pos2[:, 0].copy(), prep.pos2[:, 1].copy(), prep.pos2[:, 2].copy(), prep.vel2, prep.w2, prep.start2)
    grid = Grid(prep.nc, prep.ext, prep.box, prep.periodic, prep.lo, prep.cs)
    if backend == "cuda":
        from ._kernels.cuda_pairs import pair_pass_cuda

        return pair_pass_cuda(c1, c2, grid, auto, rb ** 2, nmax, hedges, huni, bounds[[0, -1]], want)
    qproto = np.zeros(1) if qproto is None else qproto
    return pair_pass(c1, c2, grid, auto, rb ** 2, nmax, hedges, huni, bounds, want, qproto)


def _weights(name, w, n):
    if w is None:
        return np.ones(n)
    w = np.asarray(w, dtype=np.float64)
    if w.shape != (n,):
        raise ConfigError(f"{name} must have shape ({n},), got {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ConfigError(f"{name} must be finite and >= 0")
    return np.ascontiguousarray(w)


def pair_counts(pos, box, rbins, pos2=None, comm=None, periodic=None, cell_refine: int = 2,
                backend: str = "auto") -> np.ndarray:
    """Pair counts only (no velocities): the ``DD`` of Corrfunc, distinct pairs per bin (``backend`` as
    in :func:`pair_moments`; the counts are the same on both)."""
    backend = resolve_backend(backend)
    periodic = (box is not None) if periodic is None else bool(periodic)
    box = check_box(box, periodic)
    pos = as_points("pos", pos)
    if pos2 is not None:
        pos2 = as_points("pos2", pos2)
    rb = check_rbins(rbins, box, periodic)
    if periodic:
        pos = wrap_into_box("pos", pos, box)
        if pos2 is not None:
            pos2 = wrap_into_box("pos2", pos2, box)
    comm = gpu.get_comm(comm)
    z1 = np.zeros_like(pos)
    z2 = None if pos2 is None else np.zeros_like(pos2)
    prep = _prepare(pos, z1, np.ones(len(pos)), pos2, z2, None if pos2 is None else np.ones(len(pos2)),
                    box, rb[-1], periodic, cell_refine)
    bounds = _work_bounds(prep.start1, prep.start2, comm, _nchunks())
    counts, _, _, _ = _run_kernel(prep, pos2 is None, rb, 0, np.zeros(1), True, bounds, 0, backend)
    return gpu.allreduce_sum(comm, counts.sum(axis=0))


def time_pair_moments(n: int, backend: str = "cpu", *, box: float | None = None, rmax: float = 20.0,
                      nbins: int = 15, orders=range(1, 9), pdf_bins=None, quantities=None, seed: int = 1,
                      warmup: bool = True):
    """Time the pair engine on ``n`` particles (for benchmarks): returns ``(seconds, PairStatistics)``.

    The sample: half the particles uniform in a periodic box, half in Gaussian clumps (sigma 1 Mpc/h,
    ``n/200`` clumps) falling in at 50 km/s per Mpc/h on top of 300 km/s Gaussian velocities; the box
    side defaults to ``250 (n/1e5)^(1/3)`` Mpc/h (the density of 1e5 particles in 250 Mpc/h, about 200
    partners within 20 Mpc/h each), 15 log bins from 0.1 to ``rmax``, velocity histogram edges
    ``linspace(-3000, 3000, 121)`` unless ``pdf_bins`` is given (``False``: no histograms).
    ``seconds`` is the wall time of one :func:`pair_moments` call (host cell list, transfers and
    kernels), after a call on 2000 particles that compiles the kernels (``warmup``).
    :func:`pair_work` gives the operation counts of the result, for roofline fractions.
    """
    import time

    box = 250.0 * (n / 1e5) ** (1.0 / 3.0) if box is None else float(box)
    rng = np.random.default_rng(seed)
    pos = rng.uniform(0, box, (n, 3))
    c = rng.uniform(0, box, (max(n // 200, 1), 3))
    k = rng.integers(0, len(c), n // 2)
    pos[: n // 2] = c[k] + rng.normal(0, 1.0, (n // 2, 3))
    vel = rng.normal(0, 300.0, (n, 3))
    vel[: n // 2] += -50.0 * (pos[: n // 2] - c[k])
    pos = np.mod(pos, box)
    rb = np.logspace(-1, np.log10(rmax), nbins + 1)
    hb = np.linspace(-3000, 3000, 121) if pdf_bins is None else (None if pdf_bins is False else pdf_bins)
    kw = dict(orders=orders, pdf_bins=hb, quantities=quantities, backend=backend)
    if warmup:
        m = min(n, 2000)
        pair_moments(pos[:m], vel[:m], box, rb, **kw)
    t0 = time.perf_counter()
    st = pair_moments(pos, vel, box, rb, **kw)
    return time.perf_counter() - t0, st


def pair_work(st: PairStatistics) -> dict:
    """Work of the pair pass that produced ``st``, for roofline estimates: ``pairs`` (in-range pairs,
    each unordered auto pair once) and the CUDA kernel's ``flops``, ``atomics`` and ``bytes`` per
    pair (:func:`cosmo._kernels.cuda_pairs.work_per_pair`; candidates outside the bins not counted)."""
    from ._kernels.cuda_pairs import work_per_pair

    pdf = None
    if st.pdf:
        pdf = "du_L" if list(st.pdf) == ["du_L"] else "all"
    w = work_per_pair(tuple(st.moments), max(st.orders) if st.orders else 0, pdf, auto=st.auto)
    return dict(w, pairs=float(st.counts.sum()))


def density_pair_statistics(pos, field, box, rbins, comm=None, periodic=None, cell_refine: int = 2) -> dict:
    """Pairwise statistics of a per-particle scalar ``field`` (e.g. DTFE density contrast) versus r.

    Xu (2022, arXiv:2202.06515, sec. 5) characterises densities by pairs of particles at
    separation r: the correlation ``<s s'>``, the mean ``<s>`` over pairs, the pair
    dispersion ``<(s' - s)^2>`` (a structure function) and the normalised correlation
    ``rho(r) = (<s s'> - <s>^2) / (<s^2> - <s>^2)`` (one-point moments over particles).

    Returns a dict with ``r``, ``counts``, ``corr`` = <s s'>, ``pair_mean``, ``pair_var``,
    ``dispersion`` = <(s' - s)^2>, ``norm_corr``.
    """
    from ._kernels.scalar_pairs import scalar_pair_pass

    periodic = (box is not None) if periodic is None else bool(periodic)
    box = check_box(box, periodic)
    pos = as_points("pos", pos)
    s = np.asarray(field, dtype=np.float64)
    if s.shape != (len(pos),):
        raise ConfigError(f"field must have shape ({len(pos)},), got {s.shape}")
    if not np.all(np.isfinite(s)):
        raise ConfigError(f"field contains NaN or infinite values ({int(np.sum(~np.isfinite(s)))} of {s.size})")
    rb = check_rbins(rbins, box, periodic)
    if periodic:
        pos = wrap_into_box("pos", pos, box)
    comm = gpu.get_comm(comm)
    prep = _prepare(pos, np.zeros_like(pos), s, None, None, None, box, rb[-1], periodic, cell_refine)
    bounds = _work_bounds(prep.start1, prep.start1, comm, _nchunks())
    acc = scalar_pair_pass(prep.pos1, prep.w1, prep.start1, prep.nc, prep.ext, prep.box, prep.periodic,
                             rb ** 2, bounds)
    acc = gpu.allreduce_sum(comm, acc.sum(axis=0))
    n = acc[:, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = acc[:, 1] / n
        mean = acc[:, 2] / n
        var = acc[:, 3] / n
        disp = acc[:, 4] / n
        m1, m2 = s.mean(), (s ** 2).mean()
        norm = (corr - m1 ** 2) / (m2 - m1 ** 2)
    lo, hi = rb[:-1], rb[1:]
    r = np.where(lo > 0, np.sqrt(np.where(lo > 0, lo, 1.0) * hi), 0.5 * (lo + hi))
    return {"rbins": rb, "r": r, "counts": n, "corr": corr, "pair_mean": mean, "pair_var": var,
            "dispersion": disp, "norm_corr": norm}



# ----------------------------------------------------------------------------------------
# halo / out-of-halo split
# ----------------------------------------------------------------------------------------
#: the samples of :func:`halo_split_statistics`: all particles, halo-halo, out-out, halo -> out pairs
SPLIT_SAMPLES = ("all", "halo", "out", "cross")


@dataclasses.dataclass
class HaloSplitStatistics:
    """Pair statistics of all particles and of the friends-of-friends halo / out-of-halo split.

    Attributes
    ----------
    samples : dict name -> :class:`PairStatistics` for the names of :data:`SPLIT_SAMPLES` (``all``;
        ``halo`` and ``out``: auto pairs within each set; ``cross``: pairs from a halo particle to
        an out-of-halo particle); a sample with too few particles for a pair is left out.
    catalogue : the :class:`cosmo.fof.FoFCatalogue` of the split.
    b, min_size : the FoF linking parameter (mean separations) and smallest group counted as a halo.
    """

    samples: dict
    catalogue: object
    b: float
    min_size: int

    @property
    def in_halo(self) -> np.ndarray:
        return self.catalogue.in_halo

    def params(self) -> dict:
        """Header parameters of the split (FoF settings, halo fraction, number of groups)."""
        return {"fof_b": self.b, "fof_min_size": self.min_size, "halo_fraction": float(self.in_halo.mean()),
                "n_groups": self.catalogue.ngroups}

    def to_datasets(self) -> dict:
        """Datasets ``fof/<name>`` of the catalogue and ``<sample>/<name>`` of each sample."""
        out = {f"fof/{k.split('/')[-1]}": v for k, v in self.catalogue.to_datasets().items()}
        for name, st in self.samples.items():
            out.update({f"{name}/{k}": v for k, v in st.to_datasets().items()})
        return out


def halo_split_statistics(pos, vel, box, rbins, *, b: float = 0.2, min_size: int = 2, orders=range(1, 9),
                          pdf_bins=None, quantities=None, comm=None, cell_refine: int = 2,
                          backend: str = "auto", precision: str = "double") -> HaloSplitStatistics:
    """Pair statistics of all particles and split into halo / out-of-halo particles (periodic box).

    The particles are split by periodic friends-of-friends (:func:`cosmo.fof.friends_of_friends`,
    linking length ``b`` times the mean interparticle separation, groups of at least ``min_size``
    particles are halos), as in Xu (2022, arXiv:2202.06515) for the pairwise velocities in and out
    of haloes; :func:`pair_moments` is then run on all particles, on the halo-halo and out-out auto
    pairs and on the halo -> out cross pairs. Every pair of the whole sample is in exactly one of the
    three split samples (so their counts add up to those of ``all``).

    Parameters as :func:`pair_moments` (``box`` must be a finite periodic box side); ``b`` in (0, 1),
    ``min_size >= 1``. (Thirteen arguments: the four data arguments, then keyword-only options, the
    FoF pair ``b``/``min_size`` and those passed on to :func:`pair_moments` unchanged.)
    """
    from gpu.config import check_arg

    from .fof import friends_of_friends

    check_arg("b", b, gt=0, lt=1)
    check_arg("min_size", min_size, ge=1)
    _precision_proto(precision, backend)
    if isinstance(min_size, bool) or not isinstance(min_size, (int, np.integer)):
        raise ConfigError(f"min_size must be an integer >= 1, got {min_size!r}")
    box = check_box(box, True)
    pos = wrap_into_box("pos", as_points("pos", pos), box)
    vel = as_points("vel", vel, len(pos))
    check_rbins(rbins, box, True)
    comm = gpu.get_comm(comm)
    cat = friends_of_friends(pos, box, b=b, vel=vel, min_size=int(min_size), comm=comm)
    h = cat.in_halo
    split = {"all": (pos, vel, None, None), "halo": (pos[h], vel[h], None, None),
             "out": (pos[~h], vel[~h], None, None), "cross": (pos[h], vel[h], pos[~h], vel[~h])}
    samples = {}
    for name, (p1, v1, p2, v2) in split.items():
        if len(p1) < 2 or (p2 is not None and len(p2) < 1):
            continue
        samples[name] = pair_moments(p1, v1, box, rbins, orders=orders, pdf_bins=pdf_bins, comm=comm, pos2=p2,
                                     vel2=v2, quantities=quantities, cell_refine=cell_refine, backend=backend,
                                     precision=precision)
    return HaloSplitStatistics(samples=samples, catalogue=cat, b=float(b), min_size=int(min_size))
