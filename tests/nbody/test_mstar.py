"""MSTAR tree coordinates: Prim MST, root choice, chain, exact re-expression between trees."""
import numpy as np
import pytest
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial.distance import cdist

from nbody.mstar import build_tree


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_prim_tree_is_the_minimum_spanning_tree(seed):
    rng = np.random.default_rng(seed)
    pos, mass = rng.normal(size=(25, 3)), rng.uniform(0.5, 2, 25)
    tree = build_tree(pos, mass)
    edges = tree.edges()
    assert len(edges) == 24 and sorted(tree.order) == list(range(25))
    length = sum(np.linalg.norm(pos[a] - pos[b]) for a, b in edges)
    assert length == pytest.approx(minimum_spanning_tree(cdist(pos, pos)).sum(), rel=1e-12)
    com = (mass[:, None] * pos).sum(0) / mass.sum()
    assert tree.root == np.argmin(np.linalg.norm(pos - com, axis=1))
    seen = {tree.root}
    for p, c in edges:  # parents first
        assert p in seen
        seen.add(c)


def test_round_trip_and_separations():
    rng = np.random.default_rng(4)
    pos = rng.normal(size=(12, 3))
    tree = build_tree(pos, np.ones(12))
    Q = tree.to_tree(pos)
    assert np.allclose(tree.to_absolute(Q), pos, atol=1e-14)
    for i in range(12):
        for j in range(12):
            if i != j:
                assert np.allclose(tree.separation(i, j, Q), pos[j] - pos[i], atol=1e-13)
                assert np.allclose(tree.path_separation(i, j, Q), pos[j] - pos[i], atol=1e-13)


def test_tight_pair_separation_is_exact_in_tree_coordinates():
    """A binary of separation 1e-12 at distance 1e4: tree coordinates keep its separation to full precision."""
    d = np.array([1e-12, 3e-13, 0.0])
    pos = np.array([[1e4, 0, 0], [1e4, 0, 0] + d, [0, 0, 0], [-1e4, 1.0, 0]])
    tree = build_tree(pos, np.array([1.0, 1.0, 10.0, 1.0]))
    Q = tree.to_tree(pos)  # the edge vector already holds what the absolute coordinates kept
    Q[1 if tree.parent[1] == 0 else 0] = d if tree.parent[1] == 0 else -d  # exact relative vector
    assert np.array_equal(tree.separation(0, 1, Q), d)
    # absolute coordinates cannot represent it: x1 - x0 loses most digits
    assert not np.allclose((pos[1] - pos[0]), d, rtol=1e-6, atol=0)


def test_chain_and_cartesian():
    pos = np.array([[0.0, 0, 0], [1.0, 0, 0], [3.0, 0, 0], [1.1, 0.05, 0]])
    chain = build_tree(pos, np.ones(4), kind="chain")
    degree = np.bincount([p for p, _ in chain.edges()], minlength=4)
    assert degree.max() == 1  # a path
    assert chain.tree_distance(int(chain.order[0]), int(chain.order[-1])) == 3
    cart = build_tree(pos, np.ones(4), kind="cartesian")
    assert np.all(cart.parent == -1) and np.array_equal(cart.to_tree(pos), pos)
    with pytest.raises(ValueError, match="kind"):
        build_tree(pos, np.ones(4), kind="kd")
