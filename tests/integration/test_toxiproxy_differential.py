"""The same API calls, sent to the real Toxiproxy and to the embedded one, answer alike.

Each test drives one sequence of calls through both servers step by step and compares,
at every step, the status code, the Content-Type a client can rely on, and the JSON
body. Only what must differ is normalised, each with its reason where it is done. The
differences that remain on purpose are pinned by the last tests (and listed in the
README's Toxiproxy section), so that closing one fails here and the list is updated.

The real server is a ``toxiproxy-server`` process (or TOXIPROXY_URL); without one these
tests skip on a laptop and fail when CI=true (``require_component``). Every proxy listens
on 127.0.0.1 and every upstream is an echo server on 127.0.0.1.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from toxiproxy_servers import EchoUpstream, ToxiproxyServer, clear_proxies, running_toxiproxy

pytestmark = [pytest.mark.integration, pytest.mark.toxiproxy]

IO_TIMEOUT_S = 10.0
BAD_BODY = "bad request body: "
# Go's encoding/json names Go types in its errors ("cannot unmarshal string into Go struct
# field Proxy.enabled of type bool", "invalid character 'n' looking for ..."); the
# embedded server names the field, the value and what is valid instead. The prefix, the
# status and the Content-Type must match; the detail is one of the README's differences.
BAD_BODY_DETAIL = "<decoder's detail>"
INVALID_TYPE = "invalid toxic type"


@dataclass(frozen=True, slots=True)
class Call:
    """One API request: a JSON ``body``, or ``raw`` bytes sent as they are."""

    method: str
    path: str
    body: object = None
    raw: bytes | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    """What a client can rely on in a response."""

    status: int
    content_type: str | None
    payload: object  # the JSON, normalised; the text when it is not JSON


@dataclass
class Side:
    """One server, with the OS-chosen listen ports it has shown so far."""

    server: ToxiproxyServer
    ports: dict[str, str] = field(default_factory=dict)

    def send(self, call: Call, *, exact_errors: bool = False) -> Answer:
        """Send ``call`` and normalise the answer (error texts too unless ``exact_errors``)."""
        options: dict[str, Any] = {"timeout": IO_TIMEOUT_S}
        if call.raw is not None:
            options["data"] = call.raw
        elif call.body is not None:
            options["json"] = call.body
        response = requests.request(call.method, self.server.url + call.path, **options)
        try:
            payload = self._normalise(response.json(), exact_errors=exact_errors)
        except requests.JSONDecodeError:
            payload = response.text
        return Answer(response.status_code, response.headers.get("Content-Type"), payload)

    def port_name(self, port: str) -> str:
        """``<port N>`` for the N-th port this server chose; port 0 stays 0."""
        # The OS picks each server's ports, so they cannot be equal; numbering them by
        # first appearance still shows whether a proxy kept its port or moved.
        if port == "0":
            return port
        return self.ports.setdefault(port, f"<port {len(self.ports) + 1}>")

    def _normalise(self, value: object, key: str = "", *, exact_errors: bool = False) -> object:
        if isinstance(value, dict):
            normal = {name: self._normalise(item, name) for name, item in value.items()}
            error = None if exact_errors else normal.get("error")
            if isinstance(error, str) and error.startswith(BAD_BODY):
                normal["error"] = BAD_BODY + BAD_BODY_DETAIL
            elif isinstance(error, str) and error.startswith(INVALID_TYPE):
                normal["error"] = INVALID_TYPE  # the embedded adds the valid types (pinned below)
            return normal
        if isinstance(value, list):
            return [self._normalise(item) for item in value]
        if key == "listen" and isinstance(value, str) and ":" in value:
            host, port = value.rsplit(":", 1)
            return f"{host}:{self.port_name(port)}"
        return value

    def listen_port(self, proxy: str) -> int:
        """The port ``proxy`` listens on now."""
        show = requests.get(f"{self.server.url}/proxies/{proxy}", timeout=IO_TIMEOUT_S)
        return int(show.json()["listen"].rsplit(":", 1)[1])


@dataclass(frozen=True, slots=True)
class Pair:
    """The real server and the embedded one."""

    real: Side
    embedded: Side

    def run(self, calls: Sequence[Call]) -> list[Answer]:
        """Send each call to both; at each step the answers must be equal. The real
        server's answers are returned for checks of their own."""
        answers = []
        for step, call in enumerate(calls, start=1):
            real, embedded = self.real.send(call), self.embedded.send(call)
            assert embedded == real, f"step {step}: {call}"
            answers.append(real)
        return answers

    def reachable(self, proxy: str) -> tuple[bool, bool]:
        """Whether a byte goes through ``proxy`` to the echo upstream, on each server."""
        return (echoes(self.real.listen_port(proxy)), echoes(self.embedded.listen_port(proxy)))


def echoes(port: int) -> bool:
    """True if one byte sent to 127.0.0.1:port comes back; False if refused."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT_S) as sock:
            sock.sendall(b"x")
            return sock.recv(1) == b"x"
    except ConnectionRefusedError:
        return False


# ------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[ToxiproxyServer, ToxiproxyServer]]:
    """A real Toxiproxy and an embedded one for the whole module."""
    with running_toxiproxy("real") as real, running_toxiproxy("embedded") as embedded:
        yield real, embedded


@pytest.fixture
def pair(servers: tuple[ToxiproxyServer, ToxiproxyServer]) -> Iterator[Pair]:
    """Both servers, emptied before and after the test."""
    for server in servers:
        clear_proxies(server)
    yield Pair(Side(servers[0]), Side(servers[1]))
    for server in servers:
        clear_proxies(server)


@pytest.fixture
def echo() -> Iterator[str]:
    """The address of an echo upstream on 127.0.0.1."""
    upstream = EchoUpstream()
    yield upstream.address
    upstream.close()


def proxy_body(name: str, upstream: str, **extra: object) -> dict[str, object]:
    """A proxy on 127.0.0.1, port chosen by the OS (never an empty, all-interfaces listen)."""
    return {"name": name, "upstream": upstream, "listen": "127.0.0.1:0", **extra}


# ------------------------------------------------------------------------- proxies


def test_proxy_create_conflict_show_and_delete_answer_alike(pair: Pair, echo: str) -> None:
    answers = pair.run(
        [
            Call("POST", "/proxies", proxy_body("p", echo)),
            Call("POST", "/proxies", proxy_body("p", echo)),  # the name is taken
            Call("POST", "/proxies", proxy_body("off", echo, enabled=False)),
            Call("POST", "/proxies", {"Name": "cased", "UPSTREAM": echo, "Listen": "127.0.0.1:0"}),
            Call("POST", "/proxies", {"upstream": echo}),
            Call("POST", "/proxies", {"name": "q"}),
            Call("POST", "/proxies", proxy_body("later", "not-host-port", enabled=False)),
            Call("GET", "/proxies"),
            Call("GET", "/proxies/p"),
            Call("GET", "/proxies/missing"),
            Call("DELETE", "/proxies/p"),
            Call("DELETE", "/proxies/p"),
            Call("GET", "/proxies/p"),
            Call("PATCH", "/proxies/missing", {"enabled": True}),
            Call("GET", "/proxies"),
        ]
    )
    statuses = [answer.status for answer in answers]
    assert statuses == [201, 409, 201, 201, 400, 400, 201, 200, 200, 404, 204, 404, 404, 404, 200]
    assert answers[1].payload == {"error": "proxy already exists", "status": 409}
    assert answers[0].content_type == "application/json"
    assert answers[1].content_type == "text/plain; charset=utf-8"
    assert answers[10].content_type is None  # a 204 has no body and no type
    assert set(answers[14].payload) == {"off", "cased", "later"}  # type: ignore[arg-type]


def test_enable_disable_and_moves_answer_and_act_alike(pair: Pair, echo: str) -> None:
    pair.run([Call("POST", "/proxies", proxy_body("p", echo))])
    assert pair.reachable("p") == (True, True)
    pair.run([Call("POST", "/proxies/p", {"enabled": False}), Call("GET", "/proxies/p")])
    assert pair.reachable("p") == (False, False)
    answers = pair.run(
        [
            Call("PATCH", "/proxies/p", {"enabled": True}),
            Call("PATCH", "/proxies/p", {"name": "renamed", "enabled": True}),  # name ignored
            Call("PATCH", "/proxies/p", {"upstream": "127.0.0.1:9"}),
            Call("PATCH", "/proxies/p", {"upstream": echo}),
            Call("PATCH", "/proxies/p", {"listen": "127.0.0.1:0"}),  # a new port
            Call("PATCH", "/proxies/p", {"listen": "localhost:0"}),
            Call("PATCH", "/proxies/p", {"listen": "127.0.0.1:99999"}),
            Call("PATCH", "/proxies/p", {"listen": "no-port"}),
            Call("PATCH", "/proxies/p", {"listen": "127.0.0.1:1:2"}),
            Call("PATCH", "/proxies/p", {"listen": "127.0.0.1:no-such-service"}),
            Call("PATCH", "/proxies/p", {"upstream": ""}),  # Toxiproxy takes it
            Call("PATCH", "/proxies/p", {"upstream": echo}),
            Call("GET", "/proxies/p"),
        ]
    )
    assert [answer.status for answer in answers[6:10]] == [500, 500, 500, 500]
    assert answers[6].payload == {"error": "address 99999: invalid port", "status": 500}
    assert answers[-1].payload["enabled"] is True  # type: ignore[index]
    assert pair.reachable("p") == (True, True)


def test_a_disabled_proxy_with_a_bad_port_fails_when_started(pair: Pair, echo: str) -> None:
    bad = {"name": "bad", "upstream": echo, "listen": "127.0.0.1:99999"}
    answers = pair.run(
        [
            Call("POST", "/proxies", {**bad, "enabled": False}),  # not bound, not checked
            Call("PATCH", "/proxies/bad", {"enabled": True}),
            Call("POST", "/proxies", {**bad, "name": "bad2"}),
            Call("POST", "/proxies", {**bad, "name": "bad3", "listen": "[::1:0"}),
            Call("GET", "/proxies"),
        ]
    )
    assert [answer.status for answer in answers] == [201, 500, 500, 500, 200]
    assert answers[2].payload == {"error": "listen tcp: address 99999: invalid port", "status": 500}


def test_populate_with_good_and_bad_entries_answers_alike(pair: Pair, echo: str) -> None:
    good = [proxy_body("a", echo), proxy_body("b", echo, enabled=False)]
    answers = pair.run(
        [
            Call("POST", "/populate", good),
            Call("POST", "/proxies/a/toxics", {"type": "latency"}),
            Call("POST", "/populate", [proxy_body("c", echo), {"upstream": echo}]),
            Call("POST", "/populate", [proxy_body("c", echo), {"name": "d"}]),
            Call("POST", "/populate", {"name": "c", "upstream": echo}),
            Call("POST", "/populate", []),
            Call("GET", "/proxies"),
        ]
    )
    assert [answer.status for answer in answers] == [201, 200, 400, 400, 400, 201, 200]
    assert answers[2].payload == {
        "error": "missing required field: name at proxy 2",
        "status": 400,
        "proxies": None,
    }
    assert set(answers[-1].payload) == {"a", "b"}  # type: ignore[arg-type]
    kept_listen = (
        f"127.0.0.1:{pair.real.listen_port('a')}",
        f"127.0.0.1:{pair.embedded.listen_port('a')}",
    )
    for side, listen in zip((pair.real, pair.embedded), kept_listen, strict=True):
        # the same listen and upstream again keeps the proxy and its toxic
        kept = side.send(Call("POST", "/populate", [proxy_body("a", echo, listen=listen)]))
        assert kept.status == 201
        assert kept.payload["proxies"][0]["toxics"] != []  # type: ignore[index]
    answers = pair.run(
        [
            Call("POST", "/populate", [proxy_body("a", "127.0.0.1:9")]),  # replaced: no toxics
            Call(
                "POST",
                "/populate",
                [proxy_body("e", echo), proxy_body("f", echo, listen="127.0.0.1:99999")],
            ),
            Call("GET", "/proxies"),
        ]
    )
    assert answers[0].payload["proxies"][0]["toxics"] == []  # type: ignore[index]
    assert answers[1].status == 500
    assert [proxy["name"] for proxy in answers[1].payload["proxies"]] == ["e"]  # type: ignore[index]


def test_reset_enables_every_proxy_and_drops_every_toxic_alike(pair: Pair, echo: str) -> None:
    answers = pair.run(
        [
            Call("POST", "/proxies", proxy_body("p", echo)),
            Call("POST", "/proxies/p/toxics", {"type": "timeout", "attributes": {"timeout": 0}}),
            Call("POST", "/proxies", proxy_body("off", echo, enabled=False)),
            Call("POST", "/proxies/p", {"enabled": False}),
            Call("POST", "/reset", raw=b"{ignored"),  # reset reads no body
            Call("GET", "/proxies"),
            Call("GET", "/reset"),
        ]
    )
    assert answers[4].status == 204
    assert all(proxy["enabled"] and proxy["toxics"] == [] for proxy in answers[5].payload.values())  # type: ignore[union-attr]
    assert answers[6].status == 405
    assert pair.reachable("p") == (True, True)
    assert pair.reachable("off") == (True, True)


# -------------------------------------------------------------------------- toxics


def test_toxics_added_updated_and_removed_answer_alike(pair: Pair, echo: str) -> None:
    toxics = "/proxies/p/toxics"
    answers = pair.run(
        [
            Call("POST", "/proxies", proxy_body("p", echo)),
            Call("POST", toxics, {"type": "latency", "attributes": {"latency": 10}}),
            Call("POST", toxics, {"type": "latency"}),  # latency_downstream again
            Call("POST", toxics, {"type": "latency", "stream": "UpStream"}),
            Call("POST", toxics, {"type": "bandwidth", "name": "slow", "toxicity": 0.1234567891}),
            Call("POST", toxics, {"Type": "slicer", "Name": "cased", "Attributes": {"Delay": 3}}),
            Call("POST", toxics, {"type": "limit_data", "name": "n", "attributes": None}),
            Call("POST", toxics, {"type": "latency", "name": "odd", "toxicity": 2}),
            Call("POST", toxics, {"type": "latency", "name": "side", "stream": "sideways"}),
            Call("POST", toxics, {"type": "nope", "name": "latency_downstream"}),
            Call("GET", toxics),  # upstream toxics first, then downstream, in order added
            Call("POST", f"{toxics}/latency_downstream", {"attributes": {"jitter": 3}}),
            Call("PATCH", f"{toxics}/slow", {"toxicity": 0.5, "attributes": {"rate": 9}}),
            Call("PATCH", f"{toxics}/slow", {"name": "x", "type": "latency", "stream": "upstream"}),
            Call("PATCH", f"{toxics}/slow", {"attributes": {"rate": None}}),
            Call("GET", f"{toxics}/slow"),
            Call("GET", f"{toxics}/missing"),
            Call("PATCH", f"{toxics}/missing", {"toxicity": 1}),
            Call("DELETE", f"{toxics}/slow"),
            Call("DELETE", f"{toxics}/slow"),
            Call("GET", "/proxies/missing/toxics"),
            Call("POST", "/proxies/missing/toxics", {"type": "latency"}),
            Call("GET", "/proxies/p"),
        ]
    )
    statuses = [answer.status for answer in answers]
    assert statuses[:11] == [201, 200, 409, 200, 200, 200, 200, 200, 400, 400, 200]
    assert statuses[11:] == [200, 200, 200, 200, 200, 404, 404, 204, 404, 404, 404, 200]
    assert answers[4].payload["toxicity"] == 0.12345679  # type: ignore[index]  # a float32
    assert answers[11].payload["attributes"] == {"latency": 10, "jitter": 3}  # type: ignore[index]
    assert answers[13].payload["type"] == "bandwidth"  # type: ignore[index]
    listed = [toxic["name"] for toxic in answers[10].payload]  # type: ignore[union-attr]
    assert listed[0] == "latency_UpStream"


def test_a_toxic_changes_traffic_alike_on_both(pair: Pair, echo: str) -> None:
    pair.run(
        [
            Call("POST", "/proxies", proxy_body("p", echo)),
            Call("POST", "/proxies/p/toxics", {"type": "timeout", "name": "t"}),
        ]
    )
    for side in (pair.real, pair.embedded):
        with socket.create_connection(("127.0.0.1", side.listen_port("p")), timeout=0.3) as sock:
            sock.sendall(b"x")
            with pytest.raises(TimeoutError):  # timeout 0 holds the data forever
                sock.recv(1)
    pair.run([Call("DELETE", "/proxies/p/toxics/t")])
    assert pair.reachable("p") == (True, True)


# ------------------------------------------------------------------- bad requests


@pytest.mark.parametrize(
    "raw",
    [b"", b"   ", b"{nope", b'{"name": "p",', b"[1]", b'"text"', b"null", b"NaN"],
    ids=["empty", "blank", "syntax", "truncated", "array", "string", "null", "nan"],
)
def test_bad_json_bodies_answer_alike(pair: Pair, echo: str, raw: bytes) -> None:
    answers = pair.run(
        [
            Call("POST", "/proxies", proxy_body("p", echo)),
            Call("POST", "/proxies/p/toxics", {"type": "latency", "name": "t"}),
            Call("POST", "/proxies", raw=raw),
            Call("POST", "/populate", raw=raw),
            Call("PATCH", "/proxies/p", raw=raw),
            Call("POST", "/proxies/p/toxics", raw=raw),
            Call("PATCH", "/proxies/p/toxics/t", raw=raw),
            # the proxy or toxic is looked up before the body is read
            Call("PATCH", "/proxies/missing", raw=raw),
            Call("POST", "/proxies/missing/toxics", raw=raw),
            Call("PATCH", "/proxies/p/toxics/missing", raw=raw),
            Call("GET", "/proxies"),
        ]
    )
    assert [answer.status for answer in answers[7:10]] == [404, 404, 404]
    assert all(answer.status in (200, 201, 400) for answer in answers[2:7])


def test_what_follows_the_json_value_is_not_read_alike(pair: Pair, echo: str) -> None:
    body = b'{"name": "p", "upstream": "%s", "listen": "127.0.0.1:0"} trailing'
    answers = pair.run(
        [
            Call("POST", "/proxies", raw=body % echo.encode()),
            Call("POST", "/proxies/p/toxics", raw=b'{"type": "latency"}\n{"type": "x"}'),
        ]
    )
    assert [answer.status for answer in answers] == [201, 200]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/proxies", {"name": 5, "upstream": "127.0.0.1:9"}),
        ("/proxies", {"name": "q", "upstream": "127.0.0.1:9", "enabled": "yes"}),
        ("/proxies/p", {"enabled": "x"}),
        ("/proxies/p/toxics", {"type": "latency", "toxicity": "x"}),
        ("/proxies/p/toxics", {"type": "latency", "attributes": "x"}),
        ("/proxies/p/toxics", {"type": "latency", "attributes": {"latency": "x"}}),
        ("/proxies/p/toxics", {"type": "latency", "attributes": {"latency": 1.5}}),
        ("/proxies/p/toxics", {"type": "latency", "attributes": {"latency": True}}),
        ("/proxies/p/toxics", {"type": "latency", "attributes": {"latency": 2**70}}),
        ("/proxies/p/toxics", {"type": "slicer", "attributes": {"delay": [1]}}),
        ("/proxies/p/toxics/t", {"attributes": {"latency": "x"}}),
        ("/proxies/p/toxics/t", {"attributes": 5}),
        ("/proxies/p/toxics/t", {"toxicity": "x"}),
        ("/populate", [{"name": 5}]),
        ("/populate", [{"name": "x", "upstream": "127.0.0.1:9", "enabled": "yes"}]),
    ],
)
def test_bad_attributes_and_field_types_answer_alike(
    pair: Pair, echo: str, path: str, body: object
) -> None:
    answers = pair.run(
        [
            Call("POST", "/proxies", proxy_body("p", echo)),
            Call("POST", "/proxies/p/toxics", {"type": "latency", "name": "t"}),
            Call("POST", path, body),
            Call("GET", "/proxies"),
        ]
    )
    assert answers[2].status == 400
    assert answers[2].payload["error"] == BAD_BODY + BAD_BODY_DETAIL  # type: ignore[index]


def test_unknown_paths_methods_and_browsers_answer_alike(pair: Pair) -> None:
    answers = pair.run(
        [
            Call("GET", "/no/such/path"),
            Call("PUT", "/proxies"),
            Call("DELETE", "/version"),
        ]
    )
    assert answers[0] == Answer(404, "text/plain; charset=utf-8", "404 page not found\n")
    assert [answer.status for answer in answers[1:]] == [405, 405]
    browser = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64)"}
    refused = [
        requests.get(side.server.url + "/proxies", headers=browser, timeout=IO_TIMEOUT_S)
        for side in (pair.real, pair.embedded)
    ]
    assert [(r.status_code, r.headers["Content-Type"], r.text) for r in refused] == [
        (403, "text/plain; charset=utf-8", "User agent not allowed\n")
    ] * 2


# ------------------------------------------------- the differences that remain


def test_version_differs_only_by_the_embedded_mark(pair: Pair) -> None:
    real, embedded = (side.send(Call("GET", "/version")) for side in (pair.real, pair.embedded))
    assert (real.status, real.content_type) == (embedded.status, embedded.content_type)
    assert real.content_type == "application/json;charset=utf-8"
    assert re.fullmatch(r"\d+\.\d+\.\d+", real.payload["version"])  # type: ignore[index]
    assert embedded.payload == {"version": "2.12.0-embedded"}


def test_unknown_toxic_type_message_adds_the_valid_types(pair: Pair, echo: str) -> None:
    calls = [
        Call("POST", "/proxies", proxy_body("p", echo)),
        Call("POST", "/proxies/p/toxics", {"type": "latencyy"}),
    ]
    real = [pair.real.send(call, exact_errors=True) for call in calls][-1]
    embedded = [pair.embedded.send(call, exact_errors=True) for call in calls][-1]
    assert real == Answer(
        400, "text/plain; charset=utf-8", {"error": "invalid toxic type", "status": 400}
    )
    assert (embedded.status, embedded.content_type) == (real.status, real.content_type)
    message = embedded.payload["error"]  # type: ignore[index]
    assert message.startswith("invalid toxic type: 'latencyy'; valid types: bandwidth, latency")


def test_unknown_attribute_is_ignored_by_toxiproxy_and_refused_by_the_embedded(
    pair: Pair, echo: str
) -> None:
    calls = [
        Call("POST", "/proxies", proxy_body("p", echo)),
        Call("POST", "/proxies/p/toxics", {"type": "latency", "attributes": {"latency_ms": 100}}),
    ]
    real = [pair.real.send(call, exact_errors=True) for call in calls][-1]
    embedded = [pair.embedded.send(call, exact_errors=True) for call in calls][-1]
    assert (real.status, real.payload["attributes"]) == (200, {"latency": 0, "jitter": 0})  # type: ignore[index]
    assert embedded.status == 400
    assert "unknown attribute 'latency_ms'" in embedded.payload["error"]  # type: ignore[index]


def test_a_failed_toxic_update_changes_nothing_on_the_embedded(pair: Pair, echo: str) -> None:
    calls = [
        Call("POST", "/proxies", proxy_body("p", echo)),
        Call("POST", "/proxies/p/toxics", {"type": "latency", "name": "t"}),
        Call("PATCH", "/proxies/p/toxics/t", {"attributes": {"latency": 5, "jitter": "x"}}),
        Call("GET", "/proxies/p/toxics/t"),
    ]
    real = [pair.real.send(call) for call in calls]
    embedded = [pair.embedded.send(call) for call in calls]
    assert [answer.status for answer in real] == [answer.status for answer in embedded]
    # Go decodes into the live toxic and keeps what it read before the bad field
    assert real[-1].payload["attributes"] == {"latency": 5, "jitter": 0}  # type: ignore[index]
    assert embedded[-1].payload["attributes"] == {"latency": 0, "jitter": 0}  # type: ignore[index]


def test_non_loopback_addresses_are_taken_by_toxiproxy_and_refused_by_the_embedded(
    pair: Pair,
) -> None:
    # never dialled or bound: the proxy is created disabled and deleted by the fixture
    body = {"name": "far", "upstream": "192.0.2.1:80", "listen": "127.0.0.1:0", "enabled": False}
    real, embedded = (
        side.send(Call("POST", "/proxies", body)) for side in (pair.real, pair.embedded)
    )
    assert real.status == 201
    assert embedded.status == 400
    assert "--allow-non-loopback" in embedded.payload["error"]  # type: ignore[index]
