"""The report's section on the target's code coverage, read from report.json's ``coverage``
(:mod:`harness.phases.coverage_phase` wrote it): display strings for every format."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.report.views import significant
from harness.values import as_list as _list
from harness.values import as_map as _map

__all__ = ["CoverageRow", "CoverageView", "coverage_view"]


@dataclass(frozen=True, slots=True)
class CoverageRow:
    name: str  # a category, a package or a module
    lines: str  # "1594/2506 (63.6%)"
    branches: str
    note: str = ""  # a category's marker expression, or why it was not measured


@dataclass(frozen=True, slots=True)
class CoverageView:
    headline: str  # "1594/2506 lines (63.6%), 209/490 branches (42.7%)"
    how: str
    categories: tuple[CoverageRow, ...]
    packages: tuple[CoverageRow, ...]
    worst: tuple[tuple[str, str, str], ...]  # (module, percent, missed lines)
    # (category, test, lines it ran, lines only it ran), most lines first; with contexts
    tests: tuple[tuple[str, str, int, int], ...] = ()


def _fraction(block: Mapping[str, Any]) -> str:
    if not block or not block.get("total"):
        return "-"
    return f"{block.get('covered')}/{block.get('total')} ({significant(block.get('percent'))}%)"


def coverage_view(report: Mapping[str, Any]) -> CoverageView | None:
    c = _map(report.get("coverage"))
    if not c:
        return None
    overall = _map(c.get("overall"))
    headline = (
        f"{_fraction(_map(overall.get('lines')))} lines, "
        f"{_fraction(_map(overall.get('branches')))} branches covered"
        if overall
        else "not measured"
    )
    categories = tuple(
        CoverageRow(
            str(k.get("name")), _fraction(_map(k.get("lines"))), _fraction(_map(k.get("branches"))),
            str(k.get("why_none") or f"marker expression {k.get('markexpr')!r}, "
                f"{k.get('tests')} test(s)"),
        )
        for k in map(_map, _list(c.get("categories")))
    )  # fmt: skip
    packages = tuple(
        CoverageRow(
            str(p.get("package")),
            _fraction({"covered": p.get("lines_covered"), "total": p.get("lines"),
                       "percent": p.get("percent")}),
            _fraction({"covered": p.get("branches_covered"), "total": p.get("branches"),
                       "percent": (100 * p["branches_covered"] / p["branches"])
                       if p.get("branches") else None}),
        )
        for p in map(_map, _list(overall.get("packages")))
    )  # fmt: skip
    worst = tuple(
        (str(w.get("path")), significant(w.get("percent")), str(w.get("missing") or ""))
        for w in map(_map, _list(overall.get("worst")))
    )
    tests = tuple(
        (str(t.get("category")), str(t.get("test")), int(t.get("lines") or 0),
         int(t.get("only") or 0))
        for t in map(_map, _list(c.get("tests")))
    )  # fmt: skip
    return CoverageView(headline, str(c.get("how") or ""), categories, packages, worst, tests)
