"""The report's section on API coverage, read from report.json's ``api_coverage``
(:mod:`harness.phases.api_coverage_phase` wrote it): display strings for every format."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.report.views import significant
from harness.values import as_list as _list
from harness.values import as_map as _map

__all__ = ["ApiCoverageRow", "ApiCoverageView", "api_coverage_view"]


@dataclass(frozen=True, slots=True)
class ApiCoverageRow:
    operation: str  # "GET /api/v0/pods/{pod_id}"
    requests: int
    statuses: str  # "200 x12, 404 x4"
    missed: str  # the documented responses never exercised: "4XX"
    undocumented: str  # statuses the document does not describe: "502, 503"


@dataclass(frozen=True, slots=True)
class ApiCoverageView:
    headline: str  # "14/17 operations (82.4%), 19/34 documented responses (55.9%) exercised"
    how: str
    rows: tuple[ApiCoverageRow, ...]  # never exercised first
    never: tuple[str, ...]  # the operations no request got a documented answer from
    unmatched: tuple[tuple[str, int], ...]  # requests the document does not describe


def _share(block: Mapping[str, Any], what: str) -> str:
    if not block.get("total"):
        return f"no {what}"
    return (
        f"{block.get('covered')}/{block.get('total')} {what} ({significant(block.get('percent'))}%)"
    )


def _exercised(o: Mapping[str, Any]) -> bool:
    # exercised_any: a documented answer; older reports counted any request
    return bool(o.get("exercised_any", o.get("requests")))


def api_coverage_view(report: Mapping[str, Any]) -> ApiCoverageView | None:
    a = _map(report.get("api_coverage"))
    if not a:
        return None
    if a.get("why_none"):
        return ApiCoverageView("not measured", str(a["why_none"]), (), (), ())
    headline = (
        f"{_share(_map(a.get('operations')), 'operations')}, "
        f"{_share(_map(a.get('responses')), 'documented responses')} exercised"
    )
    how = (
        f"{a.get('requests')} requests of the tests phase, recorded on their way to the target "
        f"and matched to the OpenAPI document {a.get('source')}"
        + (f"; {a['hop_errors']} could not reach the target" if a.get("hop_errors") else "")
        + (f"; incomplete: {a['broken']}" if a.get("broken") else "")
    )
    ops = [_map(o) for o in _list(a.get("by_operation"))]
    rows = tuple(
        ApiCoverageRow(
            f"{o.get('method')} {o.get('path')}",
            int(o.get("requests") or 0),
            ", ".join(f"{k} x{v}" for k, v in _map(o.get("statuses")).items()) or "-",
            ", ".join(map(str, _list(o.get("missed")))) or "-",
            ", ".join(map(str, _list(o.get("undocumented")))) or "-",
        )
        for o in sorted(ops, key=_exercised)
    )
    never = tuple(f"{o.get('method')} {o.get('path')}" for o in ops if not _exercised(o))
    unmatched = tuple((str(k), int(v)) for k, v in _map(a.get("unmatched")).items())
    return ApiCoverageView(headline, how, rows, never, unmatched)
