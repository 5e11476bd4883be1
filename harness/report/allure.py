"""Allure 2 results from report.json content, so ``allure generate`` can render a run.

One ``<uuid>-result.json`` per run of a test (read from the run's ``test-runs.jsonl``: its own
start, stop, outcome, message and worker; every run of one test shares its ``historyId``, so
Allure shows them as retries of one test case, the flaky ones marked flaky), per gate and
per chaos experiment (plus one for the run itself when it crashed or was interrupted),
``environment.properties``, ``executor.json`` and ``categories.json`` (timeouts and
infrastructure errors among them). Tests are in suites by area (their directory) and
module; gates and chaos experiments in suites of their own. The ``history/`` folder of the
previous Allure report, when there is one, is carried into the results, so that Allure's
trend graphs go on across runs. A test with many runs keeps at most ``_RUNS_PER_TEST``
results: every run that did not pass (the newest, if more), then the newest
``_PASSES_PER_TEST`` that passed (a file per passing run made the results, and Allure's
own generate, grow with the runs while telling nothing the aggregate does not); the
aggregate (k/n with its intervals) is on each. Results are built with
allure-python-commons' model classes and serialised the way its ``AllureFileLogger``
does; we write the files ourselves because the logger picks random file names and we
return the paths we wrote.

File names are derived from the run id and the item (uuid5), so rendering the same run
twice into one directory replaces its files instead of doubling them; ``historyId`` is
derived from the item alone, so Allure's history links the same test across runs.

Statuses: a test with any failed run is ``failed`` (``flaky`` when some runs passed),
one with only errors or timeouts is ``broken``, one with no runs ``skipped``. A gate
with insufficient evidence is ``unknown``: it neither held nor failed.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import attr
from allure_commons.model2 import (
    Label,
    Parameter,
    Status,
    StatusDetails,
    TestResult,
    TestStepResult,
)

from harness.report import views
from harness.report.document import complete, interval_bounds
from harness.values import as_list as _list
from harness.values import as_map as _map
from harness.values import count_or_zero

__all__ = ["write_allure_results"]

# Allure results from this harness share one namespace so ids are stable across renders.
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "moonbase-reliability/allure")
_MAX_STEPS = 500  # one step per repeated run; beyond this the page is unreadable anyway
_RUNS_PER_TEST = 100  # result files per test at most (and 10,000 in all): see the docstring
_RUNS_IN_ALL = 10_000
_PASSES_PER_TEST = 10  # of them, passing runs at most: the newest

_GATE_STATUS = {
    "pass": Status.PASSED,
    "fail": Status.FAILED,
    "insufficient": Status.UNKNOWN,
    "off": Status.SKIPPED,  # switched off, or its phase did not run: judged nothing
}

_CATEGORIES = [
    {
        "name": "Timeouts",
        "matchedStatuses": ["broken", "failed"],
        "messageRegex": "(?s).*([Tt]imeout|timed out).*",
    },
    {
        "name": "Infrastructure errors",
        "matchedStatuses": ["broken"],
        "messageRegex": "(?s).*(Connect(ion)?Error|[Cc]onnection (refused|reset)|"
        "InfrastructureError|did not start|worker .* crashed).*",
    },
    {"name": "Insufficient evidence", "matchedStatuses": ["unknown"]},
    {"name": "Flaky tests", "matchedStatuses": ["failed", "broken"], "flaky": True},
    {"name": "Unrecovered faults", "matchedStatuses": ["failed"], "messageRegex": ".*recover.*"},
    {"name": "Failed gates", "matchedStatuses": ["failed"], "messageRegex": "gate .*"},
    {"name": "Broken runs and tests", "matchedStatuses": ["broken"]},
]


def _epoch_ms(value: Any) -> int | None:
    """ISO 8601 time from the report as epoch milliseconds; None when absent or unreadable."""
    if not isinstance(value, str):
        return None
    try:
        return int(datetime.fromisoformat(value).timestamp() * 1000)
    except ValueError:
        return None


def _history_id(kind: str, name: str) -> str:
    return hashlib.md5(f"{kind}:{name}".encode(), usedforsecurity=False).hexdigest()


def _suites(kind: str, name: str) -> list[Label]:
    """Tests by area (the test file's directory) and module (and class); gates and chaos
    experiments in suites of their own."""
    if kind != "tests":
        title = {"gates": "gates", "chaos": "chaos experiments"}.get(kind, kind)
        return [Label(name="parentSuite", value="moonbase reliability"),
                Label(name="suite", value=title)]  # fmt: skip
    path, _, rest = name.partition("::")
    area, _, module = path.rpartition("/")
    labels = [
        Label(name="parentSuite", value=area or "."),
        Label(name="suite", value=module.removesuffix(".py")),
    ]
    if "::" in rest:
        labels.append(Label(name="subSuite", value=rest.split("::")[0]))
    return labels


def _result(
    report: Mapping[str, Any], kind: str, name: str, status: str, message: str
) -> TestResult:
    """A TestResult with the fields every result of this run shares."""
    run_id = str(report.get("run_id", "unknown-run"))
    suites = _suites(kind, name)
    return TestResult(
        uuid=str(uuid.uuid5(_NAMESPACE, f"{run_id}/{kind}/{name}")),
        historyId=_history_id(kind, name),
        testCaseId=_history_id(kind, name),
        name=name,
        fullName=f"{kind}: {name}",
        status=status,
        statusDetails=StatusDetails(message=message) if message else None,
        stage="finished",
        start=_epoch_ms(report.get("started_at")),
        stop=_epoch_ms(report.get("finished_at")),
        labels=[
            *suites,
            Label(name="feature", value=kind),
            Label(name="framework", value="moonbase-reliability"),
            Label(name="language", value="python"),
        ],
        titlePath=[label.value for label in suites],
    )


def _rate_parameters(k: int, n: int, label: str, intervals: Mapping[str, Any]) -> list[Any]:
    """k/n and its three intervals as Allure parameters (strings, as Allure shows them)."""
    params = [Parameter(name=label, value=f"{k}/{n}")]
    for key, title in (
        ("pass_rate", "95% Clopper-Pearson"),
        ("wilson", "95% Wilson"),
        ("jeffreys", "95% Jeffreys"),
    ):
        bounds = interval_bounds(intervals.get(key))
        if bounds is not None:
            params.append(Parameter(name=title, value=f"[{bounds[0]:.4f}, {bounds[1]:.4f}]"))
    return params


def _test_result(report: Mapping[str, Any], test: Mapping[str, Any]) -> TestResult:
    nodeid = str(test.get("nodeid", "?"))
    n = count_or_zero(test.get("n"))
    passed = min(count_or_zero(test.get("passed")), n)
    failed, errors, timeouts = (
        count_or_zero(test.get(k)) for k in ("failed", "errors", "timeouts")
    )
    if n == 0:
        status = Status.SKIPPED
    elif failed:
        status = Status.FAILED
    elif errors or timeouts or passed < n:
        status = Status.BROKEN
    else:
        status = Status.PASSED
    flaky = bool(test.get("flaky")) or 0 < passed < n
    summary = (
        views.format_rate(passed, n, test.get("pass_rate"))
        + f" passed; {failed} failed, {errors} errors, {timeouts} timeouts"
        + ("; flaky" if flaky else "")
    )
    result = _result(report, "tests", nodeid, status, summary if status != Status.PASSED else "")
    if flaky:
        result.statusDetails = StatusDetails(message=summary, flaky=True)
    result.description = summary
    result.parameters = _rate_parameters(passed, n, "passed k/n", test)
    needed = views.undecided_trials_needed(test)  # none once the test is decided
    if needed is not None:
        result.parameters.append(Parameter(name="trials needed", value=str(needed)))
    path, _, func = nodeid.partition("::")
    result.labels += [
        Label(name="package", value=path.removesuffix(".py").replace("/", ".")),
        Label(name="testMethod", value=func or nodeid),
    ]
    if flaky:
        result.labels.append(Label(name="tag", value="flaky"))
    outcome_status = {
        "passed": Status.PASSED,
        "failed": Status.FAILED,
        "error": Status.BROKEN,
        "timeout": Status.BROKEN,
    }
    result.steps = [
        TestStepResult(
            name=f"run {i}: {outcome}",
            status=outcome_status.get(str(outcome), Status.UNKNOWN),
            stage="finished",
        )
        for i, outcome in enumerate(_list(test.get("outcomes"))[:_MAX_STEPS], start=1)
    ]
    return result


_RUN_STATUS = {"passed": Status.PASSED, "failed": Status.FAILED, "error": Status.BROKEN,
               "timeout": Status.BROKEN}  # fmt: skip


def _runs_by_test(path: Path | None, cap: int) -> dict[str, list[dict[str, Any]]]:
    """Each test's runs from the run's ``test-runs.jsonl`` that :func:`_kept` can keep: the
    newest ``cap`` that did not pass and the newest passes it can keep (the file is in the
    order the runs ended), so that a run of 100,000 test runs is never held whole. A line
    cut short is left out: the aggregate in report.json still counts it."""
    bad: dict[str, deque[dict[str, Any]]] = {}
    good: dict[str, deque[dict[str, Any]]] = {}
    if path is None or not path.exists():
        return {}
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if '"outcome"' not in line:  # started, collected and cut-off lines
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and "outcome" in record and "event" not in record:
                keep = good if record.get("outcome") == "passed" else bad
                nodeid = str(record.get("nodeid"))
                kept = keep.get(nodeid)
                if kept is None:
                    room = cap if keep is bad else min(cap, _PASSES_PER_TEST)
                    kept = keep[nodeid] = deque(maxlen=room)
                kept.append(record)
    return {nodeid: [*bad.get(nodeid, ()), *good.get(nodeid, ())] for nodeid in {*bad, *good}}


def _headline(message: str, outcome: str) -> str:
    """The line of a failure a reader needs first: pytest's ``E`` line, else the last one."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    errors = [line.removeprefix("E").strip() for line in lines if line.startswith("E ")]
    return errors[0] if errors else (lines[-1] if lines else outcome)


def _kept(runs: list[dict[str, Any]], cap: int) -> list[dict[str, Any]]:
    """At most ``cap`` runs: every one that did not pass first, then the newest passes
    (``_PASSES_PER_TEST`` at most)."""

    def when(record: dict[str, Any]) -> float:
        return float(record.get("t") or 0)

    ordered = sorted(runs, key=when)
    bad = [r for r in ordered if r.get("outcome") != "passed"][-cap:]
    room = min(cap - len(bad), _PASSES_PER_TEST)
    good = [r for r in ordered if r.get("outcome") == "passed"][-room:] if room > 0 else []
    return sorted(bad + good, key=when)


def _plain(result: Any) -> dict[str, Any]:
    """An Allure model object as its JSON dict, the way AllureFileLogger serialises it:
    None and empty values dropped, False kept."""
    return attr.asdict(result, filter=lambda _, v: v or v is False)


def _run_results(
    report: Mapping[str, Any], test: Mapping[str, Any], runs: list[dict[str, Any]], cap: int
) -> list[dict[str, Any]]:
    """One result per run of the test, each with its own start, stop, status and message,
    all sharing the test's historyId (Allure's retries); the aggregate on each. The
    aggregate is serialised once and each run's own fields are set on a copy of it (an
    ``attr.asdict`` per run cost more than the run itself)."""
    aggregate = _test_result(report, test)
    if not runs:
        return [_plain(aggregate)]
    flaky = bool(aggregate.statusDetails and aggregate.statusDetails.flaky)
    run_id = str(report.get("run_id", "unknown-run"))
    base = _plain(attr.evolve(aggregate, steps=[], statusDetails=None))
    labels, parameters = base.get("labels", []), base.get("parameters", [])
    out = []
    for record in _kept(runs, cap):
        duration = float(record.get("duration_s") or 0)
        if record.get("start"):  # stamped by the worker as the run began
            start = float(record["start"])
            stop = start + duration
        else:  # records of a harness before that: when the controller wrote the line
            stop = float(record.get("t") or 0)
            start = stop - duration
        outcome = str(record.get("outcome"))
        message = str(record.get("message") or "")
        key = f"{run_id}/tests/{aggregate.name}/{record.get('run_nodeid') or record.get('repeat')}"
        details: dict[str, Any] = {"flaky": True} if flaky else {}  # as its filter drops False
        if outcome != "passed":
            details["message"] = _headline(message, outcome)
            if message:
                details["trace"] = message
        thread = {"name": "thread", "value": str(record.get("worker") or "main")}
        out.append(
            {
                **base,
                "uuid": str(uuid.uuid5(_NAMESPACE, key)),
                "status": _RUN_STATUS.get(outcome, Status.UNKNOWN),
                "start": round(start * 1000),
                "stop": round(stop * 1000),
                "labels": [*labels, thread],
                "statusDetails": details,
                "parameters": [*parameters, {"name": "run", "value": str(record.get("repeat"))}],
            }
        )
    return out


def _gate_result(report: Mapping[str, Any], gate: Mapping[str, Any]) -> TestResult:
    name = str(gate.get("name", "?"))
    outcome = str(gate.get("outcome", "insufficient"))
    status = _GATE_STATUS.get(outcome, Status.BROKEN)
    observed, threshold = gate.get("observed"), gate.get("threshold")
    comparison = str(gate.get("comparison", ""))
    (row,) = views.gate_rows([gate])
    message = (
        f"gate {name}: {outcome}: observed {row.observed}, decided on {row.decided_on}, "
        f"required {comparison} {threshold}"
    )
    if gate.get("detail"):
        message += f" ({gate['detail']})"
    if outcome == "insufficient":
        message += "; not enough evidence to decide"
    result = _result(report, "gates", name, status, message)
    result.start = result.stop  # decided once the phases had ended: a moment, not a span
    result.description = message
    result.parameters = [
        Parameter(name="observed", value=str(observed)),
        Parameter(name="decided on", value=row.decided_on),
        Parameter(name="comparison", value=comparison),
        Parameter(name="threshold", value=str(threshold)),
    ]
    return result


def _chaos_result(report: Mapping[str, Any], experiment: Mapping[str, Any]) -> TestResult:
    name = str(experiment.get("name", "?"))
    (row,) = views.chaos_rows([experiment])
    recovered, effect = experiment.get("recovered"), experiment.get("effect_observed")
    if not row.ran:
        # Nothing was injected: no evidence either way, never "did not recover".
        status, message = Status.SKIPPED, row.note or "not run"
    elif recovered is False:
        status, message = Status.FAILED, "the system did not recover from the fault"
    elif effect is False:
        # A fault with no observed effect proves nothing about recovery.
        status, message = Status.BROKEN, "the fault had no observed effect"
    elif recovered is True:
        status, message = Status.PASSED, ""
    else:
        status, message = Status.UNKNOWN, "recovery was not determined"
    if row.ran and row.note:
        message = f"{message}; {row.note}" if message else row.note
    result = _result(report, "chaos", name, status, message)
    began = experiment.get("started_epoch")
    if isinstance(began, int | float):  # its own span, from its first probe to its last
        offsets = [_map(p).get("t_s") for p in _list(experiment.get("timeline"))]
        last = max((float(t) for t in offsets if isinstance(t, int | float)), default=0.0)
        result.start, result.stop = int(began * 1000), int((began + last) * 1000)
    result.parameters = [
        Parameter(name="fault", value=row.fault),
        Parameter(name="effect observed", value=row.effect_observed),
        Parameter(name="recovered k/n [95% CP]", value=row.recovered),
        Parameter(name="recovery s p50 / p95 / max", value=row.recovery),
        Parameter(name="claim", value=row.claim),
    ]
    for key, value in _map(experiment.get("recovery")).items():
        shown = views.significant(value) if isinstance(value, float) else str(value)
        result.parameters.append(Parameter(name=f"first injection {key}", value=shown))
    return result


def _run_result(report: Mapping[str, Any]) -> TestResult | None:
    """A broken result for the run itself when it crashed or was interrupted."""
    status, error = report.get("status"), report.get("error")
    if not error and status in (None, "completed"):
        return None
    message = f"run {status or 'unknown'}" + (f": {error}" if error else "")
    return _result(report, "run", str(report.get("run_id", "unknown-run")), Status.BROKEN, message)


def _properties_escape(text: str, key: bool) -> str:
    """Java .properties escaping (the format Allure reads), non-ASCII as \\uXXXX."""
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch in "\n\r\t":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}[ch])
        elif key and ch in " =:#!":
            out.append("\\" + ch)
        elif ord(ch) > 126 or ord(ch) < 32:
            out.append(f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else "?")
        else:
            out.append(ch)
    return "".join(out)


def _environment(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    pairs = [
        (key, str(report[key]))
        for key in (
            "run_id",
            "schema",
            "status",
            "verdict",
            "exit_code",
            "profile",
            "target_url",
            "git_commit",
            "started_at",
            "finished_at",
        )  # fmt: skip
        if report.get(key) is not None
    ]
    for name, component in _map(report.get("components")).items():
        c = _map(component)
        detail = f" ({c['detail']})" if c.get("detail") else ""
        pairs.append((f"component.{name}", f"{c.get('kind', '?')}{detail}"))
    return pairs


def _write_json(path: Path, data: Any) -> Path:
    tmp = path.with_name(path.name + ".tmp")
    # compact: json's C encoder (an indent takes its pure-Python one, ten times slower)
    tmp.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    tmp.replace(path)  # Allure may be watching the directory: never show half a file
    return path


def _executor(report: Mapping[str, Any]) -> dict[str, Any]:
    run_id = str(report.get("run_id", "unknown-run"))
    return {
        "name": "reliable-test-runner",
        "type": "moonbase-reliability",
        "buildName": f"{report.get('command') or 'run'} {report.get('profile') or ''} {run_id}",
        "buildOrder": _epoch_ms(report.get("started_at")),
        "reportName": f"Moonbase reliability: {report.get('verdict') or 'no verdict'}",
        "reportUrl": f"../{run_id}/index.html",
    }


def _carry_history(history_from: Path | None, out_dir: Path) -> None:
    """The previous Allure report's ``history/`` into these results (Allure's trends)."""
    import shutil

    if history_from is None or not history_from.is_dir():
        return
    target = out_dir / "history"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(history_from, target)


def write_allure_results(
    report: Mapping[str, Any],
    out_dir: Path,
    *,
    runs_path: Path | None = None,
    history_from: Path | None = None,
) -> list[Path]:
    """Write Allure 2 result files for ``report`` into ``out_dir``; return the paths written.

    ``runs_path``: the run's test-runs.jsonl, for a result per run of each test (without it,
    one result per test). ``history_from``: the ``history/`` folder of the previous Allure
    report, carried into ``out_dir/history``. Tolerates a report of a crashed or
    interrupted run: missing sections give no results, and the run itself gets a
    ``broken`` result naming its status and error.
    """
    report = complete(report)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("*-result.json"):  # a re-render replaces the run's results
        stale.unlink()
    tests = [_map(t) for t in _list(report.get("tests"))]
    cap = max(1, min(_RUNS_PER_TEST, _RUNS_IN_ALL // max(1, len(tests))))
    runs = _runs_by_test(runs_path, cap)
    results: list[dict[str, Any]] = []
    for test in tests:
        results += _run_results(report, test, runs.get(str(test.get("nodeid"))) or [], cap)
    results += [_plain(_gate_result(report, _map(g))) for g in _list(report.get("gates"))]
    results += [_plain(_chaos_result(report, _map(e))) for e in _list(report.get("chaos"))]
    run = _run_result(report)
    if run is not None:
        results.append(_plain(run))
    written = [_write_json(out_dir / f"{r['uuid']}-result.json", r) for r in results]
    env_path = out_dir / "environment.properties"
    env_path.write_text(
        "".join(
            f"{_properties_escape(k, key=True)}={_properties_escape(v, key=False)}\n"
            for k, v in _environment(report)
        ),
        encoding="ascii",
    )
    written.append(env_path)
    written.append(_write_json(out_dir / "categories.json", _CATEGORIES))
    written.append(_write_json(out_dir / "executor.json", _executor(report)))
    _carry_history(history_from, out_dir)
    return written


def result_statuses(paths: Sequence[Path]) -> dict[str, str]:
    """``{name: status}`` of the result files among ``paths`` (for checks and summaries)."""
    statuses = {}
    for path in paths:
        if path.name.endswith("-result.json"):
            data = json.loads(path.read_text(encoding="utf-8"))
            statuses[str(data.get("fullName"))] = str(data.get("status"))
    return statuses
