"""The baseline a run is compared with, and the comparison (:mod:`harness.regression`).

``--baseline RUN`` names a run (its id under the report directory, or the path of its run
directory); ``auto`` (the default) takes the newest run in ``history.jsonl`` that passed
and is comparable: the same command, profile, kind of target, target and test selection
(:func:`comparable_key`); ``none`` compares nothing. A named baseline that does not exist,
or whose report.json is not of this schema, is a usage error before anything starts.

Each run's merged latency histogram is also kept in its run directory (``load.hdr``), read
here whole: the comparison never samples it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.history import comparable_key, load_shape
from harness.regression import (
    Check,
    latency_check,
    pass_rate_check,
    recovery_check,
    throughput_check,
)
from harness.report.files import SCHEMA
from harness.stats import PercentileEstimate
from harness.values import as_list, as_map, as_number

__all__ = [
    "Baseline",
    "RegressionResult",
    "compare_reports",
    "comparable_key",
    "find_baseline",
    "histogram_counts",
]

HISTOGRAM_FILE = "load.hdr"


@dataclass(frozen=True, slots=True)
class Baseline:
    run_id: str
    run_dir: Path
    report: Mapping[str, Any]
    how: str  # "named with --baseline" / "auto: the newest comparable passing run"


@dataclass(frozen=True, slots=True)
class RegressionResult:
    """The comparison with a baseline, or why there was none (``baseline_run`` None)."""

    baseline_run: str | None
    how: str
    checks: tuple[Check, ...] = ()
    required: bool = False  # require_baseline: no baseline is then insufficient
    why_none: str = ""
    settings: Mapping[str, float] = field(default_factory=dict)

    @property
    def flagged(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.flagged)

    def to_json(self) -> dict[str, object]:
        return {
            "baseline": self.baseline_run,
            "how": self.how,
            "why_none": self.why_none or None,
            "required": self.required,
            "flagged": len(self.flagged),
            "checks": [c.to_json() for c in self.checks],
            "min_effects": dict(self.settings),
        }


def _read(run_dir: Path, where: str) -> Mapping[str, Any]:
    path = run_dir / "report.json"
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{where}: {path} cannot be read ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise UsageError(f"{where}: {path} is not JSON ({exc})") from None
    if not isinstance(report, dict) or report.get("schema") != SCHEMA:
        found = report.get("schema") if isinstance(report, dict) else type(report).__name__
        raise UsageError(f"{where}: {path} has schema {found!r}; a baseline needs {SCHEMA!r}")
    return report


def find_baseline(
    spec: str, root: Path, key: str, history: Sequence[Mapping[str, Any]], shape: str = ""
) -> Baseline | None:
    """The baseline ``spec`` names (a run id, a run directory, ``auto`` or ``none``); for
    ``auto``, the newest passing run of the same ``key`` whose load had the same ``shape``
    (:func:`harness.history.load_shape`)."""
    if spec == "none":
        return None
    if spec != "auto":
        where = f"--baseline {spec!r}"
        for candidate in (Path(spec), root / spec):
            if candidate.is_dir():
                report = _read(candidate, where)
                return Baseline(str(report.get("run_id")), candidate, report, "named")
        raise UsageError(
            f"{where}: no such run (neither a run directory nor a run id under {root}); "
            "give a run id, a run directory, auto or none"
        )
    for line in reversed(history):
        if line.get("verdict") != "pass" or line.get("comparable") != key:
            continue
        if "load_shape" in line and line["load_shape"] != shape:
            continue  # another load (its rate, users or requests): no baseline of this one
        run_dir = root / str(line.get("run_id"))
        if (run_dir / "report.json").is_file():
            try:
                report = _read(run_dir, "the history's baseline")
            except UsageError:
                continue  # an unreadable old run is no baseline; an older one may be
            if "load_shape" not in line and load_shape(report) != shape:
                continue  # an older history line, without the shape: the report says it
            return Baseline(str(line.get("run_id")), run_dir, report, "auto")
    return None


def histogram_counts(run_dir: Path, report: Mapping[str, Any]) -> list[tuple[float, int]]:
    """The run's whole latency histogram as (ms, count), from load.hdr or report.json."""
    from harness.load.histogram import counts_ms
    from harness.report.compare import histogram_counts as report_counts

    path = run_dir / HISTOGRAM_FILE
    encoded = path.read_text(encoding="utf-8").strip() if path.is_file() else ""
    return counts_ms(encoded) if encoded else report_counts(report)


def _p95(report: Mapping[str, Any]) -> PercentileEstimate:
    b = as_map(as_map(as_map(report.get("load")).get("percentile_bounds_ms")).get("p95"))
    return PercentileEstimate(
        0.95, int(as_number(b.get("n")) or 0), float(as_number(b.get("estimate")) or 0.0),
        as_number(b.get("low")), as_number(b.get("high")),
    )  # fmt: skip


def _per_second(report: Mapping[str, Any]) -> list[int]:
    """Requests per second of the load, without its first and last (partial) seconds."""
    points = [as_map(p) for p in as_list(as_map(report.get("load")).get("timeline"))]
    counts = [int(as_number(p.get("requests")) or 0) for p in points]
    return counts[1:-1]


def _pooled(report: Mapping[str, Any]) -> tuple[int, int]:
    tests = [as_map(t) for t in as_list(report.get("tests"))]
    return (
        sum(int(as_number(t.get("passed")) or 0) for t in tests),
        sum(int(as_number(t.get("n")) or 0) for t in tests),
    )


def _recoveries(report: Mapping[str, Any]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for e in map(as_map, as_list(report.get("chaos"))):
        times = [as_number(as_map(i).get("recover_s")) for i in as_list(e.get("injections"))]
        kept = [t for t in times if t is not None]
        if kept:
            out[str(e.get("name"))] = kept
    return out


def compare_reports(
    current: Mapping[str, Any],
    current_dir: Path,
    baseline: Baseline,
    settings: Mapping[str, float],
    earlier: Sequence[Mapping[str, Any]] = (),
) -> tuple[Check, ...]:
    """Every metric both runs measured, compared (see :mod:`harness.regression`);
    ``earlier``: the history's comparable runs before this one (their between-run noise)."""
    checks: list[Check] = []
    base_counts = histogram_counts(baseline.run_dir, baseline.report)
    cur_counts = histogram_counts(current_dir, current)
    earlier_p95 = [v for e in earlier if (v := as_number(e.get("load_p95_ms"))) is not None]
    earlier_rps = [v for e in earlier if (v := as_number(e.get("load_rps"))) is not None]
    if base_counts and cur_counts:
        checks += latency_check(
            base_counts, cur_counts, _p95(baseline.report), _p95(current),
            settings["latency_min_effect_ms"], earlier_p95,
        )  # fmt: skip
        base_s, cur_s = _per_second(baseline.report), _per_second(current)
        if base_s and cur_s:
            checks.append(
                throughput_check(base_s, cur_s, settings["throughput_min_effect_pct"], earlier_rps)
            )
    (k0, n0), (k1, n1) = _pooled(baseline.report), _pooled(current)
    if n0 and n1:
        checks.append(pass_rate_check(k0, n0, k1, n1, settings["pass_rate_min_effect"]))
    base_rec, cur_rec = _recoveries(baseline.report), _recoveries(current)
    for name in sorted(set(base_rec) & set(cur_rec)):
        checks.append(
            recovery_check(name, base_rec[name], cur_rec[name], settings["recovery_min_effect_s"])
        )
    return tuple(checks)
