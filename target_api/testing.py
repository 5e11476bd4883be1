"""Run the API as a real subprocess, for tests and benchmarks (no harness needed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

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
        env = {**os.environ, "MOONBASE_API_TOKEN": self.token, **self.env}
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
            )
        assert self.process.stdout is not None
        deadline = time.monotonic() + self.startup_timeout_s
        # readline blocks, but the server prints the line or exits (closing stdout).
        line = self.process.stdout.readline()
        if not line.startswith(LISTENING) or time.monotonic() > deadline:
            self.kill()
            err = (self.data_dir / "stderr.log").read_text(errors="replace")
            raise RuntimeError(f"the API did not start: stdout {line!r}, stderr {err[-2000:]!r}")
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
