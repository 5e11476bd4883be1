"""One suite, three servers: the real Toxiproxy (as a process, and in a Docker container
when an engine and the image are here) and the embedded one must behave alike.

Every test in the first part runs against each ("real", "docker", "embedded"): the HTTP API's
status codes and JSON shapes, and the *measured* effect of each toxic on bytes moving
between a client and a small upstream on 127.0.0.1. Expected values were taken from
Toxiproxy 2.12.0. The last part checks what only the embedded server promises (loopback
blast radius, strict attributes, its command line).
"""

from __future__ import annotations

import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import toxiproxy
from toxiproxy_servers import (
    KINDS,
    START_TIMEOUT_S,
    BlobUpstream,
    EchoUpstream,
    HttpUpstream,
    RecordingUpstream,
    ToxiproxyServer,
    clear_proxies,
    free_port,
    running_toxiproxy,
)

from harness.toxiproxy.embedded import EmbeddedToxiproxy
from target_api.testing import poll_until

pytestmark = [pytest.mark.integration, pytest.mark.toxiproxy]

IO_TIMEOUT_S = 10.0
DEFAULT_ATTRIBUTES = {
    "latency": {"latency": 0, "jitter": 0},
    "bandwidth": {"rate": 0},
    "slow_close": {"delay": 0},
    "timeout": {"timeout": 0},
    "reset_peer": {"timeout": 0},
    "slicer": {"average_size": 0, "size_variation": 0, "delay": 0},
    "limit_data": {"bytes": 0},
}
PROXY_KEYS = {"name", "listen", "upstream", "enabled", "toxics"}


# ------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module", params=KINDS)
def any_server(request: pytest.FixtureRequest) -> Iterator[ToxiproxyServer]:
    """Each kind of Toxiproxy server in turn (real, in Docker, embedded), shared by the
    module's tests."""
    with running_toxiproxy(request.param) as server:
        yield server


@pytest.fixture
def server(any_server: ToxiproxyServer) -> Iterator[ToxiproxyServer]:
    """The server, emptied before and after the test."""
    clear_proxies(any_server)
    yield any_server
    clear_proxies(any_server)


@pytest.fixture
def client(server: ToxiproxyServer) -> toxiproxy.Toxiproxy:
    """toxiproxy-python pointed at the server (it keeps host/port on a shared class)."""
    api = toxiproxy.Toxiproxy()
    api.update_api_consumer(server.host, server.port)
    return api


@pytest.fixture
def echo() -> Iterator[EchoUpstream]:
    """An echo upstream."""
    upstream = EchoUpstream()
    yield upstream
    upstream.close()


def make_proxy(client: toxiproxy.Toxiproxy, upstream: str, name: str = "p") -> Any:
    """A proxy on 127.0.0.1 port 0 to ``upstream``, through toxiproxy-python."""
    return client.create(upstream=upstream, name=name, listen="127.0.0.1:0")


def port_of(proxy: Any) -> int:
    """The real port a port-0 proxy got."""
    return int(str(proxy.listen).rsplit(":", 1)[1])


def connect(port: int, timeout_s: float = IO_TIMEOUT_S) -> socket.socket:
    """A client connection to 127.0.0.1:port."""
    return socket.create_connection(("127.0.0.1", port), timeout=timeout_s)


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    """Read ``size`` bytes or fail on EOF."""
    data = bytearray()
    while len(data) < size:
        piece = sock.recv(size - len(data))
        if not piece:
            pytest.fail(f"connection closed after {len(data)} of {size} bytes")
        data += piece
    return bytes(data)


def recv_all(sock: socket.socket) -> bytes:
    """Read until EOF."""
    data = bytearray()
    while piece := sock.recv(65536):
        data += piece
    return bytes(data)


def median_round_trip_s(port: int, rounds: int = 7) -> float:
    """Median time for 32 bytes to go to the echo upstream and back, one connection."""
    payload = b"m" * 32
    times = []
    with connect(port) as sock:
        for _ in range(rounds):
            started = time.perf_counter()
            sock.sendall(payload)
            assert recv_exactly(sock, len(payload)) == payload
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def api(server: ToxiproxyServer, method: str, path: str, body: object = None) -> Any:
    """One raw API call (toxiproxy-python hides status codes)."""
    return requests.request(method, server.url + path, json=body, timeout=IO_TIMEOUT_S)


# ------------------------------------------------------------------- HTTP API shape


def test_version_is_json_with_a_version(server: ToxiproxyServer) -> None:
    response = api(server, "GET", "/version")
    assert response.status_code == 200
    assert isinstance(response.json()["version"], str)


def test_create_proxy_answers_201_with_the_real_port(
    server: ToxiproxyServer, echo: EchoUpstream
) -> None:
    body = {"name": "p", "upstream": echo.address, "listen": "127.0.0.1:0"}
    response = api(server, "POST", "/proxies", body)
    assert response.status_code == 201
    proxy = response.json()
    assert PROXY_KEYS <= set(proxy)
    assert proxy["name"] == "p"
    assert proxy["upstream"] == echo.address
    assert proxy["enabled"] is True
    assert proxy["toxics"] == []
    assert proxy["listen"].startswith("127.0.0.1:")
    assert int(proxy["listen"].rsplit(":", 1)[1]) > 0
    assert api(server, "GET", "/proxies/p").json() == proxy
    assert api(server, "GET", "/proxies").json() == {"p": proxy}


def test_proxy_errors_have_toxiproxys_codes_and_messages(
    server: ToxiproxyServer, echo: EchoUpstream
) -> None:
    body = {"name": "p", "upstream": echo.address, "listen": "127.0.0.1:0"}
    assert api(server, "POST", "/proxies", body).status_code == 201
    duplicate = api(server, "POST", "/proxies", body)
    assert (duplicate.status_code, duplicate.json()["error"]) == (409, "proxy already exists")
    no_name = api(server, "POST", "/proxies", {"upstream": echo.address})
    assert (no_name.status_code, no_name.json()) == (
        400,
        {"error": "missing required field: name", "status": 400},
    )
    no_upstream = api(server, "POST", "/proxies", {"name": "q"})
    assert no_upstream.json() == {"error": "missing required field: upstream", "status": 400}
    garbage = requests.post(server.url + "/proxies", data=b"{nope", timeout=IO_TIMEOUT_S)
    assert garbage.status_code == 400
    assert garbage.json()["error"].startswith("bad request body")
    missing = api(server, "GET", "/proxies/nope")
    assert (missing.status_code, missing.json()["error"]) == (404, "proxy not found")
    assert api(server, "POST", "/proxies/nope", {"enabled": False}).status_code == 404
    assert api(server, "PUT", "/proxies").status_code == 405
    assert api(server, "GET", "/no/such/path").status_code == 404


def test_delete_proxy_answers_204_then_404(server: ToxiproxyServer, echo: EchoUpstream) -> None:
    api(server, "POST", "/proxies", {"name": "p", "upstream": echo.address})
    assert api(server, "DELETE", "/proxies/p").status_code == 204
    assert api(server, "DELETE", "/proxies/p").status_code == 404
    assert api(server, "GET", "/proxies").json() == {}


def test_proxy_created_disabled_does_not_listen_until_enabled(
    server: ToxiproxyServer, echo: EchoUpstream
) -> None:
    body = {"name": "p", "upstream": echo.address, "listen": "127.0.0.1:0", "enabled": False}
    created = api(server, "POST", "/proxies", body)
    assert created.status_code == 201
    assert created.json()["enabled"] is False
    assert created.json()["listen"] == "127.0.0.1:0"
    enabled = api(server, "POST", "/proxies/p", {"enabled": True}).json()
    assert enabled["enabled"] is True
    assert median_round_trip_s(int(enabled["listen"].rsplit(":", 1)[1]), rounds=1) < 1.0


def test_update_upstream_keeps_listen_and_changes_target(
    server: ToxiproxyServer, echo: EchoUpstream
) -> None:
    first = api(server, "POST", "/proxies", {"name": "p", "upstream": "127.0.0.1:9"}).json()
    updated = api(server, "PATCH", "/proxies/p", {"upstream": echo.address})
    assert updated.status_code == 200
    assert updated.json()["upstream"] == echo.address
    assert updated.json()["listen"] == first["listen"]
    assert median_round_trip_s(int(first["listen"].rsplit(":", 1)[1]), rounds=1) < 1.0


@pytest.mark.parametrize("kind", sorted(DEFAULT_ATTRIBUTES))
def test_toxic_defaults_match(server: ToxiproxyServer, echo: EchoUpstream, kind: str) -> None:
    api(server, "POST", "/proxies", {"name": "p", "upstream": echo.address})
    response = api(server, "POST", "/proxies/p/toxics", {"type": kind})
    assert response.status_code == 200
    assert response.json() == {
        "attributes": DEFAULT_ATTRIBUTES[kind],
        "name": f"{kind}_downstream",
        "type": kind,
        "stream": "downstream",
        "toxicity": 1,
    }


def test_toxic_crud_round_trips(
    server: ToxiproxyServer, client: toxiproxy.Toxiproxy, echo: EchoUpstream
) -> None:
    proxy = make_proxy(client, echo.address)
    proxy.add_toxic(type="latency", stream="upstream", attributes={"latency": 50, "jitter": 5})
    proxy.add_toxic(type="bandwidth", name="slow", toxicity=0.5, attributes={"rate": 10})
    toxics = proxy.toxics()
    assert set(toxics) == {"latency_upstream", "slow"}
    assert toxics["latency_upstream"].attributes == {"latency": 50, "jitter": 5}
    assert toxics["slow"].toxicity == 0.5
    # upstream toxics are listed before downstream ones
    listed = api(server, "GET", "/proxies/p/toxics").json()
    assert [toxic["name"] for toxic in listed] == ["latency_upstream", "slow"]
    assert api(server, "GET", "/proxies/p").json()["toxics"] == listed

    jitter = {"attributes": {"jitter": 9}}
    merged = api(server, "POST", "/proxies/p/toxics/latency_upstream", jitter)
    assert merged.status_code == 200
    assert merged.json()["attributes"] == {"latency": 50, "jitter": 9}
    patched = api(server, "PATCH", "/proxies/p/toxics/slow", {"toxicity": 1})
    assert patched.json()["toxicity"] == 1
    assert patched.json()["attributes"] == {"rate": 10}
    # name, type and stream cannot be changed by an update
    ignored = api(server, "POST", "/proxies/p/toxics/slow", {"stream": "upstream", "type": "x"})
    assert (ignored.json()["stream"], ignored.json()["type"]) == ("downstream", "bandwidth")
    assert api(server, "GET", "/proxies/p/toxics/slow").json() == ignored.json()

    assert proxy.destroy_toxic("slow")
    assert api(server, "DELETE", "/proxies/p/toxics/slow").status_code == 404
    assert api(server, "GET", "/proxies/p/toxics/slow").status_code == 404
    assert set(proxy.toxics()) == {"latency_upstream"}


def test_toxic_errors_have_toxiproxys_codes(server: ToxiproxyServer, echo: EchoUpstream) -> None:
    api(server, "POST", "/proxies", {"name": "p", "upstream": echo.address})
    assert api(server, "POST", "/proxies/p/toxics", {"type": "latency"}).status_code == 200
    duplicate = api(server, "POST", "/proxies/p/toxics", {"type": "latency"})
    assert (duplicate.status_code, duplicate.json()["error"]) == (409, "toxic already exists")
    bad_type = api(server, "POST", "/proxies/p/toxics", {"type": "nope"})
    assert bad_type.status_code == 400
    assert bad_type.json()["error"].startswith("invalid toxic type")
    bad_stream = api(server, "POST", "/proxies/p/toxics", {"type": "latency", "stream": "side"})
    assert bad_stream.json() == {
        "error": "stream was invalid, can be either upstream or downstream",
        "status": 400,
    }
    not_int = {"type": "latency", "name": "x", "attributes": {"latency": "x"}}
    bad_value = api(server, "POST", "/proxies/p/toxics", not_int)
    assert bad_value.status_code == 400
    assert bad_value.json()["error"].startswith("bad request body")
    assert api(server, "GET", "/proxies/nope/toxics").status_code == 404
    assert api(server, "POST", "/proxies/p/toxics/nope", {"toxicity": 1}).status_code == 404


def test_populate_creates_keeps_and_validates_first(
    server: ToxiproxyServer, echo: EchoUpstream
) -> None:
    entries = [
        {"name": "a", "upstream": echo.address, "listen": "127.0.0.1:0"},
        {"name": "b", "upstream": echo.address, "listen": "127.0.0.1:0"},
    ]
    created = api(server, "POST", "/populate", entries)
    assert created.status_code == 201
    proxies = created.json()["proxies"]
    assert [proxy["name"] for proxy in proxies] == ["a", "b"]
    # the same listen and upstream again: the proxy and its toxics are kept
    api(server, "POST", "/proxies/a/toxics", {"type": "latency"})
    again = api(server, "POST", "/populate", [{**entries[0], "listen": proxies[0]["listen"]}])
    assert again.json()["proxies"][0]["toxics"] != []
    invalid = api(server, "POST", "/populate", [{"name": "c", "upstream": echo.address}, {}])
    assert invalid.status_code == 400
    assert invalid.json()["error"] == "missing required field: name at proxy 2"
    assert "c" not in api(server, "GET", "/proxies").json()


# ------------------------------------------------------------------ measured effects


def test_latency_100ms_adds_100ms(client: toxiproxy.Toxiproxy, echo: EchoUpstream) -> None:
    proxy = make_proxy(client, echo.address)
    base_s = median_round_trip_s(port_of(proxy))
    proxy.add_toxic(type="latency", attributes={"latency": 100})
    added_ms = (median_round_trip_s(port_of(proxy)) - base_s) * 1000
    assert 85 <= added_ms <= 115, f"latency 100 ms added {added_ms:.1f} ms"


def test_latency_delays_http_requests_through_the_proxy(client: toxiproxy.Toxiproxy) -> None:
    upstream = HttpUpstream()
    try:
        proxy = make_proxy(client, upstream.address)
        url = f"http://127.0.0.1:{port_of(proxy)}/"
        with requests.Session() as session:
            assert session.get(url, timeout=IO_TIMEOUT_S).text == "ok"  # connection kept alive
            proxy.add_toxic(type="latency", attributes={"latency": 100})
            started = time.perf_counter()
            assert session.get(url, timeout=IO_TIMEOUT_S).text == "ok"
            elapsed_s = time.perf_counter() - started
    finally:
        upstream.close()
    assert 0.095 <= elapsed_s <= 0.3


def test_upstream_latency_delays_requests(client: toxiproxy.Toxiproxy, echo: EchoUpstream) -> None:
    proxy = make_proxy(client, echo.address)
    proxy.add_toxic(type="latency", stream="upstream", attributes={"latency": 100})
    assert 0.085 <= median_round_trip_s(port_of(proxy), rounds=3) <= 0.2


def test_toxicity_zero_never_applies(client: toxiproxy.Toxiproxy, echo: EchoUpstream) -> None:
    proxy = make_proxy(client, echo.address)
    proxy.add_toxic(type="latency", toxicity=0.0, attributes={"latency": 300})
    assert median_round_trip_s(port_of(proxy), rounds=3) < 0.1


def test_toxic_added_to_an_open_connection_applies(
    client: toxiproxy.Toxiproxy, echo: EchoUpstream
) -> None:
    proxy = make_proxy(client, echo.address)
    with connect(port_of(proxy)) as sock:
        sock.sendall(b"a")
        assert recv_exactly(sock, 1) == b"a"
        proxy.add_toxic(type="latency", attributes={"latency": 150})
        started = time.perf_counter()
        sock.sendall(b"b")
        assert recv_exactly(sock, 1) == b"b"
        assert time.perf_counter() - started >= 0.135


def test_updating_a_toxic_changes_an_open_connection(
    server: ToxiproxyServer, client: toxiproxy.Toxiproxy, echo: EchoUpstream
) -> None:
    proxy = make_proxy(client, echo.address)
    proxy.add_toxic(type="latency", name="lag", attributes={"latency": 0})
    with connect(port_of(proxy)) as sock:
        sock.sendall(b"a")
        assert recv_exactly(sock, 1) == b"a"
        api(server, "POST", "/proxies/p/toxics/lag", {"attributes": {"latency": 150}})
        started = time.perf_counter()
        sock.sendall(b"b")
        assert recv_exactly(sock, 1) == b"b"
        assert time.perf_counter() - started >= 0.135
        assert proxy.destroy_toxic("lag")
        started = time.perf_counter()
        sock.sendall(b"c")
        assert recv_exactly(sock, 1) == b"c"
        assert time.perf_counter() - started < 0.1


def test_jitter_stays_within_its_bounds(client: toxiproxy.Toxiproxy, echo: EchoUpstream) -> None:
    proxy = make_proxy(client, echo.address)
    proxy.add_toxic(type="latency", attributes={"latency": 100, "jitter": 30})
    payload = b"j" * 16
    times = []
    with connect(port_of(proxy)) as sock:
        for _ in range(8):
            started = time.perf_counter()
            sock.sendall(payload)
            assert recv_exactly(sock, len(payload)) == payload
            times.append(time.perf_counter() - started)
    assert 0.068 <= min(times)
    assert max(times) <= 0.16


def test_unreachable_upstream_closes_the_client(client: toxiproxy.Toxiproxy) -> None:
    closed_port = free_port()  # nothing listens there
    proxy = make_proxy(client, f"127.0.0.1:{closed_port}")
    with connect(port_of(proxy)) as sock:
        try:
            assert sock.recv(1) == b""
        except ConnectionResetError:
            pass  # closed either way


def test_proxy_down_context_refuses_inside_and_serves_after(
    client: toxiproxy.Toxiproxy, echo: EchoUpstream
) -> None:
    proxy = make_proxy(client, echo.address)
    with proxy.down():
        with pytest.raises(ConnectionRefusedError):
            connect(port_of(proxy)).close()
        assert client.get_proxy("p").enabled is False
    assert client.get_proxy("p").enabled is True
    assert median_round_trip_s(port_of(proxy), rounds=1) < 1.0


def test_upstream_limit_data_cuts_what_the_client_sends(client: toxiproxy.Toxiproxy) -> None:
    recorder = RecordingUpstream()
    try:
        proxy = make_proxy(client, recorder.address)
        proxy.add_toxic(type="limit_data", stream="upstream", attributes={"bytes": 10})
        with connect(port_of(proxy)) as sock:
            sock.sendall(b"0123456789abcdef")
            poll_until(
                "the upstream connection closed", recorder.ended.is_set, START_TIMEOUT_S, 0.02
            )
    finally:
        recorder.close()
    assert bytes(recorder.received) == b"0123456789"


def test_bandwidth_100kbps_moves_200kb_in_about_2s(client: toxiproxy.Toxiproxy) -> None:
    blob = BlobUpstream(200_000)
    try:
        proxy = make_proxy(client, blob.address)
        proxy.add_toxic(type="bandwidth", attributes={"rate": 100})
        started = time.perf_counter()
        with connect(port_of(proxy)) as sock:
            received = recv_all(sock)
        elapsed_s = time.perf_counter() - started
    finally:
        blob.close()
    assert received == blob.payload
    assert 1.8 <= elapsed_s <= 2.6, f"200 KB at 100 KB/s took {elapsed_s:.2f} s"


def test_timeout_zero_stalls_without_closing(
    client: toxiproxy.Toxiproxy, echo: EchoUpstream
) -> None:
    proxy = make_proxy(client, echo.address)
    proxy.add_toxic(type="timeout", attributes={"timeout": 0})
    with connect(port_of(proxy), timeout_s=0.5) as sock:
        sock.sendall(b"hello?")
        with pytest.raises(TimeoutError):
            sock.recv(1)


def test_timeout_closes_after_its_delay(client: toxiproxy.Toxiproxy, echo: EchoUpstream) -> None:
    proxy = make_proxy(client, echo.address)
    proxy.add_toxic(type="timeout", attributes={"timeout": 300})
    started = time.perf_counter()
    with connect(port_of(proxy)) as sock:
        sock.sendall(b"hello?")
        assert recv_all(sock) == b""  # data dropped, then EOF
    assert 0.25 <= time.perf_counter() - started <= 1.5


def test_reset_peer_resets_the_connection(client: toxiproxy.Toxiproxy, echo: EchoUpstream) -> None:
    proxy = make_proxy(client, echo.address)
    proxy.add_toxic(type="reset_peer", attributes={"timeout": 0})
    with connect(port_of(proxy)) as sock:
        sock.sendall(b"hello")
        with pytest.raises(ConnectionResetError):
            recv_all(sock)


def test_limit_data_closes_after_n_bytes(client: toxiproxy.Toxiproxy) -> None:
    blob = BlobUpstream(200_000)
    try:
        proxy = make_proxy(client, blob.address)
        proxy.add_toxic(type="limit_data", attributes={"bytes": 1000})
        with connect(port_of(proxy)) as sock:
            received = recv_all(sock)
    finally:
        blob.close()
    assert received == blob.payload[:1000]


def test_slicer_delivers_every_byte(client: toxiproxy.Toxiproxy, echo: EchoUpstream) -> None:
    proxy = make_proxy(client, echo.address)
    attributes = {"average_size": 1000, "size_variation": 200, "delay": 50}
    proxy.add_toxic(type="slicer", attributes=attributes)
    payload = bytes(i % 253 for i in range(64_000))
    with connect(port_of(proxy)) as sock:
        sock.sendall(payload)
        assert recv_exactly(sock, len(payload)) == payload


def test_slow_close_holds_the_close(client: toxiproxy.Toxiproxy) -> None:
    blob = BlobUpstream(10)
    try:
        proxy = make_proxy(client, blob.address)
        proxy.add_toxic(type="slow_close", attributes={"delay": 300})
        started = time.perf_counter()
        with connect(port_of(proxy)) as sock:
            assert recv_all(sock) == blob.payload
        assert time.perf_counter() - started >= 0.28
    finally:
        blob.close()


def test_disabled_proxy_refuses_and_drops_connections(
    client: toxiproxy.Toxiproxy, echo: EchoUpstream
) -> None:
    proxy = make_proxy(client, echo.address)
    port = port_of(proxy)
    with connect(port) as open_before:
        open_before.sendall(b"x")
        assert recv_exactly(open_before, 1) == b"x"
        proxy.disable()
        with pytest.raises(ConnectionRefusedError):
            connect(port).close()
        try:
            assert open_before.recv(1) == b""
        except ConnectionResetError:
            pass  # dropped either way
    proxy.enable()
    assert median_round_trip_s(port, rounds=1) < 1.0


def test_reset_enables_proxies_and_removes_toxics(
    server: ToxiproxyServer, client: toxiproxy.Toxiproxy, echo: EchoUpstream
) -> None:
    proxy = make_proxy(client, echo.address)
    proxy.add_toxic(type="timeout", attributes={"timeout": 0})
    proxy.disable()
    assert client.reset()
    state = api(server, "GET", "/proxies/p").json()
    assert (state["enabled"], state["toxics"]) == (True, [])
    assert median_round_trip_s(port_of(proxy), rounds=1) < 1.0


# -------------------------------------------------------------- embedded promises


@pytest.fixture
def embedded() -> Iterator[ToxiproxyServer]:
    """The embedded server alone."""
    with running_toxiproxy("embedded") as server:
        yield server


@pytest.mark.parametrize(
    "upstream", ["10.0.0.1:80", "192.168.1.1:5432", "example.com:80", "[2001:db8::1]:80"]
)
def test_embedded_refuses_non_loopback_upstreams(embedded: ToxiproxyServer, upstream: str) -> None:
    response = api(embedded, "POST", "/proxies", {"name": "p", "upstream": upstream})
    assert response.status_code == 400
    message = response.json()["error"]
    assert upstream in message
    assert "--allow-non-loopback" in message
    assert api(embedded, "GET", "/proxies").json() == {}


@pytest.mark.parametrize("upstream", ["127.0.0.2:80", "localhost:80", "[::1]:80"])
def test_embedded_accepts_loopback_upstreams(embedded: ToxiproxyServer, upstream: str) -> None:
    body = {"name": "p", "upstream": upstream, "enabled": False}
    assert api(embedded, "POST", "/proxies", body).status_code == 201


def test_embedded_allows_non_loopback_only_when_asked() -> None:
    with EmbeddedToxiproxy(allow_non_loopback=True) as server:
        body = {"name": "p", "upstream": "10.0.0.1:80", "enabled": False}  # never dialled
        response = requests.post(server.url + "/proxies", json=body, timeout=IO_TIMEOUT_S)
        assert response.status_code == 201


def test_embedded_rejects_unknown_attributes_listing_valid_ones(
    embedded: ToxiproxyServer,
) -> None:
    # Toxiproxy itself ignores the typo and injects nothing; the embedded server says so
    api(embedded, "POST", "/proxies", {"name": "p", "upstream": "127.0.0.1:9"})
    body = {"type": "latency", "attributes": {"latency_ms": 100}}
    response = api(embedded, "POST", "/proxies/p/toxics", body)
    assert response.status_code == 400
    assert "'latency_ms'" in response.json()["error"]
    assert "latency, jitter" in response.json()["error"]
    unknown = api(embedded, "POST", "/proxies/p/toxics", {"type": "latencyy"})
    assert "valid types: bandwidth, latency, limit_data" in unknown.json()["error"]


def test_embedded_cli_serves_until_sigterm() -> None:
    command = [sys.executable, "-m", "harness.toxiproxy.embedded", "--host", "127.0.0.1"]
    process = subprocess.Popen(
        [*command, "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        prefix = "toxiproxy-compatible API listening on http://127.0.0.1:"
        assert line.startswith(prefix), line
        url = line.rsplit(" ", 1)[1]
        assert requests.get(url + "/version", timeout=IO_TIMEOUT_S).status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(IO_TIMEOUT_S) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=IO_TIMEOUT_S)
    poll_until("the CLI exited", lambda: process.returncode is not None, START_TIMEOUT_S, 0.02)


def test_embedded_stop_closes_api_listeners_and_connections(echo: EchoUpstream) -> None:
    server = EmbeddedToxiproxy().start()
    try:
        body = {"name": "p", "upstream": echo.address, "listen": "127.0.0.1:0"}
        listen = requests.post(server.url + "/proxies", json=body, timeout=IO_TIMEOUT_S).json()
        port = int(listen["listen"].rsplit(":", 1)[1])
        sock = connect(port)
    finally:
        server.stop()
    with sock:
        try:
            assert sock.recv(1) == b""
        except ConnectionResetError:
            pass  # dropped either way
    with pytest.raises(ConnectionRefusedError):
        connect(port).close()
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url + "/version", timeout=IO_TIMEOUT_S)


def test_embedded_can_start_again_after_stop() -> None:
    server = EmbeddedToxiproxy()
    for _ in range(2):
        with server:
            assert requests.get(server.url + "/version", timeout=IO_TIMEOUT_S).status_code == 200
