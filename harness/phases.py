"""The tests and load phases of a gate run, each turning a component's output into evidence
(the chaos phase is :mod:`harness.chaos.phase`)."""

from __future__ import annotations

import dataclasses
import importlib
import random
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.config import LoadSettings, TestSettings
from harness.report.writers import read_history
from harness.runner import Progress, RunSpec, TestPhaseResult, run_tests
from harness.runner.accumulate import accumulate
from harness.session import RunContext

if TYPE_CHECKING:
    from harness import gates as gate_logic
    from harness.load import LoadSpec

# scipy.special and jinja2 take a while to import: the runner starts pytest first and
# imports what the report needs while the workers run
_HEAVY = ("harness.gates", "harness.report.html", "harness.report.allure")


def _prewarm() -> None:
    for name in _HEAVY:
        importlib.import_module(name)


__all__ = [
    "run_load_phase",
    "run_tests_phase",
    "tests_json",
]


def tests_json(result: TestPhaseResult, slo: float) -> list[dict[str, Any]]:
    return [t.to_json(slo) for t in result.tests]


def run_tests_phase(
    ctx: RunContext,
    settings: TestSettings,
    *,
    rootdir: Path,
    paths: tuple[str, ...],
    env: dict[str, str],
    on_progress: Callable[[Progress], None] | None = None,
    allow_non_loopback: bool = False,
) -> tuple[TestPhaseResult, gate_logic.SuiteEvidence]:
    seed = settings.seed if settings.seed is not None else random.SystemRandom().randrange(2**31)
    spec = RunSpec(
        rootdir=rootdir,
        paths=paths,
        keyword=settings.keyword,
        markexpr=settings.markexpr,
        workers=settings.workers,
        repeat=settings.repeat,
        timeout_s=settings.timeout_s,
        budget_s=settings.budget_s,
        seed=seed,
        until_confident=settings.until_confident,
        slo=settings.slo,
        env=env,
        allow_non_loopback=allow_non_loopback,
    )
    ctx.say(
        f"tests: {' '.join(paths) or '.'} x{settings.repeat}"
        f"{' until confident' if settings.until_confident else ''}, workers {settings.workers}, "
        f"timeout {settings.timeout_s} s, budget {settings.budget_s} s, seed {seed}"
    )
    threading.Thread(target=_prewarm, name="prewarm", daemon=True).start()
    result = run_tests(spec, ctx.state.run_dir / "test-runs.jsonl", on_progress=on_progress)
    from harness import gates as gate_logic

    data = ctx.state.data
    data["tests"] = tests_json(result, settings.slo)
    commit, dirty = ctx.state.git
    history = read_history(ctx.state.report_root)
    for line in history.skipped:
        ctx.say(f"history: line left out: {line}")
    across = accumulate(
        data["tests"],
        list(history.runs),
        commit=commit,
        dirty=dirty,
        slo=settings.slo,
    )
    for test in data["tests"]:
        test["accumulated"] = across[test["nodeid"]]
    data["test_run"] = {
        "seed": seed,
        "repeat": settings.repeat,
        "until_confident": settings.until_confident,
        "slo": settings.slo,
        "workers": settings.workers,
        "timeout_s": settings.timeout_s,
        "budget_s": settings.budget_s,
        "budget_exhausted": result.budget_exhausted,
        "batches": result.batches,
        "runs": len(result.runs),
        "duration_s": round(result.duration_s, 3),
        "pytest_exit_codes": list(result.pytest_exit_codes),
        "internal_error": result.internal_error,
        "replay": " ".join(result.argv),
    }
    if history.skipped:  # said in the report too: the accumulated figures rest on fewer runs
        data["test_run"]["history_skipped"] = list(history.skipped)
    passed = sum(t.passed for t in result.tests)
    n = sum(t.n for t in result.tests)
    ctx.state.checkpoint()
    return result, gate_logic.SuiteEvidence(passed, n)


def _load_spec(
    settings: LoadSettings, target_url: str, overrides: Mapping[str, Any] | None = None
) -> LoadSpec:
    from harness.load import LoadSpec, RequestSpec, load_load_spec

    if settings.profile_file:
        spec = load_load_spec(Path(settings.profile_file), target_url)
        # what the user typed on the command line wins over the profile file
        return dataclasses.replace(spec, **dict(overrides or {}))
    return LoadSpec(
        target_url=target_url,
        requests=(RequestSpec(path=settings.path),),
        rate_rps=settings.rate_rps,
        users=settings.users,
        duration_s=settings.duration_s,
        max_requests=settings.max_requests,
        processes=settings.processes,
    )


def run_load_phase(
    ctx: RunContext,
    settings: LoadSettings,
    target_url: str,
    on_progress: Callable[[Any], None] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> gate_logic.LoadEvidence:
    """Run the load; with a profile file, ``overrides`` (LoadSpec fields given on the
    command line) replace the file's values."""
    from harness import gates as gate_logic
    from harness.load import run_load
    from harness.load.histogram import decode_histogram
    from harness.load.percentiles import percentile_estimate

    spec = _load_spec(settings, target_url, overrides)
    ctx.say(
        f"load: {spec.rate_rps or 'max'} req/s intended, {spec.users} users, "
        f"{spec.duration_s} s against {target_url}"
    )
    result = run_load(spec, progress=on_progress)
    histogram = decode_histogram(result.histogram)
    p95 = percentile_estimate(histogram, 0.95)
    p99 = percentile_estimate(histogram, 0.99)
    body = result.to_json()
    body["percentile_bounds_ms"] = {
        name: {
            "q": est.q,
            "n": est.n,
            "estimate": est.estimate_ms,
            "low": est.low_ms,
            "high": est.high_ms,
            "method": "order-statistic",
            "confidence": 0.95,
        }
        for name, est in (("p95", p95), ("p99", p99))
    }
    body["histogram"] = [
        {"latency_ms": item.value_iterated_to / 1000.0, "count": item.count_added_in_this_iter_step}
        for item in histogram.get_recorded_iterator()
    ][:2000]
    body["histogram_encoded"] = result.histogram
    ctx.state.data["load"] = body
    ctx.state.checkpoint()
    ctx.say(
        f"load: {result.requests} requests, {result.failures} failed, {result.rps:.0f} req/s, "
        f"p95 {p95.estimate_ms:.3f} ms"
    )
    return gate_logic.LoadEvidence(result.requests, result.failures, result.rps, p95, p99)
