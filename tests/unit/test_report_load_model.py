"""Every report names the load model, and the open model's dropped requests are shown."""

from __future__ import annotations

from typing import Any

from harness.report.html import render_html
from harness.report.writers import render_markdown


def _report(load: dict[str, Any]) -> dict[str, Any]:
    return {
        "schema": "moonbase-reliability/1",
        "run_id": "r1",
        "status": "completed",
        "verdict": "fail",
        "exit_code": 1,
        "load": {
            "requests": 250,
            "failures": 120,
            "rps": 100.0,
            "duration_s": 2.5,
            "latency_ms": {"p50": 1.0, "p95": 300.0, "p99": 310.0, "max": 320.0},
            **load,
        },  # fmt: skip
        "gates": [],
    }


OPEN = {"model": "open", "intended_rate_rps": 100.0, "users": 2, "max_in_flight": 8,
        "dropped": 120}  # fmt: skip
CLOSED = {"model": "closed", "intended_rate_rps": 0.0, "users": 7}


def test_summary_names_the_open_model_with_its_cap_and_what_it_dropped() -> None:
    md = render_markdown(_report(OPEN))
    assert "open model: 100 req/s intended" in md
    assert "at most 8 in flight; 120/250 dropped" in md


def test_summary_names_the_closed_model_and_its_users() -> None:
    md = render_markdown(_report(CLOSED))
    assert "closed model: 7 users, each sending when its last reply is back" in md
    assert "dropped" not in md


def test_html_shows_the_model_and_the_dropped_count() -> None:
    html = render_html(_report(OPEN))
    assert 'id="load-dropped">120<' in html
    assert "open model: 100 req/s intended" in html
    closed = render_html(_report(CLOSED))
    assert "closed model: 7 users" in closed
    assert 'id="load-dropped"' not in closed


def test_a_load_that_stopped_early_says_when_and_why() -> None:
    stopped = {"stopped_early": {"at_s": 3.2, "reason": "gate load_p95_ms failed"}}
    md = render_markdown(_report(OPEN | stopped))
    assert "stopped early after 3.2 s: gate load_p95_ms failed" in md
    assert 'id="load-stopped"' in render_html(_report(OPEN | stopped))
