"""The task lifecycle of SPEC section 2, as tables: status after each event, statistics
after each outcome, and what `list` and `show` call a task."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from tapesched import lifecycle as module

T0 = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)
T1 = T0 + timedelta(seconds=90)


@dataclass
class Task:
    enabled: bool = True
    status: str = "active"
    total_runs: int = 3
    success_runs: int = 2
    failure_runs: int = 1


# SPEC section 2: active enabled and waiting; inactive disabled; running a run in progress;
# paused its last run was stopped by an operator; error its last run failed (or was lost).
# (event, enabled, status before, status after)
STATUS_TABLE = [
    # a run ends
    ("success", True, "running", "active"),
    ("failed", True, "running", "error"),
    ("lost", True, "running", "error"),
    ("cancelled", True, "running", "paused"),
    ("success", True, "error", "active"),
    ("success", True, "paused", "active"),
    ("failed", True, "paused", "error"),
    # a run of a task disabled meanwhile ends: the task is inactive, whatever the outcome
    ("success", False, "running", "inactive"),
    ("failed", False, "running", "inactive"),
    ("lost", False, "running", "inactive"),
    ("cancelled", False, "running", "inactive"),
    # an outcome that is not a run (a skipped slot) leaves the status alone
    ("skipped", True, "error", "error"),
    ("skipped", True, "active", "active"),
]


@pytest.mark.parametrize(("outcome", "enabled", "before", "after"), STATUS_TABLE)
def test_status_after_an_outcome(outcome: str, enabled: bool, before: str, after: str) -> None:
    assert module.status_after(enabled, before, outcome) == after
    changes = module.after_execution(
        Task(enabled=enabled, status=before), module.Outcome(outcome, T0, T1), 45.0
    )
    assert changes["status"] == after


# (enabled now, status before, status after)
ENABLING_TABLE = [
    (True, "inactive", "active"),
    (True, "active", "active"),
    (True, "paused", "paused"),  # it stays scheduled; the operator's stop is still its last run
    (True, "error", "error"),  # the next run may succeed
    (True, "running", "running"),
    (False, "active", "inactive"),
    (False, "paused", "inactive"),
    (False, "error", "inactive"),
    (False, "running", "running"),  # the run in progress goes on; its end makes it inactive
]


@pytest.mark.parametrize(("enabled", "before", "after"), ENABLING_TABLE)
def test_status_after_enabling_or_disabling(enabled: bool, before: str, after: str) -> None:
    assert module.status_after_enabling(enabled, before) == after


def test_a_started_run_makes_the_task_running() -> None:
    assert module.status_on_start() == "running"


# (outcome, started, total, success, failure, last run, last success, last failure, timed)
STATISTICS_TABLE = [
    ("success", True, 4, 3, 1, T0, T1, None, True),
    ("failed", True, 4, 2, 2, T0, None, T1, True),
    ("cancelled", True, 4, 2, 1, T0, None, None, False),
    ("lost", True, 3, 2, 2, None, None, T1, False),  # a failure, not a run
    ("lost", False, 3, 2, 2, None, None, T1, False),  # "runner never started"
    ("skipped", False, 3, 2, 1, None, None, None, False),  # counts as nothing
    ("failed", False, 4, 2, 2, T1, None, T1, False),  # failed before it started: no duration
]


@pytest.mark.parametrize(
    (
        "outcome", "started", "total", "success", "failure", "last_run", "last_success",
        "last_failure", "timed",
    ),
    STATISTICS_TABLE,
)  # fmt: skip
def test_statistics_after_an_outcome(
    outcome, started, total, success, failure, last_run, last_success, last_failure, timed
) -> None:
    result = module.Outcome(outcome, T0 if started else None, T1)
    changes = module.after_execution(Task(), result, average=42.0)
    merged = {**vars(Task()), **changes}
    assert (merged["total_runs"], merged["success_runs"], merged["failure_runs"]) == (
        total,
        success,
        failure,
    )
    assert changes.get("last_run_time") == last_run
    assert changes.get("last_success_time") == last_success
    assert changes.get("last_failure_time") == last_failure
    assert result.timed is timed
    if timed:
        assert changes["average_duration"] == 42.0 and changes["last_duration"] == 90.0
    else:
        assert "average_duration" not in changes and "last_duration" not in changes
    assert changes["updated_at"] == T1


@pytest.mark.parametrize(
    ("status", "started", "duration"),
    [
        ("success", T0, 90.0),
        ("failed", T0, 90.0),
        ("cancelled", T0, 90.0),
        ("lost", T0, None),
        ("skipped", None, None),
        ("success", None, None),
        ("success", T1 + timedelta(seconds=5), 0.0),  # a clock step back never makes it negative
    ],
)
def test_duration_only_for_runs_that_started(status, started, duration) -> None:
    assert module.Outcome(status, started, T1).duration == duration


# (status, enabled, running, due, device busy, shown)
DISPLAY_TABLE = [
    ("active", True, True, False, False, "running"),
    ("active", False, True, False, False, "running"),  # disabled while its run goes on
    ("active", False, False, True, True, "inactive"),
    ("active", True, False, True, True, "queued"),
    ("error", True, False, True, True, "queued"),
    ("active", True, False, True, False, "active"),  # due, its drive free: the tick takes it
    ("active", True, False, False, True, "active"),  # drive busy, not due: nothing waits
    ("running", True, False, False, False, "active"),  # a stale "running" with no run
    ("paused", True, False, False, False, "paused"),
    ("error", True, False, False, False, "error"),
]


@pytest.mark.parametrize(("status", "enabled", "running", "due", "busy", "shown"), DISPLAY_TABLE)
def test_displayed_state(status, enabled, running, due, busy, shown) -> None:
    assert module.displayed_state(status, enabled, running, due, busy) == shown
    assert shown in module.DISPLAYED_STATES


@pytest.mark.parametrize(
    ("status", "enabled", "running", "due", "busy", "shown"),
    [
        ("active", True, False, True, False, "waiting"),  # due, outside its window
        ("error", True, False, True, False, "waiting"),
        ("active", True, False, True, True, "queued"),  # its drive first
        ("active", True, False, False, False, "active"),  # not due: nothing waits
        ("active", False, False, True, False, "inactive"),
        ("active", True, True, True, False, "running"),
    ],
)
def test_displayed_state_outside_the_window(status, enabled, running, due, busy, shown) -> None:
    assert module.displayed_state(status, enabled, running, due, busy, window_closed=True) == shown
    assert shown in module.DISPLAYED_STATES
