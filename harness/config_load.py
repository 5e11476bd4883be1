"""Config sections of the load phase: ``[load]`` itself (:class:`LoadSettings`, which
:mod:`harness.config` re-exports), its stages (``[[load.stages]]``) and the gates that name
one request or are judged during the load. Kept apart so that config.py stays one concept."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    model_validator,
)

__all__ = [
    "AbortableGate",
    "LoadSettings",
    "RequestGateSettings",
    "StageSettings",
    "check_stages",
]


class StageSettings(BaseModel):
    """One stage of the load's shape (k6's stages): over ``duration_s`` the load moves
    linearly from the previous stage's target (the first from 0) to this one's, a rate
    (``rate_rps``, open model) or a number of users (``users``, closed model); a stage of
    0 s is a step."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, defer_build=True)

    duration_s: Annotated[float, Field(ge=0, le=86_400)]
    rate_rps: Annotated[float, Field(ge=0)] | None = None
    users: Annotated[int, Field(ge=0, le=10_000)] | None = None

    @model_validator(mode="after")
    def _one_target(self) -> StageSettings:
        if (self.rate_rps is None) == (self.users is None):
            raise ValueError(
                "a stage gives exactly one of rate_rps (open model) or users (closed model)"
            )
        return self


def check_stages(stages: list[StageSettings]) -> list[StageSettings]:
    """One model for every stage, some time and some load in all."""
    if not stages:
        return stages
    kind = "rate_rps" if stages[0].rate_rps is not None else "users"
    for i, stage in enumerate(stages):
        if (stage.rate_rps is not None) != (kind == "rate_rps"):
            raise ValueError(
                f"stage {i} gives {'users' if kind == 'rate_rps' else 'rate_rps'} and stage 0 "
                f"gives {kind}: one load is either open (rates) or closed (users)"
            )
    if sum(s.duration_s for s in stages) <= 0:
        raise ValueError("the stages' durations add up to 0 s: they must last > 0 s")
    if max((s.rate_rps or s.users or 0) for s in stages) <= 0:
        raise ValueError(f"every stage's {kind} is 0: nothing would be sent")
    return stages


class RequestGateSettings(BaseModel):
    """``[[gates.requests]]``: load gates for one request name of the mix (its ``name`` in
    the load file, else ``METHOD path`` as written), judged on that request's own counts and
    histogram. ``abort_on_fail``: judged while the load runs too, ending it once one fails."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, defer_build=True)

    name: Annotated[str, Field(min_length=1)]
    error_rate: Annotated[float, Field(ge=0, lt=1)] | None = None
    p95_ms: Annotated[float, Field(gt=0)] | None = None
    p99_ms: Annotated[float, Field(gt=0)] | None = None
    abort_on_fail: bool = False

    @model_validator(mode="after")
    def _some_threshold(self) -> RequestGateSettings:
        if self.error_rate is None and self.p95_ms is None and self.p99_ms is None:
            raise ValueError("a request gate sets at least one of error_rate, p95_ms, p99_ms")
        return self


# the [gates] a run can judge while the load runs (gates.abort_on_fail)
AbortableGate = Literal["load_error_rate", "load_p95_ms", "load_p99_ms"]


class LoadSettings(BaseModel):
    """The Locust load phase (``[load]``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, defer_build=True)

    enabled: bool = True
    duration_s: PositiveFloat = 10.0
    rate_rps: Annotated[float, Field(ge=0)] = 500.0
    users: Annotated[int, Field(ge=1, le=10_000)] = 10
    path: str = "/api/v0/ping"
    processes: Annotated[int, Field(ge=1, le=64)] = 1
    max_requests: Annotated[int, Field(ge=1)] | None = None
    # the generator's noise floor, measured before the load (harness/floor.py)
    floor_enabled: bool = True
    floor_duration_s: Annotated[float, Field(gt=0, le=60)] = 2.0
    # open model: requests out at once at most (k6's maxVUs); one due beyond it is dropped
    max_in_flight: Annotated[int, Field(ge=1, le=100_000)] = 100
    # stop once success >= this is proven or impossible within max_requests (nines profile)
    prove_success: Annotated[float, Field(gt=0, lt=1)] | None = None
    # a shape over time : replaces rate_rps/users and duration_s
    stages: Annotated[list[StageSettings], AfterValidator(check_stages)] = []
    # a load file (scenarios/load/*.toml) replacing the fields above ("profile_file": old name)
    load_file: str | None = Field(
        default=None, validation_alias=AliasChoices("load_file", "profile_file")
    )
    # the user's own locustfile: its User classes (and LoadTestShape) instead of `path`
    locustfile: str | None = None
    # > 0: a Locust master on master_bind waits for this many `load-worker` processes
    expect_workers: Annotated[int, Field(ge=0, le=64)] = 0
    master_bind: str = "127.0.0.1:5557"
