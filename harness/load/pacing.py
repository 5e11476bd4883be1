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
from collections.abc import Iterator

__all__ = ["intended_offsets_s", "planned_request_count", "share_of"]


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
