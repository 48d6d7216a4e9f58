"""Domain decomposition (nbody.domain): space-filling-curve domains, top trees, exported walks, integration."""
import numpy as np
import pytest

from gpu.config import ConfigError
from gpu.mpi import SerialComm
from nbody import Simulation
from nbody.direct import direct_forces
from nbody.domain import DomainDecomposition, DomainForces, _top_tree, domain_forces, keys_of, top_tree
from nbody.ics import spherical_galaxy
from nbody.softening import spline_radius
from nbody.timestepping import ForceConfig, HierarchicalKDK, ReplicatedData, ReplicatedForces, StepConfig
from nbody.tree import SIM_LEAF_SIZE, Octree
from nbody._kernels.domain import remote_top_nodes


def test_morton_top_tree_cells_partition_the_curve():
    p = spherical_galaxy(3000, "hernquist", seed=4)
    lo, hi = p.pos.min(axis=0), p.pos.max(axis=0)
    keys = np.sort(keys_of(p.pos, lo, hi))
    assert keys.min() >= 0 and keys.max() < 2**63
    start, end, leaf, nxt, level = _top_tree(keys, 40)
    # the leaves tile [0, N) in order, hold at most 40 keys, and each is one octree cell (common prefix)
    assert start[leaf][0] == 0 and end[leaf][-1] == len(keys)
    assert np.array_equal(start[leaf][1:], end[leaf][:-1])
    assert np.all(end[leaf] - start[leaf] <= 40)
    for a, b in zip(start[leaf], end[leaf]):
        # the smallest octree cell holding the leaf's keys (common prefix in whole 3-bit levels) holds no
        # key outside the leaf (a leaf is a cell or lies inside one)
        shift = 3 * (((int(keys[a]) ^ int(keys[b - 1])).bit_length() + 2) // 3)
        cell = int(keys[a]) >> shift
        if a > 0:
            assert int(keys[a - 1]) >> shift != cell
        if b < len(keys):
            assert int(keys[b]) >> shift != cell
    # preorder skip pointers: a node's subtree is the next nodes up to nxt, nested in its key range
    for i in np.flatnonzero(~leaf):
        sub = np.arange(i + 1, nxt[i])
        assert len(sub) and start[sub].min() == start[i] and end[sub].max() == end[i]
    for i in np.flatnonzero(~leaf):
        kids = [i + 1]
        while nxt[kids[-1]] < nxt[i]:
            kids.append(nxt[kids[-1]])
        assert np.all(level[kids] == level[i] + 1)
    # the records hold the geometric octree cells (as the tree's nodes), which contain their particles
    from nbody._kernels.domain import T_C, T_HALF, T_M

    h = spline_radius(np.full(len(p.mass), 0.01))
    cells, nxt2, leaf2 = top_tree(p.pos, p.mass, h, lo, hi, 8)
    ks = keys_of(p.pos, lo, hi)
    o = np.argsort(ks, kind="stable")
    start, end, _, _, level = _top_tree(ks[o], -(-len(ks) // 8))
    side = np.max(hi - lo)
    for c in range(len(cells)):
        x = p.pos[o[start[c]:end[c]]]
        assert np.all(np.abs(x - cells[c, T_C:T_C + 3]) <= cells[c, T_HALF] * (1 + 1e-6))
        assert cells[c, T_HALF] == pytest.approx(0.5 * side / 2.0 ** level[c], rel=1e-6)
        assert cells[c, T_M] == pytest.approx(p.mass[o[start[c]:end[c]]].sum())
    # spatial locality: neighbours on the curve are near in space (Z-order), unlike a random order
    o = np.argsort(keys_of(p.pos, lo, hi))
    step = np.median(np.linalg.norm(np.diff(p.pos[o], axis=0), axis=1))
    assert step < 0.2 * np.median(np.linalg.norm(np.diff(p.pos, axis=0), axis=1))


@pytest.mark.parametrize("curve", ["hilbert", "morton"])
def test_space_filling_curves(curve):
    from nbody._kernels.domain import KEY_BITS

    # every cell of an 8^3 grid: one key each, octants (and their sub-cells) are contiguous key ranges
    g = np.arange(8)
    X = np.array(np.meshgrid(g, g, g, indexing="ij")).reshape(3, -1).T.astype(float)
    k = keys_of(X + 0.5, np.zeros(3), np.full(3, 8.0 * (1 - 1e-9)), curve=curve)
    # keys_of scales the box side to 2^21: the cells sit on the level-3 grid
    assert len(np.unique(k)) == 512 and np.all(k >= 0)
    o = np.argsort(k)
    for level in (1, 2):
        cell = (X[o] // (8 >> level)) @ [64, 8, 1]
        assert len(np.flatnonzero(np.diff(cell))) + 1 == 8**level
        assert np.array_equal(k[o] >> (3 * (KEY_BITS - level)), np.repeat(np.arange(8**level), 8 ** (3 - level)))
    steps = np.abs(np.diff(X[o], axis=0)).sum(axis=1)
    if curve == "hilbert":
        assert np.all(steps == 1)  # Peano-Hilbert: consecutive cells are face neighbours
    else:
        assert steps.max() > 1  # Z-order jumps
    with pytest.raises(ValueError, match="curve"):
        keys_of(X, np.zeros(3), np.ones(3), curve="peano")


def test_remote_top_tree_far_field_and_exports():
    # a "remote" domain (x > 0 half of a Hernquist sphere) seen from targets at various distances
    p = spherical_galaxy(6000, "hernquist", seed=5)
    eps = 0.01
    far = p.pos[:, 0] > 0
    src_pos, src_m = p.pos[far], p.mass[far]
    h = spline_radius(np.full(len(src_m), eps))
    cells, nxt, leaf = top_tree(src_pos, src_m, h, p.pos.min(0), p.pos.max(0), 64)
    rng = np.random.default_rng(1)
    tpos = rng.normal(size=(400, 3))
    tpos *= (10 ** rng.uniform(-1, 2.5, 400) / np.linalg.norm(tpos, axis=1))[:, None]
    acc, pot, export, nacc = remote_top_nodes(tpos, np.full(400, spline_radius(eps)), np.zeros(400), cells, nxt, leaf,
                                        np.array([0]), np.array([len(cells)]), -1, 1.0, 0.5, 0.005, 0, True)
    ex = export[:, 0]
    assert 0 < ex.sum() < 400  # near targets are exported, far ones are not
    ref, pref = _direct_at(tpos[~ex], src_pos, src_m, eps)
    err = np.linalg.norm(acc[~ex] - ref, axis=1) / np.linalg.norm(ref, axis=1)
    assert np.median(err) < 1e-3 and np.max(err) < 2e-2
    assert np.median(np.abs(pot[~ex] / pref - 1)) < 1e-3
    assert np.all(acc[ex] == 0) and np.all(nacc[ex] == 0)  # exported targets keep nothing of this top tree
    assert np.all(nacc[~ex] >= 1)


def _direct_at(tpos, spos, smass, eps):
    from nbody._kernels.direct import direct_accel_sources

    h = spline_radius(eps)
    return direct_accel_sources(tpos, np.full(len(tpos), h), spos, smass, np.full(len(smass), h), 1.0, True,
                                np.full(len(tpos), -1))


def test_foreign_targets_walk_the_tree():
    # positions exported by another rank (not particles of this tree): the tree's accuracy, and for a
    # target at a particle's position the walk equals that particle's own walk up to its self term
    from nbody._kernels.domain import tree_accel_foreign

    p = spherical_galaxy(3000, "hernquist", seed=6)
    t = Octree(p.pos, p.mass, 0.01)
    rng = np.random.default_rng(3)
    tpos = p.pos[:300] + rng.normal(scale=0.05, size=(300, 3))
    th = np.full(300, spline_radius(0.01))
    acc, pot, nint = tree_accel_foreign(tpos, th, np.zeros(300), t._spos, t._smass, t._sh, 1.0, 0.5, 0.005, 0, True,
                                        t.nodes[0], t._f, t._g)
    ref, pref = _direct_at(tpos, p.pos, p.mass, 0.01)
    assert np.median(np.linalg.norm(acc - ref, axis=1) / np.linalg.norm(ref, axis=1)) < 1e-3
    assert np.median(np.abs(pot / pref - 1)) < 1e-3 and np.all(nint > 0)
    own, own_pot = t.accelerations(np.arange(50), grouped=False)  # exported targets walk one by one
    acc, pot, _ = tree_accel_foreign(np.ascontiguousarray(p.pos[:50]), np.full(50, spline_radius(0.01)), np.zeros(50),
                                     t._spos, t._smass, t._sh, 1.0, 0.5, 0.005, 0, True, t.nodes[0], t._f, t._g)
    assert np.allclose(acc, own, rtol=1e-12, atol=1e-12)  # the self pair (r = 0) exerts no force
    from nbody.softening import potential_kernel

    assert np.allclose(pot - own_pot, -p.mass[:50] * potential_kernel(0.0, 0.01), rtol=1e-10)  # g(0) = 1/eps


def test_domain_forces_on_one_rank_are_the_tree():
    p = spherical_galaxy(2000, "plummer", seed=2)
    t = np.arange(0, 2000, 7)
    acc, pot, info = domain_forces(p.pos, p.mass, 0.02, t, SerialComm(), theta=0.6)
    # domain_forces' leaf size is the simulation's (nbody.tree.SIM_LEAF_SIZE), not the Octree default
    ref, pref = Octree(p.pos, p.mass, 0.02, leaf_size=SIM_LEAF_SIZE).accelerations(t, theta=0.6, grouped=False)
    assert np.array_equal(acc, ref) and np.array_equal(pot, pref)
    assert info["exported"] == 0 and np.all(info["interactions"] > 0)
    acc, pot, _ = domain_forces(p.pos, p.mass, 0.02, t, SerialComm(), method="direct")
    ref, pref = direct_forces(p.pos, p.mass, 0.02, targets=t)
    assert np.array_equal(acc, ref)
    with pytest.raises(ValueError, match="method"):
        domain_forces(p.pos, p.mass, 0.02, method="fmm")
    with pytest.raises(ValueError, match="a_old"):
        domain_forces(p.pos, p.mass, 0.02, criterion="relative")


def test_domain_engine_on_one_rank_is_the_replicated_engine():
    p = spherical_galaxy(300, "plummer", seed=3)
    steps = StepConfig(dt_max=1 / 16, eta=0.02, max_bin=12)
    # the domain engine builds its local tree at every force call: compare with a replicated engine that does
    a = HierarchicalKDK(p, 0.05, steps, ReplicatedForces(ForceConfig(tree_rebuild_fraction=0.0)),
                        decomposition=ReplicatedData(SerialComm()))
    b = HierarchicalKDK(p, 0.05, steps, DomainForces(), decomposition=DomainDecomposition(SerialComm()))
    for _ in range(3):
        a.advance_block()
        b.advance_block()
    assert np.array_equal(a.pos, b.state().pos) and np.array_equal(a.vel, b.state().vel)
    assert sum(a.energy()) == sum(b.energy())
    with pytest.raises(ValueError, match="redecompose_every"):
        DomainDecomposition(SerialComm(), redecompose_every=0)
    with pytest.raises(ValueError, match="DomainDecomposition"):
        HierarchicalKDK(p, 0.05, steps, DomainForces(), decomposition=ReplicatedData(SerialComm()))
    with pytest.raises(ValueError, match="DomainForces"):
        HierarchicalKDK(p, 0.05, steps, ReplicatedForces(), decomposition=DomainDecomposition(SerialComm()))


def test_region_step_is_one_code_path_for_both_decompositions():
    """KETJU regions with the 'boundary' member criterion: the domain decomposition on one rank repeats the
    replicated run bit for bit, so both go through the same region step (the domain engine once had its own
    copy, which ignored the criterion); the criterion does change the run, so the test can see it."""
    from nbody.ketju import NewtonianFewBody
    from nbody.timestepping import RegionConfig

    p = spherical_galaxy(400, "hernquist", m_bh=0.02, seed=3, r_max=20)
    steps = StepConfig(dt_max=1 / 16, eta=0.02, max_bin=12)

    def run(domain, criterion):
        regions = RegionConfig(0.15, NewtonianFewBody(eta=0.01), member_criterion=criterion)
        if domain:
            e = HierarchicalKDK(p, 0.05, steps, DomainForces(), regions, DomainDecomposition(SerialComm()))
        else:
            e = HierarchicalKDK(p, 0.05, steps, ReplicatedForces(ForceConfig(tree_rebuild_fraction=0.0)), regions,
                                ReplicatedData(SerialComm()))
        for _ in range(2):
            e.advance_block()
        return e.state(), e.global_counters()

    (a, ca), (b, cb) = run(False, "boundary"), run(True, "boundary")
    assert ca["region_steps"] > 0 and ca["region_steps"] == cb["region_steps"]
    assert np.array_equal(a.pos, b.pos) and np.array_equal(a.vel, b.vel)
    s, _ = run(False, "speed")
    assert not np.array_equal(a.pos, s.pos)


def test_decomposition_config_key_is_validated(tmp_path):
    from tests.nbody.test_simulation import BASE

    text = BASE.replace("OUT", str(tmp_path)).replace("[gravity]", '[gravity]\ndecomposition = "slab"')
    with pytest.raises(ConfigError, match="gravity.decomposition"):
        Simulation(text)


MPI_SCRIPT = r"""
import time
import numpy as np
from mpi4py import MPI
from gpu.mpi import SerialComm
from nbody import Simulation
from nbody.direct import direct_forces
from nbody.domain import DomainDecomposition, DomainForces, domain_forces, exchange, global_box, key_splits, keys_of
from nbody.ics import spherical_galaxy
from nbody.snapshot import read_snapshot
from nbody.timestepping import (ForceConfig, HierarchicalKDK, RegionConfig, ReplicatedData, ReplicatedForces,
                                StepConfig)
from nbody.tree import tree_forces

comm = MPI.COMM_WORLD
rank, size = comm.rank, comm.size
out = {}

def rel(a, b):
    return np.linalg.norm(a - b, axis=1) / np.linalg.norm(b, axis=1)

# ---- 1. forces: Hernquist N = 5000 split into Morton domains balanced by count
p = spherical_galaxy(5000, "hernquist", seed=7)
N = len(p.mass)
lo, hi = rank * N // size, (rank + 1) * N // size
ids = p.ids[lo:hi]
box = global_box(comm, p.pos[lo:hi])
keys = keys_of(p.pos[lo:hi], *box)
dest = np.searchsorted(key_splits(comm, keys, np.ones(hi - lo)), keys, side="right")
got, _, _ = exchange(comm, dest, {"pos": p.pos[lo:hi], "mass": p.mass[lo:hi], "ids": ids})
counts = comm.allgather(len(got["ids"]))
acc, pot, info = domain_forces(got["pos"], got["mass"], 0.01, comm=comm)
accr, _, _ = domain_forces(got["pos"], got["mass"], 0.01, comm=comm, criterion="relative", alpha=0.002,
                           a_old=np.linalg.norm(acc, axis=1))
accd, potd, _ = domain_forces(got["pos"], got["mass"], 0.01, comm=comm, method="direct")
# a scrambled layout (every 7th particle on the next rank, as KETJU region members are): remote top trees
# then hold small cells inside the local domain
mix = (dest + (np.arange(len(dest)) % 7 == 0)) % size
mixed, _, _ = exchange(comm, mix, {"pos": p.pos[lo:hi], "mass": p.mass[lo:hi], "ids": ids})
accm, _, _ = domain_forces(mixed["pos"], mixed["mass"], 0.01, comm=comm)
gm = comm.gather((mixed["ids"], accm), root=0)
g = comm.gather((got["ids"], acc, pot, accr, accd, potd, info["exported"]), root=0)
if rank == 0:
    gid = np.concatenate([x[0] for x in g])
    o = np.argsort(gid)
    A, P, AR, AD, PD = (np.concatenate([x[k] for x in g])[o] for k in (1, 2, 3, 4, 5))
    assert np.array_equal(gid[o], p.ids), "IDs lost or duplicated by the migration"
    assert max(counts) - min(counts) <= 1, counts
    ref, pref = direct_forces(p.pos, p.mass, 0.01)
    # exported targets are walked one by one (GADGET-2's scheme), so the reference accuracy is the serial
    # tree's per-target walk, not its (more accurate) grouped walk
    at, pt = tree_forces(p.pos, p.mass, 0.01, grouped=False)
    out["median_err_domain"] = np.median(rel(A, ref))
    out["median_err_serial_tree"] = np.median(rel(at, ref))
    out["p99_err_domain"] = np.percentile(rel(A, ref), 99)
    out["p99_err_serial_tree"] = np.percentile(rel(at, ref), 99)
    out["median_diff_domain_vs_serial_tree"] = np.median(rel(A, at))
    out["median_pot_err_domain"] = np.median(np.abs(P / pref - 1))
    out["median_err_relative"] = np.median(rel(AR, ref))
    out["direct_maxdiff"] = np.max(np.abs(AD - ref)) / np.max(np.abs(ref))
    out["direct_pot_maxdiff"] = np.max(np.abs(PD / pref - 1))
    out["exported_fraction"] = sum(x[6] for x in g) / N
    AM = np.concatenate([x[1] for x in gm])[np.argsort(np.concatenate([x[0] for x in gm]))]
    out["median_err_mixed"] = np.median(rel(AM, ref))
    out["p99_err_mixed"] = np.percentile(rel(AM, ref), 99)
    out["max_err_mixed"] = np.max(rel(AM, ref))
    out["max_err_domain"] = np.max(rel(A, ref))
    out["max_err_serial_tree"] = np.max(rel(at, ref))

# ---- 2. a short Plummer run (N = 1000, tree, 8 blocks): 2 ranks vs serial
q = spherical_galaxy(1000, "plummer", seed=5)
steps = StepConfig(dt_max=1 / 16, eta=0.02, max_bin=12)
fkw = dict(theta=0.5, group_size=0)  # per-target walks on both sides
from nbody.direct import potential_energy

def exact_energy(st):  # by direct summation: the integrator's error without the tree's potential error
    return 0.5 * np.sum(st.mass * np.sum(st.vel**2, axis=1)) + potential_energy(st.pos, st.mass, 0.05)

d = HierarchicalKDK(q, 0.05, steps, DomainForces(ForceConfig(method="tree", **fkw)),
                    decomposition=DomainDecomposition(comm))
st0 = d.state()
E0 = sum(d.energy())
for _ in range(8):
    d.advance_block()
E1 = sum(d.energy())
st = d.state()
out_counts = comm.allgather(len(d.mass))
if rank == 0:
    runs = {}
    for grav in ("tree", "direct"):
        s = HierarchicalKDK(q, 0.05, steps, ReplicatedForces(ForceConfig(method=grav, **fkw)),
                            decomposition=ReplicatedData(SerialComm()))
        S0, X0 = sum(s.energy()), exact_energy(s)
        for _ in range(8):
            s.advance_block()
        runs[grav] = (s, sum(s.energy()) / S0 - 1, exact_energy(s) / X0 - 1)
    s = runs["tree"][0]
    assert np.array_equal(st.ids, s.ids)
    out["plummer_dE_domain"] = abs(E1 / E0 - 1)
    out["plummer_dE_serial_tree"] = abs(runs["tree"][1])
    out["plummer_dE_serial_direct"] = abs(runs["direct"][1])
    out["plummer_exact_dE"] = [float(abs(exact_energy(st) / exact_energy(st0) - 1)), float(abs(runs["tree"][2]))]
    out["plummer_rms_dx_domain_vs_tree"] = np.sqrt(np.mean((st.pos - s.pos) ** 2))
    out["plummer_rms_dx_tree_vs_direct"] = np.sqrt(np.mean((runs["direct"][0].pos - s.pos) ** 2))
    out["plummer_counts"] = out_counts

# ---- 3. the simulation driver: merger with two KETJU regions, distributed direct sum (round-off only)
text = open("cfg_domain.toml").read()
res = Simulation(text, comm=comm).run()
if rank == 0:
    ser = Simulation(open("cfg_serial.toml").read(), comm=SerialComm()).run()
    out["sim_maxdiff"] = np.max(np.abs(res.particles.pos - ser.particles.pos))
    out["sim_sep"] = (float(res.bh_log["sep"][-1][0]), float(ser.bh_log["sep"][-1][0]))
    a, b = read_snapshot(res.files["snapshots"][-1]), read_snapshot(ser.files["snapshots"][-1])
    for t in (4, 5):
        assert np.array_equal(a.particles[t].ids, b.particles[t].ids)
        out[f"snap_maxdiff_{t}"] = np.max(np.abs(a.particles[t].pos - b.particles[t].pos))
    out["sim_region_steps"] = [res.profile["region_steps"], ser.profile["region_steps"]]
    out["sim_syncs"] = [res.profile["syncs"], ser.profile["syncs"]]

# ---- 4. checkpoint restart with the tree on 2 ranks: the layout is restored, the run repeats exactly
full = Simulation(open("cfg_tree_full.toml").read(), comm=comm).run()
Simulation(open("cfg_tree_half.toml").read(), comm=comm).run()
resumed = Simulation(open("cfg_tree_half.toml").read().replace("t_end = 0.25", "t_end = 0.5"), comm=comm).run(
    restart=True)
if rank == 0:
    out["restart_maxdiff"] = np.max(np.abs(resumed.particles.pos - full.particles.pos))
    out["restart_vel_maxdiff"] = np.max(np.abs(resumed.particles.vel - full.particles.vel))
    # the tree run against the serial tree, and the serial tree against itself with theta 2 % smaller
    # (a perturbation of the forces of the tree's own kind and size)
    base = open("cfg_tree_full.toml").read().replace('decomposition = "domain"', 'decomposition = "replicated"')
    ser = Simulation(base.replace("tree_full", "ser_tree"), comm=SerialComm()).run().particles
    ser2 = Simulation(base.replace("tree_full", "ser_tree2").replace("[gravity]", "[gravity]\ntheta = 0.49"),
                      comm=SerialComm()).run().particles
    bh = ser.ptype == 5
    out["tree_run_bh"] = [float(np.max(np.abs(full.particles.pos[bh] - ser.pos[bh]))),
                          float(np.max(np.abs(ser2.pos[bh] - ser.pos[bh])))]
    out["tree_run_stars"] = [float(np.max(np.abs(full.particles.pos[~bh] - ser.pos[~bh]))),
                             float(np.max(np.abs(ser2.pos[~bh] - ser.pos[~bh])))]

# ---- 5. a PN-driven SMBH merger inside a region (the regularized integrator on the owning rank)
from nbody.ketju import RegularizedRegionIntegrator
from tests.nbody.test_ketju import _eccentric_binary_with_far_stars

def binary_run(forces, decomposition):
    from nbody.particles import Particles
    pos, vel, mass, ptype = _eccentric_binary_with_far_stars()
    integ = RegularizedRegionIntegrator(tolerance=1e-10, pn=("2.5PN",), c=60.0, merger_radius_rs=3.0)
    eng = HierarchicalKDK(Particles.from_arrays(mass, pos, vel, ptype), 0.005, StepConfig(dt_max=1 / 128, max_bin=12, eta=0.01),
                          forces, RegionConfig(0.02, integ), decomposition)
    for _ in range(20):
        eng.advance_block()
    return eng

st = binary_run(DomainForces(ForceConfig(method="direct")), DomainDecomposition(comm)).state()
if rank == 0:
    s = binary_run(ReplicatedForces(ForceConfig(method="direct")), ReplicatedData(SerialComm()))
    o, od = np.argsort(s.ids), np.argsort(st.ids)
    assert np.array_equal(st.ids[od], s.ids[o]) and len(st.ids) == 3
    out["merger_events"] = [len(st.merger_events), len(s.merger_events)]
    out["merger_remnant"] = [st.merger_events[0]["remnant_mass"], s.merger_events[0]["remnant_mass"]]
    out["merger_maxdiff"] = np.max(np.abs(st.pos[od] - s.pos[o]))
    print("RESULTS", repr({k: (float(v) if np.ndim(v) == 0 else v) for k, v in out.items()}))
"""


@pytest.mark.mpi
def test_two_ranks_domain_decomposition(tmp_path):
    _check_ranks(tmp_path, 2)


@pytest.mark.mpi
@pytest.mark.slow
def test_three_ranks_domain_decomposition(tmp_path):
    _check_ranks(tmp_path, 3)  # two SMBH regions on ranks 0 and 1, rank 2 exports to two domains


def _check_ranks(tmp_path, nranks):
    from tests.mpi_harness import run_mpi
    from tests.nbody.test_simulation import BASE

    def cfg(name, dec, method="direct"):
        return (BASE.replace("OUT", str(tmp_path / name))
                .replace("[gravity]", f'[gravity]\nmethod = "{method}"\ndecomposition = "{dec}"\ngroup_size = 0'))

    (tmp_path / "cfg_domain.toml").write_text(cfg("domain", "domain"))
    (tmp_path / "cfg_serial.toml").write_text(cfg("serial", "replicated"))
    (tmp_path / "cfg_tree_full.toml").write_text(cfg("tree_full", "domain", "tree"))
    (tmp_path / "cfg_tree_half.toml").write_text(cfg("tree_half", "domain", "tree").replace("t_end = 0.5",
                                                                                            "t_end = 0.25"))
    proc = run_mpi(MPI_SCRIPT, nranks, tmp_path, timeout=600)
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULTS")][0]
    r = eval(line[len("RESULTS"):])  # noqa: S307 (our own script's repr of floats)
    print(r)
    # forces: the tree's accuracy target on 2 ranks, and no worse than the serial tree (same criterion,
    # remote domains enter through nodes that pass it): measured 3.1e-4 vs 3.3e-4 (N = 4000)
    assert r["median_err_domain"] < 1e-3
    assert r["median_err_domain"] < 1.3 * r["median_err_serial_tree"]
    assert r["p99_err_domain"] < 1.5 * r["p99_err_serial_tree"]
    # the difference to the serial tree is of the size of the tree's own error (different node sets)
    assert r["median_diff_domain_vs_serial_tree"] < 2 * r["median_err_serial_tree"]
    assert r["median_pot_err_domain"] < 1e-3
    assert r["median_err_relative"] < 1e-3
    # with particles of one rank scattered inside the other's domain (top cells with a few particles,
    # accepted with the tree's criterion on the tree's geometric cells): still the tree's accuracy
    assert r["median_err_mixed"] < 1.3 * r["median_err_serial_tree"]
    assert r["p99_err_mixed"] < 1.5 * r["p99_err_serial_tree"]
    # the worst particle: the serial tree's worst too (2.3e-3 there), its local part alone off by 6e-3 of
    # |a| where the two domains' pulls partly cancel (a different node set, not a different accuracy)
    assert max(r["max_err_domain"], r["max_err_mixed"]) < 1e-2
    assert r["exported_fraction"] > 0  # the export path was exercised
    # distributed direct sum: the serial sum up to the order of the additions
    assert r["direct_maxdiff"] < 1e-12 and r["direct_pot_maxdiff"] < 1e-12
    # Plummer run: energy conserved like the serial runs (the leapfrog's error, eta = 0.02, dominates);
    # the trajectories differ from the serial tree's by no more than the serial tree's differ from the
    # direct sum's over the same time (both differences are driven by force errors of the tree's size)
    assert r["plummer_dE_domain"] < 3 * max(r["plummer_dE_serial_tree"], r["plummer_dE_serial_direct"], 1e-5)
    # measured by direct summation (no tree potential error at two different decompositions): the same
    # energy error as the serial tree run (3.6e-5 vs 3.9e-5; the engines' own estimates 5.7e-5 vs 3.4e-5)
    assert r["plummer_exact_dE"][0] < 1.5 * r["plummer_exact_dE"][1]
    assert r["plummer_rms_dx_domain_vs_tree"] < 2 * r["plummer_rms_dx_tree_vs_direct"]
    assert min(r["plummer_counts"]) > 0
    # the driver with KETJU regions gathered on their ranks: same trajectories as serial to round-off,
    # the gathered snapshots hold the same particles
    assert r["sim_maxdiff"] < 1e-12
    assert r["snap_maxdiff_4"] < 1e-12 and r["snap_maxdiff_5"] < 1e-12
    assert r["sim_region_steps"][0] == r["sim_region_steps"][1] > 0  # every region step, once
    assert r["sim_syncs"][0] == r["sim_syncs"][1]
    # tree + regions on 2 ranks: the trajectories differ from the serial tree's by a few times what a 2 %
    # change of theta does (measured 3.5x for the SMBHs, 2x for the stars; 130x / 8x before the top cells
    # had the tree's geometric boxes)
    assert r["tree_run_bh"][0] < 10 * r["tree_run_bh"][1]
    assert r["tree_run_stars"][0] < 5 * r["tree_run_stars"][1]
    # a checkpoint restores each particle to its rank and row: the restart repeats the run bit for bit
    assert r["restart_maxdiff"] == 0 and r["restart_vel_maxdiff"] == 0
    # an SMBH merger in a region on its rank: one event, the swallowed SMBH removed, as in serial
    assert r["merger_events"] == [1, 1] and r["merger_remnant"][0] == r["merger_remnant"][1] < 1.0
    assert r["merger_maxdiff"] < 1e-12


def test_group_size_is_validated_and_zero_means_per_target_walks(tmp_path):
    from tests.nbody.test_simulation import BASE

    p = spherical_galaxy(400, "plummer", seed=4)
    with pytest.raises(ValueError, match="group_size"):
        ForceConfig(group_size=-1)
    e = HierarchicalKDK(p, 0.05, forces=ReplicatedForces(ForceConfig(group_size=0)),
                        decomposition=ReplicatedData(SerialComm()))
    acc, _ = e.forces(np.arange(400))
    ref, _ = Octree(p.pos, p.mass, 0.05, leaf_size=SIM_LEAF_SIZE).accelerations(np.arange(400), grouped=False)
    assert np.array_equal(acc, ref)
    text = BASE.replace("OUT", str(tmp_path)).replace("[gravity]", "[gravity]\ngroup_size = -2")
    with pytest.raises(ConfigError, match="gravity.group_size"):
        Simulation(text)
