#!/usr/bin/env python3
"""Dark-matter flow statistics versus scale and redshift (Xu 2022, arXiv:2202.06515), from a PM run.

Runs the toolkit's cosmological particle-mesh simulation (``nbody.cosmological``; or loads
GADGET snapshots with ``--snapshots``), splits the particles into FoF halo and out-of-halo
particles, and reproduces the paper's figure types:

1. moments of the pairwise velocity Delta u_L versus r, with the two-thirds law on small
   scales, stable clustering ``-H a r`` and the Juszkiewicz et al. (1999) v12 on large scales
   (the paper's Figs. 8-10);
2. PDFs of u_L, Delta u_L and Sigma u_L on a small and a large scale with X and logistic
   fits (Figs. 11-13);
3. the X-distribution shape alpha and the kurtosis versus redshift (Fig. 6);
4. the pairwise correlation of DTFE log-densities versus r with xi(r) (Figs. 3-4).

    python examples/darkflow_velocity_statistics.py --quick --outdir results/darkflow_velocity_statistics

Writes PNG figures and ``numbers.json`` (``"summary"``: headline numbers). The PM run's
force resolution (two mesh cells) limits the small-scale regime: the two-thirds law and
stable clustering appear only near the resolution limit in ``--quick`` runs.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from examples._figures import save_figure  # noqa: E402


def simulate(quick: bool, redshifts):
    from nbody.cosmological import PMConfig, PMSimulation

    cfg = PMConfig(box=100.0 if quick else 150.0, nside=32 if quick else 64, a_start=0.02,
                   nsteps=12 if quick else 30, output_redshifts=list(redshifts))
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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small run (about a minute)")
    ap.add_argument("--outdir", default="results/darkflow_velocity_statistics")
    ap.add_argument("--snapshots", nargs="*", default=None, help="GADGET snapshots to analyse instead of a PM run")
    args = ap.parse_args(argv)
    out = Path(args.outdir)
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
        sim, snaps, box = simulate(args.quick, redshifts)
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
        "seconds": round(time.perf_counter() - t0, 1),
    }
    numbers = {"summary": summary, "r": r, "mean_du_L": st.mean("du_L"), "v12_jsd": v_jsd, "v12_linear": v_lin,
               "m2_du_L": st.moment("du_L", 2), "counts": st.counts, "redshifts": zs, "alpha_small_r": alphas,
               "kurtosis_small_r": kurts, "dtfe_r": dd["r"], "dtfe_lnrho_norm_corr": dd["norm_corr"]}
    write_json(out / "numbers.json", numbers)
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
