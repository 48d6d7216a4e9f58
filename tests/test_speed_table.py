"""The benchmark harness (clocks, interleaving, matched accuracy) and the README speed table.

No benchmark runs here: the harness is fed cheap callables and made-up scans, and the README's
table is checked against the committed results files (``benchmarks/results/*.json``), so the
README cannot drift from the measurements.
"""
import importlib.util
import json
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod            # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


H = _load("harness")
T = _load("speed_table")


def test_readme_speed_table_is_what_the_results_give():
    assert list((ROOT / "benchmarks" / "results").glob("*.json")), "no results files"
    assert T.main(["--check"]) == 0


def test_check_fails_when_readme_differs(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{T.START}\n| stale | row |\n{T.END}\nrest\n")
    res = ROOT / "benchmarks" / "results"
    assert T.main(["--check", "--readme", str(readme), "--results", str(res)]) == 1
    assert T.main(["--readme", str(readme), "--results", str(res)]) == 0
    assert T.main(["--check", "--readme", str(readme), "--results", str(res)]) == 0
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith(f"{T.END}\nrest\n") and "stale" not in text
    readme.write_text("no markers\n")
    assert T.main(["--check", "--readme", str(readme), "--results", str(res)]) == 2


def test_spread_is_median_and_range():
    s = H.spread([3.0, 1.0, 10.0, 2.0])
    assert s == {"median": 2.5, "min": 1.0, "max": 10.0, "n": 4}
    with pytest.raises(ValueError):
        H.spread([])


def test_rounds_alternate_and_reverse():
    assert H.round_order(["a", "b"], 3) == [(0, "a"), (0, "b"), (1, "b"), (1, "a"), (2, "a"), (2, "b")]
    calls = []
    samples, out = H.interleave({"a": lambda: calls.append("a") or 1, "b": lambda: calls.append("b") or 2}, 4)
    assert calls == ["a", "b", "b", "a", "a", "b", "b", "a"]
    assert out == {"a": 1, "b": 2} and len(samples["a"].cpu) == len(samples["b"].wall) == 4
    with pytest.raises(ValueError):
        H.interleave({"a": lambda: 0}, 0)


def test_prepare_is_not_timed():
    s, out = H.interleave({"a": (lambda: time.sleep(0.1) or 7, lambda x: x + 1)}, 2)
    assert out["a"] == 8 and max(s["a"].wall) < 0.05


def test_both_clocks_see_what_they_should():
    def sleep():
        time.sleep(0.05)

    def spin():
        t = time.process_time()
        while time.process_time() - t < 0.05:
            pass

    s, _ = H.interleave({"sleep": sleep, "spin": spin}, 1)
    assert s["sleep"].wall[0] >= 0.05 and s["sleep"].cpu[0] < 0.02      # sleeping costs no CPU time
    assert s["spin"].cpu[0] >= 0.05 and s["spin"].wall[0] >= s["spin"].cpu[0] * 0.99


def test_cpu_time_counts_child_processes():
    """Codes working through multiprocessing pools (halotools) spend their CPU time in children."""
    import subprocess

    spin = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.2: pass"
    s, _ = H.interleave({"child": lambda: subprocess.run([sys.executable, "-c", spin], check=True)}, 1)
    assert s["child"].cpu[0] >= 0.2


def test_pool_workers_count_in_the_call_that_started_them():
    """A pool closed but not joined (as halotools leaves it) is reaped inside the timed call."""
    import multiprocessing

    kept = []

    def pooled():
        pool = multiprocessing.get_context("fork").Pool(1)
        pool.map(_spin, [0.2])
        pool.close()
        kept.append(pool)                  # alive after the call: its worker is not reaped by gc

    s, _ = H.interleave({"pool": H.reaped(pooled), "after": lambda: None}, 1)
    assert s["pool"].cpu[0] >= 0.2 and s["after"].cpu[0] < 0.1


def _spin(seconds):
    t = time.process_time()
    while time.process_time() - t < seconds:
        pass


def test_speedup_is_per_round_anchor_over_ours():
    ours, anchor = H.Samples([1.0, 2.0, 1.0], [1.0, 1.0, 1.0]), H.Samples([2.0, 2.0, 5.0], [3.0, 3.0, 3.0])
    sp = H.speedup(ours, anchor)
    assert sp["cpu"] == {"median": 2.0, "min": 1.0, "max": 5.0, "n": 3}
    assert sp["wall"]["median"] == 3.0
    row = H.Row.compare("c", ours, anchor, ours="o", anchor="a", threads={"ours": 1, "anchor": 1},
                        accuracy="exact", target=">= 2x", target_speedup=2.0)
    assert row.met is True
    row = H.Row.compare("c", ours, anchor, ours="o", anchor="a", threads={}, accuracy="", target_speedup=2.5)
    assert row.met is False
    with pytest.raises(ValueError):
        H.speedup(H.Samples([1.0], [1.0]), H.Samples([1.0, 1.0], [1.0, 1.0]))


def test_matched_accuracy_picks_the_cheapest_run_reaching_each_target():
    def pt(param, err, t):
        return H.Point(param, err, H.Samples([t, t], [t, t]))

    ours = [pt(0.3, 1e-4, 5.0), pt(0.5, 3e-4, 2.0), pt(0.7, 9e-4, 1.0)]
    anchor = [pt(0.3, 2e-4, 8.0), pt(0.5, 6e-4, 3.0), pt(0.7, 2e-3, 0.5)]
    got = {t: (o and o.param, a and a.param) for t, o, a in H.match(ours, anchor, [5e-5, 1e-4, 3e-4, 1e-3, 1e-2])}
    assert got[5e-5] == (None, None)          # nobody reaches it: "no match"
    assert got[1e-4] == (0.3, None)           # the anchor does not: "no match"
    assert got[3e-4] == (0.5, 0.3)            # cheapest of each side reaching it
    assert got[1e-3] == (0.7, 0.5)
    assert got[1e-2] == (0.7, 0.7)


def test_results_round_trip_into_the_table(tmp_path, monkeypatch):
    run = H.Run("benchmarks/fake_bench.py", argv=["--quick"], quick=True, notes="made up")
    s = H.Samples([1.0, 1.0, 1.0], [1.0, 1.0, 1.0])
    run.add(H.Row.compare("fast", s, H.Samples([4.0, 5.0, 6.0], [4.0, 4.0, 4.0]), ours="o", anchor="a 1.0",
                          threads={"ours": 2, "anchor": 2}, accuracy="exact", target=">= 4x", target_speedup=4.0))
    run.add(H.Row("gone", ours="o", anchor="b", threads={"ours": 2, "anchor": None}, accuracy="",
                  status="anchor not installed"))
    path = run.write(tmp_path)
    rec = json.loads(path.read_text())
    assert rec["script"] == "fake_bench" and rec["quick"] and len(rec["machine"]["load_end"]) == 3
    table = T.render(T.load(tmp_path))
    rows = [line for line in table.splitlines() if line.startswith("| fast") or line.startswith("| gone")]
    assert "5x (4-6)" in rows[0] and "4x (4-4)" in rows[0] and "| yes |" in rows[0]
    assert rows[1].count("anchor not installed") == 2
    assert "`benchmarks/fake_bench.py --quick`" in table and "quick mode" in table


def test_missing_anchor_gives_rows_not_a_failure(tmp_path, monkeypatch):
    import benchmarks.harness as bh

    monkeypatch.setitem(sys.modules, "pyccl", None)          # "import pyccl" raises ImportError
    monkeypatch.setattr(bh, "RESULTS", tmp_path)
    assert _load("cosmo_vs_ccl").main(["--quick"]) == 0
    rec = json.loads((tmp_path / "cosmo_vs_ccl.json").read_text())
    assert rec["rows"] and all(r["status"] == "anchor not installed" and r["speedup"] is None for r in rec["rows"])
    assert "anchor not installed" in T.render([rec])
