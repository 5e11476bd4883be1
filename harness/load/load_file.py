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
    max_in_flight = 100     # open model: at most this many out at once; more are dropped
    [[stages]]              # optional shape (replaces rate_rps/duration_s): k6's stages,
    duration_s = 5          # linear from the previous target (the first from 0) to this
    rate_rps = 300          # one; or users = N (closed model); duration_s = 0 is a step
    [[requests]]
    method = "GET"
    path = "/api/v0/ping"
    expect_status = [200]

    [[requests]]                       # a real API: JSON body, values drawn per request
    method = "POST"
    path = "/items/{id}/notes"
    json = { text = "note for {id}", item = "{id}" }   # Content-Type set for you
    name = "POST /items/{id}/notes"    # optional: the row its statistics are kept in
    values = { id = { range = [1, 100] } }              # or a list, or { csv, column }

Value sources are described in :mod:`harness.load.templates`; a CSV path is relative to
the load file's directory.

``allow_non_loopback`` is deliberately not a field of the file: leaving loopback takes an
explicit decision by the caller, never a file in the repository.
"""

from __future__ import annotations

import csv
import json
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from harness.errors import ScenarioError
from harness.load.spec import LoadSpec, RequestSpec, Stage, with_stages
from harness.load.templates import MAX_VALUES, ValueSource
from harness.validation import too_deep

__all__ = ["load_load_spec", "parse_load_file"]


class _RangeModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    range: list[int] = Field(min_length=2, max_length=2)


class _CsvModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    csv: str
    column: str


_Values = list[str | int] | _RangeModel | _CsvModel


class _RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    method: str = "GET"
    path: str
    weight: int = Field(default=1, ge=1)
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    json_body: dict[str, Any] | list[Any] | None = Field(default=None, alias="json")
    name: str | None = None
    values: dict[str, _Values] = Field(default_factory=dict)
    expect_status: list[int] = Field(default_factory=lambda: [200], min_length=1)

    @field_validator("json_body")
    @classmethod
    def _json_only(cls, value: Any) -> Any:
        # TOML has dates, times, inf and nan; JSON has none, and the body crosses as JSON
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"JSON values only (no dates, times, inf or nan): {exc}") from None
        return value


class _StageModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    duration_s: float = Field(ge=0, allow_inf_nan=False)
    rate_rps: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    users: int | None = Field(default=None, ge=0)


class _LoadFileModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str | None = None
    description: str | None = None
    rate_rps: float = Field(default=200.0, ge=0, allow_inf_nan=False)
    users: int = Field(default=10, ge=1)
    duration_s: float = Field(default=10.0, gt=0, allow_inf_nan=False)
    max_requests: int | None = Field(default=None, ge=1)
    processes: int = Field(default=1, ge=1)
    max_in_flight: int = Field(default=100, ge=1)
    request_timeout_s: float = Field(default=5.0, gt=0, allow_inf_nan=False)
    requests: list[_RequestModel] = Field(min_length=1)
    stages: list[_StageModel] = Field(default_factory=list)


# a JSON body nests a few tables deep; quoting far deeper values in a message, or sending
# them as JSON, would exhaust the interpreter's recursion limit
_MAX_DEPTH = 64


def _field_name(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _describe(error: Any) -> str:
    loc = tuple(error["loc"])
    field = _field_name(loc)
    if error["type"] == "extra_forbidden":
        nested: dict[str, type[BaseModel]] = {"requests": _RequestModel, "stages": _StageModel}
        model = nested.get(str(loc[0]), _LoadFileModel) if len(loc) > 2 else _LoadFileModel
        known = model.model_fields
        return (
            f"unknown field {field} = {error['input']!r}: valid fields are "
            f"{', '.join(sorted(f.alias or n for n, f in known.items()))}"
        )
    return f"invalid {field} = {error['input']!r}: {error['msg']}"


def _csv_column(path: Path, column: str, field: str) -> tuple[str, ...]:
    """The non-empty values of ``column`` in the CSV file at ``path``."""
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if column not in (reader.fieldnames or []):
                raise ScenarioError(
                    f"{field}: {path} has no column {column!r}; its columns: "
                    f"{', '.join(reader.fieldnames or []) or 'none'}"
                )
            values = tuple(v for row in reader if (v := (row.get(column) or "").strip()))
    except OSError as exc:
        raise ScenarioError(f"{field}: cannot read {path}: {exc.strerror}") from None
    except ScenarioError:
        raise
    except (ValueError, csv.Error) as exc:  # not UTF-8, a NUL in the path, a 128 KiB field
        raise ScenarioError(f"{field}: cannot read {path} as a UTF-8 CSV file: {exc}") from None
    if not values:
        raise ScenarioError(f"{field}: column {column!r} of {path} has no values")
    if len(values) > MAX_VALUES:
        raise ScenarioError(
            f"{field}: {len(values)} values in {path}; at most {MAX_VALUES} are read"
        )
    return values


def _sources(
    values: dict[str, _Values], at: str, where: str, base_dir: Path | None
) -> tuple[ValueSource, ...]:
    out = []
    for name, given in values.items():
        field = f"{where}: {at}.values.{name}"
        if isinstance(given, _RangeModel):
            out.append(ValueSource(name, low=given.range[0], high=given.range[1]))
        elif isinstance(given, _CsvModel):
            path = Path(given.csv)
            if not path.is_absolute():
                path = (base_dir or Path.cwd()) / path
            out.append(ValueSource(name, items=_csv_column(path, given.column, field)))
        else:
            if len(given) > MAX_VALUES:
                raise ScenarioError(f"{field}: {len(given)} values; at most {MAX_VALUES}")
            out.append(ValueSource(name, items=tuple(given)))
    return tuple(out)


def parse_load_file(
    data: dict[str, Any],
    target_url: str,
    *,
    where: str,
    allow_non_loopback: bool = False,
    base_dir: Path | None = None,
) -> LoadSpec:
    """Validate a parsed load file completely and build its :class:`LoadSpec`.

    Raises :class:`ScenarioError` listing every problem as ``WHERE: FIELD ...``; an unsafe
    target raises :class:`harness.errors.UnsafeTargetError`.
    """
    if deep := too_deep(data, _MAX_DEPTH):
        raise ScenarioError(f"{where}: {deep} is nested in more than {_MAX_DEPTH} tables or arrays")
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
                json_body=r.json_body,
                values=_sources(r.values, f"requests[{i}]", where, base_dir),
                label=r.name,
            )
            for i, r in enumerate(model.requests)
        ),
        rate_rps=model.rate_rps,
        users=model.users,
        duration_s=model.duration_s,
        max_requests=model.max_requests,
        processes=model.processes,
        max_in_flight=model.max_in_flight,
        request_timeout_s=model.request_timeout_s,
        allow_non_loopback=allow_non_loopback,
    )
    spec = with_stages(
        spec, tuple(Stage(st.duration_s, st.rate_rps, st.users) for st in model.stages)
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
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(f"cannot read load file {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as exc:
        why = "arrays or inline tables nested too deep" if isinstance(exc, RecursionError) else exc
        raise ScenarioError(f"{path}: not valid TOML: {why}") from None
    return parse_load_file(
        data,
        target_url,
        where=str(path),
        allow_non_loopback=allow_non_loopback,
        base_dir=path.resolve().parent,
    )
