"""The report's section on the comparison with a baseline run, read from report.json's
``regression`` (:mod:`harness.baseline` wrote it): display strings for every format."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.report.views import significant
from harness.values import as_list as _list
from harness.values import as_map as _map

__all__ = ["RegressionRow", "RegressionView", "regression_view"]


@dataclass(frozen=True, slots=True)
class RegressionRow:
    metric: str
    baseline: str
    current: str
    effect: str  # "+50.1 (minimum 1)"
    p_value: str
    outcome: str  # "flagged" / "not flagged"
    noise: str
    method: str


@dataclass(frozen=True, slots=True)
class RegressionView:
    headline: str  # "against 2026...-ab12 (auto): 4 metrics compared, 1 flagged"
    rows: tuple[RegressionRow, ...]


def regression_view(report: Mapping[str, Any]) -> RegressionView | None:
    r = _map(report.get("regression"))
    if not r:
        return None
    if not r.get("baseline"):
        return RegressionView(f"no baseline: {r.get('why_none') or 'none found'}", ())
    checks = [_map(c) for c in _list(r.get("checks"))]
    rows = tuple(
        RegressionRow(
            metric=str(c.get("metric")),
            baseline=significant(c.get("baseline"), 4),
            current=significant(c.get("current"), 4),
            effect=f"{significant(c.get('effect'))} (minimum {significant(c.get('min_effect'))})",
            p_value=significant(c.get("p_value")),
            outcome="flagged" if c.get("flagged") else "not flagged",
            noise=str(c.get("noise") or ""),
            method=str(c.get("method") or "") + (f"; {c['detail']}" if c.get("detail") else ""),
        )
        for c in checks
    )
    flagged = sum(1 for row in rows if row.outcome == "flagged")
    return RegressionView(
        f"against {r.get('baseline')} ({r.get('how')}): {len(rows)} metric(s) compared, "
        f"{flagged} flagged",
        rows,
    )
