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
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from tapesched import hooks, notify, process
from tapesched.clock import utcnow
from tapesched.dburl import DatabaseURL
from tapesched.decisions import Lease
from tapesched.errors import (
    ActionFailed,
    Cancelled,
    StorageUnavailable,
    TapeschedError,
    TimedOut,
    os_error_line,
)
from tapesched.hosts import this_host
from tapesched.job import JobContext
from tapesched.keeper import LeaseKeeper
from tapesched.paths import StatePaths
from tapesched.store import executions, tasks
from tapesched.store.db import Database, open_database
from tapesched.store.executions import ExecutionRecord
from tapesched.store.tasks import TaskRecord

STOP_GRACE = 10.0
RETRY_SECONDS = 300.0


def launch(paths: StatePaths, execution_id: str, log_path: Path) -> int:
    """Start the detached runner of a claimed execution, its output to log_path; return its
    pid. Raise OSError, naming the path, if the state folder cannot hold its lock or its
    log (a `locks` or `logs` that is a file, a lock that is a folder, no permission)."""
    lock = paths.exec_lock(execution_id)
    created = process.check_lock_file(lock)
    env = {**os.environ, "TAPESCHED_HOME": str(paths.home), "TAPESCHED_HOST": this_host()}
    db = paths.db
    if isinstance(db, DatabaseURL):  # its password, if the URL has one, not on a command line
        if db.password is not None:
            env[PASSWORD_VARIABLE] = db.password
        if _has_password(env.get("TAPESCHED_DB")):
            env["TAPESCHED_DB"] = db.without_password
        db = db.without_password
    try:
        return process.spawn_detached(process.runner_argv(str(db), execution_id), log_path, env)
    except OSError:
        if created:
            lock.unlink(missing_ok=True)
        raise


def fail_unstarted(
    db: Database, execution_id: str, error: OSError, now: datetime
) -> tuple[str, notify.Ended | None]:
    """A runner could not be started (or could not take its lock): record the execution
    failed, "could not start its runner: PATH: REASON", if it is still running and no
    runner has started it. Return the message and, if this call recorded it, what to
    announce."""
    message = f"could not start its runner: {os_error_line(error)}"
    with db.write():
        execution = executions.get(db, execution_id)
        if execution is None or execution.status != "running" or execution.pid is not None:
            return message, None
        finished = executions.finish(db, execution_id, "failed", now, message)
        if finished is None:
            return message, None
        task = tasks.get(db, execution.task_id)
    if task is None:
        return message, None
    return message, notify.Ended(
        task, execution_id, "failed", message, execution.log_path, retry=finished.retry
    )


# How a runner gets the catalog's password when its URL has one: never on its command
# line, and taken out of its environment at once, so that no job inherits it.
PASSWORD_VARIABLE = "TAPESCHED_DB_PASSWORD"


def _has_password(text: str | None) -> bool:
    from tapesched.dburl import is_url, parse

    try:
        return bool(text) and is_url(text) and parse(text).password is not None
    except TapeschedError:
        return False


def with_password(paths: StatePaths) -> StatePaths:
    """The runner's state paths with the catalog's password (if its launcher passed one),
    which is then gone from the environment its jobs inherit."""
    import dataclasses

    password = os.environ.pop(PASSWORD_VARIABLE, None)
    if password is None or not isinstance(paths.db, DatabaseURL):
        return paths
    return dataclasses.replace(paths, db=dataclasses.replace(paths.db, password=password))


def run_execution(paths: StatePaths, execution_id: str) -> int:
    """Run one claimed execution to its end; return 0 on success, 1 otherwise."""
    paths = with_password(paths)
    lock = process.FileLock(paths.exec_lock(execution_id))
    # Another runner for the same execution (a relaunch) may hold it: then it is that one's.
    try:
        held = lock.acquire(wait=2.0)
    except OSError as error:
        _cannot_lock(paths, execution_id, error)
    if not held:
        return 0
    try:
        if isinstance(paths.db, Path) and not paths.db.exists():  # nothing to wait for
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


def _cannot_lock(paths: StatePaths, execution_id: str, error: OSError) -> NoReturn:
    """The runner cannot take its lock: record the run failed (if no runner has started it),
    announce it, and raise StorageUnavailable (exit 5) naming the path."""
    message = f"could not start its runner: {os_error_line(error)}"
    if not isinstance(paths.db, Path) or paths.db.exists():
        db = _retrying(lambda: open_database(paths, create=False), "open the database")
        try:
            message, ended = _retrying(
                lambda: fail_unstarted(db, execution_id, error, utcnow()), "record the outcome"
            )
        finally:
            db.close()
        if ended is not None:
            notify.note(sys.stdout, f"finished: failed: {message}")
            notify.announce(ended.task, execution_id, "failed", message, ended.log_path, sys.stdout)
    raise StorageUnavailable(f"execution {execution_id}: {message}")


def _start(db: Database, execution_id: str) -> tuple[ExecutionRecord, TaskRecord] | None:
    """Record pid, start time and host, once; None if someone else has or the run is over."""
    with db.write():
        return executions.record_start(
            db,
            execution_id,
            os.getpid(),
            process.process_start_time(os.getpid()),
            this_host(),
            utcnow(),
            db.server_now() + Lease.from_environment().length,
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
        scheduled_for=execution.scheduled_for or execution.created_at,
        trigger=execution.trigger,
        attempt=execution.attempt,
        level=execution.level,
    )
    signal.signal(signal.SIGTERM, lambda *_: context.cancel())
    signal.signal(signal.SIGINT, lambda *_: context.cancel())
    if task.ping_url:
        notify.ping(task.ping_url, "start", b"", out, run_id=execution.execution_id)
    context.log(
        f"execution {execution.execution_id} of task {task.task_name} ({task.action_type}, "
        f"trigger {execution.trigger}) started at {execution.started_at.isoformat()}"
    )
    status, error, result = "failed", None, None
    device_lock = None
    keeper = LeaseKeeper(
        paths, execution.execution_id, Lease.from_environment(), context.abort, context.log
    )
    keeper.start()
    try:
        try:
            hooks.run_before(context, task, execution.log_path)  # before the device lock
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
        # Whatever the outcome, with the drive free and the lease still renewed; its
        # failure is noted in the result, never changes the outcome.
        result = hooks.run_after(
            context, task, status, error, result, execution.started_at, execution.log_path
        )
    finally:
        keeper.stop()
    context.log(f"finished: {status}" + (f": {error}" if error else ""))
    out.flush()
    recorded, status, error = _record(db, execution.execution_id, status, error, result)
    if not recorded and keeper.ended_by is not None:
        _note_stopped(db, execution.execution_id)
    if recorded:  # else `stop` or tick recorded first, and announces
        notify.announce(
            task,
            execution.execution_id,
            status,
            error,
            execution.log_path,
            out,
            exit_code=notify.exit_code_of(result),
            retry=recorded.retry,
        )
    return 0 if status == "success" else 1


def _note_stopped(db: Database, execution_id: str) -> None:
    """Another host recorded the run's outcome while its job went on here: say, on the
    record, that this host's runner stopped the job and when."""
    note = f"the runner on host {this_host()} stopped its job at {utcnow():%Y-%m-%d %H:%M:%S} UTC"
    try:
        with db.write():
            executions.add_note(db, execution_id, note)
    except StorageUnavailable as error:
        sys.stdout.write(f"tapesched: could not record that the job stopped: {error.message}\n")


def _wait_for_device(lock: process.FileLock, wait: int, context: JobContext) -> bool:
    deadline = time.monotonic() + max(0, wait)
    said = False
    while True:
        try:
            if lock.acquire():
                return True
        except OSError as error:
            raise ActionFailed(f"device lock {os_error_line(error)}") from None
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
            executions.record_job_pid(db, execution_id, pid, process.process_start_time(pid))
    except StorageUnavailable as error:
        sys.stdout.write(f"tapesched: could not record the job's pid: {error.message}\n")


def _record(
    db: Database, execution_id: str, status: str, error: str | None, result: Any
) -> tuple[executions.Finished | None, str, str | None]:
    """Record the outcome; return what this call recorded (None if it recorded nothing),
    and the status and error that stand (`stop` or tick may have recorded theirs first)."""

    def record() -> tuple[executions.Finished | None, str, str | None]:
        with db.write():
            finished = executions.finish(db, execution_id, status, utcnow(), error, result)
            if finished is None:
                final = executions.get(db, execution_id)
                if final is not None:
                    return None, final.status, final.error_message
                return None, status, error
        return finished, status, error

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
