"""Validation of chaos experiment files: process faults, links, and the shipped experiments."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from harness.chaos.executor import rewrite_database_url
from harness.chaos.experiment import find_experiments, load_experiment
from harness.config import ChaosSettings
from harness.errors import ScenarioError, UsageError
from harness.phases import check_chaos_experiments

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


KILL_CONTAINER = '[[method]]\nkind = "process"\ntype = "kill_container"\n'


def test_a_container_kill_defaults_to_sigkill_on_a_sleeping_pod_restarted_always(
    tmp_path: Path,
) -> None:
    experiment = load_experiment(_write(tmp_path, KILL_CONTAINER))
    assert experiment.process_fault is not None
    assert experiment.process_fault.kill_signal == "SIGKILL"
    assert experiment.pod_spec is not None
    assert (experiment.pod_spec.command, experiment.pod_spec.restart_policy) == (
        ["sleep", "600"],
        "always",
    )
    configured = load_experiment(
        _write(
            tmp_path,
            KILL_CONTAINER + 'signal = "SIGTERM"\n[pod]\ncommand = ["sleep", "60"]\n'
            'restart_policy = "on_failure"\n',
            "configured.toml",
        )
    )
    assert configured.process_fault is not None
    assert configured.process_fault.kill_signal == "SIGTERM"
    assert configured.pod_spec is not None
    assert configured.pod_spec.restart_policy == "on_failure"


def test_a_bad_pod_table_names_the_file_every_field_and_what_is_valid(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        KILL_CONTAINER + '[pod]\ncommand = []\nrestart_policy = "sometimes"\nimage = "x"\n',
    )
    message = _problems(path)
    assert str(path) in message
    assert "field pod.command" in message
    assert "field pod.restart_policy" in message
    assert "'always'" in message
    assert "'sometimes'" in message
    assert "field pod.image: unknown field" in message


def test_a_container_kill_refuses_a_stop_signal_and_names_the_valid_ones(tmp_path: Path) -> None:
    message = _problems(_write(tmp_path, KILL_CONTAINER + 'signal = "SIGSTOP"\n'))
    assert "field method[0]" in message
    assert "unknown signal 'SIGSTOP' for kill_container" in message
    assert "SIGKILL" in message


def test_a_pod_table_belongs_to_a_container_kill_only(tmp_path: Path) -> None:
    body = '[[method]]\nkind = "process"\ntype = "kill"\n[pod]\nrestart_policy = "never"\n'
    assert '[pod] applies to kind = "process", type = "kill_container" only' in _problems(
        _write(tmp_path, body)
    )


def test_a_container_kill_probes_its_pod_so_a_probe_path_is_refused(tmp_path: Path) -> None:
    body = KILL_CONTAINER + '[steady_state]\npath = "/api/v0/ping"\n'
    assert "remove steady_state.path" in _problems(_write(tmp_path, body))


def test_a_container_kill_is_the_only_entry_of_its_method(tmp_path: Path) -> None:
    body = KILL_CONTAINER + '[[method]]\ntype = "latency"\nattributes = { latency = 1 }\n'
    assert "a process fault must be the only entry of its method" in _problems(
        _write(tmp_path, body)
    )


def test_the_shipped_pod_experiment_kills_a_container_restarted_always() -> None:
    (experiment,) = find_experiments(SHIPPED, ["pod-container-kill"], where="test")
    fault = experiment.process_fault
    assert fault is not None
    assert (fault.type, fault.kill_signal) == ("kill_container", "SIGKILL")
    assert experiment.pod_spec is not None
    assert experiment.pod_spec.restart_policy == "always"
    assert experiment.expect.max_recovery_s == 30.0


def test_a_container_kill_is_refused_for_an_external_target(tmp_path: Path) -> None:
    (tmp_path / "pod.toml").write_text(HEAD + KILL_CONTAINER)
    settings = ChaosSettings(experiments=["pod"], directory=str(tmp_path))
    with pytest.raises(UsageError) as info:
        check_chaos_experiments(settings, base_dir=tmp_path, external_target=True)
    assert "'pod'" in str(info.value)
    assert "kill_container" in str(info.value)
    assert "--target-url" in str(info.value)
    assert check_chaos_experiments(settings, base_dir=tmp_path)[0].name == "pod"


def test_the_ci_and_release_profiles_run_the_pod_experiment() -> None:
    defaults = tomllib.loads((ROOT / "harness" / "defaults.toml").read_text())
    for profile in ("ci", "release"):
        assert "pod-container-kill" in defaults["profiles"][profile]["chaos"]["experiments"]
