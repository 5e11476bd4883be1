"""The HTML report: one offline page from report.json content, honest about every rate."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest

from harness.history import comparable_key
from harness.report.html import render_html


def full_report() -> dict[str, Any]:
    """A report with every section and optional field the renderer knows."""
    return {
        "schema": "moonbase-reliability/1",
        "run_id": "20261127T203500Z-ab12",
        "status": "completed",
        "verdict": "fail",
        "exit_code": 1,
        "started_at": "2026-11-27T20:35:00Z",
        "finished_at": "2026-11-27T20:41:12Z",
        "profile": "ci",
        "target_url": "http://127.0.0.1:8123",
        "components": {
            "fault injection": {"kind": "embedded", "detail": "in-process toxiproxy API"},
            "database": {"kind": "real", "detail": "PostgreSQL 16 on 127.0.0.1:5432"},
        },
        "tests": [
            {
                "nodeid": "scenarios/test_api.py::test_ping",
                "n": 57,
                "passed": 57,
                "failed": 0,
                "errors": 0,
                "timeouts": 0,
                "flaky": False,
                "pass_rate": {
                    "estimate": 1.0,
                    "low": 0.9373,
                    "high": 1.0,
                    "method": "clopper-pearson",
                    "confidence": 0.95,
                },
                "trials_needed": 2938,
                "duration_s": {"p50": 0.012, "p95": 0.02, "max": 0.05},
                "outcomes": ["passed"] * 57,
            },
            {
                "nodeid": "scenarios/test_jobs.py::test_job_survives[<script>alert(1)</script>]",
                "n": 57,
                "passed": 53,
                "failed": 3,
                "errors": 0,
                "timeouts": 1,
                "flaky": True,
                "trials_needed": 4742,
                "outcomes": ["passed"] * 20
                + ["failed", "timeout"]
                + ["passed"] * 33
                + ["failed"] * 2,
            },
        ],
        "load": {
            "requests": 90000,
            "failures": 12,
            "rps": 9000.0,
            "latency_ms": {"p50": 1.0, "p95": 2.0, "p99": 3.0, "max": 9.0},
            "timeline": [
                {"t_s": t, "requests": 9000, "failures": 12 if t == 4 else 0, "p95_ms": 2.0 + t % 3}
                for t in range(10)
            ],
            "histogram": [{"latency_ms": ms, "count": 1000 // ms} for ms in range(1, 10)],
            "errors": {"ConnectionResetError(104)": 10, "HTTP 503": 2},
        },
        "chaos": [
            {
                "name": "api-latency-100ms",
                "fault": {"type": "latency", "attributes": {"latency": 100}},
                "effect_observed": True,
                "recovered": True,
                "recovery_s": 0.4,
                "recovery": {"detect_s": 0.2, "recover_s": 0.4, "total_s": 0.6},
                "injections": [
                    {"index": 0, "recovered": True, "recover_s": 0.4},
                    {"index": 1, "recovered": True, "recover_s": 0.0004617550002876669},
                ],
                "timeline": [
                    {
                        "t_s": t / 2,
                        "latency_ms": 105.0 if 4 <= t <= 8 else 1.5,
                        "ok": t != 6,
                        "phase": "steady" if t < 4 else "fault" if t <= 8 else "recovery",
                    }
                    for t in range(14)
                ],
            },
            {
                "name": "db-down",
                "fault": {"type": "timeout", "attributes": {"timeout": 0}},
                "effect_observed": True,
                "recovered": False,
                "injections": [
                    {"index": 0, "recovered": True, "recover_s": 1.5},
                    {"index": 1, "recovered": False, "recover_s": None},
                    {"index": 2, "recovered": True, "recover_s": 2.25},
                ],
                "recovery_summary": {
                    "n": 3,
                    "recovered": 2,
                    "unrecovered": 1,
                    "p50_s": 1.5,
                    "p95_s": 2.25,
                    "max_s": 2.25,
                    "limit_s": 10.0,
                    "within_limit": 2,
                    "claim": {"estimate": 0.6667, "low": 0.0943, "high": 0.9916},
                    "trials_needed": 120,
                },
            },
            {
                "name": "db-latency-under-load",
                "status": "not_run",
                "fault": {"type": "latency", "attributes": {"latency": 300}},
                "effect_observed": False,
                "recovered": False,
                "recovery_s": None,
                "injections": [],
                "error": "not run: needs PostgreSQL: set MOONBASE_DATABASE_URL",
            },
        ],
        "gates": [
            {
                "name": "test_success",
                "outcome": "insufficient",
                "observed": 0.9298,
                "threshold": 0.999,
                "comparison": ">=",
                "detail": "110/114 passed; lower bound 0.9406",
            },
            {
                "name": "load_p95_ms",
                "outcome": "pass",
                "observed": 2.0,
                "threshold": 10.0,
                "comparison": "<=",
            },
            {
                "name": "load_error_rate",
                "outcome": "fail",
                "observed": 0.000133,
                "threshold": 0.0001,
                "comparison": "<=",
            },
        ],
    }


HISTORY = [
    {
        "run_id": f"run-{i}",
        "finished_at": f"2026-11-2{i}T10:00:00Z",
        "verdict": "pass" if i % 2 else "fail",
        "git_commit": f"{i}abcdef0123456789",
        "tests_passed": 100 - i,
        "tests_n": 100,
        "load_p95_ms": 2.0 + i / 10,
        "load_p99_ms": 4.0 + i / 10,
        "load_rps": 9000.0 + i,
        "chaos_recovery_p95_s": 0.5 + i / 100,
        "availability_lower": 0.99 + i / 1000,
        "comparable": "",  # set to the current report's key below
    }
    for i in range(1, 6)
]
# a run of another profile: listed apart, never charted with these
OTHER = {"run_id": "other-1", "profile": "release", "command": "gate", "verdict": "fail",
         "tests_passed": 1, "tests_n": 9, "comparable": "gate|release|embedded||"}  # fmt: skip


class _Collector(HTMLParser):
    """Collects tags, attributes and text; raises on nothing, so we check balance ourselves."""

    VOID = {"meta", "br", "link", "img", "input", "hr", "col", "source", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str | None]] = []
        self.stack: list[str] = []
        self.text: list[str] = []
        self.mismatches: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend((tag, name, value) for name, value in attrs)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend((tag, name, value) for name, value in attrs)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.mismatches.append(f"</{tag}> with open {self.stack[-3:]}")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if not self.stack or self.stack[-1] != "style":  # CSS is not what a reader sees
            self.text.append(data)


def parse(html: str) -> _Collector:
    collector = _Collector()
    collector.feed(html)
    collector.close()
    return collector


def visible_text(doc: _Collector) -> str:
    return re.sub(r"\s+", " ", " ".join(doc.text))


def test_full_report_parses_with_balanced_tags() -> None:
    doc = parse(render_html(full_report(), HISTORY))
    assert doc.mismatches == []
    assert doc.stack == []
    assert "svg" in doc.tags


def test_page_is_self_contained() -> None:
    html = render_html(full_report(), HISTORY)
    doc = parse(html)
    external = [
        (tag, name, value)
        for tag, name, value in doc.attrs
        if name in ("src", "href", "xlink:href", "srcset") and value and re.match(r"\w+:", value)
    ]
    assert external == []
    assert not any(tag in ("script", "link", "img", "iframe") for tag in doc.tags)
    assert "@import" not in html
    assert "url(" not in html


def test_header_shows_verdict_status_run_and_times() -> None:
    text = visible_text(parse(render_html(full_report())))
    for expected in (
        "fail",
        "completed",
        "20261127T203500Z-ab12",
        "2026-11-27T20:35:00Z",
        "2026-11-27T20:41:12Z",
        "ci",
        "http://127.0.0.1:8123",
    ):
        assert expected in text


def test_scorecard_lists_every_gate_with_outcome_and_threshold() -> None:
    text = visible_text(parse(render_html(full_report())))
    for gate in ("test_success", "load_p95_ms", "load_error_rate"):
        assert gate in text
    assert "insufficient" in text
    assert "110/114 passed; lower bound 0.9406" in text
    assert "0.000133" in text


def test_rates_are_shown_as_k_of_n_with_intervals() -> None:
    text = visible_text(parse(render_html(full_report(), _comparable_history())))
    # Computed from k/n when the report carries no interval: the design's known value.
    assert "53/57 [0.8300, 0.9805] (95% CP)" in text
    # Taken from the report when it carries one.
    assert "57/57 [0.9373, 1.0000] (95% CP)" in text
    assert re.search(r"53/57 \[0\.\d{4}, 0\.\d{4}\] \(95% Wilson\)", text)
    assert re.search(r"53/57 \[0\.\d{4}, 0\.\d{4}\] \(95% Jeffreys\)", text)
    # Load errors as k/n, chaos recoveries as k/n, history pass rates as k/n.
    assert re.search(r"12/90000 \[0\.\d{4}, 0\.\d{4}\] \(95% CP\)", text)
    assert re.search(r"4/5 \[0\.\d{4}, 0\.\d{4}\] \(95% CP\)", text)  # injections
    assert "95/100 [" in text
    # Never a bare percentage: the only "%" are confidence levels.
    assert re.findall(r"\d+(?:\.\d+)?%", text) == re.findall(r"95%(?= \w)", text)


def test_tests_are_sorted_by_failure_rate_and_flaky_ones_flagged() -> None:
    html = render_html(full_report())
    text = visible_text(parse(html))
    assert text.index("test_job_survives") < text.index("test_ping")
    assert text.count("flaky") >= 2  # the badge and the summary card


def test_report_content_is_escaped() -> None:
    html = render_html(full_report())
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_load_section_has_latency_and_error_charts() -> None:
    html = render_html(full_report())
    for caption in ("Latency over time", "Errors over time", "Latency distribution"):
        assert caption in html
    assert "ConnectionResetError(104)" in html
    assert html.count('class="bar-err"') == 10  # one bar per timeline interval


def test_chaos_timeline_shades_the_fault_window_and_marks_recovery() -> None:
    html = render_html(full_report())
    assert html.count('class="band-fault"') == 1
    assert "fault injected" in html
    assert "recovered +0.4 s" in html
    assert html.count('class="dot-fail"') == 1  # the one failed probe
    assert "No probe timeline recorded" in html  # db-down carries none


def _comparable_history() -> list[dict[str, object]]:
    key = comparable_key(full_report())
    return [{**h, "comparable": key} for h in HISTORY]


def test_trend_charts_comparable_runs_and_lists_the_others_apart() -> None:
    html = render_html(full_report(), [*_comparable_history(), OTHER])
    for title in (
        "Test pass rate per run", "Load p95 latency per run", "Load p99 latency per run",
        "Load throughput per run", "Chaos recovery per run", "Availability per run",
    ):  # fmt: skip
        assert title in html
    assert html.count('class="ci"') == 6  # five earlier runs plus this one, not the other
    assert 'href="../run-5/index.html"' in html  # each point and row links to its run
    others = html[html.index('id="trend-others"') :]
    assert "other-1" in others
    assert "1 run(s) of another command, profile, target or selection" in others


def test_trend_without_history_says_so() -> None:
    html = render_html(full_report())
    assert "No earlier comparable run yet" in html
    only_others = render_html(full_report(), HISTORY)  # lines without this run's key
    assert "No earlier comparable run yet" in only_others
    assert 'id="trend-others"' in only_others


@pytest.mark.parametrize(
    "report",
    [
        {},
        {
            "schema": "moonbase-reliability/1",
            "run_id": "x",
            "status": "crashed",
            "verdict": "error",
            "exit_code": 4,
            "error": "TargetStartError: port in use",
            "tests": [],
            "load": {},
            "chaos": [],
            "gates": [],
        },
        {
            "run_id": "y",
            "status": "interrupted",
            "tests": [{"nodeid": "t", "n": 0}],
            "load": {"requests": 0, "latency_ms": {}},
            "chaos": [{"name": "c"}],
            "gates": [{"name": "g"}],
        },
        {
            "tests": None,
            "load": None,
            "chaos": "garbage",
            "gates": [None, 3],
            "components": [],
            "started_at": None,
        },
    ],
    ids=["empty", "crashed", "interrupted-partial", "malformed"],
)
def test_crashed_or_empty_reports_still_render(report: dict[str, Any]) -> None:
    html = render_html(report, [{"run_id": "old"}, {}])
    doc = parse(html)
    assert doc.mismatches == []
    assert "Scorecard" in html


def test_crashed_report_shows_its_error() -> None:
    report = {"run_id": "x", "status": "crashed", "verdict": "error", "error": "boom <b>"}
    text = visible_text(parse(render_html(report)))
    assert "The run did not complete: boom <b>" in text
    assert "No gates were evaluated" in text
    assert "No test results" in text


def test_outcome_strip_run_length_encodes_repeats() -> None:
    report = full_report()
    report["tests"] = [
        {"nodeid": "t", "n": 5000, "passed": 4999, "failed": 1,
         "outcomes": ["passed"] * 2500 + ["failed"] + ["passed"] * 2499},
    ]  # fmt: skip
    html = render_html(report)
    strip = html[html.index('class="strip"') :]
    strip = strip[: strip.index("</svg>")]
    assert strip.count("<rect") == 3
    assert "runs 1–2500: passed" in strip
    assert "run 2501: failed" in strip
    assert len(html) < 200_000


def test_extra_latency_percentiles_are_shown_after_the_standard_ones() -> None:
    report = full_report()
    report["load"]["latency_ms"] = {"p99.9": 7.5, "max": 9.0, "p50": 1.0}
    text = visible_text(parse(render_html(report)))
    assert text.index("p50 (ms)") < text.index("max (ms)") < text.index("p99.9 (ms)")
    assert "7.5" in text


def _chaos_table(html: str) -> str:
    start = html.index('<table class="chaos">')
    return visible_text(parse(html[start : html.index("</table>", start)]))


def test_chaos_recoveries_are_counted_over_injections_not_experiments() -> None:
    text = visible_text(parse(render_html(full_report())))
    # two experiments ran, with 2 + 3 injections; one injection never recovered
    assert re.search(r"injections recovered k/n \[95% CP\] 4/5 \[0\.\d{4}, 0\.\d{4}\]", text)
    assert "recovery s p50 / p95 / max 0.4 / 2.25 / 2.25 (n=4 recovered of 5)" in text
    table = _chaos_table(render_html(full_report()))
    assert "db-down timeout timeout=0 yes 2/3 [0.0943, 0.9916]" in table
    assert "1.5 / 2.25 / 2.25 (n=2 recovered of 3)" in table


def test_chaos_claim_shows_its_interval_and_the_injections_still_needed() -> None:
    table = _chaos_table(render_html(full_report()))
    assert (
        "95% of recoveries within 10 s: not yet shown "
        "(2/3 within [0.0943, 0.9916]; 120 more injections needed)"
    ) in table


def test_an_experiment_that_did_not_run_is_shown_as_not_run_never_unrecovered() -> None:
    html = render_html(full_report())
    table = _chaos_table(html)
    assert "db-latency-under-load latency latency=300 no not run - not run" in table
    heading = html[html.index("<h3>db-latency-under-load") :]
    heading = heading[: heading.index("</h3>")]
    assert "not run" in heading
    assert "not recovered" not in heading
    assert "needs PostgreSQL: set MOONBASE_DATABASE_URL" in html
    assert "None" not in visible_text(parse(html))


def test_chaos_figures_have_no_raw_floats_or_python_reprs() -> None:
    text = visible_text(parse(render_html(full_report())))
    assert "{'" not in text
    assert "0.0004617" not in text


def test_scorecard_has_a_decided_on_column_beside_the_point_estimate() -> None:
    report = full_report()
    report["gates"][0] |= {
        "observed": 110 / 114,
        "decided_on": 0.9126,
        "decided_by": "one-sided 95% lower bound",
    }
    html = render_html(report)
    assert "<th>decided on</th>" in html
    text = visible_text(parse(html))
    assert "test_success insufficient 0.9649 0.9126 (one-sided 95% lower bound) >= 0.999" in text


def test_trials_needed_show_a_dash_once_the_test_is_decided() -> None:
    report = full_report()
    report["tests"][0]["decision"] = "pass"  # 57/57, trials_needed 2938 in the report
    report["tests"][1]["decision"] = "insufficient"
    html = render_html(report)
    rows = [row[: row.index("</tr>")] for row in html.split('<td class="mono test-id">')[1:]]
    jobs, ping = rows  # worst first
    assert "test_ping" in ping
    assert "2938" not in ping
    assert '<td class="num">-</td>' in ping
    assert '<td class="num">4,742</td>' in jobs


def test_comparison_with_baseline_is_shown_when_the_report_has_one() -> None:
    report = full_report()
    assert "Comparison with baseline" not in render_html(report)
    report["comparison"] = {
        "baseline": "20261127T200000Z-aaaa",
        "metric": "load latency (ms)",
        "baseline_median": 1.234567,
        "current_median": 2.5,
        "effect": 1.265433,
        "p_value": 1.234e-9,
        "min_effect": 0.5,
        "regressed": True,
        "noise": 0.31234,
        "test": "Mann-Whitney U, one-sided",
    }
    text = visible_text(parse(render_html(report)))
    assert "Comparison with baseline REGRESSED against baseline run 20261127T200000Z-aaaa" in text
    assert "1.235 ms -> 2.5 ms +1.265 ms 1.23e-09 0.5 ms 0.3123 ms (IQR of the baseline)" in text
    report["comparison"] |= {"regressed": False, "p_value": 0.4}
    text = visible_text(parse(render_html(report)))
    assert "no significant regression against baseline run" in text


def _failing_test() -> dict[str, Any]:
    return {
        "nodeid": "checks/test_x.py::test_broken",
        "n": 3,
        "passed": 0,
        "failed": 3,
        "errors": 0,
        "timeouts": 0,
        "flaky": False,
        "messages": [
            "    def test_broken():\n>       assert 1 == 2, 'never passes'\n"
            "E       AssertionError: never passes\nE       assert 1 == 2\n"
            "checks/test_x.py:2: AssertionError"
        ],
        "outcomes": ["failed"] * 3,
    }


def test_a_failed_test_shows_the_first_line_of_its_failure() -> None:
    report = {**full_report(), "tests": [_failing_test()]}
    text = visible_text(parse(render_html(report)))
    assert "AssertionError: never passes" in text
    assert "assert 1 == 2" not in text  # the first E line, not the whole traceback


def test_the_page_names_the_service_and_the_profile_description() -> None:
    named = {**full_report(), "target_name": "items service", "profile_description": "nightly"}
    text = visible_text(parse(render_html(named)))
    assert "service items service" in text
    assert "nightly" in text
    by_url = {**full_report(), "target_url": "http://127.0.0.1:9999"}
    assert "service http://127.0.0.1:9999" in visible_text(parse(render_html(by_url)))


def test_the_pooled_card_and_the_words_say_which_interval_is_which() -> None:
    text = visible_text(parse(render_html(full_report())))
    assert "runs passed, every test pooled (k/n, two-sided 95% interval)" in text
    assert "all runs passed" not in text
    assert "one-sided 95% lower bound" in text
    assert "order-statistic bound" in text


def test_only_the_fault_windows_are_shaded_not_the_gaps_between_injections() -> None:
    report = full_report()
    phases = ["steady"] * 3 + ["fault"] * 3 + ["recovery"] * 2 + ["steady"] * 3
    phases += ["fault"] * 3 + ["recovery"] * 2
    report["chaos"] = [
        {
            **report["chaos"][0],
            "injections": [
                {"index": 0, "recovered": True, "recover_s": 0.2},
                {"index": 1, "recovered": True, "recover_s": 0.3},
            ],
            "timeline": [
                {"t_s": float(t), "latency_ms": 100.0 if p == "fault" else 1.0, "ok": True,
                 "phase": p}
                for t, p in enumerate(phases)
            ],
        }
    ]  # fmt: skip
    html = render_html(report)
    assert html.count('class="band-fault"') == 2  # one per injection
    assert "fault window 3–5 s" in html
    assert "fault window 11–13 s" in html
    assert "fault window 3–13 s" not in html


def test_every_badge_on_the_page_has_a_background_to_read_its_white_text_on() -> None:
    report = {
        **full_report(),
        "components": {
            "target": {"kind": "external", "detail": "http://127.0.0.1:8080"},
            "toxiproxy": {"kind": "real", "detail": "toxiproxy-server 2.12"},
            "database": {"kind": "embedded", "detail": "sqlite"},
        },
        "gates": [*full_report()["gates"], {"name": "load_p99_ms", "outcome": "off"}],
    }
    html = render_html(report)
    style = html[html.index("<style>") : html.index("</style>")]
    rules = re.findall(r"([^{}]+)\{([^}]*)\}", style)
    with_background = {
        name.strip()[1:]
        for selectors, body in rules
        if "background" in body
        for name in selectors.split(",")
        if name.strip().startswith(".") and " " not in name.strip()
    }
    used = set(re.findall(r'class="badge (?:big )?([\w-]+)"', html))
    assert used  # the page has badges
    assert used <= with_background, f"badges without a background: {used - with_background}"


def test_history_lines_that_could_not_be_read_are_said_on_the_page() -> None:
    report = {**full_report(), "test_run": {"history_skipped": ["h.jsonl:3: a list, not a run"]}}
    text = visible_text(parse(render_html(report)))
    assert "1 line(s) of history.jsonl could not be read" in text
    assert "h.jsonl:3: a list, not a run" in text


def test_the_page_opens_with_the_readiness_checklist() -> None:
    readiness = {
        "verdict": "not shown yet",
        "score": 0.5,
        "rows": [
            {"title": "Test success", "target": "> 99.5% of runs", "outcome": "pass",
             "measured": "3000/3000 test runs passed", "needs": "", "claim": "every run"},
            {"title": "Uptime", "target": ">= 99.999% of the time", "outcome": "not measured",
             "measured": "not measured: no whole-run probe timeline", "needs": "", "claim": ""},
        ],
    }  # fmt: skip
    html = render_html({**full_report(), "readiness": readiness})
    assert html.index('id="readiness"') < html.index('id="gates"')
    text = visible_text(parse(html))
    assert "Production readiness: not shown yet 1/2 rows passed, weighted score 0.50" in text
    assert "not measured: no whole-run probe timeline" in text
