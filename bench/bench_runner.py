"""reliable-test-runner --repeat 20 over 50 trivial tests vs bare `pytest -n 2 --count 20`.

Both sides run the same generated project, alternately, several rounds, in this process's
run; the figure is the ratio of medians (goal: <= 1.2). Bounded: each command has a
timeout. Run:  python bench/bench_runner.py [--rounds 3] [--tests 50] [--repeat 20]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEST = "def test_{i}():\n    assert {i} + 1 == {j}\n"


def make_project(root: Path, tests: int) -> None:
    (root / "pytest.ini").write_text("[pytest]\n")
    (root / "test_trivial.py").write_text("".join(TEST.format(i=i, j=i + 1) for i in range(tests)))


def timed(argv: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=600, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{argv[:4]} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tests", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-runner-") as tmp:
        root = Path(tmp)
        make_project(root, args.tests)
        bare = [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:locust",
            "-p",
            "no:cacheprovider",
            "-q",
            "-n",
            "2",
            f"--count={args.repeat}",
            "test_trivial.py",
        ]
        ours = [
            sys.executable,
            "-m",
            "harness",
            "run",
            "--rootdir",
            str(root),
            "--repeat",
            str(args.repeat),
            "--workers",
            "2",
            "--slo",
            "0.8",
            "--report-dir",
            str(root / "reports"),
        ]
        baseline, harness = [], []
        for round_ in range(args.rounds):
            baseline.append(timed(bare, root))
            harness.append(timed(ours, root))
            print(
                f"round {round_ + 1}: pytest -n 2 --count {args.repeat}: {baseline[-1]:.2f} s; "
                f"reliable-test-runner --repeat {args.repeat}: {harness[-1]:.2f} s",
                flush=True,
            )
        b, h = statistics.median(baseline), statistics.median(harness)
        runs = args.tests * args.repeat
        print(f"\n{runs} test runs ({args.tests} tests x {args.repeat}), median of {args.rounds}:")
        print(f"  baseline  pytest -n 2 + pytest-repeat : {b:.2f} s")
        print(f"  harness   reliable-test-runner run    : {h:.2f} s")
        print(f"  ratio harness/baseline                : {h / b:.2f}  (goal <= 1.2)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
