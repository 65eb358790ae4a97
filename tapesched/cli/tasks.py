"""Commands on tasks: add, list, show, edit, delete, enable, disable, preview."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Annotated, Any

import typer

from tapesched.cli.common import app, complete_task, now, open_db, print_json, warn
from tapesched.cli.options import (
    ActionConfig,
    ActionType,
    At,
    Command,
    Compress,
    Cron,
    Daily,
    Device,
    Every,
    Exclude,
    FromTask,
    JsonOut,
    Level,
    Monthly,
    NotifyCommand,
    NotifyOn,
    Once,
    PingUrl,
    RetentionDays,
    ScheduleConfig,
    ScheduleType,
    Source,
    Target,
    TaskRef,
    Weekly,
    Yearly,
    Zone,
)
from tapesched.errors import InvalidInput


def _given(**values: Any) -> dict[str, Any]:
    """The options that were given (Typer gives None for the others)."""
    return {name: value for name, value in values.items() if value is not None}


@app.command()
def add(
    name: Annotated[str, typer.Argument(help="Unique task name.")],
    description: Annotated[str, typer.Option("--description", "-d", metavar="TEXT")] = "",
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
    action: ActionType = None,
    action_config: ActionConfig = None,
    source: Source = None,
    device: Device = None,
    level: Level = None,
    compress: Compress = None,
    exclude: Exclude = None,
    command: Command = None,
    from_task: FromTask = None,
    target: Target = None,
    retention_days: RetentionDays = None,
    timeout: Annotated[
        int | None,
        typer.Option(
            "--timeout", metavar="SECONDS", help="Seconds before a run is stopped as failed."
        ),
    ] = None,
    misfire: Annotated[
        str,
        typer.Option(
            "--misfire", metavar="POLICY", help="Missed runs: run_once (catch up once) or skip."
        ),
    ] = "run_once",
    misfire_grace: Annotated[
        int | None,
        typer.Option(
            "--misfire-grace", metavar="SECONDS", help="Seconds of lateness still caught up."
        ),
    ] = None,
    device_wait: Annotated[
        int,
        typer.Option("--device-wait", metavar="SECONDS", help="Seconds a run waits for its drive."),
    ] = 60,
    ping_url: PingUrl = None,
    notify_command: NotifyCommand = None,
    notify_on: NotifyOn = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Create it disabled.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Accept a once schedule in the past.")
    ] = False,
    json_out: JsonOut = False,
) -> None:
    """Create a task.

    \b
    Schedule (one of):
      --schedule-type TYPE --schedule-config JSON   the seed's form
      --once '2026-12-25 14:30'     --every 30m|2h|1d     --daily 02:00
      --weekly mon,thu --at 02:00   --monthly 31 --at 02:00
      --yearly 02-29 --at 02:00     --cron '0 2 * * *'
    Action (one of):
      --action TYPE --action-config JSON            the seed's form
      --command 'tar -cf /x /y'                     custom
      --source /data --device /dev/nst0|/srv/vtape [--level incremental]  backup
      --from-task NAME --target /restore            recovery
      --action cleanup --retention-days 30
    """
    from tapesched import tasks
    from tapesched.cli.shorthands import action_fields, schedule_fields
    from tapesched.clock import host_zone_name
    from tapesched.spec import TaskChanges, new_spec

    changes = TaskChanges(
        task_name=name,
        description=description,
        enabled=not disabled,
        misfire=misfire,
        device_wait=device_wait,
        **_given(
            timezone=timezone,
            timeout=timeout,
            misfire_grace=misfire_grace,
            ping_url=ping_url or None,
            notify_command=notify_command or None,
            notify_on=notify_on,
        ),
        **schedule_fields(
            schedule_type,
            schedule_config,
            _schedule_options(once, every, daily, weekly, monthly, yearly, cron, at),
        ),
        **action_fields(
            action,
            action_config,
            _action_shorthands(
                source,
                device,
                level,
                compress,
                exclude,
                command,
                from_task,
                target,
                retention_days,
            ),
        ),
    )
    current = now()
    spec, warnings = new_spec(changes, host_zone_name(), current, force)
    with open_db() as db:
        task = tasks.create_task(db, spec, current, force)
    for message in warnings:
        warn(message)
    _print_task(task, json_out, created=True)


def _schedule_options(
    once: str | None,
    every: str | None,
    daily: str | None,
    weekly: str | None,
    monthly: str | None,
    yearly: str | None,
    cron: str | None,
    at: str | None,
) -> dict[str, str | None]:
    """The schedule shorthands, as tapesched.cli.shorthands.parse_shorthand takes them."""
    return {
        "once": once, "every": every, "daily": daily, "weekly": weekly, "monthly": monthly,
        "yearly": yearly, "cron": cron, "at": at,
    }  # fmt: skip


def _action_shorthands(
    source: list[str] | None,
    device: str | None,
    level: str | None,
    compress: bool | None,
    exclude: list[str] | None,
    command: str | None,
    from_task: str | None,
    target: str | None,
    retention_days: int | None,
) -> dict[str, Any]:
    """The action shorthands, by option name (tapesched.cli.shorthands.ACTION_SHORTHANDS)."""
    return {
        "source": source, "device": device, "level": level, "compress": compress,
        "exclude": exclude, "command": command, "from_task": from_task, "target": target,
        "retention_days": retention_days,
    }  # fmt: skip


def _print_task(task: Any, json_out: bool, created: bool = False) -> None:
    from tapesched.render import short, task_json

    if json_out:
        print_json(task_json(task, schedule_description=_described(task)))
    elif created:
        sys.stdout.write(
            f"added task {task.task_name} (id {task.id}); next run "
            f"{short(task.next_run_time, task.timezone)}\n"
        )


def _described(task: Any) -> str:
    from tapesched.schedule import describe
    from tapesched.schedule_config import Schedule

    return describe(Schedule(task.schedule_type, task.schedule_config, task.timezone))


@app.command("list")
def list_(
    enabled_only: Annotated[
        bool, typer.Option("--enabled-only", help="Only enabled tasks.")
    ] = False,
    json_out: JsonOut = False,
) -> None:
    """List tasks: schedule in words, action, status, next and last run."""
    from tapesched import tasks
    from tapesched.render import short, table, task_json

    current = now()
    with open_db() as db:
        listed = tasks.list_tasks(db, current, enabled_only)
    if json_out:
        print_json(
            {
                "tasks": [
                    task_json(task, schedule_description=_described(task), state=state)
                    for task, state in listed
                ],
                "total": len(listed),
            }
        )
        return
    if not listed:
        sys.stdout.write("no tasks; add one with 'tapesched add NAME ...'\n")
        return
    table(
        None,
        ["NEXT", "LEFT", "LAST", "PASSED", "TASK", "SCHEDULE", "ACTION", "STATUS"],
        [
            [
                short(task.next_run_time, task.timezone),
                _relative(task.next_run_time, current, "left"),
                short(task.last_run_time, task.timezone),
                _relative(task.last_run_time, current, "ago"),
                task.task_name,
                _described(task),
                task.action_type,
                status_cell(state),
            ]
            for task, state in listed
        ],
    )


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


@app.command()
def show(task_ref: TaskRef, json_out: JsonOut = False) -> None:
    """Show one task: all fields and statistics."""
    import json

    from tapesched import tasks
    from tapesched.render import duration, iso, pairs, task_json

    with open_db() as db:
        task, state, running = tasks.show_task(db, task_ref, now())
    described = _described(task)
    if json_out:
        print_json(
            task_json(task, schedule_description=described, state=state, running_execution=running)
        )
        return
    zone = task.timezone
    pairs(
        [
            ("task", f"{task.task_name} (id {task.id})"),
            ("description", task.description or "-"),
            ("status", state + ("" if task.enabled else " (disabled)")),
            ("schedule", f"{described} [{task.schedule_type} {json.dumps(task.schedule_config)}]"),
            ("timezone", zone),
            ("action", f"{task.action_type} {json.dumps(task.action_config)}"),
            ("next run", iso(task.next_run_time, zone) or "-"),
            ("last run", iso(task.last_run_time, zone) or "-"),
            ("last success", iso(task.last_success_time, zone) or "-"),
            ("last failure", iso(task.last_failure_time, zone) or "-"),
            (
                "runs",
                f"{task.total_runs} total, {task.success_runs} ok, {task.failure_runs} failed",
            ),
            ("average duration", duration(task.average_duration)),
            ("timeout", f"{task.timeout}s" if task.timeout else "none"),
            (
                "misfire",
                task.misfire
                + (f" (grace {task.misfire_grace}s)" if task.misfire_grace is not None else ""),
            ),
            ("device wait", f"{task.device_wait}s"),
            ("running execution", running or "-"),
            ("created", iso(task.created_at, zone) or "-"),
            ("updated", iso(task.updated_at, zone) or "-"),
        ]
    )


@app.command()
def edit(
    task_ref: TaskRef,
    name: Annotated[
        str | None, typer.Option("--name", metavar="NAME", help="Rename the task.")
    ] = None,
    description: Annotated[str | None, typer.Option("--description", "-d", metavar="TEXT")] = None,
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
    action: ActionType = None,
    action_config: ActionConfig = None,
    source: Source = None,
    device: Device = None,
    level: Level = None,
    compress: Compress = None,
    exclude: Exclude = None,
    command: Command = None,
    from_task: FromTask = None,
    target: Target = None,
    retention_days: RetentionDays = None,
    timeout: Annotated[
        int | None,
        typer.Option("--timeout", metavar="SECONDS", help="Seconds; 0 removes the timeout."),
    ] = None,
    misfire: Annotated[str | None, typer.Option("--misfire")] = None,
    misfire_grace: Annotated[
        int | None,
        typer.Option("--misfire-grace", metavar="SECONDS", help="Seconds; -1 removes the grace."),
    ] = None,
    device_wait: Annotated[int | None, typer.Option("--device-wait")] = None,
    ping_url: PingUrl = None,
    notify_command: NotifyCommand = None,
    notify_on: NotifyOn = None,
    force: Annotated[
        bool, typer.Option("--force", help="Accept a once schedule in the past.")
    ] = False,
    json_out: JsonOut = False,
) -> None:
    """Change any field of a task; a changed schedule or zone recomputes the next run from now.

    Takes the same schedule and action options as 'add'. Action shorthands merge
    into the current action config; --action-config replaces it.
    """
    from tapesched import tasks
    from tapesched.cli.shorthands import action_fields, schedule_fields
    from tapesched.spec import TaskChanges

    # The command line's ways of removing a setting: --timeout 0, --misfire-grace -1, ''.
    removals = {
        "timeout": None if timeout == 0 else timeout,
        "misfire_grace": None if misfire_grace == -1 else misfire_grace,
        "ping_url": ping_url or None,
        "notify_command": notify_command or None,
    }
    given = {
        "timeout": timeout,
        "misfire_grace": misfire_grace,
        "ping_url": ping_url,
        "notify_command": notify_command,
    }
    changes = TaskChanges(
        **_given(
            task_name=name,
            description=description,
            timezone=timezone,
            misfire=misfire,
            device_wait=device_wait,
            notify_on=notify_on,
        ),
        **{key: removals[key] for key, value in given.items() if value is not None},
        **schedule_fields(
            schedule_type,
            schedule_config,
            _schedule_options(once, every, daily, weekly, monthly, yearly, cron, at),
        ),
        **action_fields(
            action,
            action_config,
            _action_shorthands(
                source,
                device,
                level,
                compress,
                exclude,
                command,
                from_task,
                target,
                retention_days,
            ),
        ),
    )
    with open_db() as db:
        task, warnings = tasks.change_task(db, task_ref, changes, now(), force)
    for message in warnings:
        warn(message)
    if json_out:
        _print_task(task, True)


@app.command()
def delete(
    task_ref: TaskRef,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    grace: Annotated[
        float,
        typer.Option(
            "--grace",
            metavar="SECONDS",
            help="Seconds between SIGTERM and SIGKILL for a run in progress.",
        ),
    ] = 10.0,
    json_out: JsonOut = False,
) -> None:
    """Delete a task and its history; a run in progress is stopped first."""
    from tapesched import tasks
    from tapesched.clock import utcnow

    with open_db() as db:
        task = tasks.get_task(db, task_ref)
        if not yes and sys.stdin.isatty():
            if not typer.confirm(f"delete task {task.task_name} and its history?", err=True):
                raise typer.Exit(1)
        task = tasks.delete_task(db, str(task.id), utcnow, grace)
    if json_out:
        print_json({"deleted": task.task_name, "id": task.id})


def _set_enabled(task_ref: str, enabled: bool, json_out: bool) -> None:
    from tapesched import tasks

    with open_db() as db:
        task = tasks.set_enabled(db, task_ref, enabled, now())
    if json_out:
        _print_task(task, True)


@app.command()
def enable(task_ref: TaskRef, json_out: JsonOut = False) -> None:
    """Enable a task; its next run is computed from now."""
    _set_enabled(task_ref, True, json_out)


@app.command()
def disable(task_ref: TaskRef, json_out: JsonOut = False) -> None:
    """Disable a task: it never runs until enabled (a run in progress goes on)."""
    _set_enabled(task_ref, False, json_out)


@app.command()
def preview(
    task_ref: Annotated[
        str | None,
        typer.Argument(
            metavar="[TASK]",
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
    from_: Annotated[
        str | None,
        typer.Option(
            "--from",
            metavar="TIME",
            help="Start after this instant (default now); local unless it has an offset.",
        ),
    ] = None,
    count: Annotated[int, typer.Option("--count", "-n", metavar="N", help="How many runs.")] = 10,
    json_out: JsonOut = False,
) -> None:
    """Show the next runs of a task or of a schedule, DST shifts marked."""
    from tapesched import tasks
    from tapesched.cli.shorthands import schedule_fields
    from tapesched.clock import host_zone_name, parse_instant
    from tapesched.render import iso, table
    from tapesched.schedule import describe
    from tapesched.schedule import preview as upcoming
    from tapesched.spec import UNSET, resolve_schedule, spec_of

    if count < 1 or count > 10000:
        raise InvalidInput(f"--count: {count} is out of range; expected 1-10000")
    fields = schedule_fields(
        schedule_type,
        schedule_config,
        _schedule_options(once, every, daily, weekly, monthly, yearly, cron, at),
    )
    zone = timezone if timezone is not None else UNSET
    created_at = None
    if task_ref is not None:
        if fields:
            raise InvalidInput("preview: give a TASK or schedule options, not both")
        with open_db() as db:
            task = tasks.get_task(db, task_ref)
        current = spec_of(task).schedule
        schedule = resolve_schedule(current.type, current.config, zone, current)
        created_at = task.created_at
    else:
        schedule = resolve_schedule(
            fields.get("schedule_type", UNSET),
            fields.get("schedule_config", UNSET),
            host_zone_name() if zone is UNSET else zone,
            None,
        )
    start = parse_instant(from_, schedule.zone, "--from") if from_ else now()
    runs = upcoming(schedule, start, count, created_at or start)
    if json_out:
        print_json(
            {"runs": [{"time": iso(time, schedule.zone), "note": note} for time, note in runs]}
        )
        return
    if not runs:
        sys.stdout.write("no runs after that time\n")
        return
    notes = {
        None: "",
        "dst_gap": "moved past the DST gap",
        "dst_repeat": "in the repeated DST hour",
    }
    table(
        describe(schedule) + f" ({schedule.zone})",
        ["RUN", "NOTE"],
        [[iso(time, schedule.zone), notes[note]] for time, note in runs],
    )
