"""``reliable-test-runner fuzz``: the fuzz phase alone (:mod:`harness.phases.fuzz_phase`),
against the reference API or ``--target-url``, judged by ``api_server_errors_max`` and
``api_contract_violations_max`` (the profile's, else 0 each)."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.commands import finish_run, service_for, validated
from harness.config import ResolvedConfig
from harness.console import say
from harness.preflight import check_target, report_root
from harness.session import open_run

__all__ = ["FUZZ_OPTIONS", "cmd_fuzz"]

FUZZ_OPTIONS = {
    "max_examples": "--max-examples",
    "max_time_s": "--max-time",
    "seed": "--seed",
    "openapi_file": "--openapi-file",
}


def cmd_fuzz(args: argparse.Namespace, config: ResolvedConfig) -> int:
    from harness import gates as gate_logic
    from harness.phases.fuzz_phase import check_fuzz_settings, run_fuzz

    updates = {k: getattr(args, k) for k in FUZZ_OPTIONS if getattr(args, k, None) is not None}
    if args.openapi_file:  # schemathesis runs in the run's directory: the path made whole
        updates["openapi_file"] = str(Path(args.openapi_file).resolve())
    settings = validated(config.profile.fuzz, {**updates, "enabled": True}, FUZZ_OPTIONS)
    check_target(args)
    where = "--openapi-file" if args.openapi_file else config.origin("fuzz.openapi_file")
    check_fuzz_settings(settings, where)
    with (
        open_run("fuzz", config, report_root(args), say) as ctx,
        service_for(ctx, args, config) as target,
    ):
        with ctx.state.phase("fuzz"):
            outcome = run_fuzz(ctx, settings, target)
        gates = config.profile.gates
        only = gates.model_validate(
            {
                name: 0 if getattr(gates, name) is None else getattr(gates, name)
                for name in ("api_server_errors_max", "api_contract_violations_max")
            }
        )
        results = gate_logic.evaluate_gates(only, gate_logic.Evidence(fuzz=outcome))
        return finish_run(ctx, results)
