"""The detached runner: `tapesched _run EXECUTION_ID`.

Started by tick (or `run`) with a new session, stdin from /dev/null and its
output going to the execution's log. It holds locks/exec-ID.lock for its whole
life (tick tells a live runner from a dead one by that lock), records its pid
and start time, takes the device lock, runs the action, and records the
outcome and the statistics in one transaction. It imports no ORM: the catalog
is read and written with plain SQL (tapesched.store).
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from tapesched import notify, process
from tapesched.clock import utcnow
from tapesched.errors import (
    ActionFailed,
    Cancelled,
    StorageUnavailable,
    TapeschedError,
    TimedOut,
)
from tapesched.job import JobContext
from tapesched.paths import StatePaths
from tapesched.store import executions
from tapesched.store.db import Database, open_database
from tapesched.store.executions import ExecutionRecord
from tapesched.store.tasks import TaskRecord

STOP_GRACE = 10.0
RETRY_SECONDS = 300.0


def launch(paths: StatePaths, execution_id: str, log_path: Path) -> int:
    """Start the detached runner of a claimed execution, its output to log_path; return its pid."""
    env = {**os.environ, "TAPESCHED_HOME": str(paths.home)}
    return process.spawn_detached(process.runner_argv(paths.db, execution_id), log_path, env)


def run_execution(paths: StatePaths, execution_id: str) -> int:
    """Run one claimed execution to its end; return 0 on success, 1 otherwise."""
    lock = process.FileLock(paths.exec_lock(execution_id))
    # Another runner for the same execution (a relaunch) may hold it: then it is that one's.
    if not lock.acquire(wait=2.0):
        return 0
    try:
        if not paths.db.exists():  # nothing to wait for
            raise StorageUnavailable(f"database {paths.db} does not exist")
        db = _retrying(lambda: open_database(paths, create=False), "open the database")
        try:
            claimed = _retrying(lambda: _start(db, execution_id), "record the start")
            if claimed is None:
                return 0
            execution, task = claimed
            return _run(db, paths, execution, task)
        finally:
            db.close()
    finally:
        lock.release(unlink=True)


def _start(db: Database, execution_id: str) -> tuple[ExecutionRecord, TaskRecord] | None:
    """Record pid, start time and host, once; None if someone else has or the run is over."""
    with db.write():
        return executions.record_start(
            db,
            execution_id,
            os.getpid(),
            process.process_start_time(os.getpid()),
            process.hostname(),
            utcnow(),
        )


def _run(db: Database, paths: StatePaths, execution: ExecutionRecord, task: TaskRecord) -> int:
    out = sys.stdout
    context = JobContext(
        execution_id=execution.execution_id,
        task=task,
        paths=paths,
        db=db,
        output=out,
        now=utcnow,
        timeout=float(task.timeout) if task.timeout else None,
        grace=STOP_GRACE,
        on_spawn=lambda pid: _record_job_pid(db, execution.execution_id, pid),
    )
    signal.signal(signal.SIGTERM, lambda *_: context.cancel())
    signal.signal(signal.SIGINT, lambda *_: context.cancel())
    if task.ping_url:
        notify.ping(task.ping_url, "start", b"", out)
    context.log(
        f"execution {execution.execution_id} of task {task.task_name} ({task.action_type}, "
        f"trigger {execution.trigger}) started at {execution.started_at.isoformat()}"
    )
    status, error, result = "failed", None, None
    device_lock = None
    try:
        if execution.device:
            device_lock = process.FileLock(paths.device_lock(execution.device))
            if not _wait_for_device(device_lock, task.device_wait, context):
                raise ActionFailed(
                    f"device busy: {execution.device} still in use after {task.device_wait}s"
                )
        module = importlib.import_module(f"tapesched.actions.{task.action_type}")
        result = module.run(dict(task.action_config), context)
        status = "success"
    except TimedOut:
        error = f"timed out after {task.timeout}s"
    except Cancelled:
        status, error = "cancelled", "cancelled (runner received SIGTERM)"
    except TapeschedError as failure:
        error, result = failure.message, getattr(failure, "result", None)
    except Exception as crash:  # noqa: BLE001 - recorded, never lost
        traceback.print_exc(file=out)
        error = f"internal error: {type(crash).__name__}: {crash}"
    finally:
        if device_lock is not None:
            device_lock.release()
    context.log(f"finished: {status}" + (f": {error}" if error else ""))
    out.flush()
    status, error = _record(db, execution.execution_id, status, error, result)
    notify.announce(task, execution.execution_id, status, error, execution.log_path, out)
    return 0 if status == "success" else 1


def _wait_for_device(lock: process.FileLock, wait: int, context: JobContext) -> bool:
    deadline = time.monotonic() + max(0, wait)
    said = False
    while True:
        if lock.acquire():
            return True
        context.check()
        if time.monotonic() >= deadline:
            return False
        if not said:
            context.log(f"device in use by another process; waiting up to {wait}s for it")
            said = True
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))


def _record_job_pid(db: Database, execution_id: str, pid: int) -> None:
    try:
        with db.write():
            executions.record_job_pid(db, execution_id, pid)
    except StorageUnavailable as error:
        sys.stdout.write(f"tapesched: could not record the job's pid: {error.message}\n")


def _record(
    db: Database, execution_id: str, status: str, error: str | None, result: Any
) -> tuple[str, str | None]:
    """Record the outcome; return the status and error that stand (`stop` or tick
    may have recorded theirs first)."""

    def record() -> tuple[str, str | None]:
        with db.write():
            if not executions.finish(db, execution_id, status, utcnow(), error, result):
                final = executions.get(db, execution_id)
                if final is not None:
                    return final.status, final.error_message
        return status, error

    return _retrying(record, "record the outcome")


T = TypeVar("T")


def _retrying(step: Callable[[], T], what: str, patience: float = RETRY_SECONDS) -> T:
    """Run a database step, retrying while the database is locked or full: a burst of
    runners or a passing lock must not cost a run its start or its result."""
    deadline = time.monotonic() + patience
    while True:
        try:
            return step()
        except StorageUnavailable as problem:
            if time.monotonic() >= deadline:
                sys.stdout.write(f"tapesched: could not {what}: {problem.message}\n")
                raise
            time.sleep(1.0)
