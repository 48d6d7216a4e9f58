"""Run under NUMBA_ENABLE_CUDASIM=1, or on a GPU (tests/clouds/test_cuda_droplets.py): every CUDA droplet kernel
against its CPU twin on a small random problem. Prints one JSON object {check: max error relative to the largest value of the quantity}."""
import json
import os
import sys

import numpy as np

SIM = os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")   # else on a real device (gpu tests)
from numba import cuda  # noqa: E402

from clouds import drag  # noqa: E402
from clouds import droplets as dmod  # noqa: E402
from clouds import thermo as th  # noqa: E402
from clouds._kernels import cuda_droplets as C  # noqa: E402
from clouds._kernels import droplets as K  # noqa: E402

rng = np.random.default_rng(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
n, ng, L = 48, 6, 0.05
dx = np.full(3, L / ng)
box = np.full(3, L)
pos = rng.random((n, 3)) * L
pos[0] = [L * (1 - 1e-17), 0.0, L / ng * 3]          # edge cases: wrap, node
fields = np.empty((6, ng, ng, ng))
fields[:3] = rng.normal(0, 0.05, (3, ng, ng, ng))
fields[3] = rng.normal(0, 0.3, (ng, ng, ng))          # theta' [K]
q0 = float(th.mixing_ratio_from_rh(9e4, 283.15, 1.0))
fields[4] = q0 * (1 + rng.normal(0, 0.02, (ng, ng, ng)))
fields[5] = rng.normal(0, 0.5, (ng, ng, ng))          # zeta [m]
r = rng.gamma(20, 8e-6 / 20, n)
r[:4] = [0.3e-6, 1e-6, 0.06e-6, 25e-6]                # haze, small, near dry, large
rd = np.full(n, 0.05e-6)
kap = np.full(n, 0.6)
mult = rng.uniform(1e3, 1e4, n)
out = {}


def dev(a):
    return cuda.to_device(np.ascontiguousarray(a))


def err(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) if np.size(a) else 0.0


# interpolation
vals = np.empty((n, 6))
K.interpolate(fields, pos, dx, vals, ng, 0)
dvals = cuda.device_array((6, n))
C.interpolate(dev(fields), dev(pos.T), dx, dvals)
out["interpolate"] = float(np.max(np.abs(dvals.copy_to_host().T - vals).max(axis=0) / np.abs(vals).max(axis=0)))

# condensation (local S with hydrostatic pressure, implicit growth, mass change)
T0, p0, dt = 283.15, 9e4, 0.01
G0 = float(dmod.growth.growth_parameter(T0, p0))
A0 = float(dmod.koehler.curvature_A(T0))
ro, dm, S = np.empty(n), np.empty(n), np.empty(n)
K.condense(vals, r, rd, kap, mult, T0, p0, G0, A0, dt, 3, 4, 5, ro, dm, S)
dro, ddm, dS = cuda.device_array(n), cuda.device_array(n), cuda.device_array(n)
C.condense(dev(vals.T), dev(r), dev(rd), dev(kap), dev(mult), T0, p0, G0, A0, dt, 3, 4, 5, dro, ddm, dS)
out["condense_r"] = err(dro.copy_to_host(), ro) / r.max()
out["condense_S"] = err(dS.copy_to_host(), S)
out["condense_dm"] = err(ddm.copy_to_host(), dm) / np.max(mult * 4 / 3 * np.pi * th.RHO_W * r ** 3)

# liquid mass
m = np.empty(n)
K.liquid_mass(r, rd, mult, m)
dmass = cuda.device_array(n)
C.liquid_mass(dev(r), dev(rd), dev(mult), dmass)
out["liquid_mass"] = err(dmass.copy_to_host(), m) / m.max()

# deposition: atomics add in an order the CPU does not share; each cell sums <= n terms of one sign
g = np.zeros((ng, ng, ng))
K.deposit(pos, dm, dx, g, ng, 0)
dg = cuda.to_device(np.zeros((ng, ng, ng)))
C.deposit(dev(pos.T), dev(dm), dx, dg)
out["deposit"] = err(dg.copy_to_host(), g) / np.abs(g).max()

# inertial motion with settling
mu = float(th.dynamic_viscosity(T0))
p1, v1 = pos.copy(), rng.normal(0, 0.05, (n, 3))
dp1, dv1 = dev(p1.T), dev(v1.T)
tau = drag.stokes_time(r, T0)
K.move_droplets(p1, v1, np.ascontiguousarray(vals[:, :3]), tau, -th.G_ACC * tau, 0.2, box, True)
C.move_inertial(dp1, dv1, dev(vals[:, :3].T), dev(r), mu, True, 0.2, box)
out["move_inertial_pos"] = err(dp1.copy_to_host().T, p1) / L
out["move_inertial_vel"] = err(dv1.copy_to_host().T, v1) / np.abs(v1).max()

# tracer Heun step
p2, v2 = pos.copy(), np.zeros((n, 3))
dp2, dv2 = dev(p2.T), dev(v2.T)
K.tracer_heun(p2, v2, np.ascontiguousarray(vals[:, :3]), fields[:3], dx, ng, 0, 0.2, box)
C.tracer_heun(dp2, dv2, dev(vals[:, :3].T), dev(fields[:3]), dx, 0.2, box)
out["tracer_heun_pos"] = err(dp2.copy_to_host().T, p2) / L
out["tracer_heun_vel"] = err(dv2.copy_to_host().T, v2) / np.abs(v2).max()
print(json.dumps(out))
