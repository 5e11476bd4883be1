"""Open-model pacing: the fixed schedule of intended send times. Pure maths, no clocks.

The run has one global schedule: request ``i`` is intended to leave at ``i / rate_rps``
seconds after the start. User ``u`` of ``users`` owns the requests with
``i % users == u``, so each user sends at ``rate_rps / users`` and the users are evenly
staggered. A request's latency is measured from its intended send time: when the
service stalls, the requests that should have left during the stall are charged for
the wait (no coordinated omission), the way wrk2 and HdrHistogram's
``record_corrected_value`` reason.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

__all__ = [
    "Segment",
    "intended_offsets_s",
    "planned_request_count",
    "schedule_count",
    "schedule_offset_s",
    "schedule_offsets_s",
    "share_of",
    "value_at",
]

# One stretch of a load shape: (duration_s, value at its start, value at its end); the value
# is a rate (open model) or a number of users (closed), linear in between. A duration of 0
# is a step: no time, no requests, the next stretch starts from its end value.
Segment = tuple[float, float, float]


def planned_request_count(rate_rps: float, duration_s: float, max_requests: int | None) -> int:
    """How many requests the whole open-model schedule holds: those intended before
    ``duration_s``, capped at ``max_requests``."""
    if rate_rps <= 0:
        raise ValueError(f"rate_rps must be > 0 for a schedule, got {rate_rps!r}")
    # i / rate < duration  <=>  i < duration * rate; ceil counts i = 0 .. ceil(d*r) - 1
    count = max(0, math.ceil(duration_s * rate_rps - 1e-9))
    return count if max_requests is None else min(count, max_requests)


def intended_offsets_s(
    user_index: int,
    users: int,
    rate_rps: float,
    duration_s: float,
    max_requests: int | None = None,
) -> Iterator[float]:
    """Intended send times (seconds after start) of the requests user ``user_index`` owns.

    Offsets are computed from the index, never accumulated, so rounding cannot drift.
    """
    if not 0 <= user_index < users:
        raise ValueError(f"user_index {user_index!r} must be in 0..{users - 1}")
    total = planned_request_count(rate_rps, duration_s, max_requests)
    for i in range(user_index, total, users):
        yield i / rate_rps


def share_of(total: int, parts: int, index: int) -> int:
    """Part ``index`` of ``total`` split into ``parts`` near-equal integers summing to total."""
    if not 0 <= index < parts:
        raise ValueError(f"index {index!r} must be in 0..{parts - 1}")
    base, extra = divmod(total, parts)
    return base + (1 if index < extra else 0)


def schedule_count(segments: Sequence[Segment], max_requests: int | None = None) -> int:
    """Requests a staged open-model schedule holds: the area under its rate, capped."""
    area = sum(d * (r0 + r1) / 2 for d, r0, r1 in segments)
    count = max(0, math.ceil(area - 1e-9))
    return count if max_requests is None else min(count, max_requests)


def schedule_offset_s(segments: Sequence[Segment], i: int) -> float:
    """When request ``i`` is due: the time at which the area under the rate reaches ``i``.

    Within a stretch from ``r0`` to ``r1`` over ``d`` the area after ``t`` s is
    ``r0 t + (r1 - r0) t^2 / (2 d)``; its root is taken in the cancellation-free form.
    """
    start_s = 0.0
    before = 0.0
    for d, r0, r1 in segments:
        area = d * (r0 + r1) / 2
        if d > 0 and i < before + area - 1e-9:
            m = i - before
            if m <= 0:
                return start_s
            if r1 == r0:
                return start_s + m / r0
            a = (r1 - r0) / (2 * d)
            return start_s + 2 * m / (r0 + math.sqrt(r0 * r0 + 4 * a * m))
        start_s += d
        before += area
    raise ValueError(f"request {i} is beyond the schedule ({schedule_count(segments)} requests)")


def schedule_offsets_s(
    segments: Sequence[Segment], user_index: int, users: int, max_requests: int | None = None
) -> Iterator[float]:
    """Intended send times of the requests user ``user_index`` of ``users`` owns (every
    ``users``-th, as :func:`intended_offsets_s`), on a staged schedule."""
    if not 0 <= user_index < users:
        raise ValueError(f"user_index {user_index!r} must be in 0..{users - 1}")
    for i in range(user_index, schedule_count(segments, max_requests), users):
        yield schedule_offset_s(segments, i)


def value_at(segments: Sequence[Segment], t_s: float) -> float:
    """The shape's value (rate or users) ``t_s`` seconds in; past its end, 0."""
    start_s = 0.0
    for d, v0, v1 in segments:
        if d > 0 and t_s < start_s + d:
            return v0 + (v1 - v0) * max(0.0, t_s - start_s) / d
        start_s += d
    return 0.0
