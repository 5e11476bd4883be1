"""The service under test: the reference Moonbase API started as a child, or a running one."""

from __future__ import annotations

import dataclasses
import os
import secrets
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.errors import InfrastructureError, TargetStartError
from harness.processes import ManagedProcess
from harness.readiness import REFERENCE_READINESS, wait_until_ready
from target_api.launch import LISTENING_PATTERN, api_argv, api_env

__all__ = ["ReferenceTarget", "Target"]

# target_api exits 2 when it cannot bind its port (server.py); after a kill -9 the port is
# free again at once (SO_REUSEADDR), so a refusal means another process holds it for now
BIND_FAILED_EXIT = 2


@dataclass(frozen=True, slots=True)
class Target:
    url: str
    token: str
    managed: bool  # True when the harness started it and will stop it
    # the PID of its main process now (a restart changes it); None: not known here
    pid_of: Callable[[], int | None] | None = None


class ReferenceTarget:
    """Runs ``python -m target_api`` on a loopback port; always stopped on exit.

    The command line, its environment and the line it prints once listening come from
    ``target_api.launch``, which every launcher of the reference API shares.

    ``port=0`` lets the API pick a free port on the first start; :meth:`restart` starts a
    new process on the port the first one bound, with the same data directory and token,
    as a supervisor restarting a service would.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        token: str | None = None,
        log_path: Path | None = None,
        env: dict[str, str] | None = None,
        port: int = 0,
        wrap: tuple[str, ...] = (),
    ) -> None:
        self.data_dir = data_dir
        # run the API module under another (coverage.py: ("-m", "coverage", "run", ...))
        self._wrap = wrap
        self.token = token or secrets.token_urlsafe(24)
        self.port = port
        self._log_path = log_path
        self._env = api_env(self.token, env)
        self._process = self._new_process()
        self.url = ""

    def _new_process(self) -> ManagedProcess:
        argv = api_argv(self.data_dir, port=self.port)
        if self._wrap:  # python <wrap> -m target_api ...
            argv = [argv[0], *self._wrap, *argv[1:]]
        return ManagedProcess("reference API", argv, env=self._env, log_path=self._log_path)

    @property
    def pid(self) -> int:
        return self._process.pid

    def alive(self) -> bool:
        """True while the current API process has not exited (a stopped one is alive)."""
        return self._process.alive()

    def exit_status(self) -> str:
        """How the current process ended: ``"signal SIGKILL"``, ``"exit 3"`` or ``"running"``."""
        proc = self._process.proc
        code = None if proc is None else proc.poll()
        if code is None:
            return "running"
        if code < 0:
            return f"signal {signal.Signals(-code).name}"
        return f"exit {code}"

    def send_signal(self, sig: signal.Signals) -> None:
        """Signal the API process itself (not its group: jobs live in groups of their own)."""
        os.kill(self.pid, sig)

    def start(self, deadline_s: float = 30.0) -> Target:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._process.start()
        try:
            match = self._process.wait_for_line(LISTENING_PATTERN, deadline_s)
            self._process.drain()
            self.url = match.group(1)
            self.port = int(self.url.rsplit(":", 1)[1])
            wait_until_ready(
                self.url, dataclasses.replace(REFERENCE_READINESS, timeout_s=deadline_s)
            )
        except Exception as exc:
            self._process.stop()
            if isinstance(exc, TargetStartError):
                raise
            raise TargetStartError(str(exc)) from exc
        return Target(self.url, self.token, managed=True, pid_of=lambda: self.pid)

    def restart(self, deadline_s: float = 30.0) -> Target:
        """Start a fresh process on the same port, data directory and token.

        Whatever is left of the old process (and its process group) is stopped first. A
        bind refused because the port is briefly held is retried until ``deadline_s``.
        """
        if not self.port:
            raise TargetStartError("restart() before start(): no port to restart on")
        self._process.stop()
        end = time.monotonic() + deadline_s
        while True:
            self._process = self._new_process()
            try:
                return self.start(max(1.0, end - time.monotonic()))
            except InfrastructureError:
                code = self._process.proc.poll() if self._process.proc else None
                if code != BIND_FAILED_EXIT or time.monotonic() > end:
                    raise
            time.sleep(0.1)  # back-off before the next bind attempt; the deadline bounds it

    def stop(self) -> None:
        self._process.stop()

    def __enter__(self) -> Target:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
