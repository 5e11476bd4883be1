"""The Allure results of real runs, through Allure's own tool: ``allure generate``
(allure-commandline, fetched by ``./moonbase allure``), then the generated report's own data
read back (widgets/*.json, data/suites.json, data/categories.json, data/test-cases/*.json)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from harness.plugin import require_component

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.allure]

ROOT = Path(__file__).resolve().parents[2]

_API = """
import time
from pathlib import Path

COUNTER = Path(__file__).with_name("counter.txt")


def test_ok():
    assert True


def test_flaky():
    runs = int(COUNTER.read_text()) + 1 if COUNTER.exists() else 1
    COUNTER.write_text(str(runs))
    assert runs % 2 == 0, f"odd run {runs}"


def test_hangs():
    time.sleep(30)
"""

_JOBS = """
class TestJobs:
    def test_fails(self):
        assert 1 == 2, "one is not two"
"""


def _allure() -> str | None:
    found = os.environ.get("MOONBASE_ALLURE") or shutil.which("allure")
    bundled = next(iter(sorted((ROOT / ".toolcache").glob("allure-*/bin/allure"))), None)
    return found or (str(bundled) if bundled else None)


def _run(project: Path, reports: Path) -> Path:
    done = subprocess.run(  # noqa: S603 - this interpreter, the harness's own command
        [sys.executable, "-m", "harness", "run", "--rootdir", str(project), "--repeat", "3",
         "--workers", "1", "--timeout", "1", "--report-dir", str(reports)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    return (reports / "latest").resolve()


def _generate(allure: str, run_dir: Path) -> Path:
    out = run_dir / "allure-report"
    done = subprocess.run(  # noqa: S603 - Allure's own command line
        [allure, "generate", str(run_dir / "allure-results"), "-o", str(out), "--clean"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def _read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _suites(node: dict[str, Any], depth: int = 0) -> set[tuple[int, str]]:
    names = set()
    for child in node.get("children", []):
        if "children" in child:
            names.add((depth, child["name"]))
            names |= _suites(child, depth + 1)
    return names


def test_allure_generates_suites_retries_flaky_categories_and_history(tmp_path: Path) -> None:
    allure = _allure()
    require_component("allure-commandline", allure is not None, " (./moonbase allure)")
    assert allure is not None
    project = tmp_path / "project"
    (project / "checks" / "api").mkdir(parents=True)
    (project / "checks" / "jobs").mkdir(parents=True)
    (project / "checks" / "api" / "test_mod.py").write_text(textwrap.dedent(_API))
    (project / "checks" / "jobs" / "test_other.py").write_text(textwrap.dedent(_JOBS))
    reports = tmp_path / "reports"
    first = _run(project, reports)
    report = _generate(allure, first)

    # suites by area (directory) and module (and class); the gates in a suite of their own
    suites = _suites(_read(report / "data" / "suites.json"))
    assert {(0, "checks/api"), (1, "test_mod"), (0, "checks/jobs"), (1, "test_other"),
            (2, "TestJobs"), (0, "moonbase reliability"), (1, "gates")} <= suites  # fmt: skip

    cases = [_read(p) for p in (report / "data" / "test-cases").glob("*.json")]
    shown = {c["fullName"]: c for c in cases if c.get("retriesCount", 0) or not c.get("retry")}
    latest = {name.split("::")[-1]: c for name, c in shown.items() if c.get("retriesCount") == 2}
    # every run of a repeated test: one test case, the other two runs its retries
    assert set(latest) == {"test_ok", "test_flaky", "test_hangs", "test_fails"}
    assert latest["test_flaky"]["flaky"] is True
    assert not latest["test_ok"].get("flaky")
    retries = latest["test_flaky"]["extra"]["retries"]
    starts = {latest["test_flaky"]["time"]["start"], *(r["time"]["start"] for r in retries)}
    assert len(starts) == 3  # each run with its own start, not the run's
    hang = latest["test_hangs"]
    assert hang["time"]["duration"] >= 900  # its own second, not the whole run's
    assert hang["status"] == "broken"
    fails = latest["test_fails"]
    assert fails["statusMessage"] == "AssertionError: one is not two"
    assert "assert 1 == 2" in fails["statusTrace"]

    categories = {c["name"]: c for c in _read(report / "data" / "categories.json")["children"]}
    # a category's children are its messages, each holding the results that carry it
    timeouts = categories["Timeouts"]["children"]
    assert [m["name"] for m in timeouts] == ["Failed: Timeout (>1.0s) from pytest-timeout."]
    assert {leaf["name"] for m in timeouts for leaf in m["children"]} == {
        "checks/api/test_mod.py::test_hangs"
    }
    assert "Flaky tests" in categories
    summary = _read(report / "widgets" / "summary.json")
    assert summary["statistic"]["total"] == 5  # four tests and the run's test_slo gate
    executors = _read(report / "widgets" / "executors.json")
    assert executors[0]["name"] == "reliable-test-runner"
    environment = {e["name"]: e["values"] for e in _read(report / "widgets" / "environment.json")}
    assert environment["run_id"] == [first.name]

    # the next run carries this report's history/ into its results: Allure's trend goes on
    second = _run(project, reports)
    assert (second / "allure-results" / "history" / "history-trend.json").exists()
    trend = _read(_generate(allure, second) / "widgets" / "history-trend.json")
    assert len(trend) == 2
