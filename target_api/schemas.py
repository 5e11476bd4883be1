"""Request bodies, validated completely before anything is done with them.

Their JSON Schemas go into the OpenAPI document (target_api/openapi.py) and say all that
the validation checks, so that whatever the document allows the server accepts: the
program (a command's first element) is not empty (``prefixItems``), and an environment's
names are shell names (``propertyNames``, with every value a string). The one rule JSON
Schema cannot state, that a stack's container names are distinct, is in its description.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

# NUL can be neither a process argument nor PostgreSQL text: refused here, as a 422.
NO_NUL = r"^[^\x00]*$"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"
ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"
MAX_ARG_CHARS = 8192
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
Arg = Annotated[str, StringConstraints(max_length=MAX_ARG_CHARS, pattern=NO_NUL)]
EnvName = Annotated[str, StringConstraints(pattern=ENV_NAME_PATTERN)]
# execve() needs a program to run: an empty first element could never start
_PROGRAM_SCHEMA = {"type": "string", "minLength": 1, "maxLength": MAX_ARG_CHARS, "pattern": NO_NUL}


def _program_named(command: list[str]) -> list[str]:
    if command[0] == "":
        raise ValueError("the program (first element) must not be empty")
    return command


def _env_schema(schema: dict[str, Any]) -> None:
    """pydantic states the names as ``patternProperties``, which lets any other name in
    with any value; say instead that every name matches and every value is an Arg."""
    patterns = schema.pop("patternProperties")
    ((pattern, value),) = patterns.items()
    schema["propertyNames"] = {"pattern": pattern}
    schema["additionalProperties"] = value


def _integral(value: object) -> object:
    """JSON Schema's integer includes 2.0 (a number with no fraction); strict ints not."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Command = Annotated[
    list[Arg],
    Field(min_length=1, max_length=256, json_schema_extra={"prefixItems": [_PROGRAM_SCHEMA]}),
    AfterValidator(_program_named),
]
Env = Annotated[dict[EnvName, Arg], Field(max_length=128, json_schema_extra=_env_schema)]


class _Body(BaseModel):
    # strict: no coercion the schema does not state ("max_attempts": true is not 1);
    # an integer is still a number (timeout_s: 5), as JSON Schema has it
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class ContainerIn(_Body):
    name: Name
    command: Command
    env: Env = Field(default_factory=dict)
    image: (
        Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=NO_NUL)] | None
    ) = None


class StackIn(_Body):
    name: Name
    containers: Annotated[
        list[ContainerIn],
        Field(
            min_length=1,
            max_length=16,
            description="distinct container names (422 otherwise)",
        ),
    ]

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
    max_attempts: Annotated[int, Field(ge=1, le=10), BeforeValidator(_integral)] = 1
    idempotency_key: (
        Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=NO_NUL)] | None
    ) = None
