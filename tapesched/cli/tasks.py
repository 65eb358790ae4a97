"""Commands on tasks: add, list, show, edit, delete, enable, disable, preview."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from tapesched.cli.common import app, now, open_db, print_json, warn
from tapesched.cli.options import (
    ActionConfig,
    ActionType,
    At,
    Command,
    Compress,
    Cron,
    Daily,
    Description,
    Device,
    Every,
    Exclude,
    Force,
    FromTask,
    Grace,
    HelpCommand,
    JsonOut,
    Level,
    Levels,
    LibraryName,
    Monthly,
    Once,
    Pool,
    RetentionDays,
    ScheduleConfig,
    ScheduleType,
    Source,
    Target,
    TaskRef,
    Weekly,
    Yearly,
    Zone,
    check_grace,
)
from tapesched.cli.policy_options import (
    After,
    Before,
    DeviceWait,
    Misfire,
    MisfireGrace,
    NotifyCommand,
    NotifyOn,
    PingUrl,
    Retries,
    RetryDelay,
    TaskHost,
    Timeout,
    Window,
)
from tapesched.errors import InvalidInput


def _given(**values: Any) -> dict[str, Any]:
    """The options that were given (Typer gives None for the others)."""
    return {name: value for name, value in values.items() if value is not None}


@app.command(cls=HelpCommand)
def add(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Unique task name.")],
    description: Description = "",
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
    levels: Levels = None,
    compress: Compress = None,
    exclude: Exclude = None,
    command: Command = None,
    from_task: FromTask = None,
    target: Target = None,
    retention_days: RetentionDays = None,
    pool: Pool = None,
    library: LibraryName = None,
    timeout: Timeout = None,
    misfire: Misfire = "run_once",
    misfire_grace: MisfireGrace = None,
    device_wait: DeviceWait = 60,
    ping_url: PingUrl = None,
    notify_command: NotifyCommand = None,
    notify_on: NotifyOn = None,
    retries: Retries = None,
    retry_delay: RetryDelay = None,
    before: Before = None,
    after: After = None,
    window: Window = None,
    host: TaskHost = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Create it disabled.")] = False,
    force: Force = False,
    json_out: JsonOut = False,
) -> None:
    """Create a task.

    \b
    Schedule (one of):
      --schedule-type TYPE --schedule-config JSON  (seed form)
      --once '2026-12-25 14:30'
      --every 30m|2h|1d
      --daily 02:00
      --weekly mon,thu --at 02:00
      --monthly 31 --at 02:00
      --yearly 02-29 --at 02:00
      --cron '0 2 * * *'
    Action (one of):
      --action ACTION --action-config JSON  (seed form)
      --command 'tar -cf /x /y'  (custom)
      --source /data --device /dev/nst0|/srv/vtape
          [--level incremental]  (backup)
      --from-task TASK --target /restore  (recovery)
      --action cleanup --retention-days 30
    """
    from tapesched import tasks
    from tapesched.cli.shorthands import (
        action_fields,
        action_shorthands,
        schedule_fields,
        schedule_options,
    )
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
            host=host,
            retries=retries,
            retry_delay=retry_delay,
            hook_before=before or None,
            hook_after=after or None,
            start_window=window or None,
        ),
        **schedule_fields(
            schedule_type,
            schedule_config,
            schedule_options(once, every, daily, weekly, monthly, yearly, cron, at),
        ),
        **action_fields(
            action,
            action_config,
            action_shorthands(
                source,
                device,
                level,
                compress,
                exclude,
                command,
                from_task,
                target,
                retention_days,
                pool,
                library,
                levels,
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


def _print_task(task: Any, json_out: bool, created: bool = False) -> None:
    from tapesched.render import schedule_words, task_json

    if json_out:
        print_json(task_json(task, schedule_description=schedule_words(task)))
    elif created:
        sys.stdout.write(
            f"added task {task.task_name} (id {task.id}); next run {_next_run(task)}\n"
        )


def _next_run(task: Any) -> str:
    from tapesched.render import stamp

    if task.next_run_time is not None:
        return stamp(task.next_run_time, task.timezone)
    return "none (disabled)" if not task.enabled else "none"


@app.command(cls=HelpCommand)
def edit(
    task_ref: TaskRef,
    name: Annotated[
        str | None, typer.Option("--name", metavar="NAME", help="Rename the task.")
    ] = None,
    description: Description = None,
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
    levels: Levels = None,
    compress: Compress = None,
    exclude: Exclude = None,
    command: Command = None,
    from_task: FromTask = None,
    target: Target = None,
    retention_days: RetentionDays = None,
    pool: Pool = None,
    library: LibraryName = None,
    timeout: Timeout = None,
    misfire: Misfire = None,
    misfire_grace: MisfireGrace = None,
    device_wait: DeviceWait = None,
    ping_url: PingUrl = None,
    notify_command: NotifyCommand = None,
    notify_on: NotifyOn = None,
    retries: Retries = None,
    retry_delay: RetryDelay = None,
    before: Before = None,
    after: After = None,
    window: Window = None,
    host: TaskHost = None,
    force: Force = False,
    json_out: JsonOut = False,
) -> None:
    """Change any field of a task; a changed schedule or zone recomputes the next run from now.

    Takes the same schedule and action options as 'add'. Action shorthands merge
    into the current action config; --action-config replaces it.
    """
    from tapesched import tasks
    from tapesched.cli.shorthands import (
        action_fields,
        action_shorthands,
        schedule_fields,
        schedule_options,
    )
    from tapesched.render import TASK_FIELDS
    from tapesched.spec import TaskChanges

    # The command line's ways of removing a setting: --timeout 0, --misfire-grace -1, ''.
    removals = {
        "timeout": None if timeout == 0 else timeout,
        "misfire_grace": None if misfire_grace == -1 else misfire_grace,
        "ping_url": ping_url or None,
        "notify_command": notify_command or None,
        "hook_before": before or None,
        "hook_after": after or None,
        "start_window": window or None,
    }
    given = {
        "timeout": timeout,
        "misfire_grace": misfire_grace,
        "ping_url": ping_url,
        "notify_command": notify_command,
        "hook_before": before,
        "hook_after": after,
        "start_window": window,
    }
    changes = TaskChanges(
        **_given(
            task_name=name,
            description=description,
            timezone=timezone,
            misfire=misfire,
            device_wait=device_wait,
            notify_on=notify_on,
            host=host,
            retries=retries,
            retry_delay=retry_delay,
        ),
        **{key: removals[key] for key, value in given.items() if value is not None},
        **schedule_fields(
            schedule_type,
            schedule_config,
            schedule_options(once, every, daily, weekly, monthly, yearly, cron, at),
            time_alone=True,
        ),
        **action_fields(
            action,
            action_config,
            action_shorthands(
                source,
                device,
                level,
                compress,
                exclude,
                command,
                from_task,
                target,
                retention_days,
                pool,
                library,
                levels,
            ),
        ),
    )
    with open_db() as db:
        before = tasks.get_task(db, task_ref) if not changes.empty() else None
        task, warnings = tasks.change_task(db, task_ref, changes, now(), force)
    for message in warnings:
        warn(message)
    if json_out:
        _print_task(task, True)
        return
    changed = [
        field
        for field in (*TASK_FIELDS, "device")
        if field not in ("updated_at", "status") and getattr(before, field) != getattr(task, field)
    ]
    sys.stdout.write(
        f"changed task {task.task_name}: {', '.join(changed) or 'nothing'}; "
        f"next run {_next_run(task)}\n"
    )


@app.command(cls=HelpCommand)
def delete(
    task_ref: TaskRef,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask (needed when not on a terminal).")
    ] = False,
    grace: Grace = 10.0,
    json_out: JsonOut = False,
) -> None:
    """Delete a task and its history; a run in progress is stopped first. Asks first on a
    terminal; elsewhere it needs --yes."""
    from tapesched import tasks
    from tapesched.clock import utcnow

    check_grace(grace)
    asks = not yes and sys.stdin.isatty()
    if not yes and not asks:
        raise InvalidInput(
            "delete: standard input is not a terminal, so nothing can ask; "
            "add --yes to delete the task and its history"
        )
    with open_db() as db:
        task = tasks.get_task(db, task_ref)
        if asks and not typer.confirm(f"delete task {task.task_name} and its history?", err=True):
            raise typer.Exit(1)
        task = tasks.delete_task(db, str(task.id), utcnow, grace)
    if json_out:
        print_json({"deleted": task.task_name, "id": task.id})
    else:
        sys.stdout.write(f"deleted task {task.task_name} (id {task.id}) and its history\n")


def _set_enabled(task_ref: str, enabled: bool, json_out: bool) -> None:
    from tapesched import tasks

    with open_db() as db:
        task = tasks.set_enabled(db, task_ref, enabled, now())
    if json_out:
        _print_task(task, True)


@app.command(cls=HelpCommand)
def enable(task_ref: TaskRef, json_out: JsonOut = False) -> None:
    """Enable a task; its next run is computed from now."""
    _set_enabled(task_ref, True, json_out)


@app.command(cls=HelpCommand)
def disable(task_ref: TaskRef, json_out: JsonOut = False) -> None:
    """Disable a task: it never runs until enabled (a run in progress goes on)."""
    _set_enabled(task_ref, False, json_out)
