"""run_all discovers examples, reports the planned-but-missing ones and writes the summary table."""
import importlib.util
import json
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load_run_all():
    spec = importlib.util.spec_from_file_location("run_all", EXAMPLES / "run_all.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_run_all_summary_lists_missing(tmp_path):
    mod = load_run_all()
    rc = mod.main(["--quick", "--outdir", str(tmp_path), "--only", "__nothing_matches__"])
    assert rc == 0
    data = json.loads((tmp_path / "summary.json").read_text())
    assert data["runs"] == []
    present = set(mod.discover())
    assert set(data["missing"]) == set(mod.PLANNED) - present
    assert (tmp_path / "summary.md").read_text().startswith("# scaleforge paper reproductions")
