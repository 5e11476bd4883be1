"""The reports of real runs, as a user gets them: report.json, summary.md and index.html."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_cli

pytestmark = [pytest.mark.integration]


def _latest(report_dir: Path) -> tuple[dict[str, Any], str, str]:
    run_dir = report_dir / "latest"
    return (
        json.loads((run_dir / "report.json").read_text()),
        (run_dir / "summary.md").read_text(),
        (run_dir / "index.html").read_text(),
    )


def _row(markdown: str, first_cell: str) -> list[str]:
    (line,) = [line for line in markdown.splitlines() if line.startswith(f"| {first_cell} |")]
    return [cell.strip() for cell in line.strip("|").split(" | ")]


@pytest.mark.toxiproxy
@pytest.mark.chaos
def test_an_experiment_that_cannot_run_leaves_the_chaos_gate_insufficient(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MOONBASE_DATABASE_URL"}
    result = run_cli(
        "chaos", "db-latency-under-load", "--report-dir", str(tmp_path), timeout=120, env=env
    )
    assert result.returncode == 3, result.stdout + result.stderr  # not enough evidence
    report, summary, html = _latest(tmp_path)
    (chaos,) = report["chaos"]
    assert chaos["status"] == "not_run"
    (gate,) = report["gates"]
    assert gate["outcome"] == "insufficient"
    assert gate["n"] == 0
    assert "not run: db-latency-under-load (needs PostgreSQL" in gate["detail"]
    for claim in ("not recovered", "None", "no visible effect"):
        assert claim not in gate["detail"]
    assert _row(summary, "db-latency-under-load")[2:4] == ["no", "not run"]
    assert "None" not in summary
    assert "not run" in html


@pytest.mark.slow
@pytest.mark.toxiproxy
@pytest.mark.chaos
def test_chaos_report_counts_injections_and_states_the_recovery_claim(tmp_path: Path) -> None:
    result = run_cli(
        "chaos", "api-latency", "--injections", "3", "--report-dir", str(tmp_path), timeout=180
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report, summary, html = _latest(tmp_path)
    (gate,) = report["gates"]
    assert gate["observed"] == gate["decided_on"] == report["chaos"][0]["recovery_s"]
    name, fault, effect, recovered, recovery, claim = _row(summary, "api-latency")
    assert fault == "latency latency=100 jitter=0"
    assert effect == "yes"
    assert recovered == "3/3 [0.2924, 1.0000]"
    assert re.fullmatch(r"[\d.]+ / [\d.]+ / [\d.]+ \(n=3\)", recovery), recovery
    for figure in recovery.split(" (")[0].split(" / "):  # 3 significant digits at most
        assert len(re.sub(r"^[0.]+", "", figure).replace(".", "")) <= 3, recovery
    assert claim == (
        "95% of recoveries within 10 s: not yet shown "
        "(3/3 within [0.2924, 1.0000]; 56 more injections needed)"
    )
    assert "injections recovered k/n [95% CP]" in html
    assert "56 more injections needed" in html


@pytest.mark.slow
def test_report_compare_adds_a_comparison_with_baseline(tmp_path: Path) -> None:
    for _ in range(2):
        # --baseline none: the second load's own regression gate stays out of it (two loads
        # on a busy machine can differ by more than its minimum effect); `report --compare`
        # is what is tested
        run = run_cli(
            "load", "--duration", "2", "--baseline", "none", "--report-dir", str(tmp_path),
            timeout=120,
        )  # fmt: skip
        assert run.returncode == 0, run.stdout + run.stderr
    history = (tmp_path / "history.jsonl").read_text().splitlines()
    baseline, current = (json.loads(line)["run_id"] for line in history)
    result = run_cli(
        "report", current, "--compare", baseline, "--report-dir", str(tmp_path), timeout=120
    )
    report, summary, html = _latest(tmp_path)
    comparison = report["comparison"]
    # a regression fails the command (exit 1); otherwise the run's own exit code (a pass)
    assert result.returncode == (1 if comparison["regressed"] else 0), result.stdout
    verdict = "REGRESSED" if comparison["regressed"] else "no significant regression"
    section = summary[summary.index("## Comparison with baseline") :]
    assert f"**{verdict}** against baseline run `{baseline}`" in section
    metric, medians, effect, p_value, min_effect, noise = _row(section, "load latency (ms)")
    assert re.fullmatch(r"[\d.]+ ms -> [\d.]+ ms", medians)
    assert min_effect == "0.5 ms"
    assert noise.endswith("(IQR of the baseline)")
    assert "Comparison with baseline" in html
    assert baseline in html
    for gate in report["gates"]:
        assert {"observed", "decided_on", "decided_by", "threshold", "comparison"} <= set(gate)
    assert "| gate | outcome | observed | decided on | threshold | detail |" in summary


def _trend_of(html: str) -> str:
    return html[html.index('<h2 id="trend">') : html.index("</main>")]


def test_report_re_renders_a_run_with_the_trend_its_own_render_had(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_one.py").write_text("def test_one():\n    assert True\n")
    reports = tmp_path / "reports"
    runs = []
    for _ in range(3):
        done = run_cli("run", "--rootdir", str(project), "--report-dir", str(reports))
        assert done.returncode in (0, 3), done.stdout + done.stderr
        runs.append((reports / "latest").resolve())
    originals = [_trend_of((run / "index.html").read_text()) for run in runs]
    assert 'href="../' + runs[0].name + '/index.html"' in originals[1]  # run 2 sees run 1
    assert runs[2].name not in originals[1]  # and not the run after it
    for run, original in zip(runs, originals, strict=True):
        again = run_cli("report", run.name, "--report-dir", str(reports))
        assert again.returncode in (0, 3), again.stdout + again.stderr
        assert _trend_of((run / "index.html").read_text()) == original
