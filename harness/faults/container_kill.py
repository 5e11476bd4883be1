"""``kill_container``: the experiment creates a pod through the API and kills its container
from outside, as an OOM kill would; the JobDirector, not the harness, restarts it."""

from __future__ import annotations

import contextlib
import signal
import uuid
from collections.abc import Iterator

from harness.errors import InfrastructureError
from harness.faults.base import FaultContext, Prepared, register
from harness.faults.kill import supervised_api
from harness.faults.pod import PodUnderTest
from harness.faults.spec import FaultSpec, PodSpec

__all__ = ["ContainerKillInjector"]


class ContainerKillInjector:
    """Kill a pod's container from outside the API; the JobDirector, not the runner, heals it."""

    instantaneous = True
    duration_s = 0.0

    def __init__(self, pod: PodUnderTest, fault: FaultSpec) -> None:
        self._pod = pod
        self._signal = signal.Signals[fault.kill_signal]

    def inject(self) -> None:
        self._pod.kill(self._signal)

    def remove(self) -> None:
        return None  # nothing to undo: restarting the container is the director's job


class _ContainerKill:
    name = "kill_container"
    needs_supervised_api = True
    needs_postgres = False

    def describe(self, fault: FaultSpec, pod: PodSpec | None) -> dict[str, object]:
        spec = pod or PodSpec()
        return {
            "kind": fault.kind,
            "type": fault.type,
            "link": fault.link,
            "signal": fault.kill_signal,
            "command": list(spec.command),
            "restart_policy": spec.restart_policy,
        }

    @contextlib.contextmanager
    def prepare(self, ctx: FaultContext) -> Iterator[Prepared]:
        api = supervised_api(ctx).process
        name = f"chaos-{ctx.name[:40]}-{uuid.uuid4().hex[:8]}"
        pod = PodUnderTest(api.url, api.token, ctx.pod or PodSpec(), name)
        try:
            pod.create()
            yield Prepared(api.url, ContainerKillInjector(pod, ctx.method[0]), pod)
        finally:
            try:  # rollback: the pod goes, also after an error
                pod.delete()
            except InfrastructureError as exc:
                ctx.errors.append(str(exc))


register(_ContainerKill())
