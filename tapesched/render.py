"""Rendering at the edge: JSON for scripts, rich tables for people.

rich is imported only when a table is printed.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

TASK_FIELDS = (
    "id", "task_name", "description", "status", "enabled", "schedule_type",
    "schedule_config", "timezone", "action_type", "action_config", "next_run_time",
    "last_run_time", "last_success_time", "last_failure_time", "total_runs",
    "success_runs", "failure_runs", "average_duration", "last_duration", "timeout",
    "misfire", "misfire_grace", "device_wait", "ping_url", "notify_command", "notify_on",
    "created_at", "updated_at",
)  # fmt: skip
EXECUTION_FIELDS = (
    "execution_id", "task_id", "trigger", "scheduled_for", "started_at", "completed_at",
    "duration", "status", "error_message", "result", "pid", "job_pid", "host", "log_path",
)  # fmt: skip


def iso(value: datetime | None, zone: str | None = None) -> str | None:
    """ISO 8601 with offset, in `zone` when given."""
    if value is None:
        return None
    if zone:
        value = value.astimezone(ZoneInfo(zone))
    return value.isoformat()


def short(value: datetime | None, zone: str) -> str:
    """'2026-03-29 03:00 CEST' for tables."""
    if value is None:
        return "-"
    local = value.astimezone(ZoneInfo(zone))
    return local.strftime("%Y-%m-%d %H:%M %Z")


def task_json(task: Any, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for field in TASK_FIELDS:
        value = getattr(task, field)
        data[field] = iso(value, task.timezone) if isinstance(value, datetime) else value
    data.update(extra)
    return data


def execution_json(execution: Any, zone: str | None = None, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for field in EXECUTION_FIELDS:
        value = getattr(execution, field)
        data[field] = iso(value, zone) if isinstance(value, datetime) else value
    data.update(extra)
    return data


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def console(stderr: bool = False):  # noqa: ANN201 - rich type imported lazily
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # Piped output is for grep and less: no wrapping at 80 columns.
    width = None if stream.isatty() or os.environ.get("COLUMNS") else 200
    plain = bool(os.environ.get("NO_COLOR"))  # https://no-color.org: never colour then
    return Console(
        file=stream,
        width=width,
        color_system=None if plain else "auto",
        no_color=plain or None,
        highlight=False,
        soft_wrap=False,
    )


def table(title: str | None, columns: list[str], rows: list[list[Any]]) -> None:
    from rich import box
    from rich.table import Table

    grid = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column in columns:
        grid.add_column(column, overflow="fold")
    for row in rows:
        grid.add_row(*row)
    console().print(grid)


def pairs(rows: list[tuple[str, str]]) -> None:
    """A two-column key/value listing for `show`."""
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    for key, value in rows:
        grid.add_row(key, value)
    console().print(grid)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return human_delta(timedelta(seconds=seconds), precise=True)


def human_delta(delta: timedelta, precise: bool = False) -> str:
    """'2h 5min', '3 days 1h', '12s'."""
    seconds = int(abs(delta.total_seconds()))
    if precise and seconds < 60:
        return f"{abs(delta.total_seconds()):.1f}s"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} day{'s' if days != 1 else ''} {hours}h"
    if hours:
        return f"{hours}h {minutes}min"
    if minutes:
        return f"{minutes}min {secs}s" if secs and minutes < 10 else f"{minutes}min"
    return f"{secs}s"


def schedule_words(task: Any) -> str:
    """A task's schedule in words ("daily at 02:00")."""
    from tapesched.schedule import describe
    from tapesched.schedule_config import Schedule

    return describe(Schedule(task.schedule_type, task.schedule_config, task.timezone))
