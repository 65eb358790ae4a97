"""Prometheus text exposition of the tasks' state (for node_exporter's textfile collector).

The run counters come from the task row's statistics (total_runs, success_runs,
failure_runs), which only ever grow, so cleanup pruning the history never lowers
them: `increase()` and `rate()` see no reset. The history's view by status is a
gauge under another name. Every "last ... timestamp" is 0 for a task that never
had one, so `time() - tapesched_task_last_success_timestamp_seconds > X` fires
for a task that never succeeded.
"""

from __future__ import annotations

import math
import os
import stat
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from tapesched.errors import InvalidInput
from tapesched.lifecycle import FINAL_STATUSES
from tapesched.store import catalog, executions
from tapesched.store import tasks as task_rows
from tapesched.store.db import Database
from tapesched.store.hosts import all_hosts

# name -> (type, help); the order of the exposition and of the man page.
FAMILIES = {
    "tapesched_last_tick_timestamp_seconds": ("gauge", "Unix time of each host's last tick."),
    "tapesched_task_enabled": ("gauge", "1 if the task is enabled."),
    "tapesched_task_running": ("gauge", "1 while a run of the task is in progress."),
    "tapesched_task_runs_total": (
        "counter",
        "Runs by result: success, or failure (failed or lost); from the task's statistics, "
        "never lowered by cleanup.",
    ),
    "tapesched_task_runs_finished_total": (
        "counter",
        "Runs that ran to an end: success, failed or cancelled (not lost or skipped).",
    ),
    "tapesched_task_last_run_timestamp_seconds": (
        "gauge",
        "Unix time the last run started; 0 if it never ran.",
    ),
    "tapesched_task_last_success_timestamp_seconds": (
        "gauge",
        "Unix time of the last success; 0 if it never succeeded.",
    ),
    "tapesched_task_last_failure_timestamp_seconds": (
        "gauge",
        "Unix time of the last failure (failed or lost); 0 if it never failed.",
    ),
    "tapesched_task_last_run_success": (
        "gauge",
        "1 if the last run that succeeded or failed succeeded, 0 if it failed or was lost; "
        "absent before the first.",
    ),
    "tapesched_task_last_exit_code": (
        "gauge",
        "Exit code of the last run that ended, where it has one (a custom command).",
    ),
    "tapesched_task_next_run_timestamp_seconds": ("gauge", "Unix time of the next scheduled run."),
    "tapesched_task_last_duration_seconds": ("gauge", "Duration of the last finished run."),
    "tapesched_backup_last_bytes": ("gauge", "Bytes archived by the last successful backup."),
    "tapesched_backup_last_files": ("gauge", "Files archived by the last successful backup."),
    "tapesched_task_history_executions": (
        "gauge",
        "Executions kept in the history, by final status; cleanup lowers it (alert on "
        "tapesched_task_runs_total instead).",
    ),
}


def label(value: str) -> str:
    """Escape a label value: backslash, double quote and newline."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _stamp(value: datetime | None) -> str:
    """A Unix time with milliseconds; 0 for never."""
    return "0" if value is None else f"{value.timestamp():.3f}"


def _number(value: Any) -> str | None:
    """A finite int or float from a stored result, as a sample value (else None)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return str(value)


def _last_run_success(task: Any) -> str | None:
    success, failure = task.last_success_time, task.last_failure_time
    if success is None and failure is None:
        return None
    return "1" if failure is None or (success is not None and success >= failure) else "0"


def exposition(db: Database) -> str:
    """The metrics as Prometheus text, # HELP and # TYPE first for each family."""
    samples: dict[str, list[str]] = {name: [] for name in FAMILIES}
    with db.read():
        hosts = all_hosts(db)
        tasks = task_rows.all_tasks(db, order="name")
        counts = catalog.status_counts(db)
        running = executions.tasks_running(db)
        outcomes = catalog.last_outcomes(db)
        backups = catalog.last_backup_results(db)

    def add(metric: str, labels: str, value: str | None) -> None:
        if value is not None:
            samples[metric].append(f"{metric}{{{labels}}} {value}")

    for host in hosts:
        add(
            "tapesched_last_tick_timestamp_seconds",
            f'host="{label(host.name)}"',
            _stamp(host.last_tick) if host.last_tick else None,
        )
    for task in tasks:
        name = f'task="{label(task.task_name)}",host="{label(task.host)}"'
        add("tapesched_task_enabled", name, "1" if task.enabled else "0")
        add("tapesched_task_running", name, "1" if task.id in running else "0")
        add("tapesched_task_runs_total", f'{name},result="success"', str(task.success_runs))
        add("tapesched_task_runs_total", f'{name},result="failure"', str(task.failure_runs))
        add("tapesched_task_runs_finished_total", name, str(task.total_runs))
        add("tapesched_task_last_run_timestamp_seconds", name, _stamp(task.last_run_time))
        add("tapesched_task_last_success_timestamp_seconds", name, _stamp(task.last_success_time))
        add("tapesched_task_last_failure_timestamp_seconds", name, _stamp(task.last_failure_time))
        add("tapesched_task_last_run_success", name, _last_run_success(task))
        _, result = outcomes.get(task.id, (None, None))
        if isinstance(result, dict):
            add("tapesched_task_last_exit_code", name, _number(result.get("exit_code")))
        if task.next_run_time is not None:
            add("tapesched_task_next_run_timestamp_seconds", name, _stamp(task.next_run_time))
        if task.last_duration is not None:
            add("tapesched_task_last_duration_seconds", name, f"{task.last_duration:.3f}")
        backup = backups.get(task.id)
        if isinstance(backup, dict):
            add("tapesched_backup_last_bytes", name, _number(backup.get("bytes")))
            add("tapesched_backup_last_files", name, _number(backup.get("files")))
        for status in FINAL_STATUSES:
            count = counts.get(task.id, {}).get(status, 0)
            add("tapesched_task_history_executions", f'{name},status="{status}"', str(count))
    lines: list[str] = []
    for metric, (kind, text) in FAMILIES.items():
        lines.append(f"# HELP {metric} {text}")
        lines.append(f"# TYPE {metric} {kind}")
        lines.extend(samples[metric])
    return "\n".join(lines) + "\n"


def write_textfile(path: Path, text: str) -> None:
    """Write atomically: a temporary file in the same folder, then rename over `path`.

    Raise InvalidInput if `path` exists and is not a regular file: the rename would
    replace a device (/dev/null), a link or a folder with the metrics."""
    path = path.absolute()
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        raise InvalidInput(
            f"{path} exists and is not a regular file; give the path of a .prom file",
            field="--textfile",
        )
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
