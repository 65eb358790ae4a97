"""Operator actions on runs: start one now, stop one, wait for one."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from tapesched import notify, process, runner
from tapesched.decisions import Lease
from tapesched.errors import Conflict, InvalidInput, NotFound, StorageUnavailable
from tapesched.hosts import ANY, this_host
from tapesched.paths import StatePaths
from tapesched.store import executions
from tapesched.store import tasks as task_rows
from tapesched.store.db import Database
from tapesched.store.executions import ExecutionRecord


def run_now(
    db: Database, paths: StatePaths, task_ref: str, now: datetime, level: str | None = None
) -> ExecutionRecord:
    """Claim a manual execution of a task on this host and launch its runner; raise
    Conflict if one runs, or if the task is bound to another host (its drives and paths
    are there). `level` is the backup level asked for (`run --level`): InvalidInput for
    a task that is not a backup."""
    host = this_host()
    with db.write():
        db.serialize(f"claims:{host}")
        task = task_rows.find(db, task_ref)
        if task.host not in (host, ANY):
            raise Conflict(
                f"task {task.task_name} runs on host {task.host}, not on this host ({host}); "
                f"run it there, or bind it elsewhere with 'tapesched edit {task.task_name} "
                "--host NAME|any'"
            )
        if level is not None and task.action_type != "backup":
            raise InvalidInput(
                f"task {task.task_name} is a {task.action_type} task; --level is for backup tasks"
            )
        running = executions.running_for_task(db, task.id)
        if running is not None:
            raise Conflict(
                f"task {task.task_name} is already running (execution {running.execution_id})"
            )
        execution_id = str(uuid.uuid4())
        executions.insert(
            db,
            {
                "execution_id": execution_id,
                "task_id": task.id,
                "trigger": "manual",
                "created_at": now,
                "level": level,
                "status": "running",
                "device": task.device,
                "host": host,
                "log_path": str(paths.output_log(task.task_name, execution_id)),
                "lease_expires": db.server_now() + Lease.from_environment().length,
            },
        )
        execution = executions.get(db, execution_id)
    try:
        runner.launch(paths, execution_id, Path(execution.log_path))
    except OSError as error:
        # Never leave a claimed execution without a runner: record it failed, say so (exit 5).
        message, ended = runner.fail_unstarted(db, execution_id, error, now)
        if ended is not None:
            ended.announce("recorded by run")
        raise StorageUnavailable(f"execution {execution_id}: {message}") from None
    return execution


def stop_task(
    db: Database, task_ref: str, grace: float, clock: Callable[[], datetime]
) -> ExecutionRecord:
    """Stop the run in progress of a task; return it. Raise Conflict if there is none."""
    with db.read():
        task = task_rows.find(db, task_ref)
        running = executions.running_for_task(db, task.id)
    if running is None or not stop_execution(db, running.execution_id, grace, clock):
        raise Conflict(f"task {task.task_name} has no run in progress")
    return running


def stop_execution(
    db: Database, execution_id: str, grace: float, clock: Callable[[], datetime]
) -> bool:
    """Stop a running execution: record it cancelled (task paused), then SIGTERM the job's
    process group and the runner, SIGKILL after `grace` seconds. Return whether it was
    this call that recorded the cancellation; if it was, this call announces it (the ping
    and, per notify_on, the notify command), once the runner is gone. A run on another
    host is only recorded cancelled here: its runner sees that at its next lease renewal
    and stops its job there."""
    reason = "stopped by operator"
    with db.write():
        execution = executions.get(db, execution_id)
        if execution is None or execution.status != "running":
            return False
        recorded = executions.finish(db, execution_id, "cancelled", clock(), reason) is not None
        task = task_rows.get(db, execution.task_id) if recorded else None
    if execution.host not in (None, this_host()):
        if task is not None:
            notify.Ended(task, execution_id, "cancelled", reason, execution.log_path).announce(
                "recorded by stop"
            )
        return recorded
    runner_alive = process.is_same_process(execution.pid, execution.process_start)
    if execution.job_pid:
        process.terminate_group(execution.job_pid, grace)
    if runner_alive:
        process.signal_process(execution.pid, signal.SIGTERM)
        process.wait_gone(execution.pid, execution.process_start, grace + 5)
        if process.is_same_process(execution.pid, execution.process_start):
            process.signal_process(execution.pid, signal.SIGKILL)
    # The job may have been spawned between our read and the runner's exit.
    with db.read():
        fresh = executions.get(db, execution_id)
    if fresh is not None and fresh.job_pid and fresh.job_pid != execution.job_pid:
        process.terminate_group(fresh.job_pid, grace)
    if task is not None:
        notify.Ended(task, execution_id, "cancelled", reason, execution.log_path).announce(
            "recorded by stop"
        )
    return recorded


def wait_for(
    db: Database,
    execution_id: str,
    poll: float = 0.2,
    progress: Callable[[ExecutionRecord], None] | None = None,
) -> ExecutionRecord:
    """Wait until an execution has a final status, and its runner has announced it (its
    ping and notify command) and exited; return it. `progress` is called with the running
    execution at each poll. Raise NotFound if it disappears (its task was deleted)."""
    while True:
        with db.read():
            execution = executions.get(db, execution_id)
        if execution is None:
            raise NotFound(f"execution {execution_id} is gone (its task was deleted)")
        if execution.status != "running":
            _runner_done(execution)
            return execution
        if progress is not None:
            progress(execution)
        time.sleep(poll)


def _runner_done(execution: ExecutionRecord) -> None:
    """Wait, within what its pings and notify command may take, for a runner of this host
    that is still announcing the outcome to exit."""
    if execution.pid and execution.host in (None, this_host()):
        limit = 2 * notify.ping_timeout() + notify.NOTIFY_TIMEOUT + 5
        process.wait_gone(execution.pid, execution.process_start, limit)


def bytes_written(device: str | None) -> int | None:
    """Bytes of the archive being written to a virtual tape (its partial files), if any."""
    if not device or not os.path.isdir(device):
        return None
    total = 0
    try:
        with os.scandir(device) as entries:
            for entry in entries:
                if entry.name.endswith(".partial") and entry.is_file():
                    total += entry.stat().st_size
    except OSError:
        return None
    return total
