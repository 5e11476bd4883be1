"""The supervisor's restart decisions and the process-fault injectors, without sockets.

A small fake process records what the supervisor asks of it; the clock is passed in.
"""

from __future__ import annotations

import signal

import pytest

from harness.chaos.experiment import FaultSpec
from harness.errors import TargetStartError
from harness.faults.kill import KillInjector
from harness.faults.pause import PauseInjector
from harness.faults.supervisor import RestartPolicy, Supervisor


class FakeProcess:
    """Alive until ``die`` is called; ``restart`` brings it back under a new pid."""

    def __init__(self, fail_restarts: int = 0) -> None:
        self.pid = 100
        self._alive = True
        self.status = "running"
        self.restart_calls = 0
        self.stop_calls = 0
        self.fail_restarts = fail_restarts
        self.signals: list[tuple[int, signal.Signals]] = []

    def die(self, status: str = "signal SIGKILL") -> None:
        self._alive, self.status = False, status

    def alive(self) -> bool:
        return self._alive

    def exit_status(self) -> str:
        return self.status

    def restart(self, deadline_s: float = 30.0) -> object:
        self.restart_calls += 1
        if self.fail_restarts:
            self.fail_restarts -= 1
            raise TargetStartError(f"reference API did not start within {deadline_s} s")
        self.pid += 1
        self._alive, self.status = True, "running"
        return None

    def stop(self) -> None:
        self.stop_calls += 1
        self._alive = False

    def send_signal(self, sig: signal.Signals) -> None:
        self.signals.append((self.pid, sig))


def _supervisor(
    process: FakeProcess, burst: int = 5, interval_s: float = 10.0
) -> Supervisor[FakeProcess]:
    policy = RestartPolicy(burst=burst, interval_s=interval_s)
    return Supervisor(process, policy=policy, clock=lambda: 50.0)


def test_a_live_process_is_left_alone() -> None:
    process = FakeProcess()
    supervisor = _supervisor(process)
    assert supervisor.check_once(1.0) is None
    assert process.restart_calls == 0
    assert supervisor.restarts == ()


def test_a_killed_process_is_restarted_and_the_restart_recorded() -> None:
    process = FakeProcess()
    supervisor = _supervisor(process)
    process.die("signal SIGKILL")
    record = supervisor.check_once(10.0)
    assert record is not None
    assert (record.died_pid, record.new_pid) == (100, 101)
    assert record.exit_status == "signal SIGKILL"
    assert record.restart_s == pytest.approx(40.0)  # detected at 10, answering at clock 50
    assert supervisor.restarts == (record,)
    assert supervisor.check_once(10.1) is None  # the new process is alive: nothing to do


def test_after_stop_a_death_is_expected_and_never_restarted() -> None:
    process = FakeProcess()
    supervisor = _supervisor(process)
    supervisor.stop()
    assert process.stop_calls == 1
    assert supervisor.check_once(1.0) is None
    assert process.restart_calls == 0


def test_the_supervisor_gives_up_past_the_restart_burst_like_systemd() -> None:
    process = FakeProcess()
    supervisor = _supervisor(process, burst=3, interval_s=10.0)
    for t in (1.0, 2.0, 3.0):
        process.die()
        record = supervisor.check_once(t)
        assert record is not None
        assert record.error is None
    process.die("exit 3")
    record = supervisor.check_once(4.0)
    assert record is not None
    assert record.new_pid is None
    assert supervisor.failed is not None
    assert "restart limit reached" in supervisor.failed
    assert "exit 3" in supervisor.failed
    assert process.restart_calls == 3
    assert supervisor.check_once(30.0) is None  # gave up for good


def test_restarts_spread_beyond_the_interval_stay_allowed() -> None:
    policy = RestartPolicy(burst=2, interval_s=10.0)
    assert policy.allows([1.0, 2.0], 11.5)
    assert not policy.allows([1.0, 2.0], 10.5)


def test_a_failed_restart_is_recorded_and_tried_again_at_the_next_check() -> None:
    process = FakeProcess(fail_restarts=1)
    supervisor = _supervisor(process)
    process.die()
    first = supervisor.check_once(1.0)
    assert first is not None
    assert first.new_pid is None
    assert first.error is not None
    assert "did not start" in first.error
    second = supervisor.check_once(1.1)
    assert second is not None
    assert second.new_pid == 101
    assert process.restart_calls == 2


def test_pause_stops_then_continues_the_same_process() -> None:
    process = FakeProcess()
    fault = FaultSpec(kind="process", type="pause", duration_s=1.0)
    injector = PauseInjector(process, fault)
    assert not injector.instantaneous
    assert injector.duration_s == 1.0
    injector.inject()
    injector.remove()
    injector.remove()  # a second rollback sends nothing more
    assert process.signals == [(100, signal.SIGSTOP), (100, signal.SIGCONT)]


def test_pause_never_continues_a_replacement_process() -> None:
    process = FakeProcess()
    injector = PauseInjector(process, FaultSpec(kind="process", type="pause"))
    injector.inject()
    process.pid = 200  # a supervisor replaced it meanwhile
    injector.remove()
    assert process.signals == [(100, signal.SIGSTOP)]


def test_kill_sends_the_configured_signal_once_and_is_instantaneous() -> None:
    process = FakeProcess()
    injector = KillInjector(process, FaultSpec(kind="process", type="kill", signal="SIGTERM"))
    assert injector.instantaneous
    injector.inject()
    injector.remove()
    assert process.signals == [(100, signal.SIGTERM)]


def test_settle_is_true_once_the_process_runs_and_false_after_giving_up() -> None:
    process = FakeProcess()
    supervisor = _supervisor(process, burst=1)
    assert supervisor.settle(0.5)
    process.die()
    supervisor.check_once(1.0)
    process.die()
    supervisor.check_once(2.0)  # past the burst of 1: gives up
    assert not supervisor.settle(0.5)


def test_announced_chaos_kills_are_restarted_without_counting_as_a_crash_loop() -> None:
    process = FakeProcess()
    supervisor = _supervisor(process, burst=2, interval_s=10.0)
    injector = KillInjector(
        process, FaultSpec(kind="process", type="kill"), supervisor.announce_kill
    )
    for t in range(1, 11):  # ten kills in ten seconds, five times the burst
        injector.inject()
        process.die()
        record = supervisor.check_once(float(t))
        assert record is not None
        assert record.injected
        assert record.new_pid is not None
    assert supervisor.failed is None
    process.die("exit 1")  # an unannounced death still counts
    record = supervisor.check_once(11.0)
    assert record is not None
    assert not record.injected


def test_a_restart_delay_waits_after_the_death_and_a_stop_cuts_it_short() -> None:
    import threading
    import time

    from target_api.testing import poll_until

    process = FakeProcess()
    supervisor = Supervisor(process, policy=RestartPolicy(delay_s=0.3))
    process.die()
    began = time.monotonic()
    record = supervisor.check_once(0.0)
    assert record is not None
    assert record.new_pid == 101
    assert time.monotonic() - began >= 0.3  # RestartSec: not restarted before the delay
    # a stop during the delay ends the wait at once (the restart then sees it stopping)
    slow = Supervisor(FakeProcess(), policy=RestartPolicy(delay_s=60.0))
    slow.process.die()
    worker = threading.Thread(target=slow.check_once, args=(0.0,))
    began = time.monotonic()
    worker.start()
    poll_until("the supervisor in its restart delay", lambda: slow._restarting, 5)
    slow._stopping.set()
    worker.join(5.0)
    assert not worker.is_alive()
    assert time.monotonic() - began < 5.0
    assert slow.process.restart_calls == 0
    assert slow.restarts[-1].error == "stopped before the restart"
