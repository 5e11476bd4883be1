"""Load shapes as data: stages in load files and the config, and their schedule maths."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.config import load_config
from harness.errors import ConfigError, ScenarioError
from harness.load import load_load_spec
from harness.load.pacing import (
    intended_offsets_s,
    schedule_count,
    schedule_offset_s,
    schedule_offsets_s,
    value_at,
)
from harness.load.spec import LoadSpec, Stage, with_stages

REPO = Path(__file__).resolve().parents[2]
TARGET = "http://127.0.0.1:8080"


def test_a_linear_ramp_holds_the_area_under_its_rate() -> None:
    # 0 -> 100 req/s over 2 s: 100 requests, the i-th due at sqrt(i / 25) s
    ramp = ((2.0, 0.0, 100.0),)
    assert schedule_count(ramp) == 100
    assert schedule_offset_s(ramp, 0) == 0.0
    assert schedule_offset_s(ramp, 25) == pytest.approx(1.0)
    assert schedule_offset_s(ramp, 99) == pytest.approx((99 / 25) ** 0.5)


def test_a_step_of_zero_seconds_jumps_at_once() -> None:
    steps = ((0.0, 0.0, 10.0), (1.0, 10.0, 10.0), (0.0, 10.0, 20.0), (1.0, 20.0, 20.0))
    offsets = [schedule_offset_s(steps, i) for i in range(schedule_count(steps))]
    assert len(offsets) == 30
    assert offsets[:10] == pytest.approx([i / 10 for i in range(10)])
    assert offsets[10:] == pytest.approx([1 + i / 20 for i in range(20)])


def test_one_constant_stage_is_the_plain_schedule() -> None:
    spec = LoadSpec(TARGET, rate_rps=300.0, users=4, duration_s=2.0)
    plain = list(intended_offsets_s(3, 4, 300.0, 2.0))
    assert list(schedule_offsets_s(spec.segments(), 3, 4)) == pytest.approx(plain)


@given(
    st.lists(
        st.tuples(st.floats(0, 5), st.floats(0, 500, allow_subnormal=False)),
        min_size=1,
        max_size=5,
    )
)
def test_offsets_never_go_back_and_stay_inside_the_shape(raw: list[tuple[float, float]]) -> None:
    spec = with_stages(LoadSpec(TARGET), tuple(Stage(duration_s=d, rate_rps=r) for d, r in raw))
    segments = spec.segments()
    offsets = [schedule_offset_s(segments, i) for i in range(min(schedule_count(segments), 500))]
    assert offsets == sorted(offsets)
    assert all(0 <= t <= spec.duration_s + 1e-9 for t in offsets)


def test_closed_stages_say_how_many_users_are_active_when() -> None:
    spec = with_stages(LoadSpec(TARGET, rate_rps=0), (Stage(2.0, users=4), Stage(2.0, users=0)))
    assert spec.model == "closed"
    assert spec.users == 4
    assert spec.duration_s == 4.0
    shape = spec.segments()
    assert value_at(shape, 1.0) == pytest.approx(2.0)
    assert value_at(shape, 2.0) == pytest.approx(4.0)
    assert value_at(shape, 5.0) == 0.0


@pytest.mark.parametrize("name", ["ramp", "step", "spike", "soak"])
def test_the_shipped_shapes_load(name: str) -> None:
    spec = load_load_spec(REPO / "scenarios" / "load" / f"{name}.toml", TARGET)
    assert spec.model == "open"
    assert spec.stages
    assert spec.duration_s == sum(s.duration_s for s in spec.stages)
    assert spec.problems() == []


def _write(tmp_path: Path, stages: str) -> Path:
    path = tmp_path / "shape.toml"
    path.write_text(f'{stages}\n[[requests]]\npath = "/ping"\n', encoding="utf-8")
    return path


def test_a_stage_with_both_targets_names_the_file_field_and_value(tmp_path: Path) -> None:
    path = _write(tmp_path, "[[stages]]\nduration_s = 1\nrate_rps = 5\nusers = 2\n")
    with pytest.raises(ScenarioError) as err:
        load_load_spec(path, TARGET)
    assert f"{path}: invalid stages[0]" in str(err.value)
    assert "'rate_rps': 5.0, 'users': 2" in str(err.value)
    assert "exactly one of rate_rps (open model) or users (closed model)" in str(err.value)


def test_mixed_models_and_a_negative_duration_are_refused(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "[[stages]]\nduration_s = 1\nrate_rps = 5\n[[stages]]\nduration_s = 1\nusers = 2\n",
    )
    with pytest.raises(ScenarioError, match=r"stages\[1\].*must give rate_rps like stages\[0\]"):
        load_load_spec(path, TARGET)
    path = _write(tmp_path, "[[stages]]\nduration_s = -1\nrate_rps = 5\n")
    with pytest.raises(ScenarioError, match=r"stages\[0\]\.duration_s = -1"):
        load_load_spec(path, TARGET)
    path = _write(tmp_path, "[[stages]]\nduration_s = 1\nrate_rps = 5\nramp = true\n")
    with pytest.raises(ScenarioError, match=r"unknown field stages\[0\]\.ramp.*duration_s"):
        load_load_spec(path, TARGET)


def test_config_stages_are_validated_with_the_field_and_where(tmp_path: Path) -> None:
    config = load_config(
        overrides=["load.stages=[{duration_s=1, rate_rps=10}, {duration_s=2, rate_rps=30}]"],
        environ={},
        cwd=tmp_path,
    )
    assert [s.rate_rps for s in config.profile.load.stages] == [10, 30]
    with pytest.raises(ConfigError, match=r"load\.stages\.0 from --set.*exactly one"):
        load_config(overrides=["load.stages=[{duration_s=1}]"], environ={}, cwd=tmp_path)
    with pytest.raises(ConfigError, match=r"load\.stages from --set.*open \(rates\) or closed"):
        load_config(
            overrides=["load.stages=[{duration_s=1, rate_rps=1}, {duration_s=1, users=1}]"],
            environ={},
            cwd=tmp_path,
        )
