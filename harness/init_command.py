"""``reliable-test-runner init``: a start for any service.

It writes, into an empty directory or one with its own pytest project, a reliability.toml
with the three profiles (smoke, ci, release), one scenario that uses the plugin's
fixtures, a load file and a chaos experiment, all aimed at the service at ``--target-url``,
and prints the next command. With the service answering, it is asked first: the first of
``/healthz``, ``/health``, ``/ready`` and ``/`` that answers 200 becomes its
``ready_path``, and an ``/openapi.json`` it serves switches API coverage on. It never
overwrites a file: if any it would write exists, nothing is written and it is exit 2.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

from harness.errors import ConfigError

__all__ = ["InitPlan", "plan_init", "write_init"]

_READY_CANDIDATES = ("/healthz", "/health", "/ready", "/")

_CONFIG = Template("""\
# The reliability harness's config for $name (written by `reliable-test-runner init`).
# Run: reliable-test-runner gate --target-url $url [--profile ci|release]
# Every key and its default: the README of the harness, "Configuration".
default_profile = "smoke"

[profiles.smoke]
description = "Every commit: the scenarios ten times, 10 s of load, one latency fault."

[profiles.smoke.target]
name = "$name"
ready_path = "$ready"

[profiles.smoke.tests]
paths = ["reliability"]
repeat = 10
timeout_s = 30.0
budget_s = 300.0

[profiles.smoke.load]
load_file = "reliability/load/$slug.toml"

[profiles.smoke.chaos]
directory = "reliability/chaos"
experiments = ["$slug-latency"]
$api_coverage_smoke
[profiles.smoke.gates]
test_success = 0.8        # one-sided 95% lower bound of the pass rate of every run
load_error_rate = 0.01    # decided on the one-sided 95% upper bound
load_p95_ms = 250.0       # decided on order-statistic bounds
chaos_recovery_s = 30.0   # every injection takes effect and recovers within this
$api_coverage_gate_smoke
[profiles.ci]
description = "Before a merge: more runs, a longer load, three injections."

[profiles.ci.target]
name = "$name"
ready_path = "$ready"

[profiles.ci.tests]
paths = ["reliability"]
repeat = 30
timeout_s = 30.0
budget_s = 900.0

[profiles.ci.load]
load_file = "reliability/load/$slug.toml"

[profiles.ci.chaos]
directory = "reliability/chaos"
experiments = ["$slug-latency"]
injections = 3
$api_coverage_ci
[profiles.ci.gates]
test_success = 0.9
load_error_rate = 0.005
load_p95_ms = 100.0
chaos_recovery_s = 30.0
$api_coverage_gate_ci
[profiles.release]
description = "A release: the users' production-readiness checklist, row by row."

[profiles.release.target]
name = "$name"
ready_path = "$ready"

[profiles.release.tests]
paths = ["reliability"]
repeat = 300              # enough runs to show test success > 99.5% when all pass
timeout_s = 30.0
budget_s = 3600.0

[profiles.release.load]
path = "$ready"
rate_rps = 1200.0         # above the checklist's 1,000 req/s
users = 20
duration_s = 300.0

[profiles.release.chaos]
directory = "reliability/chaos"
experiments = ["$slug-latency"]
injections = 10
$api_coverage_release
# the checklist: test success > 99.5%, error rate < 0.001%, p95 < 10 ms, recovery < 30 s,
# > 1,000 req/s (add target_rss_mb_max / target_cpu_pct_max with --target-pid, and
# coverage_min with coverage.report_file: see the README)
[profiles.release.gates]
test_success = 0.995
load_error_rate = 0.00001
load_p95_ms = 10.0
load_min_rps = 1000.0
chaos_recovery_s = 30.0
$api_coverage_gate_release""")

_SCENARIO = Template('''\
"""Reliability scenarios of $name (written by `reliable-test-runner init`: grow them).

The harness runs each many times, in parallel, each in isolation. ``target_url`` is the
service under test (``--target-url``), given by the harness's pytest plugin; it refuses a
host outside 127.0.0.0/8 unless the run was given ``--allow-non-loopback``.
"""

from concurrent.futures import ThreadPoolExecutor

import httpx

READY_PATH = "$ready"


def test_the_ready_path_answers(target_url: str) -> None:
    response = httpx.get(target_url + READY_PATH, timeout=10)
    assert response.status_code < 400, response.text[:200]


def test_the_ready_path_answers_a_concurrent_burst(target_url: str) -> None:
    with httpx.Client(base_url=target_url, timeout=10) as client:
        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(lambda _: client.get(READY_PATH).status_code, range(32)))
    assert all(code < 400 for code in codes), codes
''')

_LOAD = Template("""\
# The load on $name (written by `reliable-test-runner init`): an open model at a steady
# intended rate (latency counts from the intended send time); add [[requests]] for the
# service's own mix (the README of the harness, "Load files").
name = "$slug"
rate_rps = 50.0
users = 8
duration_s = 10.0
max_requests = 5000

[[requests]]
method = "GET"
path = "$ready"
weight = 1
""")

_EXPERIMENT = Template('''\
title = "50 ms of latency in front of $name"
description = """
A Toxiproxy latency toxic between the clients and the service (written by
`reliable-test-runner init`). While it is on, the ready path must slow by the injected
50 ms; once it is removed, the service must be back to its steady state."""

[steady_state]
path = "$ready"
expect_status = [200]
max_latency_ms = 200.0
samples = 10

[[method]]
link = "api"
type = "latency"
stream = "downstream"
attributes = { latency = 50, jitter = 0 }
duration_s = 2.0

[expect]
min_effect_ms = 45.0
max_recovery_s = 10.0
max_error_rate = 0.0
''')


@dataclass(frozen=True, slots=True)
class InitPlan:
    directory: Path
    url: str
    name: str
    ready_path: str
    openapi: bool  # the service serves /openapi.json: API coverage on
    files: dict[str, str]  # relative path -> content
    findings: tuple[str, ...]  # what asking the service found, for the console


def _slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug or "service"


def _ask(url: str) -> tuple[str | None, bool, list[str]]:
    """The service's ready path and whether it serves /openapi.json (None, False when it
    does not answer)."""
    import httpx

    findings: list[str] = []
    ready = None
    try:
        for path in _READY_CANDIDATES:
            response = httpx.get(url.rstrip("/") + path, timeout=5.0)
            if response.status_code == 200:  # what the ready check expects by default
                ready = path
                findings.append(f"GET {path} answered {response.status_code}: the ready path")
                break
            findings.append(f"GET {path} answered {response.status_code}")
        doc = httpx.get(url.rstrip("/") + "/openapi.json", timeout=5.0)
    except httpx.HTTPError as exc:
        return None, False, [f"{url} did not answer ({exc!r}): files aimed at {url} anyway"]
    openapi = doc.status_code == 200 and doc.text.lstrip().startswith("{") and "paths" in doc.text
    findings.append(
        "GET /openapi.json: an OpenAPI document, API coverage on"
        if openapi
        else f"GET /openapi.json answered {doc.status_code}: API coverage off"
    )
    return ready, openapi, findings


def plan_init(
    directory: Path, url: str, *, name: str | None = None, ready_path: str | None = None
) -> InitPlan:
    """What ``init`` would write; ConfigError (exit 2) when any of it exists already."""
    from harness.netguard import ensure_loopback_url

    url = ensure_loopback_url(url, where="--target-url").rstrip("/")
    if ready_path is not None and not ready_path.startswith("/"):
        raise ConfigError(f"--ready-path {ready_path!r}: a path starting with '/', e.g. /healthz")
    found, openapi, findings = _ask(url)
    ready = ready_path or found or "/"
    slug = _slug(name) if name else "service"
    name = name or f"the service at {url}"
    fields = {"name": name.replace('"', "'"), "url": url, "ready": ready, "slug": slug}
    for profile, minimum in (("smoke", "80.0"), ("ci", "90.0"), ("release", "100.0")):
        fields[f"api_coverage_{profile}"] = (
            f"\n[profiles.{profile}.api_coverage]\nenabled = true\n" if openapi else ""
        )
        fields[f"api_coverage_gate_{profile}"] = (
            f"api_coverage_min = {minimum}  # % of the OpenAPI operations the tests exercised\n"
            if openapi
            else ""
        )
    files = {
        "reliability.toml": _CONFIG.substitute(fields),
        f"reliability/test_{slug.replace('-', '_')}_reliability.py": _SCENARIO.substitute(fields),
        f"reliability/load/{slug}.toml": _LOAD.substitute(fields),
        f"reliability/chaos/{slug}-latency.toml": _EXPERIMENT.substitute(fields),
    }
    present = sorted(p for p in files if (directory / p).exists())
    if present:
        raise ConfigError(
            f"init: {', '.join(present)} already exist(s) in {directory}; init never "
            "overwrites a file: move them away, or run init in another directory"
        )
    return InitPlan(directory, url, name, ready, openapi, files, tuple(findings))


def write_init(plan: InitPlan) -> list[Path]:
    """Write the planned files (none of them exists: :func:`plan_init` checked)."""
    written = []
    for relative, content in plan.files.items():
        path = plan.directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as fh:  # "x": never over a file made meanwhile
            fh.write(content)
        written.append(path)
    return written
