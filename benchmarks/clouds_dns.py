#!/usr/bin/env python3
"""Speed of one clouds DNS step (64^3 grid, 1e6 droplets by default) by part, against the goal of 4 steps/s on 2 cores.

Not a comparison with an anchor (no other package runs this DNS) but a budget: on a machine shared
with other jobs the goal "4 steps/s on 2 cores" is read as <= 0.5 CPU-seconds per step with both
threads busy, and the script reports CPU time (``time.process_time``, all threads) beside wall time.

What it measures, on the state after one warm-up step (Numba compiled, FFT plans made):

* a STREAM-like triad a = b + s c (Numba, parallel over the threads) on arrays larger than the
  last-level cache and on L3-resident arrays: the bandwidths the kernels are compared with;
* each hot part of a step, timed alone on the same inputs, ``--rounds`` times (median and range):
  the inverse FFTs of the fields, the interpolation of the fields to the droplets, the growth
  (``condense``), the tracer motion (Heun), the two depositions (source and liquid water), the cell
  sort (done every ``DNS.SORT_EVERY`` steps; amortised per step) and, when the DNS has it, the fused
  droplet pass that does interpolation, growth, both depositions and motion in one loop;
* whole steps of ``DNS.step`` (wall and CPU per step, median and range over ``--steps`` steps),
  split into FFTs (the spectral transforms called inside the step, timed by wrapping them), the
  field right-hand side (the fluid RK3 less its FFTs) and the droplet part.

Bytes moved: the compulsory traffic of each part (every array it must read or write once; the grid
counted once per pass), divided by its wall time -> GB/s, and as a fraction of the measured triad; and
divided by its CPU time -> GB/s per core, against the triad's bytes per CPU-second (on a loaded
machine the wall time includes time the part waited for a core, the CPU time does not).
Floating-point rate: 2.5 N log2 N per real FFT of N points (the usual count); the droplet kernels
are reported by bandwidth only (their cost is divisions, exp and branches, not flops). Peak:
threads x clock x 32 double flops per cycle (two AVX-512 FMA units; the clock from /proc/cpuinfo).

    NUMBA_NUM_THREADS=2 python benchmarks/clouds_dns.py [--n 64] [--droplets 1000000] [--steps 5] [--rounds 5]
        [--baseline /path/to/other/checkout --compare-rounds 3]

``--baseline`` times whole steps of another checkout's ``clouds`` (e.g. before a change) and of this
one in alternating subprocesses (same load, same machine) and prints the ratio of the medians.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("NUMBA_NUM_THREADS", "2")

import numpy as np  # noqa: E402


def _root():
    """The checkout whose ``clouds`` is timed: ``--root DIR`` (read before the imports), else this one."""
    argv = sys.argv[1:]
    if "--root" in argv and argv.index("--root") + 1 < len(argv):
        return str(Path(argv[argv.index("--root") + 1]).resolve())
    return str(Path(__file__).resolve().parents[1])


sys.path.insert(0, _root())

import numba  # noqa: E402
from numba import njit, prange  # noqa: E402

GOAL_STEPS_PER_S = 4.0
GOAL_CORES = 2


@njit(parallel=True, cache=False)
def _triad(a, b, c, s):
    for i in prange(a.shape[0]):
        a[i] = b[i] + s * c[i]


def triad_bandwidth(n, rounds):
    """(median, min, max) GB/s of a = b + s c over n doubles (24 bytes per element, as STREAM counts) from
    wall time, and the median GB/s per core from CPU time (bytes / CPU-seconds of all threads)."""
    a, b, c = np.zeros(n), np.random.default_rng(0).random(n), np.random.default_rng(1).random(n)
    _triad(a, b, c, 3.0)
    bw, bc = [], []
    for _ in range(rounds):
        t, p = time.perf_counter(), time.process_time()
        _triad(a, b, c, 3.0)
        bw.append(24.0 * n / (time.perf_counter() - t) / 1e9)
        bc.append(24.0 * n / max(time.process_time() - p, 1e-9) / 1e9)
    return np.median(bw), min(bw), max(bw), np.median(bc)


def timed(f, rounds):
    """Wall and CPU seconds of f() over ``rounds`` calls: {"wall": [...], "cpu": [...]}."""
    f()
    w, c = [], []
    for _ in range(rounds):
        t, p = time.perf_counter(), time.process_time()
        f()
        w.append(time.perf_counter() - t)
        c.append(time.process_time() - p)
    return {"wall": w, "cpu": c}


def stat(x):
    return f"{1e3 * np.median(x):8.2f} [{1e3 * min(x):7.2f}, {1e3 * max(x):7.2f}]"


def peak_gflops(threads):
    mhz = 0.0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("cpu MHz"):
                mhz = max(mhz, float(line.split(":")[1]))
    except OSError:
        pass
    return threads * mhz * 1e-3 * 32.0, mhz


def build(n, m):
    from clouds.dns import DNS, make_config

    cfg = make_config(grid=dict(n=n, box=0.1), fluid=dict(u_rms=0.05), forcing=dict(epsilon=1e-3),
                      thermo=dict(setup="slab", rh_clear=0.8),
                      droplets=dict(n_droplets=m, N_c=1e8), run=dict(dt=0.002, diag_every=10 ** 6))
    sim = DNS(cfg)
    sim.step()                                   # warm-up: Numba cache, FFT plans, first cell sort
    return sim


def part_table(sim, rounds):
    """{part: (timing, bytes, flops)} of the hot parts timed alone on the current state (state restored)."""
    from clouds._kernels import droplets as K

    sp, n, m = sim.sp, sim.cfg.grid.n, len(sim.r)
    G = n ** 3
    nf = 5 + (sim.zh is not None)
    f = sim._physical()
    vals = np.empty((m, nf))
    S, r1, dm = np.empty(m), np.empty(m), np.empty(m)
    dt = sim.cfg.run.dt
    box = np.full(3, sim.cfg.grid.box)
    pos0, vel0 = sim.pos.copy(), sim.vel.copy()
    nth = numba.get_num_threads()
    chunks = nth if m >= 8 * K.PARALLEL_MIN and nth > 1 else 1
    fft_flops = 2.5 * G * np.log2(G)
    out = {}
    out["FFT (one inverse, 64^3 real)"] = (timed(lambda: sp.inverse(sim.thh), rounds), 8 * G + 16 * G // 2, fft_flops)
    out["FFT (one forward)"] = (timed(lambda: sp.forward(f[3]), rounds), 8 * G + 16 * G // 2, fft_flops)
    out["interpolation (5 fields)"] = (timed(lambda: K.interpolate(f, sim.pos, sp.dx, vals, n, 0), rounds),
                                       m * (24 + 8 * nf) + 8 * nf * G, 0)
    out["growth (condense)"] = (timed(lambda: K.condense(vals, sim.r, sim.rd, sim.kap, sim.mult, sim.T0, sim.p0,
                                                         sim.G0, sim.A0, dt, 3, 4, sim._iz, r1, dm, S), rounds),
                                m * (8 * nf + 32 + 24), 0)
    u1 = np.ascontiguousarray(vals[:, :3])

    def heun():
        sim.pos[:] = pos0
        K.tracer_heun(sim.pos, sim.vel, u1, f[:3], sp.dx, n, 0, dt, box)
    out["motion (tracer Heun)"] = (timed(heun, rounds), m * (24 + 24 + 48) + 24 * G, 0)
    sim.pos[:] = pos0
    grid = np.zeros((n, n, n))

    def dep():
        grid[:] = 0.0
        K.deposit(sim.pos, dm, sp.dx, grid, n, 0)
    out["deposition (one field)"] = (timed(dep, rounds), m * 32 + 8 * G * (1 + 2 * chunks), 0)
    out["liquid water grid"] = (timed(sim._liquid_grid, rounds), m * (24 + 8 + 32) + 8 * G * (1 + 2 * chunks), 0)
    if hasattr(K, "droplet_pass") and sim._fused:
        def fused():
            sim.pos[:] = pos0
            sim.vel[:] = vel0
            sim._droplet_pass(dt, f)
        out["fused droplet pass"] = (timed(fused, rounds),
                                     # reads pos, r, rd, kappa, mult; writes pos, vel, r, S
                                     m * (24 + 32 + 24 + 24 + 16) + 8 * nf * G + 2 * 8 * G * (1 + 2 * chunks), 0)
        sim.pos[:] = pos0
        sim.vel[:] = vel0
    r_save = sim.r.copy()

    def sort():
        sim._sort_droplets()
    out[f"cell sort (every {sim.SORT_EVERY} steps)"] = (timed(sort, max(2, rounds // 2)), m * (8 + 8 + 8 * 10 * 2), 0)
    assert np.array_equal(np.sort(sim.r), np.sort(r_save))
    return out


def step_breakdown(sim, steps):
    """Per-step wall/CPU of whole steps, and of the FFTs and the fluid RK3 inside them."""
    sp = sim.sp
    acc = {"fft_w": 0.0, "fft_c": 0.0, "fft_n": 0, "fluid_w": 0.0, "fluid_c": 0.0, "ffl_w": 0.0, "ffl_c": 0.0}
    fwd, inv, adv = sp.forward, sp.inverse, sim._advance_fluid

    def wrap(fn):
        def g(*a, **k):
            t, p = time.perf_counter(), time.process_time()
            r = fn(*a, **k)
            acc["fft_w"] += time.perf_counter() - t
            acc["fft_c"] += time.process_time() - p
            acc["fft_n"] += 1
            return r
        return g

    def adv_t(*a, **k):
        t, p, fw0, fc0 = time.perf_counter(), time.process_time(), acc["fft_w"], acc["fft_c"]
        r = adv(*a, **k)
        acc["fluid_w"] += time.perf_counter() - t
        acc["fluid_c"] += time.process_time() - p
        acc["ffl_w"] += acc["fft_w"] - fw0          # FFTs inside the fluid step
        acc["ffl_c"] += acc["fft_c"] - fc0
        return r

    sp.forward, sp.inverse, sim._advance_fluid = wrap(fwd), wrap(inv), adv_t
    rows = []
    try:
        for _ in range(steps):
            for k in acc:
                acc[k] = 0
            t, p = time.perf_counter(), time.process_time()
            sim.step()
            rows.append((time.perf_counter() - t, time.process_time() - p, acc["fft_w"], acc["fft_c"],
                         acc["fluid_w"], acc["fluid_c"], acc["fft_n"], acc["ffl_w"], acc["ffl_c"]))
    finally:
        del sp.forward, sp.inverse, sim._advance_fluid
    return np.array(rows)


def compare(baseline, args):
    """Whole-step CPU and wall time of this checkout and of ``baseline``, in alternating subprocesses."""
    import json

    runs = {"this": [], "baseline": []}
    me = str(Path(__file__).resolve())
    for _ in range(args.compare_rounds):
        for name, root in (("baseline", baseline), ("this", _root())):
            cmd = [sys.executable, me, "--root", root, "--steps-only", "--n", str(args.n),
                   "--droplets", str(args.droplets), "--steps", str(args.steps)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=dict(os.environ)).stdout
            runs[name].append(json.loads(out.strip().splitlines()[-1]))
    print(f"# interleaved subprocess runs, {args.compare_rounds} rounds x {args.steps} steps; per step: "
          "median of the runs' medians [min, max] ms")
    med = {}
    for name in ("baseline", "this"):
        w = [np.median(r["wall"]) for r in runs[name]]
        c = [np.median(r["cpu"]) for r in runs[name]]
        med[name] = (np.median(w), np.median(c))
        root = baseline if name == "baseline" else _root()
        print(f"{name:9s} ({root}): wall {stat(w)}  CPU {stat(c)}")
    print(f"ratio baseline / this: wall {med['baseline'][0] / med['this'][0]:.2f}, "
          f"CPU {med['baseline'][1] / med['this'][1]:.2f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--droplets", type=int, default=1_000_000)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--triad-mib", type=float, default=256.0, help="size of each triad array beyond the cache [MiB]")
    ap.add_argument("--root", help="time the clouds package of this checkout (default: the script's own)")
    ap.add_argument("--baseline", help="also time whole steps of this checkout (e.g. the main branch) in "
                                       "subprocesses interleaved with this one, and print the ratio")
    ap.add_argument("--compare-rounds", type=int, default=3)
    ap.add_argument("--steps-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.steps_only:
        import json

        rows = step_breakdown(build(args.n, args.droplets), args.steps)
        print(json.dumps({"wall": rows[:, 0].tolist(), "cpu": rows[:, 1].tolist()}))
        return 0
    nth = numba.get_num_threads()
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"# threads {nth} (NUMBA_NUM_THREADS), cores {os.cpu_count()}; uptime: {load}")
    big = triad_bandwidth(int(args.triad_mib * 2 ** 20 / 8), args.rounds)
    l3 = triad_bandwidth(2 ** 20, 4 * args.rounds)
    peak, mhz = peak_gflops(nth)
    print(f"# triad {args.triad_mib:.0f} MiB/array: {big[0]:.2f} GB/s [{big[1]:.2f}, {big[2]:.2f}], per core "
          f"{big[3]:.2f}; 8 MiB/array (cache): {l3[0]:.2f} GB/s [{l3[1]:.2f}, {l3[2]:.2f}], per core {l3[3]:.2f}; "
          f"peak {peak:.0f} GFLOP/s ({nth} x {mhz:.0f} MHz x 32)")
    sim = build(args.n, args.droplets)
    print(f"# DNS {args.n}^3, {len(sim.r)} droplets, tracers, slab set-up; parts timed alone, {args.rounds} rounds")
    print("# GB/s and GFLOP/s from wall time (against the triad's wall GB/s); per core from CPU time (bytes / "
          "CPU-s, against the triad's per-core GB/s): the rate while the part had a core")
    print("part                              wall ms median [min, max]      CPU ms median [min, max]    "
          "MB      GB/s  of triad  GB/s/core  of triad  GFLOP/s  of peak")
    for name, (t, nbytes, flops) in part_table(sim, args.rounds).items():
        w, c = np.median(t["wall"]), np.median(t["cpu"])
        gbs, gbc = nbytes / w / 1e9, nbytes / c / 1e9
        fl = f"{flops / w / 1e9:7.2f}  {flops / w / 1e9 / peak:7.1%}" if flops else "      -        -"
        print(f"{name:32s} {stat(t['wall'])}   {stat(t['cpu'])}  {nbytes / 1e6:7.1f}  {gbs:6.2f}  "
              f"{gbs / big[0]:7.1%}  {gbc:9.2f}  {gbc / big[3]:7.1%}  {fl}")
    rows = step_breakdown(sim, args.steps)
    wall, cpu, fw, fc, flw, flc, nfft, ffw, ffc = rows.T
    print(f"# whole steps ({args.steps}), per step: median [min, max] ms; {int(np.median(nfft))} FFTs per step")
    print(f"step total        wall {stat(wall)}  CPU {stat(cpu)}")
    print(f"  FFTs (all)      wall {stat(fw)}  CPU {stat(fc)}")
    print(f"  fluid RK3       wall {stat(flw)}  CPU {stat(flc)}")
    print(f"    its FFTs      wall {stat(ffw)}  CPU {stat(ffc)}")
    print(f"    field RHS     wall {stat(flw - ffw)}  CPU {stat(flc - ffc)}  (RK3 less its FFTs)")
    print(f"  droplets+rest   wall {stat(wall - flw)}  CPU {stat(cpu - flc)}  (incl. {int(np.median(nfft))} - "
          f"FFTs outside the RK3)")
    sps = 1.0 / np.median(wall)
    cps = np.median(cpu)
    met = cps <= GOAL_CORES / GOAL_STEPS_PER_S
    print(f"steps/s {sps:.2f} (wall, this load); CPU-s/step {cps:.3f}; goal {GOAL_STEPS_PER_S:g} steps/s on "
          f"{GOAL_CORES} cores = <= {GOAL_CORES / GOAL_STEPS_PER_S:.2f} CPU-s/step: {'met' if met else 'NOT met'}; "
          f"CPU-bound rate on {GOAL_CORES} idle cores {GOAL_CORES / cps:.2f} steps/s")
    if args.baseline:
        compare(str(Path(args.baseline).resolve()), args)
    print(f"# uptime after: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
