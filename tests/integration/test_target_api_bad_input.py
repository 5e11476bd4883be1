"""The Moonbase v0 API under bad input, against a real server process on 127.0.0.1:
a document that declares what the server does, Allow on 405, and a 413 that a client
still sending its body actually receives (the lingering close of target_api/lingering.py).
"""

from __future__ import annotations

import http.client
import re
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import psutil
import pytest

from target_api.lingering import LINGER_IDLE_S, LINGER_MAX_BYTES
from target_api.testing import ApiProcess, poll_until

pytestmark = pytest.mark.integration

BIG_BYTES = 20 * 1024 * 1024  # twenty times the default MOONBASE_MAX_BODY_BYTES
METHODS = ("get", "put", "post", "delete", "patch")


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProcess]:
    with ApiProcess(tmp_path_factory.mktemp("api-bad-input")) as server:
        yield server


@pytest.fixture(scope="module")
def document(api: ApiProcess) -> dict[str, Any]:
    response = httpx.get(f"{api.url}/openapi.json", timeout=10)
    assert response.status_code == 200
    doc: dict[str, Any] = response.json()
    return doc


def _address(api: ApiProcess) -> tuple[str, int]:
    host, port = api.url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def _job_fields(document: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = document["components"]["schemas"]["JobIn"]["properties"]
    return fields


# -- the document --------------------------------------------------------------------


def test_every_path_parameter_of_every_templated_path_is_declared(
    document: dict[str, Any],
) -> None:
    templated = {p: item for p, item in document["paths"].items() if "{" in p}
    assert len(templated) >= 8
    for template, item in templated.items():
        wanted = set(re.findall(r"\{([^}]+)\}", template))
        for method in (m for m in METHODS if m in item):
            declared = {
                p["name"]: p
                for p in [*item.get("parameters", []), *item[method].get("parameters", [])]
                if p["in"] == "path"
            }
            assert set(declared) == wanted, (method, template)
            for param in declared.values():
                assert param["required"] is True, (template, param)
                assert param["schema"]["type"] == "string", (template, param)


def test_every_operation_documents_the_statuses_its_failures_get(
    document: dict[str, Any],
) -> None:
    for template, item in document["paths"].items():
        for method in (m for m in METHODS if m in item):
            op = item[method]
            codes = set(op["responses"])
            if "requestBody" in op:
                assert {"400", "413", "422"} <= codes, (method, template)
            if op.get("security"):
                assert {"401", "403"} <= codes, (method, template)
            if "{pod_id}" in template or "{job_id}" in template:
                assert "404" in codes, (method, template)


def test_the_document_states_what_the_server_refuses_with_422(
    document: dict[str, Any], api: ApiProcess
) -> None:
    """An empty program and a non-shell env name: refused, and the document says so
    (it used to allow both: schemathesis's "schema-valid request rejected")."""
    for body in ({"command": [""]}, {"command": ["true"], "env": {"1BAD": "x"}}):
        refused = httpx.post(f"{api.url}/api/v0/jobs", json=body, headers=api.headers)
        assert refused.status_code == 422, refused.text
    fields = _job_fields(document)
    (program,) = fields["command"]["prefixItems"]
    assert program["minLength"] == 1
    assert fields["command"]["items"].get("minLength", 0) == 0  # other arguments may be ""
    env = fields["env"]
    assert "patternProperties" not in env  # which let any other name in, with any value
    names = re.compile(env["propertyNames"]["pattern"])
    assert names.search("_A1")
    assert not names.search("1BAD")
    assert env["additionalProperties"]["type"] == "string"


@pytest.mark.parametrize(
    "body",
    [
        {"command": ["true", ""]},  # an empty argument is still an argument
        {"command": ["true"], "env": {"_A1": ""}},
        {"command": ["true"], "max_attempts": 2.0},  # JSON Schema's integer
        {"command": ["true"], "timeout_s": 5},  # an integer is a number
    ],
)
def test_a_schema_valid_job_is_accepted(api: ApiProcess, body: dict[str, Any]) -> None:
    accepted = httpx.post(f"{api.url}/api/v0/jobs", json=body, headers=api.headers)
    assert accepted.status_code == 202, accepted.text


def test_a_boolean_is_not_a_count(api: ApiProcess) -> None:
    """It used to be taken as 1 (pydantic's lax mode), which the document does not allow."""
    body = {"command": ["true"], "max_attempts": True}
    refused = httpx.post(f"{api.url}/api/v0/jobs", json=body, headers=api.headers)
    assert refused.status_code == 422, refused.text


# -- OPTIONS and Allow ---------------------------------------------------------------


def _allowed(response: httpx.Response) -> set[str]:
    return {m.strip() for m in response.headers["allow"].split(",")}


def test_options_allow_lists_every_method_of_the_path(
    document: dict[str, Any], api: ApiProcess
) -> None:
    pod_id, job_id = uuid.uuid4().hex, uuid.uuid4().hex
    with httpx.Client(base_url=api.url, timeout=10) as client:
        for template, item in document["paths"].items():
            path = template.format(pod_id=pod_id, job_id=job_id, container="main", name="out.bin")
            response = client.options(path)
            assert response.status_code == 405, (template, response.text)
            documented = {m.upper() for m in METHODS if m in item}
            assert documented <= _allowed(response), (template, response.headers["allow"])


def test_a_method_the_path_lacks_is_405_naming_all_the_others(api: ApiProcess) -> None:
    response = httpx.put(f"{api.url}/api/v0/pods/{uuid.uuid4().hex}", timeout=10)
    assert response.status_code == 405
    assert _allowed(response) == {"GET", "HEAD", "DELETE"}
    assert response.json()["error"] == "method_not_allowed"


# -- the oversized body ----------------------------------------------------------------


def _post_big(api: ApiProcess, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    """POST a 20 MB body with the stock client, which sends all of it before reading."""
    connection = http.client.HTTPConnection(*_address(api), timeout=30)
    connection.request(
        "POST",
        "/api/v0/jobs",
        body=b"x" * BIG_BYTES,
        headers={**api.headers, "Content-Type": "application/json", **(headers or {})},
    )
    return connection.getresponse()


@pytest.mark.parametrize("headers", [None, {"Connection": "close"}], ids=["keep-alive", "close"])
def test_a_20_mb_upload_gets_its_413_three_times_in_a_row(
    api: ApiProcess, headers: dict[str, str] | None
) -> None:
    for attempt in range(3):
        response = _post_big(api, headers)  # a reset would raise here
        assert response.status, attempt
        assert response.status == 413, attempt
        assert response.getheader("connection") == "close"
        assert b"payload_too_large" in response.read()
        response.close()


def test_a_chunked_20_mb_upload_gets_its_413(api: ApiProcess) -> None:
    """No Content-Length: the limit is found while reading, the rest is drained."""
    piece = b"x" * 65536
    connection = http.client.HTTPConnection(*_address(api), timeout=30)
    connection.request(
        "POST",
        "/api/v0/jobs",
        body=iter([piece] * (BIG_BYTES // len(piece))),
        headers={**api.headers, "Transfer-Encoding": "chunked"},
        encode_chunked=True,
    )
    response = connection.getresponse()
    assert response.status == 413
    connection.close()


def _read_response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data or not data.endswith(b"}"):
        chunk = sock.recv(65536)
        assert chunk, f"the connection ended before the response: {data!r}"
        data += chunk
    return data


def test_a_slow_sender_gets_its_413_and_then_a_clean_close(api: ApiProcess) -> None:
    """A client that trickles its body in small pieces, pausing between them (the pause
    is the slowness under test, not a wait for the server), reads the 413 when done."""
    size = 2 * 1024 * 1024
    head = (
        f"POST /api/v0/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {api.token}\r\n"
        f"Content-Length: {size}\r\n\r\n"
    )
    with socket.create_connection(_address(api), timeout=10) as sock:
        sock.sendall(head.encode())
        piece = b"x" * 16384
        for _ in range(size // len(piece)):
            sock.sendall(piece)  # BrokenPipe/reset here is the bug
            time.sleep(0.002)  # the client's own pace: ~128 pieces over ~0.3 s
        reply = _read_response(sock)
        assert reply.startswith(b"HTTP/1.1 413 ")
        assert b"connection: close" in reply.lower()
        assert sock.recv(65536) == b""  # then the server's end of stream, no reset


def _server_holds(api: ApiProcess, client_port: int) -> bool:
    """True while the API process still has the connection from ``client_port`` open."""
    assert api.process is not None
    return any(
        c.raddr and c.raddr.port == client_port
        for c in psutil.Process(api.process.pid).net_connections(kind="tcp")
    )


def test_lingering_ends_when_the_client_stops_sending(api: ApiProcess) -> None:
    """Bounded in time: a client that announces 20 MB, sends 1 MB and goes quiet keeps
    the connection until LINGER_IDLE_S have passed without data, then it is closed."""
    head = (
        f"POST /api/v0/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {api.token}\r\n"
        f"Content-Length: {BIG_BYTES}\r\n\r\n"
    )
    with socket.create_connection(_address(api), timeout=10) as sock:
        client_port = sock.getsockname()[1]
        sock.sendall(head.encode() + b"x" * (1024 * 1024))
        reply = _read_response(sock)
        sent_at = time.monotonic()
        assert reply.startswith(b"HTTP/1.1 413 ")
        assert sock.recv(65536) == b""  # the server's half-close: the response is whole
        assert _server_holds(api, client_port)  # still reading what the client sends
        waited = poll_until(
            "the lingering connection closed",
            lambda: not _server_holds(api, client_port),
            LINGER_IDLE_S + 10,
        )
        assert LINGER_IDLE_S - 1 < time.monotonic() - sent_at, waited


def test_lingering_ends_past_its_byte_bound(api: ApiProcess) -> None:
    """Bounded in bytes: a client that goes on sending past LINGER_MAX_BYTES is cut off."""
    announced = LINGER_MAX_BYTES * 4
    head = (
        f"POST /api/v0/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {api.token}\r\n"
        f"Content-Length: {announced}\r\n\r\n"
    )
    piece = b"x" * (1024 * 1024)
    sent = 0
    with socket.create_connection(_address(api), timeout=30) as sock:
        sock.sendall(head.encode())
        with pytest.raises(OSError, match="Broken pipe|Connection reset"):  # noqa: PT012
            while sent < announced:
                sock.sendall(piece)
                sent += len(piece)
    assert LINGER_MAX_BYTES <= sent < announced
