"""The runner's cost per test run: `reliable-test-runner run --repeat N` against bare
`pytest -n 2 --count N` (pytest-repeat) on the same trivial project, at several sizes.

For each size both commands run alternately, ``--rounds`` times, in this process's run; the
figures are the medians, and the ratio harness/baseline of the wall times (goal: <= 1.1 at
every size, flat as the runs grow) and of the CPU time of the whole process tree. The
harness's own peak RSS (its process alone, not the pytest session it starts: getrusage of
itself, written at its exit) is printed at each size, with the records file's size. Every
command has a timeout.

Run:  python bench/bench_runner.py [--rounds 3] [--tests 50] [--repeats 20,400,2000]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEST = "def test_{i}():\n    assert {i} + 1 == {j}\n"
# python -c this -m harness ...: the harness as usual, and its own peak RSS (KiB) written
# to $BENCH_RSS_FILE when it exits
_PEAK_RSS = (
    "import atexit, os, resource, runpy, sys\n"
    "atexit.register(lambda: open(os.environ['BENCH_RSS_FILE'], 'w').write("
    "str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)))\n"
    "sys.argv = ['harness', *sys.argv[1:]]\n"
    "runpy.run_module('harness', run_name='__main__', alter_sys=True)\n"
)


def make_project(root: Path, tests: int) -> None:
    (root / "pytest.ini").write_text("[pytest]\n")
    (root / "test_trivial.py").write_text("".join(TEST.format(i=i, j=i + 1) for i in range(tests)))


def timed(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall and CPU seconds (user + system of the whole process tree) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        argv, cwd=cwd, capture_output=True, text=True, timeout=1800, check=False, env=env
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{argv[:6]} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def bare_argv(repeat: int) -> list[str]:
    return [
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
        f"--count={repeat}",
        "test_trivial.py",
    ]


def harness_argv(root: Path, repeat: int) -> list[str]:
    return [
        sys.executable,
        "-c",
        _PEAK_RSS,
        "run",
        "--rootdir",
        str(root),
        "--repeat",
        str(repeat),
        "--workers",
        "2",
        "--slo",
        "0.8",
        "--budget",
        "1800",
        "--report-dir",
        str(root / "reports"),
    ]


def one_size(root: Path, tests: int, repeat: int, rounds: int) -> dict[str, float]:
    rss_file = root / "peak-rss"
    # as on a user's machine: Python keeps its bytecode (a shell with PYTHONDONTWRITEBYTECODE
    # set, as some tools' shells are, compiles the harness from source at every start), and
    # its output buffered (the same tools set PYTHONUNBUFFERED: a write per progress dot)
    shell_only = ("PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED")
    plain = {k: v for k, v in os.environ.items() if k not in shell_only}
    env = {**plain, "BENCH_RSS_FILE": str(rss_file)}
    base: list[tuple[float, float]] = []
    ours: list[tuple[float, float]] = []
    peaks: list[int] = []
    records = 0
    for round_ in range(rounds):
        base.append(timed(bare_argv(repeat), root, plain))
        ours.append(timed(harness_argv(root, repeat), root, env))
        peaks.append(int(rss_file.read_text()))
        records = max(p.stat().st_size for p in (root / "reports").glob("*/test-runs.jsonl"))
        for old in (root / "reports").iterdir():  # keep the disk small between rounds
            if old.is_dir() and not old.is_symlink():
                subprocess.run(["rm", "-rf", str(old)], check=True)
        print(
            f"  round {round_ + 1}: bare {base[-1][0]:.2f} s (cpu {base[-1][1]:.2f}); "
            f"harness {ours[-1][0]:.2f} s (cpu {ours[-1][1]:.2f}), "
            f"peak RSS {peaks[-1] / 1024:.0f} MiB",
            flush=True,
        )
    b_wall, h_wall = statistics.median(w for w, _ in base), statistics.median(w for w, _ in ours)
    b_cpu, h_cpu = statistics.median(c for _, c in base), statistics.median(c for _, c in ours)
    return {
        "runs": tests * repeat,
        "bare_s": b_wall,
        "harness_s": h_wall,
        "ratio": h_wall / b_wall,
        "cpu_ratio": h_cpu / b_cpu,
        "peak_rss_mib": max(peaks) / 1024,
        "records_mib": records / 2**20,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tests", type=int, default=50)
    parser.add_argument("--repeats", default="20,400,2000", help="repeats per size, comma list")
    args = parser.parse_args()
    repeats = [int(r) for r in args.repeats.split(",")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-runner-") as tmp:
        root = Path(tmp)
        make_project(root, args.tests)
        for repeat in repeats:
            print(f"{args.tests} tests x {repeat} = {args.tests * repeat:,} runs:", flush=True)
            rows.append(one_size(root, args.tests, repeat, args.rounds))
    print(f"\nmedian of {args.rounds} rounds; goal: ratio <= 1.1 at every size")
    print(
        "| runs | bare `pytest -n 2 --count N` | `reliable-test-runner run --repeat N` "
        "| ratio (wall) | ratio (CPU) | harness peak RSS | test-runs.jsonl |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['runs']:,} | {r['bare_s']:.2f} s | {r['harness_s']:.2f} s | {r['ratio']:.2f} "
            f"| {r['cpu_ratio']:.2f} | {r['peak_rss_mib']:.0f} MiB | {r['records_mib']:.1f} MiB |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
