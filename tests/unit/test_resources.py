"""The target's memory and CPU from samples: per phase, the leak check, the gates. Pure."""

from __future__ import annotations

import random

import pytest

from harness.checklist import evaluate_checklist
from harness.config import ReadinessSettings
from harness.gates import Evidence, evaluate_one
from harness.resources import ResourceSample, analyse_resources

MB = 1024 * 1024


def _samples(
    seconds: float,
    *,
    rss_mb: float = 100.0,
    growth_mb_per_min: float = 0.0,
    cores: float = 0.5,
    step: float = 0.5,
    t0: float = 1000.0,
    noise_mb: float = 0.0,
    seed: int = 1,
) -> list[ResourceSample]:
    rng = random.Random(seed)
    out = []
    for i in range(int(seconds / step) + 1):
        t = i * step
        rss = rss_mb + growth_mb_per_min * t / 60 + rng.gauss(0, noise_mb)
        cpu = 0.0 if i == 0 else cores * step
        out.append(ResourceSample(t0 + t, int(rss * MB), cpu, 8, 20, 1))
    return out


def test_each_phase_has_its_peak_p95_and_mean_cpu() -> None:
    idle = _samples(10, rss_mb=80, cores=0.05)
    busy = _samples(20, rss_mb=150, cores=0.9, t0=1010.5)
    usage = analyse_resources(
        idle + busy, source="test", interval_s=0.5, cpu_count=2,
        phases=[("tests", 1000.0, 1010.0), ("load", 1010.5, 1030.5)],
    )  # fmt: skip
    tests, load = usage.phases
    assert tests.rss_peak_mb == pytest.approx(80, abs=0.01)
    assert load.rss_peak_mb == pytest.approx(150, abs=0.01)
    assert tests.cpu_mean_core_pct == pytest.approx(5.0, abs=0.01)
    assert load.cpu_mean_core_pct == pytest.approx(90.0, abs=0.01)
    assert usage.under_load is load
    assert usage.cpu_pct(load) == pytest.approx(45.0, abs=0.01)  # of a 2-core machine
    assert usage.run is not None
    assert usage.run.rss_peak_mb == pytest.approx(150, abs=0.01)
    body = usage.to_json()
    assert body["phases"][1]["cpu_mean_machine_pct"] == pytest.approx(45.0, abs=0.01)
    assert len(body["timeline"]) <= 600


def test_a_steady_leak_is_caught_and_a_flat_line_is_not() -> None:
    leaking = analyse_resources(
        _samples(60, growth_mb_per_min=30, noise_mb=2), source="t", interval_s=0.5,
        cpu_count=2, phases=[("load", 1000.0, 1060.0)],
    )  # fmt: skip
    flat = analyse_resources(
        _samples(60, noise_mb=2), source="t", interval_s=0.5, cpu_count=2,
        phases=[("load", 1000.0, 1060.0)],
    )  # fmt: skip
    assert leaking.growth is not None
    assert flat.growth is not None
    assert leaking.growth.low <= 30 <= leaking.growth.high
    assert flat.growth.low <= 0 <= flat.growth.high
    gate = "target_rss_growth_mb_per_min_max"
    assert evaluate_one(gate, Evidence(resources=leaking), 10.0).outcome == "fail"
    assert evaluate_one(gate, Evidence(resources=flat), 10.0).outcome == "pass"


def test_the_growth_interval_covers_the_true_slope_about_95_percent_of_the_time() -> None:
    covered = 0
    trials = 400
    for seed in range(trials):
        usage = analyse_resources(
            _samples(30, growth_mb_per_min=5, noise_mb=3, seed=seed), source="t",
            interval_s=0.5, cpu_count=1, phases=[("load", 1000.0, 1030.0)],
        )  # fmt: skip
        assert usage.growth is not None
        covered += usage.growth.low <= 5 <= usage.growth.high
    assert 0.92 <= covered / trials <= 0.98


def test_rss_and_cpu_gates_pass_and_fail_on_the_measured_figures() -> None:
    usage = analyse_resources(
        _samples(20, rss_mb=300, cores=1.2), source="t", interval_s=0.5, cpu_count=4,
        phases=[("load", 1000.0, 1020.0)],
    )  # fmt: skip
    ev = Evidence(resources=usage)
    assert evaluate_one("target_rss_mb_max", ev, 512).outcome == "pass"
    assert evaluate_one("target_rss_mb_max", ev, 256).outcome == "fail"
    cpu = evaluate_one("target_cpu_pct_max", ev, 50)  # 120% of a core = 30% of 4 cores
    assert cpu.outcome == "pass"
    assert cpu.observed == pytest.approx(30.0, abs=0.01)
    assert evaluate_one("target_cpu_pct_max", ev, 25).outcome == "fail"


def test_without_samples_or_load_the_gates_decide_nothing_and_the_rows_are_not_measured() -> None:
    none = evaluate_one("target_rss_mb_max", Evidence(), 512)
    assert none.outcome == "insufficient"
    assert none.detail.startswith("no resource samples")
    no_load = analyse_resources(
        _samples(5), source="t", interval_s=0.5, cpu_count=2, phases=[("tests", 1000, 1005)]
    )
    cpu = evaluate_one("target_cpu_pct_max", Evidence(resources=no_load), 50)
    assert cpu.outcome == "insufficient"
    assert "no load phase" in cpu.detail
    rows = {r.key: r for r in evaluate_checklist(ReadinessSettings(), Evidence()).rows}
    assert rows["memory_mb"].outcome == "not measured"
    assert rows["cpu"].outcome == "not measured"


def test_the_checklist_judges_memory_and_cpu_by_the_gates() -> None:
    usage = analyse_resources(
        _samples(20, rss_mb=600, cores=0.4), source="t", interval_s=0.5, cpu_count=2,
        phases=[("load", 1000.0, 1020.0)],
    )  # fmt: skip
    rows = {
        r.key: r for r in evaluate_checklist(ReadinessSettings(), Evidence(resources=usage)).rows
    }
    assert rows["memory_mb"].outcome == "fail"  # 600 MB against < 512 MB
    assert rows["cpu"].outcome == "pass"  # 20% of the machine against < 50%
    assert "peak RSS 600.0 MB" in rows["memory_mb"].measured


def test_samples_while_the_target_was_down_are_counted_never_read_as_low_use() -> None:
    samples = _samples(5, rss_mb=200)
    samples += [ResourceSample(1006.0 + i, 0, 0.0, 0, None, 0, down=True) for i in range(3)]
    usage = analyse_resources(samples, source="t", interval_s=0.5, cpu_count=1)
    assert usage.down_samples == 3
    assert usage.run is not None
    assert usage.run.rss_p95_mb == pytest.approx(200, abs=0.01)
    gate = evaluate_one("target_rss_mb_max", Evidence(resources=usage), 512)
    assert "the target was down at 3 sample(s)" in gate.detail


def test_memory_that_never_moved_has_a_slope_of_exactly_zero() -> None:
    usage = analyse_resources(
        _samples(30), source="t", interval_s=0.5, cpu_count=1, phases=[("load", 1000, 1030)]
    )
    assert usage.growth is not None
    assert (usage.growth.slope_mb_per_min, usage.growth.low, usage.growth.high) == (0, 0, 0)
