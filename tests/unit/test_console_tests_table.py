"""The console's tests table: by default only the tests that need a look, and a count of
the rest; every test with --verbose."""

from __future__ import annotations

from typing import Any

from harness.console import console, print_tests


def _test(nodeid: str, passed: int, n: int, **extra: Any) -> dict[str, Any]:
    base = {"nodeid": nodeid, "passed": passed, "n": n, "failed": n - passed, "errors": 0,
            "timeouts": 0, "flaky": False, "decision": "insufficient", "trials_needed": 27,
            "pass_rate": {"low": 0.1, "high": 1.0}, "messages": []}  # fmt: skip
    return base | extra


def _printed(tests: list[dict[str, Any]], verbose: bool) -> str:
    with console.capture() as captured:
        print_tests(tests, verbose=verbose)
    return captured.get()


TESTS = [
    _test("t.py::test_broken", 0, 2, decision="fail"),
    _test("t.py::test_flaky", 2, 2, flaky=True),
    _test("t.py::test_slow", 1, 2, timeouts=1, failed=0),
    *[_test(f"t.py::test_fine_{i}", 2, 2) for i in range(26)],
]


def test_by_default_only_the_tests_that_need_a_look_and_a_count_of_the_rest() -> None:
    out = _printed(TESTS, verbose=False)
    for name in ("test_broken", "test_flaky", "test_slow"):
        assert name in out
    assert "test_fine_" not in out
    assert "26 more passed every run; see the report (or --verbose)" in out


def test_verbose_lists_every_test() -> None:
    out = _printed(TESTS, verbose=True)
    assert all(f"test_fine_{i}" in out for i in range(26))
    assert "more passed every run" not in out


def test_all_passing_is_one_line() -> None:
    out = _printed([_test(f"t.py::test_{i}", 3, 3) for i in range(4)], verbose=False)
    assert out.strip().splitlines() == [
        "tests: all 4 passed every run (12 runs); each test's k/n and interval: the report, "
        "or --verbose"
    ]
