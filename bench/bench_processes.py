"""Benchmark: the load phase with 1 and with 2 Locust processes, same target, same users.

    python bench/bench_processes.py [--duration-s 5] [--repeats 3] [--users 10]

Starts the reference API (``python -m target_api`` on 127.0.0.1, port 0) unless
``--target-url`` names a loopback service, or with ``--target null`` the harness's null
server (``python -m harness.load.null_server``: a prebuilt 200 per request, the server the
floor is measured against), the lightest target there is, so that on a 2-core machine the
generator gets what the reference API would otherwise take of the cores. Then it
alternates, ``--repeats`` times each, the closed model as fast as it goes
(``run_load(rate_rps=0)``) with ``processes=1`` (one local Locust process) and
``processes=2`` (a master and two workers, ``users / 2`` each, their HdrHistograms
merged). Throughput is requests completed / run time; the p99 comes from the merged
histogram. It prints a Markdown table of medians and the 2-vs-1 ratio (goal on a 2-core
machine: >= 1.6), with the load average before and after (the machine is shared).

It also prints where the CPU went while the load ran (psutil, every 0.25 s, from one second
in to half a second before the end): the cores the Locust processes used, the cores the
target used, and req/s per generator core. On two cores the target's share is taken from
the generator's: the ratio cannot pass 2 minus the target's cores, and it shows how close
the run came to that. After each round it times a loop of Python additions alone and as two
processes at once: the machine's own 2-vs-1 scaling of pure CPU work (2.0 on two whole
cores), the ceiling of any two busy Python processes here, printed beside the ratio.
A warm-up run of each, not counted, comes first.
Every run is bounded by ``--duration-s``; the whole benchmark by roughly
2 x repeats x (duration + 8 s) + 3 s per round.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import psutil

from harness.load import LoadSpec, RequestSpec, run_load
from harness.load.calibration import null_server

GOAL = 1.6
# a loop of Python additions, no I/O, no shared state: about 1 s alone on this machine
SPIN = (
    "import time\nt = time.perf_counter()\nx = 0\n"
    "for i in range({n}): x += i\nprint(time.perf_counter() - t)"
)
SPIN_LOOPS = 10_000_000


@dataclass(frozen=True, slots=True)
class Sample:
    rps: float
    p99_ms: float
    requests: int
    generator_cores: float = 0.0
    target_cores: float = 0.0


class CpuWatch:
    """CPU seconds of this process's descendants, sampled every 0.25 s in a thread; the
    cores each side used between two moments of the run."""

    def __init__(self, target_pid: int | None) -> None:
        self.target_pid = target_pid
        self.samples: list[tuple[float, dict[int, float]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="cpu-watch")

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(0.25):
            now, cpu = time.monotonic(), {}
            for child in me.children(recursive=True):
                try:
                    times = child.cpu_times()
                except psutil.Error:
                    continue
                cpu[child.pid] = times.user + times.system
            self.samples.append((now, cpu))

    def __enter__(self) -> CpuWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def cores(self, start: float, end: float) -> tuple[float, float]:
        """(generator cores, target cores) between ``start`` and ``end``."""
        window = [(t, cpu) for t, cpu in self.samples if start <= t <= end]
        if len(window) < 2:
            return 0.0, 0.0
        (t0, first), (t1, last) = window[0], window[-1]
        gen = target = 0.0
        for pid, seconds in last.items():
            used = seconds - first.get(pid, seconds)  # a process seen only at the end: 0
            if pid == self.target_pid:
                target += used
            else:
                gen += used
        return gen / (t1 - t0), target / (t1 - t0)


def one_run(
    url: str, path: str, users: int, duration_s: float, processes: int, target_pid: int | None
) -> Sample:
    started = time.monotonic()
    with CpuWatch(target_pid) as watch:
        result = run_load(
            LoadSpec(
                url,
                requests=(RequestSpec(path=path),),
                rate_rps=0.0,
                users=users,
                duration_s=duration_s,
                processes=processes,
            )
        )
    if result.failures:
        raise RuntimeError(f"{processes} process(es): {result.failures} failures: {result.errors}")
    # the load itself: the children's start-up comes before the last duration_s of the run
    ended = watch.samples[-1][0] if watch.samples else time.monotonic()
    load_start = max(started, ended - duration_s)
    gen, target = watch.cores(load_start + 1.0, ended - 0.5)
    return Sample(
        result.requests / duration_s, result.latency_ms["p99"], result.requests, gen, target
    )


def cpu_round(loops: int = SPIN_LOOPS) -> float:
    """The machine's own 2-vs-1 scaling of pure CPU work, once: the loop timed alone, then
    as two processes at once (the slower of the two); two loops' work per second over one's.
    On two whole cores it is 2.0; what this gives two busy processes bounds any 2-process
    CPU-bound Python program here, the load generator included."""

    def slowest(count: int) -> float:  # the loops' own times, the interpreter's start apart
        procs = [
            subprocess.Popen([sys.executable, "-c", SPIN.format(n=loops)], stdout=subprocess.PIPE,
                             text=True)
            for _ in range(count)
        ]  # fmt: skip
        return max(float(proc.communicate(timeout=120)[0]) for proc in procs)

    alone = slowest(1)
    return 2 * alone / slowest(2)


def median(samples: list[Sample]) -> Sample:
    return Sample(
        statistics.median(s.rps for s in samples),
        statistics.median(s.p99_ms for s in samples),
        int(statistics.median(s.requests for s in samples)),
        statistics.median(s.generator_cores for s in samples),
        statistics.median(s.target_cores for s in samples),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target-url", help="a running loopback service (default: start one)")
    parser.add_argument(
        "--target", choices=("api", "null"), default="api",
        help="api: the reference API (default); null: the harness's null server",
    )  # fmt: skip
    parser.add_argument("--path", default="/api/v0/ping", help="the path every user GETs")
    parser.add_argument(
        "--duration-s", type=float, default=5.0,
        help="each load run's length, s (at least 3: the CPU is read from 1 s in to 0.5 s "
        "before its end)",
    )  # fmt: skip
    parser.add_argument(
        "--repeats", type=int, default=3,
        help="rounds; each runs 1 process, 2 processes and the CPU ceiling once",
    )  # fmt: skip
    parser.add_argument(
        "--users", type=int, default=10,
        help="closed-model users in all (even: 2 processes run half each); 32 keeps both busy",
    )  # fmt: skip
    parser.epilog = (
        "Besides the 2-vs-1 ratio it prints the machine's own 2-vs-1 scaling of pure CPU "
        "work: a loop of Python additions timed alone and as two processes at once, once per "
        "round (one noisy sample each; the median is printed). 2.0 on two whole cores; "
        "above 2 only by noise. 'the load reached X of it' is the ratio over that ceiling."
    )
    args = parser.parse_args()
    if args.duration_s < 3.0:
        parser.error(f"--duration-s {args.duration_s:g}: must be >= 3 (the CPU window)")
    if args.users % 2:
        parser.error("--users must be even (two processes run half each)")
    if args.target_url is not None and args.target != "api":
        parser.error("--target names a target to start: not with --target-url")

    load_before = os.getloadavg()
    samples: dict[int, list[Sample]] = {1: [], 2: []}
    cpu: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-processes-") as tmp, ExitStack() as stack:
        api = None
        url = args.target_url
        target_pid: int | None = None
        if url is None and args.target == "null":
            null, url = stack.enter_context(null_server(3600.0))
            target_pid = null.pid
        elif url is None:
            from target_api.testing import ApiProcess

            api = ApiProcess(Path(tmp) / "api").start()
            url = api.url
            target_pid = api.process.pid if api.process else None
        LoadSpec(url).validate(where="--target-url")  # loopback only
        try:
            for processes in (1, 2):  # warm-up: the target's first requests, the page cache
                one_run(url, args.path, args.users, min(args.duration_s, 2.0), processes, None)
            for _ in range(args.repeats):  # alternate, so drift hits both alike
                for processes in (1, 2):
                    samples[processes].append(
                        one_run(url, args.path, args.users, args.duration_s, processes,
                                target_pid)
                    )  # fmt: skip
                cpu.append(cpu_round())  # the machine's own ceiling, in the same drift
        finally:
            if api is not None:
                api.stop()
    load_after = os.getloadavg()

    one, two = median(samples[1]), median(samples[2])
    target = "url" if args.target_url else args.target
    ratio = two.rps / one.rps
    print(
        f"closed model, users={args.users} duration={args.duration_s:g}s "
        f"repeats={args.repeats} (medians) target={target} {url}{args.path} "
        f"cores={os.cpu_count()} at "
        f"{time.strftime('%Y-%m-%d %H:%M')}; load average before "
        f"{load_before[0]:.2f}, after {load_after[0]:.2f}\n"
    )
    print(
        "| processes | req/s | p99 ms | requests | ratio to 1 process | generator cores "
        "| target cores | req/s per generator core |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for processes, s in ((1, one), (2, two)):
        per_core = f"{s.rps / s.generator_cores:.0f}" if s.generator_cores else "-"
        print(
            f"| {processes} | {s.rps:.0f} | {s.p99_ms:.2f} | {s.requests} "
            f"| {s.rps / one.rps:.2f} | {s.generator_cores:.2f} | {s.target_cores:.2f} "
            f"| {per_core} |"
        )
    each = ", ".join(f"{s.rps:.0f}" for s in samples[1])
    each2 = ", ".join(f"{s.rps:.0f}" for s in samples[2])
    print(f"\nevery run, req/s: 1 process [{each}]; 2 processes [{each2}]")
    print(f"ratio 2/1 = {ratio:.2f} (goal >= {GOAL}): {'met' if ratio >= GOAL else 'NOT met'}")
    ceiling = statistics.median(cpu)
    print(
        f"the machine's own 2-vs-1 scaling of pure CPU work (two Python loops at once against "
        f"one, alternated with the loads): {ceiling:.2f} (every round: "
        f"{', '.join(f'{c:.2f}' for c in cpu)}); the load reached {ratio / ceiling:.2f} of it"
        + (f"; a goal of {GOAL} is above it: not reachable here" if ceiling < GOAL else "")
    )
    if one.generator_cores and two.generator_cores:
        cores = os.cpu_count() or 1
        print(
            f"CPU: 2 processes used {two.generator_cores:.2f} cores beside the target's "
            f"{two.target_cores:.2f} (of {cores}); one used {one.generator_cores:.2f}. At "
            f"one process's req/s per core the two could reach "
            f"{two.generator_cores / one.generator_cores:.2f}x; they reached {ratio:.2f}x "
            f"(per-core efficiency {ratio * one.generator_cores / two.generator_cores:.2f})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
