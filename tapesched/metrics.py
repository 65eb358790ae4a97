"""Prometheus text exposition of the tasks' state (for node_exporter's textfile collector)."""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path

from tapesched.lifecycle import FINAL_STATUSES
from tapesched.store import catalog, executions
from tapesched.store import tasks as task_rows
from tapesched.store.db import Database, last_tick

# name -> (type, help)
FAMILIES = {
    "tapesched_last_tick_timestamp_seconds": ("gauge", "Unix time of the last tick."),
    "tapesched_task_enabled": ("gauge", "1 if the task is enabled."),
    "tapesched_task_running": ("gauge", "1 while a run of the task is in progress."),
    "tapesched_task_last_run_timestamp_seconds": ("gauge", "Unix time the last run started."),
    "tapesched_task_last_success_timestamp_seconds": ("gauge", "Unix time of the last success."),
    "tapesched_task_last_failure_timestamp_seconds": ("gauge", "Unix time of the last failure."),
    "tapesched_task_next_run_timestamp_seconds": ("gauge", "Unix time of the next scheduled run."),
    "tapesched_task_last_duration_seconds": ("gauge", "Duration of the last finished run."),
    "tapesched_task_runs_total": ("counter", "Executions recorded, by final status."),
}


def label(value: str) -> str:
    """Escape a label value: backslash, double quote and newline."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _stamp(value: datetime | None) -> str | None:
    return None if value is None else f"{value.timestamp():.3f}"


def exposition(db: Database) -> str:
    """The metrics as Prometheus text, # HELP and # TYPE first for each family."""
    samples: dict[str, list[str]] = {name: [] for name in FAMILIES}
    with db.read():
        latest_tick = last_tick(db)
        tasks = task_rows.all_tasks(db, order="name")
        counts = catalog.status_counts(db)
        running = executions.tasks_running(db)
    if latest_tick is not None:
        samples["tapesched_last_tick_timestamp_seconds"].append(
            f"tapesched_last_tick_timestamp_seconds {_stamp(latest_tick)}"
        )
    for task in tasks:
        name = label(task.task_name)
        values = {
            "tapesched_task_enabled": "1" if task.enabled else "0",
            "tapesched_task_running": "1" if task.id in running else "0",
            "tapesched_task_last_run_timestamp_seconds": _stamp(task.last_run_time),
            "tapesched_task_last_success_timestamp_seconds": _stamp(task.last_success_time),
            "tapesched_task_last_failure_timestamp_seconds": _stamp(task.last_failure_time),
            "tapesched_task_next_run_timestamp_seconds": _stamp(task.next_run_time),
            "tapesched_task_last_duration_seconds": (
                None if task.last_duration is None else f"{task.last_duration:.3f}"
            ),
        }
        for metric, value in values.items():
            if value is not None:
                samples[metric].append(f'{metric}{{task="{name}"}} {value}')
        for status in FINAL_STATUSES:
            count = counts.get(task.id, {}).get(status, 0)
            samples["tapesched_task_runs_total"].append(
                f'tapesched_task_runs_total{{task="{name}",status="{status}"}} {count}'
            )
    lines: list[str] = []
    for metric, (kind, text) in FAMILIES.items():
        lines.append(f"# HELP {metric} {text}")
        lines.append(f"# TYPE {metric} {kind}")
        lines.extend(samples[metric])
    return "\n".join(lines) + "\n"


def write_textfile(path: Path, text: str) -> None:
    """Write atomically: a temporary file in the same folder, then rename."""
    path = path.absolute()
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w") as out:
            out.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
