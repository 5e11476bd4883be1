"""Toxics: a Toxiproxy proxy on a link, and every toxic of the method on it together.

- ``toxic`` (``link = "api"``): a proxy in front of the target; probes go through it.
- ``database_toxic`` (``link = "database"``): a proxy in front of PostgreSQL and a
  dedicated reference API whose MOONBASE_DATABASE_URL points at the proxy; probes go to
  that API.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import toxiproxy

from harness.errors import InfrastructureError, UnsafeTargetError, UsageError
from harness.faults.base import FaultContext, Prepared, register
from harness.faults.spec import FaultSpec, PodSpec
from harness.netguard import is_loopback_host
from harness.target import ReferenceTarget
from harness.toxiproxy.provision import ToxiproxyServer

__all__ = ["NEEDS_POSTGRES", "ToxicInjector", "rewrite_database_url"]

NEEDS_POSTGRES = "needs PostgreSQL: set MOONBASE_DATABASE_URL"


class ToxicInjector:
    """Every toxic of the method on one proxy, together."""

    instantaneous = False

    def __init__(self, proxy: toxiproxy.Proxy, method: Sequence[FaultSpec]) -> None:
        self._proxy = proxy
        self._method = list(method)
        self._names: list[str] = []

    @property
    def duration_s(self) -> float:
        return max(f.duration_s for f in self._method)

    def inject(self) -> None:
        for number, fault in enumerate(self._method):
            name = f"{fault.type}_{fault.stream}_{number}"
            self._proxy.add_toxic(
                type=fault.type,
                stream=fault.stream,
                toxicity=fault.toxicity,
                attributes=dict(fault.attributes),
                name=name,
            )
            self._names.append(name)

    def remove(self) -> None:
        names, self._names = self._names, []
        for name in names:
            self._proxy.destroy_toxic(name)


def _create_proxy(server: ToxiproxyServer, upstream: str) -> toxiproxy.Proxy:
    toxiproxy.Toxiproxy().update_api_consumer(server.host, server.port)
    name = f"moonbase-{uuid.uuid4().hex[:8]}"
    try:
        return toxiproxy.Toxiproxy().create(upstream=upstream, name=name, listen="127.0.0.1:0")
    except Exception as exc:  # toxiproxy-python raises bare Exception subclasses
        raise InfrastructureError(f"Toxiproxy at {server.url} refused a proxy: {exc}") from exc


def _destroy(proxy: toxiproxy.Proxy, errors: list[str]) -> None:
    try:
        proxy.destroy()
    except Exception as exc:  # noqa: BLE001 - reported in the result, not swallowed
        errors.append(f"could not remove proxy: {exc}")


def _listen_address(proxy: toxiproxy.Proxy) -> tuple[str, int]:
    host, _, port = str(proxy.listen).rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    return host, int(port)


def rewrite_database_url(url: str, host: str, port: int) -> str:
    """``url`` with its host and port replaced (user, password, database, query kept)."""
    parts = urlsplit(url)
    userinfo, _, _ = parts.netloc.rpartition("@")
    netloc = f"{userinfo}@{host}:{port}" if userinfo else f"{host}:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _database_upstream(database_url: str) -> str:
    parts = urlsplit(database_url)
    host = parts.hostname or "127.0.0.1"
    if not is_loopback_host(host):
        raise UnsafeTargetError(
            f"refusing MOONBASE_DATABASE_URL host {host!r} from the environment: the database "
            "link proxies loopback only (127.0.0.0/8)"
        )
    return f"{host}:{parts.port or 5432}"


def _describe(fault: FaultSpec) -> dict[str, object]:
    return {
        "kind": fault.kind,
        "type": fault.type,
        "link": fault.link,
        "stream": fault.stream,
        "toxicity": fault.toxicity,
        "attributes": dict(fault.attributes),
        "duration_s": fault.duration_s,
    }


class _ApiToxic:
    name = "toxic"
    needs_supervised_api = False
    needs_postgres = False

    def describe(self, fault: FaultSpec, pod: PodSpec | None) -> dict[str, object]:
        return _describe(fault)

    @contextlib.contextmanager
    def prepare(self, ctx: FaultContext) -> Iterator[Prepared]:
        parts = urlsplit(ctx.target_url)
        proxy = _create_proxy(ctx.server, f"{parts.hostname}:{parts.port}")
        try:
            host, port = _listen_address(proxy)
            yield Prepared(f"http://{host}:{port}", ToxicInjector(proxy, ctx.method))
        finally:
            _destroy(proxy, ctx.errors)


class _DatabaseToxic:
    name = "database_toxic"
    needs_supervised_api = False
    needs_postgres = True

    def describe(self, fault: FaultSpec, pod: PodSpec | None) -> dict[str, object]:
        return _describe(fault)

    @contextlib.contextmanager
    def prepare(self, ctx: FaultContext) -> Iterator[Prepared]:
        if not ctx.database_url:
            raise UsageError(f"experiment {ctx.name!r}: {NEEDS_POSTGRES}")
        proxy = _create_proxy(ctx.server, _database_upstream(ctx.database_url))
        try:
            host, port = _listen_address(proxy)
            base = ctx.workdir or Path.cwd()
            api = ReferenceTarget(
                base / f"{ctx.name}-api-{uuid.uuid4().hex[:6]}",
                log_path=base / f"{ctx.name}-api.log",
                env={"MOONBASE_DATABASE_URL": rewrite_database_url(ctx.database_url, host, port)},
            )
            with api as running:
                yield Prepared(running.url, ToxicInjector(proxy, ctx.method))
        finally:
            _destroy(proxy, ctx.errors)


register(_ApiToxic())
register(_DatabaseToxic())
