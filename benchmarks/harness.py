"""What every comparison benchmark shares: two clocks, interleaved rounds, matched accuracy, results files.

A benchmark script builds its cases as zero-argument callables and hands them to :func:`interleave`,
which runs every case once per round, in the listed order on even rounds and in reverse on odd ones
(A B, B A, A B, ...), so a change of load on a shared machine hits both sides of a ratio alike and
neither side always runs first (warm caches, turbo). Each call is timed with two clocks:

* CPU time, :func:`cpu_time` - all threads of this process (OpenMP and Numba threads included)
  plus the child processes that ended during the call (codes that work through ``multiprocessing``
  pools, such as halotools), insensitive to other jobs on the machine (up to cache and
  memory-bandwidth sharing);
* wall time, :func:`time.perf_counter` - what a user waits, inflated by the neighbours' load.

Under MPI (``comm`` of more than one rank) every timing starts and ends at a barrier; the CPU
time is summed over ranks and the wall time is the slowest rank's.

A ratio is formed per round (the paired runs of one round saw the same load) and reported as
median and range over rounds: ``speedup = anchor time / our time`` (> 1: ours is faster).

Accuracy: where a side has an accuracy parameter (opening angle, time step, tolerance), the script
scans it for both sides, and :func:`match` picks for each target accuracy the cheapest run of each
side that reaches it; a side that reaches no target gives "no match" and no ratio. Exact
algorithms (pair counts, moments to round-off) match when both answers agree within a stated
tolerance (the script's ``--tol``), else the row is "no match" as well.

Every script ends with :meth:`Run.write`, which writes ``benchmarks/results/<script>.json`` (rows,
machine, load average at start and end, command line, date); ``benchmarks/speed_table.py`` turns
these files into the README's speed table.
"""
from __future__ import annotations

import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
CLOCKS = ("cpu", "wall")


@dataclass
class Samples:
    """Times of one case over the rounds, by both clocks [s]."""

    cpu: list = field(default_factory=list)
    wall: list = field(default_factory=list)

    def add(self, cpu: float, wall: float) -> None:
        self.cpu.append(float(cpu))
        self.wall.append(float(wall))

    def of(self, clock: str) -> list:
        if clock not in CLOCKS:
            raise ValueError(f"clock must be one of {CLOCKS}, got {clock!r}")
        return getattr(self, clock)

    def median(self, clock: str = "cpu") -> float:
        return statistics.median(self.of(clock))

    def summary(self, clock: str = "cpu") -> dict:
        return spread(self.of(clock))


def spread(values) -> dict:
    """Median and range of a list of numbers: ``{"median", "min", "max", "n"}``."""
    v = [float(x) for x in values]
    if not v:
        raise ValueError("no values")
    return {"median": statistics.median(v), "min": min(v), "max": max(v), "n": len(v)}


def _reduce(comm, cpu, wall):
    if comm is None or getattr(comm, "size", 1) <= 1:
        return cpu, wall
    from mpi4py import MPI

    return comm.allreduce(cpu, op=MPI.SUM), comm.allreduce(wall, op=MPI.MAX)


def cpu_time() -> float:
    """CPU time [s] of this process (all threads) plus its ended, waited-for child processes."""
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + ch.ru_utime + ch.ru_stime


def reaped(fn):
    """``fn`` followed by joining every ``multiprocessing`` child still alive.

    For anchors that close their process pools without joining them (halotools): the workers'
    CPU time reaches :func:`cpu_time` only once they are waited for, which must happen inside
    the anchor's timing, not during the next case's.
    """
    import multiprocessing

    def call():
        out = fn()
        for child in multiprocessing.active_children():
            child.join(60)
        return out

    return call


def timed(fn, comm=None):
    """Call ``fn()`` once; return ``(cpu_s, wall_s, result)`` (see the module docstring for MPI)."""
    if comm is not None and getattr(comm, "size", 1) > 1:
        comm.Barrier()
    c0, w0 = cpu_time(), time.perf_counter()
    out = fn()
    if comm is not None and getattr(comm, "size", 1) > 1:
        comm.Barrier()
    cpu, wall = _reduce(comm, cpu_time() - c0, time.perf_counter() - w0)
    return cpu, wall, out


def repeated(fn, min_s: float = 0.02):
    """``(callable, k)``: ``fn`` called ``k`` times per timing, ``k`` such that one timing takes >= ``min_s``
    of CPU time on its first calls (for calls too short for the clocks; give both sides the same ``k``)."""
    k = 1
    while True:
        c0 = time.process_time()
        for _ in range(k):
            fn()
        if time.process_time() - c0 >= min_s or k >= 1 << 20:
            break
        k *= 4

    def many():
        for _ in range(k - 1):
            fn()
        return fn()

    return many, k


def round_order(names, rounds: int):
    """The order of calls: ``names`` on even rounds, reversed on odd rounds (A B, B A, ...)."""
    names = list(names)
    return [(r, k) for r in range(rounds) for k in (names if r % 2 == 0 else names[::-1])]


def interleave(cases: dict, rounds: int = 3, comm=None):
    """Run each case of ``cases`` once per round in :func:`round_order`.

    A case is a callable (all of it is timed) or a pair ``(prepare, run)``: ``prepare()`` is not
    timed and its result is passed to ``run``, which is (building a model vs advancing it).
    Returns ``(samples, outputs)``: a :class:`Samples` per case and each case's last result.
    """
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    samples = {k: Samples() for k in cases}
    outputs = {}
    for _, k in round_order(cases, rounds):
        fn = cases[k]
        if isinstance(fn, tuple):
            prepare, run = fn
            state = prepare()
            fn = lambda: run(state)  # noqa: E731
        cpu, wall, outputs[k] = timed(fn, comm)
        samples[k].add(cpu, wall)
    return samples, outputs


def speedup(ours: Samples, anchor: Samples) -> dict:
    """Per-round ``anchor / ours`` for both clocks, as median and range (rounds paired by index)."""
    out = {}
    for c in CLOCKS:
        o, a = ours.of(c), anchor.of(c)
        if len(o) != len(a):
            raise ValueError(f"unpaired rounds: {len(o)} ours, {len(a)} anchor")
        if min(o) <= 0 or min(a) <= 0:
            raise ValueError(f"a {c} time of 0: the case is too short for the clock, repeat it within one call")
        out[c] = spread([y / x for x, y in zip(o, a)])
    return out


# --- accuracy ---------------------------------------------------------------------------------


@dataclass
class Point:
    """One run of a scan: the accuracy parameter's value, the error it reached, its times."""

    param: float
    error: float
    samples: Samples


def cheapest(scan, target: float, clock: str = "cpu"):
    """The run of ``scan`` with error <= ``target`` and the smallest median time, or None."""
    ok = [p for p in scan if p.error <= target]
    return min(ok, key=lambda p: p.samples.median(clock)) if ok else None


def match(ours_scan, anchor_scan, targets, clock: str = "cpu"):
    """For each target error, the cheapest run of each side reaching it: ``[(target, ours, anchor)]``.

    A side reaching no target gives None there: the row is "no match" and gets no ratio.
    """
    return [(t, cheapest(ours_scan, t, clock), cheapest(anchor_scan, t, clock)) for t in targets]


# --- results ----------------------------------------------------------------------------------


@dataclass
class Row:
    """One claim: a case, both sides, the measured speedup, the accuracy both reached, the target.

    ``status``: "ok", "no match" (no common accuracy: no ratio), "anchor not installed",
    "anchor failed" or "no anchor" (our code against itself, e.g. two of our modes).
    ``target_speedup``: the speedup (anchor / ours) the project aims at; ``met`` compares the
    median CPU-time speedup with it (None when there is no target or no ratio).
    """

    case: str
    ours: str
    anchor: str
    threads: dict
    accuracy: str
    target: str = ""
    target_speedup: float | None = None
    status: str = "ok"
    speedup: dict | None = None
    times: dict | None = None
    met: bool | None = None
    note: str = ""

    @classmethod
    def compare(cls, case, ours_s: Samples, anchor_s: Samples, **kw) -> "Row":
        row = cls(case, speedup=speedup(ours_s, anchor_s),
                  times={"ours": asdict(ours_s), "anchor": asdict(anchor_s)}, **kw)
        if row.target_speedup is not None:
            row.met = bool(row.speedup["cpu"]["median"] >= row.target_speedup)
        return row

    def line(self) -> str:
        if self.speedup is None:
            s = self.status
        else:
            c, w = self.speedup["cpu"], self.speedup["wall"]
            s = (f"cpu {c['median']:.3g}x [{c['min']:.3g}-{c['max']:.3g}]  "
                 f"wall {w['median']:.3g}x [{w['min']:.3g}-{w['max']:.3g}]")
        t = f"threads {self.threads.get('ours')}/{self.threads.get('anchor')}"
        met = "" if self.met is None else (" -> met" if self.met else " -> NOT met")
        tgt = f"  target {self.target}{met}" if self.target else ""
        return f"{self.case:32s} {s}  {t}  {self.accuracy}{tgt}"


def machine() -> dict:
    """CPU model, logical cores, Python and platform, and the load average now."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "load_start": list(os.getloadavg())}


def version(module: str) -> str:
    """``"name version"`` of an importable package (for the anchor column)."""
    try:
        from importlib.metadata import version as v

        return f"{module} {v(module)}"
    except Exception:
        return module


def _commit() -> str:
    """The repository's commit (with ``+dirty`` for uncommitted changes), or "" outside git."""
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
    return head + ("+dirty" if head and dirty else "")


class Run:
    """Collects a script's rows and writes ``benchmarks/results/<script>.json``.

    ``quick``: the script ran in its quick mode (small sizes): the table says so. ``notes``: one
    line the table prints under the rows (what was run, how loaded the machine was is added).
    """

    def __init__(self, script: str, argv=None, quick: bool = False, notes: str = "", rank: int = 0):
        self.script = Path(script).stem
        self.argv = list(sys.argv[1:] if argv is None else argv)
        self.quick = bool(quick)
        self.notes = notes
        self.rank = rank
        self.rows: list[Row] = []
        self.info = machine()
        self.commit = _commit()
        self.date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        if rank == 0:
            la = self.info["load_start"]
            print(f"# {self.script}: {self.info['cpu']}, {self.info['cores']} cores, load {la[0]:.2f} at start",
                  flush=True)

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        if self.rank == 0:
            print(row.line(), flush=True)
        return row

    def record(self) -> dict:
        info = dict(self.info, load_end=list(os.getloadavg()))
        return {"script": self.script, "commit": self.commit, "command": " ".join([f"benchmarks/{self.script}.py", *self.argv]),
                "date": self.date, "quick": self.quick, "notes": self.notes, "machine": info,
                "rows": [asdict(r) for r in self.rows]}

    def write(self, directory=None) -> Path | None:
        """Write the JSON atomically (rank 0 only); returns its path."""
        if self.rank != 0:
            return None
        rec = self.record()
        le = rec["machine"]["load_end"]
        print(f"# load {le[0]:.2f} at end", flush=True)
        path = Path(directory or RESULTS) / f"{self.script}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(rec, indent=1, allow_nan=False) + "\n")
        tmp.replace(path)
        return path
