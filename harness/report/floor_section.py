"""The report's generator-floor section, read from report.json's ``load.floor`` (the floor
measured before that load) or ``floor`` (``load --calibrate``: the floor alone): display
strings for every format, the target's percentile beside the floor's, flagged when at it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.floor import AT_FLOOR, FLOOR_PERCENTILES
from harness.report.views import MISSING, significant
from harness.values import as_map as _map
from harness.values import as_number as _num

__all__ = ["FloorRow", "FloorView", "floor_view"]


@dataclass(frozen=True, slots=True)
class FloorRow:
    percentile: str  # "p99"
    target: str  # "1.23" ms, or "-" without a load
    floor: str  # "0.456 [0.41, 0.50]" ms, with its 95% order-statistic bounds
    flag: str  # AT_FLOOR, "clear of the floor", or "-"


@dataclass(frozen=True, slots=True)
class FloorView:
    headline: str  # "2,000 requests against the null server at 1000 req/s intended, 10 users"
    rule: str
    rows: tuple[FloorRow, ...]
    flagged: tuple[str, ...]  # the target's percentiles at the floor


def floor_view(report: Mapping[str, Any]) -> FloorView | None:
    load = _map(report.get("load"))
    floor = _map(load.get("floor")) or _map(report.get("floor"))
    if not floor:
        return None
    target = _map(load.get("latency_ms")) if load.get("floor") else {}
    flags = _map(floor.get("at_floor"))
    bounds = _map(floor.get("percentile_bounds_ms"))
    rows = []
    for name in FLOOR_PERCENTILES:
        b = _map(bounds.get(name))
        shown = significant(b.get("estimate"))
        low, high = _num(b.get("low")), _num(b.get("high"))
        if shown != MISSING and low is not None and high is not None:
            shown += f" [{significant(low)}, {significant(high)}]"
        flag = MISSING
        if name in flags:
            flag = AT_FLOOR if flags[name] is True else "clear of the floor"
        rows.append(FloorRow(name, significant(target.get(name)), shown, flag))
    rate = _num(floor.get("intended_rate_rps")) or 0
    how = f"{significant(rate)} req/s intended" if rate > 0 else "closed model, as fast as it goes"
    workers = _map(floor.get("workers"))
    expected, finished = _num(workers.get("expected")), _num(workers.get("finished"))
    processes = f"{floor.get('processes')} process(es)"
    if expected is not None and finished is not None and finished < expected:
        # ``processes`` counts the workers whose report arrived
        processes = f"{expected:g} worker processes, {finished:g} of {expected:g} finished"
    headline = (
        f"{floor.get('requests')} requests ({floor.get('failures')} failed) from the same "
        f"client ({how}, {floor.get('users')} users, {processes}) "
        f"against {floor.get('server')}, {significant(floor.get('duration_s'))} s"
    )
    flagged = tuple(str(k) for k, v in flags.items() if v is True)
    return FloorView(headline, str(floor.get("rule") or ""), tuple(rows), flagged)
