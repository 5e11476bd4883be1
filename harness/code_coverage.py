"""Code coverage of the system under test, from the report its tooling writes: coverage.py
JSON, Cobertura XML or LCOV, in any language. Pure but for reading the file.

Every format becomes the same figures (:class:`CoverageFigures`): per file, the lines and
branches measured and covered, and the missed lines; totals, per package (the file's
directory) and per module. A coverage figure is a count over the code, not a sample: the
gates compare it with the threshold as it is. A file that cannot be read or parsed is a
:class:`harness.errors.ConfigError` naming the file, where it went wrong and what formats
are understood (exit 2 before anything starts, when the file is given up front).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET  # noqa: S405 - the project's own coverage report
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from harness.decision import Decision
from harness.errors import ConfigError

__all__ = [
    "CategoryCoverage",
    "CoverageFigures",
    "CoverageOutcome",
    "FileCoverage",
    "TestCoverage",
    "coverage_gate",
    "per_test_coverage",
    "read_coverage_report",
]

FORMATS = "coverage.py JSON, Cobertura XML or LCOV (.info)"


@dataclass(frozen=True, slots=True)
class FileCoverage:
    path: str
    lines: int
    lines_covered: int
    branches: int
    branches_covered: int
    missing: tuple[int, ...] = ()


def _pct(k: int, n: int) -> float | None:
    return 100.0 * k / n if n else None


@dataclass(frozen=True, slots=True)
class CoverageFigures:
    """One coverage report: its files, and the totals the gates judge."""

    source: str  # where the figures came from
    files: tuple[FileCoverage, ...]

    @property
    def lines(self) -> tuple[int, int]:
        return sum(f.lines_covered for f in self.files), sum(f.lines for f in self.files)

    @property
    def branches(self) -> tuple[int, int]:
        return sum(f.branches_covered for f in self.files), sum(f.branches for f in self.files)

    def percent(self, basis: str) -> float | None:
        k, n = self.branches if basis == "branches" else self.lines
        return _pct(k, n)

    def packages(self) -> list[tuple[str, int, int, int, int]]:
        """(package, lines covered, lines, branches covered, branches) per directory."""
        out: dict[str, list[int]] = {}
        for f in self.files:
            key = str(PurePosixPath(f.path).parent)
            row = out.setdefault(key, [0, 0, 0, 0])
            row[0] += f.lines_covered
            row[1] += f.lines
            row[2] += f.branches_covered
            row[3] += f.branches
        return [(k, *v) for k, v in sorted(out.items())]  # type: ignore[misc]

    def to_json(self, worst: int = 10) -> dict[str, object]:
        (lk, ln), (bk, bn) = self.lines, self.branches

        def share(f: FileCoverage) -> float:
            pct = _pct(f.lines_covered, f.lines)
            return 100.0 if pct is None else pct  # a file without lines misses nothing

        files = sorted(self.files, key=lambda f: (share(f), f.path))
        return {
            "source": self.source,
            "lines": {"covered": lk, "total": ln, "percent": _pct(lk, ln)},
            "branches": {"covered": bk, "total": bn, "percent": _pct(bk, bn)},
            "packages": [
                {
                    "package": p,
                    "lines_covered": a,
                    "lines": b,
                    "branches_covered": c,
                    "branches": d,
                    "percent": _pct(a, b),
                }
                for p, a, b, c, d in self.packages()
            ],  # fmt: skip
            "modules": [
                {
                    "path": f.path,
                    "lines_covered": f.lines_covered,
                    "lines": f.lines,
                    "branches_covered": f.branches_covered,
                    "branches": f.branches,
                    "percent": _pct(f.lines_covered, f.lines),
                }
                for f in sorted(self.files, key=lambda f: f.path)
            ],  # fmt: skip
            # the worst modules with the lines they missed, for the HTML report
            "worst": [
                {
                    "path": f.path,
                    "percent": _pct(f.lines_covered, f.lines),
                    "missing": _ranges(f.missing),
                }
                for f in files[:worst]
                if f.missing
            ],  # fmt: skip
        }


def _ranges(lines: Sequence[int]) -> str:
    """``[1, 2, 3, 7, 9, 10]`` -> ``"1-3, 7, 9-10"``."""
    out: list[str] = []
    ordered = sorted(set(lines))
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        out.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ", ".join(out)


def _bad(path: Path, why: str) -> ConfigError:
    return ConfigError(f"coverage report {path}: {why}; expected {FORMATS}")


def _from_coverage_json(path: Path, data: Mapping[str, Any]) -> CoverageFigures:
    files = []
    for name, body in dict(data.get("files") or {}).items():
        try:
            s = body["summary"]
            files.append(
                FileCoverage(
                    str(name), int(s["num_statements"]), int(s["covered_lines"]),
                    int(s.get("num_branches", 0)), int(s.get("covered_branches", 0)),
                    tuple(int(x) for x in body.get("missing_lines", ())),
                )
            )  # fmt: skip
        except (KeyError, TypeError, ValueError) as exc:
            raise _bad(path, f"file {name!r} has no readable summary ({exc})") from None
    return CoverageFigures(f"coverage.py JSON: {path}", tuple(files))


def _from_cobertura(path: Path, root: ET.Element) -> CoverageFigures:
    files: dict[str, list[Any]] = {}
    for cls in root.iter("class"):
        name = cls.get("filename")
        if not name:
            raise _bad(path, "a <class> has no filename attribute")
        row = files.setdefault(name, [set(), set(), 0, 0])
        for line in cls.iter("line"):
            try:
                number, hits = int(line.get("number", "")), int(line.get("hits", ""))
            except ValueError:
                raise _bad(path, f"a <line> of {name} has no number or hits") from None
            (row[0] if hits else row[1]).add(number)
            condition = line.get("condition-coverage")  # "50% (1/2)"
            if line.get("branch") == "true" and condition and "(" in condition:
                covered, total = condition.split("(", 1)[1].rstrip(")").split("/")
                row[2] += int(total)
                row[3] += int(covered)
    out = []
    for name, (hit, missed, branches, covered) in files.items():
        missed -= hit
        out.append(
            FileCoverage(name, len(hit) + len(missed), len(hit), branches, covered,
                         tuple(sorted(missed)))
        )  # fmt: skip
    return CoverageFigures(f"Cobertura XML: {path}", tuple(out))


def _from_lcov(path: Path, text: str) -> CoverageFigures:
    out: list[FileCoverage] = []
    name: str | None = None
    hits: dict[int, int] = {}
    branches = covered = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        key, _, value = line.partition(":")
        try:
            if key == "SF":
                name, hits, branches, covered = value, {}, 0, 0
            elif key == "DA" and name is not None:
                at, count = value.split(",")[:2]
                hits[int(at)] = hits.get(int(at), 0) + int(count)
            elif key == "BRDA" and name is not None:
                taken = value.split(",")[3]
                branches += 1
                covered += taken not in ("-", "0")
            elif line == "end_of_record" and name is not None:
                missed = tuple(sorted(a for a, c in hits.items() if c == 0))
                out.append(
                    FileCoverage(name, len(hits), len(hits) - len(missed), branches, covered,
                                 missed)
                )  # fmt: skip
                name = None
        except (ValueError, IndexError):
            raise _bad(path, f"line {number} {raw!r} is not LCOV") from None
    if name is not None:
        raise _bad(path, f"the record of {name} has no end_of_record")
    return CoverageFigures(f"LCOV: {path}", tuple(out))


def read_coverage_report(path: Path) -> CoverageFigures:
    """The figures of a coverage.py JSON, Cobertura XML or LCOV report (by its content)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"coverage report {path}: cannot be read ({exc.strerror or exc})"
        ) from None
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise _bad(path, f"not valid JSON ({exc})") from None
        if not isinstance(data, dict) or "files" not in data:
            raise _bad(path, "JSON without the coverage.py 'files' table")
        figures = _from_coverage_json(path, data)
    elif stripped.startswith("<"):
        try:
            root = ET.fromstring(text)  # noqa: S314 - the project's own coverage report
        except ET.ParseError as exc:
            raise _bad(path, f"not well-formed XML ({exc})") from None
        if root.tag != "coverage":
            raise _bad(path, f"XML whose root is <{root.tag}>, not Cobertura's <coverage>")
        figures = _from_cobertura(path, root)
    elif any(line.startswith("SF:") for line in text.splitlines()):
        figures = _from_lcov(path, text)
    else:
        raise _bad(path, "neither JSON, XML nor LCOV records (no SF: line)")
    if not figures.files:
        raise _bad(path, "it lists no file")
    return figures


def coverage_gate(
    name: str, figures: CoverageFigures | None, threshold: float, basis: str, why_none: str = ""
) -> Decision:
    """``coverage_min`` (or a category's): the share of lines (or branches) covered, a count
    over the code (no interval), against the minimum percentage."""
    if figures is None:
        return Decision(name, "insufficient", None, threshold, f"no coverage measured{why_none}")
    k, n = figures.branches if basis == "branches" else figures.lines
    pct = _pct(k, n)
    if pct is None:
        return Decision(name, "insufficient", None, threshold, f"no {basis} in {figures.source}")
    detail = f"{k}/{n} {basis} covered ({pct:.2f}%, {figures.source}) against >= {threshold:g}%"
    if pct >= threshold:
        return Decision(name, "pass", pct, threshold, detail, n, pct, f"{basis} covered")
    return Decision(name, "fail", pct, threshold, detail, n, pct, f"{basis} covered")


@dataclass(frozen=True, slots=True)
class CategoryCoverage:
    name: str
    markexpr: str
    figures: CoverageFigures | None
    tests: int  # the tests that ran in it
    why_none: str = ""


@dataclass(frozen=True, slots=True)
class TestCoverage:
    """The target's lines one test ran (its coverage context ``category|test``)."""

    category: str
    test: str
    lines: int
    only: int  # lines no other test ran


def per_test_coverage(data: Any) -> tuple[TestCoverage, ...]:
    """Each test's lines from coverage.py's data (a ``CoverageData`` whose contexts are
    ``category|test``), most lines first; a test that ran none of the target is absent from
    the data and so from here."""
    lines: dict[str, set[tuple[str, int]]] = {}
    for filename in data.measured_files():
        for lineno, contexts in (data.contexts_by_lineno(filename) or {}).items():
            for context in contexts:
                if "|" in context:
                    lines.setdefault(context, set()).add((filename, lineno))
    seen: dict[tuple[str, int], int] = {}
    for covered in lines.values():
        for key in covered:
            seen[key] = seen.get(key, 0) + 1
    out = []
    for context, covered in lines.items():
        category, _, test = context.partition("|")
        only = sum(1 for key in covered if seen[key] == 1)
        out.append(TestCoverage(category, test, len(covered), only))
    return tuple(sorted(out, key=lambda t: (-t.lines, t.test)))


@dataclass(frozen=True, slots=True)
class CoverageOutcome:
    """The target's code coverage overall, per category and per test, or why there is
    none."""

    basis: str
    how: str  # "measured: ..." / "read: ..." / why not
    overall: CoverageFigures | None
    categories: tuple[CategoryCoverage, ...] = ()
    tests: tuple[TestCoverage, ...] = ()  # measured with a context per test only

    def to_json(self) -> dict[str, object]:
        return {
            "basis": self.basis,
            "how": self.how,
            "overall": self.overall.to_json() if self.overall else None,
            "categories": [
                {
                    "name": c.name,
                    "markexpr": c.markexpr,
                    "tests": c.tests,
                    "why_none": c.why_none or None,
                    "lines": c.figures.to_json()["lines"] if c.figures else None,
                    "branches": c.figures.to_json()["branches"] if c.figures else None,
                }
                for c in self.categories
            ],
            "tests": [
                {"category": t.category, "test": t.test, "lines": t.lines, "only": t.only}
                for t in self.tests
            ],
        }
