"""Run under NUMBA_ENABLE_CUDASIM=1, or on a GPU (tests/clouds/test_cuda_droplets.py): the DNS with run.backend =
"cuda" (droplet kernels in the simulator, NumPy FFTs) against backend "cpu", a few steps.
Prints one JSON object: relative differences, and whether the droplets stayed on the device."""
import json
import os

import numpy as np

SIM = os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")   # else on a real device (gpu tests)
import gpu  # noqa: E402
from clouds.dns import DNS, make_config  # noqa: E402

out = {}
for name, drops, thermo in (("inertial", dict(inertial=True), dict(rh_cloud=0.97)),
                            ("tracer_lapse", dict(inertial=False), dict(rh_cloud=1.01, lapse=True)),
                            ("open_box", dict(inertial=True, renew_radius=3.9e-6),
                             dict(setup="slab", rh_clear=0.5, relax_time=0.05))):
    runs = {}
    for backend in ("cpu", "cuda"):
        cfg = make_config(grid=dict(n=8, box=0.05), fluid=dict(u_rms=0.05), thermo=thermo,
                          droplets=dict(n_droplets=40, N_c=3e8, r_mean=8e-6, **drops),
                          run=dict(dt=0.005, diag_every=3, backend=backend))
        d = DNS(cfg)
        d.SORT_EVERY, d.SORT_MIN = 2, 0          # sort by cell at steps 0 and 2 (as large runs do)
        if "renew_radius" in drops:              # five droplets below the renewal radius: renewed at step 1
            r = np.array(d.r)
            r[:5] = 3.0e-6
            d.r = r
            d.step()
            out[name + "_renewed"] = int(d.sources["renewed"])
        for _ in range(3):
            d.step()
        if backend == "cuda":
            # between diagnostics the droplets live only on the device
            out[name + "_on_device"] = bool(d._dev is not None and "r" not in d.__dict__
                                            and ("simulator" in type(d._dev["r"]).__module__) == SIM)
        runs[backend] = d
    a, b = runs["cpu"], runs["cuda"]
    out[f"{name}_S_droplets"] = float(np.max(np.abs(a.S_droplets - b.S_droplets)))   # S ~ 1e-2: absolute
    for key in ("r", "pos", "vel"):
        x, y = getattr(a, key), getattr(b, key)
        out[f"{name}_{key}"] = float(np.max(np.abs(x - y)) / np.max(np.abs(x)))
    for key in ("uh", "thh", "qh", "ql_grid"):
        x, y = gpu.to_host(getattr(a, key)), gpu.to_host(getattr(b, key))   # CuPy on a device
        out[f"{name}_{key}"] = float(np.max(np.abs(x - y)) / np.max(np.abs(x)))
    out[name + "_snapshot_readonly"] = not b.r.flags.writeable
    # a host array assigned between steps is uploaded at the next step (same on both backends)
    for d in (a, b):
        d.r = np.array(d.r) * 1.01
        d.step()
    out[name + "_after_assign_r"] = float(np.max(np.abs(a.r - b.r)) / np.max(a.r))
# the GPU runs on one rank: "cuda" with two ranks is a config error naming the key
from clouds.dns import _resolve_backend  # noqa: E402
from gpu.config import ConfigError  # noqa: E402

try:
    _resolve_backend("cuda", 2)
    out["mpi_error"] = ""
except ConfigError as exc:
    out["mpi_error"] = str(exc)
print(json.dumps(out))
