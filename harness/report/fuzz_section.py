"""The report's section on API fuzzing, read from report.json's ``fuzz``
(:mod:`harness.phases.fuzz_phase` wrote it): display strings for every format."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.values import as_list as _list
from harness.values import as_map as _map

__all__ = ["FuzzView", "fuzz_view"]

_SHOWN = 30  # failures listed; report.json keeps them all


@dataclass(frozen=True, slots=True)
class FuzzView:
    headline: str  # "731 cases over 17 operations: 0 server errors, 0 contract violations"
    how: str  # "schemathesis 4.32.5, seed 0, completed"
    operations: tuple[tuple[str, int, str, str], ...]  # name, cases, failing checks, errors
    # operation, check (code), title, cases, message, curl
    failures: tuple[tuple[str, str, str, int, str, str], ...]
    untested: tuple[tuple[str, str], ...]


def fuzz_view(report: Mapping[str, Any]) -> FuzzView | None:
    f = _map(report.get("fuzz"))
    if not f:
        return None
    how = f"{f.get('tool')}, seed {f.get('seed')}, {f.get('stop_reason') or 'not finished'}"
    if f.get("why_none"):
        return FuzzView(f"no result: {f['why_none']}", how, (), (), ())
    ops = _map(f.get("operations"))
    headline = (
        f"{f.get('cases')} cases over {len(ops)} operations: {f.get('server_errors')} with "
        f"server errors, {f.get('violations')} with contract violations"
    )
    operations = tuple(
        (
            str(name), int(_map(o).get("cases") or 0),
            ", ".join(f"{c} x{n}" for c, n in _map(_map(o).get("failing")).items()) or "-",
            "; ".join(map(str, _list(_map(o).get("errors")))) or "-",
        )
        for name, o in ops.items()
    )  # fmt: skip
    failures = tuple(
        (
            str(x.get("operation")), f"{x.get('check')} ({x.get('code')})", str(x.get("title")),
            int(x.get("cases") or 0), str(x.get("message")),
            str(_map(x.get("reproduce")).get("curl") or ""),
        )
        for x in map(_map, _list(f.get("failures"))[:_SHOWN])
    )  # fmt: skip
    untested = tuple((str(k), str(v)) for k, v in _map(f.get("untested")).items())
    return FuzzView(headline, how, operations, failures, untested)
