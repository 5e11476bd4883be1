"""The whole-run prober: a process of its own, probing a real server, whose timeline gives
the outages as they happened and leaves out the time it was not there."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from http_servers import loopback_http

from harness.availability import ProbePoint, analyse_probes
from harness.faults.supervisor import RestartPolicy, Supervisor
from harness.phases.watch_phase import REFERENCE_PROBE_PATH
from harness.prober import WholeRunProber, read_timeline
from harness.target import ReferenceTarget
from target_api.testing import poll_until

pytestmark = [pytest.mark.integration]


def _analysed(timeline, interval_s: float = 0.05):  # noqa: ANN001, ANN202
    t0 = timeline[0].t
    return analyse_probes([ProbePoint(p.t - t0, p.ok) for p in timeline], interval_s=interval_s)


def test_a_target_down_for_3_s_shows_one_outage_of_3_s(tmp_path: Path) -> None:
    state = {"down": False}
    out = tmp_path / "probes.jsonl"
    with loopback_http(lambda _path: 503 if state["down"] else 200) as (url, _server):
        prober = WholeRunProber(url, out, path="/healthz", interval_s=0.05, timeout_s=0.5)
        with prober:
            poll_until("40 probes recorded", lambda: len(read_timeline(out)) >= 40, 20)
            state["down"] = True
            time.sleep(3.0)  # the outage itself: the stimulus, not a wait for anything
            state["down"] = False
            seen = len(read_timeline(out))
            poll_until("40 more probes", lambda: len(read_timeline(out)) >= seen + 40, 20)
        timeline = read_timeline(out)
    result = _analysed(timeline)
    (outage,) = result.outages
    assert outage.duration_s == pytest.approx(3.0, abs=0.3)
    assert result.point == pytest.approx(1 - 3.0 / result.observed_s, abs=0.03)
    assert result.lower < result.point < result.upper <= 1.0
    assert all(not p.ok for p in timeline if outage.start_s <= p.t - timeline[0].t < outage.end_s)


def test_a_prober_that_dies_is_restarted_and_its_absence_is_not_uptime(tmp_path: Path) -> None:
    out = tmp_path / "probes.jsonl"
    with loopback_http(lambda _path: 200) as (url, _server):
        prober = WholeRunProber(url, out, path=None, interval_s=0.05, timeout_s=0.5)
        with prober:
            poll_until("20 probes recorded", lambda: len(read_timeline(out)) >= 20, 20)
            assert prober._process is not None
            os.kill(prober._process.pid, signal.SIGKILL)  # the prober we started, by its PID
            seen = len(read_timeline(out))
            poll_until(
                "the restarted prober probing",
                lambda: len(read_timeline(out)) >= seen + 20,
                30,
            )
            assert prober.restarts == 1
        timeline = read_timeline(out)
    result = _analysed(timeline)
    assert result.outages == ()  # its own death is no outage of the target
    assert result.gaps_s > 0.25  # the time it was away is not observed


@pytest.mark.slow
def test_the_reference_api_killed_and_restarted_3_s_later_is_down_3_s_of_15(
    tmp_path: Path,
) -> None:
    """A 15 s watch of the real reference API, killed by SIGKILL at 5 s and restarted by
    the supervisor so that it answers again about 3 s later (RestartSec set from its own
    start-up time): one outage of the time it was really down, availability about 0.8."""
    target = ReferenceTarget(tmp_path / "api")
    began = time.monotonic()
    target.start()
    startup_s = time.monotonic() - began
    policy = RestartPolicy(delay_s=max(0.0, 3.0 - startup_s))
    out = tmp_path / "probes.jsonl"
    prober = WholeRunProber(
        target.url, out, path=REFERENCE_PROBE_PATH, interval_s=0.05, timeout_s=0.5
    )
    span = lambda: (lambda t: t[-1].t - t[0].t if t else 0.0)(read_timeline(out))  # noqa: E731
    with Supervisor(target, policy=policy) as supervisor, prober:
        poll_until("5 s of probes", lambda: span() >= 5.0, 30)
        supervisor.announce_kill()
        killed_at = time.monotonic()
        os.kill(target.pid, signal.SIGKILL)  # the API this test started, by its PID
        poll_until("the restart", lambda: bool(supervisor.restarts), 30)
        (restart,) = supervisor.restarts
        assert restart.restarted_at is not None, restart.error
        down_s = restart.restarted_at - killed_at  # killed -> the new process answering
        poll_until("15 s of probes", lambda: span() >= 15.0, 40)
    result = _analysed(read_timeline(out))
    assert 2.5 <= down_s <= 3.6  # the staged outage: about 3 s
    (outage,) = result.outages
    assert outage.duration_s == pytest.approx(down_s, abs=0.3)
    assert result.observed_s == pytest.approx(15.0, abs=0.5)
    # the staged outage's share of the watch, to the outage's own 0.3 s (on a busy machine
    # a probe every 0.05 s can take up to its 0.5 s timeout)
    assert result.point == pytest.approx(1 - down_s / result.observed_s, abs=0.3 / 14.5)
    assert result.point == pytest.approx(0.8, abs=0.05)
    assert result.lower <= result.point <= result.upper
