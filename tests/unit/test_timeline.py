from harness.faults.timeline import ProbeSample, analyse_injection


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
