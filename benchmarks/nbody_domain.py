"""Replicated vs domain-decomposed bulk gravity under MPI (nbody.domain).

Run under MPI, e.g. ``mpiexec -n 2 python benchmarks/nbody_domain.py --n 20000 50000``. For each N it
times, through ``benchmarks/harness.py`` (``--rounds`` interleaved rounds, CPU time summed over ranks
and wall time of the slowest rank, each timing between barriers), one force evaluation of all
particles and a few hierarchical-timestep blocks of a Hernquist sphere with ``decomposition``
replicated and domain. Speedup = replicated time / domain time (below 1: the domain mode is
slower). Both use the same tree opening angle and steps; the domain forces are at matched accuracy
when their median relative difference from the serial tree (which the replicated mode reproduces)
is at most ``--tol``, else the row says "no match". Particles per rank and peak memory of the
particle arrays are O(N) for the replicated and O(N/ranks) for the domain engine. Writes
``benchmarks/results/nbody_domain.json``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None) -> int:
    from gpu import get_comm  # first: it caps Numba's threads per rank before Numba starts its pool

    import numba  # noqa: I001

    from benchmarks.harness import Row, Run, interleave
    from nbody.domain import DomainDecomposition, DomainForces, domain_forces, exchange, global_box, key_splits, keys_of
    from nbody.ics import spherical_galaxy
    from nbody.timestepping import HierarchicalKDK, ReplicatedData, ReplicatedForces, StepConfig
    from nbody.tree import tree_forces

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, nargs="+", default=[20000])
    ap.add_argument("--blocks", type=int, default=2)
    ap.add_argument("--rounds", "--repeats", type=int, default=3)
    ap.add_argument("--eps", type=float, default=0.01)
    ap.add_argument("--tol", type=float, default=1e-3, help="median relative force difference for matched accuracy")
    ap.add_argument("--quick", action="store_true", help="N = 5000, one block")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    if args.quick:
        args.n, args.blocks = [5000], 1
    comm = get_comm(None)
    size, rank = getattr(comm, "size", 1), getattr(comm, "rank", 0)
    th = f"{size} ranks x {numba.get_num_threads()}"
    run = Run(__file__, argv, quick=args.quick, rank=rank,
              notes=f"{size} MPI ranks on one node, Hernquist sphere; CPU time summed over ranks")
    common = dict(ours="decomposition = domain", anchor="decomposition = replicated (ours)",
                  threads={"ours": th, "anchor": th}, target="none stated (memory, not speed)")
    for n in args.n:
        p = spherical_galaxy(n, "hernquist", seed=11, r_max=100)
        # one force evaluation of everybody
        lo, hi = rank * n // size, (rank + 1) * n // size
        keys = keys_of(p.pos[lo:hi], *global_box(comm, p.pos[lo:hi]))
        dest = np.searchsorted(key_splits(comm, keys, np.ones(hi - lo)), keys, side="right")
        got, _, _ = exchange(comm, dest, {"pos": p.pos[lo:hi], "mass": p.mass[lo:hi], "ids": p.ids[lo:hi]})
        cases = {
            "domain": lambda: domain_forces(got["pos"], got["mass"], args.eps, comm=comm),
            "replicated": (lambda: HierarchicalKDK(p, args.eps, decomposition=ReplicatedData(comm)),
                           lambda eng: eng.forces(np.arange(n))),
        }
        t, out = interleave(cases, args.rounds, comm=comm)
        acc, _, info = out["domain"]
        g = comm.gather((got["ids"], acc, info["exported"]), root=0) if size > 1 else [(got["ids"], acc,
                                                                                        info["exported"])]
        err = exported = None
        if rank == 0:
            ids = np.concatenate([x[0] for x in g])
            A = np.concatenate([x[1] for x in g])[np.argsort(ids)]
            ref, _ = tree_forces(p.pos, p.mass, args.eps)
            err = float(np.median(np.linalg.norm(A - ref, axis=1) / np.linalg.norm(ref, axis=1)))
            exported = sum(x[2] for x in g) / n
        err = comm.bcast(err, root=0) if size > 1 else err
        case = f"N={n} forces of all"
        if err <= args.tol:
            run.add(Row.compare(case, t["domain"], t["replicated"], note=f"exported fraction {exported}",
                                accuracy=f"median diff from serial tree {err:.1e}", **common))
        else:
            run.add(Row(case, accuracy=f"no match: median diff from serial tree {err:.1e} > {args.tol:g}",
                        status="no match", **common))
        # hierarchical blocks
        steps = StepConfig(dt_max=1 / 16, eta=0.02, max_bin=16)

        def engine(parts):
            e = HierarchicalKDK(p, args.eps, steps, parts[0](), decomposition=parts[1](comm))
            e.initialize()
            return e

        def advance(e):
            for _ in range(args.blocks):
                e.advance_block()

        cases = {"replicated": (lambda: engine((ReplicatedForces, ReplicatedData)), advance),
                 "domain": (lambda: engine((DomainForces, DomainDecomposition)), advance)}
        t, _ = interleave(cases, args.rounds, comm=comm)
        case = f"N={n} {args.blocks} blocks dt=1/16"
        if err <= args.tol:
            run.add(Row.compare(case, t["domain"], t["replicated"], accuracy="same opening angle and steps; "
                                f"forces as above ({err:.1e})", **common))
        else:
            run.add(Row(case, accuracy="no match (forces above)", status="no match", **common))
    if not args.no_write and rank == 0:
        print(f"# wrote {run.write()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
