"""report.json read back: the one reader for ``report`` and for every renderer.

:func:`read_report` loads a run's report.json and refuses anything that is not a
``moonbase-reliability/1`` report (exit 2, naming the file). :func:`complete` derives, once
and in this one place, every figure the pages show that report.json does not carry itself:

- per test, its three 95% intervals and its decision, when an older report lacks them;
- the pooled test figure (``tests_total``) and the load's error-rate interval, overall and
  per request of the mix;
- per chaos experiment, its ``recovery_summary`` and the decision on its claim "95% of
  recoveries within the limit"; over every experiment, ``chaos_summary``;
- per history line, the run's test pass rate with its interval.

The renderers (Markdown, HTML, JUnit, Allure) only read what :func:`complete` returned: a
rate is never computed twice, or two ways. What report.json carries is never replaced: a
figure is derived only where it is absent. Pure apart from :func:`read_report`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from harness import stats
from harness.errors import UsageError
from harness.report.files import SCHEMA
from harness.values import as_count, as_list, as_map, as_number, count_or_zero

__all__ = [
    "CLAIM_SHARE",
    "COMPLETED",
    "complete",
    "complete_history",
    "interval_bounds",
    "read_report",
]

# the claim every chaos experiment is judged against: "95% of recoveries within the limit"
CLAIM_SHARE = 0.95
# set on a completed document, so that a renderer handed one does not derive again
COMPLETED = "_completed"

_INTERVALS: tuple[tuple[str, Callable[[int, int], stats.Interval]], ...] = (
    ("pass_rate", stats.clopper_pearson),
    ("wilson", stats.wilson),
    ("jeffreys", stats.jeffreys),
)


def read_report(run_dir: Path) -> dict[str, Any]:
    """``run_dir``/report.json; UsageError (exit 2) when unreadable or of another schema."""
    path = run_dir / "report.json"
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    if not isinstance(report, dict) or report.get("schema") != SCHEMA:
        found = report.get("schema") if isinstance(report, dict) else type(report).__name__
        raise UsageError(f"{path} is not a {SCHEMA} report (schema {found!r})")
    return report


def interval_bounds(data: Any) -> tuple[float, float] | None:
    """``(low, high)`` of an interval as report.json stores it; None when it has none."""
    d = as_map(data)
    low, high = as_number(d.get("low")), as_number(d.get("high"))
    return None if low is None or high is None else (low, high)


def _rate(k: int, n: int, fn: Callable[[int, int], stats.Interval] = stats.clopper_pearson) -> Any:
    return fn(min(k, n), n).to_json() if n > 0 else None


def _test(test: Mapping[str, Any]) -> dict[str, Any]:
    body = dict(test)
    n, passed = count_or_zero(test.get("n")), count_or_zero(test.get("passed"))
    if not n:
        return body
    for key, fn in _INTERVALS:
        if interval_bounds(test.get(key)) is None:
            body[key] = _rate(passed, n, fn)
    slo = as_number(test.get("slo"))
    if body.get("decision") is None and slo is not None and 0 < slo < 1:
        body["decision"] = stats.decide(min(passed, n), n, slo)
    if body.get("trials_needed") is None and slo is not None and 0 < slo < 1:
        body["trials_needed"] = stats.trials_needed(slo, min(passed, n), n)
    return body


def _request(entry: Mapping[str, Any]) -> dict[str, Any]:
    """One request of the load mix, with the interval of its error rate."""
    requests = count_or_zero(entry.get("requests"))
    failures = min(count_or_zero(entry.get("failures")), requests)
    return {**entry, "error_interval": entry.get("error_interval") or _rate(failures, requests)}


def _injection_recoveries(experiment: Mapping[str, Any]) -> list[float | None]:
    """Each injection's recovery time in seconds; None for one that never recovered."""
    times: list[float | None] = []
    for injection in map(as_map, as_list(experiment.get("injections"))):
        seconds = as_number(injection.get("recover_s"))
        ok = injection.get("recovered") is not False and seconds is not None and seconds >= 0
        times.append(seconds if ok else None)
    return times


def _experiment(experiment: Mapping[str, Any]) -> dict[str, Any]:
    body = dict(experiment)
    if experiment.get("status", "run") == "not_run":
        return body
    summary = dict(as_map(experiment.get("recovery_summary")))
    if not summary:
        times = _injection_recoveries(experiment)
        if not times:
            return body
        limit = as_number(experiment.get("max_recovery_s"))
        usable = limit if limit is not None and limit >= 0 else None
        summary = stats.summarize_recoveries(times, usable).to_json()
    n, within = as_count(summary.get("n")), as_count(summary.get("within_limit"))
    if n and within is not None:
        within = min(within, n)
        if interval_bounds(summary.get("claim")) is None:
            summary["claim"] = _rate(within, n)
        recovered = min(as_count(summary.get("recovered")) or 0, n)
        if interval_bounds(summary.get("recovered_rate")) is None:
            summary["recovered_rate"] = _rate(recovered, n)
        if summary.get("claim_decision") is None:
            summary["claim_decision"] = stats.decide(within, n, CLAIM_SHARE)
        if as_count(summary.get("trials_needed")) is None:
            summary["trials_needed"] = stats.trials_needed(CLAIM_SHARE, within, n)
    body["recovery_summary"] = summary
    return body


def _chaos_summary(experiments: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Every injection of every experiment that ran, pooled (no limit: recovered or not)."""
    times: list[float | None] = []
    not_run = 0
    for e in experiments:
        if e.get("status") == "not_run":
            not_run += 1
        else:
            times += _injection_recoveries(e)
    if not times:
        return None
    summary = stats.summarize_recoveries(times, limit_s=None).to_json()
    summary["recovered_rate"] = _rate(summary["recovered"], summary["n"])
    summary["not_run"] = not_run
    return summary


def complete(report: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``report`` with every figure the renderers show; see the module docstring.

    Idempotent: a completed document is returned as a copy, unchanged.
    """
    body = dict(as_map(report))
    if body.get(COMPLETED):
        return body
    tests = [_test(as_map(t)) for t in as_list(body.get("tests"))]
    if "tests" in body:
        body["tests"] = tests
    n = sum(count_or_zero(t.get("n")) for t in tests)
    passed = sum(min(count_or_zero(t.get("passed")), count_or_zero(t.get("n"))) for t in tests)
    body["tests_total"] = {"passed": passed, "n": n, "pass_rate": _rate(passed, n)}
    load = as_map(body.get("load"))
    if load:
        requests = count_or_zero(load.get("requests"))
        failures = min(count_or_zero(load.get("failures")), requests)
        body["load"] = {
            **load,
            "error_interval": load.get("error_interval") or _rate(failures, requests),
            "by_request": [_request(as_map(r)) for r in as_list(load.get("by_request"))],
        }
    experiments = [_experiment(as_map(e)) for e in as_list(body.get("chaos"))]
    if "chaos" in body:
        body["chaos"] = experiments
    body["chaos_summary"] = _chaos_summary(experiments)
    body[COMPLETED] = True
    return body


def complete_history(lines: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """History lines, each with its run's test pass rate and interval (``tests_pass_rate``)."""
    out = []
    for line in map(as_map, lines):
        body = dict(line)
        n = count_or_zero(line.get("tests_n"))
        passed = min(count_or_zero(line.get("tests_passed")), n)
        if interval_bounds(line.get("tests_pass_rate")) is None:
            body["tests_pass_rate"] = _rate(passed, n)
        out.append(body)
    return out
