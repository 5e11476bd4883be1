"""Fault kinds: a registry by name, checked when a kind registers; each kind describes its
own faults (the report's "faults" list) and says what it acts on."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from harness.faults import base
from harness.faults.base import FaultContext, Prepared, register, registered
from harness.faults.kinds import fault_kind, kind_name
from harness.faults.spec import FaultSpec, PodSpec


def test_the_builtin_kinds_are_registered() -> None:
    assert {"toxic", "database_toxic", "kill", "pause", "kill_container"} <= set(registered())


@pytest.mark.parametrize(
    ("fault", "name", "supervised", "postgres"),
    [
        (FaultSpec(type="latency", attributes={"latency": 100}), "toxic", False, False),
        (FaultSpec(type="latency", link="database"), "database_toxic", False, True),
        (FaultSpec(kind="process", type="kill"), "kill", True, False),
        (FaultSpec(kind="process", type="pause"), "pause", True, False),
        (FaultSpec(kind="process", type="kill_container"), "kill_container", True, False),
    ],
)
def test_each_method_is_one_kind_that_says_what_it_acts_on(
    fault: FaultSpec, name: str, supervised: bool, postgres: bool
) -> None:
    kind = fault_kind([fault])
    assert kind_name([fault]) == kind.name == name
    assert kind.needs_supervised_api is supervised
    assert kind.needs_postgres is postgres


def test_kinds_describe_their_own_faults() -> None:
    kill = FaultSpec(kind="process", type="kill", signal="SIGTERM")
    assert fault_kind([kill]).describe(kill, None) == {
        "kind": "process",
        "type": "kill",
        "link": "api",
        "signal": "SIGTERM",
    }
    container = FaultSpec(kind="process", type="kill_container")
    described = fault_kind([container]).describe(container, PodSpec(restart_policy="never"))
    assert described["restart_policy"] == "never"
    assert described["command"] == ["sleep", "600"]
    toxic = FaultSpec(type="latency", attributes={"latency": 100}, duration_s=2.0)
    assert fault_kind([toxic]).describe(toxic, None)["attributes"] == {"latency": 100}


class _Broken:
    name = "broken-test-kind"
    needs_supervised_api = False
    needs_postgres = "no"  # not a bool

    def describe(self, fault: FaultSpec, pod: PodSpec | None) -> dict[str, object]:
        return {}

    @contextlib.contextmanager
    def prepare(self, ctx: FaultContext) -> Iterator[Prepared]:
        raise AssertionError("never prepared")
        yield


class _NoContext(_Broken):
    name = "no-context-test-kind"
    needs_postgres = False

    def prepare(self) -> None:  # type: ignore[override]
        raise AssertionError("never prepared")


def test_a_kind_with_a_malformed_flag_is_refused_when_it_registers() -> None:
    with pytest.raises(TypeError, match="needs_postgres must be a bool"):
        register(_Broken())  # type: ignore[arg-type]
    assert "broken-test-kind" not in registered()


def test_a_kind_whose_prepare_takes_no_context_is_refused_when_it_registers() -> None:
    with pytest.raises(TypeError, match=r"prepare\(\) must take \(ctx\)"):
        register(_NoContext())  # type: ignore[arg-type]
    assert "no-context-test-kind" not in registered()


def test_a_name_cannot_be_registered_twice() -> None:
    with pytest.raises(TypeError, match="registered already"):
        register(registered()["kill"])
    assert base.registered()["kill"] is registered()["kill"]
