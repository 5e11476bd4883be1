"""Benchmark: the harness's load phase against bare Locust, same target, same user class.

    python bench/bench_load.py [--duration-s 5] [--repeats 3] [--users 10] [--rate-rps 1000]

Starts the reference API (``python -m target_api`` on 127.0.0.1, port 0) unless
``--target-url`` names a loopback service, then alternates, ``--repeats`` times each:

- closed model: harness ``run_load(rate_rps=0)`` vs ``locust --headless`` with a
  FastHttpUser and ``wait_time = constant(0)``: req/s (requests completed / run time, for
  both) and p99 (harness: HdrHistogram; Locust: its rounded response-time buckets);
- open model at ``--rate-rps``: harness ``run_load(rate_rps=R)`` (latency from the intended
  send time) vs Locust with ``constant_throughput(R / users)`` (latency from the actual
  send): achieved req/s and p99.

It prints a Markdown table of medians and the harness/Locust ratios. Every run is bounded
by ``--duration-s``; the whole benchmark by roughly 4 x repeats x (duration + 4 s).
"""

from __future__ import annotations

import argparse
import csv
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from harness.load import LoadSpec, RequestSpec, run_load

LOCUSTFILE = """
from locust import FastHttpUser, constant, constant_throughput, task

class PingUser(FastHttpUser):
    wait_time = {wait}

    @task
    def ping(self):
        self.client.get("{path}")
"""


@dataclass(frozen=True, slots=True)
class Sample:
    rps: float
    p99_ms: float
    requests: int


def bare_locust(
    url: str, path: str, users: int, duration_s: float, rate_rps: float, workdir: Path
) -> Sample:
    """One ``locust --headless`` run; numbers from its CSV (rounded response-time buckets)."""
    wait = "constant(0)" if rate_rps <= 0 else f"constant_throughput({rate_rps / users!r})"
    locustfile = workdir / "bare_locustfile.py"
    locustfile.write_text(LOCUSTFILE.format(wait=wait, path=path), encoding="utf-8")
    prefix = workdir / "bare"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(locustfile),
            "--headless",
            "--users",
            str(users),
            "--spawn-rate",
            "100",
            "--run-time",
            f"{duration_s:g}s",
            "--host",
            url,
            "--csv",
            str(prefix),
            "--only-summary",
            "--stop-timeout",
            "2",
            "--loglevel",
            "WARNING",
            "--exit-code-on-error",
            "0",
        ],
        check=True,
        timeout=duration_s + 60,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    with open(f"{prefix}_stats.csv", encoding="utf-8") as f:
        row = next(r for r in csv.DictReader(f) if r["Name"] == "Aggregated")
    # Locust's own "Requests/s" divides by a span it measures differently; both tools are
    # rated here the same way: requests completed / configured run time.
    count = int(row["Request Count"])
    return Sample(count / duration_s, float(row["99%"]), count)


def harness_load(url: str, path: str, users: int, duration_s: float, rate_rps: float) -> Sample:
    result = run_load(
        LoadSpec(
            url,
            requests=(RequestSpec(path=path),),
            rate_rps=rate_rps,
            users=users,
            duration_s=duration_s,
        )
    )
    if result.failures:
        raise RuntimeError(f"harness run had {result.failures} failures: {result.errors}")
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
    parser.add_argument("--rate-rps", type=float, default=1000.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        workdir = Path(tmp)
        api = None
        url = args.target_url
        if url is None:
            from target_api.testing import ApiProcess

            api = ApiProcess(workdir / "api").start()
            url = api.url
        LoadSpec(url).validate(where="--target-url")  # loopback only
        try:
            rows = []
            for label, rate in (
                ("closed, as fast as it goes", 0.0),
                (f"open, {args.rate_rps:g} req/s", args.rate_rps),
            ):
                ours: list[Sample] = []
                theirs: list[Sample] = []
                for _ in range(args.repeats):  # alternate, so drift hits both alike
                    ours.append(harness_load(url, args.path, args.users, args.duration_s, rate))
                    theirs.append(
                        bare_locust(url, args.path, args.users, args.duration_s, rate, workdir)
                    )
                rows.append((label, median(ours), median(theirs)))
        finally:
            if api is not None:
                api.stop()

    print(
        f"users={args.users} duration={args.duration_s:g}s repeats={args.repeats} "
        f"(medians) target={args.path} at {time.strftime('%Y-%m-%d %H:%M')}\n"
    )
    print(
        "| model | harness req/s | Locust req/s | ratio | harness p99 ms | Locust p99 ms | ratio |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, a, b in rows:
        p99_ratio = a.p99_ms / b.p99_ms if b.p99_ms else float("nan")
        print(
            f"| {label} | {a.rps:.0f} | {b.rps:.0f} | {a.rps / b.rps:.2f} | {a.p99_ms:.2f} "
            f"| {b.p99_ms:.0f} | {p99_ratio:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
