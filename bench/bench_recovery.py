"""Recovery of the reference API from kill -9 under the supervisor, beside its cold start.

    python bench/bench_recovery.py [--injections 30] [--cold-starts 5] [--markdown FILE]

Baseline, measured in the same run: the API's cold start, from starting
``python -m target_api`` on a fresh data directory to the first healthy ping (what the
supervisor's restart cannot beat). Then the ``api-kill`` experiment runs ``--injections``
times against one supervised API: each injection sends SIGKILL, the supervisor restarts
the API on the same port, and recovery is the time from the kill to the first of three
healthy probes (50 ms apart). Reported: p50/p95/max with n (nearest-rank, as the report
does), the supervisor's own restart time (death noticed -> new process answering), and
the claim "95% of recoveries within 30 s" with its interval. Everything runs on 127.0.0.1
and is bounded by the injection count and the experiment's 30 s recovery limit.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness import stats  # noqa: E402
from harness.chaos.executor import run_experiment  # noqa: E402
from harness.chaos.experiment import load_experiment  # noqa: E402
from harness.faults.supervisor import Supervisor  # noqa: E402
from harness.target import ReferenceTarget  # noqa: E402
from harness.toxiproxy.embedded import EmbeddedToxiproxy  # noqa: E402
from harness.toxiproxy.provision import ToxiproxyServer  # noqa: E402

LIMIT_S = 30.0


def _nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def cold_starts(rounds: int, workdir: Path) -> list[float]:
    """Seconds from starting the API on a fresh data directory to its first healthy ping."""
    out = []
    for index in range(rounds):
        api = ReferenceTarget(workdir / f"cold-{index}")
        t0 = time.monotonic()
        api.start()
        out.append(time.monotonic() - t0)
        api.stop()
    return out


def kill_recoveries(injections: int, workdir: Path) -> tuple[list[float | None], list[float]]:
    """Recovery per kill (kill -> first of 3 healthy probes) and the supervisor's restarts."""
    experiment = load_experiment(ROOT / "scenarios" / "chaos" / "api-kill.toml")
    embedded = EmbeddedToxiproxy(host="127.0.0.1", port=0)
    embedded.start()
    api = ReferenceTarget(workdir / "supervised", log_path=workdir / "supervised.log")
    api.start()
    with (
        ToxiproxyServer(embedded.url, "embedded", "bench", embedded) as server,
        Supervisor(api) as supervisor,
    ):
        result = run_experiment(
            experiment, api.url, server, injections=injections, supervisor=supervisor
        )
    if result.error:
        print(f"experiment error: {result.error}", file=sys.stderr)
    unseen = [i.index for i in result.injections if not i.analysis.effect_observed]
    if unseen:
        print(f"injections with no visible effect: {unseen}", file=sys.stderr)
    restarts = [float(r["restart_s"]) for r in result.restarts if r["restart_s"] is not None]
    return list(result.recovery_s), restarts


def _row(name: str, values: list[float]) -> str:
    if not values:
        return f"| {name} | 0 | - | - | - |"
    return (
        f"| {name} | {len(values)} | {_nearest_rank(values, 0.5):.3f} | "
        f"{_nearest_rank(values, 0.95):.3f} | {max(values):.3f} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--injections", type=int, default=30)
    parser.add_argument("--cold-starts", type=int, default=5)
    parser.add_argument("--markdown", type=Path, help="append the table to this file")
    args = parser.parse_args()
    if args.injections < 1 or args.cold_starts < 1:
        parser.error("--injections and --cold-starts must be >= 1")
    with tempfile.TemporaryDirectory(prefix="bench-recovery-") as tmp:
        workdir = Path(tmp)
        t0 = time.monotonic()
        cold = cold_starts(args.cold_starts, workdir)
        recoveries, restarts = kill_recoveries(args.injections, workdir)
        elapsed = time.monotonic() - t0
    recovered = [r for r in recoveries if r is not None]
    summary = stats.summarize_recoveries(recoveries, LIMIT_S)
    lines = [
        "| measurement | n | p50 s | p95 s | max s |",
        "|---|---:|---:|---:|---:|",
        _row("baseline: cold start (start -> first healthy ping)", cold),
        _row("supervisor restart (death noticed -> restart() returned)", restarts),
        _row("recovery after kill -9 (kill -> first of 3 healthy probes)", recovered),
    ]
    claim = summary.claim
    lines += [
        "",
        f"- injections: {summary.n}, recovered: {summary.recovered}, "
        f"unrecovered: {summary.unrecovered}",
        f"- recovery p50 / cold start p50: "
        f"{statistics.median(recovered) / statistics.median(cold):.2f}"
        if recovered
        else "- no recovery",
        f"- within {LIMIT_S:.0f} s: {summary.within_limit}/{summary.n}"
        + (f", 95% CI [{claim.low:.4f}, {claim.high:.4f}]" if claim else "")
        + f"; injections still needed for the 95%-within-limit claim: {summary.trials_needed}",
        f"- wall time of the bench: {elapsed:.1f} s",
    ]
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        with args.markdown.open("a", encoding="utf-8") as fh:
            fh.write(text + "\n")
    return 0 if summary.unrecovered == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
