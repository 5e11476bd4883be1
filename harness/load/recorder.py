"""What one load process measures: counts, HdrHistograms (total, per request name, per
second) and error messages. Cooperative greenlets share it, so it needs no locks; it never
imports Locust, so the harness can read its live progress format too.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from harness.load.histogram import (
    TIMELINE_DIGITS,
    encode_histogram,
    merge_encoded,
    new_histogram,
    record_us,
)
from harness.load.result import DROPPED

__all__ = ["MAX_ERROR_KINDS", "Recorder", "merge_live"]

# Beyond this many distinct error messages the rest are counted under one key, so a
# service that puts request ids in its errors cannot blow up the report.
MAX_ERROR_KINDS = 50


class Recorder:
    """Everything one process measures; cooperative greenlets, so no locks are needed."""

    def __init__(self, epoch: float) -> None:
        self.epoch = epoch
        self.histogram = new_histogram()
        self.requests = 0
        self.failures = 0
        self.dropped = 0
        self.errors: Counter[str] = Counter()
        self.seconds: dict[int, list[Any]] = {}
        # per request name (RequestSpec.name): [requests, failures, histogram, dropped]
        self.by_name: dict[str, list[Any]] = {}
        self.first_send_s: float | None = None
        self.last_done_s: float | None = None
        self.users_started = 0
        self.users_done = 0
        self.crashes: list[str] = []
        # Called when the last local user has finished its plan (workers tell the master
        # at once rather than at the next one-second report).
        self.on_all_done: Callable[[], None] | None = None
        self.stop_requested = False
        self.signalled = False

    def signal_stop(self) -> None:
        self.signalled = self.stop_requested = True

    def sending(self) -> None:
        if self.first_send_s is None:
            self.first_send_s = time.time() - self.epoch

    def record(self, latency_s: float, error: str | None, name: str) -> None:
        latency_us = latency_s * 1e6
        per, second = self._count(error, name)
        record_us(self.histogram, latency_us)
        record_us(per[2], latency_us)
        record_us(second[2], latency_us)

    def drop(self, name: str) -> None:
        """An open-model request that could not start: failed, without a latency."""
        per, _ = self._count(DROPPED, name)
        per[3] += 1
        self.dropped += 1

    def _count(self, error: str | None, name: str) -> tuple[list[Any], list[Any]]:
        now_s = time.time() - self.epoch
        self.last_done_s = now_s
        self.requests += 1
        per = self.by_name.get(name)
        if per is None:
            per = self.by_name[name] = [0, 0, new_histogram(), 0]
        per[0] += 1
        per[1] += error is not None
        second = self.seconds.get(int(now_s))
        if second is None:
            second = self.seconds[int(now_s)] = [0, 0, new_histogram(TIMELINE_DIGITS)]
        second[0] += 1
        if error is not None:
            self.failures += 1
            second[1] += 1
            if error in self.errors or len(self.errors) < MAX_ERROR_KINDS:
                self.errors[error] += 1
            else:
                self.errors["(other errors)"] += 1
        return per, second

    def progress(self, live: bool = False) -> dict[str, Any]:
        """Counts so far; ``live``: with the histograms too (total and per name, encoded),
        for gates judged while the load runs."""
        out: dict[str, Any] = {
            "requests": self.requests,
            "failures": self.failures,
            "dropped": self.dropped,
            "users_done": self.users_done,
            "crashes": len(self.crashes),
        }
        if live:
            out["histogram"] = encode_histogram(self.histogram)
            out["by_request"] = {
                name: {"requests": req, "failures": fail, "histogram": encode_histogram(hist)}
                for name, (req, fail, hist, _) in self.by_name.items()
            }
        return out

    def report(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "failures": self.failures,
            "dropped": self.dropped,
            "histogram": encode_histogram(self.histogram),
            "errors": dict(self.errors),
            "timeline": [
                {"t_s": t_s, "requests": req, "failures": fail, "histogram": encode_histogram(hist)}
                for t_s, (req, fail, hist) in sorted(self.seconds.items())
            ],
            "first_send_s": self.first_send_s,
            "last_done_s": self.last_done_s,
            "crashes": list(self.crashes),
            "by_request": {
                name: {
                    "requests": req,
                    "failures": fail,
                    "dropped": dropped,
                    "histogram": encode_histogram(hist),
                }
                for name, (req, fail, hist, dropped) in self.by_name.items()
            },
        }


def merge_live(parts: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The live histograms of several processes' progress, added (total and per name)."""
    parts = [p for p in parts if "histogram" in p]
    if not parts:
        return {}
    names: dict[str, list[Any]] = {}
    for part in parts:
        for name, body in part.get("by_request", {}).items():
            entry = names.setdefault(name, [0, 0, []])
            entry[0] += int(body["requests"])
            entry[1] += int(body["failures"])
            entry[2].append(str(body["histogram"]))
    return {
        "histogram": encode_histogram(merge_encoded(str(p["histogram"]) for p in parts)),
        "by_request": {
            name: {"requests": r, "failures": f, "histogram": encode_histogram(merge_encoded(h))}
            for name, (r, f, h) in names.items()
        },
    }
