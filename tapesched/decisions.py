"""What a tick decides, as pure functions of facts and an injected clock (SPEC section 5).

`decide` says what becomes of one due task: launch, skip, queue behind its
drive, or wait for a free slot. `classify` says what becomes of one running
execution: alive, still starting, to be launched again, lost, or timed out.
The real tick and `tick --dry-run` call the same two functions; only how they
gather the facts and apply the answers differs (tick.py).
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

# A tick this late (or later) means ticks were missed: the run is a catch-up.
LATE_AFTER = timedelta(seconds=90)
# A claimed execution whose runner never started within this time is lost.
NEVER_STARTED_AFTER = timedelta(minutes=10)
# A claimed execution with no runner after this long is launched again (its first
# launch died with a killed tick, or is still starting on a loaded host: a second
# runner for the same execution exits at once).
RELAUNCH_AFTER = timedelta(seconds=5)
# The runner enforces timeouts itself; tick steps in only if it is this far past.
TIMEOUT_MARGIN = timedelta(seconds=30)
# A running execution's lease: its runner renews it every sixth of the period; a tick on
# any host marks the run lost once the lease has expired by the database server's clock.
DEFAULT_LEASE = 90.0
MIN_LEASE = 3.0


@dataclass(frozen=True)
class Lease:
    """How long a run's lease lasts, how often its runner renews it, and after how long
    without a renewal the runner gives up and stops its job: two renewals before the
    lease runs out, so that the job has ended before another host may declare it lost."""

    period: float = DEFAULT_LEASE

    @property
    def renew_every(self) -> float:
        return self.period / 6

    @property
    def give_up_after(self) -> float:
        return self.period - 2 * self.renew_every

    @property
    def length(self) -> timedelta:
        return timedelta(seconds=self.period)

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> Lease:
        """TAPESCHED_LEASE (seconds, at least 3), or the default (90)."""
        env = os.environ if environ is None else environ
        try:
            period = float(env.get("TAPESCHED_LEASE", DEFAULT_LEASE))
        except ValueError:
            return cls()
        if period != period or period in (float("inf"), float("-inf")):
            return cls()
        return cls(max(MIN_LEASE, period))


class DueTask(Protocol):
    """What `decide` reads of a task."""

    enabled: bool
    next_run_time: datetime | None
    created_at: datetime
    schedule_type: str
    schedule_config: dict[str, Any]
    timezone: str
    misfire: str
    misfire_grace: int | None
    device: str | None
    start_window: str | None


class RetryTask(DueTask, Protocol):
    """What `decide_retry` reads of a task besides."""

    retries: int
    retry_at: datetime | None
    retry_attempt: int


@dataclass(frozen=True)
class ClaimFacts:
    """What the database says, at the claim, about the task's surroundings."""

    previous_running: bool  # a run of this task is in progress
    device_busy: bool  # a running execution uses the task's device
    running: int  # executions running now (the concurrency cap counts these)


class Claim:
    """The decision for one due task."""


@dataclass(frozen=True)
class Launch(Claim):
    """Run it now: move next_run_time on and insert a running execution (whose id the
    tick fills in once it has)."""

    trigger: str
    next_run: datetime | None
    execution_id: str | None = None


@dataclass(frozen=True)
class Skip(Claim):
    """Drop this slot: move next_run_time on and record a skipped execution."""

    trigger: str
    next_run: datetime | None
    reason: str
    owed: Any = None  # a dropped retry: the announcement of its series' last attempt


@dataclass(frozen=True)
class Queue(Claim):
    """Its drive is busy: leave it due, to start at a later tick."""

    device: str


@dataclass(frozen=True)
class Wait(Claim):
    """It would start outside its window: leave it for the window's next opening (a slot
    stays due; a retry moves to `until`)."""

    until: datetime


@dataclass(frozen=True)
class Full(Claim):
    """The concurrency cap is reached: leave this and every later task due."""


@dataclass(frozen=True)
class Gone(Claim):
    """Nothing to claim: the task is disabled or no longer due (another tick took it)."""


def trigger_for(scheduled: datetime, now: datetime) -> str:
    """Given the slot and now, return `catch_up` if ticks were missed, else `schedule`."""
    return "catch_up" if now - scheduled >= LATE_AFTER else "schedule"


def skip_reason(task: DueTask, now: datetime, previous_running: bool) -> str | None:
    """Why this due slot is skipped rather than run, or None: the previous run is still
    going, or the slot was missed and the task's misfire policy drops it."""
    assert task.next_run_time is not None
    lateness = now - task.next_run_time
    late = f"missed by {int(lateness.total_seconds())}s"
    if previous_running:
        return "the previous run was still running"
    if lateness >= LATE_AFTER and task.misfire == "skip":
        return f"{late} (misfire=skip)"
    if task.misfire_grace is not None and lateness > timedelta(seconds=task.misfire_grace):
        return f"{late}, past misfire_grace {task.misfire_grace}s"
    return None


def decide(task: DueTask, facts: ClaimFacts, now: datetime, cap: int) -> Claim:
    """Given a task, the facts around it, the instant schedules are evaluated at and the
    concurrency cap, return what becomes of its due slot. Raise InvalidInput if its stored
    schedule no longer computes (say, its zone is gone from tzdata)."""
    from tapesched.schedule import next_run
    from tapesched.schedule_config import Schedule

    scheduled = task.next_run_time
    if not task.enabled or scheduled is None or scheduled > now:
        return Gone()
    schedule = Schedule(task.schedule_type, task.schedule_config, task.timezone)
    following = next_run(schedule, now, scheduled, task.created_at)
    trigger = trigger_for(scheduled, now)
    reason = skip_reason(task, now, facts.previous_running)
    if reason is not None:
        return Skip(trigger, following, reason)
    closed = window_closed(task, now, following)
    if closed is not None:
        return closed if isinstance(closed, Wait) else Skip(trigger, following, closed)
    if task.device and facts.device_busy:
        return Queue(task.device)
    if facts.running >= cap:
        return Full()
    return Launch(trigger, following)


def window_closed(task: DueTask, now: datetime, following: datetime | None) -> Wait | str | None:
    """None if the task may start now (no window, or it is open); else Wait for the
    window's next opening, or the reason to drop the run when the task's next scheduled
    run (`following`) comes first."""
    if not task.start_window:
        return None
    from tapesched import windows

    if windows.is_open(task.start_window, now, task.timezone):
        return None
    opening = windows.next_opening(task.start_window, now, task.timezone)
    if following is not None and opening >= following:
        return f"outside its window {task.start_window}; the next scheduled run comes first"
    return Wait(opening)


def decide_retry(task: RetryTask, facts: ClaimFacts, now: datetime, cap: int) -> Claim:
    """Given a task whose retry is due, the facts around it, now and the cap, return what
    becomes of the retry: launch it (trigger `retry`), drop it (Skip: its scheduled run is
    due, or its retries were lowered meanwhile), wait for its window, its drive, or a free
    slot, or wait while another run of the task is in progress (Queue)."""
    if not task.enabled or task.retry_at is None or task.retry_at > now:
        return Gone()
    if task.next_run_time is not None and task.next_run_time <= now:
        return Skip("retry", None, "the scheduled run comes first")
    if task.retry_attempt - 1 > task.retries:
        return Skip("retry", None, f"the task now allows {task.retries} retries")
    if facts.previous_running:
        return Queue(task.device or "")
    closed = window_closed(task, now, task.next_run_time)
    if closed is not None:
        return closed if isinstance(closed, Wait) else Skip("retry", None, closed)
    if task.device and facts.device_busy:
        return Queue(task.device)
    if facts.running >= cap:
        return Full()
    return Launch("retry", None)


class Verdict(enum.Enum):
    """What becomes of a running execution at reconcile."""

    ALIVE = "alive"  # its runner holds its lock and it is within its time
    STARTING = "starting"  # claimed, its runner not started yet: give it time
    RELAUNCH = "relaunch"  # claimed long enough ago with no runner: launch it again
    LOST = "lost"  # its runner is gone, or never started
    TIMED_OUT = "timed_out"  # far past its timeout: stop it and record it failed


@dataclass(frozen=True)
class Reconcile:
    verdict: Verdict
    reason: str | None = None


class RunningExecution(Protocol):
    pid: int | None
    created_at: datetime
    started_at: datetime | None


def classify(
    execution: RunningExecution, lock_held: bool, now: datetime, timeout: int | None
) -> Reconcile:
    """Given a running execution of this host, whether its exec lock is held, the wall
    clock and its task's timeout (seconds or None), return what becomes of it."""
    if execution.pid is None:
        if lock_held:
            return Reconcile(Verdict.STARTING)
        waiting = now - execution.created_at
        if waiting > NEVER_STARTED_AFTER:
            return Reconcile(Verdict.LOST, "runner never started")
        if waiting >= RELAUNCH_AFTER:
            return Reconcile(Verdict.RELAUNCH)
        return Reconcile(Verdict.STARTING)
    if not lock_held:
        return Reconcile(
            Verdict.LOST, f"runner (pid {execution.pid}) vanished without recording a result"
        )
    started = execution.started_at
    if timeout and started and now - started > timedelta(seconds=timeout) + TIMEOUT_MARGIN:
        return Reconcile(Verdict.TIMED_OUT, f"timed out after {timeout}s (stopped by tick)")
    return Reconcile(Verdict.ALIVE)
