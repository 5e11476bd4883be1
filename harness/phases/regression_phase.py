"""The comparison with a baseline run, after a run's phases: the baseline named with
``--baseline`` (checked before anything started) or found in the history (``auto``), every
metric both runs measured compared (:mod:`harness.baseline`), and the evidence the
``regression`` gate judges."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from harness.baseline import Baseline, RegressionResult, compare_reports, find_baseline
from harness.config import RegressionSettings
from harness.history import comparable_key, load_shape, read_history
from harness.record import build_report
from harness.regression_gate import RegressionEvidence
from harness.session import RunContext

__all__ = ["compare_with_baseline", "named_baseline"]


def named_baseline(spec: str, root: Path) -> Baseline | None:
    """A baseline named on the command line, read now (a usage error before anything
    starts when it does not exist or is not a report of this schema); None for auto/none."""
    if spec in ("auto", "none"):
        return None
    return find_baseline(spec, root, "", ())


def _words(check: object) -> str:
    from harness.regression import Check

    assert isinstance(check, Check)
    return (
        f"{check.metric}: {check.baseline:.4g} -> {check.current:.4g} (worse by "
        f"{check.effect:+.3g}, minimum effect {check.min_effect:g}; {check.method})"
    )


def compare_with_baseline(
    ctx: RunContext,
    settings: RegressionSettings,
    spec: str,
    named: Baseline | None,
    root: Path,
) -> RegressionEvidence:
    """Compare this run with its baseline; record the comparison in the run."""
    current = build_report(ctx.state.outcome)
    key, shape = comparable_key(current), load_shape(current)
    history = [h for h in read_history(root).runs if h.get("run_id") != current["run_id"]]
    baseline = named
    if baseline is None and spec == "auto":
        baseline = find_baseline("auto", root, key, history, shape)
    if baseline is None:
        why = (
            "--baseline none"
            if spec == "none"
            else "no earlier passing run of the same command, profile, target, selection and load"
        )
        ctx.say(f"regression: no baseline ({why})")
        ctx.state.record(
            regression=RegressionResult(None, spec, required=settings.require_baseline,
                                        why_none=why, settings=settings.min_effects())
        )  # fmt: skip
        return RegressionEvidence(None, (), (), settings.require_baseline, why)
    if named is not None and comparable_key(named.report) != key:  # the user's choice: said
        ctx.say(
            f"regression: note: {named.run_id} is not a run of the same command, profile, "
            "target and test selection; it is compared as named"
        )
        baseline = dataclasses.replace(named, how="named (not of the same kind of run)")
    elif named is not None and (theirs := load_shape(named.report)) != shape:
        ctx.say(
            f"regression: note: {named.run_id} sent another load ({theirs} against {shape}); "
            "it is compared as named"
        )
        baseline = dataclasses.replace(named, how="named (another load)")
    # the scatter between runs: the comparable passing runs before this one, of the same load
    # (a line written before load_shape was kept has none: taken as it always was)
    earlier = [
        h
        for h in history
        if h.get("comparable") == key
        and h.get("verdict") == "pass"
        and h.get("load_shape", shape) == shape
    ]
    checks = compare_reports(
        current, ctx.state.run_dir, baseline, settings.min_effects(), earlier[-20:]
    )
    result = RegressionResult(
        baseline.run_id, baseline.how, checks, settings.require_baseline,
        settings=settings.min_effects(),
    )  # fmt: skip
    ctx.state.record(regression=result)
    flagged = tuple(_words(c) for c in result.flagged)
    ctx.say(
        f"regression: against {baseline.run_id} ({baseline.how}): {len(checks)} metric(s) "
        f"compared, {len(flagged)} flagged"
    )
    for line in flagged:
        ctx.say(f"regression: {line}")
    at_floor = tuple(_words(c) for c in result.flagged if _at_floor(current, c.metric))
    for line in at_floor:
        ctx.say(f"regression: {line.split(':')[0]} is at the generator's floor: not counted")
    return RegressionEvidence(
        baseline.run_id, tuple(c.metric for c in checks), flagged, settings.require_baseline,
        at_floor=at_floor,
    )  # fmt: skip


def _at_floor(report: dict[str, object], metric: str) -> bool:
    """Whether ``metric`` ("latency p95 (ms)") is a percentile that this run's load
    measured at the generator's floor (``load.floor.at_floor``)."""
    if not metric.startswith("latency p"):
        return False
    load = report.get("load")
    floor = load.get("floor") if isinstance(load, dict) else None
    flags = floor.get("at_floor") if isinstance(floor, dict) else None
    name = metric.split()[1]  # "p95"
    return isinstance(flags, dict) and flags.get(name) is True
