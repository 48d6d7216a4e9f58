"""``python -m cosmo pairwise SNAPSHOT [--halo-split] [--rbins ...] --out stats.h5 [--json summary.json]``.

Pairwise velocity statistics of the particles of a GADGET snapshot (HDF5 or GADGET-2), in the
snapshot's length unit (comoving, e.g. Mpc/h or kpc/h) and peculiar velocities (km/s). With
``--halo-split`` the particles are split by periodic friends-of-friends into halo and
out-of-halo particles and the statistics are computed for all, halo-halo, out-out and
halo -> out pairs. Under ``mpiexec`` the pair work is shared between ranks; rank 0 writes.

Before any pair is counted: the outputs are checked writable, every option is checked (finite,
in range, bins increasing with r_max <= box/2), the snapshot is read and its positions and
velocities are checked finite; each problem is one ``error:`` line naming the option or file
(exit 2, :func:`gpu.cli.dispatch`). Bins without pairs have no moments: they are ``NaN`` in the
HDF5 file and ``null`` in the JSON summary (``counts`` says which); any other non-finite result
fails the command (:class:`PairwiseResultError`, exit 1) and writes nothing.
"""
from __future__ import annotations

import logging
import math

import numpy as np

from gpu.config import ConfigError
from gpu.io import ResultError


class PairwiseResultError(ResultError):
    """A moment of a bin that has pairs is not finite (overflow or a kernel fault)."""


def _floats(text, name, count=None):
    """Comma-separated numbers of option ``--name`` (all finite; exactly ``count`` of them if given)."""
    try:
        vals = [float(v) for v in text.split(",")]
    except ValueError:
        raise ConfigError(f"option '--{name}' must be comma-separated numbers, got {text!r}") from None
    if count is not None and len(vals) != count:
        raise ConfigError(f"option '--{name}' needs {count} comma-separated numbers, got {len(vals)} ({text!r})")
    if not all(math.isfinite(v) for v in vals):
        raise ConfigError(f"option '--{name}' must hold finite numbers, got {text!r}")
    return vals


def _count(v, name, what):
    if v != int(v) or not 1 <= v <= 100_000:
        raise ConfigError(f"option '--{name}': the number of {what} must be an integer in [1, 100000], got {v:g}")
    return int(v)


def add_arguments(p):
    p.add_argument("snapshot", help="snapshot file, snapdir_XXX directory or base name")
    p.add_argument("--out", required=True, help="HDF5 output file")
    p.add_argument("--json", default=None, help="JSON summary file")
    p.add_argument("--rbins", default=None,
                   help="'rmin,rmax,n' for n log bins (default: 0.02 d .. box/4, 20 bins, d = mean separation), "
                        "or --rbins-edges for explicit edges")
    p.add_argument("--rbins-edges", default=None, help="explicit comma-separated bin edges")
    p.add_argument("--linear", action="store_true", help="linear instead of log bins with --rbins")
    p.add_argument("--pdf-bins", default=None, help="'vmin,vmax,n' velocity histogram (default +-6 sigma_1D, 120 bins)")
    p.add_argument("--orders", type=int, default=8, help="highest moment order (default 8)")
    p.add_argument("--quantities", default=None,
                   help="comma-separated subset of u_L,u_L',du_L,su_L,u_T,du_T whose moments and PDFs are kept "
                        "(default all; du_L is always kept; 'du_L' alone is the fastest pass)")
    p.add_argument("--type", type=int, default=1, help="GADGET particle type (default 1, dark matter)")
    p.add_argument("--halo-split", action="store_true", help="FoF halo / out-of-halo split")
    p.add_argument("--b", type=float, default=0.2, help="FoF linking parameter (mean separations, default 0.2)")
    p.add_argument("--min-size", type=int, default=2, help="smallest FoF group counted as a halo (default 2)")
    p.add_argument("--fit", action="store_true", help="fit Gaussian/logistic/Laplace/X to the Delta u_L PDF per bin")
    p.add_argument("--subsample", type=int, default=0, help="random subsample of this many particles (0: all)")
    p.add_argument("--seed", type=int, default=0, help="subsample seed")
    p.add_argument("--backend", default="auto", choices=("auto", "cpu", "cuda"),
                   help="pair engine: numba.cuda kernels ('cuda'), CPU ('cpu') or CUDA when a device is found "
                        "('auto', default)")
    p.add_argument("--precision", default="double",
                   help="'double' (default) or 'mixed': float32 per-pair velocity projections, float64 counts "
                        "and power sums (CPU engine; see cosmo.pairwise.pair_moments for its error budget)")
    p.add_argument("--quiet", action="store_true")


def check_options(args) -> dict:
    """Everything the options alone decide, before the snapshot is read: parsed bins and the rest."""
    import gpu
    from gpu.config import check_arg

    from .pairwise import PRECISIONS, QUANTITIES, _MAX_ORDER, resolve_backend

    opts = {}
    if args.rbins and args.rbins_edges:
        raise ConfigError("options '--rbins' and '--rbins-edges' exclude each other; give one")
    if args.rbins_edges:
        e = np.asarray(_floats(args.rbins_edges, "rbins-edges"))
        if e.size < 2 or e[0] < 0 or np.any(np.diff(e) <= 0):
            raise ConfigError(f"option '--rbins-edges' must be >= 2 edges, >= 0 and strictly increasing, got "
                              f"{args.rbins_edges!r}")
        opts["edges"] = e
    elif args.rbins:
        lo, hi, n = _floats(args.rbins, "rbins", 3)
        n = _count(n, "rbins", "bins")
        if not (lo >= 0 and hi > lo) or (not args.linear and lo <= 0):
            raise ConfigError(f"option '--rbins' = {args.rbins!r}: need 0 {'<=' if args.linear else '<'} rmin < rmax"
                              + ("" if args.linear else " (log bins; --linear allows rmin = 0)"))
        opts["rbins"] = (lo, hi, n)
    if args.pdf_bins:
        lo, hi, n = _floats(args.pdf_bins, "pdf-bins", 3)
        n = _count(n, "pdf-bins", "bins")
        if not hi > lo:
            raise ConfigError(f"option '--pdf-bins' = {args.pdf_bins!r}: need vmin < vmax")
        opts["pdf_bins"] = np.linspace(lo, hi, n + 1)
    check_arg("--orders", args.orders, ge=1, le=_MAX_ORDER)
    check_arg("--type", args.type, ge=0, le=5)
    check_arg("--b", args.b, gt=0, lt=1)
    check_arg("--min-size", args.min_size, ge=1)
    check_arg("--subsample", args.subsample, ge=0)
    check_arg("--seed", args.seed, ge=0)
    precision = getattr(args, "precision", "double")
    if precision not in PRECISIONS:
        raise ConfigError(f"option '--precision': {precision!r}; valid: {','.join(PRECISIONS)}")
    backend = getattr(args, "backend", "auto")
    if precision == "mixed":
        if backend == "cuda":
            raise ConfigError("option '--precision' mixed runs on the CPU engine only; use --backend cpu or auto")
        backend = "cpu"
    opts["precision"] = precision
    try:
        opts["backend"] = resolve_backend(backend)
    except gpu.GPUUnavailableError as exc:
        raise ConfigError(f"option '--backend': {exc}") from None
    opts["quantities"] = None
    if args.quantities:
        q = [v.strip() for v in args.quantities.split(",") if v.strip()]
        bad = [v for v in q if v not in QUANTITIES]
        if bad or not q:
            raise ConfigError(f"option '--quantities': unknown {bad or args.quantities!r}; "
                              f"valid: {','.join(QUANTITIES)}")
        if "du_L" not in q:
            q.append("du_L")  # the summary and the fits are about Delta u_L
        opts["quantities"] = q
    return opts


def read_particles(path, ptype):
    """(pos, vel, header, units) of particle type ``ptype``; every problem is a ConfigError naming the file."""
    from nbody.snapshot import read_snapshot

    try:
        snap = read_snapshot(path)
    except (FileNotFoundError, ConfigError):
        raise
    except (ValueError, OSError) as exc:  # SnapshotFormatError, h5py and OS read errors: a bad file
        raise ConfigError(f"snapshot '{path}' cannot be read: {' '.join(str(exc).split())}") from exc
    if ptype not in snap.particles or len(snap.particles[ptype].pos) == 0:
        raise ConfigError(f"option '--type' = {ptype}: snapshot '{path}' has no particles of that type; types "
                          f"present: {sorted(t for t, p in snap.particles.items() if len(p.pos))}")
    try:
        box = float(snap.header["BoxSize"])
    except (KeyError, TypeError, ValueError):
        raise ConfigError(f"snapshot '{path}' has no numeric header 'BoxSize'") from None
    if not (math.isfinite(box) and box > 0):
        raise ConfigError(f"snapshot '{path}': header 'BoxSize' = {box} must be a finite number > 0 "
                          "(the pairwise command needs a periodic box)")
    ps = snap.particles[ptype]
    pos, vel = np.asarray(ps.pos, dtype=np.float64), np.asarray(ps.vel, dtype=np.float64)
    for name, a in (("Coordinates", pos), ("Velocities", vel)):
        bad = ~np.isfinite(a).all(axis=1)
        if bad.any():
            raise ConfigError(f"snapshot '{path}': PartType{ptype}/{name} has {int(bad.sum())} particle(s) with NaN "
                              f"or infinite values (first index {int(np.flatnonzero(bad)[0])})")
    for key in ("Redshift", "Time"):
        v = snap.header.get(key, 0.0)
        if not isinstance(v, (int, float, np.number)) or not math.isfinite(float(v)):
            raise ConfigError(f"snapshot '{path}': header '{key}' = {v!r} must be a finite number")
    if len(pos) < 2:
        raise ConfigError(f"snapshot '{path}' has {len(pos)} particle(s) of type {ptype}; pairs need at least 2")
    return pos, vel, snap


def _edges(opts, box, n):
    if "edges" in opts:
        return opts["edges"]
    d = box / n ** (1 / 3)
    lo, hi, nb = opts.get("rbins", (0.02 * d, box / 4, 20))
    return np.linspace(lo, hi, nb + 1) if opts.get("linear") else np.logspace(np.log10(lo), np.log10(hi), nb + 1)


def _json_values(a, defined):
    """List for JSON: ``None`` where the statistic is undefined (no pairs / no spread)."""
    a = np.asarray(a, dtype=float)
    return [float(v) if ok else None for v, ok in zip(a, defined)]


def summarise(st, fits=None) -> dict:
    """JSON-ready summary of one sample; ``null`` marks bins without pairs (or without spread for the
    skewness and kurtosis)."""
    has = np.asarray(st.counts) > 0
    std = st.std("du_L")
    spread = has & (std > 0)
    out = {"r": st.r, "counts": st.counts, "mean_du_L": _json_values(st.mean("du_L"), has),
           "std_du_L": _json_values(std, has), "skewness_du_L": _json_values(st.skewness("du_L"), spread),
           "kurtosis_du_L": _json_values(st.kurtosis("du_L"), spread)}
    if "u_L" in st.moments:
        out["std_u_L"] = _json_values(st.std("u_L"), has)
    if fits is not None:  # null: no fit (too few pairs) or a fit that did not converge to finite numbers
        out["x_alpha"] = [None if f is None else _finite_or_none(f.params["alpha"]) for f in fits["x"]]
        out["aic"] = {m: [None if f is None else _finite_or_none(f.aic) for f in v] for m, v in fits.items()}
    return out


def _finite_or_none(v):
    v = float(v)
    return v if math.isfinite(v) else None


def check_finite_statistics(name, st) -> None:
    """Moments and PDFs of every bin that has pairs must be finite (raise :class:`PairwiseResultError`)."""
    has = np.asarray(st.counts) > 0
    for kind, table in (("moments", st.moments), ("pdf", st.pdf or {})):
        for q, v in table.items():
            bad = has & ~np.isfinite(np.asarray(v)).all(axis=1)
            if bad.any():
                b = int(np.flatnonzero(bad)[0])
                raise PairwiseResultError(f"sample '{name}': {kind} of {q} not finite in r bin {b} "
                                          f"(r = {st.r[b]:.4g}, {int(st.counts[b])} pairs); nothing written")


def dataset_units(datasets: dict, snap) -> dict:
    """``units`` of each output dataset, in the snapshot's units (:meth:`nbody.snapshot.Snapshot.unit_labels`)."""
    lab = snap.unit_labels()
    L, V, M = lab["length"], lab["velocity"], lab["mass"]
    out = {}
    for name in datasets:
        leaf = name.split("/")[-1]
        if "/moments/" in name:
            out[name] = f"({V})^n, row i holding the order n = orders[i]"
        elif "/pdf/" in name:
            out[name] = f"1/({V})"
        elif leaf in ("rbins", "r", "centre"):
            out[name] = L
        elif leaf in ("pdf_bins", "velocity"):
            out[name] = V
        elif leaf == "mass":
            out[name] = M
        else:  # counts, weighted counts, orders, xi, FoF group labels and sizes
            out[name] = "1"
    return out


def run(args) -> int:
    """Check the outputs and options, read the snapshot, compute (:func:`cosmo.pairwise.pair_moments`
    or, with ``--halo-split``, :func:`cosmo.pairwise.halo_split_statistics`), write."""
    import gpu
    from gpu.io import check_outputs, write_json, write_results

    from .pairwise import check_rbins, halo_split_statistics, pair_moments

    logging.basicConfig(level=logging.WARNING)
    comm = gpu.get_comm()
    check_outputs([("--out", args.out), ("--json", args.json)], comm=comm)
    opts = check_options(args)
    opts["linear"] = args.linear
    pos, vel, snap = read_particles(args.snapshot, args.type)
    box = float(snap.header["BoxSize"])
    if args.subsample and args.subsample < len(pos):
        if args.subsample < 2:
            raise ConfigError(f"option '--subsample' = {args.subsample}: pairs need at least 2 particles")
        idx = np.sort(np.random.default_rng(args.seed).choice(len(pos), args.subsample, replace=False))
        pos, vel = pos[idx], vel[idx]
    pos = np.mod(pos, box)
    rb = _edges(opts, box, len(pos))
    try:
        check_rbins(rb, box, periodic=True)
    except ConfigError as exc:
        raise ConfigError(f"option '--rbins{'-edges' if 'edges' in opts else ''}': {exc} (BoxSize {box:g} of "
                          f"'{args.snapshot}')") from None
    hb = opts.get("pdf_bins")
    if hb is None:
        sig = float(np.std(vel))
        if not sig > 0:
            raise ConfigError(f"snapshot '{args.snapshot}': all velocities are equal, so the default velocity "
                              "histogram (+-6 sigma) is empty; give --pdf-bins vmin,vmax,n")
        hb = np.linspace(-6 * sig, 6 * sig, 121)
    orders = range(1, args.orders + 1)
    params = {"snapshot": str(args.snapshot), "BoxSize": box, "Redshift": float(snap.header.get("Redshift", 0.0)),
              "Time": float(snap.header.get("Time", 0.0)), "npart": len(pos), "units": snap.describe_units(),
              "empty_bins": "moments and PDFs are NaN in r bins with counts = 0 (no pairs)"}
    kw = dict(orders=orders, pdf_bins=hb, comm=comm, quantities=opts["quantities"], backend=opts["backend"],
              precision=opts["precision"])
    if args.halo_split:
        split = halo_split_statistics(pos, vel, box, rb, b=args.b, min_size=args.min_size, **kw)
        stats = split.samples
        params.update(split.params())
    else:
        stats = {"all": pair_moments(pos, vel, box, rb, **kw)}
    for name, st in stats.items():
        check_finite_statistics(name, st)
    if args.halo_split:
        datasets = split.to_datasets()
    else:
        datasets = {f"all/{k}": v for k, v in stats["all"].to_datasets().items()}
    summary = {"params": params, "samples": {},
               "null": "statistic undefined: no pairs in the bin (counts = 0) or, for "
                       "skewness and kurtosis, no spread"}
    for name, st in stats.items():
        fits = None
        if args.fit:
            from .distributions import fit_pdfs

            fits = fit_pdfs(st, "du_L")
        summary["samples"][name] = summarise(st, fits)
    if getattr(comm, "rank", 0) == 0:
        options = {k: v for k, v in vars(args).items() if not callable(v) and k not in ("debug", "quiet")}
        write_results(args.out, datasets, params=params, units=dataset_units(datasets, snap), config=options)
        if args.json:
            write_json(args.json, summary, config=options)
        if not args.quiet:
            s = summary["samples"]["all"]
            print(f"{args.snapshot}: N = {len(pos)}, box = {box:g}, z = {params['Redshift']:.3f}")
            print("      r     pairs   <du_L>   std(du_L)  kurt")

            def f(v, w):
                return f"{'-':>{w}s}" if v is None else f"{v:{w}.3f}"

            for i in range(len(s["r"])):
                print(f"{s['r'][i]:9.4g} {s['counts'][i]:9.0f} {f(s['mean_du_L'][i], 9)} {f(s['std_du_L'][i], 9)} "
                      f"{f(s['kurtosis_du_L'][i], 6)}")
    return 0
