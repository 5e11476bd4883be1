"""Child processes the harness starts and always stops: the target API, Toxiproxy, Locust.

Each child runs in its own session (process group) so that stopping it ends everything it
spawned. Only processes started here are ever signalled, always by PID.
"""

from __future__ import annotations

import os
import re
import select
import signal
import socket
import subprocess
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path

import psutil

from harness.errors import InfrastructureError

__all__ = ["ManagedProcess", "free_port", "kill_tree", "wait_for_port"]


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (for servers that cannot bind port 0 themselves)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, deadline_s: float) -> bool:
    """Poll until a TCP connect succeeds or the deadline passes."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)  # polling interval, not synchronisation: the deadline bounds it
    return False


def kill_tree(pid: int, grace_s: float = 5.0) -> None:
    """SIGTERM a process and its descendants, then SIGKILL whatever is left after grace_s."""
    try:
        parent = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return
    procs = [parent, *parent.children(recursive=True)]
    for proc in procs:
        try:
            proc.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(procs, timeout=grace_s)
    for proc in alive:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=grace_s)


class ManagedProcess:
    """A child process in its own process group, with its output kept for error messages."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self._env = dict(os.environ if env is None else env)
        self._cwd = cwd
        self._log_path = log_path
        self._tail: deque[str] = deque(maxlen=40)
        self.proc: subprocess.Popen[bytes] | None = None
        self._pump: threading.Thread | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None, "not started"
        return self.proc.pid

    def start(self) -> ManagedProcess:
        try:
            self.proc = subprocess.Popen(
                self.argv,
                env=self._env,
                cwd=self._cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            raise InfrastructureError(
                f"could not start {self.name} ({self.argv[0]}): {exc}"
            ) from exc
        return self

    def _readline(self, timeout_s: float) -> str | None:
        assert self.proc is not None
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout_s)
        if not ready:
            return None
        try:
            raw = self.proc.stdout.readline()
        except ValueError:  # stop() closed the pipe meanwhile
            return ""
        if not raw:
            return ""
        return self._keep(raw)

    def _keep(self, raw: bytes) -> str:
        line = raw.decode("utf-8", "replace").rstrip("\n")
        self._tail.append(line)
        if self._log_path is not None:
            with self._log_path.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")
        return line

    def wait_for_line(self, pattern: str, deadline_s: float) -> re.Match[str]:
        """Read output until a line matches ``pattern``; raise if the child dies or times out."""
        regex = re.compile(pattern)
        end = time.monotonic() + deadline_s
        while (left := end - time.monotonic()) > 0:
            line = self._readline(min(left, 0.5))
            if line is None:
                continue
            if line == "" and self.proc is not None and self.proc.poll() is not None:
                break
            if match := regex.search(line):
                return match
        code = self.proc.poll() if self.proc else None
        state = f"exited with code {code}" if code is not None else f"no sign after {deadline_s} s"
        raise InfrastructureError(
            f"{self.name} did not start ({state}); last output:\n  " + "\n  ".join(self.tail())
        )

    def drain(self) -> None:
        """Keep reading output in the background so a chatty child never blocks on a full pipe."""

        def pump() -> None:  # to the end of the output: a blank line is no end
            assert self.proc is not None
            assert self.proc.stdout is not None
            stream = self.proc.stdout
            while True:
                try:
                    ready, _, _ = select.select([stream], [], [], 0.5)
                    if not ready:
                        continue
                    raw = stream.readline()
                except (ValueError, OSError):  # stop() closed the pipe meanwhile
                    return
                if not raw:
                    return
                self._keep(raw)

        self._pump = threading.Thread(target=pump, name=f"drain-{self.name}", daemon=True)
        self._pump.start()

    def tail(self) -> list[str]:
        return list(self._tail)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, grace_s: float = 5.0) -> int | None:
        """Stop the child and its whole process group; returns its exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=grace_s)
        else:
            # the leader is gone; make sure nothing it left in its group survives
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self._pump is not None:  # the output written before the end, read to its end
            self._pump.join(timeout=2.0)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return self.proc.returncode

    def __enter__(self) -> ManagedProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
