"""Run the API as a real subprocess, for tests and benchmarks (no harness needed)."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psutil

LISTENING = "moonbase-api listening on "


@dataclass(slots=True)
class ApiProcess:
    """``python -m target_api`` on a free loopback port, with its own data directory."""

    data_dir: Path
    token: str = "test-token"
    env: Mapping[str, str] = field(default_factory=dict)
    startup_timeout_s: float = 20.0
    process: subprocess.Popen[str] | None = None
    url: str = ""

    def start(self) -> ApiProcess:
        # The server imports the very target_api this module came from, whatever the
        # caller's working directory holds (a stray target_api/ there would shadow it).
        source_root = str(Path(__file__).resolve().parents[1])
        pythonpath = os.pathsep.join(filter(None, [source_root, os.environ.get("PYTHONPATH")]))
        env = {
            **os.environ,
            "PYTHONPATH": pythonpath,
            "MOONBASE_API_TOKEN": self.token,
            **self.env,
        }
        self.data_dir = self.data_dir.resolve()  # the server runs with it as its cwd
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # stderr to a file: an unread pipe would block the server once it filled up.
        with open(self.data_dir / "stderr.log", "ab") as stderr:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "target_api",
                    "--port",
                    "0",
                    "--data-dir",
                    str(self.data_dir),
                ],
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                env=env,
                cwd=self.data_dir,
            )
        assert self.process.stdout is not None
        # The server prints the line in one flush, or exits (closing stdout): wait for
        # either, but no longer than the start-up timeout, so a hung start fails the test.
        ready, _, _ = select.select([self.process.stdout], [], [], self.startup_timeout_s)
        line = self.process.stdout.readline() if ready else ""
        if not line.startswith(LISTENING):
            self.kill()
            err = (self.data_dir / "stderr.log").read_text(errors="replace")
            raise RuntimeError(
                f"the API did not start within {self.startup_timeout_s} s: stdout {line!r},"
                f" stderr {err[-2000:]!r}"
            )
        self.url = line[len(LISTENING) :].strip()
        return self

    def stop(self, timeout_s: float = 15.0) -> int:
        """SIGTERM, then wait; returns the exit status."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout_s)
        finally:
            self._close_pipes()

    def kill(self) -> None:
        """kill -9: no shutdown, no cleanup, as a crash would."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._close_pipes()

    def _close_pipes(self) -> None:
        assert self.process is not None
        if self.process.stdout is not None:
            self.process.stdout.close()

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def __enter__(self) -> ApiProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.stop()


def require_component(name: str, available: bool) -> None:
    """Skip a test without ``name`` on a laptop; fail it in CI (CI=true), where every
    real component is installed and its tests must run."""
    import pytest

    if available:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{name} is required in CI (CI=true) but is not available")
    pytest.skip(f"{name} not available")


TEST_POSTGRES_URL = "postgresql://moonbase:moonbase@127.0.0.1:5432/moonbase_test"


@contextlib.contextmanager
def postgres_schema() -> Iterator[str]:
    """The URL of a fresh schema in MOONBASE_TEST_POSTGRES_URL's database (dropped
    afterwards), so that stores and servers under test never see each other's rows."""
    import psycopg

    url = os.environ.get("MOONBASE_TEST_POSTGRES_URL", TEST_POSTGRES_URL)
    try:
        admin = psycopg.connect(url, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        require_component("PostgreSQL (.ci/setup-postgres.sh)", False)
        raise
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            sep = "&" if "?" in url else "?"
            yield f"{url}{sep}options=-csearch_path%3D{schema}"
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


def poll_until(
    what: str, check: Callable[[], object], timeout_s: float, interval_s: float = 0.05
) -> float:
    """Poll ``check`` until it is true and return the seconds that took; after
    ``timeout_s`` fail with an AssertionError naming ``what``."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout_s:
            raise AssertionError(f"{what}: not within {timeout_s} s")
        time.sleep(interval_s)  # the polling interval, bounded by the deadline
    return time.monotonic() - start


def processes_with_env(key: str, value: str, *, zombies: bool = False) -> list[psutil.Process]:
    """Processes whose environment has key=value; zombies only when asked for. A process
    that ends while being looked at is simply not listed."""
    import psutil

    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get(key) != value:
                continue
            if zombies or proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except psutil.Error:
            continue
    return found
