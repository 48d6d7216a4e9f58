"""``python -m cosmo pairwise SNAPSHOT [--halo-split] [--rbins ...] --out stats.h5 [--json summary.json]``.

Pairwise velocity statistics of the particles of a GADGET snapshot (HDF5 or GADGET-2), in the
snapshot's length unit (comoving, e.g. Mpc/h or kpc/h) and peculiar velocities (km/s). With
``--halo-split`` the particles are split by periodic friends-of-friends into halo and
out-of-halo particles and the statistics are computed for all, halo-halo, out-out and
halo -> out pairs. Under ``mpiexec`` the pair work is shared between ranks; rank 0 writes.
"""
from __future__ import annotations

import logging

import numpy as np


def _floats(text, name):
    try:
        return [float(v) for v in text.split(",")]
    except ValueError as exc:
        raise SystemExit(f"--{name} must be comma-separated numbers, got {text!r}") from exc


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
    p.add_argument("--quiet", action="store_true")


def _edges(args, box, n):
    if args.rbins_edges:
        return np.asarray(_floats(args.rbins_edges, "rbins-edges"))
    d = box / n ** (1 / 3)
    lo, hi, nb = (0.02 * d, box / 4, 20) if args.rbins is None else _floats(args.rbins, "rbins")
    nb = int(nb)
    return np.linspace(lo, hi, nb + 1) if args.linear else np.logspace(np.log10(lo), np.log10(hi), nb + 1)


def summarise(st, fits=None) -> dict:
    out = {"r": st.r, "counts": st.counts, "mean_du_L": st.mean("du_L"), "std_du_L": st.std("du_L"),
           "skewness_du_L": st.skewness("du_L"), "kurtosis_du_L": st.kurtosis("du_L")}
    if "u_L" in st.moments:
        out["std_u_L"] = st.std("u_L")
    if fits is not None:
        out["x_alpha"] = [None if f is None else f.params["alpha"] for f in fits["x"]]
        out["aic"] = {m: [None if f is None else f.aic for f in v] for m, v in fits.items()}
    return out


def run(args) -> int:
    import gpu
    from nbody.snapshot import read_snapshot

    from .pairwise import pair_moments

    logging.basicConfig(level=logging.WARNING)
    comm = gpu.get_comm()
    snap = read_snapshot(args.snapshot)
    if args.type not in snap.particles:
        raise SystemExit(f"snapshot has no particles of type {args.type}; types present: {sorted(snap.particles)}")
    ps = snap.particles[args.type]
    pos, vel = np.asarray(ps.pos, dtype=np.float64), np.asarray(ps.vel, dtype=np.float64)
    box = float(snap.header["BoxSize"])
    if args.subsample and args.subsample < len(pos):
        idx = np.sort(np.random.default_rng(args.seed).choice(len(pos), args.subsample, replace=False))
        pos, vel = pos[idx], vel[idx]
    pos = np.mod(pos, box)
    rb = _edges(args, box, len(pos))
    sig = float(np.std(vel))
    hb = (np.linspace(-6 * sig, 6 * sig, 121) if args.pdf_bins is None
          else np.linspace(*_floats(args.pdf_bins, "pdf-bins")[:2], int(_floats(args.pdf_bins, "pdf-bins")[2]) + 1))
    orders = range(1, args.orders + 1)
    quantities = None
    if args.quantities:
        from .pairwise import QUANTITIES

        quantities = [q.strip() for q in args.quantities.split(",") if q.strip()]
        bad = [q for q in quantities if q not in QUANTITIES]
        if bad:
            raise SystemExit(f"--quantities: unknown {bad}; valid: {','.join(QUANTITIES)}")
        if "du_L" not in quantities:
            quantities.append("du_L")  # the summary and the fits are about Delta u_L
    samples = {"all": (pos, vel, None, None)}
    params = {"snapshot": str(args.snapshot), "BoxSize": box, "Redshift": float(snap.header["Redshift"]),
              "Time": float(snap.header["Time"]), "npart": len(pos), "units": snap.describe_units()}
    extra = {}
    if args.halo_split:
        from .fof import friends_of_friends

        cat = friends_of_friends(pos, box, b=args.b, vel=vel, min_size=args.min_size, comm=comm)
        h = cat.in_halo
        samples.update({"halo": (pos[h], vel[h], None, None), "out": (pos[~h], vel[~h], None, None),
                        "cross": (pos[h], vel[h], pos[~h], vel[~h])})
        params.update({"fof_b": args.b, "fof_min_size": args.min_size, "halo_fraction": float(h.mean()),
                       "n_groups": cat.ngroups})
        extra.update({f"fof/{k.split('/')[-1]}": v for k, v in cat.to_datasets().items()})
    datasets, summary = dict(extra), {"params": params, "samples": {}}
    for name, (p1, v1, p2, v2) in samples.items():
        if len(p1) < 2 or (p2 is not None and len(p2) < 1):
            continue
        st = pair_moments(p1, v1, box, rb, orders=orders, pdf_bins=hb, comm=comm, pos2=p2, vel2=v2,
                          quantities=quantities)
        for k, v in st.to_datasets().items():
            datasets[f"{name}/{k}"] = v
        fits = None
        if args.fit:
            from .distributions import fit_pdfs

            fits = fit_pdfs(st, "du_L")
        summary["samples"][name] = summarise(st, fits)
    if getattr(comm, "rank", 0) == 0:
        from gpu.io import write_json, write_results

        write_results(args.out, datasets, params=params,
                      units={"all/rbins": "snapshot length unit (comoving)", "all/moments/duL": "(km/s)^n"})
        if args.json:
            write_json(args.json, summary)
        if not args.quiet:
            s = summary["samples"]["all"]
            print(f"{args.snapshot}: N = {len(pos)}, box = {box:g}, z = {params['Redshift']:.3f}")
            print("      r     pairs   <du_L>   std(du_L)  kurt")
            for i in range(len(s["r"])):
                print(f"{s['r'][i]:9.4g} {s['counts'][i]:9.0f} {s['mean_du_L'][i]:9.3f} {s['std_du_L'][i]:9.3f} "
                      f"{s['kurtosis_du_L'][i]:6.2f}")
    return 0
