"""The report's load section as display strings, read from report.json's ``load``: how it
was sent (the model), who sent it (the generated user or a locustfile, on how many Locust
processes, how many workers finished), why it ended early, the claim it was run to prove,
and each request of the mix on its own. Every format (summary.md, index.html, the console)
says it in these words. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.report.views import MISSING, format_rate, significant
from harness.values import as_count as _count
from harness.values import as_list as _list
from harness.values import as_map as _map
from harness.values import as_number as _num

__all__ = [
    "RequestRow",
    "load_engine_facts",
    "load_engine_text",
    "load_model_text",
    "load_proof_text",
    "load_stop_text",
    "request_rows",
]


@dataclass(frozen=True, slots=True)
class RequestRow:
    """One request of the load mix: its own counts and latency (never averaged with the
    others): ``failed`` as k/n with its interval, p95 with its order-statistic bounds."""

    name: str
    requests: str
    failed: str
    p50: str
    p95: str
    p99: str
    max: str


def load_model_text(load: Any) -> str:
    """How the load was sent, named: the open model with its rate and in-flight cap (and
    what it dropped), or the closed model with its users (a locustfile's: paced by their
    own wait_time)."""
    load = _map(load)
    users = _count(load.get("users"))
    if load.get("locustfile"):
        text = "closed model: the locustfile's users, each pacing itself with its wait_time"
        paced = [str(u) for u in _list(load.get("paced_users"))]
        if paced:
            text += (
                f"; {', '.join(paced)} on a fixed schedule (constant_pacing or "
                "constant_throughput): their latency counts from each task's intended start"
            )
        return text
    if load.get("model") == "closed":
        text = f"closed model: {users or '?'} users, each sending when its last reply is back"
        return text + _stages_text(load, "users")
    rate, cap = _num(load.get("intended_rate_rps")), _count(load.get("max_in_flight"))
    mean = " on average" if _list(load.get("stages")) else ""
    text = f"open model: {significant(rate)} req/s intended{mean}, started on schedule"
    if cap is not None:
        dropped = _count(load.get("dropped")) or 0
        n = _count(load.get("requests")) or 0
        text += (
            f", at most {cap:,} in flight; {dropped:,}/{n:,} dropped (due while {cap:,} were "
            "in flight: not sent, counted as failed)"
        )
    return text + _stages_text(load, "rate_rps")


def load_engine_text(load: Any) -> str:
    """Who sent the load and on how many Locust processes: the generated user or the
    locustfile (its path), one process or a master and its workers (local, or
    ``load-worker``s that joined the master's address), and over workers how many of
    them finished (a worker lost mid-run took its requests with it)."""
    load = _map(load)
    locustfile = load.get("locustfile")
    what = f"the locustfile {locustfile}" if locustfile else "the harness's generated user"
    workers = _map(load.get("workers"))
    expected = _count(workers.get("expected"))
    if not expected:  # one process, or an older report's local workers (all finished)
        processes = _count(load.get("processes")) or 1
        if processes == 1:
            return f"{what}, run by one Locust process"
        return f"{what}, run by a Locust master and {processes} local worker processes"
    finished = _count(workers.get("finished")) or 0
    if load.get("master_bind"):
        joined = _counted(expected, "worker", "workers")
        how = f"a Locust master on {load['master_bind']} and {joined} that joined it (load-worker)"
    else:
        local = _counted(expected, "local worker process", "local worker processes")
        how = f"a Locust master and {local}"
    text = f"{what}, run by {how}: {finished} of {expected} workers finished"
    if finished < expected:
        text += " (a lost worker's requests went with it: the counts are the others')"
    return text


def load_engine_facts(load: Any) -> tuple[tuple[str, str], ...]:
    """Who sent the load as (name, value) pairs, for formats that carry facts rather than
    sentences (junit.xml's properties): the sentence of :func:`load_engine_text`, then its
    parts: the generator (``locustfile`` with its path, or ``generated user``), the Locust
    processes, and over workers how many were expected and how many finished (and the
    master's address for ``load-worker``s). None without a load."""
    load = _map(load)
    if not load:
        return ()
    locustfile = load.get("locustfile")
    facts = [
        ("load.generated_by", load_engine_text(load)),
        ("load.generator", "locustfile" if locustfile else "generated user"),
    ]
    if locustfile:
        facts.append(("load.locustfile", str(locustfile)))
    workers = _map(load.get("workers"))
    expected = _count(workers.get("expected"))
    if not expected:  # one process, or a master and its local workers, all of them finished
        return (*facts, ("load.processes", str(_count(load.get("processes")) or 1)))
    facts += [
        ("load.workers.expected", str(expected)),
        ("load.workers.finished", str(_count(workers.get("finished")) or 0)),
    ]
    if load.get("master_bind"):
        facts.append(("load.master_bind", str(load["master_bind"])))
    return tuple(facts)


def _counted(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _stages_text(load: Mapping[str, Any], key: str) -> str:
    """``; in 3 stages: to 100 over 2 s, ...`` (k6's: linear from the previous target)."""
    stages = [_map(s) for s in _list(load.get("stages"))]
    if not stages:
        return ""
    unit = " req/s" if key == "rate_rps" else " users"
    parts = [
        f"to {significant(s.get(key))}{unit} "
        + (f"over {significant(s.get('duration_s'))} s" if s.get("duration_s") else "at once")
        for s in stages
    ]
    return f"; shaped in {len(stages)} stages, each linear from the one before: " + ", ".join(parts)


def load_stop_text(load: Any) -> str:
    """Why the load ended before its plan (a gate's abort, a stopping rule), or ''."""
    stopped = _map(_map(load).get("stopped_early"))
    if not stopped:
        return ""
    at = _num(stopped.get("at_s"))
    when = f" after {significant(at)} s" if at is not None else ""
    return f"stopped early{when}: {stopped.get('reason', 'no reason given')}"


def load_proof_text(load: Any) -> str:
    """The claim of request success the load was run to prove (the nines profile), or ''."""
    proof = _map(_map(load).get("proof"))
    if not proof:
        return ""
    n = _count(proof.get("requests")) or 0
    good = n - min(_count(proof.get("failures")) or 0, n)
    low, took = _num(proof.get("lower_bound")), _num(proof.get("duration_s"))
    text = (
        f"request success >= {proof.get('target')}: {proof.get('outcome', '?')}: {good:,}/{n:,} "
        f"requests succeeded in {significant(took)} s; one-sided 95% Clopper-Pearson lower "
        f"bound {'-' if low is None else f'{low:.7f}'}"
    )
    needed = _count(proof.get("requests_needed"))
    if needed:
        text += f"; {needed:,} more clean requests would show it"
    return text


def request_rows(load: Any) -> list[RequestRow]:
    """The rows of a completed report's ``load.by_request`` (none for an older report)."""
    rows = []
    for r in map(_map, _list(_map(load).get("by_request"))):
        n = _count(r.get("requests")) or 0
        failures = min(_count(r.get("failures")) or 0, n)
        latency = _map(r.get("latency_ms"))
        p95 = significant(latency.get("p95"))
        bounds = _map(_map(r.get("percentile_bounds_ms")).get("p95"))
        low, high = _num(bounds.get("low")), _num(bounds.get("high"))
        if p95 != MISSING and low is not None and high is not None:
            p95 += f" [{significant(low)}, {significant(high)}]"
        rows.append(
            RequestRow(
                name=str(r.get("name", "?")),
                requests=f"{n:,}",
                failed=format_rate(failures, n, r.get("error_interval")),
                p50=significant(latency.get("p50")),
                p95=p95,
                p99=significant(latency.get("p99")),
                max=significant(latency.get("max")),
            )
        )
    return rows
