"""Gates that name a request of the load mix, and the gates judged while the load runs.

Pure, like :mod:`harness.gates`: evidence and thresholds in, outcomes out. A request gate
applies one of the load gates (``load_error_rate``, ``load_p95_ms``, ``load_p99_ms``) to
one request name's own evidence: its own counts and its own merged HdrHistogram, never
the mix's. Its result is named ``GATE[NAME]``, e.g. ``load_p95_ms[GET /api/v0/pods]``.

``abort_on_fail`` (k6's): :func:`abort_reason` judges the marked gates on what the load
has measured so far; once one of them *fails* (its bound already past the threshold,
with at least its minimum sample size) the load is ended early. Insufficient never
aborts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Literal, Protocol

from harness.gates import (
    Evidence,
    GateResult,
    GateThresholds,
    LoadEvidence,
    evaluate_gates,
    evaluate_one,
)

__all__ = [
    "ABORTABLE",
    "RequestGateRule",
    "abort_reason",
    "evaluate_all",
    "request_gate_results",
]

# the load gates a request gate or abort_on_fail can apply: (rule field, gate name)
ABORTABLE: tuple[tuple[str, str], ...] = (
    ("error_rate", "load_error_rate"),
    ("p95_ms", "load_p95_ms"),
    ("p99_ms", "load_p99_ms"),
)


class RequestGateRule(Protocol):
    """One ``[[gates.requests]]`` entry (harness.config_load.RequestGateSettings)."""

    @property
    def name(self) -> str: ...
    @property
    def error_rate(self) -> float | None: ...
    @property
    def p95_ms(self) -> float | None: ...
    @property
    def p99_ms(self) -> float | None: ...
    @property
    def abort_on_fail(self) -> bool: ...


def _judge(gate: str, load: LoadEvidence, threshold: float, label: str) -> GateResult:
    return dataclasses.replace(evaluate_one(gate, Evidence(load=load), threshold), name=label)


def request_gate_results(
    rules: Sequence[RequestGateRule],
    load: LoadEvidence | None,
    load_off: str | None = None,
    *,
    only_abort: bool = False,
) -> tuple[GateResult, ...]:
    """Each rule's gates on its request's own evidence, in the order written.

    A request name the load did not send is insufficient, "not measured", naming the names
    it did (a name the config's own request list lacks is refused before the load starts,
    harness.preflight; a locustfile's names are known only once it ran); with ``load_off``
    (why the load phase did not run) every one is off.
    """
    by_name: Mapping[str, LoadEvidence] = dict(load.by_request) if load else {}
    out: list[GateResult] = []
    for rule in rules:
        if only_abort and not rule.abort_on_fail:
            continue
        for field, gate in ABORTABLE:
            threshold = getattr(rule, field)
            if threshold is None:
                continue
            label = f"{gate}[{rule.name}]"
            comparison: Literal["<=", ">="] = "<="
            own = by_name.get(rule.name)
            if load_off is not None:
                out.append(
                    GateResult(label, "off", None, None, comparison, f"off: the load phase "
                               f"did not run ({load_off})")
                )  # fmt: skip
            elif own is None:
                sent = ", ".join(sorted(by_name)) or "none"
                out.append(
                    GateResult(label, "insufficient", None, threshold, comparison,
                               f"not measured: no request named {rule.name!r} was sent; "
                               f"the load's request names: {sent}")
                )  # fmt: skip
            else:
                out.append(_judge(gate, own, threshold, label))
    return tuple(out)


def evaluate_all(
    settings: GateThresholds,
    evidence: Evidence,
    phases_off: Mapping[str, str] | None = None,
) -> tuple[GateResult, ...]:
    """:func:`harness.gates.evaluate_gates`, then each ``[[gates.requests]]`` rule."""
    results = evaluate_gates(settings, evidence, phases_off)
    rules: Sequence[RequestGateRule] = getattr(settings, "requests", None) or ()
    load_off = (phases_off or {}).get("load")
    results += request_gate_results(rules, evidence.load, load_off)
    if evidence.load is not None and evidence.load.aborted:
        # the load was ended by a gate that failed while it ran: a fail, whatever the
        # gates judge on the shorter load it left
        results += (
            GateResult(
                "load_abort_on_fail", "fail", None, None, "<=",
                f"the load was stopped early: {evidence.load.aborted}", evidence.load.requests,
            ),
        )  # fmt: skip
    return results


def abort_reason(settings: GateThresholds, load: LoadEvidence) -> GateResult | None:
    """The first gate marked ``abort_on_fail`` that already fails on ``load`` (the load
    measured so far), or None: the load goes on."""
    marked: Sequence[str] = getattr(settings, "abort_on_fail", None) or ()
    for gate in marked:
        threshold = getattr(settings, gate, None)
        if isinstance(threshold, int | float):
            result = _judge(gate, load, float(threshold), gate)
            if result.outcome == "fail":
                return result
    rules: Sequence[RequestGateRule] = getattr(settings, "requests", None) or ()
    for result in request_gate_results(rules, load, only_abort=True):
        if result.outcome == "fail":
            return result
    return None
