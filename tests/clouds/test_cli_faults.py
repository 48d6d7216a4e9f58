"""Bad input, exact end times, checkpoints, self-checks and validity warnings of
``python -m clouds parcel`` and ``python -m clouds dns``."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import tomllib
from pathlib import Path

import h5py
import numpy as np
import pytest

from clouds import thermo as th
from clouds.__main__ import main
from clouds.cli_dns import checkpoint_path
from clouds.dns import DNS, make_config
from clouds.cli_parcel import EXAMPLE_CONFIG
from clouds.parcel import ParcelConfig, ParcelModel
from gpu.config import ConfigError, from_dict, to_dict
from gpu.io import read_results

REPO = Path(__file__).resolve().parents[2]

PARCEL_OK = """
[parcel]
w = 2.0
dt = 0.5
t_end = 2.0
[spectrum]
kind = "monodisperse"
N_cm3 = 100.0
r_um = 5.0
"""

DNS_OK = """
[grid]
n = 8
box = 0.05
[fluid]
u_rms = 0.02
[droplets]
n_droplets = 60
[run]
dt = 0.005
t_end = 0.02
diag_every = 2
"""


def _set(text, section, line):
    """``text`` with ``line`` added at the top of ``[section]`` (the section is created if absent)."""
    head = f"[{section}]\n"
    if head in text:
        return text.replace(head, head + line + "\n", 1)
    return text + "\n" + head + line + "\n"


def _files(folder):
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*"))


def _run_bad(tmp_path, capsys, argv, must_name):
    before = _files(tmp_path)
    assert main(argv) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1, err
    assert err[0].startswith("error: ") and must_name in err[0], err[0]
    assert _files(tmp_path) == before, "a failed command left files behind"


# ------------------------------------------------------------------------------------------ parcel

PARCEL_BAD = {
    "malformed TOML": (lambda t: t.replace("[spectrum]", "[spectrum"), "cfg.toml"),
    "empty file": (lambda t: "", "cfg.toml"),
    "comments only": (lambda t: "# nothing here\n", "cfg.toml"),
    "unknown key": (lambda t: _set(t, "parcel", "wind = 3.0"), "parcel.wind"),
    "unknown section": (lambda t: t + "\n[parcle]\nw = 1.0\n", "parcle"),
    "wrong type": (lambda t: _set(t, "spectrum", 'n_sd = "many"'), "spectrum.n_sd"),
    "bool for number": (lambda t: _set(t, "parcel", "T_K = true"), "parcel.T_K"),
    "negative dt": (lambda t: t.replace("dt = 0.5", "dt = -0.5"), "parcel.dt"),
    "zero dt": (lambda t: t.replace("dt = 0.5", "dt = 0.0"), "parcel.dt"),
    "NaN w": (lambda t: t.replace("w = 2.0", "w = nan"), "parcel.w"),
    "inf t_end": (lambda t: t.replace("t_end = 2.0", "t_end = inf"), "parcel.t_end"),
    "-inf T": (lambda t: _set(t, "parcel", "T_K = -inf"), "parcel.T_K"),
    "negative N": (lambda t: t.replace("N_cm3 = 100.0", "N_cm3 = -100.0"), "spectrum.N_cm3"),
    "w above the physical bound": (lambda t: t.replace("w = 2.0", "w = 80.0"), "parcel.w"),
    "downdraft": (lambda t: t.replace("w = 2.0", "w = -1.0"), "parcel.w"),
    "unit string": (lambda t: t.replace("w = 2.0", 'w = "2 m/s"'), "parcel.w"),
    "bad choice": (lambda t: t.replace('"monodisperse"', '"bimodal"'), "spectrum.kind"),
    "time row out of range": (lambda t: t.replace('"monodisperse"', '"observed"') + "time_index = 999\n",
                              "spectrum.time_index"),
}


@pytest.mark.parametrize("case", sorted(PARCEL_BAD))
def test_parcel_bad_config(case, tmp_path, capsys):
    edit, name = PARCEL_BAD[case]
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(edit(PARCEL_OK))
    _run_bad(tmp_path, capsys, ["parcel", str(cfg), "--json", str(tmp_path / "s.json"),
                                "--out", str(tmp_path / "h.h5"), "--quiet"], name)


def test_parcel_bad_files_and_outputs(tmp_path, capsys):
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(PARCEL_OK)
    _run_bad(tmp_path, capsys, ["parcel", str(tmp_path / "missing.toml"), "--quiet"], "missing.toml")
    _run_bad(tmp_path, capsys, ["parcel", str(tmp_path), "--quiet"], str(tmp_path))          # a directory
    (tmp_path / "binary.toml").write_bytes(b"\xff\xfe\x00bad")
    _run_bad(tmp_path, capsys, ["parcel", str(tmp_path / "binary.toml"), "--quiet"], "binary.toml")
    # unwritable outputs (the parent is a file: also refused for root), checked before the run
    _run_bad(tmp_path, capsys, ["parcel", str(cfg), "--json", str(cfg / "s.json"), "--quiet"], "s.json")
    _run_bad(tmp_path, capsys, ["parcel", str(cfg), "--out", str(cfg / "h.h5"), "--quiet"], "h.h5")
    _run_bad(tmp_path, capsys, ["parcel", str(cfg), "--out", str(tmp_path), "--quiet"], str(tmp_path))
    _run_bad(tmp_path, capsys, ["parcel", str(cfg), "--out", str(tmp_path / "x"), "--json", str(tmp_path / "x"),
                                "--quiet"], "x")
    # an existing result of another run is kept, unless --overwrite
    old = tmp_path / "old.h5"
    old.write_bytes(b"another run")
    _run_bad(tmp_path, capsys, ["parcel", str(cfg), "--out", str(old), "--quiet"], "old.h5")
    assert old.read_bytes() == b"another run"
    assert main(["parcel", str(cfg), "--out", str(old), "--overwrite", "--quiet", "--json",
                 str(tmp_path / "s.json")]) == 0
    assert read_results(old)[1]["status"] == "complete"


def test_parcel_example_config_is_valid_toml_and_shown_in_help(capsys):
    data = tomllib.loads(EXAMPLE_CONFIG)
    cfg = from_dict(data, ParcelConfig)
    assert to_dict(cfg) == to_dict(ParcelConfig())          # "defaults shown" is true
    assert set(data) == {"parcel", "spectrum", "eddy_hopping"}
    assert all(set(data[s]) == set(to_dict(cfg)[s]) for s in data)    # every key is shown
    with pytest.raises(SystemExit):
        main(["parcel", "--help"])
    out = capsys.readouterr().out
    assert EXAMPLE_CONFIG.strip() in out and "--help-config" not in out


def test_parcel_from_config_matches_the_command(tmp_path):
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(PARCEL_OK)
    assert main(["parcel", str(cfg), "--json", str(tmp_path / "s.json"), "--quiet"]) == 0
    s = json.loads((tmp_path / "s.json").read_text())
    m = ParcelModel.from_config(str(cfg))
    h = m.run(2.0)
    assert s["status"] == "complete" and s["warnings"] == []
    assert s["final"]["S_percent"] == 100 * h["S"][-1]


@pytest.mark.parametrize("t_end", [0.3, 2.35])
def test_parcel_ends_exactly_at_t_end(t_end):
    # 0.3 < dt: one shorter step (was: zero steps); 2.35 = 4 dt + 0.35
    m = ParcelModel.from_concentration(9e4, 285.0, [5e-6], [1e8], w=2.0, dt=0.5)
    h = m.run(t_end)
    assert h["t"][-1] == t_end and m.t == t_end
    assert h["z"][-1] == pytest.approx(2.0 * t_end, rel=1e-12)     # ascent w t with constant w
    assert len(h["t"]) == 1 + int(np.ceil(t_end / 0.5))


def test_parcel_shorter_last_step_is_consistent():
    # the state after 4 steps of 0.5 s and one of 0.35 s agrees with a run at dt = 0.05 (47 whole
    # steps) as closely as whole-step runs at the two dt agree (the scheme's own dt error)
    def S(dt, t_end):
        return ParcelModel.from_concentration(9e4, 285.0, [5e-6], [1e8], w=2.0, dt=dt).run(t_end)["S"][-1]
    err_short = abs(S(0.5, 2.35) - S(0.05, 2.35))
    err_whole = abs(S(0.5, 2.5) - S(0.05, 2.5))
    assert err_short <= 2 * err_whole + 1e-7


def test_parcel_run_before_current_time_is_refused():
    m = ParcelModel.from_concentration(9e4, 285.0, [5e-6], [1e8], w=2.0, dt=0.5)
    m.run(1.0)
    with pytest.raises(ConfigError, match="t_end"):
        m.run(1.0)
    with pytest.raises(ConfigError, match="t_end"):
        m.run(float("nan"))


def test_parcel_warns_once_when_leaving_the_formulas_range(tmp_path):
    # the reported case: w = 50 m/s for 300 s lifts the parcel ~15 km, far below Bolton's range
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(PARCEL_OK.replace("w = 2.0", "w = 50.0").replace("dt = 0.5", "dt = 2.0")
                   .replace("t_end = 2.0", "t_end = 300.0"))
    with pytest.warns(th.ValidityWarning) as rec:
        assert main(["parcel", str(cfg), "--json", str(tmp_path / "s.json"), "--quiet"]) == 0
    msgs = [str(w.message) for w in rec if issubclass(w.category, th.ValidityWarning)]
    assert len(msgs) == 1 and "243.15" in msgs[0] and "parcel temperature" in msgs[0]
    s = json.loads((tmp_path / "s.json").read_text())
    assert s["warnings"] == msgs
    T = float(msgs[0].split("= ")[1].split(" K")[0])
    assert T < th.T_VALID_K[0] and s["final"]["T_K"] < T     # warned when it left, kept going


def test_parcel_stays_quiet_inside_the_range(recwarn):
    m = ParcelModel.from_concentration(9e4, 285.0, [5e-6], [1e8], w=2.0, dt=0.5)
    m.run(10.0)
    assert not [w for w in recwarn if issubclass(w.category, th.ValidityWarning)]
    assert m.summary()["warnings"] == []


def test_parcel_failed_self_check_marks_outputs_and_exits_1(tmp_path, capsys, monkeypatch):
    orig = ParcelModel.run

    def broken(self, *a, **k):
        h = orig(self, *a, **k)
        self.history["T"][-1] = float("nan")        # what a blown-up integration leaves behind
        return h

    monkeypatch.setattr(ParcelModel, "run", broken)
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(PARCEL_OK)
    assert main(["parcel", str(cfg), "--json", str(tmp_path / "s.json"), "--out", str(tmp_path / "h.h5"),
                 "--quiet"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "non-finite" in err[0]
    s = json.loads((tmp_path / "s.json").read_text())
    assert s["status"] == "failed" and "T" in s["reason"]
    header = read_results(tmp_path / "h.h5")[1]
    assert header["status"] == "failed" and not header["complete"] and "non-finite" in header["reason"]


# ------------------------------------------------------------------------------------------ DNS

DNS_BAD = {
    "malformed TOML": (lambda t: t.replace("[run]", "[run"), "cfg.toml"),
    "empty file": (lambda t: "\n\n", "cfg.toml"),
    "unknown key": (lambda t: _set(t, "fluid", "viscosity = 1e-5"), "fluid.viscosity"),
    "wrong type": (lambda t: _set(t, "grid", 'n = "eight"').replace("n = 8\n", ""), "grid.n"),
    "float for int": (lambda t: t.replace("n = 8", "n = 8.0"), "grid.n"),
    "odd grid": (lambda t: t.replace("n = 8", "n = 9"), "grid.n"),
    "negative dt": (lambda t: t.replace("dt = 0.005", "dt = -0.005"), "run.dt"),
    "zero box": (lambda t: t.replace("box = 0.05", "box = 0.0"), "grid.box"),
    "NaN rh": (lambda t: _set(t, "thermo", "rh_cloud = nan"), "thermo.rh_cloud"),
    "inf nu": (lambda t: _set(t, "fluid", "nu = inf"), "fluid.nu"),
    "inf t_end": (lambda t: t.replace("t_end = 0.02", "t_end = inf"), "run.t_end"),
    "inf epsilon": (lambda t: _set(t, "forcing", "epsilon = inf"), "forcing.epsilon"),
    "unit string": (lambda t: _set(t, "fluid", 'nu = "1.5e-5 m2/s"'), "fluid.nu"),
    "bad choice": (lambda t: _set(t, "run", 'backend = "tpu"'), "run.backend"),
    "missing spectrum file": (lambda t: _set(t, "droplets", 'spectrum_file = "nope.csv"'), "nope.csv"),
    "updraft without lapse": (lambda t: _set(t, "thermo", "updraft = 1.0"), "thermo.updraft"),
    "negative updraft": (lambda t: _set(t, "thermo", "updraft = -1.0\nlapse = true"), "thermo.updraft"),
    "aerosol in saturated air": (lambda t: _set(t, "droplets", 'init = "aerosol"'), "thermo.rh_cloud"),
    "aerosol with spectrum file": (lambda t: _set(t, "droplets", 'init = "aerosol"\nspectrum_file = "s.csv"'),
                                   "droplets.spectrum_file"),
    "aerosol sigma_g 1": (lambda t: _set(t, "droplets", "sigma_g = 1.0"), "droplets.sigma_g"),
}


@pytest.mark.parametrize("case", sorted(DNS_BAD))
def test_dns_bad_config(case, tmp_path, capsys):
    edit, name = DNS_BAD[case]
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(edit(DNS_OK))
    _run_bad(tmp_path, capsys, ["dns", str(cfg), "--out", str(tmp_path / "r.h5"), "--json",
                                str(tmp_path / "r.json"), "--quiet"], name)


def test_dns_bad_files_outputs_and_restarts(tmp_path, capsys):
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(DNS_OK)
    _run_bad(tmp_path, capsys, ["dns", str(tmp_path / "missing.toml"), "--quiet"], "missing.toml")
    _run_bad(tmp_path, capsys, ["dns", str(cfg), "--out", str(cfg / "r.h5"), "--quiet"], "r.h5")
    _run_bad(tmp_path, capsys, ["dns", str(cfg), "--out", str(tmp_path / "r.h5"), "--json", str(cfg / "r.json"),
                                "--quiet"], "r.json")
    _run_bad(tmp_path, capsys, ["dns", str(cfg), "--out", str(tmp_path / "r.h5"), "--restart",
                                str(tmp_path / "nothing.h5"), "--quiet"], "nothing.h5")
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    _run_bad(tmp_path, capsys, ["dns", str(cfg), "--out", str(tmp_path / "r.h5"), "--restart",
                                str(tmp_path / "junk.h5"), "--quiet"], "junk.h5")
    # a finished run: its result and a stale checkpoint of another run are both kept
    out = tmp_path / "r.h5"
    assert main(["dns", str(cfg), "--out", str(out), "--quiet"]) == 0
    stamp = out.read_bytes()
    _run_bad(tmp_path, capsys, ["dns", str(cfg), "--out", str(out), "--quiet"], "r.h5")
    checkpoint_path(tmp_path / "s.h5").write_bytes(b"someone's checkpoint")
    _run_bad(tmp_path, capsys, ["dns", str(cfg), "--out", str(tmp_path / "s.h5"), "--quiet"], "s.checkpoint.h5")
    assert out.read_bytes() == stamp
    # restarts: t_end not after the file's time; changed physics
    _run_bad(tmp_path, capsys, ["dns", str(cfg), "--out", str(tmp_path / "r2.h5"), "--restart", str(out),
                                "--quiet"], "run.t_end")
    cfg2 = tmp_path / "cfg2.toml"
    cfg2.write_text(DNS_OK.replace("t_end = 0.02", "t_end = 0.04").replace("u_rms = 0.02", "u_rms = 0.03"))
    _run_bad(tmp_path, capsys, ["dns", str(cfg2), "--out", str(tmp_path / "r2.h5"), "--restart", str(out),
                                "--quiet"], "fluid.u_rms")
    # a failed run's output is not a restart file
    with h5py.File(out, "a") as f:
        f["Header"].attrs["status"] = "failed"
        f["Header"].attrs["reason"] = "non-finite values"
    cfg2.write_text(DNS_OK.replace("t_end = 0.02", "t_end = 0.04"))
    _run_bad(tmp_path, capsys, ["dns", str(cfg2), "--out", str(tmp_path / "r2.h5"), "--restart", str(out),
                                "--quiet"], "r.h5")


def test_dns_library_rejects_end_times_not_after_now():
    d = DNS(make_config(grid=dict(n=8, box=0.05), droplets=dict(n_droplets=0), run=dict(dt=0.01)))
    d.run(0.02)
    for t_end in (0.02, 0.01, float("nan"), float("inf")):
        with pytest.raises(ConfigError, match="run.t_end"):
            d.run(t_end)


@pytest.mark.parametrize("t_end", [0.03, 0.437])
def test_dns_ends_exactly_at_t_end(t_end):
    # 2D Taylor-Green decays as exp(-4 nu t) exactly (any step length; the integrating factor is
    # exact and the nonlinear term is a gradient): the energy proves the last, shorter step has the
    # right length. t_end = 0.03 < dt ran zero steps before.
    nu = 0.05
    d = DNS(make_config(grid=dict(n=16, box=2 * np.pi), fluid=dict(nu=nu, buoyancy=False),
                        droplets=dict(n_droplets=0), run=dict(dt=0.1, diag_every=100)))
    n = d.cfg.grid.n
    x = np.arange(n) * d.sp.dx[0]
    X, Y, Z = np.meshgrid(x, x, x, indexing="ij")
    u = np.stack([np.sin(X) * np.cos(Y), -np.cos(X) * np.sin(Y), 0 * X])
    d.uh = np.stack([d.sp.forward(u[i]) for i in range(3)]) * d.sp.dealias
    h = d.run(t_end)
    assert h["t"][-1] == t_end and d.nstep == int(np.ceil(t_end / 0.1))
    assert h["energy"][-1] == pytest.approx(0.25 * np.exp(-4 * nu * t_end), rel=1e-10)


def test_dns_cli_t_end_below_dt_runs_one_short_step(tmp_path):
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(DNS_OK.replace("t_end = 0.02", "t_end = 0.003"))
    assert main(["dns", str(cfg), "--out", str(tmp_path / "r.h5"), "--json", str(tmp_path / "r.json"), "--quiet"]) == 0
    s = json.loads((tmp_path / "r.json").read_text())
    assert s["status"] == "complete" and s["steps"] == 1 and s["final"]["t"] == 0.003
    data, header = read_results(tmp_path / "r.h5")
    assert header["complete"] and header["status"] == "complete" and float(header["time"]) == 0.003


def test_dns_checkpoints_are_apart_from_the_result(tmp_path, monkeypatch):
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(_set(DNS_OK, "run", "checkpoint_every = 1"))
    out = tmp_path / "r.h5"
    seen = []
    orig = DNS.save

    def spy(self, path, status="complete", reason=None):
        seen.append((Path(path).name, status, out.exists()))
        if status == "checkpoint":      # what a reader finds at a checkpoint
            r = orig(self, path, status, reason)
            header = read_results(path)[1]
            assert header["status"] == "checkpoint" and not header["complete"]
            return r
        return orig(self, path, status, reason)

    monkeypatch.setattr(DNS, "save", spy)
    assert main(["dns", str(cfg), "--out", str(out), "--quiet"]) == 0
    assert [s[:2] for s in seen] == [("r.checkpoint.h5", "checkpoint")] * 3 + [("r.h5", "complete")]
    assert not any(existed for _, _, existed in seen)      # the result appears only at the end
    assert read_results(out)[1]["complete"] and not checkpoint_path(out).exists()


def test_dns_failed_self_checks_mark_the_output_and_exit_1(tmp_path, capsys, monkeypatch):
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(DNS_OK)
    orig = DNS.run

    def nan_field(self, *a, **k):
        h = orig(self, *a, **k)
        self.qh[1, 1, 1] = np.nan
        return h

    monkeypatch.setattr(DNS, "run", nan_field)
    assert main(["dns", str(cfg), "--out", str(tmp_path / "a.h5"), "--json", str(tmp_path / "a.json"),
                 "--quiet"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: non-finite") and "q_v" in err[0]
    assert json.loads((tmp_path / "a.json").read_text())["status"] == "failed"
    header = read_results(tmp_path / "a.h5")[1]
    assert header["status"] == "failed" and not header["complete"] and "q_v" in header["reason"]

    def leak_water(self, *a, **k):
        h = orig(self, *a, **k)
        self.history["water_kg"][-1] *= 1 + 1e-6     # a budget the coupling conserves to round-off
        return h

    monkeypatch.setattr(DNS, "run", leak_water)
    assert main(["dns", str(cfg), "--out", str(tmp_path / "b.h5"), "--json", str(tmp_path / "b.json"),
                 "--quiet"]) == 1
    assert "water budget" in capsys.readouterr().err
    s = json.loads((tmp_path / "b.json").read_text())
    assert s["status"] == "failed" and "water budget" in s["reason"]


def test_dns_budget_check_passes_on_real_runs():
    # the check's tolerance (1e-9) is far above the measured round-off drift of a coupled run
    d = DNS(make_config(grid=dict(n=8, box=0.05), fluid=dict(u_rms=0.02), thermo=dict(setup="slab", rh_clear=0.6),
                        droplets=dict(n_droplets=200), run=dict(dt=0.005, diag_every=5)))
    h = d.run(0.1)
    assert abs(h["water_kg"][-1] / h["water_kg"][0] - 1) < 1e-13
    assert d.check_result() is None


def test_dns_warns_outside_the_formulas_range(tmp_path):
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(_set(DNS_OK, "thermo", "T0 = 235.0"))
    with pytest.warns(th.ValidityWarning, match="235.00 K"):
        assert main(["dns", str(cfg), "--out", str(tmp_path / "r.h5"), "--json", str(tmp_path / "r.json"),
                     "--quiet"]) == 0
    s = json.loads((tmp_path / "r.json").read_text())
    assert len(s["warnings"]) == 1 and "243.15" in s["warnings"][0]


# ------------------------------------------------------------------------------------------ subprocesses

def _env():
    return dict(os.environ, PYTHONPATH=str(REPO), NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1")


KILL_AT_CHECKPOINT = """
import os, signal, sys
import gpu.io
from clouds.__main__ import main

N = int(os.environ["KILL_AT_CHECKPOINT"])
count = [0]
write = gpu.io._write_bytes

def dying_write(path, data):
    if ".checkpoint" in str(path):
        count[0] += 1
        if count[0] == N:              # killed in the middle of writing a checkpoint
            with open(path, "wb") as fh:
                fh.write(data[: len(data) // 2])
                fh.flush()
            os.kill(os.getpid(), signal.SIGKILL)
    write(path, data)

gpu.io._write_bytes = dying_write
sys.exit(main(sys.argv[1:]))
"""


def test_dns_kill_9_during_checkpoint_then_restart_is_bitwise(tmp_path):
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(DNS_OK.replace("t_end = 0.02", "t_end = 0.0475").replace("[run]", "[run]\ncheckpoint_every = 2"))
    # the uninterrupted run (its last step is the shorter one: 9 steps of 5 ms and one of 2.5 ms)
    assert main(["dns", str(cfg), "--out", str(tmp_path / "full.h5"), "--quiet"]) == 0
    script = tmp_path / "killer.py"
    script.write_text(KILL_AT_CHECKPOINT)
    out = tmp_path / "r.h5"
    env = dict(_env(), KILL_AT_CHECKPOINT="3")
    proc = subprocess.run([sys.executable, str(script), "dns", str(cfg), "--out", str(out), "--quiet"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    ckpt = checkpoint_path(out)
    assert not out.exists() and ckpt.exists() and list(tmp_path.glob("*.tmp"))   # died mid-write
    header = DNS.read_header(ckpt)
    assert header["status"] == "checkpoint" and not header["complete"] and int(header["step"]) == 4
    proc = subprocess.run([sys.executable, "-m", "clouds", "dns", str(cfg), "--out", str(out), "--restart",
                           str(ckpt), "--quiet"], env=_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    a, ha = read_results(tmp_path / "full.h5")
    b, hb = read_results(out)
    assert hb["complete"] and float(hb["time"]) == float(ha["time"]) == 0.0475 and hb["step"] == ha["step"] == 10
    assert set(a) == set(b)
    for k in a:
        assert np.array_equal(a[k], b[k]), k
    assert not ckpt.exists() and not list(tmp_path.glob("*.tmp"))


@pytest.mark.mpi
def test_dns_error_on_one_rank_ends_the_mpi_job(tmp_path):
    """`mpiexec -n 2 python -m clouds dns` with an unwritable --json: only rank 0 writes, so only rank 0
    checks it and fails; rank 1 has gone on into the DNS set-up (collectives) and must not hang."""
    from tests.mpi_harness import mpiexec_path, require_mpi

    require_mpi()
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(DNS_OK)
    t0 = time.monotonic()
    proc = subprocess.run([mpiexec_path(), "-n", "2", sys.executable, "-m", "clouds", "dns", str(cfg), "--out",
                           str(tmp_path / "r.h5"), "--json", str(cfg / "r.json"), "--quiet"],
                          env=_env(), capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode != 0
    assert "[rank 0] error: cannot write output" in proc.stderr and "r.json" in proc.stderr
    assert "[rank 1]" not in proc.stderr and time.monotonic() - t0 < 100
    assert not (tmp_path / "r.h5").exists()


def test_dns_restart_from_a_complete_result_in_place(tmp_path, capsys):
    """--restart r.h5 --out r.h5 extends a finished run; equal to running to the later t_end at once."""
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(DNS_OK)
    out = tmp_path / "r.h5"
    assert main(["dns", str(cfg), "--out", str(out), "--quiet"]) == 0
    cfg.write_text(DNS_OK.replace("t_end = 0.02", "t_end = 0.04"))
    assert main(["dns", str(cfg), "--out", str(out), "--restart", str(out), "--quiet"]) == 0
    assert main(["dns", str(cfg), "--out", str(tmp_path / "once.h5"), "--quiet"]) == 0
    a, ha = read_results(out)
    b, hb = read_results(tmp_path / "once.h5")
    assert ha["complete"] and float(ha["time"]) == 0.04 and ha["step"] == hb["step"] == 8
    for k in ("spectral/u", "spectral/qv", "droplets/radius", "droplets/position", "history/water_kg"):
        assert np.array_equal(a[k], b[k]), k


def test_parcel_stops_with_a_clear_error_before_the_thermodynamics_end(tmp_path, capsys):
    # 50 m/s for 1000 s would lift the parcel 50 km: it is stopped (exit 2, nothing written) at
    # clouds.parcel.ParcelModel.T_STOP, with the numbers, instead of a crash inside clouds.thermo
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(PARCEL_OK.replace("w = 2.0", "w = 50.0").replace("dt = 0.5", "dt = 10.0")
                   .replace("t_end = 2.0", "t_end = 1000.0"))
    with pytest.warns(th.ValidityWarning):
        _run_bad(tmp_path, capsys, ["parcel", str(cfg), "--json", str(tmp_path / "s.json"), "--quiet"], "t_end")


def test_dns_cfl_violation_is_an_input_error(tmp_path, capsys):
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(DNS_OK.replace("u_rms = 0.02", "u_rms = 5.0"))
    _run_bad(tmp_path, capsys, ["dns", str(cfg), "--out", str(tmp_path / "r.h5"), "--quiet"], "run.dt")


def test_parcel_dry_radius_above_the_droplets_is_an_input_error(tmp_path, capsys):
    from clouds.__main__ import main

    cfg = tmp_path / "c.toml"
    cfg.write_text('[spectrum]\nkind = "gamma"\nr_um = 5.0\nr_dry_um = 8.0\n')
    assert main(["parcel", str(cfg), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "spectrum.r_dry_um" in err[0] and "internal error" not in err[0]


def test_dns_restart_keeps_the_files_run_settings(tmp_path):
    """A restart config that sets only run.t_end keeps the file's dt and seed (they silently reset before)."""
    from clouds.__main__ import main
    from clouds.dns import DNS

    first = tmp_path / "a.toml"
    first.write_text("[grid]\nn = 8\nbox = 0.05\n[droplets]\nn_droplets = 50\n[run]\ndt = 0.005\nt_end = 0.01\nseed = 7\n")
    assert main(["dns", str(first), "--out", str(tmp_path / "a.h5"), "--quiet"]) == 0
    more = tmp_path / "b.toml"
    more.write_text("[grid]\nn = 8\nbox = 0.05\n[droplets]\nn_droplets = 50\n[run]\nt_end = 0.02\n")
    assert main(["dns", str(more), "--restart", str(tmp_path / "a.h5"), "--out", str(tmp_path / "b.h5"),
                 "--quiet"]) == 0
    b = DNS.restart(str(tmp_path / "b.h5"))
    assert b.cfg.run.dt == 0.005 and b.cfg.run.seed == 7 and abs(b.t - 0.02) < 1e-12
