"""`reliable-test-runner doctor` names the JobDirector runtime that will actually serve,
against the real Docker engine of this machine, with MOONBASE_RUNTIME unset and set."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from cli_helpers import run_cli

from harness.doctor import probe_docker_engine
from harness.plugin import require_component

pytestmark = [pytest.mark.integration]


def _jobdirector_row(runtime: str | None, **extra_env: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MOONBASE_RUNTIME"}
    if runtime is not None:
        env["MOONBASE_RUNTIME"] = runtime
    env.update(extra_env)
    env["COLUMNS"] = "400"  # one table row a line
    result = run_cli("doctor", env=env, timeout=120)
    rows = [line for line in result.stdout.splitlines() if "JobDirector runtime" in line]
    assert len(rows) == 1, result.stdout + result.stderr
    cells = [cell.strip() for cell in rows[0].strip("│ ").split("│")]
    return result.returncode, cells[1], cells[2]


@pytest.fixture(scope="module")
def engine_version() -> str:
    engine = probe_docker_engine()
    require_component("a Docker engine", engine.version is not None, f" ({engine.problem})")
    assert engine.version is not None
    return engine.version


@pytest.mark.parametrize("runtime", [None, "process"])
def test_local_processes_serve_without_moonbase_runtime_docker(
    runtime: str | None, engine_version: str
) -> None:
    _, kind, detail = _jobdirector_row(runtime)
    assert kind == "embedded"
    assert detail == (
        "local processes (MOONBASE_RUNTIME=docker would use the Docker engine found: "
        f"{engine_version})"
    )


def test_the_docker_engine_serves_with_moonbase_runtime_docker(engine_version: str) -> None:
    _, kind, detail = _jobdirector_row("docker")
    assert kind == "real"
    assert detail == f"Docker engine {engine_version} (MOONBASE_RUNTIME=docker)"
    assert re.match(r"\d+\.\d+", engine_version)


def test_moonbase_runtime_docker_without_an_engine_is_a_problem(tmp_path: Path) -> None:
    nowhere = f"unix://{tmp_path / 'no-engine.sock'}"  # a socket nobody listens on
    code, kind, detail = _jobdirector_row("docker", DOCKER_HOST=nowhere)
    assert (code, kind) == (4, "missing")
    assert f"MOONBASE_RUNTIME=docker, but no Docker engine answers at {nowhere}" in detail
