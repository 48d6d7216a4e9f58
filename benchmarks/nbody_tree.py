#!/usr/bin/env python3
"""Tree gravity: scaleforge's Barnes-Hut octree vs direct summation vs pytreegrav (Numba tree code).

For each N (a Hernquist galaxy, spline softening eps = 0.01) it times the force
on all particles (tree build + walk), for our tree at theta = 0.5 and 0.7
(quadrupole) and pytreegrav at theta = 0.5, 0.7 (its default, monopole) and
with its quadrupole, and measures the median relative force error against a
direct sum over a random subset of 2000 targets. Prints one line per case:

    case  ours_s  anchor_s  ratio  agreement

("agreement" is ours vs anchor median error). Then an N log N check
(time / (N log2 N) across N). Per N it also times the direct kernel against a
minimal double-precision Numba kernel (Plummer softening, no branches: the floor
a plain Numba direct sum reaches), interleaved, median and range of --repeat
rounds, and gives the hot kernels' FLOP rates as a fraction of the nominal FMA
peak and their streamed bytes as a fraction of the memory bandwidth, which it
measures (a NumPy copy of 1 GB, larger than the 480 MB L3 cache lscpu reports here).

Peak: under ``--clock cpu`` the rates are per CPU-second, i.e. per core, and are compared with one
core's peak; under ``--clock wall`` with the peak of the threads in use.

    python benchmarks/nbody_tree.py --n 10000 100000 1000000 --threads 2

``--equal-error`` also scans theta for both codes (``--thetas``, default 0.4-1.2, pytreegrav with its
quadrupole), the runs interleaved by ``benchmarks/harness.py`` (--repeat rounds, CPU and wall time), and
compares them at common median force errors 1e-4, 2e-4, 4e-4, 8e-4 (the fair comparison: the codes'
errors differ at equal theta): one harness row per error (the cheapest scanned theta of each code
reaching it; written to ``benchmarks/results/nbody_tree.json`` for the README speed table unless
``--no-write``), and, printed, both CPU times log-interpolated at the error.

Both codes walk in groups by default (ours: the maximal tree nodes with <= 128 particles,
``--group-size``; pytreegrav: 8 consecutive Morton-ordered targets); the rows "ours per-target"
time our one-walk-per-particle kernel. ``--clock cpu`` times process CPU time (all threads)
instead of wall time: on a machine shared with other jobs the wall time of a 2-thread run
measures the neighbours' load as much as the code.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
from numba import prange

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


CLOCK = time.perf_counter
REPEAT = 3


def timed(f, *a, repeat=None, **k):
    best, out = np.inf, None
    repeat = repeat or REPEAT
    for _ in range(repeat):
        t0 = CLOCK()
        out = f(*a, **k)
        best = min(best, CLOCK() - t0)
    return best, out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--threads", type=int, default=None, help="NUMBA_NUM_THREADS for both codes")
    ap.add_argument("--eps", type=float, default=0.01)
    ap.add_argument("--peak-gflops-per-core", type=float, default=41.6,
                    help="nominal double-precision peak per core (default: 16 flop per cycle, i.e. two 256-bit "
                         "FMA pipes or one 512-bit, at the 2.6 GHz of the development machine's lscpu)")
    ap.add_argument("--thetas", type=float, nargs="+", default=[0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2],
                    help="--equal-error: opening angles scanned for both codes")
    ap.add_argument("--merger", type=int, default=0, metavar="N",
                    help="instead: profile a two-galaxy merger of N particles with two SMBHs over --t-end")
    ap.add_argument("--t-end", type=float, default=0.25)
    ap.add_argument("--theta", type=float, default=0.5, help="opening angle of the --merger run")
    ap.add_argument("--orbit", type=float, nargs=3, default=(5.0, 0.5, 1.0), metavar=("R0", "RP", "E"),
                    help="--merger orbit: initial separation, pericentre, eccentricity (default parabolic from 5)")
    ap.add_argument("--mpi", action="store_true", help="--merger under mpiexec: use COMM_WORLD")
    ap.add_argument("--until-binary", action="store_true",
                    help="--merger: run in chunks of one time unit up to --t-end and stop once the SMBHs form a "
                         "bound binary (a > 0, a < 0.15, separation < 0.3); prints a line per chunk")
    ap.add_argument("--equal-error", action="store_true",
                    help="also scan theta for both codes and compare times at equal median force error")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="time.perf_counter (wall) or time.process_time (CPU time of all threads)")
    ap.add_argument("--group-size", type=int, default=None, help="our grouped walk's group size")
    ap.add_argument("--skip-fixed", action="store_true",
                    help="skip the fixed-theta rows (direct kernel and --equal-error only)")
    ap.add_argument("--repeat", "--rounds", type=int, default=3,
                    help="best of this many timings per case; rounds of the interleaved comparisons")
    ap.add_argument("--no-write", action="store_true",
                    help="--equal-error: do not write benchmarks/results/nbody_tree.json")
    args = ap.parse_args(argv)
    import numba

    if args.merger:
        if args.threads:
            numba.set_num_threads(args.threads)
        comm = None
        if args.mpi:
            from mpi4py import MPI

            comm = MPI.COMM_WORLD
        return merger_profile(args.merger, args.t_end, args.clock, args.theta, args.until_binary, *args.orbit,
                              comm=comm)

    if args.threads:
        numba.set_num_threads(args.threads)
    nthreads = numba.get_num_threads()
    global CLOCK, REPEAT
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    REPEAT = args.repeat
    from nbody.direct import direct_forces
    from nbody.ics import spherical_galaxy
    from nbody.softening import spline_radius
    from nbody.tree import GROUP_SIZE, LEAF_SIZE, Octree

    gs = args.group_size or GROUP_SIZE

    def ours(p, theta, grouped=True):
        return Octree(p.pos, p.mass, eps).accelerations(theta=theta, grouped=grouped, group_size=gs)

    try:
        import pytreegrav
    except ImportError:
        pytreegrav = None
        print("# pytreegrav not installed: anchor columns skipped (pip install pytreegrav)")
    eps = args.eps
    rng = np.random.default_rng(0)
    print(f"# threads = {nthreads}, clock = {args.clock}, our group size = {gs}, leaf size = {LEAF_SIZE}")
    run = None
    if args.equal_error and not args.no_write:
        from benchmarks.harness import Run

        run = Run(__file__, argv, notes=f"Hernquist sphere (r_max = 100), spline softening eps = {eps:g}, forces on "
                                        f"all particles (tree build included); median relative force error "
                                        f"against direct summation over 2000 random particles; theta scanned "
                                        f"over {args.thetas} for both codes, the cheapest reaching each error")
    print(f"{'case':34s} {'ours_s':>9s} {'anchor_s':>9s} {'ratio':>7s}  agreement (median |da|/|a|: ours / anchor)")
    nlogn = []
    bandwidth = args.bw = memory_bandwidth()
    print(f"# memory bandwidth (NumPy copy of 1 GB, read + write, best of 3, {args.clock} clock): "
          f"{bandwidth / 1e9:.1f} GB/s")
    # warm up the JIT
    w = spherical_galaxy(2000, "hernquist", seed=1)
    Octree(w.pos, w.mass, eps).accelerations()
    direct_forces(w.pos, w.mass, eps, targets=np.arange(10))
    minimal_direct(np.arange(10), w.pos[:, 0].copy(), w.pos[:, 1].copy(), w.pos[:, 2].copy(), w.mass, 1e-4)
    if pytreegrav:
        hh = np.full(2000, spline_radius(eps))
        pytreegrav.Accel(w.pos, w.mass, hh, theta=0.7, parallel=True, method="tree")
        pytreegrav.Accel(w.pos, w.mass, hh, theta=0.7, parallel=True, method="tree", quadrupole=True)
    for n in args.n:
        p = spherical_galaxy(n, "hernquist", seed=2, r_max=100)
        sub = rng.choice(n, size=min(2000, n), replace=False)
        a_ref = direct_report(p, eps, sub, nthreads, args, bandwidth)

        def err(a):
            return float(np.median(np.linalg.norm(a[sub] - a_ref, axis=1) / np.linalg.norm(a_ref, axis=1)))

        h = np.full(n, spline_radius(eps))
        tree_report(p, eps, theta=0.5, gs=gs, nthreads=nthreads, args=args)
        for theta in () if args.skip_fixed else (0.5, 0.7):
            t_ours, (a_ours, _) = timed(ours, p, theta)
            e_ours = err(a_ours)
            t_pt, (a_pt, _) = timed(ours, p, theta, False)
            print(f"{f'N={n} theta={theta} ours per-target':34s} {t_pt:9.3f} {t_ours:9.3f} {t_pt / t_ours:7.2f}  "
                  f"{err(a_pt):.2e} / {e_ours:.2e} (anchor = ours grouped)")
            if theta == 0.5:
                nlogn.append((n, t_ours))
            for quad in (False, True):
                if pytreegrav:
                    t_an, a_an = timed(pytreegrav.Accel, p.pos, p.mass, h, theta=theta, parallel=True,
                                       method="tree", quadrupole=quad)
                    e_an = err(a_an)
                    print(f"{f'N={n} theta={theta} anchor_quad={quad}':34s} {t_ours:9.3f} {t_an:9.3f} "
                          f"{t_ours / t_an:7.2f}  {e_ours:.2e} / {e_an:.2e}")
                else:
                    print(f"{f'N={n} theta={theta}':34s} {t_ours:9.3f} {'-':>9s} {'-':>7s}  {e_ours:.2e} / -")
        # equal force error: scan theta for both codes, interpolate time at common median errors
        if pytreegrav and args.equal_error:
            equal_error(p, h, eps, err, ours, pytreegrav, args.thetas, n, run, nthreads, gs)
    if run is not None:
        print(f"# wrote {run.write()}")
    print("# N log N check (ours, theta = 0.5): time / (N log2 N) in ns")
    for n, t in nlogn:
        print(f"#   N={n:>8d}  t={t:8.3f} s  {1e9 * t / (n * np.log2(n)):.2f} ns")
    return 0


def _minimal_direct(targets, x, y, z, m, eps2):
    """The minimal double-precision Numba direct sum the kernel is measured against: Plummer softening
    (r^2 + eps^2: no self-pair test, no branch), structure-of-arrays input, fast-math, no potential."""
    nt = targets.shape[0]
    n = x.shape[0]
    acc = np.empty((nt, 3))
    for k in prange(nt):
        i = targets[k]
        xi = x[i]
        yi = y[i]
        zi = z[i]
        ax = 0.0
        ay = 0.0
        az = 0.0
        for j in range(n):
            dx = x[j] - xi
            dy = y[j] - yi
            dz = z[j] - zi
            r2 = dx * dx + dy * dy + dz * dz + eps2
            rinv = 1.0 / math.sqrt(r2)
            f = m[j] * rinv * rinv * rinv
            ax += f * dx
            ay += f * dy
            az += f * dz
        acc[k, 0] = ax
        acc[k, 1] = ay
        acc[k, 2] = az
    return acc


def minimal_direct(*args):
    global _MINIMAL
    if _MINIMAL is None:
        import numba

        _MINIMAL = numba.njit(parallel=True, fastmath=True)(_minimal_direct)
    return _MINIMAL(*args)


_MINIMAL = None


def memory_bandwidth(nbytes=1 << 30, repeat=3):
    """Bytes per second of a NumPy copy of ``nbytes`` (read + write counted; one thread)."""
    a = np.ones(nbytes // 8)
    b = np.empty_like(a)
    best = np.inf
    for _ in range(repeat):
        t0 = CLOCK()
        np.copyto(b, a)
        best = min(best, CLOCK() - t0)
    return 2 * a.nbytes / best


def _rounds(cases, rounds):
    """Run the callables of ``cases`` (name -> f) interleaved, ``rounds`` times; name -> list of times."""
    out = {k: [] for k in cases}
    for _ in range(rounds):
        for k, f in cases.items():
            t0 = CLOCK()
            f()
            out[k].append(CLOCK() - t0)
    return out


def _mr(v, fmt=".3g"):
    return f"{np.median(v):{fmt}} [{min(v):{fmt}}-{max(v):{fmt}}]"


def direct_report(p, eps, sub, nthreads, args, bandwidth):
    """Time the direct kernel against :func:`minimal_direct` on the targets ``sub`` (interleaved rounds)
    and print its rate, FLOP fraction of the peak and streamed bytes as a fraction of ``bandwidth``;
    returns the reference accelerations of ``sub``."""
    from nbody._kernels.cuda_gravity import FLOPS_PER_PAIR
    from nbody._kernels.direct import DIRECT_TBLOCK
    from nbody.direct import direct_forces

    n = len(p.mass)
    x, y, z = (np.ascontiguousarray(p.pos[:, c]) for c in range(3))
    t = np.ascontiguousarray(sub, dtype=np.int64)
    a_ref, _ = direct_forces(p.pos, p.mass, eps, targets=sub, potential=False)
    times = _rounds({"ours": lambda: direct_forces(p.pos, p.mass, eps, targets=sub, potential=False),
                     "minimal": lambda: minimal_direct(t, x, y, z, p.mass, eps * eps)}, args.repeat)
    rate = {k: [len(sub) * n / v for v in times[k]] for k in times}
    ratio = [a / b for a, b in zip(rate["ours"], rate["minimal"])]
    peak = args.peak_gflops_per_core * (1 if args.clock == "cpu" else nthreads)
    gflops = np.median(rate["ours"]) * FLOPS_PER_PAIR / 1e9
    # bytes from beyond the caches: x, y, z, m of all sources once per block of targets (the chunks are
    # then read from L1), plus the per-call copies (pos read, x/y/z written, h read twice)
    tb = max(1, min(DIRECT_TBLOCK, len(sub) // (4 * nthreads)))
    nbytes = 32 * n * -(-len(sub) // tb) + 64 * n
    bw = nbytes / np.median(times["ours"])
    unit = "CPU-second" if args.clock == "cpu" else "second"
    print(f"# N={n}: direct kernel {_mr(rate['ours'])} interactions per {unit}, minimal Numba kernel "
          f"{_mr(rate['minimal'])}, ratio {_mr(ratio, '.2f')}; {gflops:.1f} GFLOP/s ({FLOPS_PER_PAIR} flop per pair) "
          f"= {100 * gflops / peak:.0f}% of the nominal {peak:.1f} GFLOP/s peak; streams {bw / 1e9:.2f} GB/s "
          f"= {100 * bw / bandwidth:.0f}% of the measured bandwidth")
    return a_ref


def tree_report(p, eps, theta, gs, nthreads, args):
    """Rate of our grouped tree walk at ``theta``: interactions per second by kind (accepted nodes with
    quadrupole, far-leaf particles, near-leaf particles, from the interaction lists), FLOP fraction of the
    peak and the node data the walks read as a fraction of the measured bandwidth (``args.bw``)."""
    from numba import njit

    from nbody._kernels.tree_build import N_FIELDS
    from nbody._kernels.tree_walk import _group_list
    from nbody.tree import Octree

    @njit
    def list_sizes(gbox, ghmax, spos, smass, sh, theta, f, g, counts):
        nl = np.empty((10, 1 << 16))
        pl = np.empty((4, 1 << 16))
        ql = np.empty((5, 1 << 16))
        qk = np.empty(1 << 16, dtype=np.int64)
        out = np.zeros(3)
        for gi in range(gbox.shape[0]):
            nn, npl, nnear, _ = _group_list(gbox[gi, 0], gbox[gi, 1], gbox[gi, 2], gbox[gi, 3], gbox[gi, 4],
                                            gbox[gi, 5], ghmax[gi], 0.0, spos, smass, sh, 1.0, theta, 0.005, 0,
                                            True, f, g, nl, pl, ql, qk)
            out[0] += counts[gi] * nn
            out[1] += counts[gi] * npl
            out[2] += counts[gi] * nnear
        return out, gbox.shape[0]

    n = len(p.mass)
    times = []
    for _ in range(args.repeat):
        t0 = CLOCK()
        tree = Octree(p.pos, p.mass, eps)
        tree.accelerations(theta=theta, group_size=gs)
        times.append(CLOCK() - t0)
    grp_of, gbox, ghmax = tree.groups(gs)
    counts = np.bincount(grp_of).astype(np.float64)
    (nodes, far, near), ngroups = list_sizes(gbox, ghmax, tree._spos, tree._smass, tree._sh, theta, tree._f, tree._g,
                                                counts)
    t = np.median(times)
    # flop per interaction (FMA = 2, sqrt and division 1 each): node 56 (monopole + quadrupole,
    # tree_walk._node_sums), far particle 20, near particle ~30 (spline branch)
    gflops = (56 * nodes + 20 * far + 30 * near) / t / 1e9
    peak = args.peak_gflops_per_core * (1 if args.clock == "cpu" else nthreads)
    # each group's walk reads the rows (16 float64 + 4 int64) of at least its accepted nodes
    bw = ngroups * (nodes / n) * (8 * N_FIELDS + 32) / t
    print(f"# N={n} tree theta={theta}: {_mr(times)} s; {(nodes + far + near) / t:.3g} interactions per "
          f"{'CPU-second' if args.clock == 'cpu' else 'second'} ({nodes / n:.0f} nodes, {far / n:.0f} far and "
          f"{near / n:.0f} near particles per target); {gflops:.1f} GFLOP/s = {100 * gflops / peak:.0f}% of the "
          f"{peak:.1f} GFLOP/s peak; node rows read >= {bw / 1e9:.2f} GB/s = {100 * bw / args.bw:.0f}% of the "
          f"measured bandwidth")


EQUAL_ERROR_TARGETS = (1e-4, 2e-4, 4e-4, 8e-4)


def equal_error(p, h, eps, err, ours, pytreegrav, thetas, n, run=None, nthreads=1, gs=None):
    """Scan ``thetas`` for both codes (interleaved by :func:`benchmarks.harness.interleave`, REPEAT rounds,
    CPU and wall time, tree build included) and compare them at equal median force error.

    Two readings: (1) the harness's (``run``: one :class:`benchmarks.harness.Row` per target error of
    :data:`EQUAL_ERROR_TARGETS`, the cheapest scanned theta of each code reaching it, speedup = anchor /
    ours per round; these rows enter the README speed table); (2) both times log-interpolated in the error
    at the target (printed only: no theta of the scan lands exactly on a target).
    """
    from benchmarks.harness import Point, Row, interleave, match, version

    cases = {}
    for th in thetas:
        cases[("ours", th)] = lambda th=th: ours(p, th)[0]
        cases[("anchor", th)] = lambda th=th: pytreegrav.Accel(p.pos, p.mass, h, theta=th, parallel=True,
                                                             method="tree", quadrupole=True)
    samples, out = interleave(cases, REPEAT)
    scan = {code: [Point(th, err(out[(code, th)]), samples[(code, th)]) for th in thetas]
            for code in ("ours", "anchor")}
    for code in scan:
        print(f"# N={n} {code} (theta, error, median CPU s, median wall s): " + ", ".join(
            f"({q.param}, {q.error:.2e}, {q.samples.median('cpu'):.3f}, {q.samples.median('wall'):.3f})"
            for q in scan[code]))
    rounds = len(samples[("ours", thetas[0])].cpu)
    for e_target in EQUAL_ERROR_TARGETS:
        per_round = {}
        for code in scan:
            pts = sorted(scan[code], key=lambda q: q.error)
            le = np.log([q.error for q in pts])
            if not le[0] <= np.log(e_target) <= le[-1]:
                break
            per_round[code] = [float(np.exp(np.interp(np.log(e_target), le, np.log([q.samples.cpu[r] for q in pts]))))
                               for r in range(rounds)]
        if len(per_round) == 2:
            ratio = [a / o for o, a in zip(per_round["ours"], per_round["anchor"])]
            print(f"# N={n} equal error {e_target:.0e}, CPU times log-interpolated: anchor/ours = "
                  f"{_mr(ratio, '.2f')} over {rounds} rounds")
    if run is None:
        return
    from nbody.tree import GROUP_SIZE, LEAF_SIZE

    gs = gs or GROUP_SIZE
    for target, o, a in match(scan["ours"], scan["anchor"], EQUAL_ERROR_TARGETS):
        common = dict(ours=f"nbody.tree.Octree (grouped walk, group {gs}, leaf {LEAF_SIZE}, quadrupole)",
                      anchor=f"{version('pytreegrav')} (quadrupole)", threads={"ours": nthreads, "anchor": nthreads},
                      target=">= 4x faster", target_speedup=4.0)
        case = f"tree forces N={n}, median error <= {target:g}"
        if o is None or a is None:
            miss = " and ".join(k for k, x in (("ours", o), ("pytreegrav", a)) if x is None)
            run.add(Row(case, accuracy=f"no match: {miss} above {target:g} at every theta scanned",
                        status="no match", **common))
        else:
            run.add(Row.compare(case, o.samples, a.samples,
                                accuracy=f"theta {o.param:g} (median error {o.error:.1e}) vs theta {a.param:g} "
                                         f"({a.error:.1e})", **common))


def merger_profile(n, t_end, clock="wall", theta=0.5, until_binary=False, r0=5.0, rp=0.5, e=1.0, comm=None):
    """Time a KETJU galaxy merger (two Dehnen gamma = 1 galaxies, SMBHs of 0.5 % of the stellar mass),
    the galaxies ``r0`` apart on a Keplerian orbit of pericentre ``rp`` and eccentricity ``e``.

    Orbits measured at N = 2e4 (theta 0.7): parabolic r0 = 5 (the default) has its first pericentre at
    t ~ 5 and then an apocentre of ~8.6 at t ~ 40, so the SMBHs pair only after t ~ 60; the bound orbit
    e = 0.8 started at its apocentre r0 = 4.5 (``--orbit 4.5 0.5 0.8``) passes pericentre at t ~ 12 and
    ~ 17 and forms the SMBH binary at t ~ 21.

    ``clock="cpu"``: the simulation's phase timers read the process CPU time (all threads) instead of
    the wall clock (the nbody modules' ``time`` is swapped for a shim), so that the profile measures the
    code rather than the load of a shared machine; the wall time is printed too.
    """
    import json
    import tempfile
    import types

    import nbody.simulation
    import nbody.timestepping
    from nbody import Simulation

    if clock == "cpu":
        shim = types.SimpleNamespace(perf_counter=time.process_time, time=time.time)
        nbody.simulation.time = shim
        nbody.timestepping.time = shim

    half = n // 2
    cfg = f"""
[[ics.galaxies]]
profile = "hernquist"
n = {half}
m_bh = 0.005
seed = 1
[[ics.galaxies]]
profile = "hernquist"
n = {n - half}
m_bh = 0.005
seed = 2
[ics.merger]
enabled = true
r0 = {r0}
rp = {rp}
e = {e}
[gravity]
eps_star = 0.01
theta = {theta}
[time]
t_end = {t_end}
dt_max = 0.0625
[ketju]
r_ketju = 0.03
[output]
dir = "{tempfile.mkdtemp()}"
quiet = true
"""
    t0 = time.perf_counter()
    c0 = time.process_time()
    sim = Simulation(cfg, comm=comm)
    rank = getattr(sim.comm, "rank", 0)
    if until_binary:
        # binary formation: the two-body elements of the SMBH pair bound (a > 0) with a below ~the influence
        # radius of the pair (M_*(<r) = 2 M_BH at r ~ 0.16 in each Hernquist galaxy) and the pair close
        T = 0.0
        while T < t_end:
            T = min(T + 1.0, t_end)
            res = sim.run(t_end=T)
            L = sim.bh_log
            sep, a, e = (L["sep"][-1][0], L["a"][-1][0], L["e"][-1][0]) if L["sep"][-1] else (np.nan,) * 3
            if rank == 0:
                print(json.dumps({"t": T, "wall_s": round(time.perf_counter() - t0, 1),
                                  "cpu_s": round(time.process_time() - c0, 1), "sep": sep, "a": a, "e": e,
                                  "syncs": res.profile.get("syncs")}), flush=True)
            if 0 < a < 0.15 and e < 1 and sep < 0.3:
                if rank == 0:
                    print(f"binary formed by t = {T}", flush=True)
                break
    else:
        res = sim.run()
    t_end = sim.time
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    prof = {k: (round(v, 2) if isinstance(v, float) else v) for k, v in res.profile.items()}
    if rank != 0:
        return 0
    print(json.dumps({"n": n, "t_end": t_end, "theta": theta, "clock_of_profile": clock, "wall_s": round(wall, 1),
                      "cpu_s": round(cpu, 1), "profile": prof, "wall_per_time_unit_s": round(wall / t_end, 1),
                      "cpu_per_time_unit_s": round(cpu / t_end, 1)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
