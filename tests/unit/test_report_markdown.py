"""summary.md: the CI page's account of a run, the same figures as the HTML page."""

from __future__ import annotations

import re
from typing import Any

import pytest

from harness.report.writers import render_markdown


def chaos_experiment() -> dict[str, Any]:
    """api-latency injected 3 times, as `chaos api-latency --injections 3` reports it."""
    recover_s = [0.0012062610003340524, 0.000534504000825109, 0.00036498199915513396]
    return {
        "name": "api-latency",
        "status": "run",
        "fault": {"type": "latency", "attributes": {"latency": 100, "jitter": 0}},
        "effect_observed": True,
        "recovered": True,
        "recovery_s": max(recover_s),
        "injections": [
            {"index": i, "recovered": True, "recover_s": s} for i, s in enumerate(recover_s)
        ],
        "max_recovery_s": 10.0,
        "error": None,
        "recovery_summary": {
            "n": 3,
            "recovered": 3,
            "unrecovered": 0,
            "p50_s": 0.000534504000825109,
            "p95_s": 0.0012062610003340524,
            "max_s": 0.0012062610003340524,
            "limit_s": 10.0,
            "within_limit": 3,
            "claim": {
                "estimate": 1.0,
                "low": 0.29240177382128674,
                "high": 1.0,
                "method": "clopper-pearson",
                "confidence": 0.95,
            },
            "claim_text": "3/3 recoveries within 10.0 s, 95% CI [0.2924, 1.0000]",
            "trials_needed": 56,
        },
    }


def not_run_experiment() -> dict[str, Any]:
    return {
        "name": "db-latency-under-load",
        "status": "not_run",
        "fault": {"type": "latency", "attributes": {"latency": 300}},
        "effect_observed": False,
        "recovered": False,
        "recovery_s": None,
        "injections": [],
        "error": "not run: needs PostgreSQL: set MOONBASE_DATABASE_URL",
        "recovery_summary": {"n": 0, "recovered": 0, "p50_s": None, "claim": None},
    }


def report(**extra: Any) -> dict[str, Any]:
    return {
        "schema": "moonbase-reliability/1",
        "run_id": "20261127T231511Z-12e24d",
        "status": "completed",
        "verdict": "pass",
        "exit_code": 0,
        "chaos": [chaos_experiment()],
        "gates": [
            {
                "name": "test_success",
                "outcome": "pass",
                "observed": 1.0,
                "threshold": 0.8,
                "comparison": ">=",
                "detail": "62/62 test runs passed",
                "decided_on": 0.9528304886246431,
                "decided_by": "one-sided 95% lower bound",
            },
        ],
        **extra,
    }


def chaos_row(markdown: str, name: str) -> list[str]:
    (line,) = [line for line in markdown.splitlines() if line.startswith(f"| {name} |")]
    return [cell.strip() for cell in line.strip("|").split(" | ")]


def test_chaos_row_counts_injections_with_a_clopper_pearson_interval() -> None:
    name, fault, effect, recovered, recovery, claim = chaos_row(
        render_markdown(report()), "api-latency"
    )
    assert fault == "latency latency=100 jitter=0"
    assert effect == "yes"
    assert recovered == "3/3 [0.2924, 1.0000]"  # injections, not experiments


def test_chaos_recovery_percentiles_have_three_significant_digits_and_n() -> None:
    row = chaos_row(render_markdown(report()), "api-latency")
    assert row[4] == "0.000535 / 0.00121 / 0.00121 (n=3)"


def test_chaos_row_states_the_claim_with_its_interval_and_injections_needed() -> None:
    row = chaos_row(render_markdown(report()), "api-latency")
    assert row[5] == (
        "95% of recoveries within 10 s: not yet shown "
        "(3/3 within [0.2924, 1.0000]; 56 more injections needed)"
    )


def test_a_shown_claim_asks_for_no_more_injections() -> None:
    experiment = chaos_experiment()
    experiment["recovery_summary"] |= {
        "n": 59,
        "recovered": 59,
        "within_limit": 59,
        "claim": {"low": 0.9394, "high": 1.0},
        "trials_needed": 0,
    }
    claim = chaos_row(render_markdown(report(chaos=[experiment])), "api-latency")[5]
    assert claim == "95% of recoveries within 10 s: shown (59/59 within [0.9394, 1.0000])"


def test_no_python_repr_or_raw_float_reaches_the_summary() -> None:
    markdown = render_markdown(report(chaos=[chaos_experiment(), not_run_experiment()]))
    assert "{'" not in markdown
    assert "None" not in markdown
    assert "True" not in markdown
    assert not re.search(r"\d\.\d{7,}", markdown), markdown


def test_an_experiment_that_did_not_run_says_so_and_why() -> None:
    markdown = render_markdown(report(chaos=[not_run_experiment()]))
    row = chaos_row(markdown, "db-latency-under-load")
    assert row[2:] == ["no", "not run", "-", "not run"]
    assert "- db-latency-under-load: not run: needs PostgreSQL" in markdown


def test_gates_table_shows_the_estimate_and_the_bound_it_was_decided_on() -> None:
    markdown = render_markdown(report())
    assert "| gate | outcome | observed | decided on | threshold | detail |" in markdown
    assert (
        "| test_success | **pass** | 1 | 0.9528 (one-sided 95% lower bound) | >= 0.8 |" in markdown
    )


def test_a_gate_from_an_older_report_without_decided_on_shows_a_dash() -> None:
    gate = {"name": "load_p95_ms", "outcome": "pass", "observed": 2.0, "threshold": 10.0}
    markdown = render_markdown(report(gates=[gate | {"comparison": "<="}]))
    assert "| load_p95_ms | **pass** | 2 | - | <= 10.0 |" in markdown


def test_a_pipe_in_a_detail_does_not_break_the_table() -> None:
    gate = report()["gates"][0] | {"detail": "a | b"}
    markdown = render_markdown(report(gates=[gate]))
    assert "a \\| b" in markdown


COMPARISON = {
    "baseline": "20261127T200000Z-aaaa",
    "metric": "load latency (ms)",
    "baseline_median": 1.234567,
    "current_median": 2.5,
    "effect": 1.265433,
    "p_value": 1.234e-9,
    "min_effect": 0.5,
    "significant": True,
    "regressed": True,
    "noise": 0.31234,
    "test": "Mann-Whitney U, one-sided",
}


def test_comparison_with_baseline_gives_every_figure_and_the_verdict() -> None:
    markdown = render_markdown(report(comparison=COMPARISON))
    section = markdown[markdown.index("## Comparison with baseline") :]
    assert "**REGRESSED** against baseline run `20261127T200000Z-aaaa`" in section
    assert (
        "| load latency (ms) | 1.235 ms -> 2.5 ms | +1.265 ms | 1.23e-09 | 0.5 ms | "
        "0.3123 ms (IQR of the baseline) |"
    ) in section


def test_comparison_without_a_significant_regression_says_so() -> None:
    quiet = COMPARISON | {"regressed": False, "significant": False, "p_value": 0.41}
    markdown = render_markdown(report(comparison=quiet))
    assert "**no significant regression** against baseline run" in markdown
    assert "REGRESSED" not in markdown


def test_no_comparison_section_without_a_comparison() -> None:
    assert "Comparison with baseline" not in render_markdown(report())


def _test(decision: str | None, **extra: Any) -> dict[str, Any]:
    body = {"nodeid": "t.py::t", "n": 3, "passed": 0, "trials_needed": 73, **extra}
    if decision is not None:
        body["decision"] = decision
    return body


@pytest.mark.parametrize(
    ("test", "shown"),
    [
        (_test("fail"), "-"),  # 0/3 has already failed: no number of trials changes that
        (_test("pass", passed=3, trials_needed=0), "-"),
        (_test("insufficient", passed=3, trials_needed=4742), "4,742"),
        (_test(None, slo=0.9), "-"),  # an older report: decided here from k/n and its slo
        (_test(None, passed=3, slo=0.999, trials_needed=2992), "2,992"),
        (_test(None), "-"),  # neither decision nor slo: nothing to say it is undecided
    ],
    ids=["fail", "pass", "insufficient", "fail-from-slo", "insufficient-from-slo", "unknown"],
)
def test_trials_needed_are_shown_only_while_the_decision_is_insufficient(
    test: dict[str, Any], shown: str
) -> None:
    markdown = render_markdown(report(tests=[test]))
    (line,) = [line for line in markdown.splitlines() if line.startswith("| `t.py::t`")]
    assert line.rstrip(" |").endswith(f"| {shown}")


def test_test_rates_carry_an_interval_even_when_the_report_has_none() -> None:
    markdown = render_markdown(report(tests=[_test("insufficient", n=57, passed=53)]))
    assert "53/57 [0.8300, 0.9805]" in markdown


@pytest.mark.parametrize(
    "broken",
    [
        {},
        {"status": "crashed", "verdict": "error", "error": "TargetStartError: port in use"},
        {"chaos": "garbage", "gates": None},
        {"chaos": [None, {"name": "c"}], "gates": [None, {"name": "g"}], "comparison": "x"},
    ],
    ids=["empty", "crashed", "malformed", "partial"],
)
def test_a_crashed_or_malformed_report_still_renders(broken: dict[str, Any]) -> None:
    markdown = render_markdown(broken)
    assert markdown.startswith("# Moonbase reliability:")
    assert "None" not in markdown
    assert "garbage" not in markdown  # a string is not a list of experiments


def test_partial_entries_are_shown_with_dashes() -> None:
    markdown = render_markdown({"chaos": [{"name": "c"}], "gates": [{"name": "g"}]})
    assert "| g | **insufficient** | - | - | - |  |" in markdown
    assert chaos_row(markdown, "c") == ["c", "?", "no", "-", "-", "-"]


def test_the_summary_names_the_service_and_each_failing_tests_first_error() -> None:
    failing = {
        "nodeid": "checks/test_x.py::test_broken",
        "n": 2,
        "passed": 0,
        "failed": 2,
        "flaky": False,
        "messages": ["E       AssertionError: never passes\nE       assert 1 == 2"],
    }
    markdown = render_markdown(report(tests=[failing], target_name="items service"))
    assert "service: **items service**" in markdown
    assert "AssertionError: never passes" in markdown


def test_history_lines_that_could_not_be_read_are_said_in_the_summary() -> None:
    skipped = ["reports/history.jsonl:3: not JSON (Expecting value)"]
    markdown = render_markdown(report(test_run={"history_skipped": skipped}))
    assert "1 line(s) of history.jsonl could not be read" in markdown
    assert "reports/history.jsonl:3: not JSON" in markdown


def _readiness() -> dict[str, Any]:
    return {
        "verdict": "not ready",
        "score": 0.3,
        "rows": [
            {"key": "p95_ms", "title": "Response time p95", "target": "< 10 ms",
             "outcome": "fail", "measured": "p95 40 ms from 100000 samples", "needs": "",
             "claim": "the latency of this run's load phase", "weight": 1.0},
            {"key": "memory_mb", "title": "Memory", "target": "< 512 MB",
             "outcome": "not measured", "measured": "not measured: not sampled yet",
             "needs": "", "claim": "the target's memory", "weight": 1.0},
        ],
    }  # fmt: skip


def test_the_readiness_checklist_comes_before_the_gates() -> None:
    markdown = render_markdown(report(readiness=_readiness()))
    assert "## Production readiness: **not ready** (0/2 rows passed" in markdown
    assert markdown.index("Production readiness") < markdown.index("## Gates")
    assert "| Memory | < 512 MB | **not measured** | not measured: not sampled yet |" in markdown


def test_the_summary_gives_availability_as_its_lower_bound_with_the_method() -> None:
    availability = {
        "observed_s": 600.0, "probes": 6000, "not_observed_s": 0.0, "point": 0.995,
        "lower": 0.9812345, "upper": 0.999, "downtime_s": 3.0,
        "outages": [{"start_s": 100.0, "end_s": 103.0, "duration_s": 3.0, "ongoing": False}],
        "method": "outages as events", "assumption": "outages last no longer than 3 s",
        "objective": 0.99999, "hours_to_show": 123.4,
    }  # fmt: skip
    markdown = render_markdown(report(availability=availability))
    assert "available: **0.981234 or more (one-sided 95% lower bound; point 0.995)**" in markdown
    assert "123.4 more hours with no outage to show 0.99999" in markdown
    assert "| 100 | 103 | 3 |" in markdown
    assert "method: outages as events" in markdown
