"""The house's seams, pinned: every package states its surface, every target_api error has
one root, and the CLI dispatches through an explicit table."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import harness
import target_api
import target_api.exceptions
from harness import cli, gates
from target_api.exceptions import MoonbaseError

ROOT = Path(__file__).resolve().parents[2]


def _packages() -> list[str]:
    names = []
    for top in ("harness", "target_api"):
        for init in sorted((ROOT / top).rglob("__init__.py")):
            names.append(".".join(init.parent.relative_to(ROOT).parts))
    return names


@pytest.mark.parametrize("package", _packages())
def test_every_package_states_its_public_surface(package: str) -> None:
    module = importlib.import_module(package)
    exported = getattr(module, "__all__", None)
    assert isinstance(exported, list | tuple), f"{package} has no __all__"
    for name in exported:
        assert hasattr(module, name), f"{package}.__all__ names {name!r}, which it lacks"


def _target_api_modules() -> list[str]:
    found = []
    for info in pkgutil.walk_packages(target_api.__path__, "target_api."):
        if info.name.endswith("__main__"):
            continue
        found.append(info.name)
    return found


def test_every_exception_of_target_api_derives_from_its_root() -> None:
    strays = []
    for name in _target_api_modules():
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != name or not issubclass(cls, BaseException):
                continue
            if not issubclass(cls, MoonbaseError):
                strays.append(f"{name}.{cls.__name__}")
    assert strays == []


# run only in the Locust child processes (harness.load.driver starts them)
LOCUST_CHILD_MODULES = frozenset(
    {"harness.load.worker", "harness.load.locustfile_run", "harness.load.remote"}
)


def test_every_exception_of_the_harness_derives_from_its_root() -> None:
    strays = []
    for info in pkgutil.walk_packages(harness.__path__, "harness."):
        if info.name.endswith("__main__") or info.name in LOCUST_CHILD_MODULES:
            continue  # the Locust children import Locust, which patches the standard library
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != info.name or not issubclass(cls, BaseException):
                continue
            if not issubclass(cls, harness.HarnessError | KeyboardInterrupt):
                strays.append(f"{info.name}.{cls.__name__}")
    assert strays == []


def test_every_command_has_exactly_one_handler() -> None:
    assert tuple(cli.HANDLERS) == cli.COMMANDS


def test_the_gates_table_names_every_threshold_of_the_protocol() -> None:
    declared = {
        name
        for name, _ in inspect.getmembers(gates.GateThresholds, lambda m: isinstance(m, property))
    }
    assert declared == set(gates.GATE_NAMES)


def test_target_api_errors_have_one_root_module() -> None:
    assert target_api.exceptions.__all__ == ["MoonbaseError"]


def _harness_sources() -> list[Path]:
    return sorted((ROOT / "harness").rglob("*.py"))


@pytest.mark.parametrize("path", _harness_sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_of_the_harness_is_over_600_lines_nor_a_function_over_80(path: Path) -> None:
    import ast

    source = path.read_text(encoding="utf-8")
    assert len(source.splitlines()) <= 600, f"{path.name} is {len(source.splitlines())} lines"
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > 80
    ]
    assert long == []
