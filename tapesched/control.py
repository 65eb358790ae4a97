"""Operator actions on runs: start one now, stop one, wait for one."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from tapesched import process
from tapesched import store as db
from tapesched.errors import Conflict
from tapesched.models import Execution, Task
from tapesched.tick import launch


def run_now(store: db.Store, task_ref: str, now: datetime) -> Execution:
    """Claim a manual execution of a task and launch its runner; raise Conflict if one runs."""
    with store.write() as session:
        task: Task = db.find_task(session, task_ref)
        running = db.running_for_task(session, task.id)
        if running is not None:
            raise Conflict(
                f"task {task.task_name} is already running (execution {running.execution_id})"
            )
        execution_id = str(uuid.uuid4())
        execution = Execution(
            execution_id=execution_id,
            task_id=task.id,
            trigger="manual",
            created_at=now,
            status="running",
            device=task.device,
            log_path=str(store.paths.output_log(task.task_name, execution_id)),
        )
        session.add(execution)
    launch(store.paths, execution_id, Path(execution.log_path))
    return execution


def stop_execution(
    store: db.Store, execution_id: str, grace: float, now: Callable[[], datetime]
) -> bool:
    """Stop a running execution: record it cancelled (task paused), then SIGTERM the job's
    process group and the runner, SIGKILL after `grace` seconds. Return whether it was
    this call that recorded the cancellation."""
    with store.write() as session:
        execution = session.get(Execution, execution_id)
        if execution is None or execution.status != "running":
            return False
        recorded = db.finish_execution(
            session, execution_id, "cancelled", now(), "stopped by operator"
        )
    runner_alive = process.is_same_process(execution.pid, execution.process_start)
    if execution.job_pid:
        process.terminate_group(execution.job_pid, grace)
    if runner_alive:
        _signal(execution.pid, signal.SIGTERM)
        process.wait_gone(execution.pid, execution.process_start, grace + 5)
        if process.is_same_process(execution.pid, execution.process_start):
            _signal(execution.pid, signal.SIGKILL)
    # The job may have been spawned between our read and the runner's exit.
    with store.read() as session:
        fresh = session.get(Execution, execution_id)
    if fresh is not None and fresh.job_pid and fresh.job_pid != execution.job_pid:
        process.terminate_group(fresh.job_pid, grace)
    return recorded


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def wait_for(
    store: db.Store,
    execution_id: str,
    poll: float = 0.2,
    progress: Callable[[Execution], None] | None = None,
) -> Execution:
    """Wait until an execution has a final status; return it. `progress` is called with
    the running execution at each poll."""
    while True:
        with store.read() as session:
            execution = session.get(Execution, execution_id)
        if execution is None or execution.status != "running":
            return execution
        if progress is not None:
            progress(execution)
        time.sleep(poll)


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
