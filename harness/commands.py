"""The commands behind the CLI: each opens a run, runs its phases and applies its gates."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from harness.config import ResolvedConfig, TestSettings
from harness.console import console, print_gates, print_readiness, print_tests
from harness.console import progress as _progress
from harness.console import say as _say
from harness.errors import UsageError
from harness.preflight import (
    check_expression,
    check_gate_inputs,
    check_load_inputs,
    check_target,
    test_paths,
)
from harness.preflight import report_root as _report_root
from harness.runner.selectors import resolve_selectors
from harness.session import RunContext, exit_code_for, open_run, target_for
from harness.slo_command import service_name, slo_gates_of_run, write_slo_files

if TYPE_CHECKING:
    from pydantic import BaseModel

    from harness import gates as gate_logic
    from harness.target import Target

SettingsT = TypeVar("SettingsT", bound="BaseModel")

__all__ = [
    "availability_objective",
    "cmd_chaos",
    "cmd_gate",
    "cmd_load",
    "cmd_run",
    "finish_run",
    "gate_threshold",
    "phases_off",
    "resources_off",
    "service_for",
    "validated",
]


def finish_run(
    ctx: RunContext, results: tuple[gate_logic.GateResult, ...], extra_verdict: str | None = None
) -> int:
    from harness import gates as gate_logic

    verdict: str = gate_logic.overall_outcome(results)
    if not results:
        console.print(
            "[yellow]no gate is configured for this command: nothing was judged, so the "
            "verdict is insufficient (set [profiles.NAME.gates])[/]"
        )
    if extra_verdict == "fail" or (extra_verdict == "insufficient" and verdict == "pass"):
        verdict = extra_verdict
    code = exit_code_for(verdict)
    ctx.state.outcome = dataclasses.replace(ctx.state.outcome, gates=results)
    status = "completed"
    tests = ctx.state.outcome.tests
    internal_error = tests.internal_error if tests is not None else None
    if internal_error:
        status, verdict, code = "crashed", "error", 4
    ctx.state.finish(status, verdict, code, internal_error)
    print_gates(results)
    print(f"verdict: {verdict} (exit {code}); report: {ctx.state.run_dir / 'index.html'}")
    return code


def validated(model: SettingsT, updates: dict[str, Any], options: dict[str, str]) -> SettingsT:
    """``model`` with ``updates`` applied; a bad value is a usage error naming the option."""
    import pydantic

    try:
        return type(model).model_validate({**model.model_dump(), **updates})
    except pydantic.ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else ""
            message = error["msg"].replace("Input should be", "must be")
            message = message.removeprefix("Value error, ")
            given = updates.get(field, error.get("input"))
            problems.append(f"{options.get(field, field)} {given!r}: {message}")
        raise UsageError("; ".join(problems)) from None


RUN_OPTIONS = {
    "repeat": "--repeat",
    "workers": "--workers",
    "timeout_s": "--timeout",
    "budget_s": "--budget",
    "slo": "--slo",
    "seed": "--seed",
    "markexpr": "-m",
    "keyword": "-k",
}
LOAD_OPTIONS = {
    "duration_s": "--duration",
    "rate_rps": "--rate",
    "users": "--users",
    "load_file": "--load-file",
}


def service_for(
    ctx: RunContext, args: argparse.Namespace, config: ResolvedConfig
) -> contextlib.AbstractContextManager[Target]:
    """The service under test: the one at --target-url, ready by the profile's [target]
    check, or a reference API the run starts and stops (:func:`session.target_for`)."""
    return target_for(
        ctx,
        args.target_url,
        args.allow_non_loopback,
        readiness=config.profile.target,
        target_pid=getattr(args, "target_pid", None),
    )


def _load_overrides(config: ResolvedConfig) -> dict[str, Any]:
    """The [load] fields set by --set or the environment: they win over a load file's own
    values (CLI > environment > file), as the command's options do."""
    load = config.profile.load
    return {
        key: getattr(load, key)
        for key in ("duration_s", "rate_rps", "users", "max_requests", "processes", "max_in_flight")
        if config.origin(f"load.{key}").startswith(("--set", "environment variable"))
    }


def gate_threshold(threshold: float | str | None) -> float | None:
    """A gate's threshold as a number; None when it is unset or "off"."""
    return threshold if isinstance(threshold, int | float) else None


def availability_objective(config: ResolvedConfig) -> float | None:
    """What the prober's availability is judged against: the profile's availability gate,
    else its checklist's uptime row; None when neither is a number."""
    profile = config.profile
    return gate_threshold(profile.gates.availability_min) or gate_threshold(
        profile.readiness.uptime
    )


def phases_off(config: ResolvedConfig) -> dict[str, str]:
    """The phases of a gate that the config switches off, each with where that was said."""
    profile = config.profile
    phases = (
        ("load", profile.load.enabled),
        ("chaos", profile.chaos.enabled),
        ("availability", profile.availability.enabled),
        ("resources", profile.resources.enabled),
        ("coverage", profile.coverage.enabled),
        ("api_coverage", profile.api_coverage.enabled),
        ("security", profile.security.enabled),
        ("fuzz", profile.fuzz.enabled),
    )
    return {
        phase: f"{phase}.enabled = false from {config.origin(f'{phase}.enabled')}"
        for phase, on in phases
        # resources and coverage are said off only where that matters: set by the user, or
        # a gate of theirs configured (a profile that never asked for them is not told)
        if not on
        and (
            phase not in ("resources", "coverage", "api_coverage", "security", "fuzz")
            or config.explicit(f"{phase}.enabled")
            or _has_gates(config, phase)
        )
    }


def resources_off(off: dict[str, str], config: ResolvedConfig, why_not: str | None) -> bool:
    """The resources gates off, with why, when the run had nothing to sample the target's
    memory and CPU from (``why_not``: a service not started here, no --target-pid, no
    process metrics) and the profile has such gates: never "insufficient" for a measurement
    that could not be taken. True when that added them to ``off``."""
    if not why_not or "resources" in off or not _has_gates(config, "resources"):
        return False
    off["resources"] = why_not
    return True


def _has_gates(config: ResolvedConfig, phase: str) -> bool:
    """True when the profile configures a gate of ``phase``."""
    from harness.gates import GATE_PHASES

    gates = config.profile.gates
    return any(getattr(gates, g) is not None for g, p in GATE_PHASES.items() if p == phase)


# -- run ---------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace, config: ResolvedConfig) -> int:
    settings = config.profile.tests
    updates: dict[str, Any] = {}
    for name, attr in (
        ("repeat", "repeat"),
        ("workers", "workers"),
        ("timeout", "timeout_s"),
        ("budget", "budget_s"),
        ("slo", "slo"),
        ("seed", "seed"),
    ):
        value = getattr(args, name)
        if value is not None:
            updates[attr] = value
    if args.until_confident:
        updates["until_confident"] = True
    rootdir = Path(args.rootdir).resolve() if args.rootdir else Path.cwd()
    if not rootdir.is_dir():
        raise UsageError(f"--rootdir {args.rootdir!r} is not a directory")
    check_expression("-k", args.keyword)
    check_expression("-m", args.markexpr)
    check_target(args)
    chosen = resolve_selectors(args.selectors, rootdir)
    markexpr = chosen.markexpr
    keyword = chosen.keyword
    if args.markexpr:
        markexpr = f"({markexpr}) and ({args.markexpr})" if markexpr else args.markexpr
    if args.keyword:
        keyword = f"({keyword}) and ({args.keyword})" if keyword else args.keyword
    if chosen.markers or chosen.keywords or args.markexpr or args.keyword:
        updates["markexpr"] = markexpr
        updates["keyword"] = keyword
    settings = validated(settings, updates, RUN_OPTIONS)
    report_root = _report_root(args)
    paths = chosen.paths or test_paths(config, rootdir, given_rootdir=bool(args.rootdir))
    env: dict[str, str] = {}
    with open_run("run", config, report_root, _say) as ctx:
        if args.target_url:
            with service_for(ctx, args, config) as target:
                env = {"MOONBASE_TARGET_URL": target.url, "MOONBASE_API_TOKEN": target.token}
                return _run_tests(ctx, settings, rootdir, paths, env, args)
        return _run_tests(ctx, settings, rootdir, paths, env, args)


def _run_tests(
    ctx: RunContext,
    settings: TestSettings,
    rootdir: Path,
    paths: tuple[str, ...],
    env: dict[str, str],
    args: argparse.Namespace,
) -> int:
    from harness.phases import run_tests_phase

    with _progress("test runs") as update, ctx.state.phase("tests"):
        tests = run_tests_phase(
            ctx,
            settings,
            rootdir=rootdir,
            paths=paths,
            env=env,
            on_progress=update,
            allow_non_loopback=args.allow_non_loopback,
        )
    print_tests(tests.tests_json(), verbose=args.verbose)
    result = tests.result
    if result.budget_exhausted:
        console.print(
            f"[yellow]budget of {settings.budget_s} s reached: the run was stopped; "
            "its records so far are kept[/]"
        )
    if result.interrupted:  # the partial results are kept; open_run ends the run
        raise result.interruption or KeyboardInterrupt()
    from harness import gates as gate_logic

    slo_gate = gate_logic.test_slo_gate(tests.evidence(), settings.slo)
    return finish_run(ctx, (slo_gate,))


# -- gate --------------------------------------------------------------------------------


def cmd_gate(args: argparse.Namespace, config: ResolvedConfig) -> int:
    from harness.phases import fuzz_off, sampled, security_off, watched

    profile = config.profile
    cwd = Path.cwd()
    console.print(f"[bold]gate[/] profile [cyan]{config.profile_name}[/] from {config.source}")
    paths = check_gate_inputs(args, config, cwd)  # every file and path, before any phase
    report_root = _report_root(args)
    from harness.phases.regression_phase import compare_with_baseline, named_baseline

    baseline = named_baseline(args.baseline, report_root)  # a bad --baseline: exit 2 now
    with (
        open_run("gate", config, report_root, _say) as ctx,
        service_for(ctx, args, config) as target,
    ):
        off = phases_off(config)
        coverage = profile.coverage
        if (
            coverage.enabled
            and not target.managed
            and not (coverage.report_file or coverage.report_files)
            and _has_gates(config, "coverage")
        ):  # nothing to measure it from: off, and said, never a gate left undecided
            off["coverage"] = "a target the harness did not start, and no coverage.report_file"
        if why := security_off(profile.security, target.managed, config.explicit):
            off["security"] = why  # nothing to scan: off, and said
        if why := fuzz_off(profile.fuzz, target, config.explicit):
            off["fuzz"] = why  # no document to fuzz from: off, and said
        for phase, why in off.items():
            ctx.say(f"{phase}: off ({why}); its gates are off with it")
        if off:
            ctx.state.record(phases_off=tuple(off.items()))
        objective = availability_objective(config)
        with (
            watched(ctx, profile.availability, profile.target, target, objective) as watch,
            sampled(ctx, profile.resources, target) as resources,
        ):
            evidence = _gate_phases(ctx, args, config, target, paths)
        from harness.checklist import evaluate_checklist

        if evidence.api_coverage_why and _api_coverage_optional(config, target):
            # a service of the user's that serves no document: off, and why
            off["api_coverage"] = evidence.api_coverage_why
            ctx.state.record(phases_off=tuple(off.items()))
        regression = compare_with_baseline(
            ctx, profile.regression, args.baseline, baseline, report_root
        )
        if resources_off(off, config, resources.why_not):
            ctx.state.record(phases_off=tuple(off.items()))
        evidence = dataclasses.replace(
            evidence,
            availability=watch.availability,
            resources=resources.usage,
            regression=regression,
        )
        from harness.request_gates import evaluate_all  # scipy: not before pytest

        results = evaluate_all(profile.gates, evidence, phases_off=off)
        results += slo_gates_of_run(ctx, config, watch.availability, off)
        from harness.phases.coverage_phase import category_gates

        if "coverage" not in off:
            results += category_gates(ctx.state.outcome.coverage, profile.coverage, profile.gates)
        readiness = evaluate_checklist(profile.readiness, evidence, phases_off=off)
        ctx.state.record(readiness=readiness)
        if profile.slos:  # what this gate tested, for production to watch
            write_slo_files(profile.slos, service_name(config, target), ctx.state.run_dir / "slo")
        print_readiness(readiness)
        return finish_run(ctx, results)


def _api_coverage_optional(config: ResolvedConfig, target: Target) -> bool:
    """API coverage on a service the harness did not start, not asked for by the user: a
    document it does not serve switches it off rather than leaving its gate undecided."""
    return not target.managed and not config.explicit("api_coverage.enabled")


def _gate_phases(
    ctx: RunContext,
    args: argparse.Namespace,
    config: ResolvedConfig,
    target: Target,
    paths: tuple[str, ...],
) -> gate_logic.Evidence:
    """The tests, then the load and chaos the profile keeps on: the gate's evidence."""
    from harness import gates as gate_logic
    from harness import phases

    profile, cwd = config.profile, Path.cwd()
    with (
        ctx.state.phase("tests"),
        phases.recorded(
            ctx,
            profile.api_coverage,
            target,
            allow_non_loopback=args.allow_non_loopback,
            optional=_api_coverage_optional(config, target),
        ) as traffic,  # fmt: skip
        _progress("test runs") as update,
    ):
        env = {"MOONBASE_TARGET_URL": traffic.url, "MOONBASE_API_TOKEN": target.token}
        tests = phases.run_tests_phase(
            ctx, profile.tests, rootdir=cwd, paths=paths, env=env, on_progress=update,
            allow_non_loopback=args.allow_non_loopback,
        )  # fmt: skip
    print_tests(tests.tests_json(), verbose=args.verbose)
    if tests.result.interrupted:  # no load or chaos after an interruption
        raise tests.result.interruption or KeyboardInterrupt()
    fuzz = None
    if profile.fuzz.enabled and not phases.fuzz_off(profile.fuzz, target, config.explicit):
        with ctx.state.phase("fuzz"):
            fuzz = phases.run_fuzz(ctx, profile.fuzz, target)
    coverage = None
    measurable = target.managed or profile.coverage.report_file or profile.coverage.report_files
    if profile.coverage.enabled and measurable:
        from harness.phases.coverage_phase import measure_coverage

        with ctx.state.phase("coverage"):
            coverage = measure_coverage(
                ctx, profile.coverage, profile.tests, target=target, rootdir=cwd, paths=paths,
                base_dir=cwd,
            )  # fmt: skip
    security = None
    if profile.security.enabled and not phases.security_off(
        profile.security, target.managed, config.explicit
    ):
        with ctx.state.phase("security"):
            security = phases.scan_security(ctx, profile.security, target.managed)
    load = None
    if profile.load.enabled:
        with ctx.state.phase("load"):
            load = phases.run_load_phase(
                ctx, profile.load, target.url, overrides=_load_overrides(config)
            ).evidence()
    chaos = None
    if profile.chaos.enabled:
        with ctx.state.phase("chaos"):
            chaos = phases.run_chaos_phase(
                ctx, profile.chaos, target.url, base_dir=cwd, external_target=not target.managed,
                recovery_limit_s=gate_threshold(profile.gates.chaos_recovery_s),
            ).evidence()  # fmt: skip
    return gate_logic.Evidence(
        tests.evidence(),
        load,
        chaos,
        coverage=coverage.overall if coverage else None,
        coverage_basis=profile.coverage.basis,
        api_coverage=traffic.coverage,
        api_coverage_basis=profile.api_coverage.basis,
        api_coverage_why=traffic.why_not,
        security=security,
        fuzz=fuzz,
    )


# -- load --------------------------------------------------------------------------------


def cmd_load(args: argparse.Namespace, config: ResolvedConfig) -> int:
    from harness.phases import run_load_phase, sampled

    settings = config.profile.load
    updates = {
        k: v
        for k, v in (
            ("duration_s", args.duration),
            ("rate_rps", args.rate),
            ("users", args.users),
            ("load_file", args.load_file),
        )
        if v is not None
    }
    settings = validated(settings, updates, LOAD_OPTIONS)
    # the command line wins over a load file: its options, then --set and the environment
    overrides = {
        **_load_overrides(config),
        **{k: v for k, v in updates.items() if k != "load_file"},
    }
    check_load_inputs(args, config, settings)  # read and validated now, before the API starts
    report_root = _report_root(args)
    from harness.phases.regression_phase import compare_with_baseline, named_baseline

    baseline = named_baseline(args.baseline, report_root)  # a bad --baseline: exit 2 now
    with (
        open_run("load", config, report_root, _say) as ctx,
        service_for(ctx, args, config) as target,
    ):
        with (
            sampled(ctx, config.profile.resources, target) as resources,
            ctx.state.phase("load"),
        ):
            outcome = run_load_phase(ctx, settings, target.url, overrides=overrides)
        evidence = outcome.evidence()
        only_load = config.profile.gates.of_load()  # the load's, the target's use under it
        regression = compare_with_baseline(
            ctx, config.profile.regression, args.baseline, baseline, report_root
        )
        from harness import gates as gate_logic

        off = {} if config.profile.resources.enabled else {"resources": "resources.enabled = false"}
        resources_off(off, config, resources.why_not)
        from harness.request_gates import evaluate_all  # scipy: not before pytest

        results = evaluate_all(
            only_load,
            gate_logic.Evidence(load=evidence, resources=resources.usage, regression=regression),
            phases_off=off,
        )
        return finish_run(ctx, results)


# -- chaos -------------------------------------------------------------------------------


def cmd_chaos(args: argparse.Namespace, config: ResolvedConfig) -> int:
    from harness.phases import check_chaos_experiments, run_chaos_phase

    if args.injections is not None and args.injections < 1:
        raise UsageError(f"--injections {args.injections}: must be >= 1")
    check_target(args)
    check_chaos_experiments(  # every experiment valid (and allowed) before any traffic
        config.profile.chaos,
        names=list(args.names) or None,
        base_dir=Path.cwd(),
        external_target=bool(args.target_url),
    )
    report_root = _report_root(args)
    with (
        open_run("chaos", config, report_root, _say) as ctx,
        service_for(ctx, args, config) as target,
    ):
        gates = config.profile.gates
        threshold = gates.chaos_recovery_s or 30.0
        with ctx.state.phase("chaos"):
            chaos = run_chaos_phase(
                ctx,
                config.profile.chaos,
                target.url,
                names=list(args.names) or None,
                injections=args.injections,
                base_dir=Path.cwd(),
                external_target=not target.managed,
                recovery_limit_s=gate_threshold(threshold),
            )
        only = gates.model_validate({"chaos_recovery_s": threshold})
        from harness import gates as gate_logic

        results = gate_logic.evaluate_gates(only, gate_logic.Evidence(chaos=chaos.evidence()))
        return finish_run(ctx, results)
