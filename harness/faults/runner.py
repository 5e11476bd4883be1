"""Running a chaos experiment through a Toxiproxy server with toxiproxy-python.

For each experiment: a proxy goes in front of the target; the steady state is probed
through it; each injection adds the method's toxics, probes while they are on, removes
them (always, also on error), and probes until the steady state holds again. The
timeline is analysed by :mod:`harness.faults.timeline`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
import toxiproxy

from harness.errors import InfrastructureError
from harness.faults.provision import ToxiproxyServer
from harness.faults.scenario import Experiment
from harness.faults.timeline import InjectionAnalysis, Phase, ProbeSample, analyse_injection

__all__ = ["ExperimentResult", "InjectionResult", "run_experiment"]


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
    faults: tuple[dict[str, object], ...]
    server_kind: str
    steady_state_met: bool
    injections: tuple[InjectionResult, ...]
    timeline: tuple[ProbeSample, ...]
    max_recovery_s: float
    max_error_rate: float
    error: str | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def effect_observed(self) -> bool:
        return bool(self.injections) and all(i.analysis.effect_observed for i in self.injections)

    @property
    def recovery_s(self) -> tuple[float | None, ...]:
        return tuple(i.analysis.recover_s for i in self.injections)

    def to_json(self) -> dict[str, object]:
        first = self.faults[0] if self.faults else {}
        recoveries = [r for r in self.recovery_s if r is not None]
        a0 = self.injections[0].analysis if self.injections else None
        return {
            "name": self.name,
            "title": self.title,
            "fault": {"type": first.get("type"), "attributes": first.get("attributes", {})},
            "faults": list(self.faults),
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
            "timeline": [s.to_json() for s in self.timeline],
            "error": self.error,
            "notes": list(self.notes),
        }


class _Prober:
    """Sends one probe at a time on a fresh connection, paced on a fixed schedule."""

    def __init__(self, url: str, experiment: Experiment, t0: float) -> None:
        ss = experiment.steady_state
        self._url = url + ss.path
        self._expect = set(ss.expect_status)
        self._interval = ss.probe_interval_s
        self._t0 = t0
        self._next = time.monotonic()
        # no keep-alive: every probe opens a connection, as a new client would
        self._client = httpx.Client(
            timeout=ss.probe_timeout_s, limits=httpx.Limits(max_keepalive_connections=0)
        )
        self.samples: list[ProbeSample] = []

    def probe(self, phase: Phase) -> ProbeSample:
        now = time.monotonic()
        if self._next > now:
            time.sleep(self._next - now)  # pacing to the probe schedule, not synchronisation
        self._next = max(self._next + self._interval, time.monotonic())
        start = time.monotonic()
        try:
            response = self._client.get(self._url)
            latency_ms: float | None = (time.monotonic() - start) * 1000
            ok = response.status_code in self._expect
        except httpx.HTTPError:
            latency_ms, ok = None, False
        sample = ProbeSample(start - self._t0, latency_ms, ok, phase)
        self.samples.append(sample)
        return sample

    def close(self) -> None:
        self._client.close()


def _create_proxy(server: ToxiproxyServer, upstream: str) -> toxiproxy.Proxy:
    toxiproxy.Toxiproxy().update_api_consumer(server.host, server.port)
    name = f"moonbase-{uuid.uuid4().hex[:8]}"
    try:
        return toxiproxy.Toxiproxy().create(upstream=upstream, name=name, listen="127.0.0.1:0")
    except Exception as exc:  # toxiproxy-python raises bare Exception subclasses
        raise InfrastructureError(f"Toxiproxy at {server.url} refused a proxy: {exc}") from exc


def _listen_url(proxy: toxiproxy.Proxy) -> str:
    host, _, port = str(proxy.listen).rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    return f"http://{host}:{port}"


def run_experiment(
    experiment: Experiment,
    target_url: str,
    server: ToxiproxyServer,
    *,
    injections: int = 1,
    on_event: Callable[[str], None] | None = None,
) -> ExperimentResult:
    """Run ``experiment`` ``injections`` times against ``target_url`` through ``server``."""
    say = on_event or (lambda _msg: None)
    parts = urlsplit(target_url)
    upstream = f"{parts.hostname}:{parts.port}"
    proxy = _create_proxy(server, upstream)
    t0 = time.monotonic()
    prober = _Prober(_listen_url(proxy), experiment, t0)
    ss = experiment.steady_state
    faults = tuple(
        {
            "type": f.type,
            "stream": f.stream,
            "toxicity": f.toxicity,
            "attributes": dict(f.attributes),
            "duration_s": f.duration_s,
            "link": f.link,
        }
        for f in experiment.method
    )
    results: list[InjectionResult] = []
    error: str | None = None
    steady_ok = False
    try:
        steady = [prober.probe("steady") for _ in range(ss.samples)]
        healthy = sum(1 for s in steady if s.ok and (s.latency_ms or 0) <= ss.max_latency_ms)
        steady_ok = healthy == len(steady)
        if not steady_ok:
            error = (
                f"steady state not met before the fault: {healthy}/{len(steady)} probes healthy "
                f"(status in {ss.expect_status}, latency <= {ss.max_latency_ms} ms)"
            )
            say(error)
        window_start = 0
        for index in range(injections if steady_ok else 0):
            if index:
                # a fresh steady-state window before each further injection
                window_start = len(prober.samples)
                for _ in range(max(3, ss.samples // 4)):
                    prober.probe("steady")
            names = []
            t_inject = time.monotonic() - t0
            try:
                for number, fault in enumerate(experiment.method):
                    toxic_name = f"{fault.type}_{fault.stream}_{number}"
                    proxy.add_toxic(
                        type=fault.type,
                        stream=fault.stream,
                        toxicity=fault.toxicity,
                        attributes=dict(fault.attributes),
                        name=toxic_name,
                    )
                    names.append(toxic_name)
                say(f"{experiment.name}: injection {index + 1}/{injections}: faults on")
                duration = max(f.duration_s for f in experiment.method)
                end = time.monotonic() + duration
                while time.monotonic() < end:
                    prober.probe("fault")
            finally:
                for toxic_name in names:  # rollback always runs
                    proxy.destroy_toxic(toxic_name)
            t_remove = time.monotonic() - t0
            say(f"{experiment.name}: injection {index + 1}/{injections}: faults off, probing")
            deadline = time.monotonic() + experiment.expect.max_recovery_s
            streak = 0
            while time.monotonic() < deadline and streak < ss.recovered_after:
                sample = prober.probe("recovery")
                healthy_now = sample.ok and (sample.latency_ms or 0) <= ss.max_latency_ms
                streak = streak + 1 if healthy_now else 0
            analysis = analyse_injection(
                prober.samples[window_start:],
                t_inject=t_inject,
                t_remove=t_remove,
                max_latency_ms=ss.max_latency_ms,
                recovered_after=ss.recovered_after,
                min_effect_ms=experiment.expect.min_effect_ms,
            )
            results.append(InjectionResult(index, t_inject, t_remove, analysis))
            say(f"{experiment.name}: {analysis.detail}")
    finally:
        prober.close()
        try:
            proxy.destroy()
        except Exception as exc:  # noqa: BLE001 - reported, not swallowed
            error = (error + "; " if error else "") + f"could not remove proxy: {exc}"
    return ExperimentResult(
        name=experiment.name,
        title=experiment.title,
        faults=faults,
        server_kind=server.kind,
        steady_state_met=steady_ok,
        injections=tuple(results),
        timeline=tuple(prober.samples),
        max_recovery_s=experiment.expect.max_recovery_s,
        max_error_rate=experiment.expect.max_error_rate,
        error=error,
    )
