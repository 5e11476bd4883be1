"""A gate's decision made in a module of its own (:mod:`harness.regression_gate`,
:mod:`harness.resource_gates`); :mod:`harness.gates` turns it into its GateResult; and
the thresholds every gate reads (:class:`GateThresholds`). Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

__all__ = ["Decision", "GateThresholds"]


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome, the figure it was decided on, and the detail a reader is shown."""

    name: str
    outcome: Literal["pass", "fail", "insufficient", "off"]
    observed: float | None
    threshold: float
    detail: str
    n: int = 0
    decided_on: float | None = None
    decided_by: str | None = None


class GateThresholds(Protocol):
    """A threshold per gate name, ``None`` where the gate is not applied and ``"off"``
    where it is switched off (the config's ``gates`` table satisfies it; gates never read
    the config themselves)."""

    @property
    def test_success(self) -> float | str | None: ...
    @property
    def test_slo(self) -> float | str | None: ...
    @property
    def load_error_rate(self) -> float | str | None: ...
    @property
    def load_p95_ms(self) -> float | str | None: ...
    @property
    def load_p99_ms(self) -> float | str | None: ...
    @property
    def load_min_rps(self) -> float | str | None: ...
    @property
    def chaos_recovery_s(self) -> float | str | None: ...
    @property
    def availability_min(self) -> float | str | None: ...
    @property
    def coverage_min(self) -> float | str | None: ...
    @property
    def api_coverage_min(self) -> float | str | None: ...
    @property
    def security_max_high(self) -> float | str | None: ...
    @property
    def api_server_errors_max(self) -> float | str | None: ...
    @property
    def api_contract_violations_max(self) -> float | str | None: ...
    @property
    def regression(self) -> float | str | None: ...
    @property
    def target_rss_mb_max(self) -> float | str | None: ...
    @property
    def target_cpu_pct_max(self) -> float | str | None: ...
    @property
    def target_rss_growth_mb_per_min_max(self) -> float | str | None: ...
