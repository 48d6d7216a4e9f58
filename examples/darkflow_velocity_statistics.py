#!/usr/bin/env python3
"""Dark-matter flow statistics versus scale and redshift (Xu 2022, arXiv:2202.06515), from a TreePM or PM run.

Runs the toolkit's cosmological simulation (``nbody.cosmological``: TreePM gravity by default, ``--gravity pm``
for the particle-mesh force only; or loads GADGET snapshots with ``--snapshots``), splits the particles into FoF
halo and out-of-halo particles, and reproduces the paper's figure types:

1. moments of the pairwise velocity Delta u_L versus r, with the two-thirds law on small
   scales, stable clustering ``-H a r`` and the Juszkiewicz et al. (1999) v12 on large scales
   (the paper's Figs. 8-10);
2. PDFs of u_L, Delta u_L and Sigma u_L on a small and a large scale with X and logistic
   fits (Figs. 11-13);
3. the X-distribution shape alpha and the kurtosis versus redshift (Fig. 6);
4. the pairwise correlation of DTFE log-densities versus r with xi(r) (Figs. 3-4).

    python examples/darkflow_velocity_statistics.py --quick --outdir results/darkflow_velocity_statistics
    python examples/darkflow_velocity_statistics.py --nside 32 --box 50 --softening 0.05   # TreePM: the run ~100 CPU s
    python examples/darkflow_velocity_statistics.py --runs RUN_DIR [RUN_DIR ...]   # claims table of saved runs

Writes PNG figures and ``numbers.json`` (``"summary"``: headline numbers; ``"xu_claims"``: the four small-scale
claims of Xu (2022) measured at z = 0 in a separation window, see :func:`xu_claims`). ``--quick`` is a 32^3
PM run in a 100 Mpc/h box (about a minute): its force resolution (two mesh cells, 6 Mpc/h) is far above the
scales of the small-scale claims. ``--runs`` analyses the z = 0 snapshots of finished ``python -m nbody pm``
runs (a resolution study) and writes only ``numbers.json`` with the claims per run.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from examples._figures import save_figure  # noqa: E402


#: the separation window [Mpc/h] of the small-scale claims (comoving, the same for every run of a resolution study)
CLAIMS_WINDOW = (0.2, 1.0)


def simulate(args, redshifts):
    """Run the simulation of the command-line options: ``--quick`` defaults to a 32^3 PM run in a 100 Mpc/h box
    (12 steps), the full mode to a 32^3 TreePM run in a 50 Mpc/h box (30 steps, hierarchical time steps)."""
    from nbody.cosmological import PMConfig, PMSimulation

    cfg = PMConfig(box=args.box, nside=args.nside, a_start=0.02, nsteps=12 if args.quick else 30,
                   output_redshifts=list(redshifts), gravity=args.gravity, softening=args.softening)
    sim = PMSimulation(cfg)
    snaps = {}
    sim.run(write=False, callback=lambda s: snaps.__setitem__(round(1 / s.a - 1, 4), s.gather()[:2]))
    return sim, snaps, cfg.box


def load(paths):
    from nbody.snapshot import read_snapshot

    snaps, box, cosmo = {}, None, None
    for p in paths:
        s = read_snapshot(p)
        box = float(s.header["BoxSize"])
        snaps[round(float(s.header["Redshift"]), 4)] = (np.mod(s.particles[1].pos, box), s.particles[1].vel)
        from astropy.cosmology import FlatLambdaCDM

        cosmo = FlatLambdaCDM(H0=100 * s.header["HubbleParam"], Om0=s.header["Omega0"], Tcmb0=0.0)
    return snaps, box, cosmo


def analyse(pos, vel, box, z, cosmo, rb, hb, r_split):
    from cosmo.distributions import fit_histogram
    from cosmo.fof import friends_of_friends
    from cosmo.pairwise import pair_moments

    cat = friends_of_friends(pos, box, b=0.2, vel=vel)
    h = cat.in_halo
    st = pair_moments(pos, vel, box, rb, pdf_bins=hb)
    rs = rb[rb <= r_split]  # the halo / out-of-halo split is used on small scales only
    sth = pair_moments(pos[h], vel[h], box, rs, pdf_bins=hb)
    sto = pair_moments(pos[~h], vel[~h], box, rs, pdf_bins=hb)
    return {"z": z, "all": st, "halo": sth, "out": sto, "halo_fraction": float(h.mean()), "ngroups": cat.ngroups,
            "fit": lambda s, q, ib, m: fit_histogram(hb, s.pdf[q][ib] * np.diff(hb) * s.counts[ib], m)}


def xu_claims(st, a, H, window, pdf_bins):
    """The four small-scale claims of Xu (2022, arXiv:2202.06515) measured in the separation window
    ``window = (r_lo, r_hi)`` [Mpc/h] of the pair statistics ``st`` (bins with > 100 pairs):

    * ``slope_m2``: log-log slope of ``<(Delta u_L)^2>`` (two-thirds law ``(-epsilon_u a r)^{2/3}``: 2/3, sec. 5),
      and ``slope_m4_half``: half the slope of ``<(Delta u_L)^4>`` (2/3 where the fourth moment scales as the
      square of the second);
    * ``stable_clustering``: median over the bins of ``<Delta u_L> / (-H a r)`` (1 in stable clustering, Peebles
      1980 sec. 71);
    * ``odd_ratio``: median of ``<Delta u_L^3> / (3 <Delta u_L^2> <Delta u_L>)`` (1 in Xu's odd-moment relation);
    * ``alpha_u_L``, ``alpha_du_L``: shape alpha of the X distribution fitted (binned maximum likelihood) to
      the pooled histograms of ``u_L`` and ``Delta u_L`` in the window (Xu: ~1.33 for u_L at small r).
    """
    from cosmo.distributions import fit_histogram
    from cosmo.flow_laws import fit_power_law, odd_moment_ratio, stable_clustering_v12

    r = st.r
    sel = (st.counts > 100) & (r >= window[0]) & (r <= window[1])
    if sel.sum() < 2:
        return {"window_Mpc_h": list(window), "bins": int(sel.sum())}
    widths = np.diff(pdf_bins)
    alpha = {}
    for q in ("u_L", "du_L"):
        hist = np.sum(st.pdf[q][sel] * widths * st.counts[sel, None], axis=0)
        alpha[q] = float(fit_histogram(pdf_bins, hist, "x").params["alpha"])
    return {"window_Mpc_h": list(window), "bins": int(sel.sum()), "pairs": int(st.counts[sel].sum()),
            "slope_m2": float(fit_power_law(r[sel], st.moment("du_L", 2)[sel])[0]),
            "slope_m4_half": 0.5 * float(fit_power_law(r[sel], st.moment("du_L", 4)[sel])[0]),
            "stable_clustering": float(np.median(st.mean("du_L")[sel] / stable_clustering_v12(r[sel], a, H))),
            "odd_ratio": float(np.median(odd_moment_ratio(st, 1)[sel])),
            "alpha_u_L": alpha["u_L"], "alpha_du_L": alpha["du_L"]}


def resolution_study(run_dirs, out, window=CLAIMS_WINDOW):
    """The claims of :func:`xu_claims` at z = 0 for the snapshots of each run folder (``python -m nbody pm``
    output); writes ``numbers.json`` (``"resolution_study"``) in ``out`` and prints a Markdown table."""
    import json

    from cosmo.flow_laws import hubble
    from cosmo.pairwise import pair_moments
    from gpu.io import write_json

    rows = []
    for d in run_dirs:
        d = Path(d)
        snaps = sorted(d.glob("*.hdf5"))
        snaps = [p for p in snaps if p.name != "checkpoint.hdf5"]
        if not snaps:
            raise FileNotFoundError(f"no snapshots in run folder {d}")
        data, box, cosmo = load(snaps)
        z0 = min(data)
        pos, vel = data[z0]
        a = 1.0 / (1.0 + z0)
        n = len(pos)
        spacing = box / round(n ** (1 / 3))
        manifest = json.loads((d / "manifest.json").read_text()) if (d / "manifest.json").exists() else {}
        eps = _run_softening(d, box, n)
        rb = np.concatenate([[0.0], np.logspace(np.log10(0.05), np.log10(0.24 * box), 25)])
        sig = float(np.std(vel))
        hb = np.linspace(-7 * sig, 7 * sig, 141)
        st = pair_moments(pos, vel, box, rb, pdf_bins=hb)
        claims = xu_claims(st, a, hubble(a, cosmo), window, hb)
        rows.append({"run": d.name, "n_particles": n, "box_Mpc_h": box, "z": z0, "softening_Mpc_h": eps,
                     "mean_spacing_Mpc_h": spacing,
                     "window_over_eps": [window[0] / eps, window[1] / eps] if eps else None,
                     "window_over_spacing": [window[0] / spacing, window[1] / spacing],
                     "claims": claims, "manifest_command": manifest.get("command")})
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "numbers.json", {"resolution_study": rows, "window_Mpc_h": list(window)})
    print("| run | N | eps | r/eps | r/d | slope m2 (2/3) | <du_L>/(-Har) (1) | odd ratio (1) | alpha u_L (1.33) |"
          " alpha du_L |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for w in rows:
        c = w["claims"]
        print(f"| {w['run']} | {round(w['n_particles'] ** (1 / 3))}^3 | {w['softening_Mpc_h']:.3g} | "
              f"{w['window_over_eps'][0]:.1f}-{w['window_over_eps'][1]:.1f} | "
              f"{w['window_over_spacing'][0]:.2f}-{w['window_over_spacing'][1]:.2f} | {c['slope_m2']:.2f} | "
              f"{c['stable_clustering']:.2f} | {c['odd_ratio']:.2f} | {c['alpha_u_L']:.2f} | {c['alpha_du_L']:.2f} |")
    return rows


def _run_softening(run_dir, box, n):
    """The TreePM softening [Mpc/h] of a ``python -m nbody pm`` run folder, from the full config its snapshots store
    (``/Config`` attribute ``config_full``; 0 in the config: 1/30 of the mean spacing); 0 for a PM run."""
    import json

    import h5py

    snap = sorted(p for p in Path(run_dir).glob("*.hdf5") if p.name != "checkpoint.hdf5")[-1]
    with h5py.File(snap, "r") as f:
        cfg = json.loads(f["Config"].attrs["config_full"]) if "Config" in f else {}
    cfg = cfg.get("config", cfg)
    if cfg.get("gravity") != "treepm":
        return 0.0
    return float(cfg.get("softening") or box / round(n ** (1 / 3)) / 30.0)


def _positive(text):
    v = float(text)
    if not (np.isfinite(v) and v > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return v


def _int_at_least(lo):
    def parse(text):
        v = int(text)
        if v < lo:
            raise argparse.ArgumentTypeError(f"must be an integer >= {lo}, got {text}")
        return v
    return parse


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small run (about a minute)")
    ap.add_argument("--outdir", default="results/darkflow_velocity_statistics")
    ap.add_argument("--snapshots", nargs="*", default=None, help="GADGET snapshots to analyse instead of a run")
    ap.add_argument("--gravity", choices=("pm", "treepm"), default=None,
                    help="treepm (default) or pm (default with --quick)")
    ap.add_argument("--nside", type=_int_at_least(8), default=32, help="particles per side (default 32)")
    ap.add_argument("--box", type=_positive, default=None,
                    help="box side [Mpc/h] (default 50 for TreePM, 100 for PM)")
    ap.add_argument("--softening", type=_positive, default=None,
                    help="TreePM comoving Plummer-equivalent softening [Mpc/h] (default 1/30 of the mean spacing)")
    ap.add_argument("--runs", nargs="+", default=None,
                    help="run folders of python -m nbody pm: only the table of Xu's small-scale claims at z = 0")
    args = ap.parse_args(argv)
    args.gravity = args.gravity or ("pm" if args.quick else "treepm")
    args.box = args.box or (50.0 if args.gravity == "treepm" else 100.0)
    if args.softening is not None and args.gravity != "treepm":
        ap.error("--softening needs --gravity treepm")
    args.softening = args.softening or 0.0
    out = Path(args.outdir)
    if args.runs:
        resolution_study(args.runs, out)
        return 0
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cosmo.dtfe import dtfe_density
    from cosmo.flow_laws import (hubble, juszkiewicz_v12, odd_moment_ratio, stable_clustering_v12, two_thirds_law,
                                 xi_bar_from_pairs)
    from cosmo.growth import growth_rate
    from cosmo.pairwise import density_pair_statistics
    from gpu.io import write_json

    redshifts = (2.0, 1.0, 0.5, 0.0)
    if args.snapshots:
        snaps, box, cosmo = load(args.snapshots)
        h = cosmo.H0.value / 100
    else:
        sim, snaps, box = simulate(args, redshifts)
        cosmo, h = sim.cosmo, sim.config.cosmology.h
    zs = sorted(snaps, reverse=True)
    n = len(next(iter(snaps.values()))[0])
    d = box / n ** (1 / 3)
    rmax = (0.16 if args.quick else 0.24) * box
    rb = np.concatenate([[0.0], np.logspace(np.log10(0.05 * d), np.log10(rmax), 18)])
    sig = float(np.std(snaps[zs[-1]][1]))
    hb = np.linspace(-7 * sig, 7 * sig, 141)
    res = {z: analyse(*snaps[z], box, z, cosmo, rb, hb, 1.5 * d) for z in zs}
    z0 = zs[-1]
    R = res[z0]
    st = R["all"]
    a = 1 / (1 + z0)
    H, f = hubble(a, cosmo), growth_rate(z=z0, cosmology=cosmo)
    r = st.r
    good = st.counts > 100
    xib = np.interp(r, st.rbins[1:], xi_bar_from_pairs(st))
    v_jsd = juszkiewicz_v12(r, st.xi(), xib, a, f, H)
    v_lin = juszkiewicz_v12(r, st.xi(), xib, a, f, H, alpha=0)
    v_sc = stable_clustering_v12(r, a, H)
    # two-thirds law on the smallest well-sampled scales (below ~2 mesh cells x 2)
    rmax_small = 3.0 * d
    small = good & (r < rmax_small) & (r > 0)
    law = two_thirds_law(r[small], st.moment("du_L", 2)[small], a=a, h=h)
    large = good & (r > 0.08 * box)
    jsd_ratio = float(np.median(st.mean("du_L")[large] / v_jsd[large]))

    # ---- figure 1: moments vs r
    fig, ax = plt.subplots(1, 2, figsize=(11, 4.3))
    ax[0].loglog(r[good], -st.mean("du_L")[good], "ko", ms=4, label=r"$-\langle\Delta u_L\rangle$ (PM)")
    ax[0].loglog(r, -v_sc, "b--", label=r"stable clustering $Har$")
    ax[0].loglog(r[r > 2 * d], -v_jsd[r > 2 * d], "r-", label="Juszkiewicz et al. 1999")
    ax[0].loglog(r[r > 2 * d], -v_lin[r > 2 * d], "r:", label="linear theory")
    ax[0].set(xlabel=r"$r$ [Mpc/$h$]", ylabel="km/s", title=f"mean pairwise velocity, z = {z0:g}")
    ax[0].legend(fontsize=8)
    for n_, c in ((2, "k"), (4, "C1"), (6, "C2")):
        m = st.moment("du_L", n_) ** (1 / n_)
        ax[1].loglog(r[good], m[good], "o", color=c, ms=3, label=rf"$\langle\Delta u_L^{n_}\rangle^{{1/{n_}}}$")
    rr = r[small]
    ax[1].loglog(rr, np.sqrt(law["amplitude"] * rr ** (2 / 3)), "k-", lw=2,
                 label=rf"$r^{{1/3}}$ (two-thirds law), fit slope {law['slope']:.2f}")
    ax[1].set(xlabel=r"$r$ [Mpc/$h$]", ylabel="km/s", title="even moments of $\\Delta u_L$")
    ax[1].legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, out / "moments_vs_r.png")
    plt.close(fig)

    # ---- figure 2: PDFs on a small and a large scale with X and logistic fits
    ib_small = int(np.argmin(np.where(good, np.abs(np.log(r / (0.3 * d))), np.inf)))
    ib_large = int(np.argmin(np.abs(r - 0.15 * box)))
    c = 0.5 * (hb[1:] + hb[:-1])
    fig, ax = plt.subplots(2, 3, figsize=(13, 7))
    alpha_small = None
    for row, ib in enumerate((ib_small, ib_large)):
        for col, q in enumerate(("u_L", "du_L", "su_L")):
            p = st.pdf[q][ib]
            ax[row, col].semilogy(c, p, "k.", ms=3, label="PM pairs")
            for m, ls in (("x", "r-"), ("logistic", "b--"), ("gaussian", "g:")):
                fit = R["fit"](st, q, ib, m)
                ax[row, col].semilogy(c, fit.pdf(c) * np.sum(p * np.diff(hb)), ls, label=m)
                if m == "x" and q == "du_L" and row == 0:
                    alpha_small = fit.params["alpha"]
            ax[row, col].set(title=f"{q}, r = {r[ib]:.2g} Mpc/h", xlabel=f"{q} [km/s]", ylabel="PDF [s/km]", ylim=(p[p > 0].min() / 2, 2 * p.max()))
            ax[row, col].legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, out / "pdfs_small_large.png")
    plt.close(fig)

    # ---- figure 3: alpha(z) and kurtosis(z) on small scales, halo vs out-of-halo
    alphas, kurts = {"all": [], "halo": [], "out": []}, {"all": [], "halo": [], "out": []}
    for z in zs:
        for k in alphas:
            s = res[z][k]
            rs = s.r
            ibs = int(np.argmin(np.where(s.counts > 50, np.abs(np.log(np.maximum(rs, 1e-12) / (0.3 * d))), np.inf)))
            alphas[k].append(res[z]["fit"](s, "du_L", ibs, "x").params["alpha"] if s.counts[ibs] > 50 else np.nan)
            kurts[k].append(float(s.kurtosis("du_L")[ibs]))
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    for k, mk in (("all", "ko-"), ("halo", "rs-"), ("out", "b^-")):
        ax[0].plot(zs, alphas[k], mk, label=k)
        ax[1].plot(zs, kurts[k], mk, label=k)
    ax[0].set(xlabel="z", ylabel=r"X shape $\alpha$ of $\Delta u_L$ (small r)", yscale="log")
    ax[1].set(xlabel="z", ylabel="kurtosis of $\\Delta u_L$ (small r)")
    ax[1].axhline(3, color="g", ls=":")
    ax[1].axhline(6, color="m", ls=":")
    ax[0].legend()
    fig.tight_layout()
    save_figure(fig, out / "alpha_vs_z.png")
    plt.close(fig)

    # ---- figure 4: DTFE densities: pairwise correlation of log-density, and xi(r)
    pos0 = snaps[z0][0]
    rho = dtfe_density(pos0, box, pad=2.0 * d)
    mass_check = float(np.sum(1.0 / rho) * 4 / 4 / box ** 3)  # sum W_i / 4 / V = 1 (tiling)
    lnrho = np.log(rho / rho.mean())
    rbd = np.logspace(np.log10(0.3 * d), np.log10(rmax), 14)
    dd = density_pair_statistics(pos0, lnrho, box, rbd)
    dl = density_pair_statistics(pos0, rho / rho.mean() - 1, box, rbd)
    fig, ax = plt.subplots(figsize=(6, 4.3))
    ax.loglog(dd["r"], dd["norm_corr"], "ko-", label=r"$\rho(r)$ of $\ln\rho_{\rm DTFE}$ pairs")
    ax.loglog(dl["r"], np.abs(dl["corr"]), "bs-", ms=3, label=r"$|\langle\delta\delta'\rangle|$ (DTFE)")
    ax.loglog(r[good & (r > 0)], np.abs(st.xi()[good & (r > 0)]), "r.", label=r"$|\xi(r)|$ from pair counts")
    ax.set(xlabel=r"$r$ [Mpc/$h$]", ylabel="correlation (dimensionless)", title=f"density correlations, z = {z0:g}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, out / "density_correlation.png")
    plt.close(fig)

    odd = odd_moment_ratio(st, 1)
    summary = {
        "z_final": z0,
        "n_particles": n,
        "box_Mpc_h": box,
        "halo_fraction_z0": R["halo_fraction"],
        "v12_over_jsd_large_r": jsd_ratio,
        "two_thirds_slope_small_r": law["slope"],
        "epsilon_u_m2_s3_beta2_1": law["epsilon_u"],
        "x_alpha_du_L_small_r_z0": alpha_small,
        "kurtosis_du_L_small_r_z0": kurts["all"][-1],
        "odd_moment_ratio_n1_small_r": float(np.nanmedian(odd[small])) if small.any() else None,
        "dtfe_volume_check": mass_check,
        "gravity": "snapshots" if args.snapshots else args.gravity,
        "softening_Mpc_h": None if args.snapshots or args.gravity != "treepm" else sim.config.eps(),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    claims = xu_claims(st, a, H, CLAIMS_WINDOW, hb)
    numbers = {"summary": summary, "xu_claims": claims, "r": r, "mean_du_L": st.mean("du_L"), "v12_jsd": v_jsd,
               "v12_linear": v_lin,
               "m2_du_L": st.moment("du_L", 2), "counts": st.counts, "redshifts": zs, "alpha_small_r": alphas,
               "kurtosis_small_r": kurts, "dtfe_r": dd["r"], "dtfe_lnrho_norm_corr": dd["norm_corr"]}
    write_json(out / "numbers.json", numbers)
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
