"""Unknown-field messages name the fields that are valid at that place."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.chaos.experiment import Experiment, load_experiment
from harness.config import Profile
from harness.errors import ScenarioError
from harness.validation import allowed_fields

CHAOS = Path(__file__).resolve().parents[2] / "scenarios" / "chaos"


def test_fields_are_found_through_nested_models_and_lists() -> None:
    assert "samples" in allowed_fields(Experiment, ("steady_state", "samplez"))
    assert "attributes" in allowed_fields(Experiment, ("method", 0, "attributez"))
    assert "load_p95_ms" in allowed_fields(Profile, ("gates", "nope"))
    assert "method" in allowed_fields(Experiment, ("bogus",))


def test_a_path_that_cannot_be_followed_gives_no_list() -> None:
    assert allowed_fields(Experiment, ("steady_state", "path", "deeper")) == []
    assert allowed_fields(Experiment, ("no_such_table", "x")) == []


def test_an_experiment_with_unknown_fields_lists_the_valid_ones(tmp_path: Path) -> None:
    text = (CHAOS / "api-latency.toml").read_text()
    path = tmp_path / "typo.toml"
    path.write_text(text.replace("[steady_state]", "[steady_state]\nsamplez = 3", 1))
    with pytest.raises(ScenarioError) as excinfo:
        load_experiment(path)
    message = str(excinfo.value)
    assert "field steady_state.samplez: unknown field; valid fields: " in message
    assert "samples" in message.split("valid fields: ", 1)[1]
