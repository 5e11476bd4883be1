"""``load --calibrate``: the generator's noise floor alone, no target started or needed.

The same spec the load would run (the profile's ``[load]``, a load file, ``--rate`` and
``--users``) is run for ``load.floor_duration_s`` (or ``--duration``) against the null
server; report.json gets a top-level ``floor``. Nothing is judged, so the verdict is
``insufficient`` and the exit code 3, as for any run without a gate.
"""

from __future__ import annotations

import argparse

from harness.config import ResolvedConfig

__all__ = ["cmd_calibrate"]

# Only the floor runs: no target is contacted, this address is replaced before any traffic.
_NO_TARGET = "http://127.0.0.1:9"


def cmd_calibrate(args: argparse.Namespace, config: ResolvedConfig) -> int:
    from harness.commands import LOAD_OPTIONS, _load_overrides, validated
    from harness.console import say
    from harness.phases.load_phase import load_spec, measure_floor_phase
    from harness.preflight import check_load_file, check_load_settings, load_file_source
    from harness.preflight import report_root as _report_root
    from harness.session import open_run

    updates = {
        k: v
        for k, v in (
            ("floor_duration_s", args.duration),
            ("rate_rps", args.rate),
            ("users", args.users),
            ("load_file", args.load_file),
        )
        if v is not None
    }
    settings = validated(
        config.profile.load, updates, {**LOAD_OPTIONS, "floor_duration_s": "--duration"}
    )
    overrides = {
        **_load_overrides(config),
        **{k: v for k, v in updates.items() if k in ("rate_rps", "users")},
    }
    check_load_file(
        settings.load_file,
        f"--load-file {args.load_file!r}" if args.load_file else load_file_source(config),
    )
    check_load_settings(config, settings)  # naming the setting's origin, as load does
    spec = load_spec(settings, _NO_TARGET, overrides)
    spec.validate(where="the [load] settings")
    with open_run("load", config, _report_root(args), say) as ctx:
        floor = measure_floor_phase(ctx, settings, spec)
        ctx.state.record(extra={"floor": floor.to_json()})
        ctx.state.finish("completed", "insufficient", 3, None)
        print(
            "verdict: insufficient (exit 3): a calibration measures the generator alone and "
            f"judges nothing; report: {ctx.state.run_dir / 'index.html'}"
        )
    return 3
