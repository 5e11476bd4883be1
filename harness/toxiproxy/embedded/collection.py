"""The proxies of one embedded server and every operation of Toxiproxy's HTTP API on them.

Bodies come in as parsed JSON; results go out as JSON-ready values or :class:`ApiError`
(message and status code as Toxiproxy 2.12 sends them). The API module only routes.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping

from harness.errors import HarnessError, UnsafeTargetError
from harness.toxiproxy.embedded.addresses import (
    check_loopback,
    format_host_port,
    resolve_listen,
    split_host_port,
)
from harness.toxiproxy.embedded.proxy import Proxy, Toxic, float32
from harness.toxiproxy.embedded.toxics import (
    InvalidAttribute,
    get_kind,
    kind_names,
    parse_attributes,
)

__all__ = ["ApiError", "ProxyCollection"]


class ApiError(HarnessError):
    """An API failure: Toxiproxy's ``{"error": message, "status": status}``; the embedded
    server answers it, it never reaches the command line."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _proxy_not_found() -> ApiError:
    return ApiError("proxy not found", 404)


def _toxic_not_found() -> ApiError:
    return ApiError("toxic not found", 404)


def bad_body(detail: str) -> ApiError:
    """Toxiproxy's prefix for a body that does not decode."""
    return ApiError(f"bad request body: {detail}", 400)


_JSON_NAMES = {str: "string", bool: "boolean", float: "number"}


def json_key(body: Mapping[str, object], key: str) -> object:
    """``body[key]`` matched as Go's ``encoding/json`` matches a struct field: the exact
    name or any other case of it (``"Name"``, ``"UPSTREAM"``), the last such key winning."""
    value = None
    for name, item in body.items():
        if name == key or name.lower() == key:
            value = item
    return value


def _field(body: Mapping[str, object], key: str, kind: type, default: object) -> object:
    """A typed JSON field; ``null`` or absent gives ``default`` (Go leaves the field as is)."""
    value = json_key(body, key)
    if value is None:
        return default
    ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
    if kind is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok:
        raise bad_body(f"field {key!r} must be a JSON {_JSON_NAMES[kind]}, got {value!r}")
    return value


def _toxicity(body: Mapping[str, object], default: float) -> float:
    """The toxicity as Toxiproxy keeps it, a Go ``float32``."""
    value = float(_field(body, "toxicity", float, default))  # type: ignore[arg-type]
    try:
        return float32(value)
    except OverflowError:
        raise bad_body(f"field 'toxicity' must fit a 32-bit float, got {value!r}") from None


def _parses(address: str) -> bool:
    try:
        split_host_port(address)
    except ValueError:
        return False
    return True


def _object(body: object, what: str) -> Mapping[str, object]:
    if body is None:
        return {}  # Go decodes null into a struct as no change at all
    if not isinstance(body, Mapping):
        raise bad_body(f"{what} must be a JSON object, got {type(body).__name__}")
    return body


class ProxyCollection:
    """All proxies of one server, keyed by name."""

    def __init__(
        self, *, allow_non_loopback: bool = False, roll: Callable[[], float] = random.random
    ) -> None:
        self.allow_non_loopback = allow_non_loopback
        self._roll = roll
        self.proxies: dict[str, Proxy] = {}

    # --- checks ------------------------------------------------------------------------
    def _check_addresses(self, name: str, listen: str, upstream: str) -> None:
        """Refuse hosts outside loopback. An address that is not ``host:port`` passes: it
        is never dialled (``_connect`` closes the client) and never bound (``_start``
        answers Go's 500), as with Toxiproxy, which accepts it until it is used."""
        if self.allow_non_loopback:
            return
        try:
            if _parses(upstream):
                check_loopback(upstream, f"upstream of proxy {name!r}")
            if listen and _parses(listen):
                check_loopback(listen, f"listen address of proxy {name!r}", allow_empty_host=True)
        except UnsafeTargetError as exc:
            raise ApiError(str(exc), 400) from None

    def _get(self, name: str) -> Proxy:
        proxy = self.proxies.get(name)
        if proxy is None:
            raise _proxy_not_found()
        return proxy

    def _new_proxy(self, name: str, listen: str, upstream: str) -> Proxy:
        return Proxy(
            name, listen, upstream, bind_any_when_empty=self.allow_non_loopback, roll=self._roll
        )

    @staticmethod
    async def _start(proxy: Proxy) -> None:
        try:
            await proxy.start()
        except ValueError as exc:  # Go's net.Listen: "listen tcp: address 99999: invalid port"
            raise ApiError(f"listen tcp: {exc}", 500) from None
        except OSError as exc:
            reason = (exc.strerror or str(exc)).lower()
            raise ApiError(f"listen tcp {proxy.listen}: bind: {reason}", 500) from None

    # --- proxies -----------------------------------------------------------------------
    def index(self) -> dict[str, object]:
        """``GET /proxies``: every proxy by name (sorted, as Go marshals maps)."""
        return {name: self.proxies[name].to_json() for name in sorted(self.proxies)}

    def show(self, name: str) -> dict[str, object]:
        """``GET /proxies/{name}``."""
        return self._get(name).to_json()

    async def create(self, body: object) -> dict[str, object]:
        """``POST /proxies``: add a proxy and start it unless ``enabled`` is false."""
        body = _object(body, "proxy")
        name = str(_field(body, "name", str, ""))
        listen = str(_field(body, "listen", str, ""))
        upstream = str(_field(body, "upstream", str, ""))
        enabled = bool(_field(body, "enabled", bool, True))
        if not name:
            raise ApiError("missing required field: name", 400)
        if not upstream:
            raise ApiError("missing required field: upstream", 400)
        self._check_addresses(name, listen, upstream)
        if name in self.proxies:
            raise ApiError("proxy already exists", 409)
        proxy = self._new_proxy(name, listen, upstream)
        if enabled:
            await self._start(proxy)
        self.proxies[name] = proxy
        return proxy.to_json()

    async def update(self, name: str, body: object) -> dict[str, object]:
        """``POST|PATCH /proxies/{name}``: change listen, upstream or enabled."""
        proxy = self._get(name)
        body = _object(body, "proxy")
        listen = str(_field(body, "listen", str, proxy.listen))
        upstream = str(_field(body, "upstream", str, proxy.upstream))
        enabled = bool(_field(body, "enabled", bool, proxy.enabled))
        self._check_addresses(name, listen if listen != proxy.listen else "", upstream)
        if self._differs(proxy, listen, upstream):
            await proxy.stop()
            proxy.listen = listen
            proxy.upstream = upstream
        if enabled and not proxy.enabled:
            await self._start(proxy)
        elif not enabled and proxy.enabled:
            await proxy.stop()
        return proxy.to_json()

    @staticmethod
    def _differs(proxy: Proxy, listen: str, upstream: str) -> bool:
        """Toxiproxy's ``Differs``: the resolved listen address or the upstream changed."""
        try:
            host, port = resolve_listen(listen)
        except ValueError as exc:  # Go's ResolveTCPAddr fails: a 500, with its text
            raise ApiError(str(exc), 500) from None
        resolved = format_host_port("127.0.0.1" if host == "localhost" else host, port)
        return resolved != proxy.listen or upstream != proxy.upstream

    async def delete(self, name: str) -> None:
        """``DELETE /proxies/{name}``: stop it and forget it."""
        proxy = self._get(name)
        await proxy.stop()
        del self.proxies[name]

    async def populate(self, body: object) -> tuple[list[dict[str, object]], ApiError | None]:
        """``POST /populate``: validate every entry first, then add or replace each.

        A proxy whose listen and upstream are unchanged is kept with its toxics.
        """
        if body is None:
            body = []  # null decodes into Go's slice as nil: nothing to add
        if not isinstance(body, list):
            raise bad_body(f"populate expects a JSON array of proxies, got {type(body).__name__}")
        entries = []
        for index, raw in enumerate(body, start=1):
            entry = _object(raw, f"proxy {index}")
            name = str(_field(entry, "name", str, ""))
            listen = str(_field(entry, "listen", str, ""))
            upstream = str(_field(entry, "upstream", str, ""))
            enabled = bool(_field(entry, "enabled", bool, True))
            if not name:
                raise ApiError(f"missing required field: name at proxy {index}", 400)
            if not upstream:
                raise ApiError(f"missing required field: upstream at proxy {index}", 400)
            self._check_addresses(name, listen, upstream)
            entries.append((name, listen, upstream, enabled))
        done: list[dict[str, object]] = []
        for name, listen, upstream, enabled in entries:
            existing = self.proxies.get(name)
            if existing is not None:
                try:
                    differs = self._differs(existing, listen, upstream)
                except ApiError as exc:
                    return done, exc
                if not differs:
                    done.append(existing.to_json())
                    continue
                await existing.stop()
            proxy = self._new_proxy(name, listen, upstream)
            if enabled:
                try:
                    await self._start(proxy)
                except ApiError as exc:
                    return done, exc
            self.proxies[name] = proxy
            done.append(proxy.to_json())
        return done, None

    async def reset(self) -> None:
        """``POST /reset``: enable every proxy and remove every toxic."""
        for proxy in list(self.proxies.values()):
            await self._start(proxy)
            proxy.remove_all_toxics()

    def shutdown(self) -> None:
        """Drop every listener and connection at once (server stop)."""
        for proxy in self.proxies.values():
            proxy.abort()

    # --- toxics ------------------------------------------------------------------------
    def toxics(self, proxy_name: str) -> list[dict[str, object]]:
        """``GET /proxies/{name}/toxics``."""
        return [toxic.to_json() for toxic in self._get(proxy_name).toxic_list()]

    def show_toxic(self, proxy_name: str, toxic_name: str) -> dict[str, object]:
        """``GET /proxies/{name}/toxics/{toxic}``."""
        toxic = self._get(proxy_name).find_toxic(toxic_name)
        if toxic is None:
            raise _toxic_not_found()
        return toxic.to_json()

    def create_toxic(self, proxy_name: str, body: object) -> dict[str, object]:
        """``POST /proxies/{name}/toxics``: checks in Toxiproxy's order, stricter on attributes."""
        proxy = self._get(proxy_name)
        body = _object(body, "toxic")
        name = str(_field(body, "name", str, ""))
        type_name = str(_field(body, "type", str, ""))
        stream = str(_field(body, "stream", str, "downstream"))
        toxicity = _toxicity(body, 1.0)
        direction = stream.lower()
        if direction not in ("upstream", "downstream"):
            raise ApiError("stream was invalid, can be either upstream or downstream", 400)
        if not name:
            name = f"{type_name}_{stream}"
        kind = get_kind(type_name)
        if kind is None:
            raise ApiError(
                f"invalid toxic type: {type_name!r}; valid types: {', '.join(kind_names())}", 400
            )
        if proxy.find_toxic(name) is not None:
            raise ApiError("toxic already exists", 409)
        try:
            attributes = parse_attributes(kind, json_key(body, "attributes"))
        except InvalidAttribute as exc:
            raise bad_body(str(exc)) from None
        toxic = Toxic(name, kind, stream, direction, toxicity, attributes)
        proxy.add_toxic(toxic)
        return toxic.to_json()

    def update_toxic(self, proxy_name: str, toxic_name: str, body: object) -> dict[str, object]:
        """``POST|PATCH /proxies/{name}/toxics/{toxic}``: merge attributes, set toxicity."""
        proxy = self._get(proxy_name)
        toxic = proxy.find_toxic(toxic_name)
        if toxic is None:
            raise _toxic_not_found()
        body = _object(body, "toxic")
        toxicity = _toxicity(body, toxic.toxicity)
        try:
            attributes = parse_attributes(
                toxic.kind, json_key(body, "attributes"), toxic.attributes
            )
        except InvalidAttribute as exc:
            raise bad_body(str(exc)) from None
        toxic.attributes = attributes
        toxic.toxicity = toxicity
        proxy.update_toxic(toxic)
        return toxic.to_json()

    def delete_toxic(self, proxy_name: str, toxic_name: str) -> None:
        """``DELETE /proxies/{name}/toxics/{toxic}``."""
        proxy = self._get(proxy_name)
        toxic = proxy.find_toxic(toxic_name)
        if toxic is None:
            raise _toxic_not_found()
        proxy.remove_toxic(toxic)
