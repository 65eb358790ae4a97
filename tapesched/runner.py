"""The detached runner: `tapesched _run EXECUTION_ID`.

Started by tick and run with a new session, stdin from /dev/null and its
output going to the execution's log. It holds locks/exec-ID.lock for its whole
life (tick tells a live runner from a dead one by that lock), records its pid
and start time, takes the device lock, runs the action, and records the
outcome and the statistics in one transaction.
"""

from __future__ import annotations

import importlib
import os
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

from tapesched import notify, process
from tapesched import store as db
from tapesched.clock import utcnow
from tapesched.errors import StorageUnavailable
from tapesched.job import ActionFailed, Cancelled, JobContext, TimedOut
from tapesched.models import Execution, Task
from tapesched.paths import StatePaths

STOP_GRACE = 10.0
RETRY_SECONDS = 300.0


def run_execution(paths: StatePaths, execution_id: str) -> int:
    """Run one claimed execution to its end; return 0 on success, 1 otherwise."""
    lock = process.FileLock(paths.exec_lock(execution_id))
    # Another runner for the same execution (a relaunch) may hold it: then it is that one's.
    if not lock.acquire(wait=2.0):
        return 0
    store = db.Store(paths, create=False)
    try:
        claimed = _retrying(lambda: _start(store, execution_id), "record the start")
        if claimed is None:
            return 0
        execution, task = claimed
        return _run(store, paths, execution, task)
    finally:
        lock.release(unlink=True)


def _start(store: db.Store, execution_id: str) -> tuple[Execution, Task] | None:
    """Record pid, start time and host, once; None if someone else has or the run is over."""
    with store.write() as session:
        execution = session.get(Execution, execution_id)
        if execution is None or execution.status != "running" or execution.pid is not None:
            return None
        task = session.get(Task, execution.task_id)
        if task is None:
            return None
        execution.pid = os.getpid()
        execution.process_start = process.process_start_time(os.getpid())
        execution.host = socket.gethostname()
        execution.started_at = utcnow()
        task.status = "running"
        session.add(execution)
        session.add(task)
    return execution, task


def _run(store: db.Store, paths: StatePaths, execution: Execution, task: Task) -> int:
    out = sys.stdout
    context = JobContext(
        execution_id=execution.execution_id,
        task=task,
        paths=paths,
        store=store,
        output=out,
        now=utcnow,
        timeout=float(task.timeout) if task.timeout else None,
        grace=STOP_GRACE,
        on_spawn=lambda pid: _record_job_pid(store, execution.execution_id, pid),
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
    except ActionFailed as failure:
        error, result = failure.message, failure.result
    except TimedOut:
        error = f"timed out after {task.timeout}s"
    except Cancelled:
        status, error = "cancelled", "cancelled (runner received SIGTERM)"
    except Exception as crash:  # noqa: BLE001 - recorded, never lost
        traceback.print_exc(file=out)
        error = f"internal error: {type(crash).__name__}: {crash}"
    finally:
        if device_lock is not None:
            device_lock.release()
    context.log(f"finished: {status}" + (f": {error}" if error else ""))
    out.flush()
    status, error = _record(store, execution.execution_id, status, error, result)
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


def _record_job_pid(store: db.Store, execution_id: str, pid: int) -> None:
    try:
        with store.write() as session:
            execution = session.get(Execution, execution_id)
            if execution is not None:
                execution.job_pid = pid
                session.add(execution)
    except StorageUnavailable as error:
        sys.stdout.write(f"tapesched: could not record the job's pid: {error.message}\n")


def _record(
    store: db.Store, execution_id: str, status: str, error: str | None, result: Any
) -> tuple[str, str | None]:
    """Record the outcome; return the status and error that stand (`stop` or tick
    may have recorded theirs first)."""

    def record() -> tuple[str, str | None]:
        with store.write() as session:
            if not db.finish_execution(session, execution_id, status, utcnow(), error, result):
                final = session.get(Execution, execution_id)
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
