"""The chaos phase of a run: every experiment validated first, then run, each
against the service its fault acts on, its results checkpointed into the run's report."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from harness.config import ChaosSettings
from harness.record import ChaosOutcome, Component, ExperimentOutcome
from harness.session import RunContext

if TYPE_CHECKING:
    from harness.chaos.executor import ExperimentResult
    from harness.chaos.experiment import Experiment
    from harness.toxiproxy.provision import ToxiproxyServer

__all__ = ["check_chaos_experiments", "run_chaos_phase"]


def _chaos_refusals(experiments: list[Experiment]) -> list[str]:
    from harness.faults.kinds import fault_kind

    refused = []
    for e in experiments:
        kind = fault_kind(e.method)
        if kind.needs_supervised_api:
            what = f"injects a process fault ({kind.name})"
        elif kind.needs_postgres:
            what = "puts a fault on the reference API's database link"
        else:
            continue
        refused.append(
            f"experiment {e.name!r} ({e.source}) {what}: it acts on the reference API the "
            "harness starts, and --target-url names an external service; run it without "
            "--target-url"
        )
    return refused


def check_chaos_experiments(
    settings: ChaosSettings,
    *,
    names: list[str] | None = None,
    base_dir: Path,
    external_target: bool = False,
) -> list[Experiment]:
    """Load and validate the chaos experiments before any traffic (ScenarioError/UsageError).

    Also refuses, naming each one, the experiments that act on the reference API itself
    (process faults, the database link) when the target is an external service.
    """
    from harness.chaos.experiment import find_experiments
    from harness.errors import UsageError

    directory = Path(settings.directory)
    if not directory.is_absolute():
        directory = base_dir / directory
    experiments = find_experiments(
        directory,
        names if names is not None else list(settings.experiments),
        where="the command line" if names is not None else "chaos.experiments",
    )
    if external_target and (refused := _chaos_refusals(experiments)):
        raise UsageError("\n".join(refused))
    return experiments


def run_chaos_phase(
    ctx: RunContext,
    settings: ChaosSettings,
    target_url: str,
    *,
    names: list[str] | None = None,
    injections: int | None = None,
    base_dir: Path,
    external_target: bool = False,
    recovery_limit_s: float | None = None,
    prior: ChaosOutcome | None = None,
) -> ChaosOutcome:
    """Run the chaos experiments, each prepared by its fault kind (:mod:`harness.faults`).

    A kind that acts on the API process runs against a dedicated reference API under a
    :class:`~harness.faults.supervisor.Supervisor` (restarted on its port when killed); a
    database-link kind against a dedicated API whose PostgreSQL connection goes through
    the proxy (MOONBASE_DATABASE_URL). A ``kill_container`` experiment creates its pod on
    the supervised API and reports it (id, restarts seen, deleted) in its entry. Those
    kinds are refused for an external target (exit 2). Without PostgreSQL a database
    experiment is reported as not run, which adds no recovery evidence: the chaos gate is
    insufficient without it, never a pass.
    """
    import os
    import tempfile

    from harness.chaos.executor import ExperimentInterrupted
    from harness.toxiproxy.provision import provision_toxiproxy

    experiments = check_chaos_experiments(
        settings, names=names, base_dir=base_dir, external_target=external_target
    )
    database_url = os.environ.get("MOONBASE_DATABASE_URL", "")
    if not database_url.startswith(("postgresql://", "postgres://")):
        database_url = ""
    count = injections or settings.injections
    outcome = prior or ChaosOutcome()  # a soak's earlier rounds are kept, added to
    with (
        tempfile.TemporaryDirectory(prefix="moonbase-chaos-") as tmp,
        provision_toxiproxy() as server,
    ):
        ctx.state.add_component(
            "toxiproxy",
            Component("real" if server.real else "embedded", server.detail, server.kind),
        )
        ctx.say(f"chaos: Toxiproxy {server.kind}: {server.detail}")
        ctx.state.record(chaos=outcome)
        for experiment in experiments:
            ctx.say(f"chaos: {experiment.name}: {experiment.title} (x{count})")
            try:
                result = _run_one(
                    ctx, experiment, target_url, server, count, database_url, Path(tmp)
                )
            except ExperimentInterrupted as stopped:
                # the injections completed before the interruption are kept, marked partial
                limit = _limit(experiment, recovery_limit_s)
                outcome = outcome.adding(ExperimentOutcome(stopped.result, limit))
                ctx.state.record(chaos=outcome)
                ctx.say(
                    f"chaos: {experiment.name}: interrupted after "
                    f"{len(stopped.result.injections)} of {count} injection(s): kept, partial"
                )
                raise stopped.cause from None
            outcome = outcome.adding(
                ExperimentOutcome(result, _limit(experiment, recovery_limit_s))
            )
            ctx.state.record(chaos=outcome)
    return outcome


def _limit(experiment: Experiment, gate_limit_s: float | None) -> float:
    """The one recovery limit of ``experiment``: its own, or the gate's when tighter."""
    own = experiment.expect.max_recovery_s
    return own if gate_limit_s is None else min(own, gate_limit_s)


def _run_one(
    ctx: RunContext,
    experiment: Experiment,
    target_url: str,
    server: ToxiproxyServer,
    count: int,
    database_url: str,
    workroot: Path,
) -> ExperimentResult:
    """One experiment, on the service its fault kind acts on."""
    from harness.chaos.executor import NEEDS_POSTGRES, not_run_result, run_experiment
    from harness.faults.kinds import fault_kind
    from harness.faults.supervisor import Supervisor
    from harness.target import ReferenceTarget

    kind = fault_kind(experiment.method)
    if kind.needs_postgres and not database_url:
        ctx.say(f"chaos: {experiment.name}: NOT RUN: {NEEDS_POSTGRES}")
        return not_run_result(experiment, NEEDS_POSTGRES, server.kind)
    if not kind.needs_supervised_api:
        return run_experiment(
            experiment,
            target_url,
            server,
            injections=count,
            on_event=ctx.say,
            database_url=database_url or None,
            workdir=workroot,
        )
    api = ReferenceTarget(
        workroot / experiment.name,
        log_path=ctx.state.run_dir / f"chaos-{experiment.name}-api.log",
    )
    api.start()
    with Supervisor(api) as supervisor:
        ctx.say(f"chaos: {experiment.name}: supervised reference API at {api.url}")
        result = run_experiment(
            experiment, api.url, server, injections=count, on_event=ctx.say, supervisor=supervisor
        )
    if result.pod is not None:
        ctx.say(
            f"chaos: {experiment.name}: pod {result.pod.id} "
            f"({result.pod.runtime} runtime), restarts seen "
            f"{list(result.pod.restarts_seen)}, deleted: {result.pod.deleted}"
        )
    return result
