"""Relative dispersion and droplet number from parcel ascents: aerosol-driven versus updraft-driven N_c.

Set-up (Twomey 1959, Geofis. Pura Appl. 43:243; Liu & Daum 2002, Nature 419:580): a parcel
(:class:`clouds.ParcelModel`) rises at constant updraft w from just below saturation, carrying a
lognormal dry aerosol of total number N_a (median dry radius, geometric width, hygroscopicity kappa)
as superdroplets at their kappa-Köhler equilibrium wet radii. Activation is explicit: every aerosol
superdroplet grows by the growth law with the full kappa-Köhler S_eq (Petters & Kreidenweis 2007),
so secondary activation above the supersaturation peak (or by eddy-hopping fluctuations) is
represented, not parameterised. At a fixed height ``dz_above`` above cloud base (the height where
the parcel's S first reaches 0) we measure

* N_c: number concentration [cm^-3] of activated droplets, those with r above the critical radius
  r_c = sqrt(3 kappa r_d^3 / A) of their own dry radius (:func:`clouds.koehler.critical_radius`);
* epsilon = sigma_r / r_mean of the activated droplets; their liquid water content and r_mean;
* the peak supersaturation and N_Kohler, the number whose critical supersaturation is below it
  (the equilibrium-activation count; N_c - N_Kohler counts kinetically delayed or secondary
  activation).

N_c is varied (a) through N_a at fixed w ("aerosol sweep"), (b) through w at fixed N_a ("updraft
sweep"). At a fixed height above cloud base the adiabatic liquid water hardly depends on either
(2 % spread), so eps-N_c is not a liquid-water effect. In an adiabatic parcel more aerosol lowers
the peak supersaturation (Twomey 1959), so the activated droplets include more small, slowly growing
CCN and the spectrum is relatively broader: epsilon rises with N_c, the sign observed when aerosol
drives N_c (Martin et al. 1994, JAS 51:1823; Liu & Daum 2002). A stronger updraft raises the peak
supersaturation and activates more droplets, which then grow as r^2 = r_0^2 + 2 G S t (Rogers & Yau
1989 eq. 7.18), narrowing in r: epsilon falls with N_c. (Both signs: tests/clouds/test_dispersion.py.)
With eddy-hopping supersaturation fluctuations (Grabowski & Abade 2017) the turbulent broadening
dominates; it is weaker where the phase-relaxation time is short (many droplets), so eps falls with
N_c in both sweeps, the updraft one more steeply (also because slower parcels spend longer,
dz_above / w, in the fluctuations); cf. Chandrakar et al. (2016, PNAS 113:14243) for the turbulent
decrease of eps with aerosol. :func:`sweep` returns the points; :func:`clouds.diagnostics.linear_fit`
fits the lines.
"""
from __future__ import annotations

import numpy as np

from . import diagnostics, droplets, koehler
from . import thermo as th
from .parcel import EddyHopping, ParcelModel

#: default ascent: cloud-base-like state of a warm monsoon cumulus and a continental lognormal
#: ammonium-sulfate-like aerosol (kappa 0.61, Petters & Kreidenweis 2007, Table 1)
DEFAULTS = dict(p=9.0e4, T=293.0, rh=0.98, r_median=40e-9, sigma_g=1.6, kappa=0.6, n_sd=200, dt=0.5,
                dz_above=200.0)


def ascent(N_a, w, p=DEFAULTS["p"], T=DEFAULTS["T"], rh=DEFAULTS["rh"], r_median=DEFAULTS["r_median"],
           sigma_g=DEFAULTS["sigma_g"], kappa=DEFAULTS["kappa"], n_sd=DEFAULTS["n_sd"], dt=DEFAULTS["dt"],
           dz_above=DEFAULTS["dz_above"], eddy_hopping: EddyHopping | None = None):
    """One parcel ascent from the aerosol to ``dz_above`` [m] above cloud base; returns the measurements.

    N_a [m^-3] total aerosol number at the initial state; w [m/s] > 0; p [Pa], T [K], rh < 1 the
    initial state (below cloud base); lognormal dry aerosol (r_median [m], sigma_g, kappa) on n_sd
    superdroplets; dt [s]. The ascent ends exactly at z_cb + dz_above (a shorter last step).
    """
    if not N_a > 0:
        raise ValueError(f"aerosol number N_a must be > 0 m^-3, got {N_a}")
    if not w > 0:
        raise ValueError(f"updraft w must be > 0 m/s, got {w}")
    if not 0 < rh < 1:
        raise ValueError(f"initial relative humidity rh must be in (0, 1) (start below cloud base), got {rh}")
    if not dz_above > 0:
        raise ValueError(f"dz_above must be > 0 m, got {dz_above}")
    rd, n = droplets.lognormal(N_a, r_median, sigma_g, n_sd)
    r0 = droplets.equilibrium_radii(rh - 1.0, rd, kappa, T)
    rho0 = float(th.dry_air_density(p, T, th.mixing_ratio_from_rh(p, T, rh)))
    m = ParcelModel(p, T, w, droplets.Population(r0, rd, kappa, n / rho0), rh=rh, dt=dt,
                    eddy_hopping=eddy_hopping)
    z_cb, S_max, z_limit = None, m.S, 20000.0
    while True:
        S_prev, z_prev = m.S, m.z
        if z_cb is not None and m.z + w * m.dt > z_cb + dz_above:
            m.dt = (z_cb + dz_above - m.z) / w          # land exactly on the measurement height
            m.step()
            m.dt = dt
            break
        m.step()
        S_max = max(S_max, m.S)
        if z_cb is None and m.S >= 0.0:
            z_cb = z_prev + (m.z - z_prev) * (0.0 - S_prev) / (m.S - S_prev)
        if m.z > z_limit:  # pragma: no cover - a parcel that never saturates
            raise RuntimeError("the parcel did not reach saturation within 20 km of ascent")
    S_max = max(S_max, m.S)
    r, nk = m.spectrum()
    rho = float(th.dry_air_density(m.p, m.T, m.qv))
    rc = koehler.critical_radius(m.pop.r_dry, m.pop.kappa, m.T)
    act = r > rc
    if not np.any(act):
        raise RuntimeError("no droplet activated; raise w or the aerosol size")
    na = nk[act] * rho                                   # per m^3
    ra = r[act]
    mean, sd = diagnostics.dispersion_stats(ra, na)
    Sc = koehler.critical_supersaturation(m.pop.r_dry, m.pop.kappa, m.T)
    return {"N_a_cm3": N_a / 1e6, "w_m_s": float(w), "N_c_cm3": float(na.sum()) / 1e6,
            "relative_dispersion": sd / mean, "r_mean_um": 1e6 * mean,
            "lwc_g_m3": 1e3 * diagnostics.liquid_water(ra, na, m.pop.r_dry[act]),
            "S_max_percent": 100.0 * S_max, "N_kohler_cm3": float(np.sum(nk[Sc < S_max]) * rho) / 1e6,
            "z_cloud_base_m": float(z_cb), "z_m": float(m.z), "t_s": float(m.t), "T_K": float(m.T),
            "p_Pa": float(m.p)}


def sweep(kind, values, fixed, eddy=None, seeds=(0,), **kw):
    """Ascents over ``values`` of N_a [m^-3] (``kind="aerosol"``, w = ``fixed``) or w [m/s]
    (``kind="updraft"``, N_a = ``fixed``). ``eddy`` = (epsilon [m^2/s^3], length [m]) turns eddy
    hopping on, one ascent per seed. Returns a list of :func:`ascent` dicts (with ``seed``)."""
    if kind not in ("aerosol", "updraft"):
        raise ValueError(f"sweep kind must be 'aerosol' or 'updraft', got {kind!r}")
    out = []
    for v in values:
        for s in (seeds if eddy is not None else (None,)):
            eh = None if eddy is None else EddyHopping(eddy[0], eddy[1], seed=s)
            N_a, w = (v, fixed) if kind == "aerosol" else (fixed, v)
            res = ascent(N_a, w, eddy_hopping=eh, **kw)
            res["seed"] = s
            out.append(res)
    return out


#: DNS ascent sizes: grid points, box [m], superdroplets, forcing epsilon [m^2/s^3], initial u_rms [m/s], dt [s]
DNS_SIZES = {"tiny": (8, 0.2, 2000, 0.0, 0.0, 0.1), "quick": (8, 0.1, 4000, 1e-3, 0.03, 0.0125),
             "full": (32, 0.2, 200000, 1e-2, 0.08, 0.01)}


def dns_ascent(N_a, w, size="quick", rh=0.995, T=DEFAULTS["T"], p=DEFAULTS["p"], r_median=DEFAULTS["r_median"],
               sigma_g=DEFAULTS["sigma_g"], kappa=DEFAULTS["kappa"], dz_above=20.0, seed=1):
    """The ascent of :func:`ascent` resolved by the DNS (:class:`clouds.dns.DNS`): a turbulent box rising
    at the mean updraft w (``thermo.updraft``, Götzfried et al. 2017's rising-box set-up with the
    hydrostatic pressure), its aerosol starting as haze (``droplets.init = "aerosol"``) and activating by
    the kappa-Köhler growth law at the local supersaturation, so turbulence adds supersaturation
    fluctuations (and secondary activation) on top of the parcel's mean ascent.

    The run covers the rise to cloud base (estimated as -S_0 / A1 from the initial state) plus
    ``dz_above`` [m]; the measurements are those of :func:`ascent` at the end (activated: r above the
    droplet's critical radius), plus ``N_act_at_peak_cm3`` (activated when the box-mean S peaks) and
    ``secondary_cm3`` = N_c - N_act_at_peak (activation after the peak: from fluctuations or delayed
    growth). ``size``: a key of :data:`DNS_SIZES`; use >= ~5 superdroplets per grid cell (fewer
    concentrate the vapour sink in the cells holding droplets and raise N_c: tests/clouds/test_dns_activation.py).
    """
    from .dns import DNS, make_config

    if not N_a > 0 or not w > 0:
        raise ValueError(f"dns_ascent needs N_a > 0 and w > 0, got N_a = {N_a}, w = {w}")
    if not 0 < rh < 1:
        raise ValueError(f"initial relative humidity rh must be in (0, 1), got {rh}")
    if not dz_above > 0:
        raise ValueError(f"dz_above must be > 0 m, got {dz_above}")
    if size not in DNS_SIZES:
        raise ValueError(f"size must be one of {sorted(DNS_SIZES)}, got {size!r}")
    n, box, m, eps_f, u_rms, dt = DNS_SIZES[size]
    q0 = float(th.mixing_ratio_from_rh(p, T, rh))
    z_cb_est = -float(th.supersaturation(p, T, q0)) / float(th.A1(T))
    t_end = dt * np.ceil((z_cb_est + dz_above) / w / dt)
    cfg = make_config(grid=dict(n=n, box=box), fluid=dict(u_rms=u_rms), forcing=dict(epsilon=eps_f),
                      thermo=dict(setup="homogeneous", rh_cloud=rh, lapse=True, updraft=w, T0=T, p0=p),
                      droplets=dict(n_droplets=m, N_c=N_a, r_dry=r_median, sigma_g=sigma_g, kappa=kappa,
                                    init="aerosol"),
                      run=dict(dt=dt, t_end=t_end, diag_every=max(1, int(round(0.5 / dt))), seed=seed))
    sim = DNS(cfg)
    h = sim.run()
    rc = koehler.critical_radius(sim.rd, sim.kap, T)
    act = sim.r > rc
    if not np.any(act):
        raise RuntimeError("no droplet activated in the DNS ascent; raise w or dz_above")
    V = box ** 3
    na = sim.mult[act] / V
    mean, sd = diagnostics.dispersion_stats(sim.r[act], na)
    i_peak = int(np.argmax(h["S_mean"]))
    S = h["S_mean"]
    j = int(np.argmax(S >= 0.0))
    z_cb = float(h["z_mean"][j - 1] + (h["z_mean"][j] - h["z_mean"][j - 1]) * (0.0 - S[j - 1]) / (S[j] - S[j - 1])) \
        if 0 < j and S[j] >= 0 else float("nan")
    return {"N_a_cm3": N_a / 1e6, "w_m_s": float(w), "N_c_cm3": float(na.sum()) / 1e6,
            "relative_dispersion": sd / mean, "r_mean_um": 1e6 * mean,
            "S_max_percent": 100.0 * float(S.max()), "N_act_at_peak_cm3": float(h["N_act"][i_peak]) / 1e6,
            "secondary_cm3": float(na.sum() - h["N_act"][i_peak]) / 1e6, "z_cloud_base_m": z_cb,
            "z_m": float(h["z_mean"][-1]), "t_s": float(h["t"][-1]),
            "dissipation_m2_s3": float(np.mean(h["dissipation"][len(h["t"]) // 2:])),
            "water_drift": float(np.ptp(h["water_kg"]) / h["water_kg"][0]), "grid": n, "superdroplets": m}
