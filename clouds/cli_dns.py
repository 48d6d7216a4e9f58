"""``[mpirun -n N] python -m clouds dns config.toml --out run.h5 [--restart file.h5]``: run the DNS.

The config is :class:`clouds.dns.DNSConfig` in TOML (sections [grid], [fluid], [forcing], [thermo],
[droplets], [run]); see the class docstrings for keys, units and ranges. The run ends exactly at
``run.t_end`` (a last, shorter step lands on it).

Outputs (checked for writability before any computation):

* ``--out``: the final fields, droplets and diagnostics history, written once at the end, with
  Header ``status`` = "complete" (``complete = True``) or "failed" (``reason``; the solver's own
  checks, non-finite values or a water/energy budget off, failed: exit status 1). An existing file
  is refused unless ``--overwrite`` (or it is the ``--restart`` file being continued).
* ``<out stem>.checkpoint.h5`` (with ``run.checkpoint_every > 0``): the restart file, rewritten
  atomically during the run with Header ``status = "checkpoint"``, ``complete = False``; removed
  once the complete result is written. After a crash, continue with ``--restart`` on it.
* ``--json``: status, last diagnostics, validity warnings and the timing breakdown.

``--restart`` reads a checkpoint or a complete result (never a failed one); the new config's [run]
section applies (its ``t_end`` must be later than the file's time); keys of other sections that the
config gives must equal the file's (a restart continues the same physics).
"""
from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

from gpu.config import ConfigError, to_dict
from gpu.io import remove_stale_tmp, write_json

from gpu.io import check_outputs

from ._cliutil import one_line_warnings, read_config


def add_arguments(p):
    p.add_argument("config", help="TOML config (clouds.dns.DNSConfig)")
    p.add_argument("--out", default="run.h5", help="HDF5 result (default run.h5), written at the end")
    p.add_argument("--restart", default=None, help="continue from this checkpoint or complete result "
                                                    "(the config's [run] section applies)")
    p.add_argument("--json", default=None, help="write the status and final diagnostics as JSON")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out and its checkpoint")
    p.add_argument("--quiet", action="store_true")


def checkpoint_path(out) -> Path:
    """The checkpoint file of result ``out``: ``run.h5`` -> ``run.checkpoint.h5``."""
    out = Path(out)
    return out.with_name(out.stem + ".checkpoint" + (out.suffix or ".h5"))


def _check_restart(path, data, cfg):
    """Restart file's header, checked against the new config before any work."""
    from .dns import DNS

    header = DNS.read_header(path)
    t0 = float(header["time"])
    if not cfg.run.t_end > t0 + 1e-9 * cfg.run.dt:
        raise ConfigError(f"config key 'run.t_end' = {cfg.run.t_end:g} s is not after the restart file's time "
                          f"t = {t0:g} s ('{path}', step {int(header['step'])}); give a later run.t_end")
    old = json.loads(header["config_json"])
    new = to_dict(cfg)
    for sec, vals in data.items():
        if sec == "run" or not isinstance(vals, dict):
            continue
        for key in vals:
            if sec in old and key in old[sec] and old[sec][key] != new[sec][key]:
                raise ConfigError(f"config key '{sec}.{key}' = {new[sec][key]!r} differs from the restart file's "
                                  f"{old[sec][key]!r} ('{path}'); a restart continues the same physics, only [run] "
                                  "keys may change")
    return header


def run(args) -> int:
    import gpu

    from .dns import DNS, DNSConfig

    data, cfg, text = read_config(args.config, DNSConfig)
    out = Path(args.out)
    ckpt = checkpoint_path(out)
    if args.restart:
        _check_restart(args.restart, data, cfg)
    comm = gpu.get_comm()
    rank = getattr(comm, "rank", 0)
    if rank == 0:      # only rank 0 writes; an error here ends the job on every rank (gpu.cli.dispatch)
        check_outputs([("--out", out), ("--json", args.json), ("checkpoint", ckpt)], overwrite=args.overwrite,
                      existing=("--out", "checkpoint"), allowed=(args.restart,))
        if ckpt.exists() and args.overwrite and (not args.restart or ckpt.resolve() != Path(args.restart).resolve()):
            ckpt.unlink()  # the replaced run's checkpoint must not sit beside this run's result
        remove_stale_tmp(out.parent)      # *.PID.tmp of killed runs
    if args.restart:
        # only the [run] keys this config sets: the others keep the restart file's values (as every
        # other section does), instead of silently falling back to the defaults
        sim = DNS.restart(args.restart, comm=comm, run=dict(data.get("run", {})))
    else:
        sim = DNS(cfg, comm=comm, config_text=text)
    with one_line_warnings():
        h = sim.run(sim.cfg.run.t_end, progress=not args.quiet,
                    checkpoint=ckpt if sim.cfg.run.checkpoint_every else None)
    reason = sim.check_result()
    status = "complete" if reason is None else "failed"
    sim.save(out, status=status, reason=reason)
    last = {k: float(v[-1]) for k, v in h.items()}
    summary = {"status": status, **({"reason": reason} if reason else {}), "final": last,
               "warnings": list(getattr(sim, "warnings", [])), "timing_s": sim.timing, "steps": sim.nstep,
               "ranks": sim.size, "out": str(out)}
    if rank == 0:
        if reason is None and ckpt.exists():
            with contextlib.suppress(FileNotFoundError):
                ckpt.unlink()       # the complete result supersedes it
        if args.json:
            write_json(args.json, summary, config=sim.cfg)
        if not args.quiet:
            print(json.dumps(summary, indent=2))
        if reason:
            print(f"error: {reason}; '{out}' is marked status = 'failed'", file=sys.stderr, flush=True)
    return 0 if reason is None else 1
