"""DTFE densities: mass conservation, uniform lattices, pairwise density statistics."""
import numpy as np
import pytest
from scipy.spatial import Delaunay

from cosmo.dtfe import contiguous_voronoi_volumes, density_spectrum, dtfe_density
from tests.mpi_harness import run_mpi


def clustered(n=1500, box=10.0, seed=0):
    rng = np.random.default_rng(seed)
    pos = rng.uniform(0, box, (n, 3))
    c = rng.uniform(0, box, (6, 3))
    pos[: n // 2] = c[rng.integers(0, 6, n // 2)] + 0.4 * rng.normal(size=(n // 2, 3))
    return pos % box


def test_contiguous_cells_tile_the_box_four_times():
    pos = clustered()
    W, tiled = contiguous_voronoi_volumes(pos, 10.0)
    assert tiled == pytest.approx(1000.0, rel=1e-10)
    assert W.sum() == pytest.approx(4 * 1000.0, rel=1e-10)  # each tetrahedron has 4 vertices


def test_density_field_integrates_to_total_mass():
    """Integrate the linearly interpolated DTFE field over an independent periodic tessellation."""
    box = 10.0
    pos = clustered(800, seed=3)
    m = np.random.default_rng(1).uniform(0.5, 1.5, len(pos))
    rho = dtfe_density(pos, box, mass=m)
    shifts = np.array([[i, j, k] for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)]) * box
    pts = (pos[None] + shifts[:, None]).reshape(-1, 3)
    ids = np.tile(np.arange(len(pos)), len(shifts))
    keep = np.all((pts > -3) & (pts < box + 3), axis=1)
    pts, ids = pts[keep], ids[keep]
    tri = Delaunay(pts)
    s = tri.simplices
    a = pts[s[:, 0]]
    vol = np.abs(np.einsum("ij,ij->i", pts[s[:, 1]] - a, np.cross(pts[s[:, 2]] - a, pts[s[:, 3]] - a))) / 6
    cen = pts[s].mean(1)
    inside = np.all((cen >= 0) & (cen < box), axis=1)
    mass_integral = np.sum(vol[inside] * rho[ids[s[inside]]].mean(1))
    assert mass_integral == pytest.approx(m.sum(), rel=1e-9)


def test_bcc_lattice_has_uniform_density():
    """The BCC lattice has a unique (non-degenerate) Delaunay tessellation: rho = n exactly."""
    box, nside = 8.0, 8
    g = (np.arange(nside) + 0.25) * box / nside
    cube = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    pos = np.vstack([cube, cube + 0.5 * box / nside])
    rho = dtfe_density(pos, box)
    n = len(pos) / box ** 3
    assert np.allclose(rho, n, rtol=1e-9)


def test_density_spectrum_of_gaussian_correlation():
    """xi = exp(-r^2/2s^2) has P(k) = (2 pi s^2)^{3/2} exp(-k^2 s^2 / 2)."""
    s = 1.5
    r = np.linspace(0, 15, 3001)
    k = np.array([0.1, 0.5, 1.0])
    p = density_spectrum(r, np.exp(-r ** 2 / (2 * s * s)), k)
    assert np.allclose(p, (2 * np.pi * s * s) ** 1.5 * np.exp(-k ** 2 * s * s / 2), rtol=1e-6)


def test_bad_input():
    with pytest.raises(ValueError, match="at least 5"):
        dtfe_density(np.random.default_rng(0).uniform(0, 1, (4, 3)), 1.0)
    with pytest.raises(ValueError, match="inside the periodic box"):
        dtfe_density(np.random.default_rng(0).uniform(1, 2, (40, 3)), 1.0)


MPI_SCRIPT = """
import numpy as np, gpu
from cosmo.dtfe import dtfe_density
comm = gpu.get_comm()
rng = np.random.default_rng(2)
pos = rng.uniform(0, 10, (1200, 3)); pos[:400] = (5 + 0.7 * rng.normal(size=(400, 3))) % 10
rho = dtfe_density(pos, 10.0, comm=comm)
if comm.rank == 0:
    np.save("rho_%d.npy" % comm.size, rho)
"""


@pytest.mark.mpi
def test_mpi_slabs_equal_serial(tmp_path):
    run_mpi(MPI_SCRIPT, 2, tmp_path, timeout=240)
    run_mpi(MPI_SCRIPT, 1, tmp_path, timeout=240)
    a, b = np.load(tmp_path / "rho_1.npy"), np.load(tmp_path / "rho_2.npy")
    assert np.allclose(a, b, rtol=1e-10)
