"""Fixtures the integration tests share: one reference API per module, each kind of
Toxiproxy server (a real process, a real one in Docker, the embedded one), and the
harness's null server as a target (the floor tests of load and soak).

A real component that target_api.testing reports missing (``ComponentUnavailable``, from
``postgres_schema()`` without PostgreSQL) skips the test on a laptop and fails it when
CI=true, through the harness's one ``require_component``, whether a fixture or the test
itself asked for it.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Generator, Iterator

import pytest
from toxiproxy_servers import KINDS, running_toxiproxy

from harness.plugin import require_component
from harness.target import ReferenceTarget, Target
from harness.toxiproxy.provision import ToxiproxyServer
from target_api.testing import ComponentUnavailable


@contextlib.contextmanager
def _component_required() -> Iterator[None]:
    try:
        yield
    except ComponentUnavailable as exc:
        require_component(exc.component, False, exc.hint)
        raise


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    """A component missing while the test's fixtures are set up: skip, or fail in CI."""
    with _component_required():
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """A component missing in the test's own body: skip, or fail in CI."""
    with _component_required():
        return (yield)


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """A reference API of the module's own, started once for its tests."""
    with ReferenceTarget(tmp_path_factory.mktemp("api")) as running:
        yield running


@pytest.fixture(params=KINDS)
def toxiproxy_server(request: pytest.FixtureRequest) -> Iterator[ToxiproxyServer]:
    """Each kind of Toxiproxy server in turn; a kind missing here skips, or fails in CI."""
    with running_toxiproxy(request.param) as server:
        yield server


@pytest.fixture
def null_target() -> Iterator[str]:
    """The harness's own null server, started as a target the harness did not start."""
    server = subprocess.Popen(
        [sys.executable, "-m", "harness.load.null_server", "--max-s", "120"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert server.stdout is not None
    port = json.loads(server.stdout.readline())["port"]
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    server.communicate(timeout=10)  # waits, and closes both pipes
