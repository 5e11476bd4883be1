"""Sampling the target's memory and CPU while a run goes on: a thread of the harness.

Two sources, one sample shape (:class:`harness.resources.ResourceSample`):

- :class:`ProcessTreeSource`: psutil on a process and all its children (the reference API,
  which the harness starts, or ``--target-pid``). CPU is counted per process from its CPU
  times, so a child that appears is counted from its birth and one that ends between two
  samples loses only its last interval. The PID is asked anew at every sample, so a
  supervisor's restart is followed.
- :class:`MetricsSource`: the Prometheus process metrics a target serves
  (``process_resident_memory_bytes``, ``process_cpu_seconds_total``, ``process_open_fds``):
  the one process that serves them, not its children (the report says which source).

Every sample is a JSON line of ``resources.jsonl`` in the run directory, flushed as it is
written, so a run that dies keeps every sample taken. A target that is not running at a
sample is recorded as down, not as zero use. The loop is bounded: it ends with the run, and
:meth:`ResourceSampler.stop` joins it.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import IO, Protocol

import psutil

from harness.resources import ResourceSample

__all__ = ["MetricsSource", "ProcessTreeSource", "ResourceSampler", "read_samples"]


class Source(Protocol):
    description: str

    def sample(self) -> ResourceSample: ...


class ProcessTreeSource:
    """A process and its children, by PID (``pid_of`` is asked at every sample)."""

    def __init__(self, pid_of: Callable[[], int | None]) -> None:
        self._pid_of = pid_of
        self._cpu: dict[tuple[int, float], float] = {}  # (pid, create time) -> CPU seconds
        self._first = True
        first = pid_of()
        self.description = f"psutil: pid {first} and its children"

    def sample(self) -> ResourceSample:
        now = time.time()
        pid = self._pid_of()
        try:
            root = psutil.Process(pid) if pid is not None else None
            tree = [root, *root.children(recursive=True)] if root is not None else []
        except psutil.Error:
            tree = []
        rss = threads = 0
        fds: int | None = 0
        cpu = 0.0
        seen: dict[tuple[int, float], float] = {}
        alive = 0
        for proc in tree:
            try:
                with proc.oneshot():
                    if proc.status() == psutil.STATUS_ZOMBIE:
                        continue
                    times = proc.cpu_times()
                    key = (proc.pid, proc.create_time())
                    total = times.user + times.system
                    rss += proc.memory_info().rss
                    threads += proc.num_threads()
                    try:
                        fds = None if fds is None else fds + proc.num_fds()
                    except psutil.Error:
                        fds = None
            except psutil.Error:  # it ended while being read: not counted in this sample
                continue
            alive += 1
            seen[key] = total
            if not self._first:  # a process seen before: its CPU since; a new one: all of it
                cpu += total - self._cpu.get(key, 0.0)
        self._cpu = seen
        self._first = False
        if not alive:
            return ResourceSample(now, 0, 0.0, 0, None, 0, down=True)
        return ResourceSample(now, rss, max(0.0, cpu), threads, fds, alive)


class MetricsSource:
    """The Prometheus process metrics of ``url`` (the process serving them only)."""

    def __init__(self, url: str, timeout_s: float = 2.0) -> None:
        self.url = url
        self._timeout_s = timeout_s
        self._cpu: float | None = None
        self.description = f"prometheus process metrics: {url}"

    def read(self) -> dict[str, float]:
        from prometheus_client.parser import text_string_to_metric_families

        with urllib.request.urlopen(self.url, timeout=self._timeout_s) as response:  # noqa: S310
            text = response.read().decode("utf-8", errors="replace")
        values: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name.startswith("process_") and not sample.labels:
                    values[sample.name] = float(sample.value)
        return values

    def sample(self) -> ResourceSample:
        now = time.time()
        try:
            values = self.read()
            rss = values["process_resident_memory_bytes"]
            total = values["process_cpu_seconds_total"]
        except (OSError, ValueError, KeyError, urllib.error.URLError):
            return ResourceSample(now, 0, 0.0, 0, None, 0, down=True)
        cpu = 0.0 if self._cpu is None else max(0.0, total - self._cpu)
        self._cpu = total
        fds = values.get("process_open_fds")
        threads = int(values.get("process_threads", 0))
        return ResourceSample(now, int(rss), cpu, threads, None if fds is None else int(fds), 1)


def _line(s: ResourceSample) -> str:
    body: dict[str, object] = {"t": round(s.t, 4)}
    if s.down:
        body["down"] = True
    else:
        body |= {"rss": s.rss_bytes, "cpu_s": round(s.cpu_s, 6), "threads": s.threads,
                 "fds": s.fds, "procs": s.processes}  # fmt: skip
    return json.dumps(body)


def read_samples(path: Path) -> list[ResourceSample]:
    """The samples in ``path``; a torn last line (a killed run) is left out."""
    samples: list[ResourceSample] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return samples
    for line in lines:
        try:
            d = json.loads(line)
            if d.get("down"):
                samples.append(ResourceSample(float(d["t"]), 0, 0.0, 0, None, 0, down=True))
            else:
                samples.append(
                    ResourceSample(
                        float(d["t"]), int(d["rss"]), float(d["cpu_s"]), int(d["threads"]),
                        None if d.get("fds") is None else int(d["fds"]), int(d["procs"]),
                    )
                )  # fmt: skip
        except (ValueError, KeyError, TypeError):
            continue
    return samples


class ResourceSampler:
    """Samples ``source`` every ``interval_s`` into ``out`` until :meth:`stop`."""

    def __init__(self, source: Source, out: Path, interval_s: float) -> None:
        self.source = source
        self.out = out
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._file: IO[str] | None = None

    def _run(self) -> None:
        assert self._file is not None
        next_at = time.monotonic()
        while not self._stop.is_set():
            self._file.write(_line(self.source.sample()) + "\n")
            self._file.flush()
            next_at += self.interval_s
            # a fixed rate: a slow sample shortens the wait, never shifts the schedule
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def start(self) -> None:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.out.open("a", encoding="utf-8")
        self._thread = threading.Thread(target=self._run, name="resource-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10.0)
            self._thread = None
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> ResourceSampler:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
