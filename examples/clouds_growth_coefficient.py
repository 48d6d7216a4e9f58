#!/usr/bin/env python3
"""Mean coefficient of diffusional growth rate <G/r> (cm/s) for monsoon-cloud conditions.

Bhowmik et al. (arXiv:2303.00987) report mean growth-rate coefficients of about 0.00025-0.0015 cm/s
for Indian-summer-monsoon clouds. With dr/dt = (G/r) S (Mason 1971; clouds.growth), the coefficient
of one droplet is G(T, p)/r and the population value is its number-weighted mean. This example
evaluates it (i) on a grid of temperature, pressure and gamma spectra spanning warm monsoon clouds
(T 275-298 K, p 600-950 hPa, mean radius 4-25 um, dispersion 0.1-0.4), (ii) for the spectra shipped
in clouds/data/ (clouds.observations.shipped_spectra), and (iii) along adiabatic parcel ascents
(w = 0.5-3 m/s, N = 100-800 cm^-3), and compares the range with the paper's band.

Observed comparison PENDING: no droplet spectrum tabulated in (or digitised from) a published in-situ
paper ships yet (CAIPEEX data are not public), so (ii) reports only the synthetic test fixture,
labelled as such ("synthetic_fixture_*" keys; its mean, ~1.75e-3 cm/s at 285 K / 850 hPa, lies above
the paper's band because its spectra are small-droplet, r_mean 5-11 um). Observed files added to
clouds/data/ with ``kind: tabulated`` or ``kind: digitised`` are reported under "observed_*".

    python examples/clouds_growth_coefficient.py [--quick] [--outdir DIR]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from examples._figures import save_figure  # noqa: E402

from clouds import diagnostics, droplets, growth, observations  # noqa: E402
from clouds import thermo as th  # noqa: E402
from clouds.parcel import ParcelModel  # noqa: E402
from gpu.io import write_json  # noqa: E402

PAPER_BAND = (0.00025, 0.0015)  # cm/s, Bhowmik et al. (arXiv:2303.00987)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--outdir", default="results/clouds_growth_coefficient")
    args = ap.parse_args(argv)
    out = Path(args.outdir)
    out.mkdir(parents=True, exist_ok=True)
    nT = 4 if args.quick else 8
    Ts = np.linspace(275.0, 298.0, nT)
    ps = np.array([6e4, 7.5e4, 9.5e4])
    rmeans = np.linspace(4e-6, 25e-6, 8 if args.quick else 22)
    eps_list = (0.1, 0.25, 0.4)

    # (i) grid of conditions
    grid = np.zeros((Ts.size, ps.size, rmeans.size, len(eps_list)))
    for a, T in enumerate(Ts):
        for b, p in enumerate(ps):
            for c, rm in enumerate(rmeans):
                for d, e in enumerate(eps_list):
                    r, n = droplets.gamma(1.0, rm, 1 / e ** 2, 400)
                    grid[a, b, c, d] = growth.mean_growth_coefficient(r, T, p, n)
    G = np.array([[growth.growth_parameter(T, p) for p in ps] for T in Ts])

    # (ii) shipped spectra: observed (tabulated / digitised, each with its source) and the synthetic
    #      test fixture, kept apart; T and p from each file's metadata
    observed = {p.name: {"source": s.meta.get("source", ""), "kind": s.kind,
                         "coef_cm_s": observations.growth_coefficient(s)}
                for p, s in observations.shipped_spectra("observed").items()}
    fixture = observations.read_spectrum(observations.SYNTHETIC)
    obs_coef = observations.growth_coefficient(fixture)

    # (iii) parcel ascents from a lognormal aerosol
    parcel = []
    t_end = 300.0 if args.quick else 900.0
    for w in ((1.0, 3.0) if args.quick else (0.5, 1.0, 3.0)):
        for N in ((100e6, 800e6) if args.quick else (100e6, 300e6, 800e6)):
            p, T = 9.0e4, 293.0
            rd, n = droplets.lognormal(N, 40e-9, 1.6, 128)
            r0 = droplets.equilibrium_radii(-0.01, rd, 0.6, T)
            rho = float(th.dry_air_density(p, T, th.mixing_ratio_from_rh(p, T, 0.99)))
            m = ParcelModel(p, T, w, droplets.Population(r0, rd, 0.6, n / rho), rh=0.99, dt=0.5)
            coef = []
            for t in np.linspace(60.0, t_end, 6):
                m.run(t)
                r, nn = m.spectrum()
                act = r > 2e-6
                coef.append(diagnostics.growth_coefficient(r[act], m.T, m.p, nn[act]))
            parcel.append({"w": w, "N_cm3": N / 1e6, "t": list(np.linspace(60.0, t_end, 6)), "coef_cm_s": coef,
                           "r_mean_um": 1e6 * diagnostics.mean_radius(r[act], nn[act])})

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    for a, T in enumerate(Ts):
        ax[0].plot(rmeans * 1e6, grid[a, 1, :, 1], label=f"T = {T:.0f} K, 750 hPa")
    ax[0].axhspan(*PAPER_BAND, color="0.85", label="Bhowmik et al. range")
    ax[0].set(xlabel="mean radius [um]", ylabel="<G/r> [cm/s]", yscale="log", title="eps = 0.25 gamma spectra")
    ax[0].legend(fontsize=7)
    for pc in parcel:
        ax[1].plot(pc["t"], pc["coef_cm_s"], marker="o", label=f"w={pc['w']} m/s, N={pc['N_cm3']:.0f}/cc")
    ax[1].axhspan(*PAPER_BAND, color="0.85")
    ax[1].set(xlabel="t [s]", ylabel="<G/r> of activated droplets [cm/s]", yscale="log", title="parcel ascents")
    ax[1].legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, out / "growth_coefficient.png")

    cloud_like = grid[:, :, (rmeans >= 5e-6) & (rmeans <= 20e-6), :]
    parcel_vals = np.array([c for pc in parcel for c in pc["coef_cm_s"]])
    summary = {
        "coef_min_cm_s": float(cloud_like.min()), "coef_max_cm_s": float(cloud_like.max()),
        "fraction_in_paper_band": float(np.mean((cloud_like >= PAPER_BAND[0]) & (cloud_like <= PAPER_BAND[1]))),
        "G_min_m2_s": float(G.min()), "G_max_m2_s": float(G.max()),
        "synthetic_fixture_mean_cm_s": float(np.mean(obs_coef)),
        "observed_spectra_files": len(observed),
        "observed_comparison": ("pending: no published tabulated or digitised spectra shipped" if not observed
                                else "done"),
        "parcel_min_cm_s": float(parcel_vals.min()), "parcel_max_cm_s": float(parcel_vals.max()),
        "paper_band_low_cm_s": PAPER_BAND[0], "paper_band_high_cm_s": PAPER_BAND[1],
    }
    if observed:
        vals = np.concatenate([o["coef_cm_s"] for o in observed.values()])
        summary["observed_min_cm_s"], summary["observed_max_cm_s"] = float(np.nanmin(vals)), float(np.nanmax(vals))
    write_json(out / "numbers.json", {"summary": summary, "T_K": Ts, "p_Pa": ps, "r_mean_m": rmeans,
                                      "eps": list(eps_list), "grid_cm_s": grid, "parcel": parcel,
                                      "synthetic_fixture_cm_s": obs_coef, "observed": observed})
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
