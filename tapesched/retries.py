"""Retries (SPEC, issue 12): after a failed or lost run, when the task runs again.

A task with `retries N` runs again `retry_delay` seconds after a failed attempt,
twice that after the second, and so on (at most six hours), up to N times; a
retry that would start at or after the task's next scheduled run is dropped, the
scheduled run going ahead instead. A retry outside the task's start window waits
for its next opening. The store records the retry a run leaves pending in the
same transaction as its outcome; the tick claims it like a due slot. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

# A retry waits retry_delay after the first failed attempt, twice that after the second,
# and so on, never more than this.
MAX_RETRY_WAIT = timedelta(hours=6)
RETRIED = frozenset({"failed", "lost"})  # the outcomes a retry follows
# The runs that start or go on a series: a manual run is never retried (its operator
# sees its outcome), nor does it end a series that is pending.
IN_SERIES = frozenset({"schedule", "catch_up", "retry"})


class RetryPolicy(Protocol):
    """What the retry rule reads of a task."""

    retries: int
    retry_delay: int
    next_run_time: datetime | None
    start_window: str | None
    timezone: str


@dataclass(frozen=True)
class Retry:
    """A retry left pending: when it is due and which attempt it is."""

    at: datetime
    attempt: int

    def describe(self) -> str:
        return f"retry (attempt {self.attempt}) at {self.at:%Y-%m-%d %H:%M:%S} UTC"


def retry_wait(delay: int, attempt: int) -> timedelta:
    """How long after failed attempt `attempt` (1 for the first run) its retry waits."""
    return min(timedelta(seconds=delay) * 2 ** min(attempt - 1, 32), MAX_RETRY_WAIT)


def next_retry(
    task: RetryPolicy, attempt: int, trigger: str, status: str, ended: datetime
) -> Retry | None:
    """Given a task, the attempt, trigger and outcome of one of its runs and when it ended,
    return the retry that follows, or None: the outcome is not a failure, the run is not
    part of a series (manual), the task's retries are used up, or the retry (moved to its
    window's next opening if it would fall outside) would start at or after the task's
    next scheduled run, which goes ahead instead."""
    if status not in RETRIED or trigger not in IN_SERIES or attempt > task.retries:
        return None
    at = ended + retry_wait(task.retry_delay, attempt)
    if task.start_window:
        from tapesched import windows
        from tapesched.errors import InvalidInput

        try:
            if not windows.is_open(task.start_window, at, task.timezone):
                at = windows.next_opening(task.start_window, at, task.timezone)
        except InvalidInput:  # its zone is gone: the tick reports it when the retry is due
            pass
    if task.next_run_time is not None and at >= task.next_run_time:
        return None
    return Retry(at, attempt + 1)


def retry_fields(retry: Retry | None) -> dict[str, Any]:
    """The task's columns that hold its pending retry (none: cleared)."""
    if retry is None:
        return {"retry_at": None, "retry_attempt": 0}
    return {"retry_at": retry.at, "retry_attempt": retry.attempt}
