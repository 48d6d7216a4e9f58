import logging

import numpy as np
import pytest

import gpu
from gpu import backend


@pytest.fixture
def fresh_probe(monkeypatch):
    backend._probe.cache_clear()
    yield monkeypatch
    backend._probe.cache_clear()


def test_cpu_backend_is_numpy():
    assert gpu.get_backend("cpu") == "cpu"
    assert gpu.xp("cpu") is np


def test_invalid_backend_name_lists_choices():
    with pytest.raises(ValueError, match="auto.*cpu.*cuda"):
        gpu.get_backend("tpu")


def test_cuda_without_gpu_raises_with_reason(fresh_probe):
    fresh_probe.delenv("SCALEFORGE_DISABLE_GPU", raising=False)
    if gpu.available():
        pytest.skip("a real GPU is present")
    with pytest.raises(gpu.GPUUnavailableError) as err:
        gpu.get_backend("cuda")
    # the message carries the probe's reason, e.g. "CuPy is not importable (...)"
    assert gpu.unavailable_reason() in str(err.value)
    assert len(gpu.unavailable_reason()) > 10


def test_disable_env_var_wins(fresh_probe):
    fresh_probe.setenv("SCALEFORGE_DISABLE_GPU", "1")
    assert gpu.available() is False
    assert "SCALEFORGE_DISABLE_GPU" in gpu.unavailable_reason()
    with pytest.raises(gpu.GPUUnavailableError, match="SCALEFORGE_DISABLE_GPU"):
        gpu.get_backend("cuda")


def test_auto_falls_back_and_logs_once(fresh_probe, caplog):
    fresh_probe.setenv("SCALEFORGE_DISABLE_GPU", "1")
    fresh_probe.setattr(backend, "_fallback_logged", False)
    with caplog.at_level(logging.INFO, logger="gpu.backend"):
        assert gpu.get_backend("auto") == "cpu"
        assert gpu.get_backend("auto") == "cpu"
    msgs = [r for r in caplog.records if "falls back to CPU" in r.getMessage()]
    assert len(msgs) == 1


def test_to_host_returns_numpy():
    a = np.arange(4.0)
    out = gpu.to_host(a)
    assert isinstance(out, np.ndarray) and np.array_equal(out, a)
    assert isinstance(gpu.to_host([1, 2]), np.ndarray)


@pytest.mark.gpu
def test_real_gpu_roundtrip():
    if not gpu.available():
        pytest.skip(gpu.unavailable_reason())
    cp = gpu.xp("cuda")
    a = cp.arange(10.0)
    assert np.array_equal(gpu.to_host(a * 2), np.arange(10.0) * 2)
