from pathlib import Path

import pytest

from harness.config import load_config, parse_override
from harness.errors import ConfigError


def test_embedded_smoke_profile_has_the_three_required_gates() -> None:
    config = load_config(profile="smoke", environ={}, cwd=Path("/nonexistent"))
    gates = config.profile.gates
    assert config.source == "embedded defaults"
    assert gates.test_success is not None
    assert gates.load_error_rate is not None
    assert gates.load_p95_ms is not None


def test_set_overrides_a_gate_threshold() -> None:
    config = load_config(overrides=["gates.load_p95_ms=0.001"], environ={}, cwd=Path("/x"))
    assert config.profile.gates.load_p95_ms == pytest.approx(0.001)


def test_cli_beats_environment_beats_file(tmp_path: Path) -> None:
    (tmp_path / "reliability.toml").write_text("[profiles.smoke.gates]\nload_p95_ms = 40\n")
    env = {"RELIABILITY__GATES__LOAD_P95_MS": "30"}
    assert load_config(environ={}, cwd=tmp_path).profile.gates.load_p95_ms == 40
    assert load_config(environ=env, cwd=tmp_path).profile.gates.load_p95_ms == 30
    top = load_config(environ=env, cwd=tmp_path, overrides=["gates.load_p95_ms=20"])
    assert top.profile.gates.load_p95_ms == 20


def test_pyproject_tool_table_is_read(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.reliability.profiles.smoke.tests]\nrepeat = 7\n"
    )
    config = load_config(environ={}, cwd=tmp_path)
    assert config.profile.tests.repeat == 7
    assert config.source.endswith("pyproject.toml")


def test_bad_value_in_file_names_file_field_and_value(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[profiles.smoke.gates]\nload_p95_ms = "fast"\n')
    with pytest.raises(ConfigError) as info:
        load_config(config_file=str(path), environ={})
    message = str(info.value)
    assert str(path) in message
    assert "gates.load_p95_ms" in message
    assert "'fast'" in message


def test_unknown_gate_lists_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match="valid fields: .*load_p95_ms"):
        load_config(overrides=["gates.load_p59_ms=3"], environ={}, cwd=Path("/x"))


def test_negative_timeout_is_rejected_with_its_source() -> None:
    with pytest.raises(ConfigError, match=r"-3 .*--set tests.timeout_s=-3.*greater than 0"):
        load_config(overrides=["tests.timeout_s=-3"], environ={}, cwd=Path("/x"))


def test_an_infinite_or_nan_number_is_refused_naming_the_field(tmp_path: Path) -> None:
    path = tmp_path / "reliability.toml"
    path.write_text(
        "[profiles.smoke.tests]\ntimeout_s = inf\n[profiles.smoke.fuzz]\nmax_time_s = nan\n"
    )
    with pytest.raises(ConfigError, match="finite number") as info:
        load_config(config_file=str(path), environ={})
    assert "tests.timeout_s" in str(info.value)
    assert str(path) in str(info.value)


def test_unknown_profile_lists_profiles() -> None:
    with pytest.raises(ConfigError, match="valid profiles: ci, nines, release, smoke"):
        load_config(profile="nightly", environ={}, cwd=Path("/x"))


def test_invalid_toml_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "reliability.toml"
    path.write_text("[profiles.smoke\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(environ={}, cwd=tmp_path)


@pytest.mark.parametrize("item", ["novalue", "=3", "a..b=1"])
def test_malformed_override_is_rejected(item: str) -> None:
    with pytest.raises(ConfigError, match="dotted.key=value"):
        parse_override(item)


def test_a_bad_item_of_a_list_names_the_set_that_wrote_it() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(overrides=['tests.paths=["a", 1]'], environ={}, cwd=Path("/x"))
    assert "tests.paths.1 from --set tests.paths=" in str(caught.value)
    assert "embedded defaults" not in str(caught.value)


def test_relative_paths_in_a_config_file_are_read_from_the_files_own_directory(
    tmp_path: Path,
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "reliability.toml").write_text(
        '[profiles.smoke.tests]\npaths = ["scenarios", "/abs/other"]\n'
        '[profiles.smoke.chaos]\ndirectory = "faults"\n'
        '[profiles.smoke.load]\nload_file = "load/mine.toml"\n'
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    config = load_config(config_file=str(project / "reliability.toml"), environ={}, cwd=elsewhere)
    assert config.profile.tests.paths == [str(project / "scenarios"), "/abs/other"]
    assert config.profile.chaos.directory == str(project / "faults")
    assert config.profile.load.load_file == str(project / "load" / "mine.toml")
    assert config.explicit("tests.paths")
    assert "reliability.toml [profiles.smoke.tests] paths" in config.origin("tests.paths")
    # what the command line sets stays relative to where the command runs
    typed = load_config(
        config_file=str(project / "reliability.toml"),
        overrides=['tests.paths=["here"]'],
        environ={},
        cwd=elsewhere,
    )
    assert typed.profile.tests.paths == ["here"]
    assert typed.origin("tests.paths") == '--set tests.paths=["here"]'


def test_a_value_left_at_its_default_says_so() -> None:
    config = load_config(environ={}, cwd=Path("/x"))
    assert not config.explicit("tests.paths")
    assert config.origin("tests.paths") == "embedded defaults"


def test_a_number_or_off_field_says_both_in_one_line() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(overrides=["gates.load_p95_ms=-1"], environ={}, cwd=Path("/x"))
    (line,) = str(caught.value).splitlines()
    assert "for gates.load_p95_ms from --set" in line
    assert "greater than 0 or 'off'" in line
    assert "constrained-float" not in line


def test_an_environment_variable_is_named_as_the_source_of_what_it_set() -> None:
    environ = {"RELIABILITY__PROFILES__MINE__LOAD__DURATION_S": "2"}
    with pytest.raises(ConfigError, match="from environment variable RELIABILITY__PROFILES"):
        load_config(environ=environ, cwd=Path("/x"))


def test_the_load_commands_gates_are_the_loads_the_targets_and_the_regression() -> None:
    config = load_config(
        overrides=[
            "gates.test_success=0.9", "gates.load_p95_ms=5", "gates.target_rss_mb_max=100",
            "gates.regression=0", 'gates.requests=[{name = "GET /a", p95_ms = 9}]',
        ],
        environ={}, cwd=Path("/x"),
    )  # fmt: skip
    gates = config.profile.gates.of_load()
    assert gates.test_success is None
    assert gates.chaos_recovery_s is None
    assert (gates.load_p95_ms, gates.target_rss_mb_max, gates.regression) == (5, 100, 0)
    assert [r.name for r in gates.requests] == ["GET /a"]
