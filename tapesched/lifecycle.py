"""A task's lifecycle (SPEC section 2): pure functions, no I/O, no clock.

What a task's status and statistics become after one of its executions ends,
when a run starts, when it is enabled or disabled, and what `list` and `show`
call it. The store applies these answers; it decides nothing itself.

Statistics: `success` and `failed` count as runs and feed the average
duration; `cancelled` counts as a run, neither success nor failure; `lost`
counts as a failure but not as a run; `skipped` counts as nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

TASK_STATUSES = ("active", "inactive", "running", "paused", "error")
EXECUTION_STATUSES = ("running", "success", "failed", "cancelled", "skipped", "lost")
FINAL_STATUSES = EXECUTION_STATUSES[1:]
TRIGGERS = ("schedule", "catch_up", "manual", "retry")
# What `list` and `show` may call a task: its status, `queued` (due, its drive busy) or
# `waiting` (due, outside its start window).
DISPLAYED_STATES = (*TASK_STATUSES, "queued", "waiting")

COUNTS_AS_RUN = frozenset({"success", "failed", "cancelled"})
COUNTS_AS_FAILURE = frozenset({"failed", "lost"})
TIMED = frozenset({"success", "failed"})  # the outcomes the average duration covers
# The status an enabled task takes after an outcome; any other outcome leaves it alone.
STATUS_AFTER = {"success": "active", "failed": "error", "lost": "error", "cancelled": "paused"}


class TaskState(Protocol):
    """What the lifecycle reads of a task (a stored row or a record of one)."""

    enabled: bool
    status: str
    total_runs: int
    success_runs: int
    failure_runs: int


@dataclass(frozen=True)
class Outcome:
    """How one execution ended."""

    status: str
    started_at: datetime | None
    completed_at: datetime

    @property
    def duration(self) -> float | None:
        """Seconds the run took, for the outcomes that ran (None if it never started)."""
        if self.started_at is None or self.status not in COUNTS_AS_RUN:
            return None
        return max(0.0, (self.completed_at - self.started_at).total_seconds())

    @property
    def timed(self) -> bool:
        """Whether this outcome feeds the task's average duration."""
        return self.status in TIMED and self.duration is not None


def status_after(enabled: bool, status: str, outcome: str) -> str:
    """Given whether the task is enabled, its status and how a run ended, return its status."""
    if not enabled:
        return "inactive"
    return STATUS_AFTER.get(outcome, status)


def after_execution(
    task: TaskState, outcome: Outcome, average: float | None = None
) -> dict[str, Any]:
    """Given a task, how one of its executions ended and, for a timed outcome, the average
    duration of its timed runs in the history (this one included), return the task's fields
    that change."""
    changes: dict[str, Any] = {}
    if outcome.status in COUNTS_AS_RUN:
        changes["total_runs"] = task.total_runs + 1
        changes["last_run_time"] = outcome.started_at or outcome.completed_at
    if outcome.status == "success":
        changes["success_runs"] = task.success_runs + 1
        changes["last_success_time"] = outcome.completed_at
    elif outcome.status in COUNTS_AS_FAILURE:
        changes["failure_runs"] = task.failure_runs + 1
        changes["last_failure_time"] = outcome.completed_at
    if outcome.timed:
        changes["average_duration"] = average
        changes["last_duration"] = outcome.duration
    changes["status"] = status_after(task.enabled, task.status, outcome.status)
    changes["updated_at"] = outcome.completed_at
    return changes


def status_on_start() -> str:
    """The status of a task whose runner has started."""
    return "running"


def status_after_enabling(enabled: bool, status: str) -> str:
    """Given the new `enabled` and the task's status, return its status: enabling makes an
    inactive task active and keeps paused or error; disabling makes it inactive, except
    while a run is in progress (its end sets the status)."""
    if enabled:
        return "active" if status == "inactive" else status
    return status if status == "running" else "inactive"


def displayed_state(
    status: str,
    enabled: bool,
    running: bool,
    due: bool,
    device_busy: bool,
    window_closed: bool = False,
) -> str:
    """What `list` and `show` call a task: `running` with a run in progress, `inactive`
    when disabled, `queued` when due but its drive is busy, `waiting` when due outside its
    start window, else its status (a stale `running` with no run in progress reads
    `active`)."""
    if running:
        return "running"
    if not enabled:
        return "inactive"
    if due and device_busy:
        return "queued"
    if due and window_closed:
        return "waiting"
    if status == "running":
        return "active"
    return status
