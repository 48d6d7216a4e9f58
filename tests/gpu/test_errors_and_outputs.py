"""The shared fault handling: one-line errors, finite-only configs, writable checks, run folders,
full disks, and MPI jobs that end when one rank fails."""
import dataclasses
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from gpu import cli
from gpu.config import ConfigError, check_arg, load_config, param
from gpu.io import OutputError, RunFolder, check_writable, read_results, write_results
from tests.mpi_harness import REPO, mpiexec_path, require_mpi

# ----------------------------------------------------------------------------- configs


@dataclasses.dataclass
class Step:
    dt: float = param(0.1, gt=0)
    t_end: float = param(1.0, gt=0)
    horizon: float = param(float("inf"), gt=0, allow_inf=True)

    def check_config(self, prefix=""):
        if self.dt > self.t_end:
            raise ConfigError(f"config key '{prefix}dt' = {self.dt} must be <= '{prefix}t_end' = {self.t_end}")


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_non_finite_numbers_are_refused(value):
    with pytest.raises(ConfigError, match=r"'dt'.*(not finite|NaN).*> 0"):
        load_config({"dt": value}, Step)


def test_allow_inf_is_explicit():
    assert load_config({"horizon": float("inf")}, Step).horizon == float("inf")
    with pytest.raises(ConfigError, match="NaN"):
        load_config({"horizon": float("nan")}, Step)


def test_cross_key_check_runs_at_load_and_names_both_keys():
    with pytest.raises(ConfigError, match=r"'dt' = 2.0 must be <= 't_end' = 1.0"):
        load_config({"dt": 2.0}, Step)


def test_check_arg_names_the_argument():
    assert check_arg("t_end", 3, gt=0) == 3.0
    with pytest.raises(ConfigError, match=r"argument 't_end' = inf is not finite"):
        check_arg("t_end", float("inf"), gt=0)
    with pytest.raises(ConfigError, match=r"argument 't_end' = -1.0 is out of range; it must be > 0"):
        check_arg("t_end", -1.0, gt=0)


# ----------------------------------------------------------------------------- the dispatcher

FAKE = '''
from gpu.config import ConfigError

def add_arguments(p):
    p.add_argument("what")
    p.add_argument("--x", type=float, default=0.0)
    p.add_argument("--xs", type=float, nargs="+", default=[])

def run(args):
    if args.what == "config":
        raise ConfigError("config key 'a.b' = -1 is out of range; it must be > 0")
    if args.what == "missing":
        open("/nonexistent/file.h5")
    if args.what == "bug":
        return 1 + None
    print("x", args.x, "xs", args.xs)
    return 0
'''


@pytest.fixture
def fake_commands(tmp_path, monkeypatch):
    (tmp_path / "sf_fake_cmd.py").write_text(FAKE)
    monkeypatch.syspath_prepend(str(tmp_path))
    return {"go": ("sf_fake_cmd", "a fake command")}


def _dispatch(commands, argv, capsys):
    rc = cli.dispatch("python -m fake", "fake", commands, argv)
    out, err = capsys.readouterr()
    return rc, out, err


def test_input_errors_are_one_line_exit_2(fake_commands, capsys):
    rc, _, err = _dispatch(fake_commands, ["go", "config"], capsys)
    assert rc == 2 and err.strip().splitlines() == ["error: config key 'a.b' = -1 is out of range; it must be > 0"]
    rc, _, err = _dispatch(fake_commands, ["go", "missing"], capsys)
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "/nonexistent/file.h5" in err


def test_internal_errors_exit_1_and_debug_shows_traceback(fake_commands, capsys):
    rc, _, err = _dispatch(fake_commands, ["go", "bug"], capsys)
    assert rc == 1 and len(err.strip().splitlines()) == 1 and "TypeError" in err and "--debug" in err
    rc, _, err = _dispatch(fake_commands, ["go", "bug", "--debug"], capsys)
    assert rc == 1 and "Traceback" in err
    rc, _, err = _dispatch(fake_commands, ["--debug", "go", "config"], capsys)
    assert rc == 2 and "Traceback" in err


def test_negative_numbers_as_users_write_them(fake_commands, capsys):
    rc, out, _ = _dispatch(fake_commands, ["go", "ok", "--x", "-1e-3", "--xs", "-2", "-.5e1", "3"], capsys)
    assert rc == 0 and out.strip() == "x -0.001 xs [-2.0, -5.0, 3.0]"


def test_version_flag(fake_commands, capsys):
    with pytest.raises(SystemExit) as e:
        cli.dispatch("python -m fake", "fake", fake_commands, ["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.startswith("scaleforge ")


# ----------------------------------------------------------------------------- outputs


def test_check_writable_names_the_path(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match=r"cannot write output '.*file/out.h5': '.*file' is a file, not a folder"):
        check_writable(blocker / "out.h5")
    with pytest.raises(OutputError, match="is an existing directory"):
        check_writable(tmp_path)
    assert check_writable(tmp_path / "new" / "out.h5") == tmp_path / "new" / "out.h5"


def test_check_outputs_distinct_writable_and_not_another_runs(tmp_path):
    from gpu.io import check_outputs

    a, b = tmp_path / "a.h5", tmp_path / "b.json"
    check_outputs([("--out", a), ("--json", b), ("--log", None)])
    with pytest.raises(OutputError, match="--out and --json"):
        check_outputs([("--json", a), ("--out", tmp_path / "." / "a.h5")])
    a.write_bytes(b"old")
    with pytest.raises(OutputError, match=r"a\.h5.*\(--out\) already exists"):
        check_outputs([("--out", a)], existing=("--out",))
    check_outputs([("--out", a)], existing=("--out",), overwrite=True)
    check_outputs([("--out", a)], existing=("--out",), allowed=(a,))
    check_outputs([("--json", a)], existing=("--out",))  # only the flags named in existing
    with pytest.raises(OutputError, match="is an existing directory"):
        check_outputs([("--out", tmp_path)])
    assert a.read_bytes() == b"old"


def test_run_folder_refuses_another_runs_files_and_overwrite_clears_them(tmp_path):
    d = tmp_path / "out"
    f1 = RunFolder(d, command="t", own_patterns=("snap_*.h5",)).claim()
    for i in range(3):
        (d / f"snap_{i}.h5").write_text("old")
        f1.add(d / f"snap_{i}.h5", time=i)
    f1.finish()
    with pytest.raises(OutputError, match=r"already holds 4 file\(s\).*--overwrite"):
        RunFolder(d, command="t").claim()
    f2 = RunFolder(d, command="t", overwrite=True, own_patterns=("snap_*.h5",)).claim()
    assert sorted(p.name for p in d.iterdir()) == ["manifest.json"] and f2.files == []
    (d / "snap_0.h5").write_text("new")
    f2.add(d / "snap_0.h5")
    f2.finish(ok=False, reason="energy check failed")
    man = json.loads((d / "manifest.json").read_text())
    assert man["status"] == "failed" and [f["name"] for f in man["files"]] == ["snap_0.h5"]
    # a restart keeps the run's files; foreign files are never removed
    f3 = RunFolder(d, command="t", restart=True).claim()
    assert f3.files == ["snap_0.h5"] and (d / "snap_0.h5").exists()
    (d / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="not outputs of 't'.*notes.txt"):
        RunFolder(d, command="t", overwrite=True, own_patterns=("snap_*.h5",)).claim()
    assert (d / "notes.txt").read_text() == "mine"


def test_stale_tmp_files_of_killed_runs_are_removed(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    stale = tmp_path / f"snap_001.hdf5.{proc.pid}.tmp"
    stale.write_text("half")
    RunFolder(tmp_path, command="t", restart=True).claim()
    assert not stale.exists()


FULL_DISK = r'''
import resource, signal, sys
import numpy as np
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
from gpu.io import OutputError, write_results
out = sys.argv[1]
write_results(out, {"small": np.arange(10.0)})
resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
try:
    write_results(out, {"big": np.random.default_rng(0).random(200_000)})
except OutputError as exc:
    print("OutputError:", exc)
    sys.exit(3)
sys.exit(0)
'''


def test_file_size_limit_gives_a_clear_error_and_keeps_the_old_file(tmp_path):
    script = tmp_path / "full.py"
    script.write_text(FULL_DISK)
    out = tmp_path / "res.h5"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, str(script), str(out)], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 3, proc.stderr  # no segfault (-11), a clean OutputError
    assert "no space left on the device or file-size limit reached" in proc.stdout
    data, _ = read_results(out)
    np.testing.assert_array_equal(data["small"], np.arange(10.0))  # the earlier result is intact
    assert not list(tmp_path.glob("*.tmp"))


# ----------------------------------------------------------------------------- MPI


def _mpiexec(script_text, tmp_path, n=2, timeout=120, args=()):
    require_mpi()
    script = tmp_path / "job.py"
    script.write_text(textwrap.dedent(script_text))
    env = dict(os.environ, PYTHONPATH=str(REPO), NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1")
    t0 = time.monotonic()
    proc = subprocess.run([mpiexec_path(), "-n", str(n), sys.executable, str(script), *args],
                          capture_output=True, text=True, env=env, timeout=timeout, cwd=tmp_path)
    return proc, time.monotonic() - t0


@pytest.mark.mpi
def test_library_driver_error_on_one_rank_ends_the_job(tmp_path):
    """A user's script (plain `mpiexec python script.py`): rank 1 raises while rank 0 waits."""
    proc, wall = _mpiexec('''
        import gpu
        comm = gpu.get_comm()
        if comm.rank == 1:
            raise RuntimeError("rank one failed")
        comm.barrier()
        print("never here")
    ''', tmp_path)
    assert proc.returncode != 0 and "never here" not in proc.stdout
    assert "rank one failed" in proc.stderr and wall < 100


@pytest.mark.mpi
def test_command_error_on_one_rank_ends_the_job(tmp_path):
    """`mpiexec -n 2 python -m <pkg> <cmd>`: a ConfigError on rank 1 only; rank 0 is in a collective."""
    (tmp_path / "sf_mpi_cmd.py").write_text(textwrap.dedent('''
        from gpu.config import ConfigError
        import gpu
        def add_arguments(p):
            pass
        def run(args):
            comm = gpu.get_comm()
            if comm.rank == 1:
                raise ConfigError("output 'x' is not writable on rank 1")
            comm.barrier()
            print("never here")
            return 0
    '''))
    proc, wall = _mpiexec('''
        import sys
        sys.path.insert(0, ".")
        from gpu import cli
        sys.exit(cli.dispatch("python -m fake", "fake", {"go": ("sf_mpi_cmd", "x")}, ["go"]))
    ''', tmp_path)
    assert proc.returncode != 0  # hydra reports the abort code or its own non-zero status
    assert "[rank 1] error: output 'x' is not writable on rank 1" in proc.stderr
    assert "never here" not in proc.stdout and wall < 100


def test_package_without_arguments_lists_its_commands(capsys):
    from nbody.__main__ import COMMANDS, main

    assert main([]) == 0
    out = capsys.readouterr().out
    for name, (_, help_) in COMMANDS.items():
        assert f"  {name:12s} {help_}" in out


def test_option_errors_are_one_line_too(fake_commands, capsys):
    with pytest.raises(SystemExit) as e:
        cli.dispatch("python -m fake", "fake", fake_commands, ["go", "ok", "--x", "two"])
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and len(err) == 1 and err[0].startswith("error: ") and "--x" in err[0]


def test_result_errors_exit_1_without_the_internal_error_hint(tmp_path, monkeypatch, capsys):
    (tmp_path / "sf_result_cmd.py").write_text(
        "from gpu.io import ResultError\n"
        "def add_arguments(p):\n    pass\n"
        "def run(args):\n    raise ResultError('energy balance off by 81 %; output marked failed')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    rc = cli.dispatch("python -m fake", "fake", {"go": ("sf_result_cmd", "x")}, ["go"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and err == ["error: energy balance off by 81 %; output marked failed"]


def test_a_run_that_died_before_writing_anything_does_not_block_the_folder(tmp_path):
    d = tmp_path / "out"
    RunFolder(d, command="t").claim()              # killed before its first file: manifest only
    f = RunFolder(d, command="t").claim()          # the next run may use the folder
    assert f.manifest["status"] == "running" and f.files == []
