"""Run the API as a real subprocess, for tests and benchmarks (no harness needed).

Nothing here knows pytest's outcomes: where a real component is missing,
:func:`postgres_schema` raises :class:`ComponentUnavailable`, and the test suite decides
what that means (tests/integration/conftest.py: skip on a laptop, fail when CI=true,
through ``harness.plugin.require_component``).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from target_api.exceptions import MoonbaseError
from target_api.launch import api_argv, api_env, listening_url

if TYPE_CHECKING:
    import psutil

__all__ = [
    "TEST_POSTGRES_URL",
    "ApiProcess",
    "ComponentUnavailable",
    "poll_until",
    "postgres_schema",
    "processes_with_env",
]


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
        env = api_env(self.token, {"PYTHONPATH": pythonpath, **self.env})
        self.data_dir = self.data_dir.resolve()  # the server runs with it as its cwd
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # stderr to a file: an unread pipe would block the server once it filled up.
        with open(self.data_dir / "stderr.log", "ab") as stderr:
            self.process = subprocess.Popen(
                api_argv(self.data_dir),
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
        url = listening_url(line)
        if url is None:
            self.kill()
            err = (self.data_dir / "stderr.log").read_text(errors="replace")
            raise RuntimeError(
                f"the API did not start within {self.startup_timeout_s} s: stdout {line!r},"
                f" stderr {err[-2000:]!r}"
            )
        self.url = url
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


class ComponentUnavailable(MoonbaseError, ConnectionError):
    """A real component a test needs cannot be reached.

    ``component`` names it and ``hint`` (empty or starting with a space) says where it
    was looked for and how to set it up, in the shape of ``harness.plugin``'s
    ``require_component(component, False, hint)``, which the tests turn this into.
    """

    def __init__(self, component: str, hint: str = "") -> None:
        super().__init__(f"{component} is not available{hint}")
        self.component = component
        self.hint = hint


TEST_POSTGRES_URL = "postgresql://moonbase:moonbase@127.0.0.1:5432/moonbase_test"
TEST_POSTGRES_ENV = "MOONBASE_TEST_POSTGRES_URL"


@contextlib.contextmanager
def postgres_schema() -> Iterator[str]:
    """The URL of a fresh schema in MOONBASE_TEST_POSTGRES_URL's database (dropped
    afterwards), so that stores and servers under test never see each other's rows.

    Raises :class:`ComponentUnavailable` when that server does not answer."""
    import psycopg

    url = os.environ.get(TEST_POSTGRES_ENV, TEST_POSTGRES_URL)
    try:
        admin = psycopg.connect(url, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        # libpq's first line names the host, port and cause (never the password)
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        source = TEST_POSTGRES_ENV if TEST_POSTGRES_ENV in os.environ else "the default URL"
        raise ComponentUnavailable(
            "PostgreSQL",
            f" (from {source}: {reason}); start it with .ci/setup-postgres.sh,"
            f" or set {TEST_POSTGRES_ENV} to a running server's URL",
        ) from exc
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            sep = "&" if "?" in url else "?"
            yield f"{url}{sep}options=-csearch_path%3D{schema}"
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


def poll_until(
    what: str,
    check: Callable[[], object],
    timeout_s: float,
    interval_s: float = 0.05,
    *,
    last: Callable[[], object] | None = None,
) -> float:
    """Poll ``check`` until it is true and return the seconds that took; after
    ``timeout_s`` fail with an AssertionError naming ``what`` (and what ``last``
    returns then: what the check last saw, when that helps to read the failure)."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout_s:
            seen = "" if last is None else f" (last: {last()})"
            raise AssertionError(f"{what}: not within {timeout_s} s{seen}")
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
