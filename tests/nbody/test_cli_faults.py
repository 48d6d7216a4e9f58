"""Bad input and faults of ``python -m nbody run|integrate|pm|snapshot``.

Every bad input gives exit status 2, one stderr line ``error: ...`` naming the key, option or file,
and leaves no output behind; output folders belong to one run (``manifest.json``); a full disk, a
``kill -9`` and an error on one MPI rank end cleanly.
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from nbody.__main__ import main
from tests.mpi_harness import REPO, mpiexec_path, require_mpi
from tests.nbody.test_simulation import BASE

# 2 x 300 stars + 2 SMBHs, fewbody regions, 2 blocks of dt_max (a run takes ~1 s once compiled)
SHORT = BASE.replace("t_end = 0.5", "t_end = 0.125").replace("snapshot_interval = 0.25", "snapshot_interval = 0.0625")


def _run_cfg(tmp_path, text=None, name="out"):
    cfg = tmp_path / "run.toml"
    cfg.write_text((SHORT if text is None else text).replace("OUT", str(tmp_path / name)))
    return cfg


def _one_error_line(capsys, *needles):
    cap = capsys.readouterr()
    lines = [ln for ln in cap.err.splitlines() if ln.strip()]
    assert len(lines) == 1, cap.err
    assert lines[0].startswith("error: "), lines[0]
    for n in needles:
        assert n in lines[0], (n, lines[0])
    assert "Traceback" not in cap.err and "Traceback" not in cap.out
    return lines[0]


def _tree(path):
    """Names and contents of every file under ``path`` (to show that nothing changed)."""
    path = Path(path)
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


# ----------------------------------------------------------------------------- nbody run: bad input

RUN_CASES = {
    "missing file": (None, [], "does not exist"),
    "empty file": ("", [], "'ics.galaxies'"),
    "malformed file": ("[[ics.galaxies]\nn = ", [], "is not valid TOML"),
    "unknown key": ({"[time]": "[time]\nbogus = 1"}, [], "'time.bogus'"),
    "wrong type": ({"n = 300": 'n = "many"'}, [], "'ics.galaxies.n'"),
    "negative value": ({"eps_star = 0.02": "eps_star = -0.02"}, [], "'gravity.eps_star'"),
    "zero value": ({"dt_max = 0.0625": "dt_max = 0.0"}, [], "'time.dt_max'"),
    "NaN value": ({"t_end = 0.125": "t_end = nan"}, [], "'time.t_end'"),
    "inf value": ({"[gravity]": "[gravity]\ntheta = inf"}, [], "'gravity.theta'"),
    "cross-key after the claim": ({"m_bh = 0.01": "m_bh = 0.0"}, [], "'ketju.enabled'"),
    "--t-end NaN": ({}, ["--t-end", "nan"], "'--t-end'"),
    "--t-end inf": ({}, ["--t-end", "inf"], "'--t-end'"),
    "--t-end negative": ({}, ["--t-end", "-0.125"], "'--t-end'"),
    "--t-end zero": ({}, ["--t-end", "0"], "'--t-end'"),
    "--t-end not a number": ({}, ["--t-end", "2 Myr"], "'--t-end'"),
    "--t-end not a multiple of dt_max": ({}, ["--t-end", "0.1"], "'time.t_end'"),
    "restart without checkpoint": ({}, ["--restart"], "checkpoint.hdf5"),
    "restart from missing snapshot": ({}, ["--restart", "nowhere/snap_001.hdf5"], "nowhere/snap_001.hdf5"),
}


@pytest.mark.parametrize("case", list(RUN_CASES))
def test_run_bad_input(tmp_path, capsys, case):
    text, extra, needle = RUN_CASES[case]
    if text is None:
        cfg = tmp_path / "missing.toml"
    elif isinstance(text, str):
        cfg = tmp_path / "run.toml"
        cfg.write_text(text)
    else:
        t = SHORT
        for a, b in text.items():
            assert a in t
            t = t.replace(a, b)
        cfg = _run_cfg(tmp_path, t)
    extra = [str(tmp_path / e) if e.startswith("nowhere") else e for e in extra]
    assert main(["run", str(cfg), "--quiet", *extra]) == 2
    _one_error_line(capsys, needle, *([str(cfg)] if text is None or isinstance(text, str) and text else []))
    assert not (tmp_path / "out").exists()  # nothing left behind (not even an empty folder)


def test_run_unwritable_output(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    cfg = _run_cfg(tmp_path, name="afile/out")  # a folder below a regular file (tests may run as root)
    assert main(["run", str(cfg), "--quiet"]) == 2
    _one_error_line(capsys, "cannot write output", str(tmp_path / "afile" / "out"))
    cfg = _run_cfg(tmp_path, name="afile")  # output.dir is an existing file
    assert main(["run", str(cfg), "--quiet"]) == 2
    _one_error_line(capsys, "is not a directory", str(tmp_path / "afile"))
    assert (tmp_path / "afile").read_text() == "x"


def test_run_refuses_another_runs_folder_and_overwrite_replaces_it(tmp_path, capsys):
    """Rerunning into an old folder must not keep the old run's later snapshots as this run's."""
    long = SHORT.replace("t_end = 0.125", "t_end = 0.25")
    assert main(["run", str(_run_cfg(tmp_path, long)), "--quiet"]) == 0
    capsys.readouterr()
    old = _tree(tmp_path / "out")
    assert {"snap_000.hdf5", "snap_004.hdf5", "manifest.json", "checkpoint.hdf5"} <= set(old)
    cfg = _run_cfg(tmp_path)  # a shorter run: 3 snapshots
    assert main(["run", str(cfg), "--quiet"]) == 2
    _one_error_line(capsys, "already holds", "--overwrite", str(tmp_path / "out"))
    assert _tree(tmp_path / "out") == old  # untouched
    # a foreign file is never removed, even with --overwrite
    (tmp_path / "out" / "notes.txt").write_text("mine")
    assert main(["run", str(cfg), "--quiet", "--overwrite"]) == 2
    _one_error_line(capsys, "notes.txt", "refusing to remove")
    (tmp_path / "out" / "notes.txt").unlink()
    assert main(["run", str(cfg), "--quiet", "--overwrite"]) == 0
    out = json.loads(capsys.readouterr().out)
    present = sorted(p.name for p in (tmp_path / "out").iterdir())
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert sorted(f["name"] for f in manifest["files"]) == [n for n in present if n != "manifest.json"]
    assert [Path(p).name for p in out["files"]["snapshots"]] == ["snap_000.hdf5", "snap_001.hdf5", "snap_002.hdf5"]
    assert "snap_004.hdf5" not in present
    # the same through the config key
    assert main(["run", str(_run_cfg(tmp_path, SHORT.replace("quiet = true", "quiet = true\noverwrite = true"))),
                 "--quiet"]) == 0


def test_restart_removes_the_snapshots_it_rewrites(tmp_path, capsys):
    """A run killed after a snapshot later than its checkpoint: the restart drops and rewrites it."""
    from nbody import Simulation
    from nbody.snapshot import read_snapshot

    text = SHORT.replace("t_end = 0.125", "t_end = 0.25").replace("quiet = true", "quiet = true\ncheckpoint_interval = 0.125")
    full = Simulation(text.replace("OUT", str(tmp_path / "full"))).run()
    half = text.replace("OUT", str(tmp_path / "half"))
    Simulation(half.replace("t_end = 0.25", "t_end = 0.1875").replace("checkpoint_interval = 0.125",
                                                                     "checkpoint_interval = 0.1875")).run()
    ck = tmp_path / "half" / "checkpoint.hdf5"
    # stand-in for a run killed after snap_003 (t = 0.1875) but before its next checkpoint: an older checkpoint
    Simulation(text.replace("OUT", str(tmp_path / "ck")).replace("t_end = 0.25", "t_end = 0.125")).run()
    os.replace(tmp_path / "ck" / "checkpoint.hdf5", ck)
    stale = read_snapshot(tmp_path / "half" / "snap_003.hdf5")
    res = Simulation(half).run(restart=True)
    assert [Path(p).name for p in res.files["snapshots"]] == [f"snap_{i:03d}.hdf5" for i in range(5)]
    for a, b in zip(res.files["snapshots"], full.files["snapshots"]):
        sa, sb = read_snapshot(a), read_snapshot(b)
        assert sa.header["Time"] == sb.header["Time"]
        for t in sb.particles:
            assert np.array_equal(sa.particles[t].pos, sb.particles[t].pos)
    assert stale.header["Time"] == pytest.approx(0.1875)
    manifest = json.loads((tmp_path / "half" / "manifest.json").read_text())
    assert manifest["status"] == "complete" and len(manifest["restarts"]) == 1
    present = sorted(p.name for p in (tmp_path / "half").iterdir() if p.name != "manifest.json")
    assert sorted(f["name"] for f in manifest["files"]) == present


# ----------------------------------------------------------------------------- nbody integrate


def _ic(path):
    from tests.nbody.test_cli_integrate import _ic as make

    make(path)
    return path


INTEGRATE_CASES = {
    "missing file": ("missing", {}, "does not exist"),
    "empty file": ("empty", {}, "neither HDF5 nor GADGET-2"),
    "malformed file": ("garbage", {}, "neither HDF5 nor GADGET-2"),
    "bad unit string": ("ok", {"--t-end": "3 foo"}, "'--t-end'"),
    "not a time": ("ok", {"--t-end": "3 km"}, "'--t-end'"),
    "no number": ("ok", {"--t-end": "Myr"}, "'--t-end'"),
    "NaN time": ("ok", {"--t-end": "nan Myr"}, "'--t-end'"),
    "inf time": ("ok", {"--t-end": "inf"}, "'--t-end'"),
    "negative time": ("ok", {"--t-end": "-0.02 Myr"}, "'--t-end'"),
    "zero time": ("ok", {"--t-end": "0 yr"}, "'--t-end'"),
    "zero tolerance": ("ok", {"--tolerance": "0"}, "'--tolerance'"),
    "NaN tolerance": ("ok", {"--tolerance": "nan"}, "'--tolerance'"),
    "tolerance too large": ("ok", {"--tolerance": "0.1"}, "'--tolerance'"),
    "negative merger radius": ("ok", {"--merger-radius-rs": "-1"}, "'--merger-radius-rs'"),
    "zero outputs": ("ok", {"--n-out": "0"}, "'--n-out'"),
    "fractional outputs": ("ok", {"--n-out": "2.5"}, "'--n-out'"),
    "non-numeric outputs": ("ok", {"--n-out": "many"}, "'--n-out'"),
    "unknown PN term": ("ok", {"--pn": "1PN,4PN"}, "'--pn'"),
    "output is a folder": ("ok", {"--out": "DIR"}, "is an existing directory"),
    "output below a file": ("ok", {"--out": "FILE/run.hdf5"}, "cannot write output"),
}


@pytest.mark.parametrize("case", list(INTEGRATE_CASES))
def test_integrate_bad_input(tmp_path, capsys, case):
    kind, opts, needle = INTEGRATE_CASES[case]
    ic = tmp_path / "ic.hdf5"
    if kind == "ok":
        _ic(ic)
    elif kind == "empty":
        ic.write_bytes(b"")
    elif kind == "garbage":
        ic.write_bytes(b"this is not a snapshot\n" * 10)
    (tmp_path / "DIR").mkdir()
    (tmp_path / "FILE").write_text("x")
    args = {"--t-end": "0.02 Myr", "--n-out": "2", "--out": str(tmp_path / "run.hdf5")}
    args.update({k: v.replace("DIR", str(tmp_path / "DIR")).replace("FILE", str(tmp_path / "FILE"))
                 for k, v in opts.items()})
    before = _tree(tmp_path)
    assert main(["integrate", str(ic), "--quiet", *[f"{k}={v}" for k, v in args.items()]]) == 2
    _one_error_line(capsys, needle, *([str(ic)] if kind != "ok" else []))
    assert _tree(tmp_path) == before  # no output file, no temporary file


# ----------------------------------------------------------------------------- nbody pm

PM_OK = 'box = 64.0\nnside = 8\nnsteps = 2\na_start = 0.1\noutput_redshifts = [0.0]\noutput_dir = "OUT"\n'
PM_CASES = {  # (config text or None: missing, extra arguments, what the error line names)
    "missing file": (None, [], ("does not exist", "CFG")),
    "malformed file": ("box = = 3", [], ("is not valid TOML", "CFG")),
    "unknown key": (PM_OK + "bogus = 1\n", [], ("'bogus'",)),
    "wrong type": (PM_OK.replace("nside = 8", 'nside = "8"'), [], ("'nside'",)),
    "negative value": (PM_OK.replace("box = 64.0", "box = -64.0"), [], ("'box'",)),
    "zero value": (PM_OK.replace("box = 64.0", "box = 0.0"), [], ("'box'",)),
    "NaN value": (PM_OK.replace("a_start = 0.1", "a_start = nan"), [], ("'a_start'",)),
    "inf value": (PM_OK.replace("box = 64.0", "box = inf"), [], ("'box'",)),
    "NaN redshift": (PM_OK.replace("[0.0]", "[nan]"), [], ("'output_redshifts'",)),
    "cosmology NaN": (PM_OK + "[cosmology]\nsigma8 = nan\n", [], ("'cosmology.sigma8'",)),
    "redshift above start": (PM_OK.replace("[0.0]", "[20.0]"), [], ("'output_redshifts'",)),
    "unwritable output folder": (PM_OK, ["--output-dir", "FILE/out"], ("cannot write output", "FILE/out")),
    "unwritable --json": (PM_OK, ["--json", "FILE/pm.json"], ("cannot write output", "FILE/pm.json")),
    "--json is a folder": (PM_OK, ["--json", "DIR"], ("is an existing directory", "DIR")),
    "unknown gravity": (PM_OK + 'gravity = "p3m"\n', [], ("'gravity'",)),
    "treepm cut beyond half box": (PM_OK + 'gravity = "treepm"\n', [], ("'treepm_asmth'", "'treepm_rcut'")),
    "treepm NaN theta": (PM_OK + "treepm_theta = nan\n", [], ("'treepm_theta'",)),
    "treepm negative softening": (PM_OK + "softening = -1.0\n", [], ("'softening'",)),
}


@pytest.mark.parametrize("case", list(PM_CASES))
def test_pm_bad_input(tmp_path, capsys, case):
    text, extra, needles = PM_CASES[case]
    cfg = tmp_path / "pm.toml"
    if text is not None:
        cfg.write_text(text.replace("OUT", str(tmp_path / "out")))
    (tmp_path / "DIR").mkdir()
    (tmp_path / "FILE").write_text("x")

    def paths(e):
        return e.replace("DIR", str(tmp_path / "DIR")).replace("FILE", str(tmp_path / "FILE")).replace("CFG", str(cfg))

    before = _tree(tmp_path)
    assert main(["pm", str(cfg), "--quiet", *map(paths, extra)]) == 2
    _one_error_line(capsys, *map(paths, needles))
    assert _tree(tmp_path) == before and not (tmp_path / "out").exists()


def test_pm_refuses_another_runs_folder(tmp_path, capsys):
    cfg = tmp_path / "pm.toml"
    cfg.write_text(PM_OK.replace("OUT", str(tmp_path / "out")))
    assert main(["pm", str(cfg), "--quiet"]) == 0
    capsys.readouterr()
    old = _tree(tmp_path / "out")
    assert set(old) == {"snap_000.hdf5", "manifest.json"}
    assert main(["pm", str(cfg), "--quiet"]) == 2
    _one_error_line(capsys, "already holds", str(tmp_path / "out"))
    assert _tree(tmp_path / "out") == old
    assert main(["pm", str(cfg), "--quiet", "--overwrite"]) == 0
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["status"] == "complete" and [f["name"] for f in manifest["files"]] == ["snap_000.hdf5"]


# ----------------------------------------------------------------------------- nbody snapshot


@pytest.mark.parametrize("kind,needle", [("missing", "does not exist"), ("empty", "neither HDF5 nor GADGET-2"),
                                         ("garbage", "neither HDF5 nor GADGET-2"),
                                         ("emptydir", "holds no snapshot files"),
                                         ("truncated", "")])
def test_snapshot_bad_input(tmp_path, capsys, kind, needle):
    path = tmp_path / "snap_000.hdf5"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "garbage":
        path.write_bytes(b"\x00\x01not a snapshot" * 5)
    elif kind == "emptydir":
        path = tmp_path / "snapdir_000"
        path.mkdir()
    elif kind == "truncated":
        _ic(path)
        path.write_bytes(path.read_bytes()[:600])
    assert main(["snapshot", str(path)]) == 2
    _one_error_line(capsys, needle, str(path))


# ----------------------------------------------------------------------------- subprocesses

#: imported at interpreter start-up (PYTHONPATH), so the command under test stays a plain
#: ``python -m nbody run ...``; what it injects is chosen by NBODY_TEST_HOOK
HOOK = r'''
import os
_hook = os.environ.get("NBODY_TEST_HOOK", "")
if _hook.startswith("fsize="):
    # the limit starts when the output folder is claimed: MPI's start-up (mpi4py is imported when
    # installed) maps shared-memory files that a file-size limit would already refuse
    import resource, signal
    from nbody.simulation import Simulation
    _claim = Simulation._claim_output
    def _claim_output(self, restart):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
        n = int(_hook.split("=")[1])
        resource.setrlimit(resource.RLIMIT_FSIZE, (n, n))
        return _claim(self, restart)
    Simulation._claim_output = _claim_output
elif _hook.startswith("pause_after_snapshot="):
    import time
    from pathlib import Path
    from nbody.simulation import Simulation
    _n = int(_hook.split("=")[1])
    _write = Simulation.write_snapshot
    def write_snapshot(self, number):
        path = _write(self, number)
        if number == _n:
            Path(os.environ["NBODY_TEST_MARK"]).write_text("paused")
            time.sleep(600)
        return path
    Simulation.write_snapshot = write_snapshot
elif _hook in ("rank1_setup", "rank1_loop"):
    from nbody.simulation import Simulation
    if _hook == "rank1_setup":
        _ics = Simulation.make_initial_conditions
        def make_initial_conditions(self):
            if self.rank == 1:
                from gpu.io import OutputError
                raise OutputError("injected: rank 1 cannot read its initial conditions")
            return _ics(self)
        Simulation.make_initial_conditions = make_initial_conditions
    else:
        _log = Simulation._log_bh
        def _log_bh(self):
            if self.rank == 1 and self.block == 2:
                raise RuntimeError("injected: rank 1 fails in block 2")
            return _log(self)
        Simulation._log_bh = _log_bh
'''


def _env(tmp_path, hook="", **extra):
    hookdir = tmp_path / "hook"
    hookdir.mkdir(exist_ok=True)
    (hookdir / "sitecustomize.py").write_text(HOOK)
    return dict(os.environ, PYTHONPATH=f"{hookdir}{os.pathsep}{REPO}", NBODY_TEST_HOOK=hook,
                NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1", **extra)


def _nbody(tmp_path, *args, hook="", timeout=300):
    return subprocess.run([sys.executable, "-m", "nbody", *map(str, args)], capture_output=True, text=True,
                          env=_env(tmp_path, hook), timeout=timeout, cwd=tmp_path)


def _same_outputs(folder_a, folder_b):
    """Every snapshot and log of two run folders holds identical numbers (bit for bit)."""
    from gpu.io import read_results
    from nbody.snapshot import read_snapshot

    names = sorted(p.name for p in Path(folder_b).glob("snap_*.hdf5"))
    assert sorted(p.name for p in Path(folder_a).glob("snap_*.hdf5")) == names
    for n in names:
        a, b = read_snapshot(Path(folder_a) / n), read_snapshot(Path(folder_b) / n)
        assert a.header["Time"] == b.header["Time"]
        assert sorted(a.particles) == sorted(b.particles)
        for t in b.particles:
            for k in ("pos", "vel", "ids", "mass"):
                assert np.array_equal(getattr(a.particles[t], k), getattr(b.particles[t], k)), (n, t, k)
    for log in ("bh_orbits.hdf5", "energy.hdf5"):
        da, _ = read_results(Path(folder_a) / log)
        db, _ = read_results(Path(folder_b) / log)
        assert sorted(da) == sorted(db)
        for k in db:
            if k.startswith("Header"):
                continue
            assert np.array_equal(da[k], db[k], equal_nan=True), (log, k)


def _manifest_lists_exactly_the_files(folder):
    manifest = json.loads((Path(folder) / "manifest.json").read_text())
    present = sorted(p.name for p in Path(folder).iterdir() if p.name != "manifest.json")
    assert sorted(f["name"] for f in manifest["files"]) == present
    return manifest


def test_kill_9_then_restart_reproduces_the_uninterrupted_run(tmp_path):
    """SIGKILL of ``python -m nbody run`` after a snapshot later than its last checkpoint; ``--restart``
    reproduces the uninterrupted run bit for bit and the folder lists exactly that run's files."""
    from nbody import Simulation

    text = SHORT.replace("t_end = 0.125", "t_end = 0.3125").replace(
        "quiet = true", "quiet = true\ncheckpoint_interval = 0.125")  # snapshots every block, checkpoints every 2
    Simulation(text.replace("OUT", str(tmp_path / "ref"))).run()
    cfg = tmp_path / "run.toml"
    cfg.write_text(text.replace("OUT", str(tmp_path / "run")))
    mark = tmp_path / "paused"
    proc = subprocess.Popen([sys.executable, "-m", "nbody", "run", str(cfg)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, cwd=tmp_path,
                            env=_env(tmp_path, "pause_after_snapshot=3", NBODY_TEST_MARK=str(mark)))
    try:
        t0 = time.monotonic()
        while not mark.exists():
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() - t0 < 240, "the run did not reach snapshot 3"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    run = tmp_path / "run"
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "running"  # what a killed run leaves
    assert (run / "snap_003.hdf5").exists()  # written after the checkpoint at t = 0.125 (snapshot 2)
    # a rerun without --restart refuses the folder; --restart continues it
    again = _nbody(tmp_path, "run", cfg)
    assert again.returncode == 2 and "already holds" in again.stderr
    res = _nbody(tmp_path, "run", cfg, "--restart")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert [Path(p).name for p in out["files"]["snapshots"]] == [f"snap_{i:03d}.hdf5" for i in range(6)]
    _same_outputs(run, tmp_path / "ref")
    manifest = _manifest_lists_exactly_the_files(run)
    assert manifest["status"] == "complete" and len(manifest["restarts"]) == 1
    assert sorted(f["name"] for f in manifest["files"]) == sorted(
        f["name"] for f in json.loads((tmp_path / "ref" / "manifest.json").read_text())["files"])


def test_file_size_limit_gives_exit_2_and_keeps_earlier_snapshots(tmp_path):
    """`nbody run` with a file-size limit between a snapshot's and a checkpoint's size (RLIMIT_FSIZE stands
    in for a full disk): exit 2 and one clear error line, no crash in h5py, no .tmp, snapshots intact."""
    from nbody import Simulation
    from nbody.snapshot import read_snapshot

    ref = Simulation(SHORT.replace("OUT", str(tmp_path / "ref"))).run()  # also fills the Numba cache
    snap, ck = (tmp_path / "ref" / "snap_000.hdf5").stat().st_size, (tmp_path / "ref" / "checkpoint.hdf5").stat().st_size
    assert ck > 1.2 * snap
    cfg = _run_cfg(tmp_path)
    proc = _nbody(tmp_path, "run", cfg, hook=f"fsize={(snap + ck) // 2}")
    assert proc.returncode == 2, proc.stderr  # not -11 (segfault) or -25 (SIGXFSZ)
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error")]
    assert len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "checkpoint.hdf5" in errors[0] and "file-size limit" in errors[0]
    out = tmp_path / "out"
    assert not list(out.glob("*.tmp")) and not (out / "checkpoint.hdf5").exists()
    written = sorted(p.name for p in out.glob("snap_*.hdf5"))
    assert written == ["snap_000.hdf5", "snap_001.hdf5"]  # the snapshots before the first checkpoint
    for n in written:
        a, b = read_snapshot(out / n), read_snapshot(tmp_path / "ref" / n)
        assert all(np.array_equal(a.particles[t].pos, b.particles[t].pos) for t in b.particles)
    manifest = _manifest_lists_exactly_the_files(out)
    assert manifest["status"] == "failed" and "file-size limit" in manifest["reason"]
    assert ref.time == pytest.approx(0.125)


# ----------------------------------------------------------------------------- MPI: one rank fails


@pytest.mark.mpi
@pytest.mark.parametrize("hook,message", [("rank1_setup", "[rank 1] error: injected: rank 1 cannot read"),
                                          ("rank1_loop", "injected: rank 1 fails in block 2")])
def test_mpiexec_run_with_an_error_on_one_rank_ends(tmp_path, hook, message):
    """The README's launch, a plain `mpiexec -n 2 python -m nbody run cfg.toml`, with an error on rank 1
    only (during set-up, or inside the block loop while rank 0 is in a collective): the job ends."""
    require_mpi()
    cfg = _run_cfg(tmp_path, SHORT.replace("t_end = 0.125", "t_end = 0.25"))
    t0 = time.monotonic()
    proc = subprocess.run([mpiexec_path(), "-n", "2", sys.executable, "-m", "nbody", "run", str(cfg)],
                          capture_output=True, text=True, env=_env(tmp_path, hook), timeout=120, cwd=tmp_path)
    wall = time.monotonic() - t0
    assert proc.returncode != 0, proc.stderr
    assert message in proc.stderr, proc.stderr
    assert '"files"' not in proc.stdout and wall < 110
    assert not list(tmp_path.rglob("*.tmp"))


SNAPSHOT_FULL_DISK = r'''
import resource, signal, sys
import numpy as np
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
from gpu.io import OutputError
from nbody.particles import Particles
from nbody.snapshot import Snapshot, write_snapshot
path = sys.argv[1]

def snap(n):
    rng = np.random.default_rng(n)
    pos, vel, ids = rng.random((n, 3)), rng.random((n, 3)), np.arange(n)
    return Snapshot(particles={4: Particles.from_arrays(rng.random(n), pos, vel, 4, ids=ids)})

write_snapshot(path, snap(10), num_files=2)
resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))
try:
    write_snapshot(path, snap(20_000), num_files=2)  # two files of ~0.6 MB each
except OutputError as exc:
    print("OutputError:", exc)
    sys.exit(3)
'''


def test_snapshot_writer_under_a_file_size_limit_keeps_the_old_snapshot(tmp_path):
    """A multi-file snapshot that does not fit: OutputError, no .tmp, the earlier snapshot's files intact."""
    from nbody.snapshot import read_snapshot

    script = tmp_path / "full.py"
    script.write_text(SNAPSHOT_FULL_DISK)
    path = tmp_path / "snap_000.hdf5"
    proc = subprocess.run([sys.executable, str(script), str(path)], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert proc.returncode == 3, proc.stderr  # a clean OutputError, no crash (-11) in h5py
    assert "file-size limit" in proc.stdout
    files = sorted(p.name for p in (tmp_path / "snapdir_000").iterdir())
    assert files == ["snap_000.0.hdf5", "snap_000.1.hdf5"]
    s = read_snapshot(tmp_path / "snapdir_000")
    assert len(s.particles[4]) == 10


def test_restart_from_another_folders_snapshot_needs_a_folder_of_its_own(tmp_path, capsys):
    first = _run_cfg(tmp_path)
    assert main(["run", str(first), "--quiet"]) == 0
    other = tmp_path / "other.toml"
    other.write_text(SHORT.replace("OUT", str(tmp_path / "other")).replace("t_end = 0.125", "t_end = 0.1875"))
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "snap_007.hdf5").write_text("an older run")
    snap = str(tmp_path / "out" / "snap_001.hdf5")
    capsys.readouterr()
    assert main(["run", str(other), "--quiet", "--restart", snap]) == 2
    _one_error_line(capsys, "already holds", str(tmp_path / "other"))
    assert main(["run", str(other), "--quiet", "--restart", snap, "--overwrite"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [Path(p).name for p in out["files"]["snapshots"]] == ["snap_002.hdf5", "snap_003.hdf5"]
    assert not (tmp_path / "other" / "snap_007.hdf5").exists()
    _manifest_lists_exactly_the_files(tmp_path / "other")


def test_library_t_end_is_checked_before_the_folder_is_claimed(tmp_path):
    from gpu.config import ConfigError
    from nbody import Simulation

    sim = Simulation(SHORT.replace("OUT", str(tmp_path / "out")))
    for bad in (float("nan"), float("inf"), -0.125, 0.0):
        with pytest.raises(ConfigError, match=r"t_end \(overriding config key 'time\.t_end'\)"):
            sim.run(t_end=bad)
    assert not (tmp_path / "out").exists()


def test_debug_shows_the_traceback(tmp_path, capsys):
    assert main(["run", str(tmp_path / "missing.toml"), "--debug"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().splitlines()[-1].startswith("error: ")
