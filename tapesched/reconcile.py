"""Reconcile, the first half of a tick: what became of the running executions.

Runners that vanished are marked lost, runners that never started are launched
again, runs far past their timeout are stopped and recorded failed; runs of
other hosts whose lease expired by the database server's clock are marked lost,
and jobs of this host that another host declared lost meanwhile are ended. What
becomes of each running execution is tapesched.decisions.classify's call.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from tapesched import process
from tapesched.paths import StatePaths
from tapesched.store import executions
from tapesched.store import tasks as task_rows
from tapesched.store.db import Database
from tapesched.store.executions import ExecutionRecord

if TYPE_CHECKING:
    from tapesched.tick import TickReport

STOP_GRACE = 10.0


def reconcile(
    db: Database,
    paths: StatePaths,
    clock: Callable[[], datetime],
    report: TickReport,
    dry_run: bool,
    host: str,
    launch: Callable[..., bool],
) -> None:
    """Find runners that vanished (lost), never started (relaunch), or overran their
    timeout; runs of other hosts whose lease expired (lost); and jobs of this host that
    another host declared lost while this one was cut off (ended)."""
    with db.read():
        running = executions.running(db)
        facts = task_rows.timeouts(db, {execution.task_id for execution in running})
    if not dry_run:
        _end_jobs_lost_elsewhere(db, host, clock)
    if not running:
        return
    from tapesched.decisions import Verdict, classify

    elsewhere = [execution for execution in running if execution.host not in (None, host)]
    if elsewhere:
        _expire_leases(db, elsewhere, facts, clock, report, dry_run)
    for execution in running:
        if execution.host not in (None, host):
            continue  # another host's runner: judged by its lease
        name, timeout = facts.get(execution.task_id, (str(execution.task_id), None))
        held = _runner_holds_lock(paths, execution)
        judged = classify(execution, held, clock(), timeout)
        if judged.verdict is Verdict.RELAUNCH and not dry_run:
            log_path = Path(execution.log_path or paths.output_log(name, execution.execution_id))
            if launch(db, paths, execution.execution_id, name, log_path, report, clock):
                report.relaunched.append(execution.execution_id)
        elif judged.verdict is Verdict.LOST:
            # Its job, if any is left, runs unsupervised: end it before anything reuses the drive.
            if not dry_run and execution.job_pid and process.group_alive(execution.job_pid):
                process.terminate_group(execution.job_pid, STOP_GRACE)
            _mark(db, execution, "lost", clock(), judged.reason, report, name, dry_run)
        elif judged.verdict is Verdict.TIMED_OUT and not dry_run:
            if _mark(db, execution, "failed", clock(), judged.reason, report, name, False):
                if execution.job_pid:
                    process.terminate_group(execution.job_pid, STOP_GRACE)
                if process.is_same_process(execution.pid, execution.process_start):
                    process.terminate_group(execution.pid, STOP_GRACE)


def _expire_leases(
    db: Database,
    elsewhere: list[ExecutionRecord],
    facts: dict[int, tuple[str, int | None]],
    clock: Callable[[], datetime],
    report: TickReport,
    dry_run: bool,
) -> None:
    """Mark lost the runs of other hosts whose lease has expired by the database server's
    clock (and only if it still has, when the outcome is written)."""
    with db.read():
        server_now = db.server_now()
    for execution in elsewhere:
        if execution.lease_expires is None or execution.lease_expires >= server_now:
            continue
        name = facts.get(execution.task_id, (str(execution.task_id),))[0]
        reason = (
            f"{executions.LEASE_EXPIRED} at {execution.lease_expires:%Y-%m-%d %H:%M:%S} UTC: "
            f"host {execution.host} stopped renewing it (its runner or the host is gone)"
        )
        _mark(db, execution, "lost", clock(), reason, report, name, dry_run, server_now)


def _end_jobs_lost_elsewhere(db: Database, host: str, clock: Callable[[], datetime]) -> None:
    """End the jobs of this host's runs that another host declared lost (their lease ran
    out while this host was cut off or its runner was killed): nothing may go on using a
    drive for a run the catalog says is over. Looks back a day."""
    from datetime import timedelta

    with db.read():
        lost = executions.lost_elsewhere(db, host, clock() - timedelta(days=1))
    for execution in lost:
        # Only the job's own process: its pid may belong to another since (a reboot).
        if execution.job_start and process.is_same_process(execution.job_pid, execution.job_start):
            process.terminate_group(execution.job_pid, STOP_GRACE)


def _runner_holds_lock(paths: StatePaths, execution: ExecutionRecord) -> bool:
    """Whether the execution's runner holds its lock. A lock path that cannot be opened
    (a folder in its place) is held by no runner that started after it went bad; one that
    started before is known by its pid and start time."""
    try:
        return process.lock_is_held(paths.exec_lock(execution.execution_id))
    except OSError:
        return execution.pid is not None and process.is_same_process(
            execution.pid, execution.process_start
        )


def _mark(
    db: Database,
    execution: ExecutionRecord,
    status: str,
    now: datetime,
    reason: str | None,
    report: TickReport,
    name: str,
    dry_run: bool,
    lease_expired_at: datetime | None = None,
) -> bool:
    if dry_run:
        report.problems.append(
            f"task {name}: execution {execution.execution_id} would be marked {status}: {reason}"
        )
        return False
    from tapesched.notify import Ended

    with db.write():
        recorded = executions.finish(
            db, execution.execution_id, status, now, reason, lease_expired_at=lease_expired_at
        )
        task = task_rows.get(db, execution.task_id) if recorded else None
    if recorded:
        retry = f"; {recorded.retry.describe()}" if recorded.retry else ""
        report.problems.append(
            f"task {name}: execution {execution.execution_id} {status}: {reason}{retry}"
        )
    if task is not None and recorded is not None:
        report.ended.append(
            Ended(
                task,
                execution.execution_id,
                status,
                reason,
                execution.log_path,
                retry=recorded.retry,
            )
        )
    return recorded is not None
