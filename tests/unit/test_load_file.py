"""Load files (scenarios/load/*.toml) and LoadSpec validation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import harness.load
from harness.errors import ConfigError, ScenarioError, UnsafeTargetError
from harness.load import LoadSpec, RequestSpec, load_load_spec

REPO = Path(__file__).resolve().parents[2]
TARGET = "http://127.0.0.1:8080"


def test_exported_members() -> None:
    assert sorted(harness.load.__all__) == [
        "LoadHandle",
        "LoadProgress",
        "LoadResult",
        "LoadSpec",
        "RequestSpec",
        "TimelinePoint",
        "load_load_spec",
        "run_load",
        "start_load",
    ]


def test_importing_harness_load_loads_neither_locust_nor_ssl() -> None:
    # The Locust child imports harness.load before locust; ssl loaded first breaks gevent.
    code = "import sys, harness.load; print('locust' in sys.modules, 'ssl' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.split() == ["False", "False"]


def test_sample_profile_loads() -> None:
    spec = load_load_spec(REPO / "scenarios" / "load" / "ping.toml", TARGET)
    assert spec.target_url == TARGET
    assert spec.model == "open"
    assert spec.requests[0] == RequestSpec(headers=(("Accept", "application/json"),))
    assert spec.max_requests is not None
    assert spec.allow_non_loopback is False


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_every_problem_is_reported_with_file_and_field(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
rate_rps = "fast"
users = 0
bogus = 1
[[requests]]
path = "/x"
weight = -2
colour = "red"
""",
    )
    with pytest.raises(ScenarioError) as info:
        load_load_spec(path, TARGET)
    lines = str(info.value).splitlines()[1:]
    expected_fields = ["rate_rps", "users", "bogus", "requests[0].weight", "requests[0].colour"]
    assert len(lines) == len(expected_fields)
    for field in expected_fields:
        assert any(str(path) in line and f" {field} " in line for line in lines), field
    assert "'fast'" in str(info.value)
    assert "valid fields are" in str(info.value)


def test_cross_field_problems_name_file_and_field(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
users = 3
processes = 2
[[requests]]
method = "FETCH"
path = "no-slash"
""",
    )
    with pytest.raises(ScenarioError) as info:
        load_load_spec(path, TARGET)
    message = str(info.value)
    for field in ("users 3", "requests[0].method 'FETCH'", "requests[0].path 'no-slash'"):
        assert f"{path}: invalid {field}" in message


def test_broken_toml_names_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "rate_rps = = 3\n")
    with pytest.raises(ScenarioError, match="bad.toml: not valid TOML"):
        load_load_spec(path, TARGET)


def test_missing_file_is_a_scenario_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read load file"):
        load_load_spec(tmp_path / "absent.toml", TARGET)


def test_allow_non_loopback_is_not_a_profile_field(tmp_path: Path) -> None:
    path = _write(tmp_path, "allow_non_loopback = true\n")
    with pytest.raises(ScenarioError, match="unknown field allow_non_loopback"):
        load_load_spec(path, "http://10.0.0.1:80")


@pytest.mark.parametrize(
    "url", ["http://10.0.0.1:80", "http://example.com", "http://[::1]:80", "http://128.0.0.1:80"]
)
def test_target_outside_loopback_is_refused(url: str) -> None:
    with pytest.raises(UnsafeTargetError, match="outside 127.0.0.0/8"):
        LoadSpec(url).validate()


@pytest.mark.parametrize("url", ["http://127.0.0.1:1", "http://127.9.8.7:80", "http://localhost:9"])
def test_loopback_targets_are_accepted(url: str) -> None:
    LoadSpec(url).validate()


def test_allow_flag_lets_a_non_loopback_target_through() -> None:
    LoadSpec("http://10.0.0.1:80", allow_non_loopback=True).validate()


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/", "127.0.0.1:80", "http://127.0.0.1:99999"])
def test_malformed_target_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match="target_url"):
        LoadSpec(url).validate(where="--target-url")


def test_spec_json_round_trips() -> None:
    spec = LoadSpec(
        TARGET,
        requests=(RequestSpec("POST", "/p", 2, (("A", "b"),), "{}", (201,)),),
        rate_rps=0.0,
        users=4,
        duration_s=1.5,
        max_requests=9,
        processes=2,
    )
    assert LoadSpec.from_json(spec.to_json()) == spec
