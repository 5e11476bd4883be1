"""The run record: what each phase measured, as frozen values, and the one place that
turns it into report.json.

Each phase returns its outcome (:class:`TestsOutcome`, :class:`LoadOutcome`,
:class:`ChaosOutcome`); a :class:`RunOutcome` holds them with the components that served,
the gate results and how the run ended. :func:`build_report` is the only code that shapes
report.json (schema ``moonbase-reliability/1``): the checkpoints written after each phase
and the final report alike, so a crash still leaves a valid report with what was measured.
"""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.report.files import SCHEMA

if TYPE_CHECKING:  # stats (scipy) and the phases' types: imported only where they are used
    from harness.api_coverage import ApiCoverage
    from harness.availability import Availability
    from harness.baseline import RegressionResult
    from harness.chaos.executor import ExperimentResult
    from harness.checklist import Checklist
    from harness.code_coverage import CoverageOutcome
    from harness.config import TestSettings
    from harness.floor import GeneratorFloor
    from harness.fuzz import FuzzOutcome
    from harness.gates import ChaosEvidence, GateResult, LoadEvidence, SuiteEvidence
    from harness.load import LoadResult
    from harness.resources import ResourceUsage
    from harness.runner import TestPhaseResult
    from harness.runner.accumulate import Accumulated
    from harness.security import SecurityOutcome
    from harness.slo import SloResult
    from harness.stats import PercentileEstimate

__all__ = [
    "SCHEMA",
    "ChaosOutcome",
    "Component",
    "ExperimentOutcome",
    "LoadOutcome",
    "PhaseSpan",
    "RunOutcome",
    "TestsOutcome",
    "build_report",
]


# the report keeps the first buckets of the merged histogram for its chart; the whole
# distribution stays in histogram_encoded
_HISTOGRAM_BUCKETS = 2000


@dataclass(frozen=True, slots=True)
class Component:
    """A component that served the run: the target, Toxiproxy, ..."""

    kind: str  # real | embedded | external
    detail: str
    source: str | None = None  # how it was found (toxiproxy: env, path, docker, embedded)

    def to_json(self) -> dict[str, str]:
        body = {"kind": self.kind, "detail": self.detail}
        if self.source is not None:
            body["source"] = self.source
        return body


@dataclass(frozen=True, slots=True)
class TestsOutcome:
    """The tests phase: every run of every selected test, and how they were run."""

    result: TestPhaseResult
    settings: TestSettings
    seed: int  # the one used: the settings' own, or the one drawn for this run
    # per test: its record across earlier clean runs of the same commit (runner.accumulate)
    accumulated: Mapping[str, Accumulated] = field(default_factory=dict)
    history_skipped: tuple[str, ...] = ()
    # each test's report.json entry, computed once (intervals, decisions), not per checkpoint
    _tests: tuple[dict[str, object], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        entries = []
        for test in self.result.tests:
            body = test.to_json(self.slo)
            body["accumulated"] = self.accumulated[test.nodeid].to_json()
            entries.append(body)
        object.__setattr__(self, "_tests", tuple(entries))

    @property
    def slo(self) -> float:
        return self.settings.slo

    @property
    def internal_error(self) -> str | None:
        return self.result.internal_error

    def evidence(self) -> SuiteEvidence:
        from harness.gates import SuiteEvidence, TestEvidence

        tests = self.result.tests
        return SuiteEvidence(
            sum(t.passed for t in tests),
            sum(t.n for t in tests),
            tuple(TestEvidence(t.nodeid, t.passed, t.n) for t in tests),
        )

    def tests_json(self) -> list[dict[str, object]]:
        return [dict(entry) for entry in self._tests]

    def run_json(self) -> dict[str, object]:
        result, settings = self.result, self.settings
        body: dict[str, object] = {
            "seed": self.seed,
            "repeat": settings.repeat,
            "until_confident": settings.until_confident,
            "slo": settings.slo,
            "workers": settings.workers,
            "timeout_s": settings.timeout_s,
            "budget_s": settings.budget_s,
            "budget_exhausted": result.budget_exhausted,
            "batches": result.batches,
            "runs": result.run_count,
            "duration_s": round(result.duration_s, 3),
            "pytest_exit_codes": list(result.pytest_exit_codes),
            "internal_error": result.internal_error,
            "replay": shlex.join(result.argv),  # pasted into a shell, it runs again
            # what was selected: a baseline is a run of the same selection
            "selection": {
                "paths": list(settings.paths),
                "markexpr": settings.markexpr,
                "keyword": settings.keyword,
            },
        }
        if self.history_skipped:  # the accumulated figures rest on fewer runs: said
            body["history_skipped"] = list(self.history_skipped)
        return body


def _bounds_json(p95: PercentileEstimate, p99: PercentileEstimate) -> dict[str, object]:
    return {
        name: {
            "q": est.q,
            "n": est.n,
            "estimate": est.estimate_ms,
            "low": est.low_ms,
            "high": est.high_ms,
            "method": "order-statistic",
            "confidence": 0.95,
        }
        for name, est in (("p95", p95), ("p99", p99))
    }


@dataclass(frozen=True, slots=True)
class LoadOutcome:
    """The load phase: Locust's merged result and the percentile bounds read off it."""

    result: LoadResult
    p95: PercentileEstimate
    p99: PercentileEstimate
    floor: GeneratorFloor | None = None  # the generator's own, measured before the load
    _body: dict[str, object] = field(init=False, repr=False, compare=False)

    def evidence(self) -> LoadEvidence:
        from harness.gates import LoadEvidence
        from harness.load.histogram import decode_histogram
        from harness.load.percentiles import percentile_estimate

        r = self.result
        by_request = []
        for request in r.by_request:  # each name on its own evidence (harness.request_gates)
            own = decode_histogram(request.histogram)
            p95, p99 = percentile_estimate(own, 0.95), percentile_estimate(own, 0.99)
            by_request.append(
                (request.name, LoadEvidence(request.requests, request.failures, 0.0, p95, p99))
            )
        stopped = r.stopped_early
        aborted = stopped.reason if stopped and stopped.by == "abort_on_fail" else None
        # an exception in a locustfile's own code is an attempt that failed: it counts
        # against the error rate beside the failed requests
        attempts, failed = r.requests + r.user_errors, r.failures + r.user_errors
        return LoadEvidence(
            attempts, failed, r.rps, self.p95, self.p99, r.intended_rate_rps,
            by_request=tuple(by_request), aborted=aborted, floor=self.floor,
        )  # fmt: skip

    def to_json(self) -> dict[str, object]:
        return dict(self._body)

    def __post_init__(self) -> None:
        # computed once: the histogram is decoded here, not again at every later checkpoint
        from harness.load.histogram import decode_histogram
        from harness.load.percentiles import percentile_estimate

        body: dict[str, object] = self.result.to_json()
        body["percentile_bounds_ms"] = _bounds_json(self.p95, self.p99)
        if self.result.by_request:
            # each request of the mix with its own bounds (a slow endpoint judged on its own)
            entries = []
            for request in self.result.by_request:
                own = decode_histogram(request.histogram)
                entry = request.to_json()
                entry["percentile_bounds_ms"] = _bounds_json(
                    percentile_estimate(own, 0.95), percentile_estimate(own, 0.99)
                )
                entries.append(entry)
            body["by_request"] = entries
        histogram = decode_histogram(self.result.histogram)
        body["histogram"] = [
            {
                "latency_ms": item.value_iterated_to / 1000.0,
                "count": item.count_added_in_this_iter_step,
            }
            for item in histogram.get_recorded_iterator()
        ][:_HISTOGRAM_BUCKETS]
        body["histogram_encoded"] = self.result.histogram
        if self.floor is not None:  # beside the target's percentiles, and which sit on it
            flags = self.floor.flags(self.result.latency_ms)
            body["floor"] = self.floor.to_json() | {"at_floor": flags}
        object.__setattr__(self, "_body", body)


@dataclass(frozen=True, slots=True)
class ExperimentOutcome:
    """One chaos experiment, with the one recovery limit it is judged against: its own
    ``expect.max_recovery_s``, or the gate's ``chaos_recovery_s`` when that is tighter.
    The chaos section's claim and the chaos gate both use it."""

    result: ExperimentResult
    max_recovery_s: float

    def evidence(self) -> ChaosEvidence:
        from harness.gates import ChaosEvidence

        r = self.result
        # a fault that broke its error budget is never a pass; one that did not run is no
        # evidence either way
        return ChaosEvidence(
            r.name,
            r.effect_observed,
            r.recovery_s,
            error=r.error,
            status=r.status,
            limit_s=self.max_recovery_s,
        )

    def to_json(self) -> dict[str, object]:
        from harness import stats

        body = self.result.to_json()
        body["recovery_summary"] = stats.summarize_recoveries(
            list(self.result.recovery_s), self.max_recovery_s
        ).to_json()
        return body


@dataclass(frozen=True, slots=True)
class ChaosOutcome:
    """The chaos phase: the experiments that ran (or could not), in order."""

    experiments: tuple[ExperimentOutcome, ...] = ()

    def evidence(self) -> tuple[ChaosEvidence, ...]:
        return tuple(e.evidence() for e in self.experiments)

    def adding(self, experiment: ExperimentOutcome) -> ChaosOutcome:
        return ChaosOutcome((*self.experiments, experiment))


@dataclass(frozen=True, slots=True)
class PhaseSpan:
    """When a phase ran, on the wall clock (epoch seconds); ``end`` is None while it runs."""

    name: str  # tests | load | chaos | soak
    start: float
    end: float | None = None


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """One run of a command, as far as it got."""

    command: str
    run_id: str
    started_at: str
    profile: str | None = None
    profile_description: str | None = None
    target_name: str | None = None  # the config's target.name: what the reports call it
    config_source: str | None = None
    git_commit: str | None = None
    git_dirty: bool = False
    components: tuple[tuple[str, Component], ...] = ()
    target_url: str | None = None
    tests: TestsOutcome | None = None
    load: LoadOutcome | None = None
    chaos: ChaosOutcome | None = None
    gates: tuple[GateResult, ...] = ()
    readiness: Checklist | None = None  # the production-readiness checklist (gate)
    slos: tuple[SloResult, ...] = ()  # each SLO's SLI, burn rate and budget (gate)
    # the whole-run prober's timeline, analysed, and the objective it is held against
    availability: Availability | None = None
    availability_objective: float | None = None
    resources: ResourceUsage | None = None  # the target's memory and CPU, sampled
    regression: RegressionResult | None = None  # the comparison with a baseline run
    coverage: CoverageOutcome | None = None  # the target's code coverage
    api_coverage: ApiCoverage | None = None  # the OpenAPI operations the tests exercised
    api_coverage_why: str | None = None  # why API coverage was not measured
    security: SecurityOutcome | None = None  # the target's code and dependencies, scanned
    fuzz: FuzzOutcome | None = None  # schemathesis against the target's OpenAPI document
    # until the run says otherwise a report reads as crashed: a killed run left it so
    status: str = "crashed"
    verdict: str = "error"
    exit_code: int = 4
    finished_at: str | None = None
    error: str | None = None
    final: bool = False
    # the phases that did not run because the config switched them off, and why
    phases_off: tuple[tuple[str, str], ...] = ()
    spans: tuple[PhaseSpan, ...] = ()  # when each phase ran, for the run's timeline
    extra: Mapping[str, object] = field(default_factory=dict)  # e.g. `report --compare`

    def with_component(self, name: str, component: Component) -> RunOutcome:
        kept = tuple((k, c) for k, c in self.components if k != name)
        return dataclasses.replace(self, components=(*kept, (name, component)))


def build_report(outcome: RunOutcome) -> dict[str, Any]:
    """report.json for ``outcome``: the only place its shape is written down."""
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "run_id": outcome.run_id,
        "command": outcome.command,
        "status": outcome.status,
        "verdict": outcome.verdict,
        "exit_code": outcome.exit_code,
        "started_at": outcome.started_at,
        "finished_at": outcome.finished_at,
        "profile": outcome.profile,
        "config_source": outcome.config_source,
        "git_commit": outcome.git_commit,
        "git_dirty": outcome.git_dirty,
        "tests": outcome.tests.tests_json() if outcome.tests else [],
        "load": outcome.load.to_json() if outcome.load else None,
        "chaos": [e.to_json() for e in outcome.chaos.experiments] if outcome.chaos else [],
        "gates": [g.to_json() for g in outcome.gates],
        "components": {name: c.to_json() for name, c in outcome.components},
    }
    if outcome.target_url is not None:
        report["target_url"] = outcome.target_url
    if outcome.target_name is not None:
        report["target_name"] = outcome.target_name
    if outcome.profile_description is not None:
        report["profile_description"] = outcome.profile_description
    if outcome.tests is not None:
        report["test_run"] = outcome.tests.run_json()
    if outcome.phases_off:
        report["phases_off"] = dict(outcome.phases_off)
    if outcome.readiness is not None:
        report["readiness"] = outcome.readiness.to_json()
    if outcome.slos:
        report["slos"] = [s.to_json() for s in outcome.slos]
    if outcome.availability is not None:
        report["availability"] = outcome.availability.to_json(outcome.availability_objective)
    timeline = run_timeline(outcome)
    if timeline is not None:
        report["timeline"] = timeline
    if outcome.regression is not None:
        report["regression"] = outcome.regression.to_json()
    if outcome.coverage is not None:
        report["coverage"] = outcome.coverage.to_json()
    if outcome.api_coverage is not None:
        report["api_coverage"] = outcome.api_coverage.to_json()
    elif outcome.api_coverage_why:
        report["api_coverage"] = {"why_none": outcome.api_coverage_why}
    if outcome.security is not None:
        report["security"] = outcome.security.to_json()
    if outcome.fuzz is not None:
        report["fuzz"] = outcome.fuzz.to_json()
    if outcome.resources is not None:
        origin = timeline["origin_epoch"] if timeline is not None else None
        report["resources"] = outcome.resources.to_json(origin)
    if outcome.final:
        report["error"] = outcome.error
    report.update(outcome.extra)
    return report


def run_timeline(outcome: RunOutcome) -> dict[str, Any] | None:
    """One timeline of the run: when each phase ran, every fault injection, the outages the
    whole-run prober saw and the time it did not observe, in seconds from one origin (the
    prober's first probe, else the first phase's start). None when nothing has a time."""
    availability = outcome.availability
    origin = availability.origin_epoch if availability is not None else None
    starts = [s.start for s in outcome.spans]
    experiments = outcome.chaos.experiments if outcome.chaos else ()
    starts += [e.result.started_epoch for e in experiments if e.result.started_epoch is not None]
    if origin is None and not starts:
        return None
    base = origin if origin is not None else min(starts)
    spans: list[dict[str, object]] = []

    def add(lane: str, name: str, start: float, end: float, **more: object) -> None:
        spans.append(
            {"lane": lane, "name": name, "start_s": round(start, 3), "end_s": round(end, 3)} | more
        )

    last = max([base, *starts, *(s.end for s in outcome.spans if s.end is not None)])
    for span in outcome.spans:
        # a phase still running (a checkpoint, or a crash) ends at the latest time known
        end = span.end if span.end is not None else last
        add("phase", span.name, span.start - base, end - base, running=span.end is None)
    for e in experiments:
        r = e.result
        if r.started_epoch is None:
            continue
        for i in r.injections:
            name = r.name if len(r.injections) == 1 else f"{r.name} #{i.index + 1}"
            at = r.started_epoch - base
            recovered = i.analysis.total_s
            add(
                "fault", name, at + i.t_inject, at + i.t_remove,
                recovered_s=None if recovered is None else round(at + i.t_inject + recovered, 3),
            )  # fmt: skip
    if availability is not None and origin is not None:
        for o in availability.outages:
            add("outage", f"outage {o.duration_s:.3g} s", o.start_s, o.end_s, ongoing=o.ongoing)
        for a, b in availability.gap_spans:
            add("not_observed", f"not observed {b - a:.3g} s", a, b)
    return {
        "origin_epoch": round(base, 3),
        "origin": "the whole-run prober's first probe"
        if origin is not None
        else "the first phase's start",
        "spans": spans,
    }
