#!/usr/bin/env python3
"""Every GPU path against its CPU path at production sizes: one table of time, speedup and device use.

Sections (one per hot loop; each calls its package's entry function with ``backend="cpu"`` and
``backend="cuda"`` on the same input, checks that the answers agree, and reports the time per
evaluation or per step):

* ``nbody_gravity``: the galaxy simulation's active-set direct sum
  (:func:`nbody._kernels.cuda_gravity.gravity_accel_cuda`) for all N = 1e6 particles of a Hernquist
  galaxy, against the CPU direct kernel (timed on a subset of targets and scaled to N: the per-target
  cost is exactly linear) and against the CPU tree (:class:`nbody.tree.Octree`, theta = 0.5, the
  production CPU path). Device use: FP64 FLOP rate at
  :data:`nbody._kernels.cuda_gravity.FLOPS_PER_PAIR_POT` operations per pair, against the FP64
  (non-tensor) peak.
* ``nbody_pm``: one PM force (:class:`nbody.cosmological.pm.ParticleMesh`, 256^3 mesh, 1e6
  particles), CuPy FFTs against NumPy's. Device use: memory bandwidth of the FFT passes (model:
  each of the 12 1-D FFT passes of a force -- 3 forward, 3 x 3 inverse -- reads and writes the
  complex half-spectrum once, 2 x 16 n^2 (n/2+1) bytes) on the device part of the time only is not
  separable here, so the fraction is a lower bound.
* ``cosmo_pairs``: ``cosmo.pairwise.pair_moments(..., backend=)`` (counts, moments 1-8, PDFs) for
  N = 1e6 particles in a 500 Mpc/h box, r < 20 Mpc/h. Device use: not modelled (reported as "-").
* ``clouds_dns``: one step of ``clouds.dns.DNS`` at 128^3 with 1e7 droplets, ``run.backend``.
  Device use: bandwidth from ``clouds._kernels.cuda_droplets.bytes_moved`` (droplet kernels only;
  the FFTs add traffic, so the fraction is a lower bound).
* ``pde_lpbf``: the LPBF TD fixed point at block scale S = 64 (``pde.lpbf_cases.run_track_case``:
  case (c)) with ``solver.backend``. Device use: not modelled.

A section whose package has no GPU entry point yet prints ``not available: <reason>`` and the run
goes on. ``--cpu-threads`` (default 2) sets the Numba threads of the CPU paths: the targets in the
project's issue are against the 2-core CPU path. Device peaks come from a table of data-sheet values
for known GPUs (H100 SXM: 3.35 TB/s, 34 TFLOP/s FP64, 67 FP64 tensor; H100 PCIe: 2.0 TB/s, 26;
H200: 4.8 TB/s, 34), else from the device properties (bandwidth = 2 x memory clock x bus width).

Writes ``gpu_benchmark.md`` and ``gpu_benchmark.json`` to ``--out``. Needs CuPy and a CUDA device
(exit 1 with one line ``error: ...`` otherwise); ``--quick`` runs 1/10-size cases. A section that
raises is reported as FAILED in the table (traceback on stderr), the others still run, and the exit
status is 1. Under
``NUMBA_ENABLE_CUDASIM=1`` with ``--tiny`` it runs toy sizes on the CUDA simulator (a check of this
script, not a measurement).

    python benchmarks/gpu.py [--quick] [--out results/gpu] [--sections nbody_gravity cosmo_pairs ...]
"""
from __future__ import annotations

import argparse
import inspect
import json
import sys
import time
import traceback
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: data-sheet peaks: (name fragments, memory bandwidth [B/s], FP64 [FLOP/s], FP64 tensor [FLOP/s])
PEAKS = [
    (("H200",), 4.8e12, 34e12, 67e12),
    (("H100", "PCIE"), 2.0e12, 26e12, 51e12),
    (("H100", "NVL"), 3.9e12, 30e12, 60e12),
    (("H100",), 3.35e12, 34e12, 67e12),  # SXM
    (("A100",), 2.0e12, 9.7e12, 19.5e12),  # 80 GB SXM
]

SIZES = {  # production, --quick, --tiny
    "nbody_gravity": {"n": (1_000_000, 100_000, 300), "cpu_targets": (2000, 2000, 50)},
    "nbody_pm": {"nmesh": (256, 64, 16), "n": (1_000_000, 100_000, 2000)},
    "cosmo_pairs": {"n": (1_000_000, 100_000, 300)},
    "clouds_dns": {"grid": (128, 64, 16), "droplets": (10_000_000, 1_000_000, 2000)},
    "pde_lpbf": {"scale": (64, 16, 1)},
}


class NotAvailable(Exception):
    """A section's GPU entry point does not exist (yet); the message says what is missing."""


# ----------------------------------------------------------------------------------------------- device
def device_info(tiny: bool) -> dict:
    """Name and peaks of device 0 (or of a nominal H100 SXM under the simulator with ``--tiny``)."""
    if tiny:
        return {"name": "CUDA simulator (nominal H100 SXM peaks)", "bandwidth": 3.35e12, "fp64": 34e12,
                "fp64_tensor": 67e12, "memory": 80e9, "peak_source": "table"}
    import cupy

    props = cupy.cuda.runtime.getDeviceProperties(0)
    name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
    info = {"name": name, "memory": float(props["totalGlobalMem"]),
            "bandwidth": 2.0 * props["memoryClockRate"] * 1e3 * props["memoryBusWidth"] / 8,
            "fp64": float("nan"), "fp64_tensor": float("nan"), "peak_source": "device properties"}
    upper = name.upper()
    for frags, bw, fp64, tensor in PEAKS:
        if all(f in upper for f in frags):
            info.update(bandwidth=bw, fp64=fp64, fp64_tensor=tensor, peak_source="data sheet")
            break
    return info


def require_device(tiny: bool) -> str | None:
    """None when CuPy and numba.cuda see a device (or the simulator runs with --tiny), else the reason."""
    from gpu.cuda import simulator_enabled

    if tiny:
        return None if simulator_enabled() else "--tiny runs only under NUMBA_ENABLE_CUDASIM=1"
    import gpu

    if not gpu.available():
        return gpu.unavailable_reason()
    from numba import cuda

    if simulator_enabled() or not cuda.is_available():
        return "numba.cuda sees no device (or the simulator is enabled without --tiny)"
    return None


def synchronize():
    try:
        import cupy

        cupy.cuda.Device().synchronize()
    except Exception:  # no CuPy (simulator run): the numba.cuda host functions are synchronous
        pass


def timed(f, repeat=1):
    """Best wall time of ``repeat`` calls of ``f()`` (device synchronised) and the last result."""
    best, out = np.inf, None
    for _ in range(repeat):
        synchronize()
        t0 = time.perf_counter()
        out = f()
        synchronize()
        best = min(best, time.perf_counter() - t0)
    return best, out


def row(section, case, size, cpu_s, gpu_s, metric="-", achieved=float("nan"), peak=float("nan"),
        agreement="", note=""):
    return {"section": section, "case": case, "size": size, "cpu_s": cpu_s, "gpu_s": gpu_s,
            "speedup": cpu_s / gpu_s if gpu_s > 0 else float("nan"), "metric": metric,
            "achieved": achieved, "peak": peak,
            "fraction": achieved / peak if peak == peak and peak > 0 else float("nan"),
            "agreement": agreement, "note": note}


# ---------------------------------------------------------------------------------------------- sections
def section_nbody_gravity(size, dev, repeat):
    from nbody._kernels.cuda_gravity import FLOPS_PER_PAIR_POT, gravity_accel_cuda
    from nbody._kernels.direct import direct_accel
    from nbody.ics import spherical_galaxy
    from nbody.softening import spline_radius
    from nbody.tree import Octree

    n, n_cpu = size["n"], min(size["cpu_targets"], size["n"])
    p = spherical_galaxy(n, "hernquist", seed=1)
    eps = np.full(n, 0.01)
    h = spline_radius(eps)
    targets = np.arange(n, dtype=np.int64)
    sub = np.linspace(0, n - 1, n_cpu).astype(np.int64)
    gravity_accel_cuda(sub[:8], p.pos[:64], p.mass[:64], h[:64], 1.0, True) if n > 64 else None  # compile
    direct_accel(sub[:8], p.pos, p.mass, h, 1.0, True)
    t_gpu, (acc, pot) = timed(lambda: gravity_accel_cuda(targets, p.pos, p.mass, h, 1.0, True), repeat)
    t_sub, (acc_c, _) = timed(lambda: direct_accel(sub, p.pos, p.mass, h, 1.0, True), repeat)
    t_cpu = t_sub * n / n_cpu
    err = float(np.max(np.linalg.norm(acc[sub] - acc_c, axis=1) / np.linalg.norm(acc_c, axis=1)))
    flops = FLOPS_PER_PAIR_POT * float(n) * n / t_gpu
    rows = [row("nbody_gravity", "direct sum, all targets (GPU) vs CPU direct", f"N={n:.0e}", t_cpu, t_gpu,
                "FP64 FLOP/s", flops, dev["fp64"], f"max rel err of a {err:.1e}",
                f"CPU time scaled from {n_cpu} targets")]
    m = min(n, 1000)
    Octree(p.pos[:m], p.mass[:m], eps[:m]).accelerations(np.arange(m), theta=0.5)  # compile

    def tree():
        return Octree(p.pos, p.mass, eps).accelerations(targets, theta=0.5, quadrupole=True)

    t_tree, (acc_t, _) = timed(tree, 1)
    terr = float(np.median(np.linalg.norm(acc_t[sub] - acc[sub], axis=1) / np.linalg.norm(acc[sub], axis=1)))
    rows.append(row("nbody_gravity", "direct sum (GPU) vs CPU tree theta=0.5 (build + walk)", f"N={n:.0e}",
                    t_tree, t_gpu, "FP64 FLOP/s", flops, dev["fp64"], f"tree median rel err {terr:.1e}",
                    "the production CPU path"))
    return rows


def section_nbody_pm(size, dev, repeat):
    import gpu
    from nbody.cosmological.pm import ParticleMesh

    if not gpu.available():
        raise NotAvailable(f"the PM FFTs need CuPy: {gpu.unavailable_reason()}")
    nm, n, box = size["nmesh"], size["n"], 500.0
    rng = np.random.default_rng(1)
    pos = rng.uniform(0, box, (n, 3))
    cpu, dvc = ParticleMesh(nm, box, None, backend="cpu"), ParticleMesh(nm, box, None, backend="cuda")
    dvc.force(pos[:100], 0.3)
    t_cpu, f_cpu = timed(lambda: cpu.force(pos, 0.3), repeat)
    t_gpu, f_gpu = timed(lambda: dvc.force(pos, 0.3), repeat)
    err = float(np.max(np.abs(f_gpu - f_cpu)) / np.max(np.abs(f_cpu)))
    nbytes = 12 * 2 * 16.0 * nm * nm * (nm // 2 + 1)
    return [row("nbody_pm", "PM force (CuPy FFTs; CIC on the CPU)", f"{nm}^3, N={n:.0e}", t_cpu, t_gpu,
                "bandwidth B/s", nbytes / t_gpu, dev["bandwidth"], f"max rel {err:.1e}",
                "fraction counts the FFT traffic over the whole call (CIC on the host): a lower bound")]


def _needs_backend(f, what):
    if "backend" not in inspect.signature(f).parameters:
        raise NotAvailable(f"{what} takes no backend argument yet")


def section_cosmo_pairs(size, dev, repeat):
    try:
        from cosmo.pairwise import pair_moments
    except ImportError as exc:
        raise NotAvailable(f"cosmo.pairwise.pair_moments: {exc}") from None
    _needs_backend(pair_moments, "cosmo.pairwise.pair_moments")
    n, box = size["n"], max(100.0, 500.0 * (size["n"] / 1e6) ** (1 / 3))  # same density down to --quick
    rng = np.random.default_rng(2)
    pos, vel = rng.uniform(0, box, (n, 3)), rng.normal(0, 300, (n, 3))
    rbins = np.logspace(-1, np.log10(20.0), 16)
    small = slice(0, min(n, 2000))
    pair_moments(pos[small], vel[small], box, rbins, backend="cuda")
    t_cpu, s_cpu = timed(lambda: pair_moments(pos, vel, box, rbins, backend="cpu"), repeat)
    t_gpu, s_gpu = timed(lambda: pair_moments(pos, vel, box, rbins, backend="cuda"), repeat)
    c_cpu, c_gpu = (np.asarray(getattr(s, "counts", np.nan)) for s in (s_cpu, s_gpu))
    same = bool(np.array_equal(c_cpu, c_gpu))
    return [row("cosmo_pairs", "pair moments 1-8 + PDFs", f"N={n:.0e}, r<20", t_cpu, t_gpu,
                agreement=f"counts identical: {same}")]


def section_clouds_dns(size, dev, repeat):
    try:
        from clouds.dns import DNS
        from clouds._kernels.cuda_droplets import bytes_moved
    except ImportError as exc:
        raise NotAvailable(f"the droplet kernels on the device (clouds._kernels.cuda_droplets): {exc}") from None
    ng, nd = size["grid"], size["droplets"]

    def make(backend):
        return DNS({"grid": {"n": ng}, "droplets": {"n_droplets": nd}, "run": {"backend": backend}})

    times, droplet_s = {}, None
    for backend in ("cpu", "cuda"):
        sim = make(backend)
        sim.step()  # compile / warm up
        before = sim.timing.get("droplets_device", 0.0)
        times[backend], _ = timed(sim.step, repeat)
        if backend == "cuda":  # the droplet kernels alone (synchronised), per step
            droplet_s = (sim.timing.get("droplets_device", 0.0) - before) / repeat
    nbytes = float(bytes_moved(nd, (ng, ng, ng)))
    return [row("clouds_dns", "DNS step (FFTs + droplet kernels)", f"{ng}^3, {nd:.0e} droplets", times["cpu"],
                times["cuda"], "droplet kernels B/s", nbytes / droplet_s if droplet_s else float("nan"),
                dev["bandwidth"], note="compulsory bytes of the droplet kernels over their own time: a lower bound")]


def section_pde_lpbf(size, dev, repeat):
    try:
        from pde.lpbf_cases import run_track_case
    except ImportError as exc:
        raise NotAvailable(f"pde.lpbf_cases.run_track_case: {exc}") from None
    import gpu

    if not gpu.available():
        raise NotAvailable(f"the TD solves on the device need CuPy: {gpu.unavailable_reason()}")
    s = size["scale"]
    res = {backend: run_track_case(s, backend=backend, validate=False) for backend in ("cpu", "cuda")}
    dT = float(np.max(np.abs(np.subtract(res["cpu"]["T_probe"], res["cuda"]["T_probe"]))))
    return [row("pde_lpbf", "LPBF TD fixed point (mode solves + Gram products)", f"S={s}",
                res["cpu"]["td_solve_s"], res["cuda"]["td_solve_s"],
                agreement=f"max |dT| at the probes {dT:.2e} K")]


SECTIONS = {"nbody_gravity": section_nbody_gravity, "nbody_pm": section_nbody_pm,
            "cosmo_pairs": section_cosmo_pairs, "clouds_dns": section_clouds_dns, "pde_lpbf": section_pde_lpbf}


# -------------------------------------------------------------------------------------------------- output
def _fmt(x, spec):
    return "-" if not isinstance(x, (int, float)) or x != x else format(x, spec)


def markdown(rows, dev, args) -> str:
    lines = [f"Device: {dev['name']} (peaks from {dev['peak_source']}: {dev['bandwidth'] / 1e12:.2f} TB/s, "
             f"FP64 {_fmt(dev['fp64'] / 1e12, '.0f')} TFLOP/s); CPU paths on {args.cpu_threads} Numba threads"
             f"{'; quick sizes' if args.quick else ''}{'; SIMULATOR, not a measurement' if args.tiny else ''}.",
             "",
             "| section | case | size | CPU s | GPU s | speedup | metric | achieved | fraction of peak | agreement | note |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "unavailable" in r:
            what = r["unavailable"] if r["unavailable"].startswith("FAILED") else f"not available: {r['unavailable']}"
            lines.append(f"| {r['section']} | {what} | | | | | | | | | |")
            continue
        lines.append(f"| {r['section']} | {r['case']} | {r['size']} | {_fmt(r['cpu_s'], '.3g')} | "
                     f"{_fmt(r['gpu_s'], '.3g')} | {_fmt(r['speedup'], '.1f')} | {r['metric']} | "
                     f"{_fmt(r['achieved'], '.3g')} | {_fmt(r['fraction'], '.1%')} | {r['agreement']} | {r['note']} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1/10-size cases")
    ap.add_argument("--tiny", action="store_true", help="toy sizes under NUMBA_ENABLE_CUDASIM=1 (checks the script)")
    ap.add_argument("--sections", nargs="+", choices=list(SECTIONS), default=list(SECTIONS))
    ap.add_argument("--out", default="gpu_benchmark", help="folder for gpu_benchmark.md and gpu_benchmark.json")
    ap.add_argument("--cpu-threads", type=int, default=2, help="Numba threads of the CPU paths (default 2)")
    ap.add_argument("--repeat", type=int, default=1, help="best of this many timed calls")
    args = ap.parse_args(argv)
    if args.cpu_threads < 1 or args.repeat < 1:
        print("error: --cpu-threads and --repeat must be >= 1", file=sys.stderr)
        return 2
    why = require_device(args.tiny)
    if why is not None:
        print(f"error: benchmarks/gpu.py needs a CUDA device with CuPy: {why}", file=sys.stderr)
        return 1
    from gpu.io import check_writable, write_json

    out = check_writable(args.out, directory=True)
    import numba

    numba.set_num_threads(min(args.cpu_threads, numba.config.NUMBA_NUM_THREADS))
    dev = device_info(args.tiny)
    which = 2 if args.tiny else (1 if args.quick else 0)
    rows, failed = [], []
    for name in args.sections:
        size = {k: v[which] for k, v in SIZES[name].items()}
        try:
            new = SECTIONS[name](size, dev, args.repeat)
        except NotAvailable as exc:
            new = [{"section": name, "unavailable": str(exc)}]
            print(f"{name}: not available: {exc}", flush=True)
        except Exception as exc:  # one broken section must not cost the others their device time
            failed.append(name)
            new = [{"section": name, "unavailable": f"FAILED ({type(exc).__name__}: {exc})"}]
            traceback.print_exc()
            print(f"{name}: FAILED: {type(exc).__name__}: {exc}", flush=True)
        else:
            for r in new:
                print(f"{name}: {r['case']} {r['size']}: CPU {r['cpu_s']:.3g} s, GPU {r['gpu_s']:.3g} s, "
                      f"speedup {r['speedup']:.1f}, {r['agreement']}", flush=True)
        rows.extend(new)
    text = markdown(rows, dev, args)
    print(text)
    (out / "gpu_benchmark.md").write_text(text)
    write_json(out / "gpu_benchmark.json", {"device": dev, "quick": args.quick, "tiny": args.tiny,
                                            "cpu_threads": args.cpu_threads, "rows": rows, "failed": failed})
    if failed:
        print(f"error: section(s) failed: {', '.join(failed)} (tracebacks above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
