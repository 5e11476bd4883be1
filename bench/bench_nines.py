"""Benchmark: how long the ``nines`` profile takes to prove 99.999% request success on the
reference API, beside the time wrk would need for the same 299,572 requests, same machine,
same run.

Runs ``reliable-test-runner load --profile nines`` as a user does (it starts its own
reference API), reads its report.json (``load.proof``: requests, time, bound), then starts
a reference API of its own and measures wrk's closed-loop rate on ping for a few seconds
(``-c`` = the profile's users); the baseline time is 299,572 / that rate. wrk is a C load
generator with no per-request bookkeeping: the ratio is what the harness's honesty
(HdrHistograms per name and second, Locust's events) costs on this machine.

    python bench/bench_nines.py [--wrk-seconds 5]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROOF_REQUESTS = 299_572  # 0 failures: one-sided 95% lower bound reaches 0.99999


def run_nines(report_dir: Path) -> tuple[float, dict[str, object]]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "harness", "load", "--profile", "nines",
         "--report-dir", str(report_dir)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    wall_s = time.monotonic() - started
    if done.returncode not in (0, 1, 3):
        sys.exit(f"nines run failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    report = json.loads((report_dir / "latest" / "report.json").read_text(encoding="utf-8"))
    load = report["load"]
    assert isinstance(load, dict)
    return wall_s, load


def wrk_rate(url: str, seconds: float, connections: int) -> float:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", f"{url}/api/v0/ping"],
        capture_output=True, text=True, timeout=seconds + 30, check=True,
    ).stdout  # fmt: skip
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if match is None:
        sys.exit(f"no Requests/sec in wrk's output:\n{out}")
    return float(match.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wrk-seconds", type=float, default=5.0)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install -y wrk)")
    sys.path.insert(0, str(ROOT))
    from harness.config import load_config
    from target_api.testing import ApiProcess

    users = load_config(profile="nines", environ={}, cwd=Path("/nonexistent")).profile.load.users
    with tempfile.TemporaryDirectory(prefix="bench-nines-") as tmp:
        wall_s, load = run_nines(Path(tmp) / "reports")
        api = ApiProcess(Path(tmp) / "api").start()
        try:
            rate = wrk_rate(api.url, args.wrk_seconds, users)
        finally:
            api.stop()
    proof = load["proof"]
    assert isinstance(proof, dict)
    load_s = float(proof["duration_s"])
    baseline_s = PROOF_REQUESTS / rate
    print(
        f"nines at {time.strftime('%Y-%m-%d %H:%M')}: {proof['outcome']}, "
        f"{proof['requests']:,} requests, {proof['failures']} failed, one-sided 95% lower "
        f"bound {proof['lower_bound']:.7f}\n"
        f"| | seconds |\n|---|---:|\n"
        f"| load (first send to last answer), harness | {load_s:.1f} |\n"
        f"| whole command (start API, load, gates, reports) | {wall_s:.1f} |\n"
        f"| wrk, same count at its rate ({rate:,.0f} req/s, -c{users}) | {baseline_s:.1f} |\n"
        f"| ratio load / wrk | {load_s / baseline_s:.2f} |\n"
        f"harness rate {float(load['rps']):,.0f} req/s; goal: load under 30 s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
