"""Code coverage of the target: measured for the reference API, read for any other.

For the reference API, after the tests phase: each category (a marker expression) runs its
selected tests once against a reference API of its own under coverage.py (``coverage run
--branch --parallel-mode --context <category>``), stopped after them so that it writes its
data; the data are combined, and coverage.py's own JSON report is read, for all categories
and for each (its ``contexts`` filter). The load and chaos phases never run under
coverage: it would slow the target and inflate its CPU. For another target, the report its
tooling wrote (``coverage.report_file``; per category ``coverage.report_files``).
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from harness.code_coverage import (
    CategoryCoverage,
    CoverageFigures,
    CoverageOutcome,
    TestCoverage,
    coverage_gate,
    per_test_coverage,
    read_coverage_report,
)
from harness.config import CoverageSettings, GateSettings, TestSettings
from harness.coverage_host import CONTEXTS_ENV as COVERAGE_CONTEXTS_ENV
from harness.gates import GateResult, from_decision
from harness.record import Component
from harness.runner import RunSpec, run_tests
from harness.session import RunContext
from harness.target import ReferenceTarget, Target

__all__ = ["CoverageOutcome", "category_gates", "measure_coverage"]


def _read(settings: CoverageSettings, base: Path) -> CoverageOutcome:
    overall = read_coverage_report(base / settings.report_file) if settings.report_file else None
    categories = tuple(
        CategoryCoverage(name, settings.categories.get(name, ""),
                         read_coverage_report(base / path), 0)
        for name, path in settings.report_files.items()
    )  # fmt: skip
    return CoverageOutcome(
        settings.basis, "read from the target's own reports", overall, categories
    )


def _api_under_coverage(
    out: Path, category: str, source: list[str]
) -> tuple[ReferenceTarget, Path]:
    """A reference API under coverage.py (harness.coverage_host: ``coverage run --branch
    --parallel-mode --context <category>``, and a context per test), and the file its
    context port is written to."""
    data_dir = Path(tempfile.mkdtemp(prefix="moonbase-coverage-"))
    port_file = data_dir / "contexts.port"
    wrap = (
        "-m", "harness.coverage_host", f"--data-file={out / '.coverage'}",
        f"--source={','.join(source)}", f"--context={category}", f"--port-file={port_file}",
        f"--names-file={out / f'{category}-contexts.txt'}", "--",
    )  # fmt: skip
    return ReferenceTarget(data_dir, log_path=out / f"api-{category}.log", wrap=wrap), port_file


def _collected(
    rootdir: Path, paths: tuple[str, ...], markexpr: str, keyword: str
) -> tuple[int, str]:
    """How many tests ``markexpr`` selects (pytest --collect-only), or why it cannot say (an
    unknown marker): a category that selects none is not run, and says why."""
    argv = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
    argv += ["-m", markexpr] + (["-k", keyword] if keyword else []) + list(paths)
    done = subprocess.run(  # noqa: S603 - this interpreter, pytest, the profile's selection
        argv, cwd=rootdir, capture_output=True, text=True, timeout=120, check=False
    )
    lines = (done.stdout + done.stderr).splitlines()
    if done.returncode not in (0, 5):
        errors = [line for line in lines if line.startswith("ERROR")] or lines[-1:]
        return 0, errors[0].removeprefix("ERROR: ") if errors else f"exit {done.returncode}"
    count = sum(1 for line in done.stdout.splitlines() if "::" in line)
    return count, "" if count else f"no test matches {markexpr!r}"


def _category_run(
    ctx: RunContext,
    tests: TestSettings,
    rootdir: Path,
    paths: tuple[str, ...],
    out: Path,
    name: str,
    markexpr: str,
    source: list[str],
    per_test: bool,
) -> tuple[int, str]:
    """Run the category's tests once against an API under coverage: the tests that ran, or
    0 and why none did. ``per_test``: one at a time, with a coverage context each."""
    selected = f"({tests.markexpr}) and ({markexpr})" if tests.markexpr else markexpr
    count, why = _collected(rootdir, paths, selected, tests.keyword)
    if not count:
        return 0, why
    api, port_file = _api_under_coverage(out, name, source)
    try:
        target = api.start()  # it listens once the host has written its context port
        env = {"MOONBASE_TARGET_URL": target.url, "MOONBASE_API_TOKEN": target.token}
        if per_test:  # one test at a time, each naming itself to the host
            env[COVERAGE_CONTEXTS_ENV] = f"127.0.0.1:{port_file.read_text(encoding='utf-8')}"
        spec = RunSpec(
            rootdir=rootdir, paths=paths, keyword=tests.keyword, markexpr=selected,
            workers="1" if per_test else tests.workers, repeat=1, timeout_s=tests.timeout_s,
            budget_s=tests.budget_s, seed=tests.seed, env=env,
        )  # fmt: skip
        result = run_tests(spec, out / f"{name}-runs.jsonl")
        return len(result.tests), ""
    finally:
        api.stop()  # SIGTERM: the API ends cleanly and coverage.py writes its data
        shutil.rmtree(api.data_dir, ignore_errors=True)


def _relative(figures: CoverageFigures, source: list[str], report: Path) -> CoverageFigures:
    """The measured files' paths from the measured packages' root (``target_api/app.py``),
    whatever the working directory was; the source named by the run directory's file."""
    import importlib.util

    roots = []
    for name in source:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin:
            roots.append(Path(spec.origin).resolve().parents[1])

    def short(path: str) -> str:
        for root in roots:
            if Path(path).is_absolute() and Path(path).resolve().is_relative_to(root):
                return str(Path(path).resolve().relative_to(root))
        return path

    files = tuple(dataclasses.replace(f, path=short(f.path)) for f in figures.files)
    label = f"measured by coverage.py: {report.parent.name}/{report.name}"
    return dataclasses.replace(figures, files=files, source=label)


def _unnamed(out: Path, ran: dict[str, tuple[int, str]]) -> str:
    """Where some tests of a category could not name themselves to the coverage host (the
    plugin could not reach it): their lines count under the category alone; '' when all did."""
    short = []
    for name, (count, _) in ran.items():
        names = out / f"{name}-contexts.txt"
        named = len(set(names.read_text(encoding="utf-8").splitlines())) if names.exists() else 0
        if count and named < count:
            short.append(f"{name}: {named} of {count} tests")
    if not short:
        return ""
    return f" (named themselves: {'; '.join(short)}; the rest count under their category alone)"


def _measured(
    ctx: RunContext,
    settings: CoverageSettings,
    tests: TestSettings,
    rootdir: Path,
    paths: tuple[str, ...],
) -> CoverageOutcome:
    import coverage

    out = ctx.state.run_dir / "coverage"
    out.mkdir(parents=True, exist_ok=True)
    ran: dict[str, tuple[int, str]] = {}
    for name, markexpr in settings.categories.items():
        how = "one at a time, a context each" if settings.per_test else "in parallel"
        ctx.say(f"coverage: category {name} ({markexpr}): its tests once ({how}), the API measured")
        ran[name] = _category_run(
            ctx, tests, rootdir, paths, out, name, markexpr, settings.source, settings.per_test
        )
        if ran[name][1]:
            ctx.say(f"coverage: category {name}: not measured ({ran[name][1]})")
    cov = coverage.Coverage(data_file=str(out / ".coverage"), branch=True)
    cov.combine([str(out)])
    cov.save()
    cov.load()
    if not cov.get_data().measured_files():
        return CoverageOutcome(settings.basis, "measured, but no data was written", None)
    cov.json_report(outfile=str(out / "coverage.json"))
    overall = _relative(
        read_coverage_report(out / "coverage.json"), settings.source, out / "coverage.json"
    )
    categories = []
    for name, markexpr in settings.categories.items():
        count, why = ran[name]
        if not count:
            categories.append(CategoryCoverage(name, markexpr, None, 0, why))
            continue
        path = out / f"coverage-{name}.json"
        cov.json_report(outfile=str(path), contexts=[f"^{re.escape(name)}(\\|.*)?$"])
        figures = _relative(read_coverage_report(path), settings.source, path)
        categories.append(CategoryCoverage(name, markexpr, figures, count))
    version = coverage.__version__
    ctx.state.add_component("coverage", Component("real", f"coverage.py {version}"))
    how = f"measured: coverage.py {version} on {', '.join(settings.source)}, branch coverage"
    how += ", a context per test" if settings.per_test else ", a context per category"
    if settings.per_test:
        how += _unnamed(out, ran)
    per_test: tuple[TestCoverage, ...] = ()
    if settings.per_test:  # a fresh read: the reports above left a context filter on cov's
        data = coverage.CoverageData(str(out / ".coverage"))
        data.read()
        per_test = per_test_coverage(data)
    return CoverageOutcome(settings.basis, how, overall, tuple(categories), per_test)


def measure_coverage(
    ctx: RunContext,
    settings: CoverageSettings,
    tests: TestSettings,
    *,
    target: Target,
    rootdir: Path,
    paths: tuple[str, ...],
    base_dir: Path,
) -> CoverageOutcome:
    """The target's coverage, recorded in the run (see the module docstring)."""
    if settings.report_file or settings.report_files:
        outcome = _read(settings, base_dir)
    elif target.managed:
        outcome = _measured(ctx, settings, tests, rootdir, paths)
    else:
        outcome = CoverageOutcome(
            settings.basis,
            "not measured: a target the harness did not start; give coverage.report_file",
            None,
        )
    if outcome.overall is not None:
        k, n = outcome.overall.branches if settings.basis == "branches" else outcome.overall.lines
        ctx.say(f"coverage: {k}/{n} {settings.basis} covered ({outcome.how})")
    ctx.state.record(coverage=outcome)
    return outcome


def category_gates(
    outcome: CoverageOutcome | None, settings: CoverageSettings, gates: GateSettings
) -> tuple[GateResult, ...]:
    """``coverage_<category>_min`` for each category: ``coverage.category_min``, else the
    overall ``gates.coverage_min``; none when neither is set or coverage is off; each listed
    as off when ``category_min = "off"``."""
    threshold = settings.category_min
    if threshold is None and isinstance(gates.coverage_min, int | float):
        threshold = float(gates.coverage_min)
    if threshold is None or not settings.enabled:
        return ()
    by_name = {c.name: c for c in outcome.categories} if outcome else {}
    # with reports read, a category is what has a report of its own; measured, every one
    names = (
        list(settings.report_files)
        if settings.report_file or settings.report_files
        else (list(settings.categories))
    )
    results = []
    for name in names:
        if threshold == "off":
            why = 'off: switched off in the config (coverage.category_min = "off")'
            results.append(GateResult(f"coverage_{name}_min", "off", None, None, ">=", why))
            continue
        c = by_name.get(name)
        why = f" (category {name}: {c.why_none})" if c and c.why_none else ""
        decision = coverage_gate(
            f"coverage_{name}_min", c.figures if c else None, threshold, settings.basis, why
        )
        results.append(from_decision(decision, ">="))
    return tuple(results)
