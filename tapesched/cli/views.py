"""Commands that look at tasks: list, show, preview."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from tapesched.cli.common import app, now, open_db, print_json
from tapesched.cli.options import (
    At,
    Cron,
    Daily,
    Every,
    From,
    Full,
    HelpCommand,
    JsonOut,
    Monthly,
    Once,
    ScheduleConfig,
    ScheduleType,
    TaskRef,
    Weekly,
    Yearly,
    Zone,
    complete_task,
    instant,
)
from tapesched.errors import InvalidInput


@app.command("list", cls=HelpCommand)
def list_(
    enabled_only: Annotated[
        bool, typer.Option("--enabled-only", help="Only enabled tasks.")
    ] = False,
    full: Full = False,
    json_out: JsonOut = False,
) -> None:
    """List tasks by next run (none last): next and last run, schedule in words, action,
    status. One line per task at any width; --full shows values whole."""
    from tapesched import tasks
    from tapesched.hosts import this_host
    from tapesched.render import Column, schedule_words, stamp, table, task_json

    current = now()
    with open_db(create=False) as db:
        listed = tasks.list_tasks(db, current, enabled_only)
    if json_out:  # by id, as before: scripts sort as they need
        print_json(
            {
                "tasks": [
                    task_json(task, schedule_description=schedule_words(task), state=state)
                    for task, state in listed
                ],
                "total": len(listed),
            }
        )
        return
    if not listed:
        sys.stdout.write("no tasks; add one with 'tapesched add NAME ...'\n")
        return
    listed = sorted(listed, key=lambda pair: _by_next_run(pair[0]))
    # The HOST column once a task runs anywhere but here (several hosts share the catalog).
    here = this_host()
    hosts = any(task.host != here for task, _ in listed)
    columns = [
        Column("NEXT", keep=7),
        Column("LEFT", keep=3),
        Column("LAST", keep=2),
        Column("PASSED", keep=1),
        Column("TASK", keep=8, cut=True, floor=12),
        Column("SCHEDULE", keep=5, cut=True),
        Column("ACTION", keep=4),
        Column("STATUS", keep=6),
    ]
    if hosts:
        columns.insert(5, Column("HOST", keep=4, cut=True))
    rows = []
    for task, state in listed:
        row = [
            stamp(task.next_run_time, task.timezone),
            _relative(task.next_run_time, current, "left"),
            stamp(task.last_run_time, task.timezone),
            _relative(task.last_run_time, current, "ago"),
            task.task_name,
            schedule_words(task),
            task.action_type,
            status_cell(state),
        ]
        if hosts:
            row.insert(5, task.host)
        rows.append(row)
    table(None, columns, rows, full=full)


def _by_next_run(task: Any) -> tuple[bool, datetime, str]:
    """The order of `list`: next run first (tasks with none last), then name."""
    return (task.next_run_time is None, task.next_run_time or NEVER, task.task_name)


NEVER = datetime.min.replace(tzinfo=UTC)


STATUS_STYLES = {
    "active": "green", "running": "cyan", "queued": "yellow", "paused": "yellow",
    "error": "bold red", "inactive": "dim",
}  # fmt: skip


def status_cell(state: str):  # noqa: ANN201 - a rich Text
    from rich.text import Text

    return Text(state, style=STATUS_STYLES.get(state, ""))


def _relative(value: datetime | None, current: datetime, word: str) -> str:
    """'5h 2min left' / '3 days 1h ago' (overdue next runs read 'ago')."""
    from tapesched.render import human_delta

    if value is None:
        return "-"
    if value < current:
        return f"{human_delta(current - value)} ago"
    return f"{human_delta(value - current)} {'left' if word == 'left' else 'ago'}"


@app.command(cls=HelpCommand)
def show(task_ref: TaskRef, json_out: JsonOut = False) -> None:
    """Show one task: every field and its statistics."""
    from tapesched import tasks
    from tapesched.render import duration, pairs, schedule_words, stamp, task_json

    with open_db(create=False) as db:
        task, state, running = tasks.show_task(db, task_ref, now())
    described = schedule_words(task)
    if json_out:
        print_json(
            task_json(task, schedule_description=described, state=state, running_execution=running)
        )
        return
    zone = task.timezone

    def when(value: datetime | None, missing: str = "never") -> str:
        return stamp(value, zone) if value is not None else missing

    def seconds(value: int | None) -> str:
        return "none" if value is None else f"{value}s"

    pairs(
        [
            ("task", f"{task.task_name} (id {task.id})"),
            ("description", task.description or "-"),
            ("status", state),
            ("enabled", "yes" if task.enabled else "no"),
            ("schedule", described),
            ("schedule (seed form)", f"{task.schedule_type} {_json(task.schedule_config)}"),
            ("timezone", zone),
            ("action", task.action_type),
            ("action config", _json(task.action_config)),
            ("device", task.device or "none"),
            ("host", task.host),
            ("next run", when(task.next_run_time, "none")),
            ("last run", when(task.last_run_time)),
            ("last success", when(task.last_success_time)),
            ("last failure", when(task.last_failure_time)),
            (
                "runs",
                f"{task.total_runs} total, {task.success_runs} ok, {task.failure_runs} failed",
            ),
            ("average duration", duration(task.average_duration)),
            ("last duration", duration(task.last_duration)),
            ("timeout", seconds(task.timeout)),
            ("misfire", task.misfire),
            ("misfire grace", seconds(task.misfire_grace)),
            ("device wait", seconds(task.device_wait)),
            ("ping URL", task.ping_url or "none"),
            ("notify command", task.notify_command or "none"),
            ("notify on", task.notify_on),
            ("retries", _retries(task)),
            ("retry pending", _pending_retry(task, when)),
            ("before", _command_words(task.hook_before)),
            ("after", _command_words(task.hook_after)),
            ("window", task.start_window or "none (any time)"),
            ("running execution", running or "none"),
            ("created", when(task.created_at)),
            ("updated", when(task.updated_at)),
        ]
    )


def _retries(task: Any) -> str:
    if not task.retries:
        return "none"
    return f"{task.retries}, {task.retry_delay}s after the first failure, doubling (at most 6h)"


def _pending_retry(task: Any, when: Any) -> str:
    if task.retry_at is None:
        return "none"
    return f"attempt {task.retry_attempt} at {when(task.retry_at)}"


def _command_words(command: Any) -> str:
    """A hook as the operator gave it: the string, or the argument list shell-quoted."""
    import shlex

    if command is None:
        return "none"
    return command if isinstance(command, str) else shlex.join(command)


def _json(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


@app.command(cls=HelpCommand)
def preview(
    task_ref: Annotated[
        str | None,
        typer.Argument(
            metavar="TASK",
            help="Task name or id, or give schedule options.",
            autocompletion=complete_task,
        ),
    ] = None,
    schedule_type: ScheduleType = None,
    schedule_config: ScheduleConfig = None,
    once: Once = None,
    every: Every = None,
    daily: Daily = None,
    weekly: Weekly = None,
    monthly: Monthly = None,
    yearly: Yearly = None,
    cron: Cron = None,
    at: At = None,
    timezone: Zone = None,
    from_: From = None,
    count: Annotated[int, typer.Option("--count", "-n", metavar="N", help="How many runs.")] = 10,
    json_out: JsonOut = False,
) -> None:
    """Show the next runs of a task or of a schedule, one a line as systemd-analyze calendar
    prints them ('Sun 2026-12-06 01:00:00 CET'), DST shifts marked; for a backup task, the
    level each run would have."""
    from tapesched import tasks
    from tapesched.cli.shorthands import schedule_fields, schedule_options
    from tapesched.clock import host_zone_name
    from tapesched.render import clean, iso, stamp
    from tapesched.schedule import describe
    from tapesched.schedule import preview as upcoming
    from tapesched.spec import UNSET, resolve_schedule, spec_of

    if count < 1 or count > 10000:
        raise InvalidInput(f"--count: {count} is out of range; expected 1-10000")
    fields = schedule_fields(
        schedule_type,
        schedule_config,
        schedule_options(once, every, daily, weekly, monthly, yearly, cron, at),
    )
    zone = timezone if timezone is not None else UNSET
    created_at = None
    backup_config = None
    if task_ref is not None:
        if fields:
            raise InvalidInput("preview: give a TASK or schedule options, not both")
        with open_db(create=False) as db:
            task = tasks.get_task(db, task_ref)
        current = spec_of(task).schedule
        schedule = resolve_schedule(current.type, current.config, zone, current)
        created_at = task.created_at
        if task.action_type == "backup":
            backup_config = task.action_config or {}
    else:
        schedule = resolve_schedule(
            fields.get("schedule_type", UNSET),
            fields.get("schedule_config", UNSET),
            host_zone_name() if zone is UNSET else zone,
            None,
        )
    start = instant(from_, schedule.zone, "--from", default=None) or now()
    runs = upcoming(schedule, start, count, created_at or start)
    levels = _run_levels(backup_config, [time for time, _ in runs], schedule.zone)
    if json_out:
        print_json(
            {
                "runs": [
                    {"time": iso(time, schedule.zone), "note": note}
                    | ({"level": levels[index]} if levels else {})
                    for index, (time, note) in enumerate(runs)
                ]
            }
        )
        return
    sys.stdout.write(clean(f"{describe(schedule)} ({schedule.zone})") + "\n")
    if not runs:
        sys.stdout.write("no runs after that time\n")
        return
    times = [stamp(time, schedule.zone) for time, _ in runs]
    if levels:
        width = max(len(level) for level in levels)
        times = [f"{text}  {level:<{width}}" for text, level in zip(times, levels, strict=True)]
    width = max(len(text) for text in times)
    for text, (_, note) in zip(times, runs, strict=True):
        line = f"{text:<{width}}  {PREVIEW_NOTES[note]}" if note else text.rstrip()
        sys.stdout.write(line + "\n")


def _run_levels(config: dict[str, Any] | None, times: list[Any], zone: str) -> list[str]:
    """The backup level of each run (its date in the task's zone picks a `levels` rule, else
    the task_type); [] for a task that is not a backup."""
    if config is None:
        return []
    from tapesched.levels import planned

    return [planned(config, time, zone)[0] for time in times]


PREVIEW_NOTES = {
    "dst_gap": "moved past the DST gap (that local time does not exist)",
    "dst_repeat": "in the repeated DST hour",
}
