"""The ways a fault goes on and comes off: toxics on a proxy, signals to the API process.

One class per kind behind the :class:`Injector` protocol. ``inject`` puts the fault on,
``remove`` takes it off and is always called (rollback), also after an error. A fault is
``instantaneous`` when it has no duration of its own (a kill): the runner then treats the
injection time as the removal time and probes until the service answers again.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Sequence
from typing import Protocol

import toxiproxy

from harness.faults.pod import PodUnderTest
from harness.faults.scenario import FaultSpec

__all__ = [
    "ContainerKillInjector",
    "Injector",
    "KillInjector",
    "PauseInjector",
    "SignalTarget",
    "ToxicInjector",
]


class Injector(Protocol):
    """A fault that can be put on and taken off, once per injection."""

    @property
    def instantaneous(self) -> bool: ...

    @property
    def duration_s(self) -> float: ...

    def inject(self) -> None: ...

    def remove(self) -> None: ...


class SignalTarget(Protocol):
    """A process the harness owns and may signal (``ReferenceTarget``)."""

    @property
    def pid(self) -> int: ...

    def send_signal(self, sig: signal.Signals) -> None: ...


class ToxicInjector:
    """Every toxic of the method on one proxy, together."""

    instantaneous = False

    def __init__(self, proxy: toxiproxy.Proxy, method: Sequence[FaultSpec]) -> None:
        self._proxy = proxy
        self._method = list(method)
        self._names: list[str] = []

    @property
    def duration_s(self) -> float:
        return max(f.duration_s for f in self._method)

    def inject(self) -> None:
        for number, fault in enumerate(self._method):
            name = f"{fault.type}_{fault.stream}_{number}"
            self._proxy.add_toxic(
                type=fault.type,
                stream=fault.stream,
                toxicity=fault.toxicity,
                attributes=dict(fault.attributes),
                name=name,
            )
            self._names.append(name)

    def remove(self) -> None:
        names, self._names = self._names, []
        for name in names:
            self._proxy.destroy_toxic(name)


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


class KillInjector:
    """Send the kill signal once; the supervisor, not the runner, brings the service back."""

    instantaneous = True
    duration_s = 0.0

    def __init__(
        self,
        process: SignalTarget,
        fault: FaultSpec,
        announce: Callable[[], None] | None = None,
    ) -> None:
        self._process = process
        self._signal = signal.Signals[fault.kill_signal]
        self._announce = announce  # tells the supervisor this death is ours

    def inject(self) -> None:
        if self._announce is not None:
            self._announce()
        self._process.send_signal(self._signal)

    def remove(self) -> None:
        return None  # nothing to undo: restarting is the supervisor's job, and what we measure


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
