"""The public surface is explicit: each package's __all__ is pinned (as httpx does)."""

import harness
import harness.load
import harness.runner


def test_harness_exports() -> None:
    assert sorted(harness.__all__) == [
        "ConfigError",
        "HarnessError",
        "InfrastructureError",
        "ScenarioError",
        "UsageError",
        "__version__",
    ]


def test_runner_exports() -> None:
    assert sorted(harness.runner.__all__) == [
        "Progress",
        "RunRecord",
        "RunSpec",
        "TestPhaseResult",
        "TestRecord",
        "aggregate",
        "read_records",
        "run_tests",
    ]


def test_load_exports() -> None:
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


def test_every_exported_name_exists() -> None:
    for module in (harness, harness.load, harness.runner):
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"
