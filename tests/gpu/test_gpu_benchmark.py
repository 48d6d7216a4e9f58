"""benchmarks/gpu.py: refuses to run without a device; its nbody section runs on the CUDA simulator."""
import json
import subprocess
import sys

import pytest

import gpu
from tests.cudasim import REPO, run_cudasim

SCRIPT = REPO / "benchmarks" / "gpu.py"


def test_without_a_device_one_error_line_and_nonzero_exit(tmp_path):
    if gpu.available():
        pytest.skip("CuPy and a device are present")
    proc = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=120, cwd=str(REPO))
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "CUDA device" in lines[0], proc.stderr
    assert not (tmp_path / "o").exists()


def test_tiny_run_on_the_simulator_writes_the_table(tmp_path):
    out = tmp_path / "bench"
    run_cudasim(f"""
        import sys
        sys.argv = ["gpu.py", "--tiny", "--out", {str(out)!r}]  # every section
        import importlib.util  # the script is named gpu.py like the package: load it under another name
        spec = importlib.util.spec_from_file_location("gpu_benchmark", {str(SCRIPT)!r})
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        sys.exit(mod.main())
    """, timeout=300)
    data = json.loads((out / "gpu_benchmark.json").read_text())
    rows = {r["case"] if "case" in r else r["section"]: r for r in data["rows"]}
    assert data["tiny"] and not data["failed"]
    direct = [r for r in data["rows"] if r.get("case", "").startswith("direct sum, all targets")][0]
    assert float(direct["agreement"].split()[-1]) < 1e-12  # GPU kernel vs CPU kernel on the subset
    assert direct["cpu_s"] > 0 and direct["gpu_s"] > 0 and 0 < direct["fraction"] < 1
    if not gpu.available():
        assert "CuPy" in rows["nbody_pm"]["unavailable"] and "CuPy" in rows["pde_lpbf"]["unavailable"]
    pairs = [r for r in data["rows"] if r.get("section") == "cosmo_pairs"][0]
    assert pairs["agreement"] == "counts identical: True"
    dns = [r for r in data["rows"] if r.get("section") == "clouds_dns"][0]
    assert dns["gpu_s"] > 0 and dns["achieved"] > 0  # the droplet kernels' own time was measured
    md = (out / "gpu_benchmark.md").read_text()
    assert "| nbody_gravity |" in md and "SIMULATOR" in md
