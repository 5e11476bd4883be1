"""``pause``: SIGSTOP the reference API process for the fault's duration, SIGCONT when it
comes off: a hang, not a crash."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

from harness.faults.base import FaultContext, Prepared, SignalTarget, register
from harness.faults.kill import supervised_api
from harness.faults.spec import FaultSpec, PodSpec

__all__ = ["PauseInjector"]


class PauseInjector:
    """SIGSTOP the process for the fault's duration, SIGCONT on removal: a hang."""

    instantaneous = False

    def __init__(self, process: SignalTarget, fault: FaultSpec) -> None:
        self._process = process
        self._fault = fault
        self._stopped_pid: int | None = None

    @property
    def duration_s(self) -> float:
        return self._fault.duration_s

    def inject(self) -> None:
        self._stopped_pid = self._process.pid
        self._process.send_signal(signal.SIGSTOP)

    def remove(self) -> None:
        # resume the very process that was stopped, even if a supervisor replaced it since
        if self._stopped_pid is not None and self._stopped_pid == self._process.pid:
            self._process.send_signal(signal.SIGCONT)
        self._stopped_pid = None


class _Pause:
    name = "pause"
    needs_supervised_api = True
    needs_postgres = False

    def describe(self, fault: FaultSpec, pod: PodSpec | None) -> dict[str, object]:
        return {
            "kind": fault.kind,
            "type": fault.type,
            "link": fault.link,
            "duration_s": fault.duration_s,
        }

    @contextlib.contextmanager
    def prepare(self, ctx: FaultContext) -> Iterator[Prepared]:
        api = supervised_api(ctx).process
        yield Prepared(api.url, PauseInjector(api, ctx.method[0]))


register(_Pause())
