"""API fuzzing results, read from schemathesis's NDJSON event stream, and their gates. Pure.

:func:`read_events` turns the stream (``schemathesis run --report ndjson``) into one
:class:`FuzzOutcome`: per operation the cases generated and the cases each check failed;
every distinct failure (operation, check, title) with how many cases showed it and the
reproduction of its first case (method, path, body, a curl line); the operations
schemathesis could not test, with why. A case whose ``not_a_server_error`` check failed is
a server error; a case that failed any other check is a contract violation (status codes,
content types, headers and bodies as documented, schema-valid requests accepted, invalid
ones rejected). Each is a count over the cases, shown as k/n with its interval: the gates
``api_server_errors_max`` and ``api_contract_violations_max`` allow at most so many failing
cases, and read insufficient when an operation went untested or no case ran.
"""

from __future__ import annotations

import base64
import json
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.decision import Decision
from harness.stats import upper_bound

__all__ = ["FuzzFailure", "FuzzOutcome", "fuzz_gate", "read_events"]

SERVER_ERROR_CHECK = "not_a_server_error"
_BODY_SHOWN = 2000  # in the report's body field
_CURL_BODY = 65536  # in the curl line


@dataclass(slots=True)
class FuzzFailure:
    operation: str  # "POST /api/v0/jobs"
    check: str  # "negative_data_rejection"
    code: str  # schemathesis's "ST201"
    title: str  # "Schema-violating request accepted"
    message: str
    cases: int  # the cases that showed it
    method: str = ""
    path: str = ""
    body: str = ""
    curl: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "operation": self.operation, "check": self.check, "code": self.code,
            "title": self.title, "message": self.message, "cases": self.cases,
            "reproduce": {"method": self.method, "path": self.path, "body": self.body,
                          "curl": self.curl},
        }  # fmt: skip


@dataclass(slots=True)
class _Operation:
    cases: set[str] = field(default_factory=set)
    failing: dict[str, set[str]] = field(default_factory=dict)  # check -> failing case ids
    errors: list[str] = field(default_factory=list)
    checks: set[str] = field(default_factory=set)  # the checks that ran on its cases


@dataclass(frozen=True, slots=True)
class FuzzOutcome:
    tool: str  # "schemathesis 4.32.5"
    seed: int | None
    operations: dict[str, dict[str, Any]]  # name -> cases, failing by check, errors
    failures: tuple[FuzzFailure, ...]
    cases: int
    server_errors: int  # cases a server error answered
    violations: int  # cases that broke the contract otherwise
    untested: dict[str, str]  # operation -> why schemathesis could not test it fully
    why_none: str = ""  # no result at all: why
    stop_reason: str = ""  # "completed", or what ended the run early

    def to_json(self) -> dict[str, Any]:
        return {
            "tool": self.tool, "seed": self.seed, "cases": self.cases,
            "server_errors": self.server_errors, "violations": self.violations,
            "untested": self.untested, "why_none": self.why_none or None,
            "stop_reason": self.stop_reason, "operations": self.operations,
            "failures": [f.to_json() for f in self.failures],
        }  # fmt: skip


def _curl(request: Mapping[str, Any], token_hint: str) -> tuple[str, str, str, str]:
    """method, path, body (text, cut), curl line of a recorded request; the filtered
    Authorization header comes back as ``token_hint``."""
    from urllib.parse import urlsplit

    method = str(request.get("method") or "GET")
    uri = str(request.get("uri") or "")
    parts = urlsplit(uri)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    raw = request.get("body")
    body = ""
    if isinstance(raw, Mapping) and "$base64" in raw:
        body = base64.b64decode(str(raw["$base64"])).decode("utf-8", "replace")
    elif isinstance(raw, str):
        body = raw
    parts_out = ["curl", "-X", shlex.quote(method)]
    for name, values in (request.get("headers") or {}).items():
        for value in values if isinstance(values, list) else [values]:
            if name.lower() == "authorization" and "Filtered" in str(value):
                parts_out += ["-H", f'"{name}: {token_hint}"']  # the shell fills the token in
            else:
                parts_out += ["-H", shlex.quote(f"{name}: {value}")]
    if body:
        parts_out += ["--data-binary", shlex.quote(body[:_CURL_BODY])]
    parts_out.append(shlex.quote(uri))
    curl = " ".join(parts_out)
    if len(body) > _CURL_BODY:
        curl = f"# the body is cut at {_CURL_BODY} characters of {len(body)}: {curl}"
    shown = body[:_BODY_SHOWN] + (" ..." if len(body) > _BODY_SHOWN else "")
    return method, path, shown, curl


_Seen = dict[tuple[str, str, str], FuzzFailure]  # (operation, check, title) -> failure


def _scenario(
    ev: Mapping[str, Any], ops: dict[str, _Operation], seen: _Seen, token_hint: str
) -> None:
    recorder = ev.get("recorder") or {}
    label = str(recorder.get("label") or "?")
    op = ops.setdefault(label, _Operation())
    op.cases.update(str(c) for c in recorder.get("cases") or {})
    interactions = recorder.get("interactions") or {}
    for case_id, checks in (recorder.get("checks") or {}).items():
        for check in checks or []:
            op.checks.add(str(check.get("name")))
            if check.get("status") != "failure":
                continue
            name = str(check.get("name"))
            op.failing.setdefault(name, set()).add(str(case_id))
            info = (check.get("failure_info") or {}).get("failure") or {}
            key = (label, name, str(info.get("title") or name))
            if key in seen:
                seen[key].cases += 1
                continue
            request = (interactions.get(case_id) or {}).get("request") or {}
            method, path, body, curl = _curl(request, token_hint) if request else ("", "", "", "")
            message = str(info.get("message") or "").strip()
            seen[key] = FuzzFailure(label, name, str(info.get("code") or ""), key[2], message, 1,
                                    method, path, body, curl)  # fmt: skip


def read_events(
    lines: Iterable[str], token_hint: str = "Authorization: Bearer $MOONBASE_API_TOKEN"
) -> FuzzOutcome:
    """The outcome of one schemathesis run from its NDJSON events; ValueError when the
    stream holds no run at all (not schemathesis's, or cut before it began)."""
    token_hint = token_hint.split(": ", 1)[-1]
    ops: dict[str, _Operation] = {}
    seen: _Seen = {}
    tool, seed, stop, fatal = "schemathesis", None, "", ""
    started = False
    for line in lines:
        try:
            event = json.loads(line)
            ((kind, ev),) = event.items()
        except (ValueError, AttributeError):
            continue  # a line cut short by a kill: the events before it count
        if not isinstance(ev, Mapping):
            continue
        if kind == "Initialize":
            started = True
            tool = f"schemathesis {ev.get('schemathesis_version', '?')}"
            seed = ev.get("seed") if isinstance(ev.get("seed"), int) else None
        elif kind == "ScenarioFinished":
            _scenario(ev, ops, seen, token_hint)
        elif kind == "NonFatalError":  # one without an operation: the run as a whole
            message = str((ev.get("value") or {}).get("message") or "error")
            ops.setdefault(str(ev.get("label") or "(the run)"), _Operation()).errors.append(message)
        elif kind == "FatalError":
            fatal = str((ev.get("value") or {}).get("message") or ev.get("message") or "fatal")
        elif kind == "EngineFinished":
            stop = str(ev.get("stop_reason") or "")
    if not started:
        raise ValueError("no schemathesis run in the event stream")
    return _outcome(tool, seed, ops, seen, stop, fatal)


def _outcome(
    tool: str, seed: int | None, ops: dict[str, _Operation],
    seen: _Seen, stop: str, fatal: str,
) -> FuzzOutcome:  # fmt: skip
    cases = sum(len(o.cases) for o in ops.values())
    server = sum(len(o.failing.get(SERVER_ERROR_CHECK, ())) for o in ops.values())
    violating = sum(
        len(set().union(*(ids for c, ids in o.failing.items() if c != SERVER_ERROR_CHECK)))
        for o in ops.values()
        if any(c != SERVER_ERROR_CHECK for c in o.failing)
    )
    # an operation schemathesis reported an error for (its schema unusable, its requests
    # failing to send) was not tested as the document describes it
    untested = {n: "; ".join(dict.fromkeys(o.errors)) for n, o in ops.items() if o.errors}
    untested |= {n: "no case was generated" for n, o in ops.items() if not o.cases and not o.errors}
    operations = {
        name: {
            "cases": len(o.cases),
            "failing": {c: len(ids) for c, ids in sorted(o.failing.items())},
            "errors": list(dict.fromkeys(o.errors)),
            "checks": sorted(o.checks),
        }
        for name, o in sorted(ops.items())
    }
    failures = tuple(
        sorted(seen.values(), key=lambda f: (f.check != SERVER_ERROR_CHECK, f.operation))
    )
    why = fatal or ("" if cases else "schemathesis generated no case")
    return FuzzOutcome(
        tool, seed, operations, failures, cases, server, violating, untested, why, stop
    )


def fuzz_gate(
    name: str, outcome: FuzzOutcome | None, threshold: float, why_none: str = ""
) -> Decision:
    """``api_server_errors_max`` or ``api_contract_violations_max``: the failing cases
    against the maximum allowed, with the one-sided 95% upper bound of their rate."""
    what = "server errors" if name == "api_server_errors_max" else "contract violations"
    if outcome is None or outcome.why_none:
        why = (outcome.why_none if outcome else why_none) or "no fuzz phase in this run"
        return Decision(name, "insufficient", None, threshold, f"no fuzzing result ({why})")
    servers = name == "api_server_errors_max"
    k = outcome.server_errors if servers else outcome.violations
    n = outcome.cases
    figure = (
        f"{k}/{n} generated cases with {what} (one-sided 95% bound on the share of such "
        f"cases: {upper_bound(k, n):.4f}; generated, not production traffic)"
    )
    detail = f"{figure}, {len(outcome.operations)} operations, {outcome.tool}, seed {outcome.seed}"
    detail += f", against <= {threshold:g}"
    if k > threshold:
        shown = [
            f"{f.operation} {f.title}"
            for f in outcome.failures
            if (f.check == SERVER_ERROR_CHECK) == servers
        ]
        detail += f": {', '.join(shown[:5])}" + (" ..." if len(shown) > 5 else "")
        return Decision(
            name, "fail", float(k), threshold, detail, n, float(k), f"cases with {what}"
        )
    ran = set().union(*(o.get("checks", []) for o in outcome.operations.values()))
    judged = SERVER_ERROR_CHECK in ran if servers else bool(ran - {SERVER_ERROR_CHECK})
    why = _lacking(outcome, judged, what)
    if why:
        return Decision(name, "insufficient", float(k), threshold,
                        f"{detail}; not enough evidence: {why}")  # fmt: skip
    return Decision(name, "pass", float(k), threshold, detail, n, float(k), f"cases with {what}")


def _lacking(outcome: FuzzOutcome, judged: bool, what: str) -> str:
    """Why a count with none over the maximum still decides nothing ('' when it does)."""
    if not judged:
        return f"no check that finds {what} ran (fuzz.checks / exclude_checks)"
    if outcome.stop_reason in ("", "interrupted", "failure_limit"):  # completed, max_time: done
        return f"the run did not finish ({outcome.stop_reason or 'stopped at fuzz.timeout_s'})"
    if outcome.untested:
        names = ", ".join(list(outcome.untested)[:3])
        first = next(iter(outcome.untested.values()))
        return f"{len(outcome.untested)} operations untested ({names}: {first})"
    return ""
