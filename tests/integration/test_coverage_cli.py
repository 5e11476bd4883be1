"""Code coverage of the target through the CLI: the reference API measured under coverage.py
while a scenario calls exactly one route; a service's own coverage report read; a malformed
report refused before anything starts."""

from __future__ import annotations

import inspect
import json
import textwrap
from pathlib import Path

import pytest
from cli_helpers import ROOT, run_cli

from harness.api_coverage import operations_of
from target_api.routes import jobs, meta

pytestmark = [pytest.mark.integration, pytest.mark.slow]

_CONFIG = """
default_profile = "one"
[profiles.one.tests]
paths = ["checks"]
markexpr = ""
repeat = 1
workers = "1"
[profiles.one.load]
enabled = false
[profiles.one.chaos]
enabled = false
[profiles.one.availability]
enabled = false
[profiles.one.coverage]
enabled = true
categories = { one = "one", none = "none" }
[profiles.one.api_coverage]
enabled = true
[profiles.one.gates]
test_success = 0.5
coverage_min = 1.0
api_coverage_min = 50.0
"""

_CONFTEST = """
def pytest_configure(config):
    config.addinivalue_line("markers", "one: calls one route")
    config.addinivalue_line("markers", "none: selects nothing")
"""

_SCENARIO = """
import os
import httpx
import pytest

@pytest.mark.one
def test_the_openapi_document_is_served():
    url = os.environ["MOONBASE_TARGET_URL"]
    response = httpx.get(url + "/openapi.json", timeout=10)
    assert response.status_code == 200


@pytest.mark.one
def test_ping_answers():
    url = os.environ["MOONBASE_TARGET_URL"]
    assert httpx.get(url + "/api/v0/ping", timeout=10).status_code == 200
"""


def _body_lines(function: object) -> set[int]:
    """The executable lines of a function's body (after its def line)."""
    lines, first = inspect.getsourcelines(function)  # type: ignore[arg-type]
    return {
        first + i for i, text in enumerate(lines)
        if i > 0 and text.strip() and not text.strip().startswith(("#", '"""', "@"))
    }  # fmt: skip


def test_one_route_called_is_covered_and_another_is_missed(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "checks").mkdir(parents=True)
    (project / "reliability.toml").write_text(_CONFIG)
    (project / "checks" / "conftest.py").write_text(_CONFTEST)
    (project / "checks" / "test_one.py").write_text(textwrap.dedent(_SCENARIO))
    reports = tmp_path / "reports"
    result = run_cli("gate", "--report-dir", str(reports), cwd=project, timeout=300)
    assert result.returncode == 1, result.stdout + result.stderr  # api_coverage_min fails
    run_dir = reports / "latest"
    report = json.loads((run_dir / "report.json").read_text())
    own = json.loads((run_dir / "coverage" / "coverage.json").read_text())  # coverage.py's

    def lines(module: object, kind: str) -> set[int]:
        path = str(Path(inspect.getfile(module)).resolve())  # type: ignore[arg-type]
        (entry,) = [v for k, v in own["files"].items() if str(Path(project, k).resolve()) == path]
        return set(entry[kind])

    def statements(function: object, module: object) -> set[int]:
        every = lines(module, "executed_lines") | lines(module, "missing_lines")
        return _body_lines(function) & every

    called, never = statements(meta.openapi, meta), statements(jobs.submit_job, jobs)
    assert called
    assert called <= lines(meta, "executed_lines")  # the route called: covered
    assert len(never) > 5
    assert never <= lines(jobs, "missing_lines")  # a route never called: missed
    categories = {c["name"]: c for c in report["coverage"]["categories"]}
    assert categories["one"]["tests"] == 2
    assert categories["one"]["lines"]["covered"] > 0
    assert categories["none"]["lines"] is None
    assert "no test matches" in categories["none"]["why_none"]
    gates = {g["name"]: g for g in report["gates"]}
    assert gates["coverage_min"]["outcome"] == "pass"
    assert gates["coverage_one_min"]["outcome"] == "pass"
    assert gates["coverage_none_min"]["outcome"] == "insufficient"
    modules = {m["path"] for m in report["coverage"]["overall"]["modules"]}
    assert str(Path(inspect.getfile(jobs)).resolve().relative_to(ROOT)) in modules  # short
    # a context per test: each test's lines of the target, some of them its own alone
    per_test = {t["test"].rpartition("::")[2]: t for t in report["coverage"]["tests"]}
    assert set(per_test) == {"test_the_openapi_document_is_served", "test_ping_answers"}
    assert all(t["category"] == "one" and t["lines"] > t["only"] > 0 for t in per_test.values())
    named = (run_dir / "coverage" / "one-contexts.txt").read_text().splitlines()
    assert {n.rpartition("::")[2] for n in named} == set(per_test)  # each named itself
    assert "named themselves" not in report["coverage"]["how"]
    # API coverage from the tests phase's traffic: the ping operation exercised, the
    # document's own path (which it does not list) reported as undescribed traffic
    api = report["api_coverage"]
    assert api["operations"]["covered"] == 1
    assert api["operations"]["total"] == len(operations_of(meta.openapi_document()))
    assert api["unmatched"] == {"GET /openapi.json": 1}
    ping = next(o for o in api["by_operation"] if o["path"] == "/api/v0/ping")
    assert (ping["requests"], ping["exercised"], ping["missed"]) == (1, ["200"], ["4XX"])
    assert gates["api_coverage_min"]["outcome"] == "fail"
    assert "never exercised: GET /api/v0/health" in gates["api_coverage_min"]["detail"]
    html = (run_dir / "index.html").read_text()
    assert 'id="coverage-worst"' in html
    assert 'id="coverage-tests"' in html
    assert 'id="api-coverage-operations"' in html
    summary = (run_dir / "summary.md").read_text()
    assert "## Code coverage of the target" in summary
    assert "## API coverage" in summary


def test_a_services_own_coverage_report_is_read(tmp_path: Path) -> None:
    lcov = tmp_path / "lcov.info"
    lcov.write_text("SF:src/app.js\nDA:1,1\nDA:2,0\nDA:3,4\nBRDA:3,0,0,1\nBRDA:3,0,1,0\n"
                    "end_of_record\n")  # fmt: skip
    reports = tmp_path / "reports"
    result = run_cli(
        "gate", "--set", "coverage.enabled=true", "--set", f"coverage.report_file={lcov}",
        "--set", "gates.coverage_min=90", "--set", "load.enabled=false",
        "--set", "chaos.enabled=false", "--report-dir", str(reports), timeout=300,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads((reports / "latest" / "report.json").read_text())
    gate = next(g for g in report["gates"] if g["name"] == "coverage_min")
    assert gate["outcome"] == "fail"
    assert gate["observed"] == pytest.approx(200 / 3)
    assert "2/3 lines covered" in gate["detail"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("<report/>", "XML whose root is <report>, not Cobertura's <coverage>"),
        ("SF:a.js\nDA:x,1\nend_of_record\n", "is not LCOV"),
        ("{not json", "not valid JSON"),
    ],
)
def test_a_malformed_coverage_report_is_exit_2_naming_the_file(
    tmp_path: Path, content: str, message: str
) -> None:
    bad = tmp_path / "coverage.out"
    bad.write_text(content)
    result = run_cli(
        "gate", "--set", "coverage.enabled=true", "--set", f"coverage.report_file={bad}",
        "--report-dir", str(tmp_path / "r"), timeout=60,
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert str(bad) in result.stderr
    assert message in result.stderr
    assert "coverage.report_file from --set" in result.stderr
    assert not (tmp_path / "r" / "latest").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"openapi": "3.1.0"}', "no 'paths' object"),
        ("paths: [unclosed", "neither JSON nor valid YAML"),
        (b"\xff\xfeopenapi: 3.1.0", "not UTF-8 text"),
    ],
)
def test_a_malformed_openapi_file_is_exit_2_naming_the_file(
    tmp_path: Path, content: str | bytes, message: str
) -> None:
    bad = tmp_path / "openapi.yaml"
    if isinstance(content, bytes):
        bad.write_bytes(content)
    else:
        bad.write_text(content)
    result = run_cli(
        "gate", "--set", "api_coverage.enabled=true", "--set",
        f"api_coverage.openapi_file={bad}", "--report-dir", str(tmp_path / "r"), timeout=60,
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert str(bad) in result.stderr
    assert message in result.stderr
    assert "api_coverage.openapi_file from --set" in result.stderr
    assert not (tmp_path / "r" / "latest").exists()
