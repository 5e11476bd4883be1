"""What measuring code coverage costs, as ratios against the same thing without it, in one run.

    python bench/bench_coverage.py [--seconds 5] [--rounds 3]

- ping req/s of the reference API on ONE core (server pinned to core 0, wrk to core 1):
  the API as the load and chaos phases see it, against the same API under coverage.py
  (``coverage run --branch``: how the coverage pass runs it);
- the smoke gate's wall time (``reliable-test-runner gate``, embedded defaults) with its
  coverage pass, against the same gate with ``--set coverage.enabled=false``;
- the cost of API coverage (the tests phase through the recording HTTP hop): the gate
  without its coverage pass, with and without ``--set api_coverage.enabled=false``.
  The three gates are alternated round by round, so a machine that slows down slows all.

Every load is bounded in time and goes to 127.0.0.1 only; every process is stopped by PID.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_api import TOKEN, start, wrk

from target_api.launch import api_argv

ROOT = Path(__file__).resolve().parents[1]


def _ping(seconds: int, rounds: int, tmp: Path) -> tuple[float, float]:
    plain = api_argv(tmp / "plain")
    covered = [
        plain[0], "-m", "coverage", "run", "--branch", "--source=target_api",
        f"--data-file={tmp / '.coverage'}", *plain[1:],
    ]  # fmt: skip
    results: dict[str, list[float]] = {"plain": [], "coverage": []}
    env = {"MOONBASE_API_TOKEN": TOKEN, "PYTHONUNBUFFERED": "1"}
    for _ in range(rounds):
        for name, argv in (("plain", plain), ("coverage", covered)):
            server = start(name, argv, env)
            try:
                wrk(f"{server.url}/api/v0/ping", 1)  # warm up
                results[name].append(wrk(f"{server.url}/api/v0/ping", seconds))
            finally:
                server.stop()
    return statistics.median(results["plain"]), statistics.median(results["coverage"])


def _gate_seconds(extra: list[str], reports: Path) -> float:
    began = time.monotonic()
    done = subprocess.run(  # noqa: S603 - this interpreter, the harness's own command
        [sys.executable, "-m", "harness", "gate", "--report-dir", str(reports), *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"the smoke gate ended with {done.returncode}:\n{done.stdout[-2000:]}")
    return time.monotonic() - began


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-coverage-") as scratch:
        tmp = Path(scratch)
        plain, covered = _ping(args.seconds, args.rounds, tmp)
        no_cov = ["--set", "coverage.enabled=false"]
        sides: dict[str, list[float]] = {"full": [], "no coverage": [], "neither": []}
        for i in range(args.rounds):
            sides["full"].append(_gate_seconds([], tmp / f"full-{i}"))
            sides["no coverage"].append(_gate_seconds(no_cov, tmp / f"nocov-{i}"))
            neither = [*no_cov, "--set", "api_coverage.enabled=false"]
            sides["neither"].append(_gate_seconds(neither, tmp / f"neither-{i}"))
    full, no_cov_s, neither_s = (statistics.median(sides[k]) for k in sides)
    print(f"| figure (median of {args.rounds}) | with | without (same run) | ratio |")
    print("|---|---|---|---|")
    print(
        f"| ping, one core, {args.seconds} s of wrk, under coverage.py | {covered:,.0f} req/s "
        f"| {plain:,.0f} req/s | {covered / plain:.2f}x |"
    )
    print(
        f"| smoke gate wall time, code coverage pass | {full:.1f} s | {no_cov_s:.1f} s "
        f"| {full / no_cov_s:.2f}x |"
    )
    print(
        f"| smoke gate wall time (no coverage pass), API coverage hop | {no_cov_s:.1f} s "
        f"| {neither_s:.1f} s | {no_cov_s / neither_s:.2f}x |"
    )
    shown = {k: [round(x, 1) for x in v] for k, v in sides.items()}
    print(f"\nrounds of the gate (s): {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
