import dataclasses
import json

import h5py
import numpy as np
import pytest

from gpu.config import ConfigError, load_config, param
from gpu.io import atomic_path, read_results, write_json, write_results


@dataclasses.dataclass
class Soft:
    eps: float = param(0.01, gt=0, doc="softening")
    kernel: str = param("spline", choices=("spline", "plummer"))


@dataclasses.dataclass
class Run:
    n: int = param(100, ge=1)
    tolerance: float = param(1e-10, gt=0, le=1e-3)
    pn: list[str] = param(default_factory=list, choices=("1PN", "2PN", "2.5PN"))
    softening: Soft = param(default_factory=Soft)


def test_config_from_toml_text_and_file(tmp_path):
    text = 'n = 5\npn = ["1PN"]\n[softening]\neps = 0.5\n'
    cfg = load_config(text, Run)
    assert cfg.n == 5 and cfg.pn == ["1PN"] and cfg.softening.eps == 0.5 and cfg.softening.kernel == "spline"
    p = tmp_path / "run.toml"
    p.write_text(text)
    assert load_config(p, Run) == cfg


@pytest.mark.parametrize("data, match", [
    ({"tolerance": 0.1}, r"'tolerance' = 0.1 is out of range; it must be > 0 and <= 0.001"),
    ({"n": 0}, r"'n' = 0 is out of range; it must be >= 1"),
    ({"softening": {"eps": -1.0}}, r"'softening.eps' = -1.0 is out of range; it must be > 0"),
    ({"softening": {"kernel": "gauss"}}, r"'softening.kernel' = 'gauss' is not valid"),
    ({"pn": ["4PN"]}, r"'pn' = '4PN' is not valid"),
    ({"bogus": 1}, r"unknown config key 'bogus'"),
    ({"n": "ten"}, r"'n' must be an integer"),
])
def test_config_errors_name_the_key(data, match):
    with pytest.raises(ConfigError, match=match):
        load_config(data, Run)


def test_missing_config_file_is_clear(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml", Run)


def test_results_roundtrip_with_header(tmp_path):
    path = tmp_path / "out.h5"
    r = np.linspace(0, 1, 11)
    write_results(path, {"r": r, "stats/v": r ** 2}, params={"N": 10, "box": 100.0, "models": ["GR", "fR"]},
                  units={"r": "Mpc/h", "stats/v": "km/s"}, config_text="n = 10")
    data, header = read_results(path)
    assert np.array_equal(data["r"], r) and np.array_equal(data["stats/v"], r ** 2)
    assert header["N"] == 10 and header["code"] == "scaleforge" and header["config"] == "n = 10"
    assert json.loads(header["units"])["r"] == "Mpc/h"
    with h5py.File(path) as f:
        assert f["stats/v"].attrs["units"] == "km/s"


def test_failed_write_keeps_existing_file(tmp_path):
    path = tmp_path / "out.h5"
    write_results(path, {"x": np.ones(3)})
    with pytest.raises(RuntimeError):
        with atomic_path(path) as tmp:
            tmp.write_text("partial")
            raise RuntimeError("simulated crash")
    data, _ = read_results(path)
    assert np.array_equal(data["x"], np.ones(3))
    assert list(tmp_path.iterdir()) == [path]


def test_write_json_numpy(tmp_path):
    from gpu.io import code_version

    p = write_json(tmp_path / "s.json", {"a": np.float64(1.5), "b": np.arange(3)})
    assert json.loads(p.read_text()) == {"code_version": code_version(), "a": 1.5, "b": [0, 1, 2]}


def test_cli_dispatch_runs_command_and_rejects_unknown(tmp_path, capsys):
    import pytest as _pytest

    from gpu import cli
    from nbody.__main__ import COMMANDS
    from nbody.particles import Particles
    from nbody.snapshot import Snapshot, write_snapshot

    snap = Snapshot({5: Particles.from_arrays(np.ones(1), np.zeros((1, 3)), np.zeros((1, 3)), 5,
                                              ids=np.arange(1, dtype=np.uint64))})
    (path,) = write_snapshot(tmp_path / "snap_000.hdf5", snap)
    assert cli.dispatch("python -m nbody", "test", COMMANDS, ["snapshot", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["types"]["5"]["count"] == 1
    with _pytest.raises(SystemExit) as exc:
        cli.dispatch("python -m nbody", "test", COMMANDS, ["no-such-command"])
    assert exc.value.code == 2


@dataclasses.dataclass
class _Beam:
    radius: float = param(50e-6, gt=0, unit="m")
    power: float | None = param(None, gt=0, unit="W")


def test_config_quantities_convert_to_the_declared_unit():
    from astropy import units as u

    c = load_config({"radius": 35 * u.um, "power": "0.2 kW"}, _Beam)
    assert c.radius == pytest.approx(35e-6, rel=1e-15) and c.power == pytest.approx(200.0, rel=1e-15)
    assert load_config('radius = "40 um"\n', _Beam).radius == pytest.approx(40e-6, rel=1e-15)
    assert load_config({"radius": 2e-5}, _Beam).radius == 2e-5  # plain numbers are already in the unit
    with pytest.raises(ConfigError, match="'radius'.*in m"):
        load_config({"radius": 3 * u.s}, _Beam)  # wrong dimension
    with pytest.raises(ConfigError, match="'radius'"):
        load_config({"radius": "fifty"}, _Beam)
    with pytest.raises(ConfigError, match="'radius'.*out of range"):
        load_config({"radius": -1 * u.mm}, _Beam)  # the range applies after conversion


def test_json_is_strict_and_keeps_a_given_version(tmp_path):
    """NaN / inf become null (standard parsers reject bare NaN tokens); a summary's own code_version stays."""
    p = write_json(tmp_path / "s.json", {"a": float("nan"), "b": [1.0, np.inf], "c": np.float64(2.5),
                                          "code_version": "given"})
    text = p.read_text()
    assert "NaN" not in text and "Infinity" not in text
    d = json.loads(text)
    assert d == {"code_version": "given", "a": None, "b": [1.0, None], "c": 2.5}
