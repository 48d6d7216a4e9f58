#!/usr/bin/env python3
"""Write the README's speed table from the benchmarks' results files.

Reads ``benchmarks/results/*.json`` (written by the benchmark scripts through
``benchmarks/harness.py``) and replaces the text between ``<!-- speed-table:start -->`` and
``<!-- speed-table:end -->`` in README.md by one table row per claim (case, ours against the anchor,
speedup by CPU and wall time as median and range over interleaved rounds, threads of each side,
the accuracy both reached, the target and whether it is met, date and load of the run), followed by
one note per script (its command, quick mode, how loaded the machine was).

    python benchmarks/speed_table.py            # rewrite README.md
    python benchmarks/speed_table.py --check    # exit 1 if README.md differs from the results
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- speed-table:start -->", "<!-- speed-table:end -->"


def load(directory) -> list:
    """The results records, sorted by script name."""
    return [json.loads(p.read_text()) for p in sorted(Path(directory).glob("*.json"))]


def _ratio(s) -> str:
    if not s:
        return ""
    return f"{s['median']:.3g}x ({s['min']:.3g}-{s['max']:.3g})"


def _loaded(rec) -> bool:
    m = rec["machine"]
    return max(m["load_start"][0], m.get("load_end", m["load_start"])[0]) > 0.5 * m["cores"]


def render(records) -> str:
    """The markdown between the markers (table and notes)."""
    head = ("| case | ours vs anchor | speedup, CPU time | speedup, wall time | threads ours / anchor "
            "| matched accuracy | target | met | run |")
    lines = [head, "|" + " --- |" * 9]
    notes = []
    for rec in records:
        m = rec["machine"]
        load = f"load {m['load_start'][0]:.1f}-{m.get('load_end', m['load_start'])[0]:.1f} / {m['cores']} cores"
        run = f"{rec['date'][:10]}, {load}" + (", quick" if rec["quick"] else "")
        for r in rec["rows"]:
            sp = r.get("speedup")
            cpu = _ratio(sp["cpu"]) if sp else r["status"]
            wall = _ratio(sp["wall"]) if sp else r["status"]
            met = "" if r.get("met") is None else ("yes" if r["met"] else "**no**")
            th = f"{r['threads'].get('ours', '')} / {r['threads'].get('anchor', '')}"
            lines.append(f"| {r['case']} | {r['ours']} vs {r['anchor']} | {cpu} | {wall} | {th} | {r['accuracy']} "
                         f"| {r['target']} | {met} | {run} |")
        note = f"`{rec['command']}` ({rec['date']}, {m['cpu']}, {load}"
        note += "; quick mode" if rec["quick"] else ""
        note += "; a loaded shared machine: wall-time ratios are unreliable, CPU-time ratios less so)" \
            if _loaded(rec) else ")"
        notes.append(f"- {note}" + (f": {rec['notes']}" if rec.get("notes") else "."))
    text = ["Speedup = anchor's time / ours (above 1: ours is faster), median and range of the per-round "
            "ratios of interleaved rounds; `met` compares the median CPU-time speedup with the target.", "",
            *lines, "", *notes]
    return "\n".join(text)


def update(readme: str, table: str) -> str:
    """``readme`` with the text between the markers replaced by ``table``."""
    i, j = readme.find(START), readme.find(END)
    if i < 0 or j < i:
        raise ValueError(f"README lacks the markers {START} ... {END}")
    return readme[: i + len(START)] + "\n" + table + "\n" + readme[j:]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="exit 1 if the README differs from the results")
    ap.add_argument("--readme", type=Path, default=ROOT / "README.md")
    ap.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    args = ap.parse_args(argv)
    old = args.readme.read_text()
    try:
        new = update(old, render(load(args.results)))
    except ValueError as exc:
        print(f"error: {args.readme}: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if new != old:
            print(f"{args.readme} differs from {args.results}/*.json: run python benchmarks/speed_table.py",
                  file=sys.stderr)
            return 1
        return 0
    if new != old:
        tmp = args.readme.with_suffix(".md.tmp")
        tmp.write_text(new)
        tmp.replace(args.readme)
    print(f"wrote the speed table of {len(load(args.results))} results files into {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
