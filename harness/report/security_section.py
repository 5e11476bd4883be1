"""The report's section on the security scan, read from report.json's ``security``
(:mod:`harness.phases.security_phase` wrote it): display strings for every format."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.values import as_list as _list
from harness.values import as_map as _map

__all__ = ["SecurityPartView", "SecurityView", "security_view"]

_SEVERITIES = ("critical", "high", "medium", "low")
_SHOWN = 50  # findings listed per part; report.json keeps them all


@dataclass(frozen=True, slots=True)
class SecurityPartView:
    name: str  # "code", "dependencies"
    headline: str  # "0 critical, 0 high, 8 medium, 16 low" / "no data: ..." / "off: ..."
    sources: str
    # severity, id, where, what, confidence, fix; counted ones first
    findings: tuple[tuple[str, str, str, str, str, str], ...]
    more: int  # findings not listed here


@dataclass(frozen=True, slots=True)
class SecurityView:
    parts: tuple[SecurityPartView, ...]


def _part(name: str, p: Mapping[str, Any]) -> SecurityPartView:
    if p.get("off"):
        return SecurityPartView(name, f"off: {p['off']}", "", (), 0)
    if p.get("why_none"):
        return SecurityPartView(name, f"no data: {p['why_none']}", "", (), 0)
    counts = _map(p.get("counts"))
    headline = ", ".join(f"{int(counts.get(s) or 0)} {s}" for s in _SEVERITIES)
    every = [_map(f) for f in _list(p.get("findings"))]
    uncounted = sum(1 for f in every if f.get("counted") is False)
    if uncounted:
        headline += f" (and {uncounted} below the confidence counted, listed last)"
    rows = tuple(
        (
            str(f.get("severity")) + ("" if f.get("counted", True) else " (not counted)"),
            str(f.get("id")), str(f.get("where")), str(f.get("text")),
            str(f.get("confidence") or "-"), str(f.get("fix") or "-"),
        )
        for f in every[:_SHOWN]
    )  # fmt: skip
    sources = "; ".join(map(str, _list(p.get("sources"))))
    return SecurityPartView(name, headline, sources, rows, max(0, len(every) - _SHOWN))


def security_view(report: Mapping[str, Any]) -> SecurityView | None:
    s = _map(report.get("security"))
    if not s:
        return None
    return SecurityView(tuple(_part(name, _map(s.get(name))) for name in ("code", "dependencies")))
