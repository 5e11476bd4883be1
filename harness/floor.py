"""The load generator's noise floor, and which of the target's percentiles sit on it. Pure.

The floor is what the same client, users and rate measure against a null server that
answers at once (:mod:`harness.load.null_server`): the client's own time plus a loopback
round trip. Any latency the load measures includes that much, so a percentile of the
target's that is within :data:`FLOOR_FACTOR` of the floor's same percentile says more about
the generator than the target, and is flagged as such.

Latency gates over a flagged percentile (:func:`floor_verdict`): a **pass stands** (the
client only ever adds time: an upper bound on the measured percentile bounds the target's
own from above as well), a **fail becomes insufficient** (the excess over the threshold may
be the generator's, so it is no evidence against the target), and the detail says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from harness.stats import PercentileEstimate

__all__ = [
    "AT_FLOOR",
    "FLOOR_FACTOR",
    "FLOOR_PERCENTILES",
    "GeneratorFloor",
    "at_floor",
    "floor_verdict",
]

# The rule: within 2x of the floor, a percentile is the generator's.
FLOOR_FACTOR = 2.0
FLOOR_PERCENTILES = ("p50", "p95", "p99")
AT_FLOOR = "at the generator's floor: not a property of the target"


def at_floor(target_ms: float, floor_ms: float, factor: float = FLOOR_FACTOR) -> bool:
    """True when the target's percentile is at most ``factor`` x the floor's (both point
    estimates, ms). A floor of 0 (nothing measured) flags nothing."""
    return floor_ms > 0 and target_ms <= factor * floor_ms


@dataclass(frozen=True, slots=True)
class GeneratorFloor:
    """The floor: p50/p95/p99 (with order-statistic bounds) of the calibration run, and how
    it was run (the same client, users and rate as the load, against the null server)."""

    percentiles: Mapping[str, PercentileEstimate]  # "p50", "p95", "p99"
    requests: int
    failures: int
    duration_s: float
    rps: float
    intended_rate_rps: float
    users: int
    processes: int
    model: str
    server: str  # what answered: "null server (uvloop) on 127.0.0.1:PORT"
    max_ms: float = 0.0
    # with Locust workers, how many were to take part (``processes`` sent their report): a
    # worker that died during the floor leaves it measured by the others, and says so
    workers_expected: int = 0

    @property
    def workers_note(self) -> str:
        """ ", 1 of 2 workers finished" when a worker died during the floor, else ""."""
        if self.workers_expected and self.processes < self.workers_expected:
            return f", {self.processes} of {self.workers_expected} workers finished"
        return ""

    def estimate_ms(self, name: str) -> float:
        return self.percentiles[name].estimate_ms

    def flags(self, target_ms: Mapping[str, float]) -> dict[str, bool]:
        """For each of p50/p95/p99 the target has: is it at the floor?"""
        return {
            name: at_floor(float(target_ms[name]), self.estimate_ms(name))
            for name in FLOOR_PERCENTILES
            if name in target_ms and name in self.percentiles
        }

    def to_json(self) -> dict[str, object]:
        """The report's ``floor`` object (the comparison with a load is added beside it)."""
        return {
            "latency_ms": {k: p.estimate_ms for k, p in self.percentiles.items()}
            | {"max": self.max_ms},
            "percentile_bounds_ms": {
                k: {
                    "q": p.q,
                    "n": p.n,
                    "estimate": p.estimate_ms,
                    "low": p.low_ms,
                    "high": p.high_ms,
                    "method": "order-statistic",
                    "confidence": 0.95,
                }
                for k, p in self.percentiles.items()
            },
            "requests": self.requests,
            "failures": self.failures,
            "duration_s": self.duration_s,
            "rps": self.rps,
            "intended_rate_rps": self.intended_rate_rps,
            "users": self.users,
            "processes": self.processes,
            "model": self.model,
            "server": self.server,
            **(
                {"workers": {"expected": self.workers_expected, "finished": self.processes}}
                if self.workers_expected
                else {}
            ),
            "factor": FLOOR_FACTOR,
            "rule": f"a percentile at most {FLOOR_FACTOR:g}x the floor's is flagged: {AT_FLOOR}",
        }


def floor_verdict(
    attr: str,
    outcome: Literal["pass", "fail", "insufficient"],
    estimate_ms: float,
    floor: GeneratorFloor | None,
) -> tuple[Literal["pass", "fail", "insufficient"], str]:
    """A latency gate's outcome once the floor is known, and the words to add to its detail
    ("" when the percentile is clear of the floor)."""
    if floor is None or attr not in floor.percentiles:
        return outcome, ""
    floor_ms = floor.estimate_ms(attr)
    if not at_floor(estimate_ms, floor_ms):
        return outcome, ""
    note = (
        f"; {AT_FLOOR} ({attr} {estimate_ms:.3f} ms is within {FLOOR_FACTOR:g}x of the "
        f"generator's own {floor_ms:.3f} ms)"
    )
    if outcome == "fail":
        note += (
            ": the excess may be the generator's, so this is no evidence against the target "
            "(a faster client, fewer users per process or more processes lower the floor)"
        )
        return "insufficient", note
    if outcome == "pass":
        note += ": the pass stands, the generator only adds time"
    return outcome, note
