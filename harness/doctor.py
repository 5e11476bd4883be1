"""``reliable-test-runner doctor``: which real components are here, which defaults will serve."""

from __future__ import annotations

import os
import shutil

from rich.console import Console
from rich.table import Table

from harness.faults.provision import describe_toxiproxy

__all__ = ["doctor", "inventory"]


def _docker() -> tuple[str, str]:
    try:
        import docker
        from docker.errors import DockerException
    except ImportError:
        return "missing", "docker SDK not installed; JobDirector uses local processes"
    try:
        client = docker.from_env(timeout=3)
        version = client.version().get("Version", "?")
    except DockerException as exc:
        return (
            "embedded",
            f"no Docker engine answers ({type(exc).__name__}); JobDirector uses local processes",
        )
    return "real", f"Docker engine {version}"


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
    rows.append(("JobDirector runtime", *_docker()))
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
