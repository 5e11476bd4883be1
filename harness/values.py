"""Reading values out of a report.json that may be partial (a crashed run) or old: one
set of readers for every renderer, each saying what it does with an absent value."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["as_count", "as_list", "as_map", "as_number", "count_or_zero"]


def as_map(value: Any) -> Mapping[str, Any]:
    """A mapping, or an empty one."""
    return value if isinstance(value, Mapping) else {}


def as_list(value: Any) -> list[Any]:
    """A list (from a list or tuple), or an empty one."""
    return list(value) if isinstance(value, list | tuple) else []


def as_number(value: Any) -> float | None:
    """A finite float, or None for anything absent, non-numeric (bool included) or not
    finite."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def as_count(value: Any) -> int | None:
    """A count: a finite number >= 0 as an int, or None (callers that add counts up use
    ``as_count(v) or 0``)."""
    number = as_number(value)
    return int(number) if number is not None and number >= 0 else None


def count_or_zero(value: Any) -> int:
    """:func:`as_count`, with an absent or unreadable count as 0 (for sums and tables)."""
    return as_count(value) or 0
