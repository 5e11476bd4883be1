"""Calls to a pod's containers over loopback TCP: timeouts, retries, a circuit breaker.

A call sends the payload, half-closes, and reads the reply until the container closes
the connection. Connection failures and timeouts are retried with exponential backoff
and jitter; every failed try counts against the target's breaker, and an open breaker
fails calls at once instead of letting them queue behind a dead peer.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from target_api.director.breaker import CircuitBreaker, CircuitOpenError
from target_api.exceptions import MoonbaseError

__all__ = ["CallPolicy", "CircuitOpenError", "LoopbackError", "call"]

MAX_REPLY_BYTES = 1024 * 1024


class LoopbackError(MoonbaseError, ConnectionError):
    """The container did not answer after every retry."""


@dataclass(frozen=True, slots=True)
class CallPolicy:
    timeout_s: float = 2.0  # per try: connect, send and read together
    tries: int = 3
    backoff_initial_s: float = 0.05
    backoff_max_s: float = 0.5


def _one_try(port: int, payload: bytes, timeout_s: float) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as sock:
        sock.settimeout(timeout_s)
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > MAX_REPLY_BYTES:
                raise LoopbackError(f"reply from port {port} exceeds {MAX_REPLY_BYTES} bytes")
            chunks.append(chunk)


def _worth_retrying(exc: BaseException) -> bool:
    # An open breaker is an answer, not a failure: retrying would only spin against it.
    return isinstance(exc, OSError) and not isinstance(exc, CircuitOpenError)


def call(
    breaker: CircuitBreaker, port: int, payload: bytes, policy: CallPolicy = CallPolicy()
) -> bytes:
    """Send ``payload`` to 127.0.0.1:``port`` and return the reply.

    Raises CircuitOpenError when the breaker refuses, LoopbackError when every try failed.
    """

    def attempt() -> bytes:
        breaker.before_call()
        try:
            reply = _one_try(port, payload, policy.timeout_s)
        except (OSError, LoopbackError):
            breaker.record_failure()
            raise
        breaker.record_success()
        return reply

    retrying = Retrying(
        retry=retry_if_exception(_worth_retrying),
        wait=wait_exponential_jitter(
            multiplier=policy.backoff_initial_s,
            max=policy.backoff_max_s,
            jitter=policy.backoff_initial_s,
        ),
        stop=stop_after_attempt(policy.tries),
        reraise=True,
    )
    try:
        return retrying(attempt)
    except CircuitOpenError:
        raise
    except OSError as exc:
        raise LoopbackError(
            f"127.0.0.1:{port} did not answer after {policy.tries} tries: {exc}"
        ) from exc
