"""`soak` checks the load it would send before it starts anything, as `load` does: a bad
load file, locustfile or request gate name is exit 2 with the same message (the file, the
field, the value and what is valid), no request reaches the target and no run is left."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import run_cli
from counting_server import Server, counting_server

pytestmark = pytest.mark.integration

BAD_REQUESTS = '[[requests]]\npath = "ping"\nmethod = "FETCH"\n'
MIXED_STAGES = (
    '[[requests]]\npath = "/ping"\n'
    "[[stages]]\nduration_s = 1.0\nrate_rps = 5.0\n"
    "[[stages]]\nduration_s = 1.0\nusers = 2\n"
)


@pytest.fixture
def server() -> Iterator[Server]:
    with counting_server() as running:
        yield running


def _refused(
    command: str, server: Server, tmp_path: Path, *settings: str, options: tuple[str, ...] = ()
) -> str:
    """Run ``command`` against ``server`` with ``settings``; its exit 2 message, one line."""
    reports = tmp_path / command
    soak = ("--duration", "10s") if command == "soak" else ()
    result = run_cli(
        command, *soak, *options, "--target-url", server.url,
        *(a for s in settings for a in ("--set", s)), "--report-dir", str(reports), timeout=60,
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert sum(server.hits.values()) == 0  # not one request: refused before the load
    assert not list(reports.glob("*/report.json"))  # and no run left behind
    return " ".join(result.stderr.split())


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            BAD_REQUESTS,
            "invalid requests[0].method 'FETCH': must be one of ['DELETE', 'GET', 'HEAD', "
            "'OPTIONS', 'PATCH', 'POST', 'PUT']",
        ),
        (
            MIXED_STAGES,
            "invalid stages[1] {'duration_s': 1.0, 'rate_rps': None, 'users': 2}: must give "
            "rate_rps like stages[0]",
        ),
    ],
    ids=["requests", "stages"],
)
def test_a_soak_refuses_a_bad_load_file_before_any_traffic_as_load_does(
    server: Server, tmp_path: Path, body: str, expected: str
) -> None:
    load_file = tmp_path / "bad.toml"
    load_file.write_text(body, encoding="utf-8")
    setting = f"load.load_file={load_file}"
    said = _refused("soak", server, tmp_path, setting)
    assert (
        f"load.load_file '{load_file}' from --set {setting}: load file {load_file} is invalid: "
        f"{load_file}: {expected}"
    ) in said
    assert said == _refused("load", server, tmp_path, setting)  # word for word


def test_a_soak_refuses_a_locustfile_without_users_before_any_traffic(
    server: Server, tmp_path: Path
) -> None:
    locustfile = tmp_path / "empty.py"
    locustfile.write_text("WAIT_S = 1\n", encoding="utf-8")
    said = _refused("soak", server, tmp_path, f"load.locustfile={locustfile}")
    assert (
        f"invalid locustfile '{locustfile}' from load.locustfile from --set "
        f"load.locustfile={locustfile}: no User class"
    ) in said


def test_a_soak_refuses_a_rate_for_a_locustfile_whose_users_pace_themselves(
    server: Server, tmp_path: Path
) -> None:
    locustfile = tmp_path / "users.py"
    locustfile.write_text("WAIT_S = 1\n", encoding="utf-8")
    setting = f"load.locustfile={locustfile}"
    said = _refused("soak", server, tmp_path, setting, options=("--rate", "5"))
    assert (
        f"--rate 5.0 with load.locustfile from --set {setting}: a locustfile's users pace "
        "themselves with their wait_time (closed model); drop --rate, or use a load file"
    ) in said
    assert said == _refused("load", server, tmp_path, setting, options=("--rate", "5"))


def test_a_soak_refuses_a_request_gate_naming_no_request_of_its_load_file(
    server: Server, tmp_path: Path
) -> None:
    load_file = tmp_path / "mix.toml"
    load_file.write_text('[[requests]]\npath = "/ping"\nname = "ping"\n', encoding="utf-8")
    said = _refused(
        "soak", server, tmp_path, f"load.load_file={load_file}",
        'gates.requests=[{name = "GET /ping", p95_ms = 50}]',
    )  # fmt: skip
    assert "invalid request name 'GET /ping' from --set gates.requests=" in said
    assert f"must be one of 'ping' (the requests of the load file {load_file})" in said


@pytest.mark.parametrize("command", ["load", "soak"])
def test_a_bad_load_path_in_the_config_is_refused_before_any_traffic(
    server: Server, tmp_path: Path, command: str
) -> None:
    """A [load] setting without a load file (here load.path) is checked as a load file's
    [[requests]] are: before the service starts, naming the setting's origin."""
    said = _refused(command, server, tmp_path, "load.path=ping")
    assert (
        "[load] from --set load.path=ping: invalid load.path 'ping': must be a path starting "
        "with '/' (the host comes from target_url)"
    ) in said


def test_a_calibration_names_the_bad_settings_origin_too(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    result = run_cli(
        "load", "--calibrate", "--set", "load.path=ping", "--report-dir", str(reports), timeout=60
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "[load] from --set load.path=ping: invalid load.path 'ping'" in " ".join(
        result.stderr.split()
    )
    assert not list(reports.glob("*/report.json"))
