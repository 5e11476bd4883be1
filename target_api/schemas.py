"""Request bodies, validated completely before anything is done with them."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

# NUL can be neither a process argument nor PostgreSQL text: refused here, as a 422.
NO_NUL = r"^[^\x00]*$"
Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")]
Arg = Annotated[str, StringConstraints(max_length=8192, pattern=NO_NUL)]
EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]


def _program_named(command: list[str]) -> list[str]:
    if command[0] == "":
        raise ValueError("the program (first element) must not be empty")
    return command


Command = Annotated[list[Arg], Field(min_length=1, max_length=256), AfterValidator(_program_named)]
Env = Annotated[dict[EnvName, Arg], Field(max_length=128)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ContainerIn(_Body):
    name: Name
    command: Command
    env: Env = Field(default_factory=dict)
    image: (
        Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=NO_NUL)] | None
    ) = None


class StackIn(_Body):
    name: Name
    containers: Annotated[list[ContainerIn], Field(min_length=1, max_length=16)]

    @field_validator("containers")
    @classmethod
    def _unique_names(cls, containers: list[ContainerIn]) -> list[ContainerIn]:
        names = [c.name for c in containers]
        if len(set(names)) != len(names):
            raise ValueError(f"container names must be unique, got {names}")
        return containers


class PodIn(_Body):
    name: Name
    stack: StackIn | None = None
    restart_policy: Literal["always", "on_failure", "never"] = "on_failure"


class JobIn(_Body):
    command: Command
    env: Env = Field(default_factory=dict)
    timeout_s: Annotated[float, Field(gt=0, le=86_400, allow_inf_nan=False)] = 60.0
    max_attempts: Annotated[int, Field(ge=1, le=10)] = 1
    idempotency_key: (
        Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=NO_NUL)] | None
    ) = None
