"""The event loop of the harness's Locust processes: libev's select backend (timers in
microseconds) for runs of few connections, epoll beyond, and a user's GEVENT_BACKEND kept."""

from __future__ import annotations

import subprocess
import sys

import pytest

from harness.load import LoadSpec
from harness.load.driver import SELECT_MAX_CONNECTIONS, child_env, loop_backend

URL = "http://127.0.0.1:9"


def test_few_connections_get_select() -> None:
    assert loop_backend(LoadSpec(URL, users=10, rate_rps=0.0)) == "select"
    assert loop_backend(LoadSpec(URL, users=10, rate_rps=1000.0, max_in_flight=100)) == "select"
    assert loop_backend(None) == "select"  # load-worker: its spec comes from the master


def test_many_connections_keep_epoll() -> None:
    assert loop_backend(LoadSpec(URL, users=SELECT_MAX_CONNECTIONS + 1)) == "epoll"
    # the open model's in-flight requests are connections too
    open_model = LoadSpec(URL, users=10, rate_rps=1000.0, max_in_flight=SELECT_MAX_CONNECTIONS)
    assert loop_backend(open_model) == "epoll"
    # the closed model has no requests in flight beyond its users
    closed = LoadSpec(URL, users=10, rate_rps=0.0, max_in_flight=5000)
    assert loop_backend(closed) == "select"


def test_a_users_backend_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEVENT_BACKEND", raising=False)
    assert child_env(LoadSpec(URL))["GEVENT_BACKEND"] == "select"
    monkeypatch.setenv("GEVENT_BACKEND", "poll")
    assert child_env(LoadSpec(URL))["GEVENT_BACKEND"] == "poll"


def test_the_child_loop_runs_the_backend_set(monkeypatch: pytest.MonkeyPatch) -> None:
    """The installed gevent honours the variable once locust is imported (as the children
    import it first): a renamed setting would silently bring epoll's 1 ms timers back."""
    monkeypatch.delenv("GEVENT_BACKEND", raising=False)
    code = "import locust, gevent; print(gevent.get_hub().loop.backend)"
    for spec, expected in ((LoadSpec(URL), "select"), (LoadSpec(URL, users=2000), "epoll")):
        done = subprocess.run(
            [sys.executable, "-c", code],
            env=child_env(spec),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert done.stdout.split()[-1] == expected
