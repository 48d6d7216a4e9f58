"""Run by tests/cosmo/test_cuda_pairs.py under the CUDA simulator: the pair engine on the CPU and with
backend="cuda" for a few small cases; both results saved to the .npz named on the command line."""
import sys

import numpy as np

import cosmo._kernels.cuda_pairs as CP
from cosmo.pairwise import pair_counts, pair_moments

calls = {"n": 0}
_orig = CP.pair_pass_cuda


def _counting(*a, **k):
    calls["n"] += 1
    return _orig(*a, **k)


CP.pair_pass_cuda = _counting


def sample(n, seed, box=10.0, clump=0.2):
    rng = np.random.default_rng(seed)
    pos = rng.uniform(0, box, (n, 3))
    m = int(clump * n)
    pos[:m] = 0.5 * box + 0.03 * box * rng.normal(size=(m, 3))  # pairs at small r
    vel = rng.normal(0, 1.0, (n, 3))
    vel[:m] -= 0.8 * (pos[:m] - 0.5 * box)  # infall
    return pos % box, vel, rng


out = {}


def save(name, st):
    out[f"{name}/counts"] = st.counts
    out[f"{name}/wcounts"] = st.weighted_counts
    for k, v in st.moments.items():
        out[f"{name}/mom/{k}"] = v
    for k, v in (st.pdf or {}).items():
        out[f"{name}/pdf/{k}"] = v


ORD = range(1, 9)
pos, vel, rng = sample(160, 1)
cases = {
    # auto pairs, periodic, all quantities, antisymmetric uniform PDF edges (the CPU's mirror path)
    "auto": dict(args=(pos, vel, 10.0, np.linspace(0.0, 2.5, 6)), kw=dict(pdf_bins=np.linspace(-4, 4, 17))),
    # Delta u_L only with its PDF (the CPU's cheapest pass) and the longitudinal-only pass
    "du": dict(args=(pos, vel, 10.0, np.linspace(0.2, 2.0, 4)),
               kw=dict(pdf_bins=np.linspace(-3, 5, 9), quantities=("du_L",))),
    "long": dict(args=(pos, vel, 10.0, np.linspace(0.2, 2.0, 4)), kw=dict(quantities=("u_L", "su_L"))),
}
p1, v1, r1 = sample(90, 2, box=6.0)
p2, v2, _ = sample(110, 3, box=6.0)
cases["cross"] = dict(args=(p1, v1, None, np.logspace(-1, 0.3, 5)),
                      kw=dict(pos2=p2, vel2=v2, weights=r1.uniform(0.5, 2, 90), weights2=r1.uniform(0.5, 2, 110),
                              pdf_bins=np.sort(r1.uniform(-3, 3, 12))))
p3, v3, r3 = sample(50, 4, box=4.0, clump=0.0)
# r_max = box/2: a one-cell grid, explicit minimum image; weights; uniform but not antisymmetric PDF edges
cases["mi"] = dict(args=(p3, v3, 4.0, np.linspace(0.0, 2.0, 4)),
                   kw=dict(weights=r3.uniform(0.5, 2, 50), pdf_bins=np.linspace(-2.5, 3.5, 7)))
for name, c in cases.items():
    for be in ("cpu", "cuda"):
        save(f"{name}/{be}", pair_moments(*c["args"], orders=ORD, backend=be, **c["kw"]))
# the auto case's binning with the histograms (then everything) in global memory instead of shared
# memory, on fewer particles: the simulator serialises global atomics (160 particles take ~200 s there)
ps, vs, _ = sample(40, 6)
c = dict(args=(ps, vs, 10.0, np.linspace(0.0, 2.5, 6)), kw=cases["auto"]["kw"])
save("small/cpu", pair_moments(*c["args"], orders=ORD, backend="cpu", **c["kw"]))
nb, sc = 5, 2 + 6 * 9
for name, nbytes in (("split", 8 * nb * sc), ("global", 0)):
    CP.SHARED_BYTES = nbytes
    save(f"small_{name}/cuda", pair_moments(*c["args"], orders=ORD, backend="cuda", **c["kw"]))
CP.SHARED_BYTES = 48 * 1024
for be in ("cpu", "cuda"):
    out[f"dd/{be}/counts"] = pair_counts(pos, 10.0, np.linspace(0.0, 2.5, 6), backend=be)
out["cuda_calls"] = np.array(calls["n"])
np.savez(sys.argv[1], **out)
