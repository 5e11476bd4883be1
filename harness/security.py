"""Security findings of the target, and the gate ``security_max_high``. Pure.

Two parts, as the checklist's "Security vulnerabilities: 0 critical/high" needs both:

- the code: bandit's JSON report over the target's Python source (:func:`read_bandit`),
  and SARIF from any other static analyser (:func:`read_report`);
- the dependencies: pip-audit JSON, OSV-Scanner JSON or SARIF from a dependency scanner.

Every finding gets one severity of ``critical``, ``high``, ``medium``, ``low``: bandit's and
OSV's own words, SARIF's ``security-severity`` score (CVSS bands: 9.0 critical, 7.0 high,
4.0 medium), else its ``level`` (``error`` high, ``warning`` medium, ``note`` low). A
vulnerability whose report gives no severity (pip-audit's never do) counts as ``high``:
nothing shows it is below. bandit's findings below ``min_confidence`` are listed, not
counted. The gate counts the critical and high findings of both parts: above the maximum it
fails, whatever is missing (more data cannot lower a count); else a part with no data
leaves it insufficient, unless that part is off in the profile, and then the gate says so.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from harness.decision import Decision

__all__ = [
    "Finding",
    "SecurityOutcome",
    "SecurityPart",
    "read_bandit",
    "read_report",
    "security_gate",
]

Severity = Literal["critical", "high", "medium", "low"]
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low")
_CONFIDENCE = {"low": 0, "medium": 1, "high": 2}


@dataclass(frozen=True, slots=True)
class Finding:
    tool: str  # "bandit", "pip-audit", "osv-scanner", or a SARIF driver's name
    severity: Severity
    id: str  # "B602", "GHSA-...", "PYSEC-..."
    where: str  # "target_api/app.py:12", or "jinja2==3.0.0"
    text: str
    confidence: str | None = None  # bandit's: low, medium, high
    fix: str | None = None  # the version that fixes it, where known
    counted: bool = True  # False: below min_confidence, listed only

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"tool": self.tool, "severity": self.severity, "id": self.id}
        out |= {"where": self.where, "text": self.text, "counted": self.counted}
        if self.confidence:
            out["confidence"] = self.confidence
        if self.fix:
            out["fix"] = self.fix
        return out


@dataclass(frozen=True, slots=True)
class SecurityPart:
    """One part (code or dependencies): what scanned it and what it found, or why not."""

    sources: tuple[str, ...] = ()  # "bandit 1.9.4 on target_api (37 files)", "pip-audit.json"
    findings: tuple[Finding, ...] = ()
    why_none: str = ""  # no data: why ("" when measured)
    off: str = ""  # off in the profile: why

    @property
    def measured(self) -> bool:
        return bool(self.sources) and not self.why_none

    def high(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.counted and f.severity in ("critical", "high"))

    def counts(self) -> dict[str, int]:
        return {
            s: sum(1 for f in self.findings if f.severity == s and f.counted) for s in SEVERITIES
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "sources": list(self.sources),
            "why_none": self.why_none or None,
            "off": self.off or None,
            "counts": self.counts(),
            "findings": [f.to_json() for f in _ordered(self.findings)],
        }


def _ordered(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (not f.counted, SEVERITIES.index(f.severity), f.where))


@dataclass(frozen=True, slots=True)
class SecurityOutcome:
    code: SecurityPart = field(default_factory=SecurityPart)
    dependencies: SecurityPart = field(default_factory=SecurityPart)

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code.to_json(), "dependencies": self.dependencies.to_json()}


def _word(value: object) -> Severity | None:
    word = str(value or "").strip().lower()
    word = {"moderate": "medium", "important": "high", "negligible": "low"}.get(word, word)
    return word if word in SEVERITIES else None


def _score(value: object) -> Severity | None:
    """A CVSS base score (SARIF's ``security-severity``, OSV's ``max_severity``) banded."""
    try:
        score = float(str(value))
    except ValueError:
        return None
    if score != score or score <= 0:  # NaN, or none
        return None
    return "critical" if score >= 9 else "high" if score >= 7 else "medium" if score >= 4 else "low"


def read_bandit(doc: Mapping[str, Any], min_confidence: str = "medium") -> tuple[Finding, ...]:
    """bandit's ``-f json`` report; ValueError when it is none."""
    results = doc.get("results")
    if not isinstance(results, list) or not isinstance(doc.get("metrics"), Mapping):
        raise ValueError("not a bandit JSON report (no 'results' list and 'metrics')")
    floor = _CONFIDENCE.get(min_confidence, 1)
    out = []
    for r in results:
        if not isinstance(r, Mapping):
            continue
        confidence = str(r.get("issue_confidence", "")).lower()
        out.append(
            Finding(
                "bandit", _word(r.get("issue_severity")) or "high", str(r.get("test_id", "?")),
                f"{r.get('filename')}:{r.get('line_number')}", str(r.get("issue_text", "")),
                confidence, None, _CONFIDENCE.get(confidence, 2) >= floor,
            )
        )  # fmt: skip
    return tuple(out)


def _pip_audit(doc: Any) -> tuple[Finding, ...]:
    deps = doc.get("dependencies") if isinstance(doc, Mapping) else doc  # older: a list
    if not isinstance(deps, list) or not deps:
        raise ValueError("a pip-audit report that audits no dependency: no evidence")
    skipped = [d for d in deps if isinstance(d, Mapping) and d.get("skip_reason")]
    if skipped:  # a dependency it could not look up is no evidence of none
        raise ValueError(
            f"pip-audit could not audit {len(skipped)} of {len(deps)} dependencies "
            f"({skipped[0].get('name')}: {skipped[0].get('skip_reason')})"
        )
    out = []
    for dep in deps:
        if not isinstance(dep, Mapping) or not isinstance(dep.get("vulns"), list):
            raise TypeError(f"a dependency without a 'vulns' list: {str(dep)[:80]}")
        where = f"{dep.get('name')}=={dep.get('version')}"
        for v in dep["vulns"]:
            fixes = [str(x) for x in v.get("fix_versions") or []]
            text = str(v.get("description") or "")[:300] or "(no description)"
            text += " (no severity in the report: counted as high)"
            out.append(Finding("pip-audit", "high", str(v.get("id")), where, text, None,
                               ", ".join(fixes) or None))  # fmt: skip
    return tuple(out)


def _osv_fix(vuln: Mapping[str, Any]) -> str | None:
    fixed = [
        str(event["fixed"])
        for affected in vuln.get("affected") or []
        if isinstance(affected, Mapping)
        for rng in affected.get("ranges") or []
        if isinstance(rng, Mapping)
        for event in rng.get("events") or []
        if isinstance(event, Mapping) and "fixed" in event
    ]
    return ", ".join(dict.fromkeys(fixed)) or None


def _osv(doc: Mapping[str, Any]) -> tuple[Finding, ...]:
    out = []
    for result in doc["results"]:
        if not isinstance(result.get("packages"), list):
            raise TypeError(f"a result without a 'packages' list: {str(result)[:80]}")
        for pkg in result["packages"]:
            info = pkg["package"]
            where = f"{info.get('name')}=={info.get('version')}"
            groups = {
                i: g.get("max_severity")
                for g in pkg.get("groups") or []
                for i in g.get("ids") or []
            }
            for v in pkg.get("vulnerabilities") or []:
                vid = str(v.get("id"))
                specific = v.get("database_specific") or {}
                severity = _score(groups.get(vid)) or _word(specific.get("severity")) or "high"
                text = str(v.get("summary") or v.get("details") or "")[:300]
                out.append(Finding("osv-scanner", severity, vid, where, text, None, _osv_fix(v)))
    return tuple(out)


def _sarif_rules(run: Mapping[str, Any]) -> tuple[str, list[Mapping[str, Any]]]:
    tool = run.get("tool") or {}
    driver = tool["driver"]
    rules = [r for r in driver.get("rules") or [] if isinstance(r, Mapping)]
    for ext in tool.get("extensions") or []:  # CodeQL keeps its rules in its query packs
        rules += [r for r in ext.get("rules") or [] if isinstance(r, Mapping)]
    return str(driver.get("name") or "sarif"), rules


def _sarif(doc: Mapping[str, Any]) -> tuple[Finding, ...]:
    if not doc["runs"]:
        raise ValueError("a SARIF log with no run: no evidence")
    out = []
    for run in doc["runs"]:
        tool, rules = _sarif_rules(run)
        if not isinstance(run.get("results"), list):  # SARIF: absent or null = not produced
            raise ValueError(f"{tool}'s SARIF run has no 'results': the tool produced none")
        failed = [i for i in run.get("invocations") or [] if i.get("executionSuccessful") is False]
        if failed:
            raise ValueError(f"{tool}'s SARIF run says its execution did not succeed")
        by_id = {str(r.get("id")): r for r in rules}
        for r in run["results"]:
            if r.get("suppressions") or r.get("kind") in ("pass", "notApplicable", "informational"):
                continue  # suppressed, or a check that passed: no finding
            rule_id = str(r.get("ruleId") or (r.get("rule") or {}).get("id") or "?")
            index = r.get("ruleIndex", (r.get("rule") or {}).get("index"))
            rule = by_id.get(rule_id) or (
                rules[index] if isinstance(index, int) and 0 <= index < len(rules) else {}
            )
            score = (r.get("properties") or {}).get("security-severity") or (
                rule.get("properties") or {}
            ).get("security-severity")
            level = r.get("level") or (rule.get("defaultConfiguration") or {}).get("level")
            severity = _score(score) or {"error": "high", "warning": "medium"}.get(
                str(level or "warning"), "low"
            )
            out.append(Finding(tool, severity, rule_id, _sarif_where(r),  # type: ignore[arg-type]
                               str((r.get("message") or {}).get("text") or "")[:300]))  # fmt: skip
    return tuple(out)


def _sarif_where(result: Mapping[str, Any]) -> str:
    for loc in result.get("locations") or []:
        phys = (loc or {}).get("physicalLocation") or {}
        uri = (phys.get("artifactLocation") or {}).get("uri")
        line = (phys.get("region") or {}).get("startLine")
        if uri:
            return f"{uri}:{line}" if line else str(uri)
    return "-"


def read_report(text: str, part: str = "code") -> tuple[str, tuple[Finding, ...]]:
    """A scanner's report, its format told by its content: SARIF, OSV-Scanner JSON,
    pip-audit JSON or bandit JSON (``part`` "dependencies": not bandit's). Returns the
    format's name and the findings; ValueError saying what is wrong when it is none of them,
    is malformed, or shows nothing (no run, no dependency audited)."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"not JSON ({exc})") from None
    try:
        if isinstance(doc, Mapping) and isinstance(doc.get("runs"), list):
            return "SARIF", _sarif(doc)
        if isinstance(doc, Mapping) and isinstance(doc.get("results"), list):
            if isinstance(doc.get("metrics"), Mapping):
                if part == "dependencies":
                    raise ValueError("a bandit report is about code, not dependencies")
                return "bandit JSON", read_bandit(doc, "low")
            return "OSV-Scanner JSON", _osv(doc)
        if (isinstance(doc, Mapping) and isinstance(doc.get("dependencies"), list)) or (
            isinstance(doc, list) and all(isinstance(d, Mapping) and "vulns" in d for d in doc)
        ):
            return "pip-audit JSON", _pip_audit(doc)
    except (AttributeError, TypeError, KeyError) as exc:  # a known format, a field wrong
        raise ValueError(f"a malformed scanner report ({exc!r})") from None
    raise ValueError(
        "not a report this harness reads: SARIF, OSV-Scanner JSON, pip-audit JSON or bandit JSON"
    )


def _listed(findings: Iterable[Finding], most: int = 5) -> str:
    items = [f"{f.id} {f.severity} at {f.where}" for f in _ordered(findings)]
    return ", ".join(items[:most]) + (f" and {len(items) - most} more" if len(items) > most else "")


def _said(name: str, part: SecurityPart) -> str:
    if part.off:
        return f"{name}: off ({part.off})"
    if not part.measured:
        return f"{name}: no data ({part.why_none or 'nothing scanned it'})"
    counts = part.counts()
    below = sum(counts[s] for s in ("medium", "low"))
    return f"{name}: {len(part.high())} critical/high, {below} below ({'; '.join(part.sources)})"


def security_gate(outcome: SecurityOutcome | None, threshold: float) -> Decision:
    """``security_max_high``: the critical and high findings of the code and the
    dependencies, against the maximum allowed (see the module docstring)."""
    name = "security_max_high"
    if outcome is None:
        return Decision(name, "insufficient", None, threshold, "no security scan in this run")
    parts = {"code": outcome.code, "dependencies": outcome.dependencies}
    high = [f for p in parts.values() for f in p.high()]  # whatever else a part lacks
    said = "; ".join(_said(n, p) for n, p in parts.items())
    count = float(len(high))
    if high and count > threshold:
        detail = f"{len(high)} critical/high findings against <= {threshold:g}: {_listed(high)}"
        return Decision(name, "fail", count, threshold, f"{detail}; {said}", len(high), count,
                        "critical/high findings")  # fmt: skip
    missing = [n for n, p in parts.items() if not p.measured and not p.off]
    if missing:
        lacking = " and the ".join(missing)
        detail = f"{said}; not enough evidence: no vulnerability data for the {lacking}"
        return Decision(name, "insufficient", count, threshold, detail)
    if not any(p.measured for p in parts.values()):
        return Decision(name, "insufficient", None, threshold, f"no part scanned: {said}")
    detail = f"{len(high)} critical/high findings against <= {threshold:g}; {said}"
    off = [n for n, p in parts.items() if p.off]
    by = "critical/high findings" + (f" ({' and '.join(off)} off: not scanned)" if off else "")
    return Decision(name, "pass", count, threshold, detail, len(high), count, by)
