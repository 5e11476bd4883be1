from typing import NamedTuple

from harness.runner.accumulate import accumulate


class Runs(NamedTuple):
    nodeid: str
    passed: int
    n: int


HISTORY = [
    {"git_commit": "abc", "git_dirty": False, "tests": {"t::a": [9, 10], "t::b": [5, 5]}},
    {"git_commit": "abc", "git_dirty": True, "tests": {"t::a": [0, 100]}},
    {"git_commit": "def", "git_dirty": False, "tests": {"t::a": [0, 100]}},
]


def test_runs_of_the_same_clean_commit_add_up() -> None:
    current = [Runs("t::a", 10, 10)]
    out = accumulate(current, HISTORY, commit="abc", dirty=False, slo=0.9)["t::a"]
    assert (out.passed, out.n, out.runs) == (19, 20, 2)
    assert out.flaky is True  # both outcomes seen on the same code


def test_uncommitted_changes_are_never_accumulated() -> None:
    current = [Runs("t::a", 10, 10)]
    out = accumulate(current, HISTORY, commit="abc", dirty=True, slo=0.9)["t::a"]
    assert (out.passed, out.n) == (10, 10)
    assert out.reason is not None
    assert "uncommitted changes" in out.reason


def test_a_new_test_starts_from_its_own_runs() -> None:
    current = [Runs("t::new", 3, 4)]
    out = accumulate(current, HISTORY, commit="abc", dirty=False, slo=0.9)["t::new"]
    assert (out.passed, out.n, out.runs) == (3, 4, 1)
