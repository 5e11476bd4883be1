"""Benchmark: the harness's p99 at 1,000 req/s against wrk's, same server, same run.

    python bench/bench_floor.py [--duration-s 5] [--repeats 3] [--users 10] [--rate-rps 1000]

Two servers, each started here on 127.0.0.1 (port 0): the harness's own null server
(``python -m harness.load.null_server``: what the generator's floor is measured against)
and the reference API (``python -m target_api``, ``GET /api/v0/ping``). Against each, the
two clients alternate ``--repeats`` times:

- the harness: ``run_load`` at ``--rate-rps`` with ``--users`` users in one Locust
  process, latency from the intended send time (HdrHistogram);
- wrk (``-t1 -c USERS``), paced by its Lua ``delay()`` hook so that each connection waits
  after every answer (wrk has no constant-rate mode; wrk2 is not installed): the delay is
  set from a one-second pilot so the achieved rate is near ``--rate-rps``. Its p99 comes
  from the Lua ``done()`` callback's ``latency:percentile(99)``, measured from the actual
  send (wrk paces after the answer, so a slow answer delays the next send: coordinated
  omission is not corrected, which can only make wrk's p99 look smaller).

With ``--pin`` (the default on a machine with two cores or more) the server runs on core 0
and both clients on core 1. It prints a Markdown table of medians, the achieved rates and
the harness/wrk p99 ratio per server (goal: within 1.5x). Every run is bounded by
``--duration-s``; the whole benchmark by about 2 x 2 x repeats x (duration + 4 s).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from harness.load import LoadSpec, RequestSpec, run_load

WRK_SCRIPT = """
local delay_ms = 0
function init(args) delay_ms = tonumber(args[1]) end
function delay() return delay_ms end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "mean_us": %f, ' ..
    '"errors": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.mean, e.connect + e.read + e.write + e.status + e.timeout))
end
"""


@dataclass(frozen=True, slots=True)
class Sample:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    mean_ms: float = 0.0


def harness(url: str, path: str, users: int, duration_s: float, rate_rps: float) -> Sample:
    spec = LoadSpec(
        url, requests=(RequestSpec(path=path),), rate_rps=rate_rps, users=users,
        duration_s=duration_s,
    )  # fmt: skip
    result = run_load(spec)
    if result.failures:
        raise RuntimeError(f"harness run had {result.failures} failures: {result.errors}")
    lat = result.latency_ms
    return Sample(result.requests / duration_s, lat["p50"], lat["p99"], result.requests)


def wrk(url: str, users: int, duration_s: float, delay_ms: float, script: Path) -> Sample:
    argv = [
        "wrk", "-t1", f"-c{users}", f"-d{duration_s:g}s", "--timeout", "5s", "-s", str(script),
        url, "--", f"{delay_ms:.3f}",
    ]  # fmt: skip
    out = subprocess.run(argv, capture_output=True, text=True, timeout=duration_s + 30, check=True)
    line = next(x for x in out.stdout.splitlines() if x.startswith('{"requests"'))
    data = json.loads(line)
    if data["errors"]:
        raise RuntimeError(f"wrk run had {data['errors']} errors: {out.stdout}")
    seconds = data["duration_us"] / 1e6
    return Sample(
        data["requests"] / seconds,
        data["p50_us"] / 1000,
        data["p99_us"] / 1000,
        data["requests"],
        data["mean_us"] / 1000,
    )


def wrk_delay_ms(url: str, users: int, rate_rps: float, script: Path) -> float:
    """wrk waits ``delay`` before each request after the last answer: period = delay +
    answer time. A two-second pilot at the nominal delay measures the mean answer time to
    subtract."""
    nominal = users * 1000.0 / rate_rps
    pilot = wrk(url, users, 2.0, nominal, script)
    return max(0.0, nominal - pilot.mean_ms)


@contextmanager
def null_server() -> Iterator[tuple[str, int]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "harness.load.null_server", "--max-s", "900"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    try:
        port = json.loads(process.stdout.readline())["port"]
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        process.terminate()
        process.communicate(timeout=10)


@contextmanager
def reference_api(workdir: Path) -> Iterator[tuple[str, int]]:
    from target_api.testing import ApiProcess

    api = ApiProcess(workdir / "api").start()
    assert api.process is not None
    try:
        yield api.url, api.process.pid
    finally:
        api.stop()


def median(samples: list[Sample]) -> Sample:
    return Sample(
        statistics.median(s.rps for s in samples),
        statistics.median(s.p50_ms for s in samples),
        statistics.median(s.p99_ms for s in samples),
        int(statistics.median(s.requests for s in samples)),
    )


def compare(
    url: str, path: str, args: argparse.Namespace, script: Path
) -> tuple[Sample, Sample, list[float]]:
    """Both clients' medians and each round's p99 ratio (harness / wrk, the same round)."""
    target = url + path
    delay = wrk_delay_ms(target, args.users, args.rate_rps, script)
    ours: list[Sample] = []
    theirs: list[Sample] = []
    for _ in range(args.repeats):  # alternate, so drift hits both alike
        ours.append(harness(url, path, args.users, args.duration_s, args.rate_rps))
        theirs.append(wrk(target, args.users, args.duration_s, delay, script))
    rounds = [a.p99_ms / b.p99_ms for a, b in zip(ours, theirs, strict=True)]
    return median(ours), median(theirs), rounds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration-s", type=float, default=5.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--rate-rps", type=float, default=1000.0)
    parser.add_argument("--pin", action=argparse.BooleanOptionalAction, default=None)
    args = parser.parse_args()
    pin = args.pin if args.pin is not None else (os.cpu_count() or 1) >= 2
    if pin:
        os.sched_setaffinity(0, {1})  # the clients (Locust's child, wrk) inherit core 1

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-floor-") as tmp:
        script = Path(tmp) / "paced.lua"
        script.write_text(WRK_SCRIPT, encoding="utf-8")
        servers = (
            ("null server (the floor's)", null_server, "/"),
            ("reference API ping", lambda: reference_api(Path(tmp)), "/api/v0/ping"),
        )
        for label, start, path in servers:
            with start() as (url, pid):
                if pin:
                    os.sched_setaffinity(pid, {0})
                rows.append((label, *compare(url, path, args, script)))

    print(
        f"\n{args.users} users / connections, {args.rate_rps:g} req/s intended, "
        f"{args.duration_s:g} s per run, median of {args.repeats}, pinned: {pin}\n"
    )
    print("| server | harness req/s | wrk req/s | harness p50 | wrk p50 | harness p99 "
          "| wrk p99 | p99 ratio harness/wrk |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, ours, theirs, _ in rows:
        ratio = ours.p99_ms / theirs.p99_ms if theirs.p99_ms else float("inf")
        print(
            f"| {label} | {ours.rps:,.0f} | {theirs.rps:,.0f} | {ours.p50_ms:.2f} ms | "
            f"{theirs.p50_ms:.2f} ms | {ours.p99_ms:.2f} ms | {theirs.p99_ms:.2f} ms | "
            f"{ratio:.2f}x |"
        )
    print()
    for label, _, _, rounds in rows:
        shown = ", ".join(f"{r:.2f}" for r in rounds)
        print(f"{label}: p99 ratio round by round {shown}; median {statistics.median(rounds):.2f}x")
    print("\ngoal: harness p99 within 1.5x of wrk's")
    return 0


if __name__ == "__main__":
    sys.exit(main())
