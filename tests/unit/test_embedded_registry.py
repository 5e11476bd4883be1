"""The toxic registry, attribute parsing and addresses of the embedded Toxiproxy."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

import harness.toxiproxy.embedded
from harness.errors import UnsafeTargetError
from harness.toxiproxy.embedded.addresses import (
    check_loopback,
    format_host_port,
    is_loopback_host,
    split_host_port,
)
from harness.toxiproxy.embedded.toxics import (
    BaseStage,
    InvalidAttribute,
    ToxicAttributes,
    attributes_json,
    get_kind,
    kind_names,
    parse_attributes,
    register,
)


def test_embedded_package_exports_only_the_server() -> None:
    assert harness.toxiproxy.embedded.__all__ == ["EmbeddedToxiproxy"]


def test_every_toxiproxy_kind_is_registered() -> None:
    assert kind_names() == (
        "bandwidth",
        "latency",
        "limit_data",
        "noop",
        "reset_peer",
        "slicer",
        "slow_close",
        "timeout",
    )


def test_defaults_render_in_toxiproxys_order() -> None:
    slicer = get_kind("slicer")
    assert slicer is not None
    assert attributes_json(slicer.defaults()) == {
        "average_size": 0,
        "size_variation": 0,
        "delay": 0,
    }


def test_attributes_merge_onto_the_current_ones() -> None:
    latency = get_kind("latency")
    assert latency is not None
    first = parse_attributes(latency, {"latency": 100})
    merged = parse_attributes(latency, {"jitter": 5}, first)
    assert attributes_json(merged) == {"latency": 100, "jitter": 5}
    assert parse_attributes(latency, None, merged) is merged


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ({"latency_ms": 1}, "unknown attribute 'latency_ms' for toxic type 'latency'"),
        ({"latency_ms": 1}, "valid attributes: latency, jitter"),
        ({"latency": "100"}, "must be an integer, got '100'"),
        ({"latency": 1.5}, "must be an integer, got 1.5"),
        ({"latency": True}, "must be an integer, got True"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_bad_attributes_say_what_is_wrong(raw: object, fragment: str) -> None:
    latency = get_kind("latency")
    assert latency is not None
    with pytest.raises(InvalidAttribute, match=fragment.replace("(", r"\(")):
        parse_attributes(latency, raw)


def test_register_refuses_a_malformed_kind() -> None:
    @dataclass(frozen=True, slots=True)
    class FloatAttributes(ToxicAttributes):
        rate: float = 0.0

    with pytest.raises(TypeError, match="must be 'int'"):
        register("float_toxic", FloatAttributes, BaseStage)

    class SyncStage(BaseStage[ToxicAttributes]):
        def pipe(self, chunk: object, emit: object, link: object) -> None:  # type: ignore[override]
            return None

    with pytest.raises(TypeError, match="must be async"):
        register("sync_toxic", ToxicAttributes, SyncStage)
    with pytest.raises(TypeError, match="already registered"):
        register("latency", ToxicAttributes, BaseStage)
    assert get_kind("float_toxic") is None
    assert get_kind("sync_toxic") is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1:80", ("127.0.0.1", 80)),
        ("[::1]:0", ("::1", 0)),
        (":8474", ("", 8474)),
        ("localhost:5432", ("localhost", 5432)),
    ],
)
def test_split_host_port(value: str, expected: tuple[str, int]) -> None:
    assert split_host_port(value) == expected
    assert format_host_port(*expected) == value


@pytest.mark.parametrize("value", ["nocolon", "host:port", "::1:80", "127.0.0.1:70000"])
def test_split_host_port_rejects_malformed(value: str) -> None:
    with pytest.raises(ValueError, match="address"):
        split_host_port(value)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.9.9.9", True),
        ("::1", True),
        ("LocalHost", True),
        ("10.0.0.1", False),
        ("0.0.0.0", False),
        ("example.com", False),
        ("", False),
    ],
)
def test_is_loopback_host(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_check_loopback_names_the_field_the_value_and_the_escape() -> None:
    with pytest.raises(UnsafeTargetError) as raised:
        check_loopback("10.1.2.3:80", "upstream of proxy 'db'")
    message = str(raised.value)
    assert "upstream of proxy 'db' is '10.1.2.3:80'" in message
    assert "--allow-non-loopback" in message
    check_loopback(":0", "listen address", allow_empty_host=True)
