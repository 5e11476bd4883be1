"""Circuit breakers for loopback calls between a pod's containers.

closed --(``failure_threshold`` failures in a row)--> open
open --(``reset_timeout_s`` passed)--> half_open (one trial call at a time)
half_open --success--> closed;  half_open --failure--> open
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from target_api.exceptions import MoonbaseError
from target_api.metrics import ApiMetrics

CLOSED, HALF_OPEN, OPEN = "closed", "half_open", "open"
_GAUGE_VALUE = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2}


class CircuitOpenError(MoonbaseError, ConnectionError):
    """The breaker refused the call without trying: the target failed too often."""


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    failure_threshold: int = 5
    reset_timeout_s: float = 5.0


class CircuitBreaker:
    """One target's breaker; thread-safe. ``clock`` is injectable for tests."""

    def __init__(
        self,
        target: str,
        policy: BreakerPolicy = BreakerPolicy(),
        *,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[str, str], None] | None = None,
    ) -> None:
        self.target = target
        self.policy = policy
        self._clock = clock
        self._on_change = on_change
        self._lock = threading.Lock()
        self._state = CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._trial_running = False

    @property
    def state(self) -> str:
        with self._lock:
            self._maybe_half_open()
            return self._state

    def _set(self, state: str) -> None:
        if state != self._state:
            self._state = state
            if self._on_change is not None:
                self._on_change(self.target, state)

    def _maybe_half_open(self) -> None:
        if self._state == OPEN and self._clock() - self._opened_at >= self.policy.reset_timeout_s:
            self._set(HALF_OPEN)
            self._trial_running = False

    def before_call(self) -> None:
        """Raise CircuitOpenError unless a call may go ahead now."""
        with self._lock:
            self._maybe_half_open()
            if self._state == OPEN:
                raise CircuitOpenError(f"circuit to {self.target} is open")
            if self._state == HALF_OPEN:
                if self._trial_running:
                    raise CircuitOpenError(f"circuit to {self.target} is half-open, trial running")
                self._trial_running = True

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._trial_running = False
            self._set(CLOSED)

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            self._trial_running = False
            if self._state == HALF_OPEN or self._failures >= self.policy.failure_threshold:
                self._opened_at = self._clock()
                self._set(OPEN)


class BreakerBoard:
    """All breakers of a director, published to /metrics and health."""

    def __init__(self, metrics: ApiMetrics | None, policy: BreakerPolicy = BreakerPolicy()) -> None:
        self._metrics = metrics
        self._policy = policy
        self._lock = threading.Lock()
        self._breakers: dict[str, CircuitBreaker] = {}

    def _publish(self, target: str, state: str) -> None:
        if self._metrics is not None:
            self._metrics.breaker_state.labels(target).set(_GAUGE_VALUE[state])

    def get(self, target: str) -> CircuitBreaker:
        with self._lock:
            breaker = self._breakers.get(target)
            if breaker is None:
                breaker = CircuitBreaker(target, self._policy, on_change=self._publish)
                self._breakers[target] = breaker
                self._publish(target, CLOSED)
            return breaker

    def forget(self, prefix: str) -> None:
        """Drop the breakers of a deleted pod (their targets start with ``prefix``)."""
        with self._lock:
            gone = [t for t in self._breakers if t.startswith(prefix)]
            for target in gone:
                del self._breakers[target]
                if self._metrics is not None:
                    self._metrics.breaker_state.remove(target)

    def health(self) -> dict[str, Any]:
        with self._lock:
            breakers = list(self._breakers.values())
        states = {b.target: b.state for b in breakers}
        unhealthy = {t: s for t, s in states.items() if s != CLOSED}
        return {
            "status": "degraded" if unhealthy else "ok",
            "breakers": len(states),
            "not_closed": unhealthy,
        }
