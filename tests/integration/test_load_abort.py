"""k6's abort-on-fail through the CLI: a gate marked abort_on_fail ends the load once it
fails while the load runs, the report says when and why, and the exit code is 1."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import run_cli
from slowing_server import SlowingServer, serve_slowing

pytestmark = pytest.mark.integration


@pytest.fixture
def slowing() -> Iterator[SlowingServer]:
    yield from serve_slowing()


def _load(
    url: str, report_dir: Path, *sets: str, duration: str = "20"
) -> tuple[int, dict[str, object], str]:
    # 100 req/s for 20 s planned (unless the test says otherwise)
    args = ["load", "--target-url", url, "--report-dir", str(report_dir), "--duration",
            duration, "--rate", "100", "--set", "load.path=/work",
            "--set", "resources.enabled=false"]  # fmt: skip
    for item in sets:
        args += ["--set", item]
    done = run_cli(*args, timeout=120)
    (report,) = (p for p in report_dir.glob("*/report.json") if p.parent.name != "latest")
    return done.returncode, json.loads(report.read_text()), done.stdout + done.stderr


def test_a_failing_p95_marked_abort_on_fail_ends_the_load_early_with_exit_1(
    slowing: SlowingServer, tmp_path: Path
) -> None:
    slowing.slow_after_s, slowing.slow_s = 0.0, 0.2
    started = time.monotonic()
    code, report, output = _load(
        slowing.url, tmp_path, "gates.load_p95_ms=50", 'gates.abort_on_fail=["load_p95_ms"]'
    )
    assert code == 1, output
    assert time.monotonic() - started < 15  # the 20 s load did not run to its end
    load = report["load"]
    assert isinstance(load, dict)
    stopped = load["stopped_early"]
    assert stopped["by"] == "abort_on_fail"
    assert "gate load_p95_ms (abort_on_fail) failed" in stopped["reason"]
    assert 0 < stopped["at_s"] < 10
    assert load["requests"] < 2000
    assert load["interrupted"] is False
    gates = {g["name"]: g for g in report["gates"]}  # type: ignore[union-attr]
    assert gates["load_abort_on_fail"]["outcome"] == "fail"
    assert gates["load_p95_ms"]["outcome"] == "fail"
    summary = (tmp_path / "latest" / "summary.md").read_text()
    assert "stopped early after" in summary
    assert "load: stopped early after" in output


def test_a_request_gate_marked_abort_on_fail_ends_the_load_on_its_own_evidence(
    slowing: SlowingServer, tmp_path: Path
) -> None:
    slowing.slow_after_s, slowing.slow_s = 0.0, 0.2
    code, report, output = _load(
        slowing.url, tmp_path,
        'gates.requests=[{name = "GET /work", p95_ms = 50, abort_on_fail = true}]',
    )  # fmt: skip
    assert code == 1, output
    load = report["load"]
    assert isinstance(load, dict)
    assert "load_p95_ms[GET /work]" in load["stopped_early"]["reason"]


def test_an_unmarked_failing_gate_lets_the_load_run_its_plan(
    slowing: SlowingServer, tmp_path: Path
) -> None:
    slowing.slow_after_s, slowing.slow_s = 0.0, 0.2
    code, report, output = _load(slowing.url, tmp_path, "gates.load_p95_ms=50", duration="2")
    assert code == 1, output
    load = report["load"]
    assert isinstance(load, dict)
    assert "stopped_early" not in load
    assert load["requests"] == 200


def test_abort_on_fail_judges_the_histograms_merged_across_two_processes(
    slowing: SlowingServer, tmp_path: Path
) -> None:
    slowing.slow_after_s, slowing.slow_s = 0.0, 0.2
    code, report, output = _load(
        slowing.url, tmp_path, "gates.load_p95_ms=50", 'gates.abort_on_fail=["load_p95_ms"]',
        "load.processes=2", "load.users=4",
    )  # fmt: skip
    assert code == 1, output
    load = report["load"]
    assert isinstance(load, dict)
    assert load["processes"] == 2
    assert load["stopped_early"]["by"] == "abort_on_fail"
    assert load["requests"] < 2000
