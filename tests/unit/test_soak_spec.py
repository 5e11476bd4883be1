"""The soak's load: the profile's requests at the soak's rate, for its duration, in one
Locust process (the soak itself runs in tests/integration/test_soak.py)."""

from __future__ import annotations

from pathlib import Path

from harness.config import LoadSettings
from harness.config_load import StageSettings
from harness.phases.soak_phase import soak_spec

TARGET = "http://127.0.0.1:9"


def test_the_soak_rate_replaces_a_shape_in_stages_and_runs_in_one_process() -> None:
    settings = LoadSettings(
        path="/ping",
        processes=2,
        users=4,
        max_requests=50,
        expect_workers=2,
        stages=[StageSettings(duration_s=4.0, rate_rps=400.0)],
    )
    spec = soak_spec(settings, TARGET, rate_rps=20.0, duration_s=600.0)
    assert (spec.rate_rps, spec.duration_s, spec.stages) == (20.0, 600.0, ())
    assert spec.mean_rate_rps == 20.0  # what the report says was intended
    assert (spec.processes, spec.expect_workers, spec.master_bind) == (1, 0, None)
    assert spec.max_requests is None  # bounded by its duration alone
    assert [r.path for r in spec.requests] == ["/ping"]
    assert spec.problems() == []


def test_a_load_files_requests_are_sent_at_the_soak_rate(tmp_path: Path) -> None:
    load_file = tmp_path / "mix.toml"
    load_file.write_text(
        'rate_rps = 400.0\nduration_s = 3.0\n[[requests]]\npath = "/a"\n[[requests]]\n'
        'path = "/b"\n[[stages]]\nduration_s = 2.0\nrate_rps = 100.0\n',
        encoding="utf-8",
    )
    spec = soak_spec(LoadSettings(load_file=str(load_file)), TARGET, rate_rps=5.0, duration_s=60)
    assert [r.path for r in spec.requests] == ["/a", "/b"]
    assert (spec.rate_rps, spec.duration_s, spec.stages, spec.model) == (5.0, 60, (), "open")


def test_a_locustfile_soak_is_paced_by_its_users_not_by_a_rate() -> None:
    spec = soak_spec(LoadSettings(locustfile="lf.py"), TARGET, rate_rps=20.0, duration_s=60.0)
    assert spec.locustfile == str(Path("lf.py").resolve())
    assert (spec.rate_rps, spec.model, spec.processes) == (0.0, "closed", 1)
