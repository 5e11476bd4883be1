"""``host:port`` strings, and the loopback rule that bounds the embedded proxy's reach."""

from __future__ import annotations

import ipaddress
import socket

from harness.errors import UnsafeTargetError

__all__ = [
    "check_loopback",
    "format_host_port",
    "is_loopback_host",
    "resolve_listen",
    "split_host_port",
]


def split_host_port(value: str) -> tuple[str, int]:
    """Split ``"127.0.0.1:80"``, ``"[::1]:80"`` or ``":80"``; raise ``ValueError`` if malformed."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not port_text.isdigit():
        raise ValueError(f"address {value!r} is not host:port (e.g. '127.0.0.1:8080')")
    port = int(port_text)
    if port > 65535:
        raise ValueError(f"address {value!r} has port {port}; valid ports are 0-65535")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"address {value!r}: an IPv6 host must be in brackets, e.g. '[::1]:80'")
    return host, port


def _go_split_host_port(value: str) -> tuple[str, str]:
    """Go's ``net.SplitHostPort``, with its error text (``address X: why``)."""

    def fail(why: str) -> ValueError:
        return ValueError(f"address {value}: {why}")

    colon = value.rfind(":")
    if colon < 0:
        raise fail("missing port in address")
    start, end = 0, 0  # where a '[' or ']' may no longer appear
    if value.startswith("["):
        close = value.find("]")
        if close < 0:
            raise fail("missing ']' in address")
        if close + 1 != colon:
            at_colon = close + 1 < len(value) and value[close + 1] == ":"
            raise fail("too many colons in address" if at_colon else "missing port in address")
        host, start, end = value[1:close], 1, close + 1
    else:
        host = value[:colon]
        if ":" in host:
            raise fail("too many colons in address")
    if "[" in value[start:]:
        raise fail("unexpected '[' in address")
    if "]" in value[end:]:
        raise fail("unexpected ']' in address")
    return host, value[colon + 1 :]


def resolve_listen(value: str) -> tuple[str, int]:
    """A listen address as Go's ``net.ResolveTCPAddr`` reads it (``""`` is any host, port
    0; a port may be a service name such as ``http``); ``ValueError`` carries Go's text."""
    if value == "":
        return "", 0
    host, port_text = _go_split_host_port(value)
    if port_text.lstrip("+-").isdigit() or port_text == "":
        port = int(port_text or "0")
        if not 0 <= port <= 65535:
            raise ValueError(f"address {port_text}: invalid port")
        return host, port
    try:
        return host, socket.getservbyname(port_text, "tcp")
    except OSError:
        raise ValueError(f"lookup tcp/{port_text}: unknown port") from None


def format_host_port(host: str, port: int) -> str:
    """The inverse of :func:`split_host_port`, bracketing IPv6 hosts as Go does."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def is_loopback_host(host: str) -> bool:
    """``localhost``, anything in 127.0.0.0/8, or ``::1``."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_loopback(value: str, where: str, *, allow_empty_host: bool = False) -> None:
    """Raise :class:`UnsafeTargetError` unless ``value`` is a loopback ``host:port``.

    ``where`` names the field the value came from, e.g. ``"upstream of proxy 'db'"``.
    """
    try:
        host, _ = split_host_port(value)
    except ValueError as exc:
        raise UnsafeTargetError(f"invalid {where} {value!r}: {exc}") from None
    if host == "" and allow_empty_host:
        return
    if not is_loopback_host(host):
        raise UnsafeTargetError(
            f"{where} is {value!r}, outside 127.0.0.0/8 and ::1; the embedded Toxiproxy "
            "only reaches loopback addresses unless it is started with "
            "allow_non_loopback=True (--allow-non-loopback)"
        )
