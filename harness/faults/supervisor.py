"""A supervisor for the reference API: restart it on the same port when it dies, like systemd.

The chaos phase owns the reference API it starts for a process-fault experiment through a
:class:`Supervisor`. A watcher thread checks the process every ``poll_interval_s``; when it
has exited without being asked to (a ``kill -9``, a crash), the supervisor starts a new one
on the same port, data directory and token (``Restart=always``) and records the restart. A
:class:`RestartPolicy` bounds the restarts the way systemd's ``StartLimitBurst`` within
``StartLimitIntervalSec`` does, so a service that dies at once on every start is given up
on instead of being restarted forever. A chaos experiment announces its kills
(:meth:`Supervisor.announce_kill`): those deaths are restarted like any other, but they do
not count towards the limit, so 59 injected kills in a minute are not a crash loop.

The decision logic (:meth:`Supervisor.check_once`, :class:`RestartPolicy`) takes the time
as an argument and talks to the process through the small :class:`SupervisedProcess`
protocol, so it is tested without sockets.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from harness.errors import InfrastructureError

__all__ = ["RestartPolicy", "RestartRecord", "SupervisedProcess", "Supervisor"]


class SupervisedProcess(Protocol):
    """What the supervisor needs of a service (``ReferenceTarget`` provides it)."""

    @property
    def pid(self) -> int: ...

    def alive(self) -> bool: ...

    def exit_status(self) -> str: ...

    def restart(self, deadline_s: float = 30.0) -> object: ...

    def stop(self) -> None: ...


P = TypeVar("P", bound=SupervisedProcess)


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    """At most ``burst`` restarts within ``interval_s`` (systemd's defaults: 5 in 10 s),
    each ``delay_s`` after the death was seen (systemd's ``RestartSec``, default 0)."""

    burst: int = 5
    interval_s: float = 10.0
    start_deadline_s: float = 30.0
    delay_s: float = 0.0

    def allows(self, previous_starts: Sequence[float], now: float) -> bool:
        """True when one more restart at ``now`` stays within the limit."""
        recent = [t for t in previous_starts if now - t < self.interval_s]
        return len(recent) < self.burst


@dataclass(frozen=True, slots=True)
class RestartRecord:
    """One unexpected death and what the supervisor did about it."""

    died_pid: int
    exit_status: str  # "signal SIGKILL", "exit 1"
    detected_at: float  # monotonic seconds
    restarted_at: float | None  # None when the restart failed or was not allowed
    new_pid: int | None
    error: str | None = None
    injected: bool = False  # the death followed an announced (chaos) kill

    @property
    def restart_s(self) -> float | None:
        """Detection -> the new process answering, in seconds."""
        return None if self.restarted_at is None else self.restarted_at - self.detected_at

    def to_json(self) -> dict[str, object]:
        return {
            "died_pid": self.died_pid,
            "exit_status": self.exit_status,
            "new_pid": self.new_pid,
            "restart_s": None if self.restart_s is None else round(self.restart_s, 4),
            "error": self.error,
            "injected": self.injected,
        }


class Supervisor(Generic[P]):
    """Keeps one service running; :meth:`stop` ends it for good (no restart after that)."""

    def __init__(
        self,
        process: P,
        *,
        policy: RestartPolicy | None = None,
        poll_interval_s: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.process = process
        self.policy = policy or RestartPolicy()
        self._poll_interval_s = poll_interval_s
        self._clock = clock
        self._records: list[RestartRecord] = []
        self._starts: list[float] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._restarting = False
        self._announced = False
        self.failed: str | None = None  # set when the supervisor gave up

    @property
    def restarts(self) -> tuple[RestartRecord, ...]:
        """Every unexpected death seen so far, oldest first."""
        with self._lock:
            return tuple(self._records)

    def check_once(self, now: float) -> RestartRecord | None:
        """Look at the process once; restart it when it died. Returns what was done, if any."""
        if self._stopping.is_set() or self.failed is not None or self.process.alive():
            return None
        died_pid, status = self.process.pid, self.process.exit_status()
        with self._lock:
            injected, self._announced = self._announced, False
        if not injected and not self.policy.allows(self._starts, now):
            self.failed = (
                f"pid {died_pid} ended ({status}) after {self.policy.burst} restarts within "
                f"{self.policy.interval_s} s: restart limit reached, giving up"
            )
            record = RestartRecord(died_pid, status, now, None, None, self.failed)
        else:
            if not injected:
                self._starts.append(now)
            self._restarting = True
            if self.policy.delay_s > 0 and self._stopping.wait(self.policy.delay_s):
                # stopped during RestartSec: an expected end, not restarted
                record = RestartRecord(
                    died_pid, status, now, None, None, "stopped before the restart", injected
                )
                with self._lock:
                    self._records.append(record)
                    self._restarting = False
                return record
            try:
                self.process.restart(self.policy.start_deadline_s)
            except InfrastructureError as exc:
                record = RestartRecord(died_pid, status, now, None, None, str(exc), injected)
            else:
                record = RestartRecord(
                    died_pid, status, now, self._clock(), self.process.pid, None, injected
                )
        with self._lock:
            self._records.append(record)
            self._restarting = False
        return record

    def announce_kill(self) -> None:
        """The next death is a chaos kill: restart it, but not towards the crash-loop limit."""
        with self._lock:
            self._announced = True

    def settle(self, deadline_s: float) -> bool:
        """Wait until the process runs and no restart is under way (True), or the deadline.

        Clients may see the new process answer a moment before its restart is recorded;
        the runner settles before reading :attr:`restarts` or injecting again.
        """
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            with self._lock:
                busy = self._restarting
            if self.failed is not None or (not busy and self.process.alive()):
                return self.failed is None
            time.sleep(self._poll_interval_s)  # polling interval, bounded by the deadline
        return False

    def _watch(self) -> None:
        while not self._stopping.wait(self._poll_interval_s):
            self.check_once(self._clock())

    def start(self) -> None:
        """Start watching (the process must already be running)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._watch, name="supervisor", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop watching, then stop the process: an expected end, never restarted."""
        self._stopping.set()
        if self._thread is not None:
            # a restart in progress finishes first (bounded by the policy's start deadline)
            self._thread.join(self.policy.start_deadline_s + 5.0)
            self._thread = None
        self.process.stop()

    def __enter__(self) -> Supervisor[P]:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
