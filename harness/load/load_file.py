"""Declarative load files: ``scenarios/load/*.toml`` -> :class:`LoadSpec`.

("Load file", never "profile": a profile is a set of settings in reliability.toml.) A load
file says what to send and how hard; the target comes from the caller (the
reference API the harness started, or ``--target-url``). Every problem in the file is
reported at once, each naming the file and the field, before any traffic is sent::

    name = "ping"
    rate_rps = 200          # open model; 0 = closed model
    users = 10
    duration_s = 10
    max_requests = 5000     # optional count bound
    [[requests]]
    method = "GET"
    path = "/api/v0/ping"
    expect_status = [200]

``allow_non_loopback`` is deliberately not a field of the file: leaving loopback takes an
explicit decision by the caller, never a file in the repository.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.errors import ScenarioError
from harness.load.spec import LoadSpec, RequestSpec

__all__ = ["load_load_spec", "parse_load_file"]


class _RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    method: str = "GET"
    path: str = "/api/v0/ping"
    weight: int = Field(default=1, ge=1)
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    expect_status: list[int] = Field(default_factory=lambda: [200], min_length=1)


class _LoadFileModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str | None = None
    description: str | None = None
    rate_rps: float = Field(default=200.0, ge=0, allow_inf_nan=False)
    users: int = Field(default=10, ge=1)
    duration_s: float = Field(default=10.0, gt=0, allow_inf_nan=False)
    max_requests: int | None = Field(default=None, ge=1)
    processes: int = Field(default=1, ge=1)
    request_timeout_s: float = Field(default=5.0, gt=0, allow_inf_nan=False)
    requests: list[_RequestModel] = Field(default_factory=lambda: [_RequestModel()], min_length=1)


def _field_name(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _describe(error: Any) -> str:
    loc = tuple(error["loc"])
    field = _field_name(loc)
    if error["type"] == "extra_forbidden":
        in_request = len(loc) > 2 and loc[0] == "requests"
        known = (_RequestModel if in_request else _LoadFileModel).model_fields
        return (
            f"unknown field {field} = {error['input']!r}: valid fields are "
            f"{', '.join(sorted(known))}"
        )
    return f"invalid {field} = {error['input']!r}: {error['msg']}"


def parse_load_file(
    data: dict[str, Any], target_url: str, *, where: str, allow_non_loopback: bool = False
) -> LoadSpec:
    """Validate a parsed load file completely and build its :class:`LoadSpec`.

    Raises :class:`ScenarioError` listing every problem as ``WHERE: FIELD ...``; an unsafe
    target raises :class:`harness.errors.UnsafeTargetError`.
    """
    try:
        model = _LoadFileModel.model_validate(data)
    except ValidationError as exc:
        problems = [f"{where}: {_describe(e)}" for e in exc.errors()]
        raise ScenarioError(f"load file {where} is invalid:\n  " + "\n  ".join(problems)) from None
    spec = LoadSpec(
        target_url=target_url,
        requests=tuple(
            RequestSpec(
                method=r.method.upper(),
                path=r.path,
                weight=r.weight,
                headers=tuple(sorted(r.headers.items())),
                body=r.body,
                expect_status=tuple(r.expect_status),
            )
            for r in model.requests
        ),
        rate_rps=model.rate_rps,
        users=model.users,
        duration_s=model.duration_s,
        max_requests=model.max_requests,
        processes=model.processes,
        request_timeout_s=model.request_timeout_s,
        allow_non_loopback=allow_non_loopback,
    )
    problems = spec.problems()
    if problems:
        raise ScenarioError(
            f"load file {where} is invalid:\n  " + "\n  ".join(f"{where}: {p}" for p in problems)
        )
    spec.validate(where=f"the target URL given for {where}")
    return spec


def load_load_spec(
    path: str | Path, target_url: str, *, allow_non_loopback: bool = False
) -> LoadSpec:
    """Read ``path`` (a load file, TOML) and return its validated :class:`LoadSpec`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"cannot read load file {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from None
    return parse_load_file(data, target_url, where=str(path), allow_non_loopback=allow_non_loopback)
