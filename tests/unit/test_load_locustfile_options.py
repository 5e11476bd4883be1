"""--locustfile and --processes: parsing, the spec they make, and user errors in the result
(the Locust side runs in tests/integration/test_locustfile.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from harness.config import LoadSettings, load_config
from harness.errors import ConfigError, UsageError
from harness.load import LoadSpec
from harness.load.histogram import encode_histogram, new_histogram, record_us
from harness.load.percentiles import percentile_estimate
from harness.load.result import merge_reports
from harness.load_options import (
    auto_processes,
    check_locustfile_setting,
    config_overrides,
    parse_processes,
)
from harness.phases.load_phase import load_spec
from harness.record import LoadOutcome


@pytest.mark.parametrize(("cores", "expected"), [(1, 1), (2, 1), (4, 3), (200, 64)])
def test_auto_processes_is_one_per_core_left_after_the_targets(cores: int, expected: int) -> None:
    assert auto_processes(cores) == expected


def test_processes_are_a_number_from_1_to_64_or_auto() -> None:
    assert parse_processes("2") == 2
    assert parse_processes("auto") == auto_processes()
    for bad in ("0", "65", "two", "-1", ""):
        with pytest.raises(UsageError, match=r"--processes .*must be an integer from 1 to 64"):
            parse_processes(bad)


def test_processes_must_divide_the_generated_users_and_auto_picks_a_count_that_does() -> None:
    assert parse_processes("2", users=10) == 2
    with pytest.raises(UsageError, match=r"--processes 3 with 10 users.*--users 9"):
        parse_processes("3", users=10)
    for users in (1, 7, 10, 12):
        chosen = parse_processes("auto", users=users)
        assert 1 <= chosen <= auto_processes()
        assert users % chosen == 0


def test_the_locustfile_option_becomes_the_profiles_load_setting() -> None:
    args = argparse.Namespace(locustfile='my dir/lf "x".py')
    config = load_config(overrides=config_overrides(args), environ={}, cwd=Path("/nonexistent"))
    assert config.profile.load.locustfile == 'my dir/lf "x".py'
    assert config_overrides(argparse.Namespace(locustfile=None)) == []


def test_a_locustfile_with_a_load_file_or_a_rate_is_refused(tmp_path: Path) -> None:
    both = load_config(
        overrides=["load.locustfile=lf.py", "load.load_file=ping.toml"], environ={}, cwd=tmp_path
    )
    args = argparse.Namespace(locustfile="lf.py", rate=None)
    with pytest.raises(ConfigError, match=r"--locustfile 'lf.py' and load.load_file 'ping.toml'"):
        check_locustfile_setting(both, args)
    one = load_config(overrides=["load.locustfile=lf.py"], environ={}, cwd=tmp_path)
    with pytest.raises(UsageError, match=r"--rate 300.0 with --locustfile 'lf.py'"):
        check_locustfile_setting(one, argparse.Namespace(locustfile="lf.py", rate=300.0))
    none = load_config(environ={}, cwd=tmp_path)
    assert check_locustfile_setting(none, args) is None


def test_a_locustfile_spec_is_the_closed_model_and_survives_json(tmp_path: Path) -> None:
    settings = LoadSettings(locustfile="lf.py", processes=2, users=3, rate_rps=500.0)
    spec = load_spec(settings, "http://127.0.0.1:9", {"rate_rps": 100.0, "duration_s": 4.0})
    assert spec.locustfile == str(Path("lf.py").resolve())
    assert (spec.rate_rps, spec.model, spec.duration_s) == (0.0, "closed", 4.0)
    assert spec.problems() == []  # users need not divide among processes: Locust deals them
    assert LoadSpec.from_json(spec.to_json()) == spec
    assert LoadSpec("http://127.0.0.1:9").locustfile is None


def _report(latencies_us: list[int], user_errors: int) -> dict[str, object]:
    histogram = new_histogram()
    for value in latencies_us:
        record_us(histogram, value)
    return {
        "requests": len(latencies_us), "failures": 0, "histogram": encode_histogram(histogram),
        "errors": {"user error: U raised E: x at lf.py:3 in on_start": user_errors},
        "timeline": [], "first_send_s": 0.0, "last_done_s": 1.0, "user_errors": user_errors,
    }  # fmt: skip


def test_user_errors_are_summed_and_count_against_the_error_rate() -> None:
    result = merge_reports(
        [_report([1000] * 8, 1), _report([2000] * 8, 1)],
        intended_rate_rps=0.0, users=2, model="closed",
    )  # fmt: skip
    assert result.user_errors == 2
    assert result.to_json()["user_errors"] == 2
    assert result.errors == {"user error: U raised E: x at lf.py:3 in on_start": 2}
    histogram = new_histogram()
    evidence = LoadOutcome(
        result, percentile_estimate(histogram, 0.95), percentile_estimate(histogram, 0.99)
    ).evidence()
    assert (evidence.requests, evidence.failures) == (18, 2)


def test_a_locustfile_run_is_comparable_only_with_runs_of_the_same_locustfile() -> None:
    from harness.history import comparable_key

    base = {"command": "load", "profile": "smoke", "components": {"target": {"kind": "embedded"}}}
    generated = comparable_key({**base, "load": {"requests": 10}})
    shop = comparable_key({**base, "load": {"locustfile": "/work/shop.py"}})
    other = comparable_key({**base, "load": {"locustfile": "/work/other.py"}})
    assert generated == "load|smoke|embedded||"  # unchanged for every earlier run
    assert len({generated, shop, other}) == 3
    assert shop == comparable_key({**base, "load": {"locustfile": "/work/shop.py", "rps": 1.0}})


def test_a_locustfile_is_the_users_own_load_for_their_own_service(tmp_path: Path) -> None:
    from harness.preflight import check_own_service

    off = ["chaos.enabled=false"]
    with pytest.raises(ConfigError, match="load.path is '/api/v0/ping'"):
        check_own_service(
            load_config(overrides=off, environ={}, cwd=tmp_path), "http://127.0.0.1:9", "gate"
        )
    theirs = load_config(overrides=[*off, "load.locustfile=lf.py"], environ={}, cwd=tmp_path)
    check_own_service(theirs, "http://127.0.0.1:9", "gate")  # their locustfile names their paths


def test_load_and_soak_refuse_the_reference_apis_routes_on_a_service_of_ones_own(
    tmp_path: Path,
) -> None:
    from harness.preflight import check_own_service

    url = "http://127.0.0.1:9"
    off = load_config(overrides=["load.enabled=false"], environ={}, cwd=tmp_path)
    # `load` and `soak` send the load whatever load.enabled says: its path is checked
    with pytest.raises(ConfigError, match="load.path is '/api/v0/ping'") as refused:
        check_own_service(off, url, "load", settings=off.profile.load)
    assert "load.enabled = false" not in str(refused.value)  # no way out for `load`
    assert "--load-file or --locustfile" in str(refused.value)  # the command's own options
    assert "chaos" not in str(refused.value)  # `load` injects no faults
    # a soak with --fault-every injects the profile's experiments: they are checked too
    with pytest.raises(ConfigError, match="chaos.experiments is") as refused:
        check_own_service(off, url, "soak", fault_every=True)
    assert "or drop --fault-every" in str(refused.value)
    assert "load.load_file or load.locustfile" in str(refused.value)  # a soak's [load]
    # the command's own load file (--load-file) names the service's paths: accepted
    mine = LoadSettings(load_file="mine.toml")
    check_own_service(off, url, "load", settings=mine)
    check_own_service(off, None, "soak", fault_every=True)  # the reference API: nothing to check
