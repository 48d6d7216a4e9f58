"""Bad input and failed results of ``python -m cosmo forecast`` and ``python -m cosmo pairwise``.

Every bad input is refused before any work with exit status 2, ONE stderr line ``error: ...``
naming the key, option or file, and no output left behind. Results that are not finite fail
(exit 1) and write nothing. Under ``mpiexec`` an error on one rank ends the job.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from cosmo.__main__ import main
from gpu.config import ConfigError
from tests.mpi_harness import REPO, mpiexec_path, require_mpi

# ------------------------------------------------------------------------------------------- helpers
SMALL_TOML = """
[forecast]
experiments = ["SO_goal"]
samples = ["DESI_LRG"]
power_method = "eh"
n_bins = 3
n_k = 4
n_mu = 8
[[models]]
type = "hu_sawicki"
fR0 = 1e-5
name = "fR5"
"""


def _run(argv, capsys):
    rc = main(argv)
    err = capsys.readouterr().err
    return rc, [line for line in err.splitlines() if line.strip()]


def _assert_refused(rc, lines, tmp_path, outputs, *names):
    assert rc == 2, lines
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: "), lines
    for n in names:
        assert n in lines[0], (n, lines[0])
    for p in outputs:
        assert not Path(p).exists(), p
    assert not list(Path(tmp_path).rglob("*.tmp")), list(Path(tmp_path).rglob("*"))


# ------------------------------------------------------------------------------------------- forecast
def _replace(old, new):
    assert old in SMALL_TOML
    return SMALL_TOML.replace(old, new)


FORECAST_BAD_CONFIGS = {
    # name: (config text, words the error line must contain)
    "empty": ("", ("is empty",)),
    "malformed": ("[forecast\nb_v = 1", ("not valid TOML",)),
    "unknown key": (_replace("n_bins = 3", "nbins = 3"), ("nbins",)),
    "unknown table": ("[forcast]\nb_v = 0.5\n", ("forcast",)),
    "forecast not a table": ("forecast = 3\n", ("forecast",)),
    "wrong type": (_replace("n_bins = 3", 'n_bins = 3\nb_v = "high"'), ("b_v", "number")),
    "int as float": (_replace("n_bins = 3", "n_bins = 2.5"), ("n_bins", "integer")),
    "negative b_v": (_replace("n_bins = 3", "n_bins = 3\nb_v = -0.45"), ("b_v", "> 0")),
    "zero b_v": (_replace("n_bins = 3", "n_bins = 3\nb_v = 0.0"), ("b_v",)),
    "nan b_v": (_replace("n_bins = 3", "n_bins = 3\nb_v = nan"), ("b_v", "NaN")),
    "inf b_v": (_replace("n_bins = 3", "n_bins = 3\nb_v = inf"), ("b_v", "finite")),
    "zero bins": (_replace("n_bins = 3", "n_bins = 0"), ("n_bins",)),
    "k_min >= k_max": (_replace("n_bins = 3", "n_bins = 3\nk_min = 0.1\nk_max = 0.1"), ("k_max", "k_min")),
    "negative k_min": (_replace("n_bins = 3", "n_bins = 3\nk_min = -0.01"), ("k_min",)),
    "k_max beyond lensing grid": (_replace("n_bins = 3", "n_bins = 3\nk_max = 0.95")
                                  .replace('"DESI_LRG"', '"DESI_QSO"'), ("k_max", "DESI_QSO")),
    "no experiments": (_replace('experiments = ["SO_goal"]', "experiments = []"), ("experiments",)),
    "repeated sample": (_replace('samples = ["DESI_LRG"]', 'samples = ["DESI_LRG", "DESI_LRG"]'), ("samples",)),
    "unknown experiment": (_replace('"SO_goal"', '"Planck_HFI"'), ("Planck_HFI",)),
    "unknown sample": (_replace('"DESI_LRG"', '"Euclid"'), ("Euclid",)),
    "unknown cosmology": (_replace("n_bins = 3", 'n_bins = 3\ncosmology = "LCDM"'), ("cosmology",)),
    "model nan": (_replace("fR0 = 1e-5", "fR0 = nan"), ("models[0].fR0", "NaN")),
    "model negative": (_replace("fR0 = 1e-5", "fR0 = -1e-5"), ("models[0].fR0",)),
    "model inf n": (_replace("fR0 = 1e-5", "fR0 = 1e-5\nn = inf"), ("models[0].n",)),
    "model wrong type": (_replace("fR0 = 1e-5", 'fR0 = "1e-5"'), ("models[0].fR0", "number")),
    "model unknown key": (_replace("fR0 = 1e-5", "f_R0 = 1e-5"), ("models[0].f_R0",)),
    "model unknown type": (_replace('type = "hu_sawicki"', 'type = "dgp"'), ("models[0].type", "dgp")),
    "model named GR": (_replace('name = "fR5"', 'name = "GR"'), ("models[0].name",)),
    "model duplicate": (SMALL_TOML + '[[models]]\ntype = "chameleon"\nname = "fR5"\n', ("models[1].name",)),
    "chameleon beta1": (SMALL_TOML + '[[models]]\ntype = "chameleon"\nbeta1 = 0.5\n', ("models[1].beta1",)),
    "mu_sigma -inf": (SMALL_TOML + '[[models]]\ntype = "mu_sigma"\nmu0 = -inf\n', ("models[1].mu0",)),
    "models not tables": (_replace("[forecast]", "models = [1, 2]\n[forecast]").split("[[models]]")[0],
                          ("models[0]",)),
    "survey noise negative": (SMALL_TOML + "[surveys.cmb.SO_goal]\nnoise_uK_arcmin = [52, 27, -5.8, 6.3, 15, 37]\n",
                              ("noise_uK_arcmin",)),
    "survey noise all zero": (SMALL_TOML + "[surveys.cmb.SO_goal]\nnoise_uK_arcmin = [0, 0, 0, 0, 0, 0]\n",
                              ("cmb.SO_goal.noise_uK_arcmin",)),
    "survey beam nan": (SMALL_TOML + "[surveys.cmb.SO_goal]\nbeam_arcmin = [7.4, 5.1, nan, 1.4, 1.0, 0.9]\n",
                        ("cmb.SO_goal.beam_arcmin", "NaN")),
    "survey ell range": (SMALL_TOML + "[surveys.cmb.SO_goal]\nlensing_ell_min = 6000\n",
                         ("lensing_ell_max_T", "lensing_ell_min")),
    "survey z range": (SMALL_TOML + "[surveys.galaxies.DESI_LRG]\nz_min = 1.2\n", ("DESI_LRG.z_max", "z_min")),
    "survey n_deg2 inf": (SMALL_TOML + "[surveys.galaxies.DESI_LRG]\nn_deg2 = inf\n",
                          ("galaxies.DESI_LRG.n_deg2",)),
    "survey dndz outside": (SMALL_TOML + "[surveys.galaxies.DESI_LRG]\ndndz = [[2.0, 1.0], [3.0, 1.0]]\n",
                            ("galaxies.DESI_LRG.dndz",)),
    "survey overlap nan": (SMALL_TOML + "[surveys.overlap_deg2]\nSO_goal = nan\n", ("overlap_deg2.SO_goal",)),
    "survey overlap unknown": (SMALL_TOML + "[surveys.overlap_deg2]\nSO_gaol = 100.0\n", ("overlap_deg2.SO_gaol",)),
    "survey foreground -inf": (SMALL_TOML + "[surveys.foregrounds]\ntsz_D3000 = -inf\n",
                               ("foregrounds.tsz_D3000",)),
    "survey unknown key": (SMALL_TOML + "[surveys.foregrounds]\ntsz = 1.0\n", ("foregrounds.tsz",)),
    "survey unknown section": (SMALL_TOML + "[surveys.lensing]\nx = 1\n", ("lensing",)),
    "survey file missing": (_replace("n_bins = 3", 'n_bins = 3\nsurvey_file = "no_such_surveys.toml"'),
                            ("no_such_surveys.toml",)),
}


def _no_work(*a, **k):
    raise AssertionError("the work started although the input is bad")


@pytest.mark.parametrize("case", list(FORECAST_BAD_CONFIGS))
def test_forecast_bad_config_exit_2_one_line_no_output(case, tmp_path, capsys, monkeypatch):
    import cosmo.forecast

    monkeypatch.setattr(cosmo.forecast.VGForecast, "run", _no_work)  # refused at load time (would exit 1)
    text, names = FORECAST_BAD_CONFIGS[case]
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    out, js = tmp_path / "f.h5", tmp_path / "s.json"
    rc, lines = _run(["forecast", str(cfg), "--out", str(out), "--json", str(js), "--quiet"], capsys)
    _assert_refused(rc, lines, tmp_path, (out, js), *names)


def test_forecast_missing_or_directory_config(tmp_path, capsys):
    out = tmp_path / "f.h5"
    rc, lines = _run(["forecast", str(tmp_path / "nope.toml"), "--out", str(out)], capsys)
    _assert_refused(rc, lines, tmp_path, (out,), "nope.toml", "does not exist")
    rc, lines = _run(["forecast", str(tmp_path), "--out", str(out)], capsys)
    _assert_refused(rc, lines, tmp_path, (out,), str(tmp_path), "directory")


@pytest.mark.parametrize("which", ["out under a file", "json under a file", "out is a directory", "same file"])
def test_forecast_unwritable_output_refused_before_work(which, tmp_path, capsys, monkeypatch):
    """Outputs are checked before the forecast is even set up (a read-only folder would have cost the
    whole run): the check runs with a config that would take minutes."""
    import cosmo.forecast

    monkeypatch.setattr(cosmo.forecast.VGForecast, "__init__", _no_work)
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    (tmp_path / "adir").mkdir()
    out, js = tmp_path / "f.h5", tmp_path / "s.json"
    bad, name = {"out under a file": (("--out", str(blocker / "f.h5")), "a_file"),
                 "json under a file": (("--json", str(blocker / "s.json")), "a_file"),
                 "out is a directory": (("--out", str(tmp_path / "adir")), "adir"),
                 "same file": (("--json", str(out)), "same file")}[which]
    argv = ["forecast", "--out", str(out), "--json", str(js), "--quiet"]
    argv[argv.index(bad[0]) + 1] = bad[1]
    rc, lines = _run(argv, capsys)
    _assert_refused(rc, lines, tmp_path, (out, js, blocker / "f.h5", blocker / "s.json"), name)
    assert blocker.read_text() == "x"


def _fake_cells(nan_in=None):
    """A stand-in for VGForecast._cell giving finite (or, for one quantity, NaN) per-bin results."""
    def cell(self, exp_name, sample_name, model_name):
        nb = len(self.k_edges) - 1
        kc = 0.5 * (self.k_edges[1:] + self.k_edges[:-1])
        out = {"z_eff": 0.7, "chi_eff": 1800.0, "k": kc, "ell": kc * 1800 - 0.5,
               "V_G": np.full(nb, 0.4 if model_name == "GR" else 0.38)}
        if model_name == "GR":
            out.update({"sigma_V_G": np.full(nb, 0.05), "frac_err_num": np.full(nb, 0.1),
                        "frac_err_den": np.full(nb, 0.1), "rho": np.zeros(nb), "fsky_overlap": 0.2,
                        "N_vv_white": 1e9})
        if nan_in is not None and nan_in[0] == model_name and nan_in[1] in out:
            out[nan_in[1]] = np.asarray(out[nan_in[1]], dtype=float) * np.nan
        return out

    return cell


@pytest.mark.parametrize("nan_in,name", [(("GR", "sigma_V_G"), "sigma_V_G"), (("GR", "V_G"), "V_G"),
                                         (("fR5", "V_G"), "V_G_models")])
def test_forecast_non_finite_result_fails_and_writes_nothing(nan_in, name, tmp_path, capsys, monkeypatch):
    import cosmo.forecast

    cfg = tmp_path / "c.toml"
    cfg.write_text(SMALL_TOML)
    out, js = tmp_path / "f.h5", tmp_path / "s.json"
    monkeypatch.setattr(cosmo.forecast.VGForecast, "_cell", _fake_cells(nan_in))
    rc, lines = _run(["forecast", str(cfg), "--out", str(out), "--json", str(js), "--quiet"], capsys)
    assert rc == 1 and len(lines) == 1, lines
    assert lines[0].startswith("error: forecast result ") and "internal error" not in lines[0] and f"'{name}'" in lines[0] and "not finite" in lines[0]
    assert not out.exists() and not js.exists()
    # the same stand-in without the NaN: exit 0 and a strict JSON file (no NaN tokens)
    monkeypatch.setattr(cosmo.forecast.VGForecast, "_cell", _fake_cells(None))
    rc, lines = _run(["forecast", str(cfg), "--out", str(out), "--json", str(js), "--quiet"], capsys)
    assert rc == 0 and not lines
    s = json.loads(js.read_text(), parse_constant=lambda c: pytest.fail(f"{c} in the JSON summary"))
    assert np.isfinite(s["results"]["SO_goal x DESI_LRG"]["snr"])


def test_forecast_config_objects_are_validated_too():
    from cosmo.forecast import VGConfig, VGForecast

    with pytest.raises(ConfigError, match="b_v"):
        VGForecast(VGConfig(b_v=float("inf")))
    with pytest.raises(ConfigError, match=r"models\[0\]\.fR0"):
        VGForecast({"models": [{"type": "hu_sawicki", "fR0": float("nan")}]})


# ------------------------------------------------------------------------------------------- pairwise
BOX = 10.0


def _snapshot(path, n=300, seed=2, pos_nan=False, vel_inf=False, box=BOX, vel=None):
    from nbody.particles import PTYPE_DM, Particles
    from nbody.snapshot import Snapshot, write_snapshot

    rng = np.random.default_rng(seed)
    pos = rng.uniform(0, BOX, (n, 3))
    v = rng.normal(0, 100, (n, 3)) if vel is None else vel
    if pos_nan:
        pos[7, 1] = np.nan
    if vel_inf:
        v[3, 0] = np.inf
    snap = Snapshot({1: Particles.from_arrays(np.ones(n), pos, v, PTYPE_DM, ids=np.arange(n, dtype=np.uint64))},
                    {"BoxSize": box, "Time": 1.0, "Redshift": 0.0},
                    {"UnitLength_in_cm": 3.085678e24, "ComovingIntegrationOn": 1})
    write_snapshot(path, snap)
    return pos, v


@pytest.fixture(scope="module")
def snapfile(tmp_path_factory):
    p = tmp_path_factory.mktemp("snap") / "snap_000.hdf5"
    _snapshot(p)
    return p


def _bad_files(tmp_path):
    import h5py

    files = {}
    files["missing"] = (tmp_path / "snap_999.hdf5", ("snap_999.hdf5", "does not exist"))
    (tmp_path / "empty.hdf5").write_bytes(b"")
    files["empty"] = (tmp_path / "empty.hdf5", ("empty.hdf5",))
    (tmp_path / "corrupt.hdf5").write_bytes(b"\x89HDF\r\n\x1a\n" + os.urandom(600))
    files["corrupt"] = (tmp_path / "corrupt.hdf5", ("corrupt.hdf5",))
    (tmp_path / "notes.txt").write_text("this is not a snapshot\n" * 20)
    files["text file"] = (tmp_path / "notes.txt", ("notes.txt",))
    with h5py.File(tmp_path / "other.hdf5", "w") as f:
        f["x"] = np.arange(3)
    files["foreign hdf5"] = (tmp_path / "other.hdf5", ("other.hdf5", "Header"))
    (tmp_path / "snapdir_000").mkdir()
    files["empty snapdir"] = (tmp_path / "snapdir_000", ("snapdir_000",))
    _snapshot(tmp_path / "nanpos.hdf5", pos_nan=True)
    files["NaN positions"] = (tmp_path / "nanpos.hdf5", ("nanpos.hdf5", "Coordinates", "NaN"))
    _snapshot(tmp_path / "infvel.hdf5", vel_inf=True)
    files["inf velocities"] = (tmp_path / "infvel.hdf5", ("infvel.hdf5", "Velocities"))
    _snapshot(tmp_path / "nobox.hdf5", box=0.0)
    files["no box"] = (tmp_path / "nobox.hdf5", ("nobox.hdf5", "BoxSize"))
    _snapshot(tmp_path / "still.hdf5", vel=np.zeros((300, 3)))
    files["zero velocities"] = (tmp_path / "still.hdf5", ("still.hdf5", "--pdf-bins"))
    return files


PAIRWISE_BAD_FILES = ["missing", "empty", "corrupt", "text file", "foreign hdf5", "empty snapdir",
                      "NaN positions", "inf velocities", "no box", "zero velocities"]


@pytest.mark.parametrize("case", PAIRWISE_BAD_FILES)
def test_pairwise_bad_snapshot_exit_2(case, tmp_path, capsys, monkeypatch):
    import cosmo.fof
    import cosmo.pairwise

    monkeypatch.setattr(cosmo.pairwise, "_run_kernel", _no_work)  # the pair kernels never see bad input
    monkeypatch.setattr(cosmo.fof, "fof_labels", _no_work)
    path, names = _bad_files(tmp_path)[case]
    out, js = tmp_path / "o" / "st.h5", tmp_path / "o" / "s.json"
    rc, lines = _run(["pairwise", str(path), "--out", str(out), "--json", str(js), "--quiet"], capsys)
    _assert_refused(rc, lines, tmp_path, (out, js), *names)


PAIRWISE_BAD_OPTIONS = {
    # name: (extra argv, words in the error line)
    "rbins decreasing": (["--rbins", "1,0.1,5"], ("--rbins",)),
    "rbins negative log": (["--rbins", "-1,2,5"], ("--rbins",)),
    "rbins negative linear": (["--rbins", "-1,2,5", "--linear"], ("--rbins",)),
    "rbins beyond half box": (["--rbins", "0.1,6,5"], ("--rbins", "half the box")),
    "rbins two numbers": (["--rbins", "0.1,2"], ("--rbins", "3")),
    "rbins not numbers": (["--rbins", "a,b,c"], ("--rbins",)),
    "rbins zero bins": (["--rbins", "0.1,2,0"], ("--rbins", "bins")),
    "rbins fractional bins": (["--rbins", "0.1,2,2.5"], ("--rbins",)),
    "rbins nan": (["--rbins", "nan,2,4"], ("--rbins", "finite")),
    "rbins inf": (["--rbins", "0.1,inf,4"], ("--rbins", "finite")),
    "rbins and edges": (["--rbins", "0.1,2,4", "--rbins-edges", "0.1,1,2"], ("--rbins-edges",)),
    "edges non-increasing": (["--rbins-edges", "0.5,0.2,1"], ("--rbins-edges",)),
    "edges negative": (["--rbins-edges", "-0.1,1,2"], ("--rbins-edges",)),
    "edges beyond half box": (["--rbins-edges", "0.1,1,5.5"], ("--rbins-edges", "half the box")),
    "pdf bins reversed": (["--pdf-bins", "5,-5,10"], ("--pdf-bins",)),
    "pdf bins zero": (["--pdf-bins", "-5,5,0"], ("--pdf-bins",)),
    "orders zero": (["--orders", "0"], ("--orders",)),
    "orders too high": (["--orders", "17"], ("--orders",)),
    "b zero": (["--halo-split", "--b", "0"], ("--b",)),
    "b nan": (["--halo-split", "--b", "nan"], ("--b", "NaN")),
    "b negative": (["--halo-split", "--b", "-0.2"], ("--b",)),
    "min size zero": (["--min-size", "0"], ("--min-size",)),
    "subsample negative": (["--subsample", "-5"], ("--subsample",)),
    "subsample one": (["--subsample", "1"], ("--subsample",)),
    "type absent": (["--type", "0"], ("--type",)),
    "type out of range": (["--type", "7"], ("--type",)),
    "unknown quantity": (["--quantities", "v12"], ("--quantities", "v12")),
    "unknown precision": (["--precision", "single"], ("--precision", "single")),
    "mixed precision on cuda": (["--precision", "mixed", "--backend", "cuda"], ("--precision", "CPU")),
}


@pytest.mark.parametrize("case", list(PAIRWISE_BAD_OPTIONS))
def test_pairwise_bad_option_exit_2(case, snapfile, tmp_path, capsys, monkeypatch):
    import cosmo.fof
    import cosmo.pairwise

    monkeypatch.setattr(cosmo.pairwise, "_run_kernel", _no_work)
    monkeypatch.setattr(cosmo.fof, "fof_labels", _no_work)
    extra, names = PAIRWISE_BAD_OPTIONS[case]
    out, js = tmp_path / "st.h5", tmp_path / "s.json"
    rc, lines = _run(["pairwise", str(snapfile), "--out", str(out), "--json", str(js), "--quiet", *extra], capsys)
    _assert_refused(rc, lines, tmp_path, (out, js), *names)


@pytest.mark.parametrize("which", ["out under a file", "json under a file", "out is a directory", "same file"])
def test_pairwise_unwritable_output_exit_2(which, snapfile, tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    (tmp_path / "adir").mkdir()
    out, js = tmp_path / "st.h5", tmp_path / "s.json"
    bad, name = {"out under a file": (("--out", str(blocker / "st.h5")), "a_file"),
                 "json under a file": (("--json", str(blocker / "s.json")), "a_file"),
                 "out is a directory": (("--out", str(tmp_path / "adir")), "adir"),
                 "same file": (("--json", str(out)), "same file")}[which]
    argv = ["pairwise", str(snapfile), "--out", str(out), "--json", str(js), "--quiet"]
    argv[argv.index(bad[0]) + 1] = bad[1]
    rc, lines = _run(argv, capsys)
    _assert_refused(rc, lines, tmp_path, (out, js), name)


def test_pairwise_negative_lists_and_empty_bins(snapfile, tmp_path, capsys):
    """``--pdf-bins -300,300,12`` parses as written; a bin without pairs is NaN in HDF5 and null in
    the (strict) JSON, never a NaN token."""
    from gpu.io import read_results

    out, js = tmp_path / "st.h5", tmp_path / "s.json"
    # 300 particles in 10^3: the first bin (r < 1e-3) holds no pair (P ~ 300^2/2 * 4/3 pi 1e-9 / 1e3 ~ 2e-7)
    rc, lines = _run(["pairwise", str(snapfile), "--rbins-edges", "0,1e-3,1,2", "--pdf-bins", "-300,300,12",
                      "--quantities", "du_L", "--orders", "4", "--out", str(out), "--json", str(js), "--quiet"],
                     capsys)
    assert rc == 0 and not lines, lines
    data, _ = read_results(out)
    assert np.array_equal(data["all/pdf_bins"], np.linspace(-300, 300, 13))
    assert data["all/counts"][0] == 0 and np.all(data["all/counts"][1:] > 0)
    assert np.all(np.isnan(data["all/moments/duL"][0])) and np.all(np.isfinite(data["all/moments/duL"][1:]))
    s = json.loads(js.read_text(), parse_constant=lambda c: pytest.fail(f"{c} in the JSON summary"))
    a = s["samples"]["all"]
    assert a["mean_du_L"][0] is None and a["kurtosis_du_L"][0] is None
    assert all(v is not None for v in a["mean_du_L"][1:])


def test_pairwise_non_finite_moment_fails_and_writes_nothing(snapfile, tmp_path, capsys, monkeypatch):
    import cosmo.pairwise

    real = cosmo.pairwise.pair_moments

    def overflowing(*a, **k):
        st = real(*a, **k)
        st.moments["du_L"][1, -1] = np.inf  # e.g. an 8th moment overflowing in a bin that has pairs
        return st

    monkeypatch.setattr(cosmo.pairwise, "pair_moments", overflowing)
    out, js = tmp_path / "st.h5", tmp_path / "s.json"
    rc, lines = _run(["pairwise", str(snapfile), "--rbins", "0.5,2,3", "--quantities", "du_L",
                      "--out", str(out), "--json", str(js), "--quiet"], capsys)
    assert rc == 1 and len(lines) == 1, lines
    assert lines[0].startswith("error: ") and "internal error" not in lines[0] and "du_L" in lines[0] and "bin 1" in lines[0]
    assert not out.exists() and not js.exists()


@pytest.mark.parametrize("arg", ["pos", "vel", "pos2", "vel2", "weights", "rbins", "field"])
def test_pairwise_api_edge_refuses_nan_naming_the_array(arg):
    """The public functions check their arrays before the kernels run: a NaN never reaches them."""
    from cosmo.pairwise import density_pair_statistics, pair_counts, pair_moments

    rng = np.random.default_rng(0)
    pos, vel = rng.uniform(0, 10, (40, 3)), rng.normal(size=(40, 3))
    kw = {"pos": pos.copy(), "vel": vel.copy(), "pos2": pos[:10].copy(), "vel2": vel[:10].copy(),
          "weights": np.ones(40), "rbins": np.linspace(0.1, 4, 5), "field": rng.normal(size=40)}
    a = kw[arg]
    a.flat[min(5, a.size - 1)] = np.nan
    with pytest.raises(ConfigError, match=arg):
        if arg == "field":
            density_pair_statistics(kw["pos"], kw["field"], 10.0, kw["rbins"])
        else:
            pair_moments(kw["pos"], kw["vel"], 10.0, kw["rbins"], pos2=kw["pos2"], vel2=kw["vel2"],
                         weights=kw["weights"], weights2=np.ones(10))
    if arg in ("pos", "pos2", "rbins"):
        with pytest.raises(ConfigError, match=arg):
            pair_counts(kw["pos"], 10.0, kw["rbins"], pos2=kw["pos2"])
    assert issubclass(ConfigError, ValueError)  # callers catching ValueError keep working


# ------------------------------------------------------------------------------------------- MPI
def _plain_mpiexec(args, tmp_path, n=2, timeout=180):
    """A PLAIN ``mpiexec -n N python ...`` (no ``-m mpi4py``): the abort must come from our code."""
    require_mpi()
    env = dict(os.environ, PYTHONPATH=str(REPO), NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1",
               SCALEFORGE_DISABLE_GPU="1")
    t0 = time.monotonic()
    proc = subprocess.run([mpiexec_path(), "-n", str(n), sys.executable, *args], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=tmp_path)
    return proc, time.monotonic() - t0


@pytest.mark.mpi
def test_forecast_output_unwritable_on_rank0_ends_the_mpi_job(tmp_path):
    """``mpiexec -n 2 python -m cosmo forecast``: rank 0 (the writer) finds --json unwritable, rank 1
    has gone on to the forecast's work and its allgather; the job must end, not hang."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(SMALL_TOML)
    (tmp_path / "blocker").write_text("x")
    proc, wall = _plain_mpiexec(["-m", "cosmo", "forecast", str(cfg), "--json", str(tmp_path / "blocker" / "s.json"),
                                 "--out", str(tmp_path / "f.h5"), "--quiet"], tmp_path)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "[rank 0] error: cannot write output" in proc.stderr and "blocker" in proc.stderr
    assert "[rank 1]" not in proc.stderr  # rank 1 had nothing to report: it was ended by rank 0's abort
    assert not (tmp_path / "f.h5").exists() and wall < 150


@pytest.mark.mpi
def test_forecast_failure_on_rank1_only_ends_the_mpi_job(tmp_path):
    """A failure inside rank 1's share of the cells (a wrapper patches rank 1's cell computation and
    calls cosmo.__main__.main): rank 0 waits in the allgather; the job must end with an error."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(SMALL_TOML)
    (tmp_path / "job.py").write_text(textwrap.dedent(f'''
        import sys
        import gpu
        import cosmo.forecast
        if gpu.get_comm().rank == 1:
            def broken(self, *cell):
                raise FloatingPointError("rank 1 cell overflow")
            cosmo.forecast.VGForecast._cell = broken
        from cosmo.__main__ import main
        sys.exit(main(["forecast", {str(cfg)!r}, "--json", "s.json", "--quiet"]))
    '''))
    proc, wall = _plain_mpiexec([str(tmp_path / "job.py")], tmp_path)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "[rank 1] error: FloatingPointError: rank 1 cell overflow" in proc.stderr
    assert not (tmp_path / "s.json").exists() and wall < 150


@pytest.mark.mpi
def test_pairwise_output_unwritable_on_rank0_ends_the_mpi_job(snapfile, tmp_path):
    """``mpiexec -n 2 python -m cosmo pairwise``: only rank 0 writes, so only rank 0 checks and fails;
    rank 1 goes on to the pair pass and its Allreduce, and must be ended by rank 0's abort."""
    (tmp_path / "blocker").write_text("x")
    proc, wall = _plain_mpiexec(["-m", "cosmo", "pairwise", str(snapfile), "--rbins", "0.5,2,3",
                                 "--out", str(tmp_path / "blocker" / "st.h5"), "--quiet"], tmp_path)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "[rank 0] error: cannot write output" in proc.stderr and "blocker" in proc.stderr
    assert wall < 150
