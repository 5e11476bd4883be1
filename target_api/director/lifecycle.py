"""A pod's lifecycle as an explicit state machine, and a job's states.

::

    empty --attach--> starting --> running <--> restarting
                         |            |             |
                         v            v             v
                       failed      stopped / failed
    (any state) --delete--> deleting

``empty``: created without a stack. ``stopped``: every container ended and the restart
policy restarts none (all exited 0). ``failed``: a container could not start, or failed
and its policy or restart budget did not bring it back.
"""

from __future__ import annotations

from collections.abc import Sequence

EMPTY, STARTING, RUNNING, RESTARTING = "empty", "starting", "running", "restarting"
STOPPED, FAILED, DELETING = "stopped", "failed", "deleting"
POD_STATES = (EMPTY, STARTING, RUNNING, RESTARTING, STOPPED, FAILED, DELETING)
ACTIVE_POD_STATES = (STARTING, RUNNING, RESTARTING)

POD_TRANSITIONS: dict[str, frozenset[str]] = {
    EMPTY: frozenset({STARTING, DELETING}),
    STARTING: frozenset({RUNNING, FAILED, DELETING, STARTING}),  # STARTING again: reconcile
    RUNNING: frozenset({RESTARTING, STOPPED, FAILED, DELETING, STARTING}),
    RESTARTING: frozenset({RUNNING, FAILED, STOPPED, DELETING, STARTING}),
    STOPPED: frozenset({DELETING}),
    FAILED: frozenset({DELETING}),
    DELETING: frozenset(),
}

RESTART_POLICIES = ("always", "on_failure", "never")

QUEUED, JOB_RUNNING, SUCCEEDED = "queued", "running", "succeeded"
JOB_FAILED, TIMED_OUT, CANCELLED = "failed", "timed_out", "cancelled"
JOB_STATES = (QUEUED, JOB_RUNNING, SUCCEEDED, JOB_FAILED, TIMED_OUT, CANCELLED)
FINAL_JOB_STATES = (SUCCEEDED, JOB_FAILED, TIMED_OUT, CANCELLED)


def can_move(current: str, target: str) -> bool:
    """Whether a pod may go from ``current`` to ``target``."""
    return target in POD_TRANSITIONS.get(current, frozenset())


def sources_of(target: str) -> Sequence[str]:
    """Every state a pod may reach ``target`` from: the guard of a compare-and-set."""
    return tuple(s for s in POD_STATES if target in POD_TRANSITIONS[s])


def should_restart(policy: str, exit_code: int) -> bool:
    """Whether a container that ended with ``exit_code`` is restarted under ``policy``."""
    if policy == "always":
        return True
    if policy == "on_failure":
        return exit_code != 0
    return False
