"""The ``regression`` gate: the flagged regressions against a baseline run
(:mod:`harness.baseline` compares; :mod:`harness.regression` decides each metric). Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from harness.decision import Decision

__all__ = ["RegressionEvidence", "regression_gate"]


@dataclass(frozen=True, slots=True)
class RegressionEvidence:
    """What the comparison with a baseline flagged (harness.baseline); ``baseline`` None:
    there was none, and ``why_none`` says why."""

    baseline: str | None
    compared: tuple[str, ...]  # the metrics compared
    flagged: tuple[str, ...]  # each flagged regression, in words
    required: bool = False
    why_none: str = ""
    # of ``flagged``, the latency shifts of a percentile this run measured at the
    # generator's floor (harness.floor): they may be the generator's, so they decide
    # nothing against the target, as a latency gate's fail there does not
    at_floor: tuple[str, ...] = ()


def regression_gate(r: RegressionEvidence | None, threshold: float) -> Decision:
    """At most ``threshold`` flagged regressions against the baseline (the checklist: 0).
    No baseline decides nothing (off), unless the profile requires one (insufficient)."""
    name = "regression"
    if r is None or r.baseline is None:
        why = (r.why_none if r else "") or "no baseline"
        if r is not None and r.required:
            return Decision(
                name, "insufficient", None, threshold,
                f"no baseline ({why}); regression.require_baseline = true",
            )  # fmt: skip
        return Decision(name, "off", None, threshold, f"off: no baseline ({why})")
    if not r.compared:
        return Decision(
            name, "insufficient", None, threshold,
            f"no metric both this run and {r.baseline} measured",
        )  # fmt: skip
    counted = [f for f in r.flagged if f not in r.at_floor]
    n = len(counted)
    detail = f"{n} regression(s) flagged against {r.baseline} in {len(r.compared)} metrics"
    detail += (": " + "; ".join(counted)) if counted else f" ({', '.join(r.compared)})"
    outcome: Literal["pass", "fail", "insufficient"] = "fail" if n > threshold else "pass"
    if r.at_floor:
        detail += (
            "; not counted, at the generator's floor (the shift may be the generator's): "
            + "; ".join(r.at_floor)
        )
        if outcome == "pass":  # what is left to judge is no evidence either way
            outcome = "insufficient"
    return Decision(
        name, outcome, float(n), threshold, detail,
        len(r.compared), float(n), "flagged regressions (significant and above the minimum effect)",
    )  # fmt: skip
