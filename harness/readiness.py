"""Is the service under test ready? The check every command makes before it sends traffic.

A check is an HTTP GET on a path answering one of the expected statuses, or a plain TCP
connect. For a target of one's own (``--target-url``) it comes from the config's
``[target]`` table (``ready_path``, ``ready_status``, ``ready_timeout_s``); with no
``ready_path`` it is a TCP connect, which any service passes once it listens. The
reference API, which the harness starts itself, is checked on its own ``/api/v0/ping``.

What the answers mean:

- the expected status: ready;
- a 5xx, a timeout or a refused connection: not ready yet; polled until the timeout, then
  :class:`TargetStartError` (exit 4) with the last answer;
- any other status (404 on a path the service does not have, 401 on one that needs a token,
  an unexpected 204): the check is wrong for this service, whatever the wait. That is a
  :class:`ConfigError` (exit 2) at once, saying what answered and how to set the check.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from harness.errors import ConfigError, TargetStartError

__all__ = ["REFERENCE_READINESS", "ReadinessCheck", "wait_until_ready"]

_POLL_INTERVAL_S = 0.05
_PROGRESS_EVERY_S = 2.0


@dataclass(frozen=True, slots=True)
class ReadinessCheck:
    """``path`` None: a TCP connect; else GET ``path`` answering one of ``statuses``."""

    path: str | None = None
    statuses: tuple[int, ...] = (200,)
    timeout_s: float = 10.0
    source: str = "target.ready_path"  # where a user changes it (named in errors)

    def describe(self) -> str:
        if self.path is None:
            return "a TCP connect"
        return f"GET {self.path} answering {' or '.join(map(str, self.statuses))}"


# the reference API's own liveness path (target_api/app.py)
REFERENCE_READINESS = ReadinessCheck("/api/v0/ping", (200,), 30.0, source="the reference API")


def _misconfigured(url: str, check: ReadinessCheck, status: int) -> ConfigError:
    hint = (
        "set target.ready_path to the path that says it is ready "
        "(e.g. --set target.ready_path=/healthz), target.ready_status to the statuses it "
        "answers there, or leave ready_path unset to check a TCP connect"
    )
    return ConfigError(
        f"target {url} answered GET {check.path} with HTTP {status}, not "
        f"{' or '.join(map(str, check.statuses))} (readiness from {check.source}): {hint}"
    )


def _tcp_once(url: str, timeout_s: float) -> str | None:
    """None when a TCP connection to the URL's host and port opens; else why not."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", port), timeout=timeout_s):
            return None
    except OSError as exc:
        return exc.strerror or type(exc).__name__


def wait_until_ready(
    url: str, check: ReadinessCheck, *, on_progress: Callable[[str], None] | None = None
) -> None:
    """Return once ``url`` passes ``check``; see the module docstring for the errors."""
    say = on_progress or (lambda _msg: None)
    say(f"waiting for {url}: {check.describe()} (up to {check.timeout_s:g} s)")
    start = time.monotonic()
    end = start + check.timeout_s
    next_progress = start + _PROGRESS_EVERY_S
    last = "no answer"
    import httpx  # 40 ms to import: not on every `run`, which may have no target at all

    with httpx.Client(timeout=min(2.0, check.timeout_s)) as client:
        while True:
            if check.path is None:
                failure = _tcp_once(url, min(2.0, max(0.05, end - time.monotonic())))
                if failure is None:
                    return
                last = failure
            else:
                try:
                    response = client.get(url + check.path)
                except httpx.HTTPError as exc:
                    last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                else:
                    if response.status_code in check.statuses:
                        return
                    if response.status_code < 500:
                        raise _misconfigured(url, check, response.status_code)
                    last = f"HTTP {response.status_code}"
            now = time.monotonic()
            if now >= end:
                break
            if now >= next_progress:
                say(f"still waiting for {url} ({now - start:.0f} s; last: {last})")
                next_progress = now + _PROGRESS_EVERY_S
            time.sleep(_POLL_INTERVAL_S)  # polling interval; the deadline bounds the loop
    raise TargetStartError(
        f"target {url} was not ready within {check.timeout_s:g} s: {check.describe()} "
        f"(last: {last})"
    )
