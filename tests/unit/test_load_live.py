"""Live progress: the histograms a load process sends while it runs, merged across
processes and read as the gates' evidence (abort_on_fail)."""

from __future__ import annotations

from harness.load.recorder import Recorder, merge_live
from harness.load.result import DROPPED, LoadProgress
from harness.phases.load_stop import live_evidence


def _recorder(latencies_ms: list[float], name: str = "GET /a") -> Recorder:
    rec = Recorder(epoch=0.0)
    for ms in latencies_ms:
        rec.record(ms / 1000, None, name)
    return rec


def test_live_progress_carries_the_histograms_only_when_asked() -> None:
    rec = _recorder([1.0, 2.0])
    rec.drop("GET /a")
    assert "histogram" not in rec.progress()
    live = rec.progress(live=True)
    assert live["requests"] == 3
    assert live["dropped"] == 1
    assert live["by_request"]["GET /a"]["failures"] == 1
    assert rec.errors == {DROPPED: 1}


def test_merged_live_histograms_are_read_as_evidence_per_name() -> None:
    one = _recorder([1.0] * 100).progress(live=True)
    two = _recorder([100.0] * 100, name="GET /b").progress(live=True)
    merged = merge_live([one, two])
    progress = LoadProgress(
        elapsed_s=1.0, duration_s=10.0, requests=200, failures=0,
        histogram=merged["histogram"],
        by_request=tuple(
            (n, b["requests"], b["failures"], b["histogram"])
            for n, b in merged["by_request"].items()
        ),
    )  # fmt: skip
    evidence = live_evidence(progress)
    assert evidence is not None
    assert evidence.p95.n == 200
    by_name = dict(evidence.by_request)
    assert by_name["GET /a"].p95.estimate_ms < 2.0
    assert by_name["GET /b"].p95.estimate_ms > 90.0
    assert live_evidence(LoadProgress(1.0, 10.0, 0, 0)) is None
