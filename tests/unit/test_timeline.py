from harness.chaos.load_window import LoadSnapshot, fault_window_rate
from harness.chaos.timeline import ProbeSample, analyse_injection


def _samples(spec: list[tuple[float, float | None, bool, str]]) -> list[ProbeSample]:
    return [ProbeSample(t, lat, ok, phase) for t, lat, ok, phase in spec]  # type: ignore[arg-type]


def test_latency_fault_effect_and_recovery_are_measured() -> None:
    samples = _samples(
        [(0.0, 2.0, True, "steady"), (0.1, 2.2, True, "steady"), (0.2, 1.8, True, "steady")]
        + [(1.0 + i * 0.2, 102.0, True, "fault") for i in range(5)]
        + [
            (2.1, 60.0, True, "recovery"),
            (2.2, 2.0, True, "recovery"),
            (2.3, 2.1, True, "recovery"),
            (2.4, 2.0, True, "recovery"),
        ]
    )
    result = analyse_injection(
        samples, t_inject=1.0, t_remove=2.0, max_latency_ms=50, recovered_after=3, min_effect_ms=95
    )
    assert result.effect_observed
    assert result.effect_ms is not None
    assert abs(result.effect_ms - 100.0) < 1e-9
    assert result.detect_s == 0.0
    assert result.recovered
    assert result.recover_s is not None
    assert abs(result.recover_s - 0.2) < 1e-9


def test_a_fault_that_changes_nothing_is_reported_as_no_effect() -> None:
    samples = _samples(
        [(0.0, 2.0, True, "steady"), (0.1, 2.0, True, "steady")]
        + [(1.0, 2.1, True, "fault"), (1.1, 2.0, True, "fault")]
        + [(2.0, 2.0, True, "recovery")] * 3
    )
    result = analyse_injection(
        samples, t_inject=1.0, t_remove=1.5, max_latency_ms=50, recovered_after=3, min_effect_ms=95
    )
    assert not result.effect_observed
    assert "NO VISIBLE EFFECT" in result.detail


def test_error_fault_without_latency_expectation_counts_deviations() -> None:
    samples = _samples(
        [(0.0, 2.0, True, "steady")]
        + [(1.0, None, False, "fault"), (1.1, None, False, "fault")]
        + [(2.0, None, False, "recovery"), (2.1, 3.0, True, "recovery")]
    )
    result = analyse_injection(
        samples,
        t_inject=1.0,
        t_remove=1.5,
        max_latency_ms=50,
        recovered_after=3,
        min_effect_ms=None,
    )
    assert result.effect_observed
    assert result.fault_error_rate == 1.0
    assert not result.recovered
    assert result.recover_s is None


def test_a_kill_recovers_from_the_kill_time_and_its_outage_is_the_effect() -> None:
    # a kill is instantaneous: inject == remove; probes fail until the restarted API answers
    samples = _samples(
        [(0.0, 2.0, True, "steady"), (0.1, 2.0, True, "steady")]
        + [(1.0 + i * 0.05, None, False, "fault") for i in range(6)]
        + [(1.4, 20.0, True, "recovery"), (1.45, 2.0, True, "recovery")]
        + [(1.5, 2.0, True, "recovery")]
    )
    result = analyse_injection(
        samples,
        t_inject=1.0,
        t_remove=1.0,
        max_latency_ms=50,
        recovered_after=3,
        min_effect_ms=None,
    )
    assert result.effect_observed
    assert result.fault_error_rate == 1.0
    assert result.detect_s == 0.0
    assert result.recover_s is not None
    assert abs(result.recover_s - 0.4) < 1e-9
    assert result.total_s == result.recover_s


def test_a_kill_that_no_probe_noticed_is_no_visible_effect() -> None:
    samples = _samples(
        [(0.0, 2.0, True, "steady")] + [(1.0 + i * 0.05, 2.0, True, "recovery") for i in range(3)]
    )
    result = analyse_injection(
        samples,
        t_inject=1.0,
        t_remove=1.0,
        max_latency_ms=50,
        recovered_after=3,
        min_effect_ms=None,
    )
    assert not result.effect_observed
    assert result.recovered
    assert "NO VISIBLE EFFECT" in result.detail


def _snap(t: float, requests: int, failures: int) -> LoadSnapshot:
    return LoadSnapshot(t, requests, failures)


def test_load_errors_are_counted_between_the_snapshots_around_each_fault() -> None:
    snapshots = [_snap(0.5, 10, 0), _snap(1.5, 20, 0), _snap(2.5, 30, 4), _snap(3.5, 40, 5)]
    snapshots += [_snap(4.5, 50, 5), _snap(5.5, 60, 5)]
    rate = fault_window_rate(snapshots, [(1.7, 2.6)], tail_s=0.5, whole=(60, 5))
    assert rate.window == "fault"
    # from the snapshot at 1.5 (20, 0) to the first one at or after 3.1 (40, 5)
    assert (rate.requests, rate.failures) == (20, 5)
    assert rate.error_rate == 0.25


def test_load_errors_sum_over_every_injection_window() -> None:
    snapshots = [_snap(float(t), 10 * t, t // 2) for t in range(1, 12)]
    rate = fault_window_rate(snapshots, [(1.5, 2.0), (6.5, 7.0)], tail_s=0.0, whole=(110, 5))
    assert (rate.requests, rate.failures) == (10 + 10, (1 - 0) + (3 - 3))


def test_without_a_closing_snapshot_the_whole_run_is_used_and_said() -> None:
    rate = fault_window_rate([_snap(1.0, 10, 0)], [(1.5, 2.0)], tail_s=2.0, whole=(30, 3))
    assert rate.window == "whole run"
    assert (rate.requests, rate.failures) == (30, 3)
    assert "whole load run" in rate.detail


def test_a_fault_before_the_first_snapshot_counts_from_zero() -> None:
    rate = fault_window_rate([_snap(3.0, 12, 2)], [(0.5, 1.0)], tail_s=1.0, whole=(12, 2))
    assert (rate.requests, rate.failures, rate.window) == (12, 2, "fault")
