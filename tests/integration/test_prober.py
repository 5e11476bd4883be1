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
from harness.prober import WholeRunProber, read_timeline
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
