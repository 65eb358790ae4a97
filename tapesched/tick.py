"""The cron entry point: heartbeat, reconcile, claim, launch (SPEC section 5).

What becomes of each due task and each running execution is decided by the
pure functions of tapesched.decisions; this module gathers their facts and
applies their answers. Every claim is one short write transaction that moves
next_run_time only if it still holds the value read (compare-and-set) and
inserts the execution row, so a schedule slot is claimed once whatever runs
concurrently. Runners are started after the transaction has committed, never
inside it. An execution claimed but never started (a tick killed between
claim and launch) is launched again by a later tick; the runner's exec lock
and its own compare-and-set make sure only one runner ever runs it.

Several hosts may share one PostgreSQL catalog. A tick claims only tasks bound
to its host or to any host, takes each claimed row with FOR UPDATE SKIP LOCKED
(ticks on other hosts pass over it instead of waiting), and applies the
one-job-per-drive rule and the concurrency cap per host. It judges its own
host's runs by their exec locks, and every other host's by their leases: a run
whose lease has expired by the database server's clock is marked lost.

A tick with nothing to do opens the database (the standard library's sqlite3,
or psycopg), writes its heartbeat, finds no running execution and nothing due
in the index, and imports nothing else: no ORM, no croniter, no Typer.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from tapesched import process
from tapesched.clock import utcnow
from tapesched.errors import InvalidInput, StorageUnavailable, os_error_line
from tapesched.hosts import this_host
from tapesched.paths import StatePaths
from tapesched.reconcile import reconcile
from tapesched.store import executions
from tapesched.store import hosts as host_rows
from tapesched.store import tasks as task_rows
from tapesched.store.db import Database, open_database
from tapesched.store.tasks import TaskRecord

if TYPE_CHECKING:
    from tapesched.decisions import Claim, ClaimFacts
    from tapesched.notify import Ended

DEFAULT_MAX_CONCURRENT = 4
STOP_GRACE = 10.0
_BATCH = 64


@dataclass
class TickReport:
    busy: bool = False
    launched: list[tuple[str, str, str]] = field(default_factory=list)  # (task, execution, trigger)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (task, reason)
    queued: list[str] = field(default_factory=list)
    waiting: list[tuple[str, datetime]] = field(default_factory=list)  # (task, window opens)
    relaunched: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    ended: list[Ended] = field(default_factory=list)  # outcomes this tick recorded: to announce


def max_concurrent_runs(environ: dict[str, str] | None = None) -> int:
    """TAPESCHED_MAX_CONCURRENT_RUNS, or the default (4)."""
    env = os.environ if environ is None else environ
    try:
        return max(1, int(env.get("TAPESCHED_MAX_CONCURRENT_RUNS", DEFAULT_MAX_CONCURRENT)))
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
    host = this_host()
    paths.ensure()
    lock = process.FileLock(paths.tick_lock)
    try:
        held = lock.acquire()
    except OSError as error:
        raise StorageUnavailable(f"tick lock {os_error_line(error)}") from None
    if not held:
        report.busy = True
        return report
    try:
        with open_database(paths) as db:
            if not dry_run:
                with db.write():
                    host_rows.heartbeat(db, host, clock())
            reconcile(db, paths, clock, report, dry_run, host, _launch)
            cap = max_concurrent or max_concurrent_runs()
            if dry_run:
                simulate_claims(db, now, cap, report, host)
            else:
                claim_and_launch(db, paths, now, cap, report, clock, host)
    finally:
        lock.release()
        # Last, outside the lock and after every launch: pings and notify commands may be
        # slow, and a tick that fails half-way still announces what it recorded.
        for ended in report.ended:
            ended.announce("recorded by tick")
    return report


def report_json(report: TickReport, now: datetime, dry_run: bool) -> dict[str, object]:
    """What `tick --json` prints."""
    return {
        "now": now.isoformat(),
        "dry_run": dry_run,
        "busy": report.busy,
        "launched": [
            {"task": name, "execution_id": None if dry_run else execution, "trigger": trigger}
            for name, execution, trigger in report.launched
        ],
        "skipped": [{"task": name, "reason": reason} for name, reason in report.skipped],
        "queued": report.queued,
        "waiting": [{"task": name, "until": until.isoformat()} for name, until in report.waiting],
        "relaunched": report.relaunched,
        "problems": report.problems,
    }


def report_problems(report: TickReport) -> int:
    """Write one line per problem on stderr (cron mails it); return the exit code."""
    for problem in report.problems:
        sys.stderr.write(f"tapesched: {problem}\n")
    return 1 if report.problems else 0


# --------------------------------------------------------------------------- claims


def claim_and_launch(
    db: Database,
    paths: StatePaths,
    now: datetime,
    cap: int,
    report: TickReport,
    clock: Callable[[], datetime] = utcnow,
    host: str | None = None,
) -> None:
    """Claim due tasks of this host (or any host) oldest first, then launch the runner of
    each claim.

    All claims come first, so the tick's short write transactions do not queue
    behind the writes of runners it has just started; whatever was claimed is
    launched even if a later claim fails.
    """
    host = host or this_host()
    claimed: list[tuple[str, str]] = []
    try:
        # Retries first: a retry due together with its task's scheduled run is dropped.
        for task, retry in _due_claims(db, now, host):
            from tapesched.decisions import Launch  # only once something is due

            try:
                if retry:
                    claim = claim_retry(db, paths, task.id, task.retry_at, now, cap, clock, host)
                else:
                    claim = claim_one(db, paths, task.id, task.next_run_time, now, cap, clock, host)
            except InvalidInput as error:
                # A schedule that no longer computes (say, a zone gone from tzdata) must
                # not keep the other tasks from running.
                report.problems.append(f"task {task.task_name}: {error.message}")
                continue
            if isinstance(claim, Launch):
                _failpoint("after-claim")
                report.launched.append((task.task_name, claim.execution_id, claim.trigger))
                claimed.append((task.task_name, claim.execution_id))
            else:
                if getattr(claim, "owed", None) is not None:
                    report.ended.append(claim.owed)
                if not _note(claim, task, report):
                    return
    finally:
        for task_name, execution_id in claimed:
            log_path = paths.output_log(task_name, execution_id)
            if not _launch(db, paths, execution_id, task_name, log_path, report, clock):
                report.launched = [row for row in report.launched if row[1] != execution_id]


def _due_claims(db: Database, now: datetime, host: str):  # noqa: ANN202 - of (TaskRecord, bool)
    """The host's due retries, then its due tasks, each oldest first, read a batch at a
    time between claims; with each, whether it is a retry."""
    for read, retry in ((task_rows.due_retries, True), (task_rows.due, False)):
        seen: set[int] = set()
        while True:
            with db.read():
                due = [
                    task for task in read(db, now, _BATCH + len(seen), host) if task.id not in seen
                ]
            if not due:
                break
            for task in due:
                seen.add(task.id)
                yield task, retry


def _note(claim: Claim, task: TaskRecord, report: TickReport) -> bool:
    """Report a claim that launched nothing; return False when the cap ends the claiming."""
    from tapesched.decisions import Full, Queue, Skip, Wait

    if isinstance(claim, Skip):
        report.skipped.append((task.task_name, claim.reason))
    elif isinstance(claim, Wait):
        report.waiting.append((task.task_name, claim.until))
    elif isinstance(claim, Queue):
        report.queued.append(task.task_name)
    elif isinstance(claim, Full):
        report.queued.append(task.task_name)
        return False
    return True


def claim_one(
    db: Database,
    paths: StatePaths,
    task_id: int,
    expected: datetime,
    now: datetime,
    cap: int,
    clock: Callable[[], datetime] = utcnow,
    host: str | None = None,
) -> Claim:
    """One claim transaction for one due task: gather its facts, decide, apply.

    The task's row is taken first (FOR UPDATE SKIP LOCKED on PostgreSQL), and the
    host's claims are serialised, so that its drive and cap facts hold until commit.
    A Launch comes back with the id of the execution it inserted; Gone when the slot
    was taken by someone else (or is being taken right now) or the task changed.
    """
    from tapesched.decisions import Gone, Launch, Skip, decide

    host = host or this_host()
    with db.write():
        db.serialize(f"claims:{host}")
        task = task_rows.take_due(db, task_id, expected)
        if task is None or task.host not in (host, "any"):
            return Gone()
        claim = decide(task, _facts(db, task, host), now, cap)
        if not isinstance(claim, Launch | Skip):
            return claim
        if not task_rows.advance(db, task.id, expected, claim.next_run):
            return Gone()
        if isinstance(claim, Launch) and task.retry_at is not None:
            task_rows.move_retry(db, task.id, task.retry_at, None)  # a new series begins
        return _record_claim(db, paths, task, claim, expected, clock(), host)


def claim_retry(
    db: Database,
    paths: StatePaths,
    task_id: int,
    expected: datetime,
    now: datetime,
    cap: int,
    clock: Callable[[], datetime] = utcnow,
    host: str | None = None,
) -> Claim:
    """One claim transaction for a task's due retry, as claim_one for a slot: the pending
    retry is compare-and-set (cleared, or moved to its window's opening) in the same
    transaction that inserts its execution, so it runs once whatever runs concurrently."""
    from tapesched.decisions import Gone, Launch, Skip, Wait, decide_retry
    from tapesched.notify import Ended

    host = host or this_host()
    with db.write():
        db.serialize(f"claims:{host}")
        task = task_rows.take_retry(db, task_id, expected)
        if task is None or task.host not in (host, "any"):
            return Gone()
        claim = decide_retry(task, _facts(db, task, host), now, cap)
        if isinstance(claim, Wait):
            task_rows.move_retry(db, task.id, expected, claim.until)
            return claim
        if not isinstance(claim, Launch | Skip):
            return claim
        last = executions.latest_run(db, task.id)
        if not task_rows.move_retry(db, task.id, expected, None):
            return Gone()
        if isinstance(claim, Skip):
            claim = Skip("retry", None, f"retry dropped: {claim.reason}")
            if last is not None and last.status in ("failed", "lost"):  # the series ended
                owed = Ended(task, last.execution_id, last.status, last.error_message,
                             last.log_path)  # fmt: skip
                claim = dataclasses.replace(claim, owed=owed)
        return _record_claim(db, paths, task, claim, expected, clock(), host,
                             attempt=task.retry_attempt)  # fmt: skip


def _facts(db: Database, task: TaskRecord, host: str) -> ClaimFacts:
    """What a claim's decision reads around the task, at constant cost: indexed lookups and
    a count, not the running rows."""
    from tapesched.decisions import ClaimFacts

    return ClaimFacts(
        previous_running=executions.running_for_task(db, task.id) is not None,
        device_busy=bool(task.device) and executions.device_in_use(db, task.device, host),
        running=executions.count_running(db, host),
    )


def _record_claim(
    db: Database,
    paths: StatePaths,
    task: TaskRecord,
    claim: Claim,
    scheduled_for: datetime,
    claimed_at: datetime,
    host: str,
    attempt: int = 1,
) -> Claim:
    """Insert the execution a Launch or a Skip makes (inside the claim's transaction):
    running, with its log and first lease, or skipped with the reason. Return the claim,
    a Launch with the new execution's id."""
    import uuid

    from tapesched.decisions import Lease, Skip

    execution_id = str(uuid.uuid4())
    row = {
        "execution_id": execution_id,
        "task_id": task.id,
        "trigger": claim.trigger,
        "attempt": attempt,
        "scheduled_for": scheduled_for,
        "created_at": claimed_at,
        "device": task.device,
        "host": host,
    }
    if isinstance(claim, Skip):
        row.update(
            completed_at=claimed_at, status="skipped", error_message=f"skipped: {claim.reason}"
        )
        executions.insert(db, row)
        return claim
    row.update(
        status="running",
        log_path=str(paths.output_log(task.task_name, execution_id)),
        lease_expires=db.server_now() + Lease.from_environment().length,
    )
    executions.insert(db, row)
    return dataclasses.replace(claim, execution_id=execution_id)


def simulate_claims(
    db: Database, now: datetime, cap: int, report: TickReport, host: str | None = None
) -> None:
    """`tick --dry-run`: the same decisions as claim_and_launch, on facts read once and
    updated as if each launch had happened; nothing is written."""
    from tapesched.decisions import ClaimFacts, Launch, decide, decide_retry

    host = host or this_host()
    with db.read():
        running = executions.running(db)
        due = [(task, True) for task in task_rows.due_retries(db, now, 10_000, host)]
        due += [(task, False) for task in task_rows.due(db, now, 10_000, host)]
    running_tasks = {execution.task_id for execution in running}
    here = [execution for execution in running if execution.host in (None, host)]
    busy = {execution.device for execution in here if execution.device}
    count = len(here)
    for task, retry in due:
        facts = ClaimFacts(task.id in running_tasks, task.device in busy, count)
        try:
            claim = (decide_retry if retry else decide)(task, facts, now, cap)
        except InvalidInput as error:
            report.problems.append(f"task {task.task_name}: {error.message}")
            continue
        if isinstance(claim, Launch):
            report.launched.append((task.task_name, "-", claim.trigger))
            running_tasks.add(task.id)
            count += 1
            if task.device:
                busy.add(task.device)
        elif not _note(claim, task, report):
            return


def _launch(
    db: Database,
    paths: StatePaths,
    execution_id: str,
    name: str,
    log_path: Path,
    report: TickReport,
    clock: Callable[[], datetime],
) -> bool:
    """Start the runner of a claimed execution; return whether it started. If it cannot
    (its lock or its log cannot be made), record the execution failed at once, so no
    claimed execution is left without a runner, and report one problem line."""
    from tapesched import runner

    try:
        runner.launch(paths, execution_id, log_path)
        return True
    except OSError as error:
        problem = error
    try:
        message, ended = runner.fail_unstarted(db, execution_id, problem, clock())
    except StorageUnavailable as unrecorded:  # a later tick relaunches it, or records it
        message = f"could not start its runner: {os_error_line(problem)}"
        message += f" (not recorded: {unrecorded.message})"
        ended = None
    report.problems.append(f"task {name}: execution {execution_id}: {message}")
    if ended is not None:
        report.ended.append(ended)
    return False


def _failpoint(name: str) -> None:
    """Fault injection for the crash tests: TAPESCHED_FAILPOINT=after-claim kills this tick
    with SIGKILL right after a claim has committed and before its runner starts."""
    if os.environ.get("TAPESCHED_FAILPOINT") == name:
        process.signal_process(os.getpid(), signal.SIGKILL)
