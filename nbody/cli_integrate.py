"""``python -m nbody integrate IC --t-end 10Myr --pn all --out run.hdf5``: regularized few-body run of a snapshot.

Reads a GADGET snapshot (HDF5 or GADGET-2 binary, :mod:`nbody.snapshot`); type 5
particles are black holes (feel PN terms, can merge), all others are point-mass
stars. Integrates with :class:`nbody.RegularizedIntegrator` and writes one HDF5
file (atomic, with the standard header) holding

* ``snapshots/NNN/{time,mass,pos,vel,spin,ids,is_bh}`` at ``--n-out`` equally spaced times
  (code units: G = 1 with the snapshot's mass and length units; header lists the scales),
* ``orbits/{time,id1,id2,a,e,inclination,periapsis_argument,separation}``: the orbit log
  of every SMBH pair at every output,
* ``mergers/{time,id1,id2,remnant_mass,remnant_spin,recoil}``,

and prints a JSON summary (energy error, steps, mergers).
"""
from __future__ import annotations

import json
import math

import numpy as np


def add_arguments(p):
    p.add_argument("ic", help="initial conditions: GADGET snapshot (type 5 = black holes)")
    p.add_argument("--t-end", required=True, help="end time with unit, e.g. '2 Myr' (a bare number means Myr)")
    p.add_argument("--pn", default="none", help="'none', 'all' or a comma list of 1PN,2PN,2.5PN,3PN,spin")
    # numbers are parsed in check_options (one-line errors naming the option, like config keys)
    p.add_argument("--tolerance", default="1e-10", help="GBS tolerance in (0, 1e-3] (default 1e-10)")
    p.add_argument("--merger-radius-rs", default="12", help="merge BHs below this many r_s, >= 0 (default 12)")
    p.add_argument("--coordinates", default="mstar", choices=("mstar", "chain", "cartesian"))
    p.add_argument("--n-out", default="100", help="number of output times, an integer >= 1 (default 100)")
    p.add_argument("--out", required=True, help="output HDF5 file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def parse_time(text, name="--t-end"):
    """A time from the command line ('2 Myr', '1e4 yr'; a bare number means Myr); ConfigError naming ``name``."""
    import astropy.units as u

    from gpu.config import ConfigError, check_arg

    try:
        q = float(text) * u.Myr
    except ValueError:
        try:
            q = u.Quantity(text)
        except (TypeError, ValueError):
            raise ConfigError(f"argument '{name}' = {text!r} is not a time with a unit (e.g. '2 Myr', '1e4 yr'; "
                              "a bare number means Myr)") from None
        if not q.unit.is_equivalent(u.s):
            raise ConfigError(f"argument '{name}' = {text!r} must be a time (e.g. '2 Myr'), not a quantity in "
                              f"{q.unit}") from None
    check_arg(name, q.to_value(u.Myr), gt=0)
    return q


def check_options(args) -> dict:
    """Every option validated (finite, in range) before any work; ConfigError naming the option."""
    from gpu.config import ConfigError, check_arg

    from .regularized import parse_pn

    opts = {"t_end": parse_time(args.t_end),
            "tolerance": check_arg("--tolerance", args.tolerance, gt=0, le=1e-3),
            "merger_radius_rs": check_arg("--merger-radius-rs", args.merger_radius_rs, ge=0)}
    n_out = check_arg("--n-out", args.n_out, ge=1)
    if n_out != int(n_out):
        raise ConfigError(f"argument '--n-out' = {args.n_out!r} must be an integer >= 1")
    opts["n_out"] = int(n_out)
    try:
        parse_pn(args.pn)
    except ValueError as exc:
        raise ConfigError(f"argument '--pn' = {args.pn!r}: {exc}") from None
    return opts


def orbit_log(t, p, G=1.0):
    from .orbits import elements

    rows = []
    bh = np.flatnonzero(p.is_bh)
    for a in range(len(bh)):
        for b in range(a + 1, len(bh)):
            i, j = bh[a], bh[b]
            el = elements(p.mass[i], p.mass[j], p.pos[i], p.pos[j], p.vel[i], p.vel[j], G)
            rows.append((t, p.ids[i], p.ids[j], el["a"], el["e"], el["inclination"], el["periapsis_argument"],
                         el["separation"]))
    return rows


def run(args) -> int:
    import gpu
    from gpu.config import check_arg
    from gpu.io import check_writable, write_results

    from .regularized import RegularizedIntegrator
    from .snapshot import particles_from_snapshot

    opts = check_options(args)
    p = particles_from_snapshot(args.ic, code_units=True)
    units = p.units
    t_end = float(units.time_to_code(opts["t_end"]))
    check_arg("--t-end", t_end, gt=p.time)  # after the snapshot's time (code units)
    check_writable(args.out)
    integ = RegularizedIntegrator(tolerance=opts["tolerance"], pn=args.pn, merger_radius_rs=opts["merger_radius_rs"],
                                  units=units, coordinates=args.coordinates)
    times = p.time + (t_end - p.time) * np.arange(1, opts["n_out"] + 1) / opts["n_out"]
    bar = gpu.progress(total=len(times), desc="integrate", quiet=args.quiet, comm=integ.comm)
    logs = orbit_log(p.time, p)
    snaps = [(p.time, p)]

    def cb(t, s):
        logs.extend(orbit_log(t, s))
        snaps.append((t, s))
        bar.update(1)

    out, rec = integ.integrate(p, t_end, outputs=times[:-1], callback=cb)
    cb(out.time, out)
    bar.close()
    ds = {}
    for k, (t, s) in enumerate(snaps):
        g = f"snapshots/{k:03d}/"
        ds.update({g + "time": t, g + "mass": s.mass, g + "pos": s.pos, g + "vel": s.vel, g + "spin": s.spin,
                   g + "ids": s.ids, g + "is_bh": s.is_bh.astype(np.int8)})
    cols = ("time", "id1", "id2", "a", "e", "inclination", "periapsis_argument", "separation")
    arr = np.array(logs, dtype=float).reshape(-1, len(cols))
    for c, col in enumerate(cols):
        ds["orbits/" + col] = arr[:, c].astype(np.int64) if col.startswith("id") else arr[:, c]
    if rec.mergers:
        ds["mergers/time"] = np.array([m.time for m in rec.mergers])
        ds["mergers/id1"] = np.array([m.ids[0] for m in rec.mergers])
        ds["mergers/id2"] = np.array([m.ids[1] for m in rec.mergers])
        ds["mergers/remnant_mass"] = np.array([m.remnant_mass for m in rec.mergers])
        ds["mergers/remnant_spin"] = np.array([m.remnant_spin for m in rec.mergers])
        ds["mergers/recoil"] = np.array([m.recoil for m in rec.mergers])
    summary = rec.summary()
    params = {"ic": str(args.ic), "pn": sorted(integ.pn), "tolerance": opts["tolerance"],
              "merger_radius_rs": opts["merger_radius_rs"], "coordinates": args.coordinates,
              "unit_mass_msun": float(units.mass.value), "unit_length_pc": float(units.length.value),
              "unit_velocity_kms": float(units.velocity.value), "unit_time_yr": float(units.time.value),
              "c_code": float(units.c), "G": 1.0, "summary": json.dumps(summary, default=float)}
    L, M = f"{float(units.length.value):.6g} pc", f"{float(units.mass.value):.6g} Msun"
    V, T = f"{float(units.velocity.value):.6g} km/s", f"{float(units.time.value):.6g} yr"
    by_leaf = {"time": T, "mass": M, "pos": L, "vel": V, "spin": "1", "ids": "1", "is_bh": "1", "id1": "1", "id2": "1",
               "a": L, "e": "1", "inclination": "rad", "periapsis_argument": "rad", "separation": L,
               "remnant_mass": M, "remnant_spin": "1", "recoil": V}  # G = 1 code units, scales as above
    unit_text = {name: by_leaf[name.rsplit("/", 1)[-1]] for name in ds}
    options = {k: v for k, v in vars(args).items() if not callable(v) and k not in ("debug", "quiet")}
    if getattr(integ.comm, "rank", 0) == 0:
        write_results(args.out, ds, params=params, units=unit_text, config={**options, **opts})
        print(json.dumps({k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in summary.items()},
                         default=float))
    return 0
