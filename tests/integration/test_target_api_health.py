"""Readiness follows its dependencies: a database that fails makes ready and health
503 ``down`` while live stays 200. The app runs in a real uvicorn on port 0, in this
process, so that the test can break its database under it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from target_api import create_app, load_settings
from target_api.app import PingFastPath

pytestmark = pytest.mark.integration


class BrokenDatabase:
    """Stands in for the store's ping and job counts; counts that it was asked."""

    dialect = "sqlite"

    def __init__(self) -> None:
        self.pings = 0

    def ping(self) -> None:
        self.pings += 1
        raise OSError("disk I/O error")

    def count_jobs_by_state(self) -> dict[str, int]:
        raise OSError("disk I/O error")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[PingFastPath, str]]:
    app = create_app(load_settings(tmp_path, {"MOONBASE_API_TOKEN": "t"}))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]})
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive(), "uvicorn exited while starting"
        assert time.monotonic() < deadline, "uvicorn did not start within 20 s"
        time.sleep(0.02)
    try:
        yield app, f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(20)
        sock.close()


def test_ready_is_503_when_the_database_fails_and_live_stays_200(
    served: tuple[PingFastPath, str],
) -> None:
    app, url = served
    with httpx.Client(base_url=url) as client:
        assert client.get("/api/v0/health/ready").status_code == 200
        real, broken = app.state.store, BrokenDatabase()
        app.state.store = broken  # type: ignore[assignment]
        try:
            ready = client.get("/api/v0/health/ready")
            health = client.get("/api/v0/health")
            live = client.get("/api/v0/health/live")
            metrics = client.get("/metrics")
        finally:
            app.state.store = real
        assert broken.pings == 2
        assert ready.status_code == 503
        assert ready.json()["status"] == "down"
        assert ready.json()["checks"]["database"] == {
            "status": "down",
            "detail": "OSError: disk I/O error",
        }
        assert health.status_code == 503
        assert (live.status_code, live.json()["status"]) == (200, "ok")
        assert metrics.status_code == 200
        assert "moonbase_store_up 0.0" in metrics.text
        assert "moonbase_jobs{" not in metrics.text
        assert client.get("/api/v0/health/ready").status_code == 200
