"""The files and paths a profile names: read from the config file's own directory, checked
before anything starts, and named in errors as the user wrote them."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import run_cli

pytestmark = [pytest.mark.integration]

CHECK = "def test_it_runs():\n    assert True\n"


def _project(root: Path, tests: str, extra: str = "") -> Path:
    (root / "checks").mkdir(parents=True)
    (root / "checks" / "test_own.py").write_text(CHECK)
    (root / "reliability.toml").write_text(
        f'default_profile = "own"\n[profiles.own.tests]\npaths = {tests}\nworkers = "1"\n{extra}'
    )
    return root


def test_a_config_files_paths_are_its_own_from_any_directory(tmp_path: Path) -> None:
    project = _project(tmp_path / "project", '["checks"]')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = run_cli(
        "run", "--config", str(project / "reliability.toml"), "--repeat", "1", "--verbose",
        "--report-dir", str(tmp_path / "reports"), cwd=elsewhere, timeout=120,
    )  # fmt: skip
    assert "test_own.py::test_it_runs" in result.stderr, result.stdout + result.stderr
    assert "no tests matched" not in result.stderr


@pytest.mark.parametrize("command", ["run", "gate"])
def test_a_missing_test_path_is_exit_2_before_anything_starts(tmp_path: Path, command: str) -> None:
    project = _project(tmp_path / "project", '["nope"]')
    reports = tmp_path / "reports"
    result = run_cli(command, "--report-dir", str(reports), cwd=project, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "tests.paths" in result.stderr
    assert "nope" in result.stderr
    assert "reliability.toml [profiles.own.tests] paths" in result.stderr
    assert not reports.exists() or not any(reports.iterdir())  # no run left behind


def test_a_missing_load_file_is_named_by_its_field_before_the_tests_run(tmp_path: Path) -> None:
    project = _project(
        tmp_path / "project", '["checks"]', '[profiles.own.load]\nload_file = "load/absent.toml"\n'
    )
    result = run_cli("gate", "--report-dir", str(tmp_path / "reports"), cwd=project, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "load.load_file" in result.stderr
    assert "reliability.toml [profiles.own.load] load_file" in result.stderr
    assert "--profile-file" not in result.stderr
    assert "--load-file" not in result.stderr
    assert "tests:" not in result.stderr  # said before the test phase, not after it


def test_a_service_of_ones_own_is_never_loaded_on_the_reference_apis_routes(
    tmp_path: Path,
) -> None:
    project = _project(tmp_path / "project", '["checks"]')
    result = run_cli(
        "gate", "--target-url", "http://127.0.0.1:9", "--report-dir", str(tmp_path / "r"),
        cwd=project, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert "load.path is '/api/v0/ping', the reference API's (embedded default)" in result.stderr
    assert "chaos.experiments is ['api-latency'], the reference API's" in result.stderr


@pytest.mark.parametrize("command", [["load"], ["soak", "--duration", "10s"]])
def test_load_and_soak_never_send_the_reference_apis_routes_to_a_service_of_ones_own(
    tmp_path: Path, command: list[str]
) -> None:
    project = _project(tmp_path / "project", '["checks"]')
    result = run_cli(
        *command, "--target-url", "http://127.0.0.1:9", "--report-dir", str(tmp_path / "r"),
        cwd=project, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert "load.path is '/api/v0/ping', the reference API's (embedded default)" in result.stderr
    assert not (tmp_path / "r").exists()  # refused before any run began


def test_a_load_file_without_requests_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.toml"
    empty.write_text("rate_rps = 50.0\nduration_s = 2.0\n")
    result = run_cli("load", "--load-file", str(empty), "--report-dir", str(tmp_path / "r"))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "requests" in result.stderr
