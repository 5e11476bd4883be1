"""The nines stopping rule through the CLI: stop once request success is proven, or as
soon as a failure makes it impossible within the budget (here at 99.9%: 2,995 requests)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import run_cli
from slowing_server import SlowingServer, serve_slowing

pytestmark = pytest.mark.integration


@pytest.fixture
def slowing() -> Iterator[SlowingServer]:
    state = next(serve := serve_slowing())
    state.slow_after_s = 1e9  # always fast
    yield state
    next(serve, None)


def _nines(url: str, report_dir: Path) -> tuple[int, dict[str, object], str]:
    # the nines profile's rule at 99.9%: 2,995 clean requests prove it (one-sided 95%)
    done = run_cli(
        "load", "--profile", "nines", "--target-url", url, "--report-dir", str(report_dir),
        "--set", "load.path=/work", "--set", "load.prove_success=0.999",
        "--set", "load.max_requests=2995", "--set", "load.processes=1", "--set", "load.users=4",
        "--set", "gates.load_error_rate=0.001", "--set", "resources.enabled=false",
        timeout=120,
    )  # fmt: skip
    report = json.loads((report_dir / "latest" / "report.json").read_text())
    return done.returncode, report["load"], done.stdout + done.stderr


def test_nines_stops_at_the_proof_and_states_requests_time_and_bound(
    slowing: SlowingServer, tmp_path: Path
) -> None:
    code, load, output = _nines(slowing.url, tmp_path)
    assert code == 0, output
    assert isinstance(load, dict)
    assert load["requests"] == 2995 == len(slowing.arrivals)
    proof = load["proof"]
    assert proof["outcome"] == "proven"
    assert proof["requests"] == 2995
    assert proof["lower_bound"] == pytest.approx(0.999, abs=1e-6)
    assert proof["lower_bound"] >= 0.999
    assert proof["duration_s"] > 0
    assert "request success >= 0.999: proven (2,995/2,995 in" in output
    summary = (tmp_path / "latest" / "summary.md").read_text()
    assert "Proof: **request success >= 0.999: proven: 2,995/2,995 requests" in summary


def test_nines_stops_as_soon_as_a_failure_makes_the_proof_impossible(
    slowing: SlowingServer, tmp_path: Path
) -> None:
    # 5 ms an answer, 4 users: the budget would take ~4 s; request 100 fails at once
    slowing.slow_after_s, slowing.slow_s, slowing.fail_at = 0.0, 0.005, 100
    code, load, output = _nines(slowing.url, tmp_path)
    assert code != 0, output
    assert isinstance(load, dict)
    assert load["failures"] == 1
    assert load["requests"] < 2995  # stopped before the budget was spent
    assert load["stopped_early"]["by"] == "nines"
    assert "cannot be shown within the budget of 2,995 requests" in load["stopped_early"]["reason"]
    assert load["proof"]["outcome"] == "impossible"
