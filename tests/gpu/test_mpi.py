import numpy as np
import pytest

import gpu
from gpu.mpi import SerialComm
from tests.mpi_harness import run_mpi


def test_block_range_partitions_exactly():
    for n in (0, 1, 7, 100):
        for size in (1, 2, 3, 5):
            blocks = [gpu.block_range(n, size, r) for r in range(size)]
            assert blocks[0][0] == 0 and blocks[-1][1] == n
            assert all(blocks[i][1] == blocks[i + 1][0] for i in range(size - 1))
            lens = [hi - lo for lo, hi in blocks]
            assert max(lens) - min(lens) <= 1
    with pytest.raises(ValueError, match="rank"):
        gpu.block_range(10, 2, 2)


def test_serial_comm_collectives():
    c = SerialComm()
    a = np.arange(5.0)
    assert np.array_equal(gpu.allreduce_sum(c, a), a)
    assert c.bcast(3) == 3 and c.allgather(2) == [2]


def test_get_comm_passthrough():
    c = SerialComm()
    assert gpu.get_comm(c) is c


SCRIPT = """
import sys
import numpy as np
import gpu
comm = gpu.get_comm()
n = 1000
x = np.sin(np.arange(n) * 0.37) ** 2
lo, hi = gpu.block_range(n, comm.size, comm.rank)
partial = np.array([x[lo:hi].sum(), float(hi - lo)])
total = gpu.allreduce_sum(comm, partial)
if comm.rank == 0:
    print(comm.size, repr(float(total[0])), repr(float(total[1])))
"""


@pytest.mark.mpi
@pytest.mark.parametrize("n", [1, 2, 3])
def test_allreduce_matches_serial(tmp_path, n):
    proc = run_mpi(SCRIPT, n, tmp_path, timeout=180)
    size, s, count = proc.stdout.split()
    assert int(size) == n  # really launched n ranks
    serial = (np.sin(np.arange(1000) * 0.37) ** 2).sum()
    assert float(count) == 1000
    assert float(s) == pytest.approx(serial, rel=1e-13)
