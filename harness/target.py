"""The service under test: the reference Moonbase API started as a child, or a running one."""

from __future__ import annotations

import secrets
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from harness.errors import TargetStartError
from harness.processes import ManagedProcess

__all__ = ["ReferenceTarget", "Target", "wait_until_healthy"]

LISTENING = r"moonbase-api listening on (http://\S+)"


@dataclass(frozen=True, slots=True)
class Target:
    url: str
    token: str
    managed: bool  # True when the harness started it and will stop it


def wait_until_healthy(url: str, deadline_s: float, path: str = "/api/v0/ping") -> None:
    """Poll the target until it answers 200, or raise TargetStartError."""
    end = time.monotonic() + deadline_s
    last = "no answer"
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < end:
            try:
                response = client.get(url + path)
                if response.status_code == 200:
                    return
                last = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
            time.sleep(0.05)  # polling interval; the deadline bounds the loop
    raise TargetStartError(
        f"target {url} did not answer 200 on {path} within {deadline_s} s ({last})"
    )


class ReferenceTarget:
    """Runs ``python -m target_api`` on a free loopback port; always stopped on exit."""

    def __init__(
        self,
        data_dir: Path,
        *,
        token: str | None = None,
        log_path: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.token = token or secrets.token_urlsafe(24)
        extra = {"MOONBASE_API_TOKEN": self.token, "PYTHONUNBUFFERED": "1", **(env or {})}
        import os

        self._process = ManagedProcess(
            "reference API",
            [
                sys.executable,
                "-m",
                "target_api",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--data-dir",
                str(data_dir),
            ],
            env={**os.environ, **extra},
            log_path=log_path,
        )
        self.url = ""

    @property
    def pid(self) -> int:
        return self._process.pid

    def start(self, deadline_s: float = 30.0) -> Target:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._process.start()
        try:
            match = self._process.wait_for_line(LISTENING, deadline_s)
            self._process.drain()
            self.url = match.group(1)
            wait_until_healthy(self.url, deadline_s)
        except Exception as exc:
            self._process.stop()
            if isinstance(exc, TargetStartError):
                raise
            raise TargetStartError(str(exc)) from exc
        return Target(self.url, self.token, managed=True)

    def stop(self) -> None:
        self._process.stop()

    def __enter__(self) -> Target:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
