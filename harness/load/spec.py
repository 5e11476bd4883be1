"""What to send, how fast and for how long: :class:`LoadSpec` and its checks.

A spec is a plain value. It crosses into the Locust child process as JSON
(:meth:`LoadSpec.to_json` / :meth:`LoadSpec.from_json`), so everything in it is
data, never code.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import random
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from harness.errors import ConfigError, UnsafeTargetError
from harness.load.templates import (
    ValueSource,
    draw_all,
    json_placeholders,
    placeholders,
    render_json,
    render_text,
)

__all__ = ["HTTP_METHODS", "LoadSpec", "RequestSpec", "Stage", "check_target_url", "with_stages"]

HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class RequestSpec:
    """One kind of request in the mix; picked with probability weight / sum(weights).

    ``path``, ``body`` and the strings of ``json_body`` may hold placeholders (``{id}``),
    each drawn per request from its source in ``values`` (:mod:`harness.load.templates`).
    ``json_body`` is sent as JSON with ``Content-Type: application/json`` unless the
    headers say otherwise. Statistics are kept per ``name``: the ``label`` given, else
    ``METHOD path`` with the path as written (``GET /items/{id}``), not per drawn value.
    """

    method: str = "GET"
    path: str = "/api/v0/ping"
    weight: int = 1
    headers: tuple[tuple[str, str], ...] = ()
    body: str | None = None
    expect_status: tuple[int, ...] = (200,)
    json_body: Any = None  # a parsed JSON value (dict, list, ...), or None
    values: tuple[ValueSource, ...] = ()
    label: str | None = None

    @property
    def name(self) -> str:
        """The label used in error messages and statistics: ``GET /api/v0/ping``."""
        return self.label or f"{self.method} {self.path}"

    def placeholders(self) -> set[str]:
        """Every placeholder the path, body and JSON body name."""
        found = placeholders(self.path)
        if self.body is not None:
            found |= placeholders(self.body)
        return found | json_placeholders(self.json_body)

    def render(self, rng: random.Random) -> tuple[str, dict[str, str] | None, str | None]:
        """The path, headers and body of one request, with this request's values drawn."""
        drawn = draw_all(self.values, rng) if self.values else {}
        path = render_text(self.path, drawn, url=True)
        headers = dict(self.headers)
        body = None if self.body is None else render_text(self.body, drawn)
        if self.json_body is not None:
            body = render_json(self.json_body, drawn)
            if not any(k.lower() == "content-type" for k in headers):
                headers["Content-Type"] = "application/json"
        return path, headers or None, body

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; :meth:`from_json` reverses it."""
        return {
            "method": self.method,
            "path": self.path,
            "weight": self.weight,
            "headers": [list(h) for h in self.headers],
            "body": self.body,
            "expect_status": list(self.expect_status),
            "json_body": self.json_body,
            "values": [v.to_json() for v in self.values],
            "label": self.label,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RequestSpec:
        """Rebuild from :meth:`to_json` output."""
        return cls(
            method=str(data["method"]),
            path=str(data["path"]),
            weight=int(data["weight"]),
            headers=tuple((str(k), str(v)) for k, v in data["headers"]),
            body=None if data["body"] is None else str(data["body"]),
            expect_status=tuple(int(s) for s in data["expect_status"]),
            json_body=data.get("json_body"),
            values=tuple(ValueSource.from_json(v) for v in data.get("values", ())),
            label=data.get("label"),
        )


@dataclass(frozen=True, slots=True)
class Stage:
    """One stage of a load shape, k6's way: over ``duration_s`` the load moves linearly
    from the previous stage's target (the first from 0) to this one's: ``rate_rps`` (open
    model) or ``users`` (closed model), exactly one of them. ``duration_s = 0`` is a step:
    the next stage starts from this target at once."""

    duration_s: float
    rate_rps: float | None = None
    users: int | None = None

    @property
    def target(self) -> float:
        return float(self.rate_rps if self.rate_rps is not None else self.users or 0)

    def to_json(self) -> dict[str, Any]:
        return {"duration_s": self.duration_s, "rate_rps": self.rate_rps, "users": self.users}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Stage:
        rate, users = data.get("rate_rps"), data.get("users")
        return cls(
            float(data["duration_s"]),
            None if rate is None else float(rate),
            None if users is None else int(users),
        )


@dataclass(frozen=True, slots=True)
class LoadSpec:
    """A bounded load run against one target.

    ``rate_rps > 0`` is the open model: requests start on a fixed schedule whatever the
    service does, and latency counts from the intended send time. ``rate_rps == 0`` is the
    closed model: each user sends its next request when the last one returns.

    In the open model each user owns every ``users``-th slot of the schedule and starts
    each of its requests at its time without waiting for the one before (k6's
    constant-arrival-rate): the number in flight grows as the service slows, up to
    ``max_in_flight`` over the whole run (k6's maxVUs). A request due while that many are
    out is not delayed but *dropped*: counted in ``requests`` and ``failures`` and on its
    own as ``dropped``. Keep ``users`` modest: Locust's own latency noise grows with them
    (bench/results/load.md).

    ``stages`` (:class:`Stage`) shape the load over time instead: rates (open model) or
    users (closed); build a staged spec with :func:`with_stages`, which sets
    ``duration_s`` to the stages' total and ``users`` to the closed model's peak.
    """

    target_url: str
    requests: tuple[RequestSpec, ...] = field(default=(RequestSpec(),))
    rate_rps: float = 200.0
    users: int = 10
    duration_s: float = 10.0
    max_requests: int | None = None
    processes: int = 1
    request_timeout_s: float = 5.0
    allow_non_loopback: bool = False
    max_in_flight: int = 100
    stages: tuple[Stage, ...] = ()
    # progress lines carry the histograms too: for gates judged while the load runs
    live_progress: bool = False
    # the user's own locustfile (an absolute path): its User classes (and LoadTestShape)
    # run instead of ``requests``, closed model (their own wait_time), bounded by
    # duration_s and max_requests (harness.load.locustfile_run)
    locustfile: str | None = None
    # > 0: a master on master_bind ("ADDR:PORT") waits for this many workers started
    # elsewhere (`load-worker --master`), and ``processes`` is that count
    expect_workers: int = 0
    master_bind: str | None = None

    @property
    def model(self) -> str:
        """``"open"`` when paced at a rate (``rate_rps`` or rate stages), else ``"closed"``
        (and always with a locustfile: its users pace themselves)."""
        if self.locustfile is not None:
            return "closed"
        if self.stages:
            return "open" if self.stages[0].rate_rps is not None else "closed"
        return "open" if self.rate_rps > 0 else "closed"

    def segments(self) -> tuple[tuple[float, float, float], ...]:
        """The shape as (duration_s, start value, end value) stretches (pacing.Segment):
        the stages, or one constant stretch at ``rate_rps`` / ``users``."""
        if not self.stages:
            value = self.rate_rps if self.model == "open" else float(self.users)
            return ((self.duration_s, value, value),)
        out, previous = [], 0.0
        for stage in self.stages:
            out.append((stage.duration_s, previous, stage.target))
            previous = stage.target
        return tuple(out)

    @property
    def mean_rate_rps(self) -> float:
        """The open model's intended rate over the whole run (0 for the closed model)."""
        if self.model == "closed":
            return 0.0
        area = sum(d * (v0 + v1) / 2 for d, v0, v1 in self.segments())
        return area / self.duration_s if self.duration_s > 0 else 0.0

    def validate(self, where: str = "LoadSpec") -> None:
        """Raise :class:`UnsafeTargetError` or :class:`ConfigError` naming every bad field.

        ``where`` names the origin of the values, e.g. ``"scenarios/load/ping.toml"``.
        """
        check_target_url(self.target_url, self.allow_non_loopback, where=where)
        problems = self.problems()
        if problems:
            raise ConfigError("; ".join(f"{p} from {where}" for p in problems))

    def problems(self) -> list[str]:
        """Every invalid field as ``invalid FIELD VALUE: must be ...`` (target not included)."""
        out: list[str] = []

        def check(ok: bool, field_name: str, value: object, valid: str) -> None:
            if not ok:
                out.append(f"invalid {field_name} {value!r}: must be {valid}")

        check(
            math.isfinite(self.rate_rps) and self.rate_rps >= 0,
            "rate_rps",
            self.rate_rps,
            "a finite number >= 0 (0 = closed model)",
        )
        check(self.users >= 1, "users", self.users, "an integer >= 1")
        check(
            math.isfinite(self.duration_s) and self.duration_s > 0,
            "duration_s",
            self.duration_s,
            "a finite number of seconds > 0",
        )
        check(
            self.max_requests is None or self.max_requests >= 1,
            "max_requests",
            self.max_requests,
            "an integer >= 1, or absent for no count bound",
        )
        check(self.processes >= 1, "processes", self.processes, "an integer >= 1")
        check(
            self.max_in_flight >= max(1, self.processes),
            "max_in_flight",
            self.max_in_flight,
            f"an integer >= processes ({self.processes}): each process needs one at least",
        )
        check(
            self.processes <= 1 or self.users % self.processes == 0 or self.locustfile is not None,
            "users",
            self.users,
            f"a multiple of processes ({self.processes}) so that every Locust worker "
            "runs the same number of users",
        )
        check(
            math.isfinite(self.request_timeout_s) and self.request_timeout_s > 0,
            "request_timeout_s",
            self.request_timeout_s,
            "a finite number of seconds > 0",
        )
        check(len(self.requests) >= 1, "requests", list(self.requests), "at least one request")
        out += _stage_problems(self)
        for i, req in enumerate(self.requests):
            at = f"requests[{i}]"
            check(
                req.method in HTTP_METHODS,
                f"{at}.method",
                req.method,
                f"one of {sorted(HTTP_METHODS)}",
            )
            check(
                req.path.startswith("/"),
                f"{at}.path",
                req.path,
                "a path starting with '/' (the host comes from target_url)",
            )
            check(req.weight >= 1, f"{at}.weight", req.weight, "an integer >= 1")
            out += _template_problems(req, at)
            check(
                len(req.expect_status) >= 1 and all(100 <= s <= 599 for s in req.expect_status),
                f"{at}.expect_status",
                list(req.expect_status),
                "a non-empty list of HTTP status codes 100..599",
            )
        return out

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict for the child process; :meth:`from_json` reverses it."""
        return {
            "target_url": self.target_url,
            "requests": [r.to_json() for r in self.requests],
            "rate_rps": self.rate_rps,
            "users": self.users,
            "duration_s": self.duration_s,
            "max_requests": self.max_requests,
            "processes": self.processes,
            "request_timeout_s": self.request_timeout_s,
            "allow_non_loopback": self.allow_non_loopback,
            "max_in_flight": self.max_in_flight,
            "stages": [stage.to_json() for stage in self.stages],
            "live_progress": self.live_progress,
            "locustfile": self.locustfile,
            "expect_workers": self.expect_workers,
            "master_bind": self.master_bind,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LoadSpec:
        """Rebuild from :meth:`to_json` output."""
        max_requests = data["max_requests"]
        return cls(
            target_url=str(data["target_url"]),
            requests=tuple(RequestSpec.from_json(r) for r in data["requests"]),
            rate_rps=float(data["rate_rps"]),
            users=int(data["users"]),
            duration_s=float(data["duration_s"]),
            max_requests=None if max_requests is None else int(max_requests),
            processes=int(data["processes"]),
            request_timeout_s=float(data["request_timeout_s"]),
            allow_non_loopback=bool(data["allow_non_loopback"]),
            max_in_flight=int(data.get("max_in_flight", 100)),
            stages=tuple(Stage.from_json(st) for st in data.get("stages", ())),
            live_progress=bool(data.get("live_progress", False)),
            locustfile=data.get("locustfile"),
            expect_workers=int(data.get("expect_workers", 0)),
            master_bind=data.get("master_bind"),
        )


def with_stages(spec: LoadSpec, stages: tuple[Stage, ...]) -> LoadSpec:
    """``spec`` shaped by ``stages``: its duration their total, and in the closed model
    at least as many users as the stages' peak."""
    if not stages:
        return spec
    users = spec.users
    if stages[0].rate_rps is None:
        users = max(1, max((st.users or 0) for st in stages))
    total = sum(st.duration_s for st in stages)
    return dataclasses.replace(spec, stages=stages, duration_s=total, users=users)


def _stage_problems(spec: LoadSpec) -> list[str]:
    """Each stage has a finite duration >= 0 and one target of the model the first names;
    the stages last some time and send something."""
    out: list[str] = []
    kind = "rate_rps" if spec.stages and spec.stages[0].rate_rps is not None else "users"
    for i, stage in enumerate(spec.stages):
        at = f"stages[{i}]"
        if not (math.isfinite(stage.duration_s) and stage.duration_s >= 0):
            out.append(
                f"invalid {at}.duration_s {stage.duration_s!r}: must be a finite number of "
                "seconds >= 0 (0 = a step)"
            )
        if (stage.rate_rps is None) == (stage.users is None):
            out.append(
                f"invalid {at} {stage.to_json()!r}: must give exactly one of rate_rps "
                "(open model) or users (closed model)"
            )
        elif (stage.rate_rps is None) != (kind == "users"):
            out.append(
                f"invalid {at} {stage.to_json()!r}: must give {kind} like stages[0]; "
                "one load is either open (rates) or closed (users)"
            )
        elif stage.rate_rps is not None and not (
            math.isfinite(stage.rate_rps) and stage.rate_rps >= 0
        ):
            out.append(f"invalid {at}.rate_rps {stage.rate_rps!r}: must be a finite number >= 0")
        elif stage.users is not None and stage.users < 0:
            out.append(f"invalid {at}.users {stage.users!r}: must be an integer >= 0")
    if spec.stages and not out:
        if sum(st.duration_s for st in spec.stages) <= 0:
            out.append("invalid stages: their durations add up to 0 s; must last > 0 s")
        elif max(st.target for st in spec.stages) <= 0:
            out.append(f"invalid stages: every {kind} target is 0; nothing would be sent")
        elif kind == "users" and spec.users < max(st.target for st in spec.stages):
            out.append(
                f"invalid users {spec.users!r}: must be at least the stages' peak "
                f"({max(st.target for st in spec.stages):g})"
            )
    return out


def _template_problems(req: RequestSpec, at: str) -> list[str]:
    """Placeholders without a source, sources no placeholder uses, two bodies at once."""
    out: list[str] = []
    if req.body is not None and req.json_body is not None:
        out.append(f"invalid {at}: body and json both given; a request has one body")
    used = req.placeholders()
    sources = {v.name for v in req.values}
    for name in sorted(used - sources):
        out.append(
            f"invalid {at}: placeholder {{{name}}} has no values; add it to "
            f"[requests.values] (a list, {{ range = [1, 100] }} or {{ csv = FILE, column = NAME }})"
        )
    for name in sorted(sources - used):
        out.append(f"invalid {at}.values.{name}: no placeholder {{{name}}} in path, body or json")
    for source in req.values:
        if source.low is None and not source.items:
            out.append(f"invalid {at}.values.{source.name}: no values")
        if source.low is not None and source.high is not None and source.low > source.high:
            out.append(
                f"invalid {at}.values.{source.name} range [{source.low}, {source.high}]: "
                "must be [low, high] with low <= high"
            )
    return out


def check_target_url(url: str, allow_non_loopback: bool, *, where: str = "LoadSpec") -> None:
    """Refuse anything but ``http(s)://`` on 127.0.0.0/8 (or ``localhost``) unless allowed.

    Host names other than ``localhost`` are refused without being resolved: resolving
    could itself send traffic off the machine.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"invalid target_url {url!r} from {where}: must be http://HOST:PORT "
            "or https://HOST:PORT"
        )
    try:
        _ = parts.port
    except ValueError as exc:
        raise ConfigError(f"invalid target_url {url!r} from {where}: {exc}") from None
    if allow_non_loopback:
        return
    host = parts.hostname
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host) in ipaddress.ip_network("127.0.0.0/8")
    except ValueError:
        loopback = False
    if not loopback:
        raise UnsafeTargetError(
            f"refusing target_url {url!r} from {where}: host {host!r} is outside "
            "127.0.0.0/8; load goes to loopback only unless allow_non_loopback is set"
        )
