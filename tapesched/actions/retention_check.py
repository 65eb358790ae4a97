"""retention_check: is any backup overdue, and which archives are past retention?

Each checked backup task (default: every enabled one) must have a successful
run within its window: max_age_hours, or twice its schedule's period. A task
that has never succeeded is measured from its creation, so a new task is not
overdue before its first window has passed. With retention_days the result
also lists the archives older than that (cleanup removes them); listing them
never fails the run.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tapesched.errors import ActionFailed, NotFound
from tapesched.job import JobContext
from tapesched.schedule import period
from tapesched.schedule_config import Schedule
from tapesched.store import catalog
from tapesched.store import tasks as task_rows


def overdue_check(
    task_name: str,
    last_success: datetime | None,
    created_at: datetime,
    window: timedelta | None,
    now: datetime,
) -> dict[str, Any]:
    """Given a task's last success, creation time and window, return its check."""
    entry: dict[str, Any] = {
        "task": task_name,
        "last_success": last_success.isoformat() if last_success else None,
        "window_hours": round(window.total_seconds() / 3600, 3) if window else None,
    }
    if window is None:
        return {**entry, "ok": True, "detail": "runs once: no window"}
    reference = last_success or created_at
    age = now - reference
    if age <= window:
        detail = (
            f"last success {_ago(age)} ago"
            if last_success
            else "no successful run yet, created within its window"
        )
        return {**entry, "ok": True, "detail": detail}
    detail = (
        f"overdue: last success {_ago(age)} ago, window {_ago(window)}"
        if last_success
        else f"overdue: never succeeded, created {_ago(age)} ago, window {_ago(window)}"
    )
    return {**entry, "ok": False, "detail": detail}


def _ago(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} hours"


def run(config: dict[str, Any], context: JobContext) -> dict[str, Any]:
    now = context.now()
    max_age = config.get("max_age_hours")
    retention_days = config.get("retention_days")
    db = context.db
    with db.read():
        if "tasks" in config:
            tasks = []
            for reference in config["tasks"]:
                try:
                    task = task_rows.find(db, str(reference))
                except NotFound as error:
                    raise ActionFailed(error.message, field="tasks") from None
                if task.action_type != "backup":
                    raise ActionFailed(
                        f"{task.task_name} is a {task.action_type} task, not a backup",
                        field="tasks",
                    )
                tasks.append(task)
        else:
            tasks = task_rows.all_tasks(db, enabled_only=True, action_type="backup")
        expired_runs = (
            catalog.successes_before(
                db, [task.id for task in tasks], now - timedelta(days=int(retention_days))
            )
            if retention_days is not None
            else []
        )
    checks = []
    for task in tasks:
        if max_age is not None:
            window = timedelta(hours=float(max_age))
        else:
            nominal = period(Schedule(task.schedule_type, task.schedule_config, task.timezone))
            window = 2 * nominal if nominal is not None else None
        checks.append(
            overdue_check(task.task_name, task.last_success_time, task.created_at, window, now)
        )
    names = {task.id: task.task_name for task in tasks}
    expired = []
    for row in expired_runs:
        found = row.result or {}
        expired.append(
            {
                "task": names[row.task_id],
                "execution_id": row.execution_id,
                "completed_at": row.completed_at.isoformat(),
                "backend": found.get("backend"),
                "archive_path": found.get("archive_path"),
                "tape_file_number": found.get("tape_file_number"),
                "device": found.get("device"),
                "volumes": found.get("volumes"),
            }
        )
    result = {
        "tasks": checks,
        "overdue": [item["task"] for item in checks if not item["ok"]],
        "expired_archives": expired,
    }
    for item in checks:
        context.log(f"{'ok  ' if item['ok'] else 'FAIL'} {item['task']}: {item['detail']}")
    if retention_days is not None:
        context.log(f"{len(expired)} archives older than {retention_days} days")
    if not checks:
        context.log("no enabled backup task to check")
    if result["overdue"]:
        raise ActionFailed(
            "backups overdue: "
            + "; ".join(f"{item['task']} ({item['detail']})" for item in checks if not item["ok"]),
            result,
        )
    return result
