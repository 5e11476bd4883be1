"""The API against a real PostgreSQL whose link goes down: it starts without its database
(live, not ready, 503 with a reason, reconnecting by itself), it loses it while serving
(ready and health 503, live and ping 200, /metrics saying the store is down) and it
comes back when the link does. The link is a proxy of the
embedded Toxiproxy; disabling it refuses new connections and cuts the open ones."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psutil
import pytest

from harness.toxiproxy.embedded import EmbeddedToxiproxy
from target_api.testing import ApiProcess, poll_until, postgres_schema, processes_with_env

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

FINAL = {"succeeded", "failed", "timed_out", "cancelled"}


class DatabaseLink:
    """One Toxiproxy proxy between the API and PostgreSQL, switched on and off."""

    def __init__(self, proxy_api: str, upstream_url: str) -> None:
        self._api = httpx.Client(base_url=proxy_api, timeout=10)
        parts = urlsplit(upstream_url)
        created = self._api.post(
            "/proxies",
            json={
                "name": "api_to_db",
                "listen": "127.0.0.1:0",
                "upstream": f"{parts.hostname}:{parts.port or 5432}",
            },
        )
        created.raise_for_status()
        self.listen = created.json()["listen"]
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = f"{userinfo}@{self.listen}" if userinfo else self.listen
        self.database_url = urlunsplit(parts._replace(netloc=netloc))

    def set_enabled(self, enabled: bool) -> None:
        answer = self._api.post("/proxies/api_to_db", json={"enabled": enabled})
        answer.raise_for_status()
        assert answer.json()["listen"] == self.listen  # same port again: the URL stays valid

    def close(self) -> None:
        self._api.close()


@pytest.fixture
def link() -> Iterator[DatabaseLink]:
    with postgres_schema() as url, EmbeddedToxiproxy() as proxy:
        database_link = DatabaseLink(proxy.url, url)
        try:
            yield database_link
        finally:
            database_link.close()


def job_state(client: httpx.Client, job_id: str) -> str | None:
    """The job's state, or None while the API cannot tell (a 503 as the link comes back)."""
    answer = client.get(f"/api/v0/jobs/{job_id}")
    return str(answer.json()["state"]) if answer.status_code == 200 else None


def test_api_starts_without_its_database_serves_not_ready_and_connects_when_it_comes(
    tmp_path: Path, link: DatabaseLink
) -> None:
    link.set_enabled(False)
    server = ApiProcess(tmp_path / "data", env={"MOONBASE_DATABASE_URL": link.database_url})
    with server, httpx.Client(base_url=server.url, headers=server.headers) as client:
        assert client.get("/api/v0/health/live").status_code == 200
        assert client.get("/api/v0/ping").status_code == 200
        ready = client.get("/api/v0/health/ready")
        assert ready.status_code == 503
        database = ready.json()["checks"]["database"]
        assert database["status"] == "down"
        assert database["detail"].startswith("unavailable, retrying: ")
        assert "refused" in database["detail"]

        refused = client.post("/api/v0/jobs", json={"command": ["true"]})
        assert refused.status_code == 503
        assert refused.json()["error"] == "unavailable"
        assert "database is unavailable" in refused.json()["detail"]
        assert refused.headers["retry-after"] == "1"
        assert "moonbase_store_up 0.0" in client.get("/metrics").text

        link.set_enabled(True)
        waited = poll_until(
            "ready after the database came back",
            lambda: client.get("/api/v0/health/ready").status_code == 200,
            20,
        )
        assert waited < 20
        job = client.post("/api/v0/jobs", json={"command": ["true"]})
        assert job.status_code == 202, job.text
        job_id = job.json()["id"]
        poll_until(
            "the first job final",
            lambda: job_state(client, job_id) in FINAL,
            20,
        )
        assert client.get(f"/api/v0/jobs/{job_id}").json()["state"] == "succeeded"
    assert server.process is not None
    assert server.process.returncode == 0
    log = (tmp_path / "data" / "stderr.log").read_text()
    assert "database unavailable, serving not-ready and retrying" in log
    assert "database connected: ready" in log
    assert "Traceback" not in log


def test_sigterm_while_the_database_is_away_ends_the_api_promptly_and_cleanly(
    tmp_path: Path, link: DatabaseLink
) -> None:
    link.set_enabled(False)
    server = ApiProcess(tmp_path / "data", env={"MOONBASE_DATABASE_URL": link.database_url})
    server.start()
    try:
        with httpx.Client(base_url=server.url) as client:
            assert client.get("/api/v0/health/ready").status_code == 503
        started = time.monotonic()
        status = server.stop(timeout_s=15)
        assert status == 0
        assert time.monotonic() - started < 10  # one connect attempt at most is in flight
    finally:
        if server.process is not None and server.process.poll() is None:
            server.kill()


def test_losing_the_database_while_serving_makes_ready_503_not_live_and_it_recovers(
    tmp_path: Path, link: DatabaseLink
) -> None:
    server = ApiProcess(tmp_path / "data", env={"MOONBASE_DATABASE_URL": link.database_url})
    with server, httpx.Client(base_url=server.url, timeout=15) as client:
        assert client.get("/api/v0/health/ready").status_code == 200
        link.set_enabled(False)
        ready = client.get("/api/v0/health/ready")
        health = client.get("/api/v0/health")
        live = client.get("/api/v0/health/live")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"]["status"] == "down"
        assert health.status_code == 503
        assert (live.status_code, live.json()["status"]) == (200, "ok")
        assert client.get("/api/v0/ping").status_code == 200
        metrics = client.get("/metrics")  # the scrape itself still answers, saying so
        assert metrics.status_code == 200
        assert "moonbase_store_up 0.0" in metrics.text
        assert "moonbase_jobs{" not in metrics.text

        link.set_enabled(True)
        poll_until(
            "ready after the link came back",
            lambda: client.get("/api/v0/health/ready").status_code == 200,
            20,
        )
        assert "moonbase_store_up 1.0" in client.get("/metrics").text


def _ended(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_job_that_ends_while_the_database_is_away_is_recorded_when_it_returns(
    tmp_path: Path, link: DatabaseLink
) -> None:
    server = ApiProcess(tmp_path / "data", env={"MOONBASE_DATABASE_URL": link.database_url})
    with server, httpx.Client(base_url=server.url, headers=server.headers, timeout=15) as client:
        body = {"command": ["sleep", "60"], "max_attempts": 1}
        job_id = client.post("/api/v0/jobs", json=body).json()["id"]
        poll_until(
            "the job running",
            lambda: job_state(client, job_id) == "running",
            10,
        )

        def failed_ticks() -> int:
            return int(client.get("/api/v0/health").json()["checks"]["director"]["failed_ticks"])

        link.set_enabled(False)
        (process,) = processes_with_env("MOONBASE_JOB_ID", job_id)
        process.kill()  # the attempt ends while the database is away
        # Ended means gone or a zombie: the API reaps it on a tick of its own, which need
        # not come while its database is away (psutil's wait() on a zombie that is not our
        # child would time out).
        poll_until("the attempt's process ended", lambda: _ended(process), 5)
        # Two more failed ticks: at least one whole tick, that saw the attempt end and
        # could not record it, ran after the kill.
        before = failed_ticks()
        poll_until("two ticks failing on the store", lambda: failed_ticks() >= before + 2, 60)
        link.set_enabled(True)
        poll_until(
            "the attempt's end recorded",
            lambda: job_state(client, job_id) not in (None, "running"),
            20,
        )
        job = client.get(f"/api/v0/jobs/{job_id}").json()
        assert (job["state"], job["attempts"]) == ("failed", 1), job
        assert "exited with code" in job["error"], job
