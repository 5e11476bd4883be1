"""Benchmark: the load phase with 1 and with 2 Locust processes, same target, same users.

    python bench/bench_processes.py [--duration-s 5] [--repeats 3] [--users 10]

Starts the reference API (``python -m target_api`` on 127.0.0.1, port 0) unless
``--target-url`` names a loopback service, then alternates, ``--repeats`` times each, the
closed model as fast as it goes (``run_load(rate_rps=0)``) with ``processes=1`` (one local
Locust process) and ``processes=2`` (a master and two workers, ``users / 2`` each, their
HdrHistograms merged). Throughput is requests completed / run time; the p99 comes from the
merged histogram. It prints a Markdown table of medians and the 2-vs-1 ratio (goal on a
2-core machine: >= 1.6), with the load average before and after (the machine is shared).
Every run is bounded by ``--duration-s``; the whole benchmark by roughly
2 x repeats x (duration + 8 s).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from harness.load import LoadSpec, RequestSpec, run_load

GOAL = 1.6


@dataclass(frozen=True, slots=True)
class Sample:
    rps: float
    p99_ms: float
    requests: int


def one_run(url: str, path: str, users: int, duration_s: float, processes: int) -> Sample:
    result = run_load(
        LoadSpec(
            url,
            requests=(RequestSpec(path=path),),
            rate_rps=0.0,
            users=users,
            duration_s=duration_s,
            processes=processes,
        )
    )
    if result.failures:
        raise RuntimeError(f"{processes} process(es): {result.failures} failures: {result.errors}")
    return Sample(result.requests / duration_s, result.latency_ms["p99"], result.requests)


def median(samples: list[Sample]) -> Sample:
    return Sample(
        statistics.median(s.rps for s in samples),
        statistics.median(s.p99_ms for s in samples),
        int(statistics.median(s.requests for s in samples)),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target-url", help="a running loopback service (default: start one)")
    parser.add_argument("--path", default="/api/v0/ping")
    parser.add_argument("--duration-s", type=float, default=5.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--users", type=int, default=10)
    args = parser.parse_args()
    if args.users % 2:
        parser.error("--users must be even (two processes run half each)")

    load_before = os.getloadavg()
    samples: dict[int, list[Sample]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory(prefix="bench-processes-") as tmp:
        api = None
        url = args.target_url
        if url is None:
            from target_api.testing import ApiProcess

            api = ApiProcess(Path(tmp) / "api").start()
            url = api.url
        LoadSpec(url).validate(where="--target-url")  # loopback only
        try:
            for _ in range(args.repeats):  # alternate, so drift hits both alike
                for processes in (1, 2):
                    samples[processes].append(
                        one_run(url, args.path, args.users, args.duration_s, processes)
                    )
        finally:
            if api is not None:
                api.stop()
    load_after = os.getloadavg()

    one, two = median(samples[1]), median(samples[2])
    ratio = two.rps / one.rps
    print(
        f"closed model, users={args.users} duration={args.duration_s:g}s "
        f"repeats={args.repeats} (medians) target={args.path} cores={os.cpu_count()} at "
        f"{time.strftime('%Y-%m-%d %H:%M')}; load average before "
        f"{load_before[0]:.2f}, after {load_after[0]:.2f}\n"
    )
    print("| processes | req/s | p99 ms | requests | ratio to 1 process |")
    print("|---:|---:|---:|---:|---:|")
    for processes, sample in ((1, one), (2, two)):
        print(
            f"| {processes} | {sample.rps:.0f} | {sample.p99_ms:.2f} | {sample.requests} "
            f"| {sample.rps / one.rps:.2f} |"
        )
    each = ", ".join(f"{s.rps:.0f}" for s in samples[1])
    each2 = ", ".join(f"{s.rps:.0f}" for s in samples[2])
    print(f"\nevery run, req/s: 1 process [{each}]; 2 processes [{each2}]")
    print(f"ratio 2/1 = {ratio:.2f} (goal >= {GOAL}): {'met' if ratio >= GOAL else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
