"""Cosmological PM simulation (nbody.cosmological): FFT, LPT, force, FastPM linear growth, power spectrum, MPI."""
import numpy as np
import pytest

import gpu
from nbody.cosmological import CosmologyConfig, PMConfig, PMSimulation, lpt_displacements, measure_power
from nbody.cosmological.fft import SlabFFT
from nbody.cosmological.pm import ParticleMesh
from tests.mpi_harness import run_mpi

L, NS = 256.0, 32


def test_slab_fft_matches_numpy():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(16, 16, 16))
    f = SlabFFT(16, gpu.get_comm(None))
    A = f.forward(a)
    assert np.allclose(A, np.fft.rfftn(a), atol=1e-12)
    assert np.allclose(f.inverse(A), a, atol=1e-13)


@pytest.mark.parametrize("gradient", ["fd2", "fd4"])
def test_real_space_gradient_is_the_fourier_space_kernel(gradient):
    """The serial force takes fd2 / fd4 as a finite difference of the potential in real space (one inverse FFT);
    it must equal the Fourier-space kernel i sin(k d) / d (fd2), i [8 sin(k d) - sin(2 k d)] / 6d (fd4) applied to
    the potential and transformed per component, to round-off (same linear operator). Also repeated calls (the
    kept work arrays) give the same numbers."""
    from nbody.cosmological import _kernels as K

    n, box, rs, om = 24, 100.0, 5.0, 0.3
    rng = np.random.default_rng(4)
    pos = np.concatenate([rng.random((3000, 3)) * box, (50 + 3 * rng.normal(size=(1000, 3))) % box])
    m = rng.random(len(pos)) + 0.5
    pm = ParticleMesh(n, box, gpu.SerialComm(), gradient=gradient, deconvolve=2)
    f = pm.force(pos, om, mass=m, rs=rs)
    F = np.fft
    dk = F.fft(F.fft(F.rfft(pm.density(pos, m), axis=2), axis=1), axis=0)
    inv = np.zeros_like(pm.k2)
    ok = pm.k2 > 0
    inv[ok] = np.exp(-pm.k2[ok] * rs ** 2) / (pm.k2[ok] * pm.window[ok] ** 4)
    pk = -1.5 * om * dk * inv
    pk[pm.fft.nyquist_mask()] = 0
    field = np.empty((n + 1, n, n, 3))
    for c in range(3):
        field[:n, ..., c] = F.irfft(F.ifft(F.ifft(-1j * pm.kgrad[gradient][c] * pk, axis=0), axis=1), n=n, axis=2)
    field[n] = field[0]
    ref = np.empty_like(f)
    K.cic_interpolate(pm.grid_positions(pos.copy()), field, ref)
    assert np.abs(f - ref).max() < 1e-13 * np.abs(ref).max()
    assert np.array_equal(pm.force(pos, om, mass=m, rs=rs), f)


@pytest.mark.parametrize("nmesh,gradient,deconvolve", [(64, "fd2", 1), (32, "spectral", 2)])
def test_pm_force_on_perturbed_lattice(nmesh, gradient, deconvolve):
    """A small plane-wave displacement Psi of a lattice: F = (3/2) Omega_m Psi (lap phi = 1.5 Omega_m delta)."""
    pm = ParticleMesh(nmesh, L, gpu.get_comm(None), gradient=gradient, deconvolve=deconvolve)
    g = np.arange(NS) * L / NS
    q = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3) + 0.5 * L / nmesh
    for m, tol in (((2, 0, 0), 0.002), ((0, 6, 0), 0.01), ((1, 1, 1), 0.01)):
        kv = 2 * np.pi / L * np.array(m)
        kh = kv / np.linalg.norm(kv)
        s = np.sin(q @ kv)
        F = pm.force((q + 0.01 * s[:, None] * kh) % L, omega_m=0.3)
        amp = np.sum((F @ kh) * s) / np.sum(s * s)
        assert amp == pytest.approx(1.5 * 0.3 * 0.01, rel=tol)


def test_2lpt_two_crossed_waves_analytic():
    """delta = A cos(kx) + B cos(ky): phi2 = -A B cos(kx) cos(ky) / (2 k^2) and Psi2 = grad phi2 (Zel'dovich Psi1 exact)."""
    n, box = 16, 100.0
    f = SlabFFT(n, gpu.get_comm(None))
    x = np.arange(n) * box / n
    X, Y, _ = np.meshgrid(x, x, x, indexing="ij")
    k = 2 * np.pi / box * 2
    A, B = 0.3, 0.2
    delta = A * np.cos(k * X) + B * np.cos(k * Y)
    psi1, psi2 = lpt_displacements(f.forward(delta), f, box, order=2)
    assert np.allclose(psi1[..., 0], -A / k * np.sin(k * X), atol=1e-12)  # div Psi1 = -delta
    assert np.allclose(psi1[..., 1], -B / k * np.sin(k * Y), atol=1e-12)
    phi2_x = A * B / (2 * k) * np.sin(k * X) * np.cos(k * Y)
    phi2_y = A * B / (2 * k) * np.cos(k * X) * np.sin(k * Y)
    assert np.allclose(psi2[..., 0], phi2_x, atol=1e-12) and np.allclose(psi2[..., 1], phi2_y, atol=1e-12)
    assert np.allclose(psi2[..., 2], 0, atol=1e-12)


def test_second_order_growth_eds_limit():
    from astropy.cosmology import FlatLambdaCDM

    from nbody.cosmological import growth_tables

    g = growth_tables(FlatLambdaCDM(H0=70, Om0=0.3, Tcmb0=0))
    a = np.array([0.02, 0.5, 1.0])
    om = 0.3 / (0.3 + 0.7 * a ** 3)
    # Bouchet et al. 1995 fits: D2 = -(3/7) Omega^(-1/143) D1^2, f2 = 2 Omega^(6/11), good to < 0.5%
    assert np.allclose(g.D2(a) / g.D1(a) ** 2, -3 / 7 * om ** (-1 / 143), rtol=3e-3)
    assert np.allclose(g.f2(a), 2 * om ** (6 / 11), rtol=5e-3)
    # FastPM kick over a step is exact for the growing mode: G_f(a1) - G_f(a0)
    assert g.kick_factor(0.1, 0.3, 0.2) * 1.5 * 0.3 * g.D1(0.2) == pytest.approx(g.Gf(0.3) - g.Gf(0.1), rel=1e-12)


def lagrangian_growth(sim, ref):
    """Growth of the displacement field per k shell, projected on the reference displacement ``ref``."""
    pos, _, ids = sim.gather()
    g = np.arange(NS) * L / NS
    q = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3) + 0.5 * sim.pm.cell
    s = pos - q
    s -= L * np.round(s / L)
    sk = np.stack([np.fft.rfftn(s[:, c].reshape(NS, NS, NS)) for c in range(3)])
    if ref is None:
        return sk
    fr = np.fft.fftfreq(NS, 1 / NS)
    kk = np.sqrt(fr[:, None, None] ** 2 + fr[None, :, None] ** 2 + np.arange(NS // 2 + 1)[None, None, :] ** 2)
    idx = np.rint(kk).astype(int).ravel()
    num = np.bincount(idx, np.real(np.sum(sk * np.conj(ref), 0)).ravel())
    den = np.bincount(idx, np.sum(np.abs(ref) ** 2, 0).ravel())
    return num[1:5] / den[1:5]


@pytest.fixture(scope="module")
def planck_run():
    """32^3 particles, 256 Mpc/h, 2LPT from z = 49, 10 FastPM steps; P(k) at start, z = 1 and z = 0."""
    sim = PMSimulation(PMConfig(box=L, nside=NS, a_start=0.02, nsteps=10, output_redshifts=[1.0, 0.0]))
    sim.initial_conditions()
    out = {"start": sim.measure_power(), "s0": lagrangian_growth(sim, None), "D0": sim.growth.D1(0.02)}
    sim.run(write=False, callback=lambda s: out.__setitem__(round(1 / s.a - 1, 6), (s.measure_power(), lagrangian_growth(s, out["s0"]))))
    return sim, out


def test_initial_power_matches_input(planck_run):
    sim, out = planck_run
    k, p, nmodes = out["start"]
    plin = sim.linear_power(k) * out["D0"] ** 2
    sel = (k < 0.5 * np.pi * NS / L) & (nmodes > 0)  # below half the particle Nyquist frequency
    # each shell within 4 sigma of cosmic variance sqrt(2/N_modes) (+3% for the CIC measurement)
    assert np.all(np.abs(p[sel] / plin[sel] - 1) < 4 * np.sqrt(2 / nmodes[sel]) + 0.03)
    w = nmodes[sel]
    assert np.sum(w * p[sel] / plin[sel]) / w.sum() == pytest.approx(1.0, abs=0.05)


def test_large_scales_grow_as_linear_theory(planck_run):
    """Lagrangian displacement modes at k <= 3 k_f grow by D(a)/D(a_start) (FastPM, 10 steps) to 1.5%."""
    sim, out = planck_run
    for z in (1.0, 0.0):
        growth = out[z][1] * out["D0"] / sim.growth.D1(1 / (1 + z))
        assert np.all(np.abs(growth[:3] - 1) < 0.015), (z, growth)
        # and P(k) on the largest scales grows as D^2 (same seed: the cosmic variance cancels)
        k, p, _ = out[z][0]
        ratio = p[:3] / out["start"][1][:3] * (out["D0"] / sim.growth.D1(1 / (1 + z))) ** 2
        assert np.all(np.abs(ratio - 1) < 0.1), ratio


def test_nonlinear_boost_at_late_times(planck_run):
    sim, out = planck_run
    k, p, _ = out[0.0][0]
    plin = sim.linear_power(k)
    band = (k > 0.25) & (k < 0.35)
    boost0 = np.mean(p[band] / plin[band])
    k1, p1, _ = out[1.0][0]
    boost1 = np.mean(p1[band] / (sim.linear_power(k1[band]) * sim.growth.D1(0.5) ** 2))
    assert boost0 > 1.15 and boost0 > boost1 + 0.05


def test_fastpm_factors_beat_leapfrog_with_few_steps():
    cos = CosmologyConfig(sigma8=0.05)
    disp = {}
    for stepping, nsteps in (("fastpm", 4), ("fastpm", 32), ("leapfrog", 4)):
        sim = PMSimulation(PMConfig(box=L, nside=16, a_start=0.02, nsteps=nsteps, stepping=stepping, lpt_order=1,
                                    cosmology=cos))
        sim.initial_conditions()
        x0 = sim.gather()[0]
        for a1 in sim.a_steps[1:]:
            sim.step(float(a1))
        d = sim.gather()[0] - x0
        disp[stepping, nsteps] = np.std(d - L * np.round(d / L))
    assert disp["fastpm", 4] == pytest.approx(disp["fastpm", 32], rel=0.02)
    assert abs(disp["leapfrog", 4] / disp["fastpm", 32] - 1) > 0.2


def test_snapshot_roundtrip(tmp_path):
    from nbody.snapshot import read_snapshot

    sim = PMSimulation(PMConfig(box=64.0, nside=8, a_start=0.05, nsteps=3, output_redshifts=[1.0, 0.0]))
    paths = sim.run(tmp_path)
    assert [p.name for p in paths] == ["snap_000.hdf5", "snap_001.hdf5"]
    snap = read_snapshot(paths[1])
    pos, vel, ids = sim.gather()
    dm = snap.particles[1]
    assert snap.cosmological and snap.header["Redshift"] == pytest.approx(0.0, abs=1e-12)
    assert np.allclose(dm.pos, pos) and np.allclose(dm.vel, vel)  # peculiar km/s after the sqrt(a) round trip
    assert np.all(dm.pos >= 0) and np.all(dm.pos < 64.0)
    # total mass = Omega_m rho_crit V  (rho_crit = 2.775e11 h^2 Msun/Mpc^3)
    assert dm.mass.sum() * 1e10 == pytest.approx(0.30966 * 2.77537e11 * 64.0 ** 3, rel=1e-4)
    assert snap.units["UnitLength_in_cm"] == pytest.approx(3.085678e24)


def test_config_errors():
    from gpu.config import ConfigError

    with pytest.raises(ConfigError, match="nside"):
        PMSimulation(PMConfig(nside=2))
    with pytest.raises(ConfigError, match="stepping"):
        PMSimulation(PMConfig(stepping="rk4"))
    with pytest.raises(ValueError, match="output_redshifts"):
        PMSimulation(PMConfig(a_start=0.5, output_redshifts=[3.0]))


MPI_SCRIPT = """
import numpy as np, gpu
from nbody.cosmological import PMConfig, PMSimulation
comm = gpu.get_comm()
sim = PMSimulation(PMConfig(box=128.0, nside=16, a_start=0.05, nsteps=5), comm=comm)
sim.run(write=False)
g = sim.gather()
k, p, n = sim.measure_power()
if comm.rank == 0:
    np.savez("pm_%d.npz" % comm.size, pos=g[0], vel=g[1], ids=g[2], p=p)
"""


@pytest.mark.mpi
def test_mpi_two_ranks_equal_serial(tmp_path):
    run_mpi(MPI_SCRIPT, 2, tmp_path, timeout=300)
    run_mpi(MPI_SCRIPT, 1, tmp_path, timeout=300)
    a, b = np.load(tmp_path / "pm_1.npz"), np.load(tmp_path / "pm_2.npz")
    assert np.array_equal(a["ids"], b["ids"])
    d = a["pos"] - b["pos"]
    d -= 128.0 * np.round(d / 128.0)
    # "agree to round-off" (PMSimulation docstring): the CIC sums run in another order on two ranks;
    # measured 2.8e-14 Mpc/h in positions, 1.5e-12 km/s in velocities (|v| up to 1.2e3), 2.8e-15 in P(k)
    assert np.max(np.abs(d)) < 1e-11
    assert np.allclose(a["vel"], b["vel"], rtol=1e-12, atol=1e-9)
    assert np.allclose(a["p"], b["p"], rtol=1e-12)


def test_cli_pm(tmp_path, capsys):
    import json

    from nbody.__main__ import main
    from nbody.snapshot import read_snapshot

    cfg = tmp_path / "pm.toml"
    cfg.write_text(f'box = 64.0\nnside = 8\nnsteps = 3\na_start = 0.05\noutput_redshifts = [0.0]\n'
                   f'output_dir = "{tmp_path / "out"}"\n[cosmology]\nsigma8 = 0.9\n')
    assert main(["pm", str(cfg), "--json", str(tmp_path / "pm.json"), "--quiet"]) == 0
    snap = read_snapshot(tmp_path / "out" / "snap_000.hdf5")
    assert len(snap.particles[1]) == 512 and snap.header["BoxSize"] == 64.0
    assert json.loads((tmp_path / "pm.json").read_text())["config"]["nside"] == 8
    (tmp_path / "bad.toml").write_text("nside = 3\n")
    capsys.readouterr()
    assert main(["pm", str(tmp_path / "bad.toml")]) == 2
    assert "'nside'" in capsys.readouterr().err


@pytest.mark.slow
def test_linear_growth_64cubed_30_vs_8_steps():
    """64^3 particles in 512 Mpc/h: the largest modes grow as D(a) within 1.5%; 8 FastPM steps match 30 to 0.5%."""
    global NS, L
    ns_old, l_old = NS, L
    NS, L = 64, 512.0
    try:
        res = {}
        for nsteps in (8, 30):
            sim = PMSimulation(PMConfig(box=L, nside=NS, a_start=0.02, nsteps=nsteps))
            sim.initial_conditions()
            s0 = lagrangian_growth(sim, None)
            for a1 in sim.a_steps[1:]:
                sim.step(float(a1))
            res[nsteps] = lagrangian_growth(sim, s0) * sim.growth.D1(0.02) / sim.growth.D1(1.0)
        assert np.all(np.abs(res[30][:3] - 1) < 0.015), res
        assert np.all(np.abs(res[8][:3] - res[30][:3]) < 0.005), res
    finally:
        NS, L = ns_old, l_old


FFT_SCRIPT = """
import numpy as np, gpu
from nbody.cosmological.fft import SlabFFT
comm = gpu.get_comm()
n = 16
a = np.random.default_rng(0).normal(size=(n, n, n))
f = SlabFFT(n, comm)
A = f.forward(a[f.x0:f.x0 + f.nxl])
back = f.inverse(A)
ref = SlabFFT(n, gpu.SerialComm())
Aref = ref.forward(a)
ok = (np.array_equal(A, Aref[:, f.y0:f.y0 + f.nyl]) and np.array_equal(back, ref.inverse(Aref)[f.x0:f.x0 + f.nxl]))
assert all(comm.allgather(ok)), "slab FFT differs from the serial transform"
if comm.rank == 0:
    print("EXACT")
"""


@pytest.mark.mpi
@pytest.mark.parametrize("nranks", [2, 4])
def test_slab_fft_on_ranks_is_the_serial_transform_bit_for_bit(tmp_path, nranks):
    """The module docstring's claim: the 1-D transforms are the same on any number of ranks."""
    assert "EXACT" in run_mpi(FFT_SCRIPT, nranks, tmp_path, timeout=120).stdout


def test_nan_or_stray_positions_raise_instead_of_writing_outside_the_mesh():
    """A NaN position made the CIC kernels write out of bounds (heap corruption); now the API edge raises
    a ValueError naming the argument, and the kernels skip and count what they cannot place."""
    from nbody.cosmological import _kernels as K

    pm = ParticleMesh(16, 64.0, gpu.SerialComm())
    pos = np.random.default_rng(1).uniform(0, 64.0, size=(50, 3))
    pm.force(pos, 0.3)  # fine
    bad = pos.copy()
    bad[7, 1] = np.nan
    for call in (lambda: pm.density(bad), lambda: pm.force(bad, 0.3), lambda: pm.power_spectrum(bad),
                 lambda: measure_power(bad, 64.0, 16)):
        with pytest.raises(ValueError, match="pos holds 1 particle.*NaN or infinite"):
            call()
    with pytest.raises(ValueError, match="mass holds 1 NaN"):
        pm.density(pos, np.where(np.arange(50) == 3, np.inf, 1.0))
    out = pos.copy()
    out[0, 0] = 64.0  # x cell n: the ghost plane's right neighbour does not exist
    with pytest.raises(ValueError, match=r"1 particle\(s\) lie outside their rank's mesh slab"):
        pm.density(out)
    # measure_power wraps positions; x = -1e-20 wraps to 64.0 - tiny = 64.0 in floating point: kept in the box
    tiny = pos.copy()
    tiny[0, 0] = -1e-20
    k, p, nm = measure_power(tiny, 64.0, 16)
    assert np.all(np.isfinite(p[nm > 0]))
    # the kernels on their own: a grid view inside a zero frame; rows that cannot be placed are skipped
    frame = np.zeros((4 + 3, 8, 8))
    grid = frame[1:-1]  # nxl = 4 (+ ghost)
    g = np.array([[1.5, 2.5, 3.5], [np.nan, 1.0, 1.0], [-0.5, 1.0, 1.0], [4.0, 1.0, 1.0], [0.5, 1e300, -7.25]])
    assert K.cic_deposit(g, np.ones(5), grid) == 3
    assert frame[0].sum() == 0 and frame[-1].sum() == 0 and grid.sum() == pytest.approx(2.0)
    f = np.ones((5, 8, 8, 3))
    o = np.empty((5, 3))
    assert K.cic_interpolate(g, f, o) == 3
    assert np.allclose(o[[0, 4]], 1.0) and np.all(np.isnan(o[1:4]))
