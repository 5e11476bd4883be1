"""The values the store keeps: pods and jobs, as frozen dataclasses."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class AttachOutcome(Enum):
    """What ``Store.attach_stack`` did."""

    ATTACHED = "attached"  # this call won: the pod had no stack
    SAME = "same"  # the pod already holds this very stack: a no-op
    DIFFERENT = "different"  # the pod holds another stack: a conflict
    MISSING = "missing"  # no such pod (or it is being deleted)


@dataclass(frozen=True, slots=True)
class PodRecord:
    id: str
    name: str
    state: str
    stack_json: str | None
    stack_hash: str | None
    restart_policy: str
    restarts: int
    owner: str | None
    created_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class JobRecord:
    id: str
    idempotency_key: str | None
    request_hash: str
    command_json: str
    env_json: str
    timeout_s: float
    max_attempts: int
    attempts: int
    state: str
    exit_code: int | None
    error: str | None
    owner: str | None
    handle_ref: str | None
    created_at: float
    started_at: float | None
    finished_at: float | None


POD_COLUMNS = tuple(PodRecord.__dataclass_fields__)
JOB_COLUMNS = tuple(JobRecord.__dataclass_fields__)
