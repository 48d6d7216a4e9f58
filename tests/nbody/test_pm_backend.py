"""The PM/TreePM mesh force through the array module gpu.xp: the NumPy run executes the CuPy path's code."""
import types

import numpy as np
import pytest

import gpu
from nbody.cosmological.pm import ParticleMesh
from nbody.cosmological.treepm import TreePMGravity


class _RecordingXP(types.SimpleNamespace):
    """NumPy under another name, counting the FFTs and host->device conversions routed through it."""

    def __init__(self):
        calls = {"fft": 0, "asarray": 0}

        def counted(name, f):
            def g(*a, **k):
                calls[name] += 1
                return f(*a, **k)
            return g

        fft = types.SimpleNamespace(**{n: counted("fft", getattr(np.fft, n)) for n in ("fft", "ifft", "rfft", "irfft")})
        super().__init__(**{n: getattr(np, n) for n in dir(np) if not n.startswith("_")})
        self.fft, self.asarray, self.calls = fft, counted("asarray", np.asarray), calls


def _particles(n=400, box=10.0, seed=2):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, box, (n, 3)), rng.uniform(0.5, 1.5, n)


@pytest.mark.parametrize("gradient,deconvolve,rs", [("fd2", 1, 0.0), ("spectral", 2, 0.0), ("fd4", 2, 0.8)])
def test_mesh_force_runs_its_fourier_work_through_xp(gradient, deconvolve, rs):
    pos, mass = _particles()
    ref = ParticleMesh(16, 10.0, None, gradient=gradient, deconvolve=deconvolve).force(pos, 0.3, mass=mass, rs=rs)
    pm = ParticleMesh(16, 10.0, None, gradient=gradient, deconvolve=deconvolve)
    xp = _RecordingXP()
    pm.xp = pm.fft.xp = xp
    out = pm.force(pos, 0.3, mass=mass, rs=rs)
    # host result; the NumPy path itself uses scipy.fft (threaded) and, for fd2/fd4, one inverse FFT with the
    # difference taken in real space, so the two agree to round-off, not bit for bit
    assert type(out) is np.ndarray
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-12 * np.abs(ref).max())
    # forward: rfft, fft, fft; three inverse transforms: ifft, ifft, irfft each
    assert xp.calls["fft"] == 3 + 3 * 3
    assert xp.calls["asarray"] >= 1 + 3  # the density and the Fourier-space constants went to "the device"
    assert np.abs(ref).max() > 0


def test_power_spectrum_fft_through_xp():
    pos, _ = _particles()
    ref = ParticleMesh(16, 10.0, None).power_spectrum(pos)
    pm = ParticleMesh(16, 10.0, None)
    pm.xp = pm.fft.xp = xp = _RecordingXP()
    out = pm.power_spectrum(pos)
    assert xp.calls["fft"] == 3
    for a, b in zip(out, ref):  # numpy.fft through xp, scipy.fft on the host path: round-off apart
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=0)


def test_backend_cuda_without_cupy_raises():
    if gpu.available():
        pytest.skip("CuPy and a device are present")
    with pytest.raises(gpu.GPUUnavailableError, match="no usable GPU"):
        ParticleMesh(16, 10.0, None, backend="cuda")
    with pytest.raises(gpu.GPUUnavailableError):
        TreePMGravity(10.0, 32, backend="cuda")
    assert ParticleMesh(16, 10.0, None, backend="auto").xp is np
    with pytest.raises(ValueError, match="backend"):
        ParticleMesh(16, 10.0, None, backend="gpu")


def test_pm_config_backend_cuda_without_a_device(tmp_path):
    if gpu.available():
        pytest.skip("CuPy and a device are present")
    from gpu.config import ConfigError
    from nbody.cosmological import PMConfig, PMSimulation

    with pytest.raises(gpu.GPUUnavailableError):
        PMSimulation(PMConfig(nside=8, backend="cuda", output_dir=str(tmp_path / "o")))
    with pytest.raises(ConfigError, match="backend"):
        PMSimulation(PMConfig(nside=8, backend="gpu", output_dir=str(tmp_path / "o")))
