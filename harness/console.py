"""What the commands print on the terminal: progress lines, the live bar, the tables.

Everything goes to stderr; stdout keeps the verdict line and paths that scripts read.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:  # scipy loads with the gates: imported while the workers run, not here
    from harness.checklist import Checklist
    from harness.gates import GateResult

__all__ = [
    "console",
    "print_gates",
    "print_readiness",
    "print_tests",
    "progress",
    "progress_seconds",
    "say",
]

# a CI log is not a terminal: give tables room instead of rich's 80-column default
console = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 140)


def say(message: str) -> None:
    """One progress line (its text is shown as written: ``[profiles.x]`` is no markup)."""
    console.print(f"[dim]·[/dim] {escape(message)}")


def print_gates(results: Sequence[GateResult]) -> None:
    if not results:
        return
    table = Table(title="gates", show_lines=False)
    for col in ("gate", "outcome", "observed", "decided on", "threshold", "detail"):
        table.add_column(col, overflow="fold")
    for g in results:
        colour = {"pass": "green", "fail": "red", "off": "dim"}.get(g.outcome, "yellow")
        observed = "-" if g.observed is None else f"{g.observed:.4g}"
        decided = "-" if g.decided_on is None else f"{g.decided_on:.4g} ({g.decided_by})"
        table.add_row(
            g.name,
            f"[{colour}]{g.outcome}[/]",
            observed,
            decided,
            "-" if g.threshold is None else f"{g.comparison} {g.threshold}",
            g.detail,
        )
    console.print(table)


def print_readiness(checklist: Checklist) -> None:
    """The production-readiness checklist, row by row, and its verdict."""
    colours = {"pass": "green", "fail": "red", "insufficient": "yellow", "not measured": "dim"}
    table = Table(title="production readiness, row by row", show_lines=False)
    for col in ("row", "target", "outcome", "measured", "what it would take"):
        table.add_column(col, overflow="fold")
    for row in checklist.rows:
        colour = colours[row.outcome]
        table.add_row(
            row.title,
            row.target,
            f"[{colour}]{row.outcome}[/]",
            escape(row.measured),
            escape(row.needs) or "-",
        )
    console.print(table)
    passed = sum(1 for r in checklist.rows if r.outcome == "pass")
    console.print(
        f"readiness: [bold]{checklist.verdict}[/] ({passed}/{len(checklist.rows)} rows passed, "
        f"weighted score {checklist.score:.2f}; a failed or unmeasured row is never outweighed)"
    )


def _trouble(t: dict[str, Any]) -> bool:
    return bool(
        t.get("failed") or t.get("errors") or t.get("timeouts") or t.get("flaky")
        or t.get("cut_off") or t.get("passed") != t.get("n")
    )  # fmt: skip


def print_tests(tests: Sequence[dict[str, Any]], *, verbose: bool = False) -> None:
    """The tests of a run as report.json lists them, worst first: with ``verbose`` every
    one, else only those that failed, erred, timed out or were flaky (or cut off), and a
    count of the rest."""
    if not tests:
        return
    shown = list(tests) if verbose else [t for t in tests if _trouble(t)]
    rest = len(tests) - len(shown)
    cut_off = any(t.get("cut_off") for t in tests)
    if not shown:
        console.print(
            f"tests: all {len(tests)} passed every run ({sum(t['n'] for t in tests)} runs); "
            "each test's k/n and interval: the report, or --verbose"
        )
        return
    title = "tests, worst first (k/n with 95% Clopper-Pearson interval)"
    table = Table(
        title=title if verbose else f"tests that failed, timed out or were flaky; {title}"
    )
    columns = ["test", "passed/runs", "95% CI", "flaky", "timeouts", "decision", "more trials"]
    for col in [*columns, "cut off"] if cut_off else columns:
        table.add_column(col, overflow="fold")
    for t in shown:
        rate = t.get("pass_rate") or {}
        ci = f"[{rate['low']:.4f}, {rate['high']:.4f}]" if rate else "-"
        # trials still needed only while undecided: a decided test needs none
        needed = t.get("trials_needed") if t["decision"] == "insufficient" else None
        row = [
            t["nodeid"],
            f"{t['passed']}/{t['n']}",
            ci,
            "[yellow]flaky[/]" if t["flaky"] else "",
            str(t["timeouts"]),
            str(t["decision"]),
            "-" if needed is None else str(needed),
        ]
        if cut_off:
            row.append(f"[yellow]{t['cut_off']}[/]" if t.get("cut_off") else "")
        table.add_row(*row)
    if rest:
        table.caption = f"{rest} more passed every run; see the report (or --verbose)"
    console.print(table)
    from harness.report.views import failure_line  # the same line the reports show

    failing = [(t["nodeid"], line) for t in tests if (line := failure_line(t))]
    for nodeid, line in failing[:10]:
        console.print(f"  [red]failed[/] {escape(nodeid)}: {escape(line)}")
    if len(failing) > 10:
        console.print(f"  ... and {len(failing) - 10} more failing tests (see the report)")
    if cut_off:
        console.print(
            "[yellow]cut off: runs still going when the run was ended (budget or interrupt);"
            " listed, never counted[/]"
        )


@contextlib.contextmanager
def progress(description: str) -> Iterator[Callable[[Any], None]]:
    """A live bar; the callable it yields takes the runner's Progress values."""
    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(description, total=None, info="")

        def update(p: Any) -> None:
            bar.update(
                task,
                completed=p.runs,
                total=p.expected,
                info=f"failures {p.failures} · flaky {p.flaky}",
            )

        yield update


@contextlib.contextmanager
def progress_seconds(description: str, total_s: float) -> Iterator[Callable[[float, str], None]]:
    """A live bar over a span of time; the callable takes the seconds done and a note."""
    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:.0f}/{task.total:.0f} s"),
        TextColumn("{task.fields[info]}"),
    ]
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(description, total=total_s, info="")

        def update(done_s: float, info: str) -> None:
            bar.update(task, completed=min(done_s, total_s), info=escape(info))

        yield update
