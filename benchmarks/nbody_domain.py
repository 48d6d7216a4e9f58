"""Replicated vs domain-decomposed bulk gravity under MPI (nbody.domain).

Run under MPI, e.g. ``mpiexec -n 2 python benchmarks/nbody_domain.py --n 20000 50000``. For each N it
times, in the same run (best of ``--repeats``), one force evaluation of all particles and a few
hierarchical-timestep blocks of a Hernquist sphere with ``decomposition`` replicated and domain, and
reports their ratio, the force error of the domain forces against the serial tree (on rank 0) and the
fraction of targets exported. Particles per rank and peak memory of the particle arrays are O(N) for the
replicated and O(N/ranks) for the domain engine.
"""
from __future__ import annotations

import argparse
import time

import numpy as np


def main(argv=None) -> int:
    from gpu import get_comm
    from nbody.domain import DomainDecomposition, DomainForces, domain_forces, exchange, global_box, key_splits, keys_of
    from nbody.ics import spherical_galaxy
    from nbody.timestepping import HierarchicalKDK, ReplicatedData, ReplicatedForces, StepConfig
    from nbody.tree import tree_forces

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, nargs="+", default=[20000])
    ap.add_argument("--blocks", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--eps", type=float, default=0.01)
    args = ap.parse_args(argv)
    comm = get_comm(None)
    size, rank = getattr(comm, "size", 1), getattr(comm, "rank", 0)
    rows = []
    for n in args.n:
        p = spherical_galaxy(n, "hernquist", seed=11, r_max=100)
        # one force evaluation of everybody
        lo, hi = rank * n // size, (rank + 1) * n // size
        keys = keys_of(p.pos[lo:hi], *global_box(comm, p.pos[lo:hi]))
        dest = np.searchsorted(key_splits(comm, keys, np.ones(hi - lo)), keys, side="right")
        got, _, _ = exchange(comm, dest, {"pos": p.pos[lo:hi], "mass": p.mass[lo:hi], "ids": p.ids[lo:hi]})
        t_dom, t_rep = np.inf, np.inf
        for _ in range(args.repeats):
            comm.Barrier()
            t0 = time.perf_counter()
            acc, _, info = domain_forces(got["pos"], got["mass"], args.eps, comm=comm)
            comm.Barrier()
            t_dom = min(t_dom, time.perf_counter() - t0)
            eng = HierarchicalKDK(p, args.eps, decomposition=ReplicatedData(comm))
            comm.Barrier()
            t0 = time.perf_counter()
            eng.forces(np.arange(n))
            comm.Barrier()
            t_rep = min(t_rep, time.perf_counter() - t0)
        g = comm.gather((got["ids"], acc, info["exported"]), root=0) if size > 1 else [(got["ids"], acc,
                                                                                        info["exported"])]
        err = exported = None
        if rank == 0:
            ids = np.concatenate([x[0] for x in g])
            A = np.concatenate([x[1] for x in g])[np.argsort(ids)]
            ref, _ = tree_forces(p.pos, p.mass, args.eps)
            err = float(np.median(np.linalg.norm(A - ref, axis=1) / np.linalg.norm(ref, axis=1)))
            exported = sum(x[2] for x in g) / n
        rows.append((f"N={n} forces of all", t_rep, t_dom, err, exported))
        # hierarchical blocks
        steps = StepConfig(dt_max=1 / 16, eta=0.02, max_bin=16)
        t_b = {}
        for name, parts in (("replicated", (ReplicatedForces, ReplicatedData)),
                            ("domain", (DomainForces, DomainDecomposition))):
            best = np.inf
            for _ in range(args.repeats):
                e = HierarchicalKDK(p, args.eps, steps, parts[0](), decomposition=parts[1](comm))
                e.initialize()
                comm.Barrier()
                t0 = time.perf_counter()
                for _ in range(args.blocks):
                    e.advance_block()
                comm.Barrier()
                best = min(best, time.perf_counter() - t0)
            t_b[name] = best
        rows.append((f"N={n} {args.blocks} blocks dt=1/16", t_b["replicated"], t_b["domain"], None, None))
    if rank == 0:
        print(f"ranks = {size}")
        print("| case | replicated_s | domain_s | domain/replicated | median err vs serial tree | exported |")
        print("| --- | --- | --- | --- | --- | --- |")
        for name, a, b, err, ex in rows:
            e = f"{err:.2e}" if err is not None else ""
            x = f"{ex:.2f}" if ex is not None else ""
            print(f"| {name} | {a:.3f} | {b:.3f} | {b / a:.2f} | {e} | {x} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
