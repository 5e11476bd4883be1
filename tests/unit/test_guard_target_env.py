"""A MOONBASE_TARGET_URL outside loopback is refused by the plugin and the runner alike,
unless the user's allow flag reached them; refusing sends nothing to the address."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any, cast

import pytest

from harness.errors import UnsafeTargetError
from harness.plugin import _target_from_environment
from harness.runner import RunSpec, run_tests
from harness.runner.pytest_runs import _argv

ELSEWHERE = "http://192.0.2.1:9"  # TEST-NET-1 (RFC 5737): never routed


class _Config:
    """Stands in for pytest.Config: only the option the plugin reads."""

    def __init__(self, allow_non_loopback: bool) -> None:
        self._options = {"moonbase_allow_non_loopback": allow_non_loopback}

    def getoption(self, name: str, default: Any = None) -> Any:
        return self._options.get(name, default)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every connect or name lookup is recorded (and refused): a refusal must make none."""
    calls: list[object] = []

    def refuse(*args: object, **kwargs: object) -> Any:
        calls.append(args)
        raise AssertionError(f"network used: {args!r}")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    return calls


def _config(allow: bool) -> pytest.Config:
    return cast(pytest.Config, _Config(allow))


def test_the_plugin_refuses_a_non_loopback_target_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, no_network: list[object]
) -> None:
    monkeypatch.setenv("MOONBASE_TARGET_URL", ELSEWHERE)
    with pytest.raises(pytest.fail.Exception) as failure:
        _target_from_environment(_config(allow=False))
    message = str(failure.value)
    assert "MOONBASE_TARGET_URL" in message
    assert ELSEWHERE in message
    assert "--allow-non-loopback" in message
    assert "--moonbase-allow-non-loopback" in message
    assert no_network == []


def test_the_plugin_hands_on_a_non_loopback_target_once_allowed(
    monkeypatch: pytest.MonkeyPatch, no_network: list[object]
) -> None:
    monkeypatch.setenv("MOONBASE_TARGET_URL", ELSEWHERE + "/")
    assert _target_from_environment(_config(allow=True)) == ELSEWHERE
    assert no_network == []


def test_the_plugin_hands_on_a_loopback_target_and_starts_its_own_without_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MOONBASE_TARGET_URL", "http://127.0.0.1:8000/")
    assert _target_from_environment(_config(allow=False)) == "http://127.0.0.1:8000"
    monkeypatch.delenv("MOONBASE_TARGET_URL")
    assert _target_from_environment(_config(allow=False)) is None


def test_the_runner_refuses_before_starting_pytest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_network: list[object]
) -> None:
    monkeypatch.delenv("MOONBASE_TARGET_URL", raising=False)
    records = tmp_path / "run" / "test-runs.jsonl"
    spec = RunSpec(rootdir=tmp_path, env={"MOONBASE_TARGET_URL": ELSEWHERE})
    with pytest.raises(UnsafeTargetError, match=r"192\.0\.2\.1.*--allow-non-loopback"):
        run_tests(spec, records)
    assert not records.exists()  # no pytest session was started
    monkeypatch.setenv("MOONBASE_TARGET_URL", ELSEWHERE)  # from the user's shell
    with pytest.raises(UnsafeTargetError, match="MOONBASE_TARGET_URL in the environment"):
        run_tests(RunSpec(rootdir=tmp_path), records)
    assert no_network == []


def test_the_runner_passes_the_allow_flag_to_the_plugin_only_when_given(tmp_path: Path) -> None:
    records = tmp_path / "runs.jsonl"
    assert "--moonbase-allow-non-loopback" not in _argv(RunSpec(rootdir=tmp_path), records, 1, ())
    allowed = RunSpec(rootdir=tmp_path, allow_non_loopback=True)
    assert "--moonbase-allow-non-loopback" in _argv(allowed, records, 1, ())
