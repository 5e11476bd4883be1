"""target_api's pure parts: breaker, pod lifecycle, request schemas, settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

import target_api
from target_api.director import lifecycle as lc
from target_api.director.breaker import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    BreakerBoard,
    BreakerPolicy,
    CircuitBreaker,
    CircuitOpenError,
)
from target_api.director.pods import canonical_stack
from target_api.director.runtimes.process import exit_code_of
from target_api.schemas import JobIn, PodIn, StackIn
from target_api.settings import SettingsError, load_settings


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_public_surface_is_pinned() -> None:
    assert sorted(target_api.__all__) == ["Settings", "create_app", "load_settings", "main"]


def test_breaker_opens_after_threshold_and_half_opens_after_reset() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(
        "p/c", BreakerPolicy(failure_threshold=3, reset_timeout_s=5), clock=clock
    )
    for _ in range(2):
        breaker.before_call()
        breaker.record_failure()
    assert breaker.state == CLOSED
    breaker.before_call()
    breaker.record_failure()
    assert breaker.state == OPEN
    with pytest.raises(CircuitOpenError):
        breaker.before_call()
    clock.now = 5.0
    assert breaker.state == HALF_OPEN
    breaker.before_call()  # the one trial
    with pytest.raises(CircuitOpenError):
        breaker.before_call()  # a second caller while the trial runs
    breaker.record_success()
    assert breaker.state == CLOSED


def test_failed_trial_reopens_the_breaker() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(
        "t", BreakerPolicy(failure_threshold=1, reset_timeout_s=1), clock=clock
    )
    breaker.before_call()
    breaker.record_failure()
    clock.now = 1.0
    breaker.before_call()
    breaker.record_failure()
    assert breaker.state == OPEN
    clock.now = 1.5
    with pytest.raises(CircuitOpenError):
        breaker.before_call()


def test_success_resets_the_failure_count() -> None:
    breaker = CircuitBreaker("t", BreakerPolicy(failure_threshold=2))
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state == CLOSED


def test_board_reports_degraded_while_a_breaker_is_not_closed() -> None:
    board = BreakerBoard(None, BreakerPolicy(failure_threshold=1))
    assert board.health()["status"] == "ok"
    board.get("pod1/main").record_failure()
    assert board.health() == {
        "status": "degraded",
        "breakers": 1,
        "not_closed": {"pod1/main": OPEN},
    }
    board.forget("pod1/")
    assert board.health()["status"] == "ok"


def test_deleting_is_reachable_from_every_state_but_itself() -> None:
    assert set(lc.sources_of(lc.DELETING)) == set(lc.POD_STATES) - {lc.DELETING}
    assert lc.POD_TRANSITIONS[lc.DELETING] == frozenset()


def test_a_stack_is_attached_only_to_an_empty_pod() -> None:
    assert lc.sources_of(lc.STARTING) == (lc.EMPTY, lc.STARTING, lc.RUNNING, lc.RESTARTING)
    assert not lc.can_move(lc.FAILED, lc.RUNNING)
    assert not lc.can_move(lc.STOPPED, lc.STARTING)


@pytest.mark.parametrize(
    ("policy", "code", "expected"),
    [
        ("always", 0, True),
        ("always", 1, True),
        ("on_failure", 0, False),
        ("on_failure", 137, True),
        ("never", 1, False),
    ],
)
def test_restart_policy(policy: str, code: int, expected: bool) -> None:
    assert lc.should_restart(policy, code) is expected


def test_signal_deaths_read_as_128_plus_signal() -> None:
    assert exit_code_of(-9) == 137
    assert exit_code_of(3) == 3


def test_equal_stacks_hash_equal_whatever_the_key_order() -> None:
    a = {"name": "s", "containers": [{"name": "m", "command": ["true"]}]}
    b = {"containers": [{"command": ["true"], "name": "m"}], "name": "s"}
    assert canonical_stack(a) == canonical_stack(b)
    assert canonical_stack(a)[1] != canonical_stack({**a, "name": "t"})[1]


@pytest.mark.parametrize(
    "body",
    [
        {"command": []},
        {"command": [""]},
        {"command": ["a\x00"]},
        {"command": ["true"], "timeout_s": 0},
        {"command": ["true"], "timeout_s": float("nan")},
        {"command": ["true"], "max_attempts": 0},
        {"command": ["true"], "idempotency_key": ""},
        {"command": ["true"], "env": {"A-B": "x"}},
        {"command": ["true"], "unknown": 1},
    ],
)
def test_bad_job_bodies_are_refused(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        JobIn.model_validate(body)


def test_stack_container_names_must_be_unique() -> None:
    container = {"name": "m", "command": ["true"]}
    with pytest.raises(ValidationError, match="unique"):
        StackIn.model_validate({"name": "s", "containers": [container, container]})


def test_pod_names_are_restricted() -> None:
    with pytest.raises(ValidationError):
        PodIn.model_validate({"name": "../x"})
    assert PodIn.model_validate({"name": "p-1.a_b"}).restart_policy == "on_failure"


def test_missing_token_is_generated_into_a_private_file(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, {})
    token_file = tmp_path / "api-token"
    assert settings.token_generated
    assert token_file.read_text().strip() == settings.api_token
    assert token_file.stat().st_mode & 0o777 == 0o600
    assert settings.database_url == f"sqlite:///{tmp_path / 'moonbase.sqlite3'}"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MOONBASE_RUNTIME": "lxc"}, "MOONBASE_RUNTIME='lxc'"),
        ({"MOONBASE_DATABASE_URL": "mysql://x"}, "MOONBASE_DATABASE_URL"),
        ({"MOONBASE_MAX_BODY_BYTES": "-1"}, "MOONBASE_MAX_BODY_BYTES='-1'"),
    ],
)
def test_bad_settings_name_the_variable_and_the_value(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(tmp_path, {"MOONBASE_API_TOKEN": "t", **env})
