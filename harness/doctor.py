"""``reliable-test-runner doctor``: which real components are here, which defaults will serve."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from harness.toxiproxy.provision import describe_toxiproxy

__all__ = ["DockerEngine", "describe_jobdirector_runtime", "doctor", "inventory"]

RUNTIME_ENV = "MOONBASE_RUNTIME"
# what the reference API accepts (target_api/settings.py VALID_RUNTIMES); unset is "process"
RUNTIMES = ("process", "docker")


@dataclass(frozen=True, slots=True)
class DockerEngine:
    """What a Docker engine probe found: its version, or why none answers."""

    version: str | None
    problem: str = ""


def probe_docker_engine(timeout_s: float = 3.0) -> DockerEngine:
    """Ask the engine the docker SDK finds (DOCKER_HOST or the local socket) its version."""
    try:
        import docker
        import requests
        from docker.errors import DockerException
    except ImportError:
        return DockerEngine(None, "the docker SDK is not installed")
    try:
        client = docker.from_env(timeout=timeout_s)
        try:
            version = str(client.version().get("Version", "?"))
        finally:
            client.close()
    except (DockerException, requests.RequestException) as exc:
        where = os.environ.get("DOCKER_HOST") or "the default socket"
        return DockerEngine(None, f"no Docker engine answers at {where} ({type(exc).__name__})")
    return DockerEngine(version)


def describe_jobdirector_runtime(env: Mapping[str, str], engine: DockerEngine) -> tuple[str, str]:
    """(serving, detail) for the runtime the reference API's JobDirector will actually use:
    ``MOONBASE_RUNTIME`` decides it (unset is ``process``), not whether an engine answers."""
    runtime = env.get(RUNTIME_ENV, "") or "process"
    if runtime not in RUNTIMES:
        return (
            "missing",
            f"invalid {RUNTIME_ENV}={runtime!r} from the environment: must be one of "
            f"{', '.join(RUNTIMES)} (or unset for local processes); the reference API "
            "refuses to start",
        )
    if runtime == "docker":
        if engine.version is None:
            return (
                "missing",
                f"{RUNTIME_ENV}=docker, but {engine.problem}: the reference API cannot run "
                f"jobs; start a Docker engine, or unset {RUNTIME_ENV} for local processes",
            )
        return "real", f"Docker engine {engine.version} ({RUNTIME_ENV}=docker)"
    if engine.version is None:
        return "embedded", f"local processes (for {RUNTIME_ENV}=docker: {engine.problem})"
    return (
        "embedded",
        f"local processes ({RUNTIME_ENV}=docker would use the Docker engine found: "
        f"{engine.version})",
    )


def _postgres() -> tuple[str, str]:
    url = os.environ.get("MOONBASE_DATABASE_URL", "")
    test_url = os.environ.get("MOONBASE_TEST_POSTGRES_URL", "")
    if not url.startswith(("postgresql://", "postgres://")):
        if test_url:
            kind, detail = _postgres_at(test_url, "MOONBASE_TEST_POSTGRES_URL")
            return kind, f"{detail}; the reference API itself defaults to a SQLite file"
        return "embedded", "MOONBASE_DATABASE_URL unset: the reference API uses a SQLite file"
    return _postgres_at(url, "MOONBASE_DATABASE_URL")


def _postgres_at(url: str, variable: str) -> tuple[str, str]:
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=3) as conn:
            version = conn.execute("show server_version").fetchone()
    except Exception as exc:  # noqa: BLE001 - reported to the user, not swallowed
        return "missing", f"{variable} set but unreachable: {exc}"
    return "real", f"PostgreSQL {version[0] if version else '?'} at {variable}"


def inventory() -> list[tuple[str, str, str]]:
    kind, detail = describe_toxiproxy()
    rows = [("fault injection", "real" if kind != "embedded" else "embedded", detail)]
    rows.append(("load", "real", "Locust (in a child process)"))
    rows.append(("test isolation", "real", "pytest, pytest-xdist, pytest-timeout"))
    rows.append(
        ("JobDirector runtime", *describe_jobdirector_runtime(os.environ, probe_docker_engine()))
    )
    rows.append(("database", *_postgres()))
    allure = shutil.which("allure")
    rows.append(
        (
            "reports",
            "real",
            "JSON, JUnit, Markdown, HTML, Allure results"
            + (f"; allure CLI at {allure}" if allure else "; no allure CLI (results only)"),
        )
    )
    return rows


def doctor() -> int:
    console = Console()
    table = Table(title="components")
    for col in ("part", "serving", "detail"):
        table.add_column(col, overflow="fold")
    rows = inventory()
    for part, kind, detail in rows:
        colour = {"real": "green", "embedded": "yellow"}.get(kind, "red")
        table.add_row(part, f"[{colour}]{kind}[/]", detail)
    console.print(table)
    return 4 if any(kind == "missing" for _, kind, _ in rows) else 0
