"""A gate's decision made in a module of its own (:mod:`harness.regression_gate`,
:mod:`harness.resource_gates`); :mod:`harness.gates` turns it into its GateResult. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Decision"]


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
