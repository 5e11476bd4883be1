"""Config sections of the load phase beside :class:`harness.config.LoadSettings`'s own
fields: its stages (``[[load.stages]]``). Kept apart so that config.py stays one concept."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["StageSettings", "check_stages"]


class StageSettings(BaseModel):
    """One stage of the load's shape (k6's stages): over ``duration_s`` the load moves
    linearly from the previous stage's target (the first from 0) to this one's, a rate
    (``rate_rps``, open model) or a number of users (``users``, closed model); a stage of
    0 s is a step."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

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
