"""The nines stopping rule: where a claim of request success stands (pure maths)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import stats
from harness.config import load_config
from harness.load.result import LoadProgress
from harness.phases.load_stop import first_of, proof_of, proof_rule


def test_299572_clean_requests_prove_five_nines() -> None:
    proof = proof_of(0.99999, 299_572, 299_572, 0, 33.0)
    assert proof.outcome == "proven"
    assert proof.lower_bound == pytest.approx(0.99999, abs=1e-9)
    assert proof.requests_needed is None
    assert proof_of(0.99999, None, 299_571, 0).outcome == "not shown"


def test_one_failure_makes_five_nines_impossible_within_a_299572_budget() -> None:
    assert proof_of(0.99999, 299_572, 1_000, 1).outcome == "impossible"
    # with room for it (1 failure needs ~474,000 requests), it is only not shown yet
    roomy = proof_of(0.99999, 600_000, 1_000, 1)
    assert roomy.outcome == "not shown"
    assert roomy.requests_needed == stats.trials_needed(0.99999, 999, 1_000)


def test_not_shown_states_the_clean_requests_still_needed() -> None:
    proof = proof_of(0.99999, 299_572, 100_000, 0)
    assert proof.outcome == "not shown"
    assert proof.requests_needed == 199_572


def test_the_rule_stops_on_the_proof_or_on_its_impossibility_and_else_goes_on() -> None:
    rule = proof_rule(0.999, 2995)
    assert rule(LoadProgress(1.0, 10.0, 1000, 0)) is None
    by, why = rule(LoadProgress(2.0, 10.0, 2995, 0)) or ("", "")
    assert by == "nines"
    assert "proven: 2,995/2,995" in why
    by, why = rule(LoadProgress(1.0, 10.0, 500, 1)) or ("", "")
    assert "cannot be shown within the budget of 2,995 requests" in why
    assert first_of(None, None) is None


def test_the_nines_profile_asks_for_exactly_the_requests_that_prove_five_nines() -> None:
    profile = load_config(profile="nines", environ={}, cwd=Path("/nonexistent")).profile
    load = profile.load
    assert load.prove_success == 0.99999
    assert load.max_requests == stats.trials_needed(0.99999, 0, 0) == 299_572
    assert load.rate_rps == 0  # the closed model: as fast as the machine goes
    assert profile.gates.load_error_rate == 0.00001
    assert not profile.chaos.enabled
