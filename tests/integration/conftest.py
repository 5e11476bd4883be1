"""Fixtures the chaos tests share: one reference API per module, and each kind of
Toxiproxy server (a real process, a real one in Docker, the embedded one)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from toxiproxy_servers import KINDS, running_toxiproxy

from harness.target import ReferenceTarget, Target
from harness.toxiproxy.provision import ToxiproxyServer


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
