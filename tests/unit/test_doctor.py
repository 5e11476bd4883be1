"""`doctor` says which JobDirector runtime will serve: MOONBASE_RUNTIME decides, not
whether a Docker engine happens to answer."""

from __future__ import annotations

import pytest

from harness.doctor import DockerEngine, describe_jobdirector_runtime

ENGINE = DockerEngine("20.10.24")
NO_ENGINE = DockerEngine(None, "no Docker engine answers at the default socket (DockerException)")


@pytest.mark.parametrize("env", [{}, {"MOONBASE_RUNTIME": ""}, {"MOONBASE_RUNTIME": "process"}])
def test_local_processes_serve_unless_docker_is_asked_for_even_with_an_engine(
    env: dict[str, str],
) -> None:
    kind, detail = describe_jobdirector_runtime(env, ENGINE)
    assert kind == "embedded"
    assert detail == (
        "local processes (MOONBASE_RUNTIME=docker would use the Docker engine found: 20.10.24)"
    )


def test_local_processes_serve_without_an_engine_and_say_why_docker_would_not() -> None:
    kind, detail = describe_jobdirector_runtime({}, NO_ENGINE)
    assert kind == "embedded"
    assert detail.startswith("local processes (")
    assert "no Docker engine answers" in detail


def test_docker_serves_when_asked_for_and_an_engine_answers() -> None:
    kind, detail = describe_jobdirector_runtime({"MOONBASE_RUNTIME": "docker"}, ENGINE)
    assert (kind, detail) == ("real", "Docker engine 20.10.24 (MOONBASE_RUNTIME=docker)")


def test_docker_asked_for_without_an_engine_is_a_problem() -> None:
    kind, detail = describe_jobdirector_runtime({"MOONBASE_RUNTIME": "docker"}, NO_ENGINE)
    assert kind == "missing"  # doctor exits 4
    assert "MOONBASE_RUNTIME=docker" in detail
    assert "no Docker engine answers" in detail
    assert "cannot run jobs" in detail


def test_an_unknown_runtime_is_a_problem_naming_the_value_and_the_valid_ones() -> None:
    kind, detail = describe_jobdirector_runtime({"MOONBASE_RUNTIME": "lxc"}, ENGINE)
    assert kind == "missing"
    assert "MOONBASE_RUNTIME='lxc'" in detail
    assert "process, docker" in detail
