"""API coverage: which of the target's OpenAPI operations, and which of each operation's
documented response codes, the traffic that reached it exercised. Pure.

The operations are read from the document (:func:`operations_of`: path items given by a
local ``$ref`` are followed, the first server's base path is put in front, its
``{variables}`` replaced by their defaults). Each recorded request (method, path as sent,
status) is matched segment by segment: the path is split at ``/`` first and each segment
percent-decoded after, so ``%2F`` stays inside its segment; a template segment is a literal
or holds ``{parameters}``; among the templates a path fits, the one whose first differing
segment is literal wins (``/pods/active`` before ``/pods/{pod_id}``). A ``HEAD`` request
fits a ``GET`` operation when the path documents no ``HEAD``. Its status exercises the
documented response it falls under: the code itself, else its range (``4XX``), else
``default`` (not for a 5xx: a server error exercises only a 5xx the document names). An
operation counts as exercised once a request got a documented answer; one whose requests
got only undocumented statuses (a ``502`` the document never mentions) was reached, not
exercised. A request no operation fits, and a status no response of its
operation documents, are listed: the first is traffic the document does not describe, the
second an undocumented answer. Like code coverage, API coverage is a count over the
document, not a sample: the gate compares it with the threshold as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from harness.decision import Decision

__all__ = [
    "ApiCoverage",
    "Operation",
    "api_coverage_gate",
    "measure_api_coverage",
    "operations_of",
]

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_PARAM = re.compile(r"\{[^}/]+\}")


@dataclass(frozen=True, slots=True)
class Operation:
    method: str  # upper case
    path: str  # the document's template, with the servers' base path in front
    responses: tuple[str, ...]  # the documented keys: "200", "4XX", "default"

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"


def _base_path(doc: Mapping[str, Any]) -> str:
    """The path part of the first server's URL (``/v2`` of ``https://x/v2``), its
    ``{variables}`` replaced by their defaults, or ''."""
    servers = doc.get("servers")
    if not (isinstance(servers, list) and servers and isinstance(servers[0], Mapping)):
        return ""
    url = str(servers[0].get("url") or "")
    variables = servers[0].get("variables")
    if isinstance(variables, Mapping):
        for name, spec in variables.items():
            default = spec.get("default", "") if isinstance(spec, Mapping) else ""
            url = url.replace("{" + str(name) + "}", str(default))
    path = re.sub(r"^[^/?#]*//[^/]*", "", url)  # scheme and host, templated or not
    return path.rstrip("/")


def _resolve(doc: Mapping[str, Any], item: Any) -> Any:
    """A path item given as a local ``$ref`` (``#/components/pathItems/X``), followed."""
    seen = 0
    while isinstance(item, Mapping) and isinstance(item.get("$ref"), str) and seen < 16:
        ref = item["$ref"]
        if not ref.startswith("#/"):
            return item  # a reference to another file: not followed
        node: Any = doc
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            node = node.get(part) if isinstance(node, Mapping) else None
        item, seen = node, seen + 1
    return item


def operations_of(doc: Mapping[str, Any]) -> tuple[Operation, ...]:
    """Every operation of an OpenAPI 3 (or Swagger 2) document; ValueError naming what is
    wrong when it is not one."""
    paths = doc.get("paths")
    if not isinstance(paths, Mapping):
        raise ValueError("no 'paths' object: not an OpenAPI document")
    base = _base_path(doc) if "openapi" in doc else str(doc.get("basePath") or "").rstrip("/")
    ops = []
    for template, item in paths.items():
        item = _resolve(doc, item)
        if not isinstance(item, Mapping):
            continue
        for method in _METHODS:
            op = item.get(method)
            if isinstance(op, Mapping):
                responses = op.get("responses")
                keys = responses if isinstance(responses, Mapping) else {}
                codes = tuple(str(k).upper() if str(k) != "default" else "default" for k in keys)
                ops.append(Operation(method.upper(), base + str(template), codes))
    if not ops:
        raise ValueError("its 'paths' hold no operation")
    return tuple(ops)


class _Template:
    """A path template, segment by segment: a literal string, or a pattern for a segment
    holding parameters (``{id}``, ``{name}.json``)."""

    def __init__(self, op: Operation) -> None:
        self.op = op
        self.segments = [
            re.compile(".+".join(re.escape(p) for p in _PARAM.split(seg)) + "$")
            if _PARAM.search(seg)
            else seg
            for seg in op.path.strip("/").split("/")
        ]
        # literal segments first, by position: the most specific template sorts lowest
        self.rank = tuple(0 if isinstance(seg, str) else 1 for seg in self.segments)

    def fits(self, segments: list[str]) -> bool:
        if len(segments) != len(self.segments):
            return False
        for want, got in zip(self.segments, segments, strict=True):
            if isinstance(want, str):
                if want != got:
                    return False
            elif not got or not want.match(got):
                return False
        return True


def _segments(raw: str) -> list[str]:
    """``/a/b%2Fc/`` -> ``["a", "b/c"]``: split first, decoded after."""
    path = raw.split("?", 1)[0].strip("/")
    return [unquote(seg) for seg in path.split("/")]


class _Matcher:
    def __init__(self, operations: Iterable[Operation]) -> None:
        self._by_method: dict[str, list[_Template]] = {}
        for op in operations:
            self._by_method.setdefault(op.method, []).append(_Template(op))
        for templates in self._by_method.values():
            templates.sort(key=lambda t: t.rank)

    def match(self, method: str, raw: str) -> Operation | None:
        segments = _segments(raw)
        for m in (method, "GET") if method == "HEAD" else (method,):
            fit = next((t for t in self._by_method.get(m, ()) if t.fits(segments)), None)
            if fit is not None:
                return fit.op
        return None


def _response_key(status: int, documented: tuple[str, ...]) -> str | None:
    code = str(status)
    if code in documented:
        return code
    if f"{code[0]}XX" in documented:
        return f"{code[0]}XX"
    # a server error exercises only a 5xx the document names: under "default" it would make
    # a broken target look exercised
    return "default" if "default" in documented and status < 500 else None


@dataclass(frozen=True, slots=True)
class OperationCoverage:
    operation: Operation
    requests: int
    statuses: dict[int, int]  # every status seen, with its count
    exercised: tuple[str, ...]  # the documented responses some request fell under
    undocumented: tuple[int, ...]  # statuses no documented response covers


@dataclass(frozen=True, slots=True)
class ApiCoverage:
    """The document's operations as the recorded traffic exercised them."""

    source: str  # where the document came from
    operations: tuple[OperationCoverage, ...]
    unmatched: dict[str, int] = field(default_factory=dict)  # "GET /x" -> requests
    requests: int = 0
    hop_errors: int = 0  # requests the hop could not forward (the target unreachable)
    broken: str = ""  # why the traffic recorded is not all of it (the hop died mid-phase)

    @property
    def operations_exercised(self) -> tuple[int, int]:
        return sum(1 for o in self.operations if o.exercised), len(self.operations)

    @property
    def responses_exercised(self) -> tuple[int, int]:
        k = sum(len(o.exercised) for o in self.operations)
        return k, sum(len(o.operation.responses) for o in self.operations)

    def counts(self, basis: str) -> tuple[int, int]:
        return self.responses_exercised if basis == "responses" else self.operations_exercised

    def to_json(self) -> dict[str, Any]:
        def share(kn: tuple[int, int]) -> dict[str, Any]:
            k, n = kn
            return {"covered": k, "total": n, "percent": round(100 * k / n, 2) if n else None}

        return {
            "source": self.source,
            "requests": self.requests,
            "hop_errors": self.hop_errors,
            **({"broken": self.broken} if self.broken else {}),
            "operations": share(self.operations_exercised),
            "responses": share(self.responses_exercised),
            "by_operation": [
                {
                    "method": o.operation.method,
                    "path": o.operation.path,
                    "requests": o.requests,
                    "exercised_any": bool(o.exercised),
                    "statuses": {str(k): v for k, v in sorted(o.statuses.items())},
                    "documented": list(o.operation.responses),
                    "exercised": list(o.exercised),
                    "missed": [r for r in o.operation.responses if r not in o.exercised],
                    "undocumented": list(o.undocumented),
                }
                for o in self.operations
            ],
            "unmatched": dict(sorted(self.unmatched.items(), key=lambda kv: -kv[1])[:50]),
        }


def measure_api_coverage(
    operations: Iterable[Operation],
    traffic: Iterable[tuple[str, str, int, bool]],
    source: str,
) -> ApiCoverage:
    """``traffic``: (method, path as sent, status, answered by the hop itself) per request."""
    ops = list(operations)
    matcher = _Matcher(ops)
    statuses: dict[Operation, dict[int, int]] = {op: {} for op in ops}
    unmatched: dict[str, int] = {}
    requests = hop_errors = 0
    for method, path, status, hop in traffic:
        if hop:
            hop_errors += 1
            continue
        requests += 1
        method = method.upper()
        match = matcher.match(method, path)
        if match is None:
            key = f"{method} {path.split('?', 1)[0]}"
            unmatched[key] = unmatched.get(key, 0) + 1
            continue
        seen = statuses[match]
        seen[status] = seen.get(status, 0) + 1
    covered = []
    for op in sorted(ops, key=lambda o: (o.path, _METHODS.index(o.method.lower()))):
        seen = statuses[op]
        keys = {s: _response_key(s, op.responses) for s in seen}
        exercised = tuple(r for r in op.responses if r in keys.values())
        undocumented = tuple(sorted(s for s, k in keys.items() if k is None))
        covered.append(OperationCoverage(op, sum(seen.values()), seen, exercised, undocumented))
    return ApiCoverage(source, tuple(covered), unmatched, requests, hop_errors)


def api_coverage_gate(
    coverage: ApiCoverage | None, threshold: float, basis: str, why_none: str = ""
) -> Decision:
    """``api_coverage_min``: the share of the document's operations (or of their documented
    responses) the traffic exercised, against the minimum percentage."""
    name = "api_coverage_min"
    if coverage is None:
        why = f" ({why_none})" if why_none else ""
        return Decision(name, "insufficient", None, threshold, f"no API coverage measured{why}")
    k, n = coverage.counts(basis)
    if not n:
        return Decision(name, "insufficient", None, threshold, f"no {basis} in the document")
    pct = 100.0 * k / n
    if coverage.broken:
        detail = f"{k}/{n} {basis} exercised by what was recorded, not all: {coverage.broken}"
        return Decision(name, "insufficient", pct, threshold, detail, n, pct, f"{basis} exercised")
    missed = [o.operation.name for o in coverage.operations if not o.exercised]
    detail = f"{k}/{n} {basis} exercised ({pct:.2f}%, {coverage.source}) against >= {threshold:g}%"
    if missed and basis == "operations":
        more = " ..." if len(missed) > 5 else ""
        detail += f"; never exercised: {', '.join(missed[:5])}{more}"
    if pct >= threshold:
        return Decision(name, "pass", pct, threshold, detail, n, pct, f"{basis} exercised")
    return Decision(name, "fail", pct, threshold, detail, n, pct, f"{basis} exercised")
