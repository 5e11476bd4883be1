"""The gate's own overhead: what `reliable-test-runner gate --profile smoke` spends outside
its phases (tests, coverage, API coverage, security, fuzzing, floor, load, chaos).

One gate runs as a user runs it; its report.json's timeline says when each phase ran, so
``overhead = wall time - the time inside phases`` (goal: under 5 s), split into the time
before the first phase (start-up: Python, imports, config, preflight, the reference API's
start), between phases and after the last (the gates, reports, stopping the API). Beside
it, measured in the same run: an empty Python start (the floor of any start-up), the
harness's imports for a gate, one reference API start to ready and its stop, and writing
every report file of the gate's report.json again. Bounded: each command has a timeout.

Run:  python bench/bench_gate.py [--rounds 3] [--profile smoke]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

IMPORTS = "import harness.cli, harness.commands, harness.phases.tests_phase, harness.report.writers"


def wall(argv: list[str], timeout: float = 900) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode not in (0, 1, 3):  # a gate's verdict may be fail or insufficient
        raise SystemExit(f"{argv[:5]} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return time.perf_counter() - start


def median_of(rounds: int, fn: Callable[[], float]) -> float:
    return statistics.median(fn() for _ in range(rounds))


def api_start_stop() -> float:
    from harness.target import ReferenceTarget

    with tempfile.TemporaryDirectory(prefix="bench-gate-api-") as tmp:
        start = time.perf_counter()
        target = ReferenceTarget(Path(tmp))
        target.start()
        target.stop()
        return time.perf_counter() - start


def write_reports(report_json: Path) -> float:
    from harness.report.writers import write_all

    report = json.loads(report_json.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory(prefix="bench-gate-reports-") as tmp:
        run_dir = Path(tmp) / str(report["run_id"])
        run_dir.mkdir()
        for name in ("test-runs.jsonl", "load.hdr"):
            if (report_json.parent / name).exists():
                (run_dir / name).write_bytes((report_json.parent / name).read_bytes())
        start = time.perf_counter()
        write_all(report, run_dir, Path(tmp), final=True)
        return time.perf_counter() - start


def gate_split(report: dict[str, object], started: float, ended: float) -> dict[str, float]:
    """Time inside phases and outside them, from the report's timeline (epoch seconds)."""
    timeline = report.get("timeline") or {}
    assert isinstance(timeline, dict), "the gate's report.json has no timeline"
    origin = float(timeline["origin_epoch"])
    spans = sorted(
        (origin + s["start_s"], origin + s["end_s"], s["name"])
        for s in timeline["spans"]
        if s["lane"] == "phase"
    )
    inside, cursor, gaps = 0.0, spans[0][0], 0.0
    for start, end, _ in spans:  # phases may overlap (the watch, the sampler): their union
        if start > cursor:
            gaps += start - cursor
        if end > cursor:
            inside += end - max(start, cursor)
            cursor = end
    return {
        "wall": ended - started,
        "phases": inside,
        "before": spans[0][0] - started,
        "between": gaps,
        "after": ended - cursor,
        "names": ", ".join(f"{n} {e - s:.1f} s" for s, e, n in spans),  # type: ignore[dict-item]
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", default="smoke")
    args = parser.parse_args()
    py = sys.executable
    empty = median_of(5, lambda: wall([py, "-c", "pass"]))
    imports = median_of(5, lambda: wall([py, "-c", IMPORTS]))
    api = median_of(args.rounds, api_start_stop)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-gate-") as tmp:
        for round_ in range(args.rounds):
            out = Path(tmp) / f"r{round_}"
            started = time.time()
            wall([py, "-m", "harness", "gate", "--profile", args.profile, "--report-dir", str(out)])
            ended = time.time()
            (report_json,) = out.glob("2*/report.json")
            split = gate_split(json.loads(report_json.read_text()), started, ended)
            split["reports"] = write_reports(report_json)
            rows.append(split)
            overhead = split["wall"] - split["phases"]
            print(
                f"round {round_ + 1}: wall {split['wall']:.1f} s, phases {split['phases']:.1f} s,"
                f" overhead {overhead:.1f} s (before {split['before']:.1f}, between "
                f"{split['between']:.1f}, after {split['after']:.1f}); {split['names']}",
                flush=True,
            )

    def med(key: str) -> float:
        return statistics.median(float(r[key]) for r in rows)

    overhead = statistics.median(float(r["wall"]) - float(r["phases"]) for r in rows)
    print(f"\n`gate --profile {args.profile}`, median of {args.rounds} rounds:")
    print("| part | seconds |")
    print("|---|---:|")
    print(f"| wall time | {med('wall'):.2f} |")
    print(f"| inside phases | {med('phases'):.2f} |")
    print(f"| **overhead** (goal < 5 s) | **{overhead:.2f}** |")
    print(f"| - before the first phase | {med('before'):.2f} |")
    print(f"| - between phases | {med('between'):.2f} |")
    print(f"| - after the last phase | {med('after'):.2f} |")
    print("| measured apart, same run: | |")
    print(f"| empty `python -c pass` (baseline) | {empty:.2f} |")
    print(f"| the harness's imports for a gate | {imports:.2f} ({imports / empty:.1f}x empty) |")
    print(f"| reference API start to ready, and stop | {api:.2f} |")
    print(f"| writing every report of the gate's report.json | {med('reports'):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
