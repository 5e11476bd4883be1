"""The tests phase: the selected scenarios, isolated, parallel and repeated (the runner),
folded with their record across earlier runs of the same commit."""

from __future__ import annotations

import importlib
import random
import threading
from collections.abc import Callable
from pathlib import Path

from harness.config import TestSettings
from harness.history import read_history
from harness.record import TestsOutcome
from harness.runner import Progress, RunSpec, run_tests
from harness.runner.accumulate import accumulate
from harness.session import RunContext

# scipy.special and jinja2 take a while to import: the runner starts pytest first and
# imports what the report needs while the workers run
_HEAVY = ("harness.gates", "harness.report.html", "harness.report.allure")


def _prewarm() -> None:
    for name in _HEAVY:
        importlib.import_module(name)
    importlib.import_module("harness.report.html").prepare()


__all__ = ["run_tests_phase"]


def run_tests_phase(
    ctx: RunContext,
    settings: TestSettings,
    *,
    rootdir: Path,
    paths: tuple[str, ...],
    env: dict[str, str],
    on_progress: Callable[[Progress], None] | None = None,
    allow_non_loopback: bool = False,
) -> TestsOutcome:
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
        f"tests: {' '.join(paths) or f'everything under {rootdir}'} x{settings.repeat}"
        f"{' until confident' if settings.until_confident else ''}, workers {settings.workers}, "
        f"timeout {settings.timeout_s} s, budget {settings.budget_s} s, seed {seed}"
    )
    threading.Thread(target=_prewarm, name="prewarm", daemon=True).start()
    result = run_tests(spec, ctx.state.run_dir / "test-runs.jsonl", on_progress=on_progress)
    commit, dirty = ctx.state.git
    history = read_history(ctx.state.report_root)
    for line in history.skipped:
        ctx.say(f"history: line left out: {line}")
    accumulated = accumulate(
        result.tests,
        list(history.runs),
        commit=commit,
        dirty=dirty,
        slo=settings.slo,
    )
    outcome = TestsOutcome(
        result=result,
        settings=settings,
        seed=seed,
        accumulated=accumulated,
        history_skipped=history.skipped,
    )
    ctx.state.record(tests=outcome)
    return outcome
