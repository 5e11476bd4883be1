"""`report`: re-render a run's reports from its report.json, optionally compared with a
baseline run."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from harness.config import ResolvedConfig
from harness.console import console
from harness.errors import UsageError
from harness.preflight import report_root

__all__ = ["cmd_report"]


def _run_dir(root: Path, ref: str) -> Path:
    path = Path(ref)
    if path.is_dir():
        return path
    candidate = root / ref
    if candidate.is_dir():
        return candidate
    raise UsageError(f"no run {ref!r}: neither a directory nor a run id under {root}")


def _runs_before(root: Path, report: dict[str, Any]) -> list[dict[str, Any]]:
    """The history as the run's own render saw it: the lines before the run's own (every
    line finished no later than it, when the history does not hold it), so that a re-render
    draws the same trend as the original."""
    from harness.history import read_history

    runs = list(read_history(root).runs)
    ids = [r.get("run_id") for r in runs]
    if report.get("run_id") in ids:
        return runs[: ids.index(report.get("run_id"))]
    finished = str(report.get("finished_at") or "")
    return [r for r in runs if str(r.get("finished_at") or "") <= finished]


def cmd_report(args: argparse.Namespace, config: ResolvedConfig) -> int:  # noqa: ARG001
    """Re-render a run's reports. Exits with the run's own exit code, or 1 when
    --compare flags a latency regression against the baseline."""
    from harness.report.compare import compare_runs
    from harness.report.document import read_report
    from harness.report.writers import write_all

    if not args.min_effect_ms >= 0:
        raise UsageError(f"--min-effect-ms {args.min_effect_ms}: must be a number >= 0")
    root = report_root(args)
    run_dir = _run_dir(root, args.run).resolve()
    report = read_report(run_dir)
    regressed = False
    if args.compare:
        baseline = read_report(_run_dir(root, args.compare).resolve())
        comparison = compare_runs(report, baseline, args.min_effect_ms)
        console.print(comparison.summary())
        body = comparison.to_json()
        if body is not None:
            report["comparison"] = body
            regressed = comparison.regression is not None and comparison.regression.regressed
    try:
        paths = write_all(report, run_dir, root, final=True, history=_runs_before(root, report))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UsageError(
            f"{run_dir / 'report.json'} does not have the shape of a report: "
            f"{type(exc).__name__}: {exc}"
        ) from None
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    if regressed:
        print(f"verdict: fail (exit 1): latency regressed against {args.compare}")
        return 1
    return int(report.get("exit_code", 0))
