"""The harness's own inputs, fuzzed: whatever bytes a config file, a chaos experiment or a
load file holds, reading it gives a value or the harness's own error (ConfigError or
ScenarioError, exit 2) naming the file, never another exception.

The documents are random bytes, mutations of the shipped files, and TOML built from the
loaders' own models (the right keys with wrong types, unknown keys, huge numbers, NaN and
inf, dates, deep nesting). Derandomized: CI sees the same examples on every run.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import tomllib
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from harness.chaos.experiment import Experiment, find_experiments, load_experiment
from harness.config import Profile, ResolvedConfig, load_config
from harness.errors import ConfigError, ScenarioError
from harness.faults.spec import LINKS
from harness.load import LoadSpec, load_load_spec
from harness.load.load_file import _LoadFileModel

REPO = Path(__file__).resolve().parents[2]
TARGET = "http://127.0.0.1:8080"

# one file rewritten per example in the test's own tmp_path: sharing it between examples
# is the point, so the function-scoped fixture is fine
FUZZ = settings(
    max_examples=300,
    deadline=2000,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# -- TOML out of Python values (tomllib only reads) --------------------------------------


def _toml_string(text: str) -> str:
    # \u escapes for everything but printable ASCII: always valid TOML, whatever the text
    return (
        '"'
        + "".join(
            c
            if 0x20 <= ord(c) < 0x7F and c not in '"\\'
            else (f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}")
            for c in text
        )
        + '"'
    )


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)  # nan, inf, -inf and 1e+300 are TOML as written
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{_toml_string(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"


def _toml_document(doc: dict[str, Any]) -> bytes:
    return "".join(f"{_toml_string(k)} = {_toml_value(v)}\n" for k, v in doc.items()).encode()


# -- values: what a user (or a broken editor) may put anywhere ---------------------------

SCALARS = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 1, 2**63, -(2**63) - 1, 10**30]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["", "off", "auto", "/", "{id}", "/items/{id}", "..", "\x00", "GET", "api"]),
    st.sampled_from(["latency", "kill", "process", "toxic", "downstream", "SIGKILL", "smoke"]),
    st.datetimes(timezones=st.none() | st.just(dt.UTC)),
    st.dates(),
    st.times(),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=8,
)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if typing.get_origin(annotation) is None and not isinstance(annotation, types.UnionType):
        return []
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def shaped(model: type[BaseModel]) -> st.SearchStrategy[dict[str, Any]]:
    """A table with ``model``'s field names (some), nasty values, now and then a stranger."""
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for name, info in model.model_fields.items():
        nested = _models_in(info.annotation)
        value = VALUES
        if nested:
            table = st.one_of(*(shaped(m) for m in nested))
            value = table | st.lists(table, min_size=1, max_size=2) | VALUES
        fields[info.alias or name] = value
    known = st.fixed_dictionaries({}, optional=fields)  # type: ignore[arg-type]
    strangers = st.dictionaries(st.text(max_size=8), VALUES, max_size=1)
    return st.tuples(strangers, known).map(lambda pair: {**pair[0], **pair[1]})


def _leaves(node: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    children = node.items() if isinstance(node, dict) else enumerate(node)
    out = [at] if at else []
    for key, child in children:
        if isinstance(child, dict | list) and child:
            out += _leaves(child, (*at, key))
        else:
            out.append((*at, key))
    return out


def mutated(base: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A shipped file with one value replaced by a nasty one, or one key dropped."""

    def apply(path: tuple[Any, ...], value: Any, drop: bool) -> dict[str, Any]:
        doc = json.loads(json.dumps(base))  # a deep copy (shipped files have no dates)
        node = doc
        for key in path[:-1]:
            node = node[key]
        if drop and isinstance(node, dict):
            del node[path[-1]]
        else:
            node[path[-1]] = value
        return doc

    return st.builds(apply, st.sampled_from(_leaves(base)), VALUES, st.booleans())


def _raw(valid: bytes) -> st.SearchStrategy[bytes]:
    """Bytes: random, a valid file with bytes changed, and the classic nasty files."""

    def spoil(data: bytes, at: int, junk: bytes, cut: bool) -> bytes:
        at %= len(data) + 1
        return data[:at] if cut else data[:at] + junk + data[at + len(junk) :]

    classics = [
        b"",
        b"\n",
        b"\xef\xbb\xbf" + valid,  # a UTF-8 byte order mark
        valid.decode().encode("utf-16"),
        valid.decode().encode("latin-1", "replace") + b'\nx = "\xe9"\n',
        b"a = " + b"[" * 5000 + b"]" * 5000,
        b"a = " + b"{b = " * 2000 + b"1" + b"}" * 2000,
        b"[" + b".".join(b"k%d" % i for i in range(3000)) + b"]\n",
        b"[profiles.smoke." + b".".join(b"k%d" % i for i in range(1500)) + b"]\n",
        b'x = "\x00"\n',
    ]
    return st.one_of(
        st.binary(max_size=64),
        st.sampled_from(classics),
        st.builds(
            spoil,
            st.just(valid),
            st.integers(0, 10**6),
            st.binary(min_size=1, max_size=4),
            st.booleans(),
        ),
    )


# -- the property -------------------------------------------------------------------------


def _read(path: Path, load: Callable[[], object]) -> object | None:
    """The loaded value, or None for the harness's error; that error must name the file."""
    try:
        return load()
    except (ConfigError, ScenarioError) as exc:
        message = str(exc)
    assert str(path) in message, message
    return None


# -- the config file ------------------------------------------------------------------------

_SHIPPED_CONFIG = (REPO / "harness" / "defaults.toml").read_bytes()
PROFILE_NAMES = st.sampled_from(["smoke", "ci", "release", "mine"]) | st.text(max_size=5)
CONFIG_DOCS = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "default_profile": PROFILE_NAMES | VALUES,
            "profiles": st.dictionaries(PROFILE_NAMES, shaped(Profile) | VALUES, max_size=2)
            | VALUES,
        },
    ),
    mutated(tomllib.loads(_SHIPPED_CONFIG.decode())),
    st.dictionaries(st.text(max_size=8), VALUES, max_size=2),
)
# how the harness finds the file: named by --config, or found in the working directory
HOW = st.sampled_from(["--config", "reliability.toml", "pyproject.toml", "--config pyproject"])
# an override through the environment or --set acts on whatever the file left
ENVIRON = st.sampled_from([{}, {"RELIABILITY__TESTS__REPEAT": "3"}])
OVERRIDES = st.sampled_from([(), ("load.users=2",)])


def _check_config(
    tmp_path: Path, data: bytes, how: str, environ: dict[str, str], overrides: tuple[str, ...]
) -> None:
    for stale in ("reliability.toml", "pyproject.toml"):
        (tmp_path / stale).unlink(missing_ok=True)
    path = tmp_path / ("reliability.toml" if how == "reliability.toml" else "pyproject.toml")
    path.write_bytes(data)
    explicit = str(path) if how.startswith("--config") else None
    config = _read(
        path,
        lambda: load_config(
            config_file=explicit, environ=environ, overrides=overrides, cwd=tmp_path
        ),
    )
    if config is not None:
        assert isinstance(config, ResolvedConfig)
        assert isinstance(config.profile, Profile)
        assert config.source in (str(path), "embedded defaults")


def _pyproject(doc: dict[str, Any], how: str) -> dict[str, Any]:
    return {"tool": {"reliability": doc}} if how.endswith("pyproject.toml") else doc


@FUZZ
@given(doc=CONFIG_DOCS, how=HOW, environ=ENVIRON, overrides=OVERRIDES)
def test_a_config_document_loads_or_is_a_config_error(
    tmp_path: Path,
    doc: dict[str, Any],
    how: str,
    environ: dict[str, str],
    overrides: tuple[str, ...],
) -> None:
    wrapped = _pyproject(doc, how) if how != "--config pyproject" else {"tool": doc}
    _check_config(tmp_path, _toml_document(wrapped), how, environ, overrides)


@FUZZ
@given(data=_raw(_SHIPPED_CONFIG), how=HOW)
def test_config_bytes_load_or_are_a_config_error(tmp_path: Path, data: bytes, how: str) -> None:
    _check_config(tmp_path, data, how, {"RELIABILITY__TESTS__REPEAT": "3"}, ())


# -- chaos experiments ------------------------------------------------------------------------

_SHIPPED_EXPERIMENTS = sorted((REPO / "scenarios" / "chaos").glob("*.toml"))
EXPERIMENT_DOCS = st.one_of(
    shaped(Experiment),
    *(mutated(tomllib.loads(p.read_text(encoding="utf-8"))) for p in _SHIPPED_EXPERIMENTS),
)


def _check_experiment(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "fuzzed.toml"
    path.write_bytes(data)
    experiment = _read(path, lambda: load_experiment(path))
    if experiment is not None:
        assert isinstance(experiment, Experiment)
        assert experiment.link in LINKS
        assert experiment.source == str(path)


@FUZZ
@given(doc=EXPERIMENT_DOCS)
def test_an_experiment_document_loads_or_is_a_scenario_error(
    tmp_path: Path, doc: dict[str, Any]
) -> None:
    _check_experiment(tmp_path, _toml_document(doc))


@FUZZ
@given(data=_raw(_SHIPPED_EXPERIMENTS[0].read_bytes()))
def test_experiment_bytes_load_or_are_a_scenario_error(tmp_path: Path, data: bytes) -> None:
    _check_experiment(tmp_path, data)


@FUZZ
@given(names=st.lists(st.text(max_size=12) | st.sampled_from(["api-latency", "x.toml", "/"])))
def test_experiment_names_find_experiments_or_are_a_scenario_error(names: list[str]) -> None:
    directory = REPO / "scenarios" / "chaos"
    try:
        found = find_experiments(directory, names, where="chaos.experiments from the fuzzer")
    except ScenarioError as exc:
        message = str(exc)
    else:
        assert [e.name for e in found] == (names or [p.stem for p in _SHIPPED_EXPERIMENTS])
        return
    assert "chaos.experiments from the fuzzer" in message, message


# -- load files ------------------------------------------------------------------------------

_SHIPPED_LOAD = (REPO / "scenarios" / "load" / "ping.toml").read_bytes()
_CSV_LOAD = {
    "requests": [
        {"path": "/items/{id}", "values": {"id": {"csv": "ids.csv", "column": "id"}}},
        {"method": "POST", "path": "/items", "json": {"n": "{n}"}, "values": {"n": [1, 2]}},
    ]
}
LOAD_DOCS = st.one_of(
    shaped(_LoadFileModel),
    mutated(tomllib.loads(_SHIPPED_LOAD.decode())),
    mutated(_CSV_LOAD),
)
CSV_FILES = st.one_of(
    st.just(b"id\n1\n2\n"),
    st.binary(max_size=32),
    st.just(b"id\n\xff\xfe\n"),
    st.just(b'id\n"' + b"x" * 200_000 + b'"\n'),  # past the csv module's field limit
    st.just(b"id\n" + b"7\n" * 100_001),  # past MAX_VALUES
)


def _check_load_file(tmp_path: Path, data: bytes, csv_file: bytes = b"id\n1\n") -> None:
    (tmp_path / "ids.csv").write_bytes(csv_file)
    path = tmp_path / "fuzzed.toml"
    path.write_bytes(data)
    spec = _read(path, lambda: load_load_spec(path, TARGET))
    if spec is not None:
        assert isinstance(spec, LoadSpec)
        # a loaded spec crosses to the Locust child as JSON, and every request renders
        crossed = LoadSpec.from_json(json.loads(json.dumps(spec.to_json(), allow_nan=False)))
        assert crossed == spec
        for request in spec.requests:
            request.render(random.Random(0))


@FUZZ
@given(doc=LOAD_DOCS)
def test_a_load_document_loads_or_is_a_scenario_error(tmp_path: Path, doc: dict[str, Any]) -> None:
    _check_load_file(tmp_path, _toml_document(doc))


@FUZZ
@given(data=_raw(_SHIPPED_LOAD))
def test_load_file_bytes_load_or_are_a_scenario_error(tmp_path: Path, data: bytes) -> None:
    _check_load_file(tmp_path, data)


@settings(FUZZ, max_examples=25)
@given(csv_file=CSV_FILES)
def test_a_csv_of_values_loads_or_is_a_scenario_error(tmp_path: Path, csv_file: bytes) -> None:
    _check_load_file(tmp_path, _toml_document(_CSV_LOAD), csv_file)


# -- the crashes the fuzzer found, kept as plain examples ---------------------------------


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (b'default_profile = "\xff"\n', "utf-8"),
        (b"a = " + b"[" * 5000 + b"]" * 5000, "nested"),
        (b"[profiles.smoke." + b".".join(b"k%d" % i for i in range(1500)) + b"]\n", "k30 is"),
        (b"default_profile = [1]\n", "default_profile"),
        (b"profiles.smoke = 1\n", "profiles.smoke"),
    ],
)
def test_config_file_crashes_are_config_errors_naming_the_field(
    tmp_path: Path, data: bytes, field: str
) -> None:
    path = tmp_path / "reliability.toml"
    path.write_bytes(data)
    with pytest.raises(ConfigError) as caught:
        load_config(config_file=str(path), environ={"RELIABILITY__TESTS__REPEAT": "3"})
    assert str(path) in str(caught.value)
    assert field in str(caught.value).lower()


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("tool = 1\n", "[tool.reliability]"),
        ("[tool]\nreliability = 1\n", "tool.reliability"),
        ("[tool]\nreliability = [1]\n", "tool.reliability"),
    ],
)
def test_a_pyproject_without_a_reliability_table_is_a_config_error(
    tmp_path: Path, text: str, field: str
) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=field.replace("[", r"\[").replace("]", r"\]")):
        load_config(config_file=str(path), environ={})


def test_a_pyproject_found_with_a_reliability_value_not_a_table_is_a_config_error(
    tmp_path: Path,
) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool]\nreliability = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="tool.reliability"):
        load_config(environ={}, cwd=tmp_path)


def test_a_pyproject_found_that_is_not_utf8_is_someone_elses(tmp_path: Path) -> None:
    # as an invalid pyproject.toml found in the directory is: not ours, the defaults serve
    (tmp_path / "pyproject.toml").write_bytes(b"[project]\nname = '\xff'\n")
    assert load_config(environ={}, cwd=tmp_path).source == "embedded defaults"


def test_a_directory_as_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        load_config(config_file=str(tmp_path), environ={})


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (b'title = "\xff"\n', "utf-8"),
        (b"a = " + b"[" * 5000 + b"]" * 5000, "nested"),
        (b"[attributes." + b".".join(b"k%d" % i for i in range(1500)) + b"]\n", "k63 is nested"),
    ],
)
def test_experiment_file_crashes_are_scenario_errors(
    tmp_path: Path, data: bytes, field: str
) -> None:
    path = tmp_path / "x.toml"
    path.write_bytes(data)
    with pytest.raises(ScenarioError) as caught:
        load_experiment(path)
    assert str(path) in str(caught.value)
    assert field in str(caught.value).lower()


def test_a_directory_as_experiment_file_is_a_scenario_error(tmp_path: Path) -> None:
    (tmp_path / "x.toml").mkdir()
    with pytest.raises(ScenarioError, match="cannot be read"):
        load_experiment(tmp_path / "x.toml")


@pytest.mark.parametrize(
    ("data", "csv_file", "field"),
    [
        (b'name = "\xff"\n', b"", "utf-8"),
        (b"a = " + b"[" * 5000 + b"]" * 5000, b"", "nested"),
        (b"[json." + b".".join(b"k%d" % i for i in range(1500)) + b"]\n", b"", "k63 is nested"),
        (_toml_document(_CSV_LOAD), b"id\n\xff\n", "requests[0].values.id"),
        (_toml_document(_CSV_LOAD), b'id\n"' + b"x" * 200_000 + b'"\n', "requests[0].values.id"),
        (
            b'[[requests]]\npath = "/"\njson = { at = 1979-05-27T07:32:00Z }\n',
            b"",
            "requests[0].json",
        ),
        (b'[[requests]]\npath = "/"\njson = { n = nan }\n', b"", "requests[0].json"),
        (
            b'[[requests]]\npath = "/{id}"\nvalues = { id = { csv = "\\u0000", column = "id" } }\n',
            b"",
            "requests[0].values.id",
        ),
    ],
)
def test_load_file_crashes_are_scenario_errors(
    tmp_path: Path, data: bytes, csv_file: bytes, field: str
) -> None:
    (tmp_path / "ids.csv").write_bytes(csv_file)
    path = tmp_path / "x.toml"
    path.write_bytes(data)
    with pytest.raises(ScenarioError) as caught:
        load_load_spec(path, TARGET)
    assert str(path) in str(caught.value)
    assert field in str(caught.value).lower()
