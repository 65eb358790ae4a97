"""The cron entry point: heartbeat, reconcile, claim, launch (SPEC §5).

Every claim is one short write transaction that moves next_run_time only if it
still holds the value read (compare-and-set) and inserts the execution row, so
a schedule slot is claimed once whatever runs concurrently. Runners are started
after the transaction has committed, never inside it. An execution claimed but
never started (a tick killed between claim and launch) is launched again by the
next tick; the runner's exec lock and its own compare-and-set make sure only
one runner ever runs it.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlmodel import col, select

from tapesched import process
from tapesched import schedule as schedules
from tapesched import store as db
from tapesched.clock import utcnow
from tapesched.errors import InvalidInput
from tapesched.models import Execution, Task
from tapesched.paths import StatePaths
from tapesched.schedule_config import Schedule

DEFAULT_MAX_CONCURRENT = 4
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
STOP_GRACE = 10.0


@dataclass
class TickReport:
    busy: bool = False
    launched: list[tuple[str, str, str]] = field(default_factory=list)  # (task, execution, trigger)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (task, reason)
    queued: list[str] = field(default_factory=list)
    relaunched: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def max_concurrent_runs() -> int:
    try:
        return max(1, int(os.environ.get("TAPESCHED_MAX_CONCURRENT_RUNS", DEFAULT_MAX_CONCURRENT)))
    except ValueError:
        return DEFAULT_MAX_CONCURRENT


def tick(
    paths: StatePaths,
    now: datetime,
    dry_run: bool = False,
    max_concurrent: int | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> TickReport:
    """Run one tick; return what it did.

    Schedules are evaluated as of `now` (--now moves it). Bookkeeping reads the
    wall clock `clock`: the heartbeat, when a claim was made, how long a runner
    has been starting or running.
    """
    report = TickReport()
    lock = process.FileLock(paths.tick_lock)
    paths.ensure()
    if not lock.acquire():
        report.busy = True
        return report
    try:
        store = db.Store(paths)
        if not dry_run:
            with store.write() as session:
                db.set_meta(session, "last_tick_time", clock().isoformat())
        reconcile(store, paths, clock, report, dry_run)
        claim_and_launch(
            store, paths, now, max_concurrent or max_concurrent_runs(), report, dry_run, clock
        )
    finally:
        lock.release()
    return report


def reconcile(
    store: db.Store,
    paths: StatePaths,
    clock: Callable[[], datetime],
    report: TickReport,
    dry_run: bool,
) -> None:
    """Find runners that vanished (lost), never started (relaunch), or overran their timeout."""
    host = socket.gethostname()
    with store.read() as session:
        running = db.running_executions(session)
        tasks = _task_facts(session, {e.task_id for e in running})
    for execution in running:
        name, timeout = tasks.get(execution.task_id, (str(execution.task_id), None))
        if execution.host not in (None, host):
            continue  # another host's runner: only that host can see its lock
        held = process.lock_is_held(paths.exec_lock(execution.execution_id))
        if execution.pid is None:
            if held:
                continue
            waiting = clock() - execution.created_at
            if waiting > NEVER_STARTED_AFTER:
                _mark(
                    store, execution, "lost", clock(), "runner never started", report, name, dry_run
                )
            elif waiting >= RELAUNCH_AFTER and not dry_run:
                _launch(paths, execution.execution_id, Path(execution.log_path), report)
                report.relaunched.append(execution.execution_id)
            continue
        if not held:
            # Its job, if any is left, runs unsupervised: end it before anything reuses the drive.
            if not dry_run and execution.job_pid and process.group_alive(execution.job_pid):
                process.terminate_group(execution.job_pid, STOP_GRACE)
            _mark(
                store,
                execution,
                "lost",
                clock(),
                f"runner (pid {execution.pid}) vanished without recording a result",
                report,
                name,
                dry_run,
            )
            continue
        started = execution.started_at
        # Timeouts are real elapsed time: the wall clock, whatever --now says.
        if timeout and started and clock() - started > timedelta(seconds=timeout) + TIMEOUT_MARGIN:
            if dry_run:
                continue
            recorded = _mark(
                store,
                execution,
                "failed",
                clock(),
                f"timed out after {timeout}s (stopped by tick)",
                report,
                name,
                False,
            )
            if recorded:
                if execution.job_pid:
                    process.terminate_group(execution.job_pid, STOP_GRACE)
                if process.is_same_process(execution.pid, execution.process_start):
                    process.terminate_group(execution.pid, STOP_GRACE)


def _task_facts(session, task_ids: set[int]) -> dict[int, tuple[str, int | None]]:  # noqa: ANN001
    """Name and timeout of the tasks of the running executions (a handful of rows)."""
    if not task_ids:
        return {}
    query = select(Task.id, Task.task_name, Task.timeout).where(col(Task.id).in_(task_ids))
    return {task_id: (name, timeout) for task_id, name, timeout in session.exec(query)}


def _mark(
    store: db.Store,
    execution: Execution,
    status: str,
    now: datetime,
    reason: str,
    report: TickReport,
    name: str,
    dry_run: bool,
) -> bool:
    if dry_run:
        report.problems.append(
            f"task {name}: execution {execution.execution_id} would be marked {status}: {reason}"
        )
        return False
    with store.write() as session:
        recorded = db.finish_execution(session, execution.execution_id, status, now, reason)
    if recorded:
        report.problems.append(
            f"task {name}: execution {execution.execution_id} {status}: {reason}"
        )
    return recorded


def claim_and_launch(
    store: db.Store,
    paths: StatePaths,
    now: datetime,
    max_concurrent: int,
    report: TickReport,
    dry_run: bool,
    clock: Callable[[], datetime] = utcnow,
) -> None:
    """Claim due tasks oldest first, then launch the runner of each claim.

    All claims come first, so the tick's short write transactions do not queue
    behind the writes of runners it has just started; whatever was claimed is
    launched even if a later claim fails.
    """
    claimed: list[tuple[str, str]] = []
    try:
        _claim_all(store, paths, now, max_concurrent, report, dry_run, claimed, clock)
    finally:
        for task_name, execution_id in claimed:
            _launch(paths, execution_id, paths.output_log(task_name, execution_id), report)


def _claim_all(
    store: db.Store,
    paths: StatePaths,
    now: datetime,
    max_concurrent: int,
    report: TickReport,
    dry_run: bool,
    claimed: list[tuple[str, str]],
    clock: Callable[[], datetime],
) -> None:
    seen: set[int] = set()
    while True:
        with store.read() as session:
            running = db.running_executions(session)
            busy = {e.device for e in running if e.device}
            due = [t for t in db.due_tasks(session, now, 64 + len(seen)) if t.id not in seen]
        if not due:
            return
        for task in due:
            seen.add(task.id)
            if dry_run:
                _dry_run_one(task, running, busy, now, max_concurrent, report)
                if task.device and task.id not in {e.task_id for e in running}:
                    busy.add(task.device)
                continue
            try:
                kind, detail = claim_one(
                    store, paths, task.id, task.next_run_time, now, max_concurrent, clock
                )
            except InvalidInput as error:
                # A schedule that no longer computes (say, a zone gone from tzdata) must
                # not keep the other tasks from running.
                report.problems.append(f"task {task.task_name}: {error.message}")
                continue
            if kind == "launch":
                _failpoint("after-claim")
                report.launched.append((task.task_name, detail, _trigger(task.next_run_time, now)))
                claimed.append((task.task_name, detail))
            elif kind == "skipped":
                report.skipped.append((task.task_name, detail))
            elif kind == "queued":
                report.queued.append(task.task_name)
            elif kind == "full":
                return


def _trigger(scheduled: datetime, now: datetime) -> str:
    return "catch_up" if now - scheduled >= LATE_AFTER else "schedule"


def claim_one(
    store: db.Store,
    paths: StatePaths,
    task_id: int,
    expected: datetime,
    now: datetime,
    max_concurrent: int,
    clock: Callable[[], datetime] = utcnow,
) -> tuple[str, str]:
    """One claim transaction for one due task.

    Return ("launch", execution_id), ("skipped", reason), ("queued", device),
    ("full", "") when the concurrency cap is reached, or ("gone", "") when the
    slot was taken by someone else or the task changed.
    """
    with store.write() as session:
        task = session.get(Task, task_id)
        if task is None or not task.enabled or task.next_run_time != expected:
            return ("gone", "")
        schedule = Schedule(task.schedule_type, task.schedule_config, task.timezone)
        new_next = schedules.next_run(schedule, now, expected, task.created_at)
        reason = skip_reason(task, now, db.running_for_task(session, task.id) is not None)
        if reason is not None:
            if not db.advance(session, task.id, expected, new_next):
                return ("gone", "")
            session.add(
                Execution(
                    execution_id=str(uuid.uuid4()),
                    task_id=task.id,
                    trigger=_trigger(expected, now),
                    scheduled_for=expected,
                    created_at=clock(),
                    completed_at=clock(),
                    status="skipped",
                    error_message=f"skipped: {reason}",
                    device=task.device,
                )
            )
            return ("skipped", reason)
        # Constant cost per claim: a count and an indexed lookup, not the running rows.
        if task.device and db.device_in_use(session, task.device):
            return ("queued", task.device)
        if db.count_running(session) >= max_concurrent:
            return ("full", "")
        if not db.advance(session, task.id, expected, new_next):
            return ("gone", "")
        execution_id = str(uuid.uuid4())
        session.add(
            Execution(
                execution_id=execution_id,
                task_id=task.id,
                trigger=_trigger(expected, now),
                scheduled_for=expected,
                created_at=clock(),
                status="running",
                device=task.device,
                log_path=str(paths.output_log(task.task_name, execution_id)),
            )
        )
    return ("launch", execution_id)


def skip_reason(task: Task, now: datetime, previous_running: bool) -> str | None:
    """Why this due slot is skipped rather than run, or None: the previous run is still
    going, or the slot was missed and the task's misfire policy drops it."""
    lateness = now - task.next_run_time
    late = f"missed by {int(lateness.total_seconds())}s"
    if previous_running:
        return "the previous run was still running"
    if lateness >= LATE_AFTER and task.misfire == "skip":
        return f"{late} (misfire=skip)"
    if task.misfire_grace is not None and lateness > timedelta(seconds=task.misfire_grace):
        return f"{late}, past misfire_grace {task.misfire_grace}s"
    return None


def _dry_run_one(
    task: Task,
    running: list[Execution],
    busy: set[str],
    now: datetime,
    max_concurrent: int,
    report: TickReport,
) -> None:
    reason = skip_reason(task, now, any(e.task_id == task.id for e in running))
    if reason is not None:
        report.skipped.append((task.task_name, reason))
    elif (task.device and task.device in busy) or (
        len(running) + len(report.launched) >= max_concurrent
    ):
        report.queued.append(task.task_name)
    else:
        report.launched.append((task.task_name, "-", _trigger(task.next_run_time, now)))


def _launch(paths: StatePaths, execution_id: str, log_path: Path, report: TickReport) -> None:
    try:
        launch(paths, execution_id, log_path)
    except OSError as error:
        report.problems.append(f"execution {execution_id}: could not start its runner: {error}")


def launch(paths: StatePaths, execution_id: str, log_path: Path) -> int:
    """Start the detached runner of a claimed execution, its output to log_path; return its pid."""
    env = {**os.environ, "TAPESCHED_HOME": str(paths.home)}
    return process.spawn_detached(process.runner_argv(paths.db, execution_id), log_path, env)


def _failpoint(name: str) -> None:
    """Fault injection for the crash tests: TAPESCHED_FAILPOINT=after-claim kills this tick
    with SIGKILL right after a claim has committed and before its runner starts."""
    if os.environ.get("TAPESCHED_FAILPOINT") == name:
        os.kill(os.getpid(), 9)
