"""Validation of chaos experiment files: process faults, links, and the shipped experiments."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ScenarioError
from harness.faults.runner import rewrite_database_url
from harness.faults.scenario import find_experiments, load_experiment

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "scenarios" / "chaos"

HEAD = 'title = "t"\n'


def _write(tmp_path: Path, body: str, name: str = "exp.toml") -> Path:
    path = tmp_path / name
    path.write_text(HEAD + body)
    return path


def _problems(path: Path) -> str:
    with pytest.raises(ScenarioError) as info:
        load_experiment(path)
    return str(info.value)


def test_a_kill_defaults_to_sigkill_and_a_pause_keeps_its_duration(tmp_path: Path) -> None:
    kill = load_experiment(_write(tmp_path, '[[method]]\nkind = "process"\ntype = "kill"\n'))
    assert kill.process_fault is not None
    assert kill.process_fault.kill_signal == "SIGKILL"
    pause = load_experiment(
        _write(tmp_path, '[[method]]\nkind = "process"\ntype = "pause"\nduration_s = 1.5\n', "p")
    )
    assert pause.process_fault is not None
    assert pause.process_fault.duration_s == 1.5


def test_an_unknown_fault_kind_is_rejected_with_the_valid_kinds_file_and_field(
    tmp_path: Path,
) -> None:
    path = _write(tmp_path, '[[method]]\nkind = "disk"\ntype = "kill"\n')
    message = _problems(path)
    assert str(path) in message
    assert "field method[0]" in message
    assert "unknown fault kind 'disk'; valid kinds: toxic, process" in message


def test_an_unknown_process_fault_type_lists_kill_and_pause(tmp_path: Path) -> None:
    message = _problems(_write(tmp_path, '[[method]]\nkind = "process"\ntype = "freeze"\n'))
    assert "unknown process fault type 'freeze'; valid types: kill, pause" in message


def test_an_unknown_signal_lists_the_valid_signals(tmp_path: Path) -> None:
    body = '[[method]]\nkind = "process"\ntype = "kill"\nsignal = "SIGHUP"\n'
    message = _problems(_write(tmp_path, body))
    assert "unknown signal 'SIGHUP' for kill; valid signals: SIGKILL, SIGTERM" in message


def test_pause_refuses_a_signal_and_toxics_refuse_one_too(tmp_path: Path) -> None:
    body = '[[method]]\nkind = "process"\ntype = "pause"\nsignal = "SIGKILL"\n'
    assert "pause always sends SIGSTOP then SIGCONT" in _problems(_write(tmp_path, body))
    body = '[[method]]\ntype = "latency"\nsignal = "SIGKILL"\n'
    assert "signal applies to process faults only" in _problems(_write(tmp_path, body, "t2"))


def test_a_process_fault_acts_on_the_api_only(tmp_path: Path) -> None:
    body = '[[method]]\nkind = "process"\ntype = "kill"\nlink = "database"\n'
    assert "link must be 'api', not 'database'" in _problems(_write(tmp_path, body))


def test_an_unknown_link_lists_the_valid_links(tmp_path: Path) -> None:
    body = '[[method]]\ntype = "latency"\nlink = "cache"\n'
    assert "unknown link 'cache'; valid links: api, database" in _problems(_write(tmp_path, body))


def test_one_experiment_acts_on_one_link(tmp_path: Path) -> None:
    body = (
        '[[method]]\ntype = "latency"\nlink = "api"\n'
        '[[method]]\ntype = "latency"\nlink = "database"\n'
    )
    assert "method mixes links api, database" in _problems(_write(tmp_path, body))


def test_a_process_fault_is_the_only_entry_of_its_method(tmp_path: Path) -> None:
    body = '[[method]]\nkind = "process"\ntype = "kill"\n[[method]]\ntype = "latency"\n'
    assert "a process fault must be the only entry" in _problems(_write(tmp_path, body))


def test_every_problem_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    body = (
        '[[method]]\nkind = "process"\ntype = "nap"\n'
        '[[method]]\ntype = "latency"\nattributes = { delay = 1 }\n'
    )
    message = _problems(_write(tmp_path, body))
    assert "field method[0]" in message
    assert "field method[1]" in message


def test_the_shipped_experiments_validate_and_act_where_they_say() -> None:
    experiments = {e.name: e for e in find_experiments(SHIPPED, [], where="test")}
    assert {"api-latency", "api-reset-peer", "api-kill", "api-pause"} <= set(experiments)
    assert experiments["api-reset-peer"].method[0].type == "reset_peer"
    kill = experiments["api-kill"].process_fault
    assert kill is not None
    assert (kill.type, kill.kill_signal) == ("kill", "SIGKILL")
    assert experiments["api-kill"].expect.max_recovery_s == 30.0
    pause = experiments["api-pause"].process_fault
    assert pause is not None
    assert pause.type == "pause"
    db = experiments["db-latency-under-load"]
    assert db.link == "database"
    assert db.load.enabled
    assert db.steady_state.path == "/api/v0/health/ready"  # touches the database
    assert db.method[0].attributes["latency"] == 300


def test_the_database_url_keeps_credentials_database_and_query_when_rewritten() -> None:
    url = "postgresql://moonbase:s3cret@127.0.0.1:5432/moonbase_test?sslmode=disable"
    assert rewrite_database_url(url, "127.0.0.1", 40001) == (
        "postgresql://moonbase:s3cret@127.0.0.1:40001/moonbase_test?sslmode=disable"
    )
    assert rewrite_database_url("postgresql://localhost/db", "127.0.0.1", 9) == (
        "postgresql://127.0.0.1:9/db"
    )
