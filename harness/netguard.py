"""Blast radius: the harness only sends traffic to loopback unless told otherwise."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from harness.errors import UnsafeTargetError

__all__ = ["ensure_loopback_url", "is_loopback_host"]


def is_loopback_host(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and names that resolve only to those."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror:
        return False
    addresses = {info[4][0] for info in infos}
    return bool(addresses) and all(ipaddress.ip_address(a).is_loopback for a in addresses)


ALLOW_HINT = "pass --allow-non-loopback to test a service elsewhere"


def ensure_loopback_url(
    url: str, *, where: str, allow_non_loopback: bool = False, allow_hint: str = ALLOW_HINT
) -> str:
    """Return ``url`` if it is safe to send traffic to; raise UnsafeTargetError otherwise.

    Nothing is sent to ``url``; only a host *name* is resolved (an IP literal is not).
    ``allow_hint`` tells the user how to allow a non-loopback host where this is called.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeTargetError(
            f"invalid URL {url!r} from {where}: expected http://HOST:PORT, e.g. http://127.0.0.1:8000"
        )
    try:
        port = parts.port
    except ValueError:  # urllib: "Port out of range 0-65535", or not a number
        port = -1
    if port is not None and not 0 < port < 65536:
        raise UnsafeTargetError(
            f"invalid URL {url!r} from {where}: the port must be a number from 1 to 65535"
        )
    if not allow_non_loopback and not is_loopback_host(parts.hostname):
        raise UnsafeTargetError(
            f"refusing target {url!r} from {where}: {parts.hostname} is outside 127.0.0.0/8; "
            f"{allow_hint}"
        )
    return url.rstrip("/")
