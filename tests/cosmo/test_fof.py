"""Friends-of-friends against brute-force connected components; periodic joining; catalogue."""
import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from cosmo.fof import fof_labels, friends_of_friends
from tests.mpi_harness import run_mpi


def brute_partition(pos, box, ll):
    d = pos[None] - pos[:, None]
    if box:
        d -= box * np.round(d / box)
    adj = (np.linalg.norm(d, axis=-1) <= ll)
    _, lab = connected_components(coo_matrix(adj), directed=False)
    return lab


def same_partition(a, b):
    """Two labelings define the same partition iff the label pairs are in bijection."""
    pairs = set(zip(a.tolist(), b.tolist()))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


def clumpy(n=600, box=10.0, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, box, (15, 3))
    centres[0] = [0.05, 5.0, 9.97]  # a clump straddling two faces
    k = rng.integers(0, 15, n)
    pos = centres[k] + 0.15 * rng.normal(size=(n, 3))
    pos[: n // 3] = rng.uniform(0, box, (n // 3, 3))
    return pos % box


@pytest.mark.parametrize("periodic", [True, False])
def test_groups_equal_connected_components(periodic):
    pos = clumpy()
    box = 10.0 if periodic else None
    for ll in (0.05, 0.12, 0.3):
        lab = fof_labels(pos, box, ll)
        assert same_partition(lab, brute_partition(pos, box, ll))


def test_boundary_group_is_joined():
    box = 10.0
    pos = np.array([[9.95, 5, 5], [0.05, 5, 5], [0.15, 5.0, 5.0], [5, 5, 5], [5, 9.96, 0.02], [5, 0.03, 9.99]])
    cat = friends_of_friends(pos, box, linking_length=0.12, vel=np.arange(18.0).reshape(6, 3))
    g = cat.group
    assert g[0] == g[1] == g[2] and g[4] == g[5] and g[3] == -1  # isolated particle: out of halo
    assert cat.ngroups == 2 and list(cat.npart) == [3, 2]
    # centre of the 3-member group straddles x = 0: (−0.05 + 0.05 + 0.15)/3 = 0.05
    assert np.allclose(cat.centre[0], [0.05, 5, 5])
    assert np.allclose(cat.centre[1], [5, (9.96 + 10.03) / 2 % 10, (10.02 + 9.99) / 2 % 10])
    assert np.allclose(cat.velocity[0], np.arange(18.0).reshape(6, 3)[:3].mean(0))


def test_catalogue_mass_and_min_size():
    pos = clumpy(seed=2)
    rng = np.random.default_rng(1)
    m = rng.uniform(1, 2, len(pos))
    cat = friends_of_friends(pos, 10.0, b=0.2, mass=m, min_size=5)
    assert np.all(cat.npart >= 5) and np.all(np.diff(cat.npart) <= 0)
    assert np.allclose(cat.mass, [m[cat.group == i].sum() for i in range(cat.ngroups)])
    lab = brute_partition(pos, 10.0, cat.linking_length)
    sizes = np.bincount(lab)[lab]
    assert np.array_equal(cat.in_halo, sizes >= 5)
    assert cat.linking_length == pytest.approx(0.2 * 10.0 / len(pos) ** (1 / 3))


def test_bad_input():
    pos = clumpy(50)
    with pytest.raises(ValueError, match="b must be in"):
        friends_of_friends(pos, 10.0, b=1.5)
    with pytest.raises(ValueError, match="min_size"):
        friends_of_friends(pos, 10.0, min_size=0)
    with pytest.raises(ValueError, match="inside the periodic box"):
        friends_of_friends(pos + 20, 10.0)
    with pytest.raises(ValueError, match="half the box"):
        fof_labels(pos, 10.0, 6.0)


MPI_SCRIPT = """
import numpy as np, gpu
from cosmo.fof import friends_of_friends
comm = gpu.get_comm()
rng = np.random.default_rng(5)
c = rng.uniform(0, 20, (40, 3)); pos = (c[rng.integers(0, 40, 4000)] + 0.3 * rng.normal(size=(4000, 3))) % 20
cat = friends_of_friends(pos, 20.0, b=0.2, comm=comm)
if comm.rank == 0:
    np.save("groups_%d.npy" % comm.size, cat.group)
"""


@pytest.mark.mpi
def test_mpi_stitching_equals_serial(tmp_path):
    run_mpi(MPI_SCRIPT, 2, tmp_path, timeout=240)
    run_mpi(MPI_SCRIPT, 1, tmp_path, timeout=240)
    a, b = np.load(tmp_path / "groups_1.npy"), np.load(tmp_path / "groups_2.npy")
    assert np.array_equal(a, b) and (a >= 0).mean() > 0.3
