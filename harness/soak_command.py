"""``reliable-test-runner soak``: a long, bounded run of low-rate load, the prober and,
every ``--fault-every``, a round of the profile's chaos experiments
(:mod:`harness.phases.soak_phase`), checkpointed as it goes, then judged by the profile's
gates and checklist."""

from __future__ import annotations

import argparse

from harness.commands import (
    availability_objective,
    finish_run,
    phases_off,
    resources_off,
    service_for,
)
from harness.config import ResolvedConfig
from harness.console import print_readiness, progress_seconds, say
from harness.errors import UsageError
from harness.preflight import check_soak_inputs, parse_duration, report_root
from harness.session import open_run
from harness.slo_command import slo_gates_of_run

__all__ = ["cmd_soak"]


def cmd_soak(args: argparse.Namespace, config: ResolvedConfig) -> int:
    """A long, bounded run: low-rate load and the prober for ``--duration``, a round of the
    profile's chaos experiments every ``--fault-every``; report.json checkpointed every
    ``--checkpoint-every``; then the gates (the test, coverage, security, fuzz and regression
    gates off: a soak runs no tests, scans nothing and has no baseline) and the checklist."""
    from harness import gates as gate_logic
    from harness.checklist import evaluate_checklist
    from harness.phases import sampled, watched
    from harness.phases.load_phase import say_load_result
    from harness.phases.soak_phase import DEFAULT_RATE_RPS, run_soak

    duration = parse_duration(args.duration, "--duration", low_s=10.0, high_s=86_400.0)
    every = (
        parse_duration(args.fault_every, "--fault-every", low_s=10.0, high_s=86_400.0)
        if args.fault_every
        else None
    )
    checkpoint_every = parse_duration(
        args.checkpoint_every, "--checkpoint-every", low_s=5.0, high_s=3_600.0
    )
    rate = DEFAULT_RATE_RPS if args.rate is None else args.rate
    if not rate > 0:
        raise UsageError(f"--rate {args.rate}: must be a number > 0")
    check_soak_inputs(args, config)  # the load it sends, its experiments: before it starts
    profile = config.profile
    with (
        open_run("soak", config, report_root(args), say) as ctx,
        service_for(ctx, args, config) as target,
    ):
        off = phases_off(config) | {
            "tests": "a soak runs no tests",
            "coverage": "a soak runs no tests",
            "api_coverage": "a soak runs no tests",
            "security": "a soak scans nothing (gate does)",
            "fuzz": "a soak fuzzes nothing (gate does)",
            "regression": "a soak is compared with no baseline",
        }
        if not every:
            off["chaos"] = "no --fault-every"
        objective = availability_objective(config)
        with (
            watched(ctx, profile.availability, profile.target, target, objective) as watch,
            sampled(ctx, profile.resources, target) as resources,
        ):

            def checkpoint() -> None:
                watch.refresh()
                resources.refresh()

            with progress_seconds("soak", duration) as update:
                load, chaos = run_soak(
                    ctx, config, target, duration_s=duration, rate_rps=rate,
                    fault_every_s=every, checkpoint=checkpoint, on_progress=update,
                    checkpoint_every_s=checkpoint_every,
                )  # fmt: skip
            if load is not None:  # once the bar has ended, in the load command's words
                say_load_result(ctx, load.result, load)
        resources_off(off, config, resources.why_not)  # nothing to sample: off, and why
        if every and chaos is None:
            off["chaos"] = f"no fault round fit in --duration {args.duration}"
        ctx.state.record(phases_off=tuple(off.items()))  # in every report, with why
        evidence = gate_logic.Evidence(
            None,
            load.evidence() if load else None,
            chaos.evidence() if chaos else None,
            watch.availability,
            resources.usage,
        )
        from harness.request_gates import evaluate_all  # scipy: not before pytest

        results = evaluate_all(profile.gates, evidence, phases_off=off)
        results += slo_gates_of_run(ctx, config, watch.availability, off)
        readiness = evaluate_checklist(profile.readiness, evidence, phases_off=off)
        ctx.state.record(readiness=readiness)
        print_readiness(readiness)
        return finish_run(ctx, results)
