"""The embedded Toxiproxy's HTTP API in-process (httpx's ASGI transport, no sockets).

Proxies are created disabled so nothing listens; the conformance suite covers live ones.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from harness.toxiproxy.embedded.api import VERSION, create_app
from harness.toxiproxy.embedded.collection import ProxyCollection

UPSTREAM = "127.0.0.1:9"


class Http:
    """A synchronous client for the app; each call runs on a fresh event loop."""

    def __init__(self) -> None:
        self.app = create_app(ProxyCollection(roll=lambda: 0.0))

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async def call() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://toxiproxy") as c:
                return await c.request(method, path, **kwargs)

        return asyncio.run(call())

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)


@pytest.fixture
def http() -> Http:
    return Http()


def create(http: Http, name: str = "p", **extra: object) -> dict[str, object]:
    body = {"name": name, "upstream": UPSTREAM, "enabled": False, **extra}
    response = http.post("/proxies", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, object] = response.json()
    return result


def test_version(http: Http) -> None:
    assert http.get("/version").json() == {"version": VERSION}


def test_disabled_proxy_keeps_its_listen_string(http: Http) -> None:
    assert create(http, listen="127.0.0.1:0") == {
        "name": "p",
        "listen": "127.0.0.1:0",
        "upstream": UPSTREAM,
        "enabled": False,
        "Logger": {},
        "toxics": [],
    }


def test_errors_are_json_in_text_plain_like_go(http: Http) -> None:
    response = http.get("/proxies/nope")
    assert response.status_code == 404
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == '{"error":"proxy not found","status":404}\n'


def test_unknown_path_and_wrong_method(http: Http) -> None:
    assert (http.get("/nope").status_code, http.get("/nope").text) == (404, "404 page not found\n")
    wrong = http.put("/proxies")
    assert (wrong.status_code, wrong.text) == (405, "")


def test_browsers_are_refused(http: Http) -> None:
    response = http.get("/proxies", headers={"User-Agent": "Mozilla/5.0"})
    assert response.status_code == 403


def test_bad_json_is_a_400(http: Http) -> None:
    response = http.post("/proxies", content=b"{nope")
    assert response.status_code == 400
    assert response.json()["error"].startswith("bad request body: ")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"upstream": UPSTREAM}, "missing required field: name"),
        ({"name": "p"}, "missing required field: upstream"),
        ({"name": 3, "upstream": UPSTREAM}, "bad request body: field 'name' must be a JSON string"),
        (
            {"name": "p", "upstream": UPSTREAM, "enabled": "yes"},
            "bad request body: field 'enabled' must be a JSON boolean",
        ),
    ],
)
def test_proxy_validation(http: Http, body: dict[str, object], message: str) -> None:
    response = http.post("/proxies", json=body)
    assert response.status_code == 400
    assert response.json()["error"].startswith(message)


def test_non_loopback_listen_is_refused(http: Http) -> None:
    body = {"name": "p", "upstream": UPSTREAM, "listen": "0.0.0.0:0", "enabled": False}
    response = http.post("/proxies", json=body)
    assert response.status_code == 400
    assert "listen address of proxy 'p' is '0.0.0.0:0'" in response.json()["error"]


def test_toxic_lifecycle_on_a_disabled_proxy(http: Http) -> None:
    create(http)
    created = http.post("/proxies/p/toxics", json={"type": "latency", "stream": "UpStream"})
    # the stream is matched without case and echoed as given, as Toxiproxy does
    assert created.json()["name"] == "latency_UpStream"
    assert created.json()["stream"] == "UpStream"
    down = http.post("/proxies/p/toxics", json={"type": "limit_data", "toxicity": 0.25})
    assert down.json()["toxicity"] == 0.25
    names = [toxic["name"] for toxic in http.get("/proxies/p/toxics").json()]
    assert names == ["latency_UpStream", "limit_data_downstream"]
    updated = http.patch(
        "/proxies/p/toxics/limit_data_downstream", json={"attributes": {"bytes": 9}}
    )
    assert updated.json()["attributes"] == {"bytes": 9}
    assert updated.json()["toxicity"] == 0.25
    bad = http.post("/proxies/p/toxics/limit_data_downstream", json={"attributes": {"byte": 1}})
    assert bad.status_code == 400
    assert http.delete("/proxies/p/toxics/latency_UpStream").status_code == 204
    assert http.delete("/proxies/p/toxics/latency_UpStream").status_code == 404


def test_populate_reports_an_invalid_entry_and_creates_nothing(http: Http) -> None:
    response = http.post("/populate", json=[{"name": "a", "upstream": UPSTREAM}, {"name": "b"}])
    assert response.status_code == 400
    assert response.json() == {
        "error": "missing required field: upstream at proxy 2",
        "status": 400,
        "proxies": None,
    }
    assert http.get("/proxies").json() == {}


def test_populate_of_nothing_is_null_proxies(http: Http) -> None:
    response = http.post("/populate", json=[])
    assert (response.status_code, response.json()) == (201, {"proxies": None})


def test_populate_needs_an_array(http: Http) -> None:
    response = http.post("/populate", json={"name": "a"})
    assert response.status_code == 400
    assert "JSON array" in response.json()["error"]


def test_delete_proxy(http: Http) -> None:
    create(http)
    assert http.delete("/proxies/p").status_code == 204
    assert http.get("/proxies").json() == {}
