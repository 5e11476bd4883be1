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
_BODY_SHOWN = 2000


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
    argv = ["curl", "-X", method]
    for name, values in (request.get("headers") or {}).items():
        for value in values if isinstance(values, list) else [values]:
            value = (
                token_hint
                if name.lower() == "authorization" and "Filtered" in str(value)
                else value
            )
            argv += ["-H", f"{name}: {value}"]
    if body:
        argv += ["--data-binary", body[:_BODY_SHOWN]]
    argv.append(uri)
    shown = body[:_BODY_SHOWN] + (" ..." if len(body) > _BODY_SHOWN else "")
    return method, path, shown, " ".join(shlex.quote(a) for a in argv)


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
    lines: Iterable[str], token_hint: str = "Authorization: Bearer $TOKEN"
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
        elif kind == "NonFatalError" and ev.get("label"):
            message = str((ev.get("value") or {}).get("message") or "error")
            ops.setdefault(str(ev["label"]), _Operation()).errors.append(message)
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
    operations = {
        name: {
            "cases": len(o.cases),
            "failing": {c: len(ids) for c, ids in sorted(o.failing.items())},
            "errors": list(dict.fromkeys(o.errors)),
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
    k = outcome.server_errors if name == "api_server_errors_max" else outcome.violations
    n = outcome.cases
    bound = upper_bound(k, n)
    figure = f"{k}/{n} cases with {what} (rate <= {bound:.4f}, one-sided 95%)"
    ops = len(outcome.operations)
    detail = (
        f"{figure}, {ops} operations, {outcome.tool}, seed {outcome.seed}, against <= {threshold:g}"
    )
    if k > threshold:
        servers = name == "api_server_errors_max"
        shown = [
            f"{f.operation} {f.title}"
            for f in outcome.failures
            if (f.check == SERVER_ERROR_CHECK) == servers
        ]
        detail += f": {', '.join(shown[:5])}" + (" ..." if len(shown) > 5 else "")
        return Decision(
            name, "fail", float(k), threshold, detail, n, float(k), f"cases with {what}"
        )
    if outcome.untested:
        names = ", ".join(list(outcome.untested)[:3])
        return Decision(name, "insufficient", float(k), threshold,
                        f"{detail}; not enough evidence: {len(outcome.untested)} operations "
                        f"untested ({names}: {next(iter(outcome.untested.values()))})")  # fmt: skip
    if outcome.stop_reason and outcome.stop_reason != "completed":
        detail += f" (stopped early: {outcome.stop_reason})"
    return Decision(name, "pass", float(k), threshold, detail, n, float(k), f"cases with {what}")
