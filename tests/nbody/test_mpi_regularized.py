"""Under mpiexec -n 2: GBS substep sequences shared among ranks and the N^2 pair loop split in row blocks, identical to serial."""
import json

import pytest

from tests.mpi_harness import run_mpi

SCRIPT = """
import json, math
import numpy as np
from mpi4py import MPI
import gpu
from nbody import Particles, RegularizedIntegrator
comm = MPI.COMM_WORLD
p = Particles([3.0, 4.0, 5.0], [[1, 3, 0], [-2, -1, 0], [1, -1, 0.0]], np.zeros((3, 3)))
out, rec = RegularizedIntegrator(tolerance=1e-10, comm=comm).integrate(p, 20.0, outputs=[5.0, 10.0])
ser, rec2 = RegularizedIntegrator(tolerance=1e-10, comm=gpu.SerialComm()).integrate(p, 20.0, outputs=[5.0, 10.0])
c = math.sqrt(2000.0)
q = Particles([0.6, 0.4], [[0.4, 0, 0], [-0.6, 0, 0]], [[0, 0.3, 0], [0, -0.45, 0]])
o1, r1 = RegularizedIntegrator(tolerance=1e-10, pn=["1PN", "2.5PN"], c=c, comm=comm).integrate(q, 30.0)
o2, r2 = RegularizedIntegrator(tolerance=1e-10, pn=["1PN", "2.5PN"], c=c, comm=gpu.SerialComm()).integrate(q, 30.0)
# physical-time landing (the KETJU region default): many short integrations ending at given times
pl_mpi, pl_ser = p, p
npl = [0, 0]
for i in range(40):
    pl_mpi, r_m = RegularizedIntegrator(tolerance=1e-10, comm=comm, physical_landing=True).integrate(pl_mpi, 0.05 * (i + 1))
    pl_ser, r_s = RegularizedIntegrator(tolerance=1e-10, comm=gpu.SerialComm(), physical_landing=True).integrate(pl_ser, 0.05 * (i + 1))
    npl[0] += r_m.n_force_evaluations
    npl[1] += r_s.n_force_evaluations
from nbody.regularized import accelerations
rng = np.random.default_rng(3)
X, Mm = rng.normal(size=(37, 3)), rng.uniform(0.1, 1, 37)
a_mpi, p_mpi = accelerations(X, Mm, comm=comm)
a_ser, p_ser = accelerations(X, Mm)
res = {"size": comm.size, "pairloop": float(max(np.abs(a_mpi - a_ser).max(), np.abs(p_mpi - p_ser).max())), "newton": float(np.abs(out.pos - ser.pos).max()),
       "snap": float(np.abs(rec.snapshots[1][1].vel - rec2.snapshots[1][1].vel).max()),
       "pn": float(np.abs(o1.pos - o2.pos).max()), "steps": [rec.n_steps, rec2.n_steps],
       "energy": rec.energy_error,
       "physland": bool(np.array_equal(pl_mpi.pos, pl_ser.pos) and np.array_equal(pl_mpi.vel, pl_ser.vel)),
       "physland_nf": npl}
allres = comm.allgather(res)
if comm.rank == 0:
    print("RESULT" + json.dumps(allres))
"""


@pytest.mark.mpi
def test_two_ranks_match_serial(tmp_path):
    proc = run_mpi(SCRIPT, 2, tmp_path, timeout=600)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")][0]
    res = json.loads(line[len("RESULT"):])
    assert len(res) == 2 and all(r["size"] == 2 for r in res)
    for r in res:
        # the same tableau and decisions on every rank: bitwise identical to the serial run
        assert r["newton"] == 0.0 and r["snap"] == 0.0 and r["pn"] == 0.0
        assert r["pairloop"] == 0.0  # row blocks + Allreduce of the N^2 kernel
        assert r["steps"][0] == r["steps"][1]
        assert r["energy"] < 1e-10
        # the physical-time landing step is taken by the MPI loop exactly as by the serial one
        assert r["physland"] and r["physland_nf"][0] == r["physland_nf"][1]
