"""``python -m pde lpbf`` under bad input and solver failure: one ``error:`` line naming the key or file,
exit 2 for bad input (checked before the solve, nothing written), exit 1 with ``status = "failed"`` in the
outputs for a solution that fails its own checks, and a clean error (old output intact, no .tmp) when the
output hits a file-size limit."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from gpu.io import read_results, write_results
from pde.__main__ import main
from tests.mpi_harness import REPO

#: a tiny valid run (about a second): the bad-input cases change one thing in it
TINY = {"domain": {"t_end": 0.3e-3},
        "solver": {"coarse_elements": [12, 8, 4], "time_elements": 24, "max_iter": 8, "modes": 6},
        "output": {"snapshots": 2, "melt_times": 3}}


def toml_text(cfg):
    lines = []
    for sec, kv in cfg.items():
        lines.append(f"[{sec}]")
        for k, v in kv.items():
            lines.append(f"{k} = {v}" if not isinstance(v, str) else f'{k} = "{v}"')
    return "\n".join(lines) + "\n"


def with_(section, key, value):
    cfg = {s: dict(kv) for s, kv in TINY.items()}
    cfg.setdefault(section, {})[key] = value
    return toml_text(cfg)


def raw(section, line):
    """TINY plus one raw TOML line in ``section`` (for nan / inf / malformed values)."""
    return toml_text(TINY) + f"[{section}]\n{line}\n" if section not in TINY else \
        toml_text(TINY).replace(f"[{section}]\n", f"[{section}]\n{line}\n")


# (id, config text or None for "no file", extra args, text the error line must contain)
CASES = [
    ("missing-file", "<missing>", [], "missing.toml"),
    ("directory", "<dir>", [], "is a directory"),
    ("empty-file", "", [], "holds no settings"),
    ("malformed", "[solver\nmodes = 3\n", [], "not valid TOML"),
    ("unknown-key", raw("laser", "powr = 200.0"), [], "laser.powr"),
    ("unknown-section", toml_text(TINY) + "[lazer]\npower = 1.0\n", [], "lazer"),
    ("wrong-type-str", with_("solver", "modes", "six"), [], "solver.modes"),
    ("wrong-type-float", raw("solver", "time_slabs = 1.5"), [], "solver.time_slabs"),
    ("section-not-table", "solver = 3\n", [], "solver"),
    ("negative", raw("laser", "power = -200.0"), [], "laser.power"),
    ("zero", raw("laser", "speed = 0.0"), [], "laser.speed"),
    ("nan", raw("laser", "power = nan"), [], "laser.power"),
    ("inf", raw("laser", "power = inf"), [], "laser.power"),
    ("minus-inf", raw("domain", "h_conv = -inf"), [], "domain.h_conv"),
    ("inf-t_end", raw("domain", "t_end = inf").replace("t_end = 0.0003\n", ""), [], "domain.t_end"),
    ("bad-unit", raw("laser", 'radius = "50 parsec"'), [], "laser.radius"),
    ("unparsable-unit", raw("laser", 'radius = "50 uu"'), [], "laser.radius"),
    ("out-of-choices", with_("material", "name", "steel"), [], "material.name"),
    ("svd-tol-too-large", raw("solver", "svd_tol = 0.5"), [], "solver.svd_tol"),
    # cross-key constraints, checked at load
    ("track-outside-block", raw("laser", "length = 1.0e-3"), [], "laser.length"),
    ("track-at-edge", raw("laser", "start_x = 0.0"), [], "laser.start_x"),
    ("block-narrower-than-beam", raw("domain", "width = 1.5e-4"), [], "domain.width"),
    ("too-few-time-elements", raw("laser", "speed = 1000.0").replace("t_end = 0.0003", "t_end = 0.3e-3"), [],
     "solver.time_elements"),
    ("slabs-vs-elements", raw("solver", "time_slabs = 20"), [], "solver.time_slabs"),
    ("ratio-one", raw("solver", "ratio = 1"), [], "solver.ratio"),
    ("beam-below-mesh", raw("laser", "radius = 5e-6"), [], "laser.radius"),
    # nonlinear model (full-order): options and their cross-key constraints
    ("table-and-override", raw("material", "temperature_dependent = true\nconductivity = 7.0"), [],
     "material.conductivity"),
    ("recondensation-one", raw("boundary", "evaporation = true\nrecondensation = 1.0"), [], "boundary.recondensation"),
    ("nonlinear-coarse-mesh", raw("boundary", "evaporation = true") + "[nonlinear]\nmesh_spacing = 4e-5\n", [],
     "nonlinear.mesh_spacing"),
    ("nonlinear-long-step", raw("material", "latent_heat = true") + "[nonlinear]\ntime_step = 1e-4\n", [],
     "nonlinear.time_step"),
    ("nonlinear-nan-tol", raw("nonlinear", "tol = nan"), [], "nonlinear.tol"),
    ("tracks-outside-block", raw("laser", "tracks = 5\nhatch = 1e-4"), [], "laser.hatch"),
    ("tracks-zero", raw("laser", "tracks = 0"), [], "laser.tracks"),
    ("evaporation-not-bool", raw("boundary", 'evaporation = "yes"'), [], "boundary.evaporation"),
    # command-line overrides go through the same validation
    ("override-modes-zero", toml_text(TINY), ["--modes", "0"], "solver.modes"),
    ("override-levels-high", toml_text(TINY), ["--levels", "9"], "solver.levels"),
    ("override-levels-negative", toml_text(TINY), ["--levels", "-1"], "solver.levels"),
    # outputs: refused before the solve
    ("out-is-directory", toml_text(TINY), ["--out", "<outdir>"], "is an existing directory"),
    ("out-under-a-file", toml_text(TINY), ["--out", "<file>/r.h5"], "cannot write output"),
    ("json-under-a-file", toml_text(TINY), ["--json", "<file>/s.json"], "cannot write output"),
    ("json-is-out", toml_text(TINY), ["--json", "<out>"], "same file"),
]


@pytest.mark.parametrize("text, extra, needle", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_one_line_exit_2_nothing_written(tmp_path, capsys, monkeypatch, text, extra, needle):
    import pde.lpbf

    def no_solve(self, *a, **k):
        raise AssertionError("bad input must be refused before the solve")

    monkeypatch.setattr(pde.lpbf.LPBFProblem, "solve", no_solve)
    outdir = tmp_path / "out"
    out, js = outdir / "r.h5", outdir / "s.json"
    blocker = tmp_path / "plainfile"
    blocker.write_text("x")
    if text == "<missing>":
        cfg = tmp_path / "missing.toml"
    elif text == "<dir>":
        cfg = tmp_path / "cfgdir"
        cfg.mkdir()
    else:
        cfg = tmp_path / "run.toml"
        cfg.write_text(text)
    subst = {"<outdir>": str(tmp_path / "cfg_as_out_dir"), "<out>": str(out), "<file>": str(blocker)}
    if "<outdir>" in extra:
        (tmp_path / "cfg_as_out_dir").mkdir()
    args = [a if a not in subst else subst[a] for a in extra]
    args = [a.replace("<file>", str(blocker)) for a in args]
    argv = ["lpbf", str(cfg), "--out", str(out), "--json", str(js), "--quiet"]
    argv += args  # a later --out / --json replaces the default one
    rc = main(argv)
    err = [ln for ln in capsys.readouterr().err.strip().splitlines() if not ln.startswith("warning: ")]
    assert rc == 2, err
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert needle in err[0], err[0]
    assert not outdir.exists() or not any(outdir.iterdir())
    assert blocker.read_text() == "x"


def test_solver_failure_is_flagged_in_the_outputs_and_exit_1(tmp_path, capsys):
    """One TD mode cannot carry the moving source: the energy balance is off by ~18 % (measured): the run
    writes its outputs marked failed (header and JSON), prints one error line with the numbers, exits 1."""
    cfg = tmp_path / "run.toml"
    cfg.write_text(toml_text(TINY))
    out, js = tmp_path / "r.h5", tmp_path / "s.json"
    rc = main(["lpbf", str(cfg), "--out", str(out), "--json", str(js), "--quiet", "--modes", "1"])
    err = [ln for ln in capsys.readouterr().err.strip().splitlines() if not ln.startswith("warning: ")]
    assert rc == 1
    assert len(err) == 1 and err[0].startswith("error: ") and "energy balance" in err[0], err
    assert "solver.energy_tol = 0.02" in err[0]
    s = json.loads(js.read_text())
    assert s["status"] == "failed" and s["converged"] is False and "energy balance" in s["reason"]
    assert not s["checks"]["energy_balance"]["passed"]
    assert abs(s["energy"]["relative_imbalance"]) > s["checks"]["energy_balance"]["limit"]
    _, header = read_results(out)
    assert header["status"] == "failed" and not header["converged"] and "energy balance" in header["reason"]
    # the same run with enough modes passes every check: exit 0, status ok (the checks can pass)
    rc = main(["lpbf", str(cfg), "--out", str(out), "--json", str(js), "--quiet", "--modes", "8",
               "--level-modes", "shared", "--method", "fast"])
    assert rc == 0, capsys.readouterr().err
    s = json.loads(js.read_text())
    assert s["status"] == "ok" and s["reason"] == "" and all(c["passed"] for c in s["checks"].values())
    assert abs(s["energy"]["relative_imbalance"]) < 1e-4


def test_non_finite_factors_fail_the_finite_check():
    from pde.lpbf import LPBFProblem

    R = LPBFProblem({s: dict(kv) for s, kv in TINY.items()}).solve()
    R.slabs[0]["U"][0][0][0, 0] = np.nan
    c = R.checks()
    assert not c["finite"]["passed"] and c["finite"]["value"] == 1
    s = R.summary()
    assert s["status"] == "failed" and s["converged"] is False and "non-finite" in s["reason"]


FSIZE = r'''
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
from pde import lpbf
from pde.__main__ import main
write = lpbf.LPBFResult.write
def limited(self, *a, **k):  # the limit applies to the output only, not to the solve or caches
    resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, 50_000))
    return write(self, *a, **k)
lpbf.LPBFResult.write = limited
sys.exit(main(sys.argv[1:]))
'''


def test_file_size_limit_exit_2_old_output_intact_no_tmp(tmp_path):
    cfg = tmp_path / "run.toml"
    cfg.write_text(toml_text(TINY))
    out = tmp_path / "res.h5"
    write_results(out, {"old": np.arange(5.0)})
    script = tmp_path / "limited.py"
    script.write_text(FSIZE)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, str(script), "lpbf", str(cfg), "--out", str(out), "--quiet"],
                          capture_output=True, text=True, env=env, timeout=300)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr  # not a segfault (-11) or a traceback
    assert len(lines) == 1 and lines[0].startswith("error: cannot write output"), proc.stderr
    assert "file-size limit" in lines[0]
    data, _ = read_results(out)
    np.testing.assert_array_equal(data["old"], np.arange(5.0))
    assert not list(tmp_path.glob("*.tmp"))
