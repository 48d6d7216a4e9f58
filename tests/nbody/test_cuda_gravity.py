"""The GPU direct sum of the galaxy simulation (nbody._kernels.cuda_gravity), run in the CUDA simulator."""
import json

import numpy as np
import pytest

import gpu
from gpu.config import ConfigError
from tests.cudasim import run_cudasim


def test_cuda_gravity_matches_the_cpu_direct_kernel():
    # 200 particles, a random active subset, some unsoftened (h = 0) and two on the same spot (r = 0,
    # softened: the pair is skipped only when r = 0 and h = 0): the three branches of the spline and
    # the self-skip are all exercised. Tolerance 1e-12 relative per particle: the CPU kernel sums with
    # reassociation (fast-math, vectorised) and the GPU kernel in index order, so they differ by
    # round-off in the summation order, < N eps ~ 200 x 1.1e-16 = 2e-14 of the sum of |terms|; the
    # sums here cancel by less than a factor 50 (checked below), hence 1e-12. The GPU kernel must also
    # equal the CPU subset kernel direct_accel_sources bit for bit: same formula, same order.
    out = run_cudasim("""
        import json
        import numpy as np
        from nbody._kernels.cuda_gravity import gravity_accel_cuda
        from nbody._kernels.direct import direct_accel, direct_accel_sources
        rng = np.random.default_rng(7)
        n = 200
        pos = rng.normal(size=(n, 3))
        pos[1] = pos[0]
        mass = rng.uniform(0.5, 1.5, n) / n
        h = np.full(n, 2.8 * 0.2)
        h[150:] = 0.0
        t = np.sort(rng.choice(n, 120, replace=False)).astype(np.int64)
        t[:2] = [0, 1]
        res = {}
        for G, want in ((1.0, True), (0.37, False)):
            a, p = gravity_accel_cuda(t, pos, mass, h, G, want)
            a1, p1 = direct_accel(t, pos, mass, h, G, want)
            a2, p2 = direct_accel_sources(pos[t], h[t], pos, mass, h, G, want, t)
            # the sum of |terms| bounds the round-off of any summation order
            d = pos[None, :, :] - pos[t][:, None, :]
            r = np.linalg.norm(d, axis=-1)
            res[str(want)] = dict(
                da=float(np.max(np.linalg.norm(a - a1, axis=1) / np.linalg.norm(a1, axis=1))),
                dp=float(np.max(np.abs(p - p1) / np.abs(p1))) if want else float(np.abs(p).max()),
                same=bool(np.array_equal(a, a2) and np.array_equal(p, p2)),
                amin=float(np.linalg.norm(a1, axis=1).min()), nt=len(a),
                inner=int(np.sum((r > 0) & (r < 0.5 * 2.8 * 0.2))), mid=int(np.sum((r >= 0.28) & (r < 0.56))))
        print(json.dumps(res))
    """, timeout=300)
    res = json.loads(out.strip().splitlines()[-1])
    for want in ("True", "False"):
        r = res[want]
        assert r["nt"] == 120 and r["same"], r
        assert r["da"] < 1e-12, r
        assert r["amin"] > 0  # no target with a vanishing force (the relative test would be void)
        assert r["inner"] > 0 and r["mid"] > 0  # pairs inside both spline pieces
    assert res["True"]["dp"] < 1e-12
    assert res["False"]["dp"] == 0.0  # no potential asked: zeros, as on the CPU


def test_simulation_with_backend_cuda_equals_cpu_backend():
    # Two merging galaxies (2 x 40 stars + 2 SMBHs in KETJU regions), hierarchical steps, two blocks:
    # the run on the cuda backend (simulator) must follow the cpu backend to round-off. Measured
    # differences ~1e-16 relative (different summation order, see the test above); 1e-12 leaves room
    # for their growth over the few hundred force evaluations but would catch any wrong force.
    out = run_cudasim("""
        import json, tempfile
        import numpy as np
        import nbody._kernels.cuda_gravity as KG
        from nbody import Simulation
        calls = []
        real = KG.gravity_accel_cuda
        def counted(*args):
            calls.append(len(args[0]))
            return real(*args)
        KG.gravity_accel_cuda = counted
        cfg = '''
        [[ics.galaxies]]
        profile = "hernquist"
        n = 40
        m_bh = 0.01
        seed = 1
        [[ics.galaxies]]
        profile = "hernquist"
        n = 40
        m_bh = 0.01
        seed = 2
        [ics.merger]
        enabled = true
        r0 = 3.0
        rp = 0.5
        e = 0.9
        [gravity]
        eps_star = 0.02
        method = "direct"
        backend = "BK"
        [time]
        t_end = 0.125
        dt_max = 0.0625
        max_bin = 14
        [ketju]
        r_ketju = 0.06
        integrator = "fewbody"
        [output]
        dir = "OUT"
        quiet = true
        '''
        d = tempfile.mkdtemp()
        runs = {}
        for bk in ("cpu", "cuda"):
            sim = Simulation(cfg.replace("BK", bk).replace("OUT", d + "/" + bk))
            runs[bk] = (sim.run(), dict(sim.engine.counters), sim.engine.backend)
        (a, ca, ba), (b, cb, bb) = runs["cpu"], runs["cuda"]
        pa, pb = a.particles, b.particles
        print(json.dumps(dict(
            dpos=float(np.abs(pa.pos - pb.pos).max() / np.abs(pa.pos).max()),
            dvel=float(np.abs(pa.vel - pb.vel).max() / np.abs(pa.vel).max()),
            ids=bool(np.array_equal(pa.ids, pb.ids)), t=[a.time, b.time], backends=[ba, bb],
            counters=ca == cb, evals=cb["force_evaluations"], gpu_targets=sum(calls))))
    """, timeout=300)
    r = json.loads(out.strip().splitlines()[-1])
    assert r["backends"] == ["cpu", "cuda"]
    assert r["gpu_targets"] == r["evals"] > 0  # every force of the cuda run came from the GPU kernel
    assert r["ids"] and r["counters"] and r["t"] == [0.125, 0.125]
    assert r["dpos"] < 1e-12 and r["dvel"] < 1e-12, r


def _cfg(tmp_path, **gravity):
    g = "\n".join(f'{k} = "{v}"' for k, v in gravity.items())
    return f"""
[[ics.galaxies]]
profile = "plummer"
n = 30
[gravity]
{g}
[time]
t_end = 0.0625
[ketju]
enabled = false
[output]
dir = "{tmp_path / 'out'}"
quiet = true
"""


def test_backend_cuda_without_a_device_raises(tmp_path, monkeypatch):
    from numba import cuda

    from gpu.cuda import simulator_enabled

    if simulator_enabled():
        pytest.skip("simulator enabled in this process")
    if cuda.is_available():
        pytest.skip("a CUDA device is present")
    monkeypatch.delenv("NUMBA_ENABLE_CUDASIM", raising=False)
    from nbody import Simulation
    from nbody.timestepping import ForceConfig, GPUDirectForces

    with pytest.raises(gpu.GPUUnavailableError, match="no usable CUDA device"):
        Simulation(_cfg(tmp_path, method="direct", backend="cuda"))
    assert not (tmp_path / "out").exists()  # raised before any output
    with pytest.raises(gpu.GPUUnavailableError, match="NUMBA_ENABLE_CUDASIM"):
        GPUDirectForces(ForceConfig(method="direct"))
    # "auto" falls back to the CPU without a device
    sim = Simulation(_cfg(tmp_path, method="direct", backend="auto"))
    assert sim.run().time == 0.0625 and sim.engine.backend == "cpu"


@pytest.mark.parametrize("gravity,key", [
    ({"method": "tree", "backend": "cuda"}, "gravity.backend"),
    ({"method": "direct", "backend": "cuda", "decomposition": "domain"}, "gravity.backend"),
    ({"method": "direct", "backend": "gpu"}, "gravity.backend"),
])
def test_backend_config_errors_name_the_key(tmp_path, gravity, key):
    from nbody import Simulation

    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        Simulation(_cfg(tmp_path, **gravity))
