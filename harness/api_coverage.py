"""API coverage: which of the target's OpenAPI operations, and which of each operation's
documented response codes, the traffic that reached it exercised. Pure.

The operations are read from the document (:func:`operations_of`); each recorded request
(method, path, status) is matched to the operation whose path template it fits, a literal
segment winning over a parameter (``/pods/active`` before ``/pods/{pod_id}``); its status
exercises the documented response it falls under: the code itself, else its range
(``4XX``), else ``default``. A request no operation fits, and a status no response of its
operation documents, are listed: the first is traffic the document does not describe, the
second an undocumented answer. Like code coverage, API coverage is a count over the
document, not a sample: the gate compares it with the threshold as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

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
    """The path part of the first server's URL (``/v2`` of ``https://x/v2``), or ''."""
    servers = doc.get("servers")
    if isinstance(servers, list) and servers and isinstance(servers[0], Mapping):
        url = str(servers[0].get("url") or "")
        path = re.sub(r"^[a-z][a-z0-9+.-]*://[^/]*", "", url, flags=re.IGNORECASE)
        return path.rstrip("/")
    return ""


def operations_of(doc: Mapping[str, Any]) -> tuple[Operation, ...]:
    """Every operation of an OpenAPI 3 (or Swagger 2) document; ValueError naming what is
    wrong when it is not one."""
    paths = doc.get("paths")
    if not isinstance(paths, Mapping):
        raise ValueError("no 'paths' object: not an OpenAPI document")
    base = _base_path(doc) if "openapi" in doc else str(doc.get("basePath") or "").rstrip("/")
    ops = []
    for template, item in paths.items():
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


def _pattern(template: str) -> re.Pattern[str]:
    parts = _PARAM.split(template)
    return re.compile("^" + "[^/]+".join(re.escape(p) for p in parts) + "/?$")


def _specificity(op: Operation) -> tuple[int, int]:
    """Fewer parameters first, then longer literals: the most specific template wins."""
    return (len(_PARAM.findall(op.path)), -len(_PARAM.sub("", op.path)))


def _response_key(status: int, documented: tuple[str, ...]) -> str | None:
    code = str(status)
    if code in documented:
        return code
    if f"{code[0]}XX" in documented:
        return f"{code[0]}XX"
    return "default" if "default" in documented else None


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

    @property
    def operations_exercised(self) -> tuple[int, int]:
        return sum(1 for o in self.operations if o.requests), len(self.operations)

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
            "operations": share(self.operations_exercised),
            "responses": share(self.responses_exercised),
            "by_operation": [
                {
                    "method": o.operation.method,
                    "path": o.operation.path,
                    "requests": o.requests,
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
    """``traffic``: (method, path, status, answered by the hop itself) per request."""
    ops = sorted(operations, key=_specificity)
    patterns = [(op, _pattern(op.path)) for op in ops]
    statuses: dict[Operation, dict[int, int]] = {op: {} for op in ops}
    unmatched: dict[str, int] = {}
    requests = hop_errors = 0
    for method, path, status, hop in traffic:
        if hop:
            hop_errors += 1
            continue
        requests += 1
        method = method.upper()
        match = next((op for op, p in patterns if op.method == method and p.match(path)), None)
        if match is None:
            key = f"{method} {path}"
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
    missed = [o.operation.name for o in coverage.operations if not o.requests]
    detail = f"{k}/{n} {basis} exercised ({pct:.2f}%, {coverage.source}) against >= {threshold:g}%"
    if missed and basis == "operations":
        more = " ..." if len(missed) > 5 else ""
        detail += f"; never exercised: {', '.join(missed[:5])}{more}"
    if pct >= threshold:
        return Decision(name, "pass", pct, threshold, detail, n, pct, f"{basis} exercised")
    return Decision(name, "fail", pct, threshold, detail, n, pct, f"{basis} exercised")
