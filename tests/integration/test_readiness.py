"""The target's readiness check, against real HTTP servers and sockets on loopback."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator

import pytest
from http_servers import loopback_http

from harness.config import load_config
from harness.errors import ConfigError, TargetStartError, UnsafeTargetError
from harness.netguard import ensure_loopback_url
from harness.readiness import ReadinessCheck, wait_until_ready

pytestmark = [pytest.mark.integration]


@contextlib.contextmanager
def serving(statuses: dict[str, int]) -> Iterator[str]:
    """A real HTTP server on a free loopback port answering ``statuses[path]`` (else 404)."""
    with loopback_http(lambda path: statuses.get(path, 404)) as (url, _server):
        yield url


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_service_without_any_moonbase_route_is_ready_by_its_own_path() -> None:
    with serving({"/healthz": 200}) as url:
        wait_until_ready(url, ReadinessCheck("/healthz", (200,), 5.0))


def test_with_no_path_set_a_tcp_connect_is_the_check() -> None:
    with serving({}) as url:  # answers 404 everywhere, but listens
        wait_until_ready(url, ReadinessCheck(None, (200,), 5.0))


def test_a_path_the_service_does_not_have_is_a_config_error_at_once() -> None:
    messages: list[str] = []
    with serving({"/healthz": 200}) as url:
        start = time.monotonic()
        with pytest.raises(ConfigError) as caught:
            wait_until_ready(
                url, ReadinessCheck("/api/v0/ping", (200,), 10.0), on_progress=messages.append
            )
        elapsed = time.monotonic() - start
    assert elapsed < 5.0  # not the whole 10 s: a 404 will not turn into a 200 by waiting
    text = str(caught.value)
    assert "GET /api/v0/ping with HTTP 404" in text
    assert "target.ready_path" in text
    assert caught.value.exit_code == 2
    assert messages  # said before waiting
    assert "GET /api/v0/ping answering 200" in messages[0]


def test_a_service_answering_503_is_waited_for_then_exit_4_with_the_last_answer() -> None:
    messages: list[str] = []
    with serving({"/ready": 503}) as url:
        with pytest.raises(TargetStartError) as caught:
            wait_until_ready(
                url, ReadinessCheck("/ready", (200,), 2.5), on_progress=messages.append
            )
    assert caught.value.exit_code == 4
    assert "not ready within 2.5 s" in str(caught.value)
    assert "last: HTTP 503" in str(caught.value)
    assert any(m.startswith("still waiting") for m in messages)  # progress while waiting


def test_nothing_listening_is_exit_4_for_both_kinds_of_check() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    for check in (ReadinessCheck(None, (200,), 0.5), ReadinessCheck("/healthz", (200,), 0.5)):
        with pytest.raises(TargetStartError) as caught:
            wait_until_ready(url, check)
        assert caught.value.exit_code == 4


def test_the_readiness_check_is_config_and_a_bad_path_names_its_field() -> None:
    config = load_config(overrides=["target.ready_path=/healthz", "target.ready_status=[200, 204]"])
    assert config.profile.target.ready_path == "/healthz"
    assert config.profile.target.ready_status == [200, 204]
    with pytest.raises(ConfigError) as caught:
        load_config(overrides=["target.ready_path=healthz"])
    assert "target.ready_path" in str(caught.value)
    assert "--set target.ready_path=healthz" in str(caught.value)
    assert "starting with '/'" in str(caught.value)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:99999", "http://127.0.0.1:0", "http://127.0.0.1:x"]
)
def test_an_impossible_port_is_refused(url: str) -> None:
    with pytest.raises(UnsafeTargetError, match="port must be a number from 1 to 65535"):
        ensure_loopback_url(url, where="--target-url")
