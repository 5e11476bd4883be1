"""The security scan through the CLI: real bandit over a project's source, a SARIF from
another analyser and an OSV-Scanner report of its dependencies, judged by
security_max_high in every report format; a malformed report refused before anything
starts; the reference API's own source scanned by the built-in profile."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import run_cli

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
[profiles.one.security]
enabled = true
paths = ["src"]
code_reports = ["semgrep.sarif"]
dependency_reports = ["osv.json"]
[profiles.one.gates]
test_success = 0.5
security_max_high = 0
"""

_SOURCE = """import subprocess


def run(command):
    return subprocess.call(command, shell=True)
"""

_SARIF = {
    "version": "2.1.0",
    "runs": [{"tool": {"driver": {"name": "semgrep"}}, "results": [
        {"ruleId": "go.sqli", "level": "error", "message": {"text": "SQL from input"},
         "locations": [{"physicalLocation": {"artifactLocation": {"uri": "svc/db.go"},
                                             "region": {"startLine": 7}}}]}]}],
}  # fmt: skip

_OSV = {
    "results": [{"packages": [{
        "package": {"name": "jinja2", "version": "2.10", "ecosystem": "PyPI"},
        "groups": [{"ids": ["GHSA-462w-v97r-4m45"], "max_severity": "9.0"}],
        "vulnerabilities": [{"id": "GHSA-462w-v97r-4m45", "summary": "sandbox escape",
                             "affected": [{"ranges": [{"events": [{"fixed": "2.10.1"}]}]}]}],
    }]}]
}  # fmt: skip


def _project(root: Path) -> Path:
    project = root / "project"
    (project / "checks").mkdir(parents=True)
    (project / "src").mkdir()
    (project / "reliability.toml").write_text(_CONFIG)
    (project / "checks" / "test_one.py").write_text("def test_one():\n    assert 1 + 1 == 2\n")
    (project / "src" / "runner.py").write_text(_SOURCE)
    (project / "semgrep.sarif").write_text(json.dumps(_SARIF))
    (project / "osv.json").write_text(json.dumps(_OSV))
    return project


def test_findings_of_each_source_fail_the_gate_and_are_listed_in_every_format(
    tmp_path: Path,
) -> None:
    project = _project(tmp_path)
    reports = tmp_path / "reports"
    result = run_cli("gate", "--report-dir", str(reports), cwd=project, timeout=300)
    assert result.returncode == 1, result.stdout + result.stderr
    run_dir = reports / "latest"
    report = json.loads((run_dir / "report.json").read_text())
    code, deps = report["security"]["code"], report["security"]["dependencies"]
    assert code["sources"][0].startswith("bandit ")  # the real bandit ran over src/
    assert "(1 files)" in code["sources"][0]
    found = {(f["tool"], f["id"], f["severity"]) for f in code["findings"] if f["counted"]}
    assert ("bandit", "B602", "high") in found  # shell=True
    assert ("semgrep", "go.sqli", "high") in found
    (vuln,) = deps["findings"]
    assert (vuln["where"], vuln["severity"], vuln["fix"]) == ("jinja2==2.10", "critical", "2.10.1")
    gates = {g["name"]: g for g in report["gates"]}
    assert gates["security_max_high"]["outcome"] == "fail"
    assert gates["security_max_high"]["observed"] == 3
    row = {r["key"]: r for r in report["readiness"]["rows"]}["security"]
    assert row["outcome"] == "fail"
    summary = (run_dir / "summary.md").read_text()
    assert "## Security" in summary
    assert "GHSA-462w-v97r-4m45" in summary
    html = (run_dir / "index.html").read_text()
    assert 'id="security-code"' in html
    assert 'id="security-dependencies"' in html
    assert "svc/db.go:7" in html


def test_a_malformed_scanner_report_is_exit_2_naming_the_file_and_field(tmp_path: Path) -> None:
    project = _project(tmp_path)
    (project / "osv.json").write_text('{"name": "not a report"}')
    result = run_cli("gate", "--report-dir", str(tmp_path / "r"), cwd=project, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "security.dependency_reports from" in result.stderr
    assert "osv.json" in result.stderr
    assert "not a report this harness reads" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "r" / "latest").exists()


def test_a_report_named_is_read_even_with_the_dependencies_off_and_a_missing_path_is_exit_2(
    tmp_path: Path,
) -> None:
    project = _project(tmp_path)
    config = project / "reliability.toml"
    config.write_text(
        _CONFIG.replace('paths = ["src"]', 'paths = ["src"]\ndependencies = "off"').replace(
            'code_reports = ["semgrep.sarif"]\n', ""
        )
    )
    (project / "src" / "runner.py").write_text("def run():\n    return 1\n")  # clean code
    reports = tmp_path / "reports"
    result = run_cli("gate", "--report-dir", str(reports), cwd=project, timeout=300)
    assert result.returncode == 1, result.stdout + result.stderr  # the OSV report's critical
    report = json.loads((reports / "latest" / "report.json").read_text())
    (vuln,) = report["security"]["dependencies"]["findings"]
    assert vuln["severity"] == "critical"
    config.write_text(_CONFIG.replace('paths = ["src"]', 'paths = ["srcc"]'))
    typo = run_cli("gate", "--report-dir", str(tmp_path / "r2"), cwd=project, timeout=60)
    assert typo.returncode == 2, typo.stdout + typo.stderr
    assert "security.paths from" in typo.stderr
    assert "srcc" in typo.stderr
    assert not (tmp_path / "r2" / "latest").exists()
