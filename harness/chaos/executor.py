"""Running a chaos experiment: faults on a link or on the API process, probes, recovery.

For each experiment its fault kind (:mod:`harness.faults`: ``toxic``, ``database_toxic``,
``kill``, ``pause``, ``kill_container``) sets up what it needs:

- ``link = "api"`` toxics: a Toxiproxy proxy in front of the target; probes go through it;
- ``link = "database"`` toxics: a proxy in front of PostgreSQL and a dedicated reference
  API whose MOONBASE_DATABASE_URL points at the proxy; probes go to that API;
- process faults: the supervised reference API the caller hands in; probes go to it;
  ``kill_container`` creates a pod on it (:mod:`harness.faults.pod`), probes that pod
  (GET /api/v0/pods/{id}) and deletes it afterwards, always.

Then the steady state is probed; each injection puts the fault on, probes while it is on,
takes it off (always, also on error), and probes until the steady state holds again. A
kill has no duration: the kill time is both injection and removal, the probes are "fault"
probes until the API answers again, and recovery counts from the kill. Optional load runs
for the whole window. The timeline is analysed by :mod:`harness.chaos.timeline`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import httpx

from harness.chaos.experiment import Experiment
from harness.chaos.load_window import FaultLoad, FaultLoadResult
from harness.chaos.timeline import InjectionAnalysis, Phase, ProbeSample, analyse_injection
from harness.faults.base import FaultContext, Injector, Prepared
from harness.faults.kinds import fault_kind
from harness.faults.pod import PodRecord, PodUnderTest
from harness.faults.spec import FaultSpec
from harness.faults.supervisor import RestartRecord, Supervisor
from harness.faults.toxic import NEEDS_POSTGRES, rewrite_database_url
from harness.target import ReferenceTarget
from harness.toxiproxy.provision import ToxiproxyServer

__all__ = [
    "NEEDS_POSTGRES",
    "ExperimentInterrupted",
    "ExperimentResult",
    "InjectionResult",
    "not_run_result",
    "rewrite_database_url",
    "run_experiment",
]


@dataclass(frozen=True, slots=True)
class InjectionResult:
    index: int
    t_inject: float
    t_remove: float
    analysis: InjectionAnalysis


@dataclass(frozen=True, slots=True)
class ExperimentResult:
    name: str
    title: str
    faults: tuple[FaultSpec, ...]
    server_kind: str
    steady_state_met: bool
    injections: tuple[InjectionResult, ...]
    timeline: tuple[ProbeSample, ...]
    max_recovery_s: float
    max_error_rate: float
    error: str | None = None
    notes: tuple[str, ...] = field(default=())
    status: Literal["run", "not_run"] = "run"
    link: str = "api"
    restarts: tuple[RestartRecord, ...] = ()
    load: FaultLoadResult | None = None
    pod: PodRecord | None = None  # kill_container: the pod, its restarts seen
    # each fault as its kind describes it for report.json (the kind decides the fields)
    fault_json: tuple[Mapping[str, object], ...] = ()
    partial: bool = False  # interrupted: the injections completed before that, kept
    started_epoch: float | None = None  # the wall clock at t = 0 of its timeline

    @property
    def effect_observed(self) -> bool:
        return (
            self.status == "run"
            and bool(self.injections)
            and all(i.analysis.effect_observed for i in self.injections)
        )

    @property
    def recovery_s(self) -> tuple[float | None, ...]:
        return tuple(i.analysis.recover_s for i in self.injections)

    @property
    def within_error_budget(self) -> bool:
        """False only when load ran and its fault-window error rate broke the budget."""
        return self.load is None or self.load.within_budget

    def to_json(self) -> dict[str, object]:
        recoveries = [r for r in self.recovery_s if r is not None]
        a0 = self.injections[0].analysis if self.injections else None
        return (
            {
                "name": self.name,
                "title": self.title,
                "status": self.status,
                "link": self.link,
                "fault": {
                    "type": self.faults[0].type if self.faults else None,
                    "attributes": dict(self.faults[0].attributes) if self.faults else {},
                },
                "faults": [dict(f) for f in self.fault_json],
                "toxiproxy": self.server_kind,
                "steady_state_met": self.steady_state_met,
                "effect_observed": self.effect_observed,
                "recovered": bool(self.injections)
                and all(i.analysis.recovered for i in self.injections),
                "recovery_s": max(recoveries) if recoveries else None,
                "recovery": {
                    "detect_s": a0.detect_s if a0 else None,
                    "recover_s": a0.recover_s if a0 else None,
                    "total_s": a0.total_s if a0 else None,
                },
                "injections": [
                    {
                        "index": i.index,
                        "t_inject": round(i.t_inject, 4),
                        "t_remove": round(i.t_remove, 4),
                        "effect_observed": i.analysis.effect_observed,
                        "effect_ms": i.analysis.effect_ms,
                        "steady_median_ms": i.analysis.steady_median_ms,
                        "fault_median_ms": i.analysis.fault_median_ms,
                        "fault_error_rate": i.analysis.fault_error_rate,
                        "detect_s": i.analysis.detect_s,
                        "recover_s": i.analysis.recover_s,
                        "total_s": i.analysis.total_s,
                        "recovered": i.analysis.recovered,
                        "detail": i.analysis.detail,
                    }
                    for i in self.injections
                ],
                "max_recovery_s": self.max_recovery_s,
                "max_error_rate": self.max_error_rate,
                "restarts": [r.to_json() for r in self.restarts],
                "pod": self.pod.to_json() if self.pod is not None else None,
                "load": self.load.to_json() if self.load is not None else None,
                "within_error_budget": self.within_error_budget,
                "timeline": [s.to_json() for s in self.timeline],
                "error": self.error,
                "notes": list(self.notes),
            }
            | ({"partial": True} if self.partial else {})
            | (
                {}
                if self.started_epoch is None
                else {"started_epoch": round(self.started_epoch, 3)}
            )
        )


def _fault_json(experiment: Experiment) -> tuple[dict[str, object], ...]:
    """Each fault of the method as its kind describes it."""
    kind = fault_kind(experiment.method)
    return tuple(kind.describe(f, experiment.pod_spec) for f in experiment.method)


class ExperimentInterrupted(KeyboardInterrupt):
    """The harness was interrupted during an experiment: ``result`` holds the injections
    completed until then (``partial=True``); ``cause`` is the interruption, to be raised
    again once the result is recorded."""

    def __init__(self, result: ExperimentResult, cause: KeyboardInterrupt) -> None:
        super().__init__(str(cause))
        self.result = result
        self.cause = cause


def not_run_result(experiment: Experiment, reason: str, server_kind: str) -> ExperimentResult:
    """An experiment that could not run: never a pass (no effect observed, no recovery)."""
    return ExperimentResult(
        name=experiment.name,
        title=experiment.title,
        faults=tuple(experiment.method),
        fault_json=_fault_json(experiment),
        server_kind=server_kind,
        steady_state_met=False,
        injections=(),
        timeline=(),
        max_recovery_s=experiment.expect.max_recovery_s,
        max_error_rate=experiment.expect.max_error_rate,
        error=f"not run: {reason}",
        status="not_run",
        link=experiment.link,
    )


class _Prober:
    """Sends one probe at a time on a fresh connection, paced on a fixed schedule."""

    def __init__(
        self,
        url: str,
        experiment: Experiment,
        t0: float,
        *,
        path: str | None = None,
        judge: Callable[[httpx.Response], bool] | None = None,
    ) -> None:
        ss = experiment.steady_state
        self._url = url + (path or ss.path)
        self._expect = set(ss.expect_status)
        self._judge = judge  # replaces the status check (a pod's own health)
        self._max_latency_ms = ss.max_latency_ms
        self._interval = ss.probe_interval_s
        self._t0 = t0
        self._next = time.monotonic()
        # no keep-alive: every probe opens a connection, as a new client would
        self._client = httpx.Client(
            timeout=ss.probe_timeout_s, limits=httpx.Limits(max_keepalive_connections=0)
        )
        self.samples: list[ProbeSample] = []
        self.on_probe: Callable[[float], None] | None = None

    def probe(self, phase: Phase) -> ProbeSample:
        now = time.monotonic()
        if self._next > now:
            time.sleep(self._next - now)  # pacing to the probe schedule, not synchronisation
        self._next = max(self._next + self._interval, time.monotonic())
        start = time.monotonic()
        try:
            response = self._client.get(self._url)
            latency_ms: float | None = (time.monotonic() - start) * 1000
            ok = (
                self._judge(response)
                if self._judge is not None
                else response.status_code in self._expect
            )
        except httpx.HTTPError:
            latency_ms, ok = None, False
        sample = ProbeSample(start - self._t0, latency_ms, ok, phase)
        self.samples.append(sample)
        if self.on_probe is not None:
            self.on_probe(time.monotonic() - self._t0)
        return sample

    def healthy(self, sample: ProbeSample) -> bool:
        return sample.ok and (sample.latency_ms or 0) <= self._max_latency_ms

    def relabel_last(self, phase: Phase) -> None:
        self.samples[-1] = dataclasses.replace(self.samples[-1], phase=phase)

    def close(self) -> None:
        self._client.close()


def _load_bound_s(experiment: Experiment, injections: int) -> float:
    """An upper bound on the window the load must cover; the runner stops it earlier."""
    ss = experiment.steady_state
    steady = ss.samples * (ss.probe_interval_s + ss.probe_timeout_s)
    per = max(f.duration_s for f in experiment.method) + 2 * experiment.expect.max_recovery_s
    return steady * 2 + injections * (per + steady) + 30.0


def run_experiment(
    experiment: Experiment,
    target_url: str,
    server: ToxiproxyServer,
    *,
    injections: int = 1,
    on_event: Callable[[str], None] | None = None,
    supervisor: Supervisor[ReferenceTarget] | None = None,
    database_url: str | None = None,
    workdir: Path | None = None,
) -> ExperimentResult:
    """Run ``experiment`` ``injections`` times; see the module docstring for the links.

    ``supervisor`` (process faults) is the supervised reference API; ``database_url``
    (``link = "database"``) the PostgreSQL URL, and ``workdir`` where a dedicated API
    keeps its data and log.
    """
    say = on_event or (lambda _msg: None)
    errors: list[str] = []
    restarts_before = len(supervisor.restarts) if supervisor else 0
    t0, started_epoch = time.monotonic(), time.time()
    context = FaultContext(
        name=experiment.name,
        source=experiment.source,
        method=tuple(experiment.method),
        pod=experiment.pod_spec,
        target_url=target_url,
        server=server,
        supervisor=supervisor,
        database_url=database_url,
        workdir=workdir,
        errors=errors,
    )
    with fault_kind(experiment.method).prepare(context) as setup:
        window = _run_window(experiment, setup, injections, t0, say, errors, supervisor)
    if window.interrupted is not None:
        errors.append(
            f"interrupted after {len(window.results)} of {injections} injection(s): "
            "the completed ones are kept"
        )
    restarts = supervisor.restarts[restarts_before:] if supervisor else ()
    if supervisor is not None and supervisor.failed:
        errors.append(f"supervisor gave up: {supervisor.failed}")
    load = window.load
    if load is not None and not load.within_budget:
        errors.append(
            f"error budget exceeded: load error rate {load.fault_window.error_rate:.4f} "
            f"({load.fault_window.window}) > max_error_rate {experiment.expect.max_error_rate}"
        )
    result = ExperimentResult(
        name=experiment.name,
        title=experiment.title,
        faults=tuple(experiment.method),
        fault_json=_fault_json(experiment),
        server_kind=server.kind,
        steady_state_met=window.steady_ok,
        injections=tuple(window.results),
        timeline=window.samples,
        max_recovery_s=experiment.expect.max_recovery_s,
        max_error_rate=experiment.expect.max_error_rate,
        error="; ".join(errors) or None,
        link=experiment.link,
        restarts=tuple(restarts),
        load=load,
        pod=setup.pod.record() if setup.pod is not None else None,
        partial=window.interrupted is not None,
        started_epoch=started_epoch,
    )
    if window.interrupted is not None:
        raise ExperimentInterrupted(result, window.interrupted)
    return result


@dataclass
class _Window:
    """What one experiment's window (steady state, injections, recovery) recorded."""

    steady_ok: bool = False
    results: list[InjectionResult] = field(default_factory=list)
    windows: list[tuple[float, float]] = field(default_factory=list)
    samples: tuple[ProbeSample, ...] = ()
    load: FaultLoadResult | None = None
    interrupted: KeyboardInterrupt | None = None  # SIGINT or SIGTERM during the window


def _run_window(
    experiment: Experiment,
    setup: Prepared,
    injections: int,
    t0: float,
    say: Callable[[str], None],
    errors: list[str],
    supervisor: Supervisor[ReferenceTarget] | None,
) -> _Window:
    """Probe the steady state, inject ``injections`` times, probe the recoveries; the load
    (when the experiment asks for it) runs the whole window."""
    window = _Window()
    settle_s = supervisor.policy.start_deadline_s + 5.0 if supervisor else 0.0
    pod = setup.pod
    prober = (
        _Prober(setup.probe_url, experiment, t0, path=pod.path, judge=pod.judge)
        if pod is not None
        else _Prober(setup.probe_url, experiment, t0)
    )
    load = (
        FaultLoad(
            experiment,
            setup.probe_url,
            _load_bound_s(experiment, injections),
            clock=lambda: time.monotonic() - t0,
        )
        if experiment.load.enabled
        else None
    )
    try:
        if load is not None:
            say(f"{experiment.name}: load {experiment.load.rate_rps} req/s on {setup.probe_url}")
            load.start()
            prober.on_probe = load.observe
        window.steady_ok = _probe_steady(prober, experiment, errors, say)
        for index in range(injections if window.steady_ok else 0):
            result = _inject_once(
                prober, setup.injector, experiment, index, injections, t0, say, pod
            )
            window.results.append(result)
            window.windows.append(_fault_window(result, prober.samples))
            if supervisor is not None and not supervisor.settle(settle_s):
                errors.append(f"the supervised API did not settle within {settle_s} s")
                break
    except KeyboardInterrupt as exc:  # the injection under way was rolled back (finally)
        window.interrupted = exc
    finally:
        prober.close()
        if load is not None and load.started:
            window.load = load.finish(window.windows or [(0.0, time.monotonic() - t0)])
        window.samples = tuple(prober.samples)
    return window


def _probe_steady(
    prober: _Prober, experiment: Experiment, errors: list[str], say: Callable[[str], None]
) -> bool:
    ss = experiment.steady_state
    steady = [prober.probe("steady") for _ in range(ss.samples)]
    healthy = sum(1 for s in steady if prober.healthy(s))
    answered = sum(1 for s in steady if s.ok)
    if answered == len(steady) and healthy >= ss.min_healthy_fraction * len(steady):
        return True
    errors.append(
        f"steady state not met before the fault: {answered}/{len(steady)} probes answered "
        f"with status in {ss.expect_status}, {healthy}/{len(steady)} within "
        f"{ss.max_latency_ms} ms (needed all answered and "
        f"{ss.min_healthy_fraction:.0%} within the bound)"
    )
    say(errors[-1])
    return False


def _inject_once(
    prober: _Prober,
    injector: Injector,
    experiment: Experiment,
    index: int,
    injections: int,
    t0: float,
    say: Callable[[str], None],
    pod: PodUnderTest | None = None,
) -> InjectionResult:
    ss = experiment.steady_state
    window_start = len(prober.samples)
    if index:
        # a fresh steady-state window before each further injection
        for _ in range(max(3, ss.samples // 4)):
            prober.probe("steady")
    else:
        window_start = 0
    t_inject = time.monotonic() - t0
    try:
        injector.inject()
        say(f"{experiment.name}: injection {index + 1}/{injections}: fault on")
        if injector.instantaneous:
            # down until the first answer: that probe already belongs to the recovery
            deadline = time.monotonic() + experiment.expect.max_recovery_s
            while time.monotonic() < deadline:
                if prober.healthy(prober.probe("fault")):
                    prober.relabel_last("recovery")
                    break
        else:
            end = time.monotonic() + injector.duration_s
            while time.monotonic() < end:
                prober.probe("fault")
    finally:
        injector.remove()  # rollback always runs
    t_remove = t_inject if injector.instantaneous else time.monotonic() - t0
    say(f"{experiment.name}: injection {index + 1}/{injections}: fault off, probing")
    deadline = time.monotonic() + experiment.expect.max_recovery_s
    streak = 1 if prober.samples[-1].phase == "recovery" else 0
    while time.monotonic() < deadline and streak < ss.recovered_after:
        streak = streak + 1 if prober.healthy(prober.probe("recovery")) else 0
    analysis = analyse_injection(
        prober.samples[window_start:],
        t_inject=t_inject,
        t_remove=t_remove,
        max_latency_ms=ss.max_latency_ms,
        recovered_after=ss.recovered_after,
        min_effect_ms=experiment.expect.min_effect_ms,
        effect_at=None if pod is None or pod.effect_at is None else pod.effect_at - t0,
    )
    if pod is not None:
        pod.end_injection(index)
    say(f"{experiment.name}: {analysis.detail}")
    return InjectionResult(index, t_inject, t_remove, analysis)


def _fault_window(result: InjectionResult, samples: list[ProbeSample]) -> tuple[float, float]:
    """When the fault was on: inject -> remove, or for a kill, inject -> first answer."""
    if result.t_remove > result.t_inject:
        return result.t_inject, result.t_remove
    answered = [s.t_s for s in samples if s.phase == "recovery" and s.t_s >= result.t_inject]
    return result.t_inject, answered[0] if answered else samples[-1].t_s
