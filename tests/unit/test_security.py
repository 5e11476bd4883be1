"""The security scan, pure: reports read in each format, severities, the gate, the row."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from harness.security import (
    Finding,
    SecurityOutcome,
    SecurityPart,
    read_bandit,
    read_report,
    security_gate,
)

_BANDIT = {
    "metrics": {"_totals": {"loc": 9}, "app.py": {"loc": 9}},
    "errors": [],
    "results": [
        {"test_id": "B602", "issue_severity": "HIGH", "issue_confidence": "HIGH",
         "filename": "app.py", "line_number": 4, "issue_text": "shell=True"},
        {"test_id": "B608", "issue_severity": "MEDIUM", "issue_confidence": "LOW",
         "filename": "store.py", "line_number": 70, "issue_text": "SQL built from strings"},
        {"test_id": "B105", "issue_severity": "HIGH", "issue_confidence": "LOW",
         "filename": "settings.py", "line_number": 8, "issue_text": "hardcoded password"},
    ],
}  # fmt: skip

_SARIF = {
    "version": "2.1.0",
    "runs": [
        {
            "tool": {"driver": {"name": "semgrep", "rules": [
                {"id": "r.cvss", "properties": {"security-severity": "9.8"}},
                {"id": "r.warn", "defaultConfiguration": {"level": "warning"}},
            ]}},
            "results": [
                {"ruleId": "r.cvss", "message": {"text": "injection"}, "locations": [
                    {"physicalLocation": {"artifactLocation": {"uri": "src/a.go"},
                                          "region": {"startLine": 12}}}]},
                {"ruleId": "r.warn", "message": {"text": "weak"}},
                {"ruleId": "r.none", "level": "error", "message": {"text": "bad"}},
                {"ruleId": "r.note", "level": "note", "message": {"text": "fyi"}},
            ],
        }
    ],
}  # fmt: skip

_OSV = {
    "results": [
        {"source": {"path": "requirements.txt"}, "packages": [{
            "package": {"name": "jinja2", "version": "2.10", "ecosystem": "PyPI"},
            "groups": [{"ids": ["GHSA-1"], "max_severity": "7.5"}],
            "vulnerabilities": [
                {"id": "GHSA-1", "summary": "sandbox escape", "affected": [
                    {"ranges": [{"events": [{"introduced": "0"}, {"fixed": "2.10.1"}]}]}]},
                {"id": "PYSEC-2", "database_specific": {"severity": "MODERATE"}},
            ],
        }]}
    ]
}  # fmt: skip

_PIP_AUDIT = {
    "dependencies": [
        {"name": "requests", "version": "2.19.0", "vulns": [
            {"id": "PYSEC-2018-28", "fix_versions": ["2.20.0"], "description": "leaks auth"}]},
        {"name": "idna", "version": "3.7", "vulns": []},
    ]
}  # fmt: skip


def test_bandit_findings_below_the_confidence_asked_are_listed_not_counted() -> None:
    findings = read_bandit(_BANDIT, "medium")
    assert [(f.id, f.severity, f.counted) for f in findings] == [
        ("B602", "high", True),
        ("B608", "medium", False),
        ("B105", "high", False),
    ]
    assert findings[0].where == "app.py:4"
    part = SecurityPart(("bandit",), findings)
    assert [f.id for f in part.high()] == ["B602"]
    assert part.counts() == {"critical": 0, "high": 1, "medium": 0, "low": 0}
    assert [f.id for f in read_bandit(_BANDIT, "low") if f.counted] == ["B602", "B608", "B105"]


def test_each_format_is_told_by_its_content_and_its_severities_banded() -> None:
    kind, sarif = read_report(json.dumps(_SARIF))
    assert kind == "SARIF"
    assert [(f.tool, f.id, f.severity, f.where) for f in sarif] == [
        ("semgrep", "r.cvss", "critical", "src/a.go:12"),  # security-severity 9.8
        ("semgrep", "r.warn", "medium", "-"),  # the rule's default level
        ("semgrep", "r.none", "high", "-"),  # level error
        ("semgrep", "r.note", "low", "-"),
    ]
    kind, osv = read_report(json.dumps(_OSV))
    assert kind == "OSV-Scanner JSON"
    assert [(f.id, f.severity, f.where, f.fix) for f in osv] == [
        ("GHSA-1", "high", "jinja2==2.10", "2.10.1"),  # max_severity 7.5
        ("PYSEC-2", "medium", "jinja2==2.10", None),  # MODERATE
    ]
    kind, audit = read_report(json.dumps(_PIP_AUDIT))
    assert kind == "pip-audit JSON"
    (only,) = audit
    assert (only.id, only.severity, only.where, only.fix) == (
        "PYSEC-2018-28", "high", "requests==2.19.0", "2.20.0",
    )  # fmt: skip
    assert "counted as high" in only.text  # pip-audit gives no severity
    assert read_report(json.dumps(_BANDIT))[0] == "bandit JSON"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "not JSON"),
        ('{"name": "x"}', "not a report this harness reads"),
        ('{"runs": [{"tool": 3, "results": [1]}]}', "malformed scanner report"),
    ],
)
def test_a_report_of_no_known_format_says_so(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read_report(text)


def _high(where: str) -> Finding:
    return Finding("bandit", "high", "B602", where, "shell=True")


_CODE = SecurityPart(("bandit 1.9 on app (3 files)",), (_high("app.py:4"),))
_CLEAN = SecurityPart(("bandit 1.9 on app (3 files)",), ())
_NO_DEPS = SecurityPart(why_none="no security.dependency_reports")


def test_the_gate_fails_on_a_finding_whatever_is_missing_and_waits_for_the_rest() -> None:
    fail = security_gate(SecurityOutcome(_CODE, _NO_DEPS), 0)
    assert (fail.outcome, fail.observed) == ("fail", 1.0)
    assert "B602 high at app.py:4" in fail.detail
    waits = security_gate(SecurityOutcome(_CLEAN, _NO_DEPS), 0)
    assert waits.outcome == "insufficient"
    assert "no vulnerability data for the dependencies" in waits.detail
    allowed = security_gate(SecurityOutcome(_CODE, replace(_CLEAN, sources=("osv.json",))), 1)
    assert allowed.outcome == "pass"
    off = security_gate(SecurityOutcome(_CLEAN, SecurityPart(off="off in this profile")), 0)
    assert off.outcome == "pass"
    assert "dependencies: off (off in this profile)" in off.detail
    assert security_gate(None, 0).outcome == "insufficient"


def test_the_checklist_row_asks_for_the_dependencies_a_profile_switched_off() -> None:
    from harness.checklist import evaluate_checklist
    from harness.config import ReadinessSettings
    from harness.gates import Evidence, evaluate_gates

    scan = SecurityOutcome(_CLEAN, SecurityPart(off="security.dependencies = 'off'"))
    evidence = Evidence(security=scan)
    rows = {r.key: r for r in evaluate_checklist(ReadinessSettings(), evidence).rows}
    assert rows["security"].outcome == "insufficient"
    assert "the checklist asks for it" in rows["security"].measured
    from harness.config import GateSettings

    (gate,) = evaluate_gates(GateSettings(security_max_high=0), evidence)
    assert gate.outcome == "pass"  # the profile's own gate judges the code alone, and says so
    audited = Evidence(security=replace(scan, dependencies=replace(_CLEAN, sources=("a",))))
    rows = {r.key: r for r in evaluate_checklist(ReadinessSettings(), audited).rows}
    assert rows["security"].outcome == "pass"


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([], "audits no dependency"),
        ({"dependencies": []}, "audits no dependency"),
        ({"dependencies": [{"name": "x", "version": "1", "skip_reason": "not on PyPI"}]},
         "could not audit 1 of 1"),
        ({"dependencies": [{"name": "x", "version": "1", "vulns": {}}]}, "malformed"),
        ({"runs": []}, "no run"),
        ({"runs": [{"tool": {"driver": {"name": "gosec"}}}]}, "gosec's SARIF run has no 'results'"),
        ({"runs": [{"tool": {"driver": {"name": "t"}}, "results": [],
                    "invocations": [{"executionSuccessful": False}]}]}, "did not succeed"),
        ({"results": [{"foo": 1}]}, "malformed"),
    ],
)  # fmt: skip
def test_a_report_that_shows_nothing_is_no_evidence(doc: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read_report(json.dumps(doc), "dependencies")


def test_sarif_suppressed_and_passing_results_are_no_findings_and_rule_index_is_followed() -> None:
    doc = {
        "runs": [{
            "tool": {"driver": {"name": "codeql"}, "extensions": [{"rules": [
                {"id": "js/sqli", "defaultConfiguration": {"level": "error"}}]}]},
            "results": [
                {"ruleIndex": 0, "message": {"text": "sqli"}},
                {"ruleId": "x", "level": "error", "suppressions": [{"kind": "inSource"}]},
                {"ruleId": "y", "level": "error", "kind": "pass"},
            ],
        }]
    }  # fmt: skip
    kind, findings = read_report(json.dumps(doc))
    assert [(f.id, f.severity) for f in findings] == [("?", "high")]
    with pytest.raises(ValueError, match="about code, not dependencies"):
        read_report(json.dumps(_BANDIT), "dependencies")


def test_a_pass_with_a_part_off_says_it_was_not_scanned_and_reports_count_when_bandit_failed() -> (
    None
):
    off = security_gate(SecurityOutcome(_CLEAN, SecurityPart(off="off in this profile")), 0)
    assert off.decided_by == "critical/high findings (dependencies off: not scanned)"
    broken = SecurityPart(("SARIF high.sarif",), (_high("a.go:1"),), why_none="bandit failed")
    fail = security_gate(SecurityOutcome(broken, SecurityPart(off="off")), 0)
    assert fail.outcome == "fail"  # the report's finding counts though bandit gave no data
