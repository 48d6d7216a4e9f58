#!/usr/bin/env python3
"""Relative dispersion versus droplet number when aerosol or updraft drives N_c, and its use in autoconversion.

Parcel ascents (clouds.dispersion.ascent: lognormal ammonium-sulfate-like aerosol, kappa-Köhler
activation resolved droplet by droplet, 900 hPa / 293 K / RH 0.98 start) measured 200 m above cloud
base: (a) aerosol sweep, total aerosol N_a varied at w = 1 m/s; (b) updraft sweep, w varied at
N_a = 600 cm^-3. Each is run adiabatically (no turbulence) and with eddy-hopping supersaturation
fluctuations (Grabowski & Abade 2017; dissipation 1e-3 m^2/s^3, eddy scale 50 m; several seeds).
For each set the line eps = a N_c + b is fitted (slope with its standard error).

Bhowmik et al. (arXiv:2303.00987) propose a linear eps-N_c relation as a closure in a dispersion-based
(Liu & Daum 2004) autoconversion; the right panel shows what such a closure does: the ratio of the
Liu-Daum rate (without the threshold, so the ratio is (beta_6(eps(N_c)) / beta_6(eps_ref))^6) with
eps(N_c) from each fitted line and from Martin et al. (1994) to the rate of a fixed-eps scheme whose
eps_ref equals the closure's value at N_ref = 200 cm^-3 (the two agree there); Martin et al. is
shown as is and with the eps range [0.30, 0.58] of Morrison & Gettelman (2008). The numbers also hold
the rates with the threshold at the parcels' LWC, and the ratio against the fixed eps = 0.36 the
paper quotes for CAIPEEX monsoon clouds.

With ``--dns`` the same two sweeps (three points each, 20 m above cloud base, start RH 0.995) are also
run in the DNS (clouds.dispersion.dns_ascent: a weakly turbulent box rising at w, aerosol activating
at the local supersaturation) beside parcels of the same start; dns_activation.png compares N_c,
epsilon and S_max and shows the activation after the supersaturation peak (secondary activation).

    python examples/clouds_dispersion_aerosol_vs_updraft.py [--quick] [--outdir DIR]

Writes dispersion_aerosol_vs_updraft.png/.pdf and numbers.json.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from examples._figures import save_figure  # noqa: E402

from clouds import autoconversion, diagnostics  # noqa: E402
from clouds import dispersion as dsp  # noqa: E402
from gpu.io import check_writable, write_json  # noqa: E402

OBSERVED_EPS = 0.36     # CAIPEEX monsoon clouds, quoted by Bhowmik et al. (arXiv:2303.00987)
N_REF = 200.0           # cm^-3, where each closure and its fixed-eps reference agree
W_FIXED = 1.0           # m/s, aerosol sweep
NA_FIXED = 600e6        # m^-3, updraft sweep
EDDY = (1e-3, 50.0)     # eddy hopping: dissipation [m^2/s^3], eddy scale [m]

SIZES = {  # n_sd, aerosol N_a [cm^-3], updraft w [m/s], eddy-hopping seeds
    "quick": (100, np.geomspace(50, 2000, 4), np.geomspace(0.25, 4.0, 4), (0, 1)),
    "full": (400, np.geomspace(50, 3000, 8), np.geomspace(0.25, 4.0, 7), tuple(range(6))),
}


def run_sweeps(size="quick", eddy=EDDY):
    """Both sweeps, adiabatic and with eddy hopping; returns {set name: list of ascent dicts}."""
    n_sd, na, ws, seeds = SIZES[size]
    kw = dict(n_sd=n_sd)
    return {
        "aerosol_adiabatic": dsp.sweep("aerosol", na * 1e6, W_FIXED, **kw),
        "updraft_adiabatic": dsp.sweep("updraft", ws, NA_FIXED, **kw),
        "aerosol_eddy": dsp.sweep("aerosol", na * 1e6, W_FIXED, eddy=eddy, seeds=seeds, **kw),
        "updraft_eddy": dsp.sweep("updraft", ws, NA_FIXED, eddy=eddy, seeds=seeds, **kw),
    }


def fit_sets(sets):
    fits = {}
    for name, pts in sets.items():
        x = np.array([p["N_c_cm3"] for p in pts])
        y = np.array([p["relative_dispersion"] for p in pts])
        a, b, sa, sb, rc = diagnostics.linear_fit(x, y)
        fits[name] = {"slope_per_cm3": b, "slope_se": sb, "intercept": a, "intercept_se": sa, "r": rc,
                      "N_c_min_cm3": float(x.min()), "N_c_max_cm3": float(x.max())}
    return fits


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sweeps (seconds)")
    ap.add_argument("--outdir", default="results/clouds_dispersion_aerosol_vs_updraft")
    ap.add_argument("--dns", action="store_true", help="also the DNS ascents (minutes)")
    args = ap.parse_args(argv)
    out = Path(args.outdir)
    check_writable(out, directory=True)
    out.mkdir(parents=True, exist_ok=True)
    sets = run_sweeps("quick" if args.quick else "full")
    fits = fit_sets(sets)

    # autoconversion: closures from the fits and Martin et al. (1994) versus fixed eps
    closures = {name: dict(slope=f["slope_per_cm3"], intercept=f["intercept"]) for name, f in fits.items()}
    m_slope, m_icpt = autoconversion.MARTIN_1994
    closures["martin_1994"] = dict(slope=m_slope, intercept=m_icpt)
    lo, hi = autoconversion.MG08_EPS_RANGE
    closures["martin_1994_mg08_clip"] = dict(slope=m_slope, intercept=m_icpt, eps_min=lo, eps_max=hi)
    Nc = np.geomspace(25.0, 1500.0, 60)
    lwc = 1e-3 * float(np.mean([p["lwc_g_m3"] for pts in sets.values() for p in pts]))
    ratios, ratios_obs, rates = {}, {}, {}
    for name, kw in closures.items():
        eps_ref = float(autoconversion.dispersion_closure(N_REF, **kw))
        ratios[name] = autoconversion.closure_vs_fixed(lwc, Nc * 1e6, eps_ref, threshold=False, **kw)["ratio"]
        ratios_obs[name] = autoconversion.closure_vs_fixed(lwc, Nc * 1e6, OBSERVED_EPS, threshold=False, **kw)["ratio"]
        thr = autoconversion.closure_vs_fixed(lwc, Nc * 1e6, eps_ref, threshold=True, **kw)
        rates[name] = {"eps_ref": eps_ref, "rate_closure": thr["rate_closure"], "rate_fixed": thr["rate_fixed"]}

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 3, figsize=(15, 4.2))
    style = {"aerosol": ("o", "C0"), "updraft": ("s", "C3")}
    for k, kind in enumerate(("adiabatic", "eddy")):
        for drive in ("aerosol", "updraft"):
            name = f"{drive}_{kind}"
            x = np.array([p["N_c_cm3"] for p in sets[name]])
            y = np.array([p["relative_dispersion"] for p in sets[name]])
            f = fits[name]
            mk, c = style[drive]
            ax[k].plot(x, y, mk, color=c, ms=4, alpha=0.7,
                       label=f"{drive} sweep: slope {f['slope_per_cm3']:.2e} ± {f['slope_se']:.1e} cm$^3$")
            xx = np.linspace(0, x.max() * 1.05, 20)
            ax[k].plot(xx, f["intercept"] + f["slope_per_cm3"] * xx, "-", color=c, lw=1)
        ax[k].set(xlabel="N$_c$ [cm$^{-3}$]", ylabel="relative dispersion of activated droplets",
                  title=("adiabatic parcels" if kind == "adiabatic" else
                         f"eddy hopping ({EDDY[0]:g} m$^2$/s$^3$, {EDDY[1]:g} m)") + ", 200 m above cloud base")
        ax[k].legend(fontsize=7)
    for name, r in ratios.items():
        ls = {"martin_1994": "k--", "martin_1994_mg08_clip": "k:"}.get(name, "-")
        ax[2].plot(Nc, r, ls, label=name.replace("_", " "))
    ax[2].axhline(1.0, color="0.6", lw=0.8)
    ax[2].axvline(N_REF, color="0.6", lw=0.8, ls=":")
    ax[2].set(xscale="log", yscale="log", xlabel="N$_c$ [cm$^{-3}$]",
              ylabel="P(eps(N$_c$)) / P(fixed eps$_{ref}$)", title="Liu-Daum autoconversion: closure / fixed eps")
    ax[2].legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, out / "dispersion_aerosol_vs_updraft.png")
    plt.close(fig)

    summary = {}
    for name, f in fits.items():
        summary[f"slope_{name}_per_cm3"] = f["slope_per_cm3"]
        summary[f"slope_se_{name}_per_cm3"] = f["slope_se"]
        summary[f"intercept_{name}"] = f["intercept"]
    for name, r in ratios.items():
        summary[f"ratio_at_1000cm3_{name}"] = float(np.interp(np.log(1000.0), np.log(Nc), r))
        summary[f"ratio_at_50cm3_{name}"] = float(np.interp(np.log(50.0), np.log(Nc), r))
    summary["lwc_g_m3"] = 1e3 * lwc
    write_json(out / "numbers.json", {
        "summary": summary, "fits": fits, "sweeps": sets,
        "setup": {"ascent": dsp.DEFAULTS, "w_aerosol_sweep_m_s": W_FIXED, "N_a_updraft_sweep_cm3": NA_FIXED / 1e6,
                  "eddy_hopping": {"epsilon_m2_s3": EDDY[0], "length_m": EDDY[1]}, "N_ref_cm3": N_REF,
                  "observed_eps": OBSERVED_EPS},
        "autoconversion": {"N_c_cm3": Nc, "lwc_kg_m3": lwc, "ratio_vs_eps_ref": ratios,
                           "ratio_vs_observed_eps_0.36": ratios_obs, "with_threshold": rates}})
    if args.dns:
        dns = dns_sweeps("quick" if args.quick else "full")
        plot_dns(dns, out)
        summary.update({f"dns_{k}": v for k, v in dns["summary"].items()})
        write_json(out / "numbers_dns.json", dns)
    print(summary)
    return 0


DNS_POINTS = {"aerosol": [(100e6, 1.0), (300e6, 1.0), (1000e6, 1.0)],
              "updraft": [(300e6, 0.5), (300e6, 1.0), (300e6, 2.0)]}


def dns_sweeps(size="quick", dz_above=20.0):
    """DNS ascents (clouds.dispersion.dns_ascent) and parcels of the same start at the DNS_POINTS."""
    out = {"dns": {}, "parcel": {}, "summary": {}}
    for drive, pts in DNS_POINTS.items():
        out["dns"][drive] = [dsp.dns_ascent(Na, w, size=size, dz_above=dz_above) for Na, w in pts]
        out["parcel"][drive] = [dsp.ascent(Na, w, rh=0.995, n_sd=400, dt=0.05, dz_above=dz_above) for Na, w in pts]
        for name in ("dns", "parcel"):
            x = np.array([p["N_c_cm3"] for p in out[name][drive]])
            y = np.array([p["relative_dispersion"] for p in out[name][drive]])
            out["summary"][f"slope_{drive}_{name}_per_cm3"] = diagnostics.linear_fit(x, y)[1]
        out["summary"][f"max_N_c_rel_diff_{drive}"] = max(
            abs(d["N_c_cm3"] / p["N_c_cm3"] - 1) for d, p in zip(out["dns"][drive], out["parcel"][drive]))
    return out


def plot_dns(dns, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 3, figsize=(14, 4))
    for drive, c in (("aerosol", "C0"), ("updraft", "C3")):
        for name, mk in (("parcel", "s"), ("dns", "o")):
            pts = dns[name][drive]
            x = [p["N_c_cm3"] for p in pts]
            ax[0].plot(x, [p["relative_dispersion"] for p in pts], mk + "-", color=c, mfc="none" if name == "parcel"
                       else c, label=f"{drive} sweep, {name}")
            ax[1].plot(x, [p["S_max_percent"] for p in pts], mk + "-", color=c, mfc="none" if name == "parcel" else c)
        ax[2].plot([p["N_c_cm3"] for p in dns["dns"][drive]], [p["secondary_cm3"] for p in dns["dns"][drive]],
                   "o-", color=c, label=f"{drive} sweep")
    ax[0].set(xlabel="N$_c$ [cm$^{-3}$]", ylabel="relative dispersion", title="20 m above cloud base")
    ax[1].set(xlabel="N$_c$ [cm$^{-3}$]", ylabel="S$_{max}$ [%]", title="peak supersaturation")
    ax[2].set(xlabel="N$_c$ [cm$^{-3}$]", ylabel="activated after the S peak [cm$^{-3}$]", title="DNS: secondary activation")
    ax[0].legend(fontsize=7)
    ax[2].legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, out / "dns_activation.png")
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
