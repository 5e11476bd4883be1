"""``kill``: one signal to the reference API process (SIGKILL unless the file says
otherwise); its supervisor, not the harness, brings the service back, and that is what the
experiment measures."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from harness.errors import UsageError
from harness.faults.base import FaultContext, Prepared, SignalTarget, register
from harness.faults.spec import FaultSpec, PodSpec

if TYPE_CHECKING:
    from harness.faults.supervisor import Supervisor
    from harness.target import ReferenceTarget

__all__ = ["KillInjector", "supervised_api"]


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


def supervised_api(ctx: FaultContext) -> Supervisor[ReferenceTarget]:
    """The supervised reference API a process fault acts on; refused without one."""
    if ctx.supervisor is None:
        raise UsageError(
            f"experiment {ctx.name!r} ({ctx.source}) injects a process fault: "
            "it needs the reference API the harness starts, not an external target"
        )
    return ctx.supervisor


class _Kill:
    name = "kill"
    needs_supervised_api = True
    needs_postgres = False

    def describe(self, fault: FaultSpec, pod: PodSpec | None) -> dict[str, object]:
        return {
            "kind": fault.kind,
            "type": fault.type,
            "link": fault.link,
            "signal": fault.kill_signal,
        }

    @contextlib.contextmanager
    def prepare(self, ctx: FaultContext) -> Iterator[Prepared]:
        supervisor = supervised_api(ctx)
        api = supervisor.process
        yield Prepared(api.url, KillInjector(api, ctx.method[0], supervisor.announce_kill))


register(_Kill())
