#!/usr/bin/env python3
"""Run every paper reproduction in examples/ and write figures plus a summary table to results/.

Each example is a script ``examples/<paper>_<figure>.py`` with ``main(argv) -> int``
that accepts ``--quick`` (small size) and ``--outdir DIR``, writes its figure(s)
and a ``numbers.json`` whose ``"summary"`` dict holds the headline numbers.
Examples run in separate processes, so one failure does not stop the others.

    python examples/run_all.py --quick            # everything, small
    python examples/run_all.py --only ketju       # names containing 'ketju'
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: every reproduction the project plans, with the package that provides it
PLANNED = {
    "ketju_pn_inspiral": "nbody: regularized integrator with PN terms",
    "ketju_binary_hardening": "nbody: KETJU galaxy simulations",
    "ketju_dynamical_friction": "nbody: KETJU galaxy simulations",
    "vg_forecast_snr": "cosmo: E_G / V_G forecast",
    "vg_modified_gravity": "cosmo: E_G / V_G forecast",
    "darkflow_velocity_statistics": "cosmo: dark-matter flow statistics",
    "mlvms_convergence": "pde: ML-VMS with C-HiDeNN and TD",
    "mlvms_lpbf": "pde: ML-VMS with C-HiDeNN and TD",
    "clouds_growth_coefficient": "clouds: droplet diffusional growth",
    "clouds_dispersion_vs_nc": "clouds: droplet diffusional growth",
    "clouds_parcel_spectra": "clouds: droplet diffusional growth",
    "clouds_dispersion_aerosol_vs_updraft": "clouds: droplet diffusional growth",
    "clouds_dispersion_steady": "clouds: droplet diffusional growth",
}


def discover() -> list[str]:
    return sorted(p.stem for p in HERE.glob("*.py") if p.stem not in ("run_all",) and not p.stem.startswith("_"))


def run_one(name: str, outdir: Path, quick: bool, timeout: float) -> dict:
    cmd = [sys.executable, str(HERE / f"{name}.py"), "--outdir", str(outdir / name)]
    if quick:
        cmd.append("--quick")
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        rc, tail = proc.returncode, (proc.stdout + proc.stderr)[-2000:]
    except subprocess.TimeoutExpired:
        rc, tail = -1, f"timed out after {timeout:.0f} s"
    dt = time.perf_counter() - t0
    summary = {}
    numbers = outdir / name / "numbers.json"
    if rc == 0 and numbers.exists():
        summary = json.loads(numbers.read_text()).get("summary", {})
    return {"name": name, "status": "ok" if rc == 0 else "FAILED", "seconds": round(dt, 1),
            "summary": summary, "log_tail": "" if rc == 0 else tail}


def write_table(rows: list[dict], missing: dict, outdir: Path) -> Path:
    lines = ["# scaleforge paper reproductions", "", "| example | status | time [s] | headline numbers |",
             "|---|---|---|---|"]
    for r in rows:
        nums = "; ".join(f"{k} = {v:.4g}" if isinstance(v, (int, float)) else f"{k} = {v}"
                         for k, v in r["summary"].items())
        lines.append(f"| {r['name']} | {r['status']} | {r['seconds']} | {nums} |")
    if missing:
        lines += ["", "Not yet available (their issues are open):", ""]
        lines += [f"- {k} ({v})" for k, v in missing.items()]
    path = outdir / "summary.md"
    path.write_text("\n".join(lines) + "\n")
    (outdir / "summary.json").write_text(json.dumps({"runs": rows, "missing": missing}, indent=2))
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes (minutes in all)")
    ap.add_argument("--outdir", default="results", help="output folder (default results/)")
    ap.add_argument("--only", default="", help="run only examples whose name contains this")
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds allowed per example")
    args = ap.parse_args(argv)
    outdir = Path(args.outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    names = [n for n in discover() if args.only in n]
    missing = {k: v for k, v in PLANNED.items() if k not in discover()}
    rows = []
    for name in names:
        print(f"[run_all] {name} ...", flush=True)
        r = run_one(name, outdir, args.quick, args.timeout)
        print(f"[run_all] {name}: {r['status']} in {r['seconds']} s {r['summary']}", flush=True)
        if r["status"] != "ok":
            print(r["log_tail"], file=sys.stderr)
        rows.append(r)
    table = write_table(rows, missing, outdir)
    print(table.read_text())
    if not names:
        print("[run_all] no paper reproductions exist yet; see the list above for what is planned.")
    return 0 if all(r["status"] == "ok" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
