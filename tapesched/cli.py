"""The command line: parse, call one function, render. Reads the clock.

Heavy modules (SQLModel, SQLAlchemy, croniter, rich) are imported inside the
commands, so `tapesched --help` and `--version` stay fast.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Annotated, Any

import typer

from tapesched import __version__
from tapesched.errors import EXIT_USAGE, Conflict, InvalidInput, OperationFailed, TapeschedError

app = typer.Typer(
    name="tapesched",
    help=(
        "Schedule tape backup jobs. System cron calls 'tapesched tick' once a minute; "
        "due tasks run as detached jobs whose outcome is recorded.\n\n"
        "Exit codes: 0 done; 1 the job or operation failed; 2 invalid usage or input; "
        "3 no such task or execution; 4 conflict; 5 storage unavailable."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["--help", "-h"]},
)


class Globals:
    db: str | None = None


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"tapesched {__version__}\n")
        raise typer.Exit()


@app.callback()
def root(
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            metavar="PATH",
            envvar="TAPESCHED_DB",
            help="Database file (default: in the state folder).",
            show_envvar=True,
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    Globals.db = db


def complete_task(incomplete: str) -> list[str]:
    """Task names for shell completion, read from the database (never fails loudly)."""
    try:
        from sqlmodel import col, select

        from tapesched.models import Task

        store = open_store(create=False)
        with store.read() as session:
            query = select(Task.task_name).where(col(Task.task_name).startswith(incomplete))
            return list(session.exec(query.order_by(Task.task_name).limit(200)))
    except Exception:  # noqa: BLE001 - completion must never print a traceback
        return []


def open_store(create: bool = True):  # noqa: ANN201 - Store is imported lazily
    from tapesched import paths
    from tapesched.store import Store

    return Store(paths.resolve(Globals.db), create=create)


def now() -> datetime:
    from tapesched.clock import utcnow

    return utcnow().replace(microsecond=0)


def warn(message: str) -> None:
    sys.stderr.write(f"tapesched: warning: {message}\n")


# --- options shared by add, edit and preview ----------------------------------

ScheduleType = Annotated[
    str | None,
    typer.Option(
        "--schedule-type",
        metavar="TYPE",
        help="once|interval|daily|weekly|monthly|yearly|cron (seed form).",
        rich_help_panel="Schedule",
    ),
]
ScheduleConfig = Annotated[
    str | None,
    typer.Option(
        "--schedule-config",
        metavar="JSON",
        help='JSON, e.g. \'{"time": "02:00:00"}\' (seed form).',
        rich_help_panel="Schedule",
    ),
]
Once = Annotated[
    str | None,
    typer.Option("--once", metavar="DATETIME", help="Once at a local time: '2026-12-25 14:30'."),
]
Every = Annotated[
    str | None,
    typer.Option("--every", metavar="N{m,h,d}", help="Interval: 30m, 2h, 1d (elapsed time)."),
]
Daily = Annotated[str | None, typer.Option("--daily", metavar="TIME", help="Daily at HH:MM[:SS].")]
Weekly = Annotated[
    str | None,
    typer.Option(
        "--weekly", metavar="DAYS", help="Weekly on days: mon or mon,thu (0=Mon..6=Sun); with --at."
    ),
]
Monthly = Annotated[
    str | None,
    typer.Option(
        "--monthly",
        metavar="DAY",
        help="Monthly on a day 1-31 (clamped to the month's end); with --at.",
    ),
]
Yearly = Annotated[
    str | None,
    typer.Option(
        "--yearly",
        metavar="MM-DD",
        help="Yearly on MM-DD (02-29 runs 02-28 in common years); with --at.",
    ),
]
Cron = Annotated[
    str | None,
    typer.Option("--cron", metavar="EXPR", help="A 5-field cron expression: '0 2 * * *'."),
]
At = Annotated[
    str | None,
    typer.Option(
        "--at",
        metavar="TIME",
        help="Time of day for --weekly, --monthly, --yearly (default 00:00).",
    ),
]
Zone = Annotated[
    str | None,
    typer.Option(
        "--timezone", "--tz", metavar="ZONE", help="IANA zone (default: the host's zone)."
    ),
]
JsonOut = Annotated[bool, typer.Option("--json", help="Machine output (JSON) on stdout.")]
ActionType = Annotated[
    str | None,
    typer.Option(
        "--action",
        metavar="TYPE",
        help="backup|recovery|cleanup|health_check|retention_check|custom.",
    ),
]
ActionConfig = Annotated[
    str | None,
    typer.Option("--action-config", metavar="JSON", help="JSON for the action (seed form)."),
]
Source = Annotated[
    list[str] | None,
    typer.Option("--source", metavar="PATH", help="Backup: a source path (repeat for more)."),
]
Device = Annotated[
    str | None,
    typer.Option(
        "--device", metavar="DEVICE", help="Tape drive (/dev/nst0) or virtual-tape directory."
    ),
]
Level = Annotated[
    str | None, typer.Option("--level", metavar="LEVEL", help="Backup: full or incremental.")
]
Compress = Annotated[
    bool | None, typer.Option("--compress/--no-compress", help="Backup: gzip the archive.")
]
Exclude = Annotated[
    list[str] | None,
    typer.Option("--exclude", metavar="PATTERN", help="Backup: tar exclude pattern (repeat)."),
]
Command = Annotated[
    str | None,
    typer.Option(
        "--command",
        metavar="COMMAND",
        help="Custom: the command (split like a shell, run without one).",
    ),
]
FromTask = Annotated[
    str | None, typer.Option("--from-task", metavar="TASK", help="Recovery: the backup task.")
]
Target = Annotated[
    str | None, typer.Option("--target", metavar="PATH", help="Recovery: the target folder.")
]
RetentionDays = Annotated[
    int | None,
    typer.Option("--retention-days", metavar="DAYS", help="Cleanup: days of history to keep."),
]
PingUrl = Annotated[
    str | None,
    typer.Option(
        "--ping-url",
        metavar="URL",
        help="Healthchecks-style URL: URL/start at start, URL on success, URL/fail on failure "
        "(edit: '' removes it).",
    ),
]
NotifyCommand = Annotated[
    str | None,
    typer.Option(
        "--notify-command",
        metavar="COMMAND",
        help="Command run after a failed run, with TAPESCHED_TASK, TAPESCHED_EXECUTION_ID, "
        "TAPESCHED_STATUS, TAPESCHED_ERROR, TAPESCHED_OUTPUT set (edit: '' removes it).",
    ),
]
NotifyOn = Annotated[
    str | None,
    typer.Option(
        "--notify-on", metavar="WHEN", help="When to run it: failure (default) or always."
    ),
]


def schedule_input(
    schedule_type: str | None,
    schedule_config: str | None,
    once: str | None,
    every: str | None,
    daily: str | None,
    weekly: str | None,
    monthly: str | None,
    yearly: str | None,
    cron: str | None,
    at: str | None,
):  # noqa: ANN201
    from tapesched.manage import ScheduleInput

    return ScheduleInput(
        schedule_type=schedule_type,
        schedule_config=schedule_config,
        shorthands={
            "once": once,
            "every": every,
            "daily": daily,
            "weekly": weekly,
            "monthly": monthly,
            "yearly": yearly,
            "cron": cron,
            "at": at,
        },
    )


# --- init, add, list, show, edit, delete, enable, disable ---------------------


@app.command()
def init(
    install_cron: Annotated[
        bool,
        typer.Option("--install-cron", help="Add the tick line to your crontab (idempotent)."),
    ] = False,
    json_out: JsonOut = False,
) -> None:
    """Create the database and state folders; print the crontab line."""
    from tapesched import crontab

    store = open_store()
    line = crontab.tick_line(store.paths, Globals.db)
    outcome = crontab.install(line) if install_cron else None
    if json_out:
        from tapesched.render import print_json

        print_json(
            {
                "home": str(store.paths.home),
                "db": str(store.paths.db),
                "crontab": line,
                "cron_install": outcome,
            }
        )
        return
    sys.stdout.write(f"state folder: {store.paths.home}\ndatabase: {store.paths.db}\n")
    if outcome is None:
        sys.stdout.write(f"add this line to your crontab (crontab -e):\n{line}\n")
    else:
        messages = {
            "installed": "added to your crontab",
            "updated": "updated in your crontab",
            "present": "already in your crontab",
        }
        sys.stdout.write(f"{messages[outcome]}:\n{line}\n")


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
    from tapesched import manage
    from tapesched import schedule as schedules
    from tapesched.clock import host_zone_name
    from tapesched.models import Task
    from tapesched.schedule_config import validate_zone

    manage.check_name(name)
    zone = validate_zone(timezone) if timezone else host_zone_name()
    sched_in = schedule_input(
        schedule_type, schedule_config, once, every, daily, weekly, monthly, yearly, cron, at
    )
    schedule = manage.resolve_schedule(sched_in, zone)
    action_type, config, warnings = manage.resolve_action(
        _action_input(
            action,
            action_config,
            source,
            device,
            level,
            compress,
            exclude,
            command,
            from_task,
            target,
            retention_days,
        )
    )
    manage.check_misfire(misfire, misfire_grace)
    manage.check_positive("timeout", timeout)
    if device_wait < 0:
        raise InvalidInput(f"device_wait: {device_wait} is negative; expected seconds, 0 or more")
    _check_notify_options(ping_url, notify_command, notify_on)
    current = now()
    if schedules.is_past_once(schedule, current) and not force:
        raise InvalidInput(
            f"schedule_config.datetime: {schedule.config['datetime']} is in the past; "
            "give a future time, or --force to add it anyway (it then runs at the next tick)"
        )
    next_time = schedules.next_run(schedule, current, None, current)
    if schedule.type == "once" and force and next_time is None:
        next_time = manage.forced_once(schedule)
    task = Task(
        task_name=name,
        description=description,
        status="inactive" if disabled else "active",
        enabled=not disabled,
        schedule_type=schedule.type,
        schedule_config=schedule.config,
        timezone=zone,
        action_type=action_type,
        action_config=config,
        device=config.get("device"),
        next_run_time=None if disabled else next_time,
        timeout=timeout,
        misfire=misfire,
        misfire_grace=misfire_grace,
        device_wait=device_wait,
        ping_url=ping_url or None,
        notify_command=notify_command or None,
        notify_on=notify_on or "failure",
        created_at=current,
        updated_at=current,
    )
    store = open_store()
    from tapesched import store as db

    with store.write() as session:
        db.add_task(session, task)
    for message in warnings:
        warn(message)
    _print_task(task, json_out, created=True)


def _check_notify_options(
    ping_url: str | None, notify_command: str | None, notify_on: str | None
) -> None:
    from tapesched import notify

    if ping_url:
        notify.check_ping_url(ping_url)
    notify.check_notify(notify_command, notify_on)


def _action_input(
    action,
    action_config,
    source,
    device,
    level,
    compress,
    exclude,
    command,
    from_task,
    target,
    retention_days,
):  # noqa: ANN001, ANN202
    from tapesched.manage import ActionInput

    return ActionInput(
        action_type=action,
        action_config=action_config,
        shorthands={
            "source": source,
            "device": device,
            "level": level,
            "compress": compress,
            "exclude": exclude,
            "command": command,
            "from_task": from_task,
            "target": target,
            "retention_days": retention_days,
        },
    )


def _print_task(task: Any, json_out: bool, created: bool = False) -> None:
    from tapesched import schedule as schedules
    from tapesched.render import print_json, task_json

    if json_out:
        print_json(task_json(task, schedule_description=schedules.describe(_schedule_of(task))))
    elif created:
        from tapesched.render import short

        sys.stdout.write(
            f"added task {task.task_name} (id {task.id}); next run "
            f"{short(task.next_run_time, task.timezone)}\n"
        )


def _schedule_of(task: Any):  # noqa: ANN202
    from tapesched.schedule_config import Schedule

    return Schedule(task.schedule_type, task.schedule_config, task.timezone)


@app.command("list")
def list_(
    enabled_only: Annotated[
        bool, typer.Option("--enabled-only", help="Only enabled tasks.")
    ] = False,
    json_out: JsonOut = False,
) -> None:
    """List tasks: schedule in words, action, status, next and last run."""
    from tapesched import schedule as schedules
    from tapesched import store as db
    from tapesched.render import print_json, table, task_json

    store = open_store()
    with store.read() as session:
        tasks = db.list_tasks(session, enabled_only)
        states = db.task_states(session, tasks, now())
    if json_out:
        print_json(
            {
                "tasks": [
                    task_json(
                        task,
                        schedule_description=schedules.describe(_schedule_of(task)),
                        state=states[task.id],
                    )
                    for task in tasks
                ],
                "total": len(tasks),
            }
        )
        return
    current = now()
    rows = []
    for task in tasks:
        rows.append(
            [
                _short(task.next_run_time, task.timezone),
                _relative(task.next_run_time, current, "left"),
                _short(task.last_run_time, task.timezone),
                _relative(task.last_run_time, current, "ago"),
                task.task_name,
                schedules.describe(_schedule_of(task)),
                task.action_type,
                status_cell(states[task.id]),
            ]
        )
    if not rows:
        sys.stdout.write("no tasks; add one with 'tapesched add NAME ...'\n")
        return
    table(
        None,
        ["NEXT", "LEFT", "LAST", "PASSED", "TASK", "SCHEDULE", "ACTION", "STATUS"],
        rows,
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


def _short(value: datetime | None, zone: str) -> str:
    from tapesched.render import short

    return short(value, zone)


@app.command()
def show(
    task_ref: Annotated[
        str, typer.Argument(metavar="TASK", help="Task name or id.", autocompletion=complete_task)
    ],
    json_out: JsonOut = False,
) -> None:
    """Show one task: all fields and statistics."""
    import json

    from tapesched import schedule as schedules
    from tapesched import store as db
    from tapesched.render import duration, iso, pairs, print_json, task_json

    store = open_store()
    with store.read() as session:
        task = db.find_task(session, task_ref)
        state = db.task_states(session, [task], now())[task.id]
        running = db.running_for_task(session, task.id)
    described = schedules.describe(_schedule_of(task))
    if json_out:
        print_json(
            task_json(
                task,
                schedule_description=described,
                state=state,
                running_execution=running.execution_id if running else None,
            )
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
            ("running execution", running.execution_id if running else "-"),
            ("created", iso(task.created_at, zone) or "-"),
            ("updated", iso(task.updated_at, zone) or "-"),
        ]
    )


@app.command()
def edit(
    task_ref: Annotated[
        str, typer.Argument(metavar="TASK", help="Task name or id.", autocompletion=complete_task)
    ],
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
    from tapesched import manage
    from tapesched import schedule as schedules
    from tapesched import store as db
    from tapesched.schedule_config import validate_zone

    if name is not None:
        manage.check_name(name)
    if timeout is not None and timeout < 0:
        raise InvalidInput(f"timeout: {timeout} is negative; expected seconds, 0 for none")
    if misfire_grace is not None and misfire_grace < -1:
        raise InvalidInput(
            f"misfire_grace: {misfire_grace} is not valid; expected seconds, -1 for none"
        )
    manage.check_misfire(misfire, None)
    if device_wait is not None and device_wait < 0:
        raise InvalidInput(f"device_wait: {device_wait} is negative; expected seconds, 0 or more")
    _check_notify_options(ping_url or None, notify_command or None, notify_on)
    sched_in = schedule_input(
        schedule_type, schedule_config, once, every, daily, weekly, monthly, yearly, cron, at
    )
    act_in = _action_input(
        action,
        action_config,
        source,
        device,
        level,
        compress,
        exclude,
        command,
        from_task,
        target,
        retention_days,
    )
    zone = validate_zone(timezone) if timezone else None
    store = open_store()
    current = now()
    with store.write() as session:
        task = db.find_task(session, task_ref)
        if name is not None and name != task.task_name:
            if db.name_taken(session, name, task.id):
                raise Conflict(f"task name already taken: {name}")
            task.task_name = name
        if description is not None:
            task.description = description
        warnings: list[str] = []
        if sched_in.given() or zone:
            schedule = manage.resolve_schedule(
                sched_in, zone or task.timezone, (task.schedule_type, task.schedule_config)
            )
            if schedules.is_past_once(schedule, current) and not force:
                raise InvalidInput(
                    f"schedule_config.datetime: {schedule.config['datetime']} is in the past; "
                    "give a future time, or --force"
                )
            task.schedule_type, task.schedule_config, task.timezone = (
                schedule.type,
                schedule.config,
                schedule.zone,
            )
            if task.enabled:
                task.next_run_time = schedules.next_run(schedule, current, None, task.created_at)
                if task.next_run_time is None and force and schedule.type == "once":
                    task.next_run_time = manage.forced_once(schedule)
        if act_in.given():
            action_type, config, warnings = manage.resolve_action(
                act_in, (task.action_type, task.action_config)
            )
            task.action_type, task.action_config = action_type, config
            task.device = config.get("device")
        if timeout is not None:
            task.timeout = timeout or None
        if misfire is not None:
            task.misfire = misfire
        if misfire_grace is not None:
            task.misfire_grace = None if misfire_grace == -1 else misfire_grace
        if device_wait is not None:
            task.device_wait = device_wait
        if ping_url is not None:
            task.ping_url = ping_url or None
        if notify_command is not None:
            task.notify_command = notify_command or None
        if notify_on is not None:
            task.notify_on = notify_on
        task.updated_at = current
        session.add(task)
    for message in warnings:
        warn(message)
    if json_out:
        _print_task(task, True)


@app.command()
def delete(
    task_ref: Annotated[
        str, typer.Argument(metavar="TASK", help="Task name or id.", autocompletion=complete_task)
    ],
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
    from tapesched import store as db

    store = open_store()
    with store.read() as session:
        task = db.find_task(session, task_ref)
        running = db.running_for_task(session, task.id)
    if not yes and sys.stdin.isatty():
        if not typer.confirm(f"delete task {task.task_name} and its history?", err=True):
            raise typer.Exit(1)
    if running is not None:
        from tapesched.control import stop_execution

        stop_execution(store, running.execution_id, grace, now)
    with store.write() as session:
        task = db.find_task(session, str(task.id))
        db.delete_task(session, task)
    if json_out:
        from tapesched.render import print_json

        print_json({"deleted": task.task_name, "id": task.id})


def _set_enabled(task_ref: str, enabled: bool, json_out: bool) -> None:
    from tapesched import store as db

    store = open_store()
    current = now()
    with store.write() as session:
        task = db.find_task(session, task_ref)
        task.enabled = enabled
        if enabled:
            task.next_run_time = db.next_from_now(task, current)
            if task.status == "inactive":
                task.status = "active"
        else:
            task.next_run_time = None
            if task.status != "running":
                task.status = "inactive"
        task.updated_at = current
        session.add(task)
    if json_out:
        _print_task(task, True)


@app.command()
def enable(
    task_ref: Annotated[
        str, typer.Argument(metavar="TASK", help="Task name or id.", autocompletion=complete_task)
    ],
    json_out: JsonOut = False,
) -> None:
    """Enable a task; its next run is computed from now."""
    _set_enabled(task_ref, True, json_out)


@app.command()
def disable(
    task_ref: Annotated[
        str, typer.Argument(metavar="TASK", help="Task name or id.", autocompletion=complete_task)
    ],
    json_out: JsonOut = False,
) -> None:
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
    from tapesched import manage
    from tapesched import schedule as schedules
    from tapesched.clock import host_zone_name, parse_instant
    from tapesched.render import print_json, table
    from tapesched.schedule_config import validate, validate_zone

    if count < 1 or count > 10000:
        raise InvalidInput(f"--count: {count} is out of range; expected 1-10000")
    sched_in = schedule_input(
        schedule_type, schedule_config, once, every, daily, weekly, monthly, yearly, cron, at
    )
    created_at = None
    if task_ref is not None:
        if sched_in.given():
            raise InvalidInput("preview: give a TASK or schedule options, not both")
        from tapesched import store as db

        with open_store().read() as session:
            task = db.find_task(session, task_ref)
        schedule = validate(
            task.schedule_type,
            task.schedule_config,
            validate_zone(timezone) if timezone else task.timezone,
        )
        created_at = task.created_at
    else:
        zone = validate_zone(timezone) if timezone else host_zone_name()
        schedule = manage.resolve_schedule(sched_in, zone)
    start = parse_instant(from_, schedule.zone, "--from") if from_ else now()
    runs = schedules.preview(schedule, start, count, created_at or start)
    if json_out:
        from tapesched.render import iso

        print_json(
            {"runs": [{"time": iso(time, schedule.zone), "note": note} for time, note in runs]}
        )
        return
    if not runs:
        sys.stdout.write("no runs after that time\n")
        return
    from tapesched.render import iso

    notes = {
        None: "",
        "dst_gap": "moved past the DST gap",
        "dst_repeat": "in the repeated DST hour",
    }
    table(
        schedules.describe(schedule) + f" ({schedule.zone})",
        ["RUN", "NOTE"],
        [[iso(time, schedule.zone), notes[note]] for time, note in runs],
    )


@app.command()
def status(json_out: JsonOut = False) -> None:
    """Whether ticks are running, task counts, runs in progress, last tick."""
    from tapesched import store as db
    from tapesched.render import print_json

    store = open_store()
    current = now()
    with store.read() as session:
        counts = db.counts(session)
        last = db.last_tick(session)
    # A tick in the last two minutes (a second of slack for a clock read just before it).
    running = last is not None and -1 <= (current - last).total_seconds() <= 120
    data = {"running": running, **counts, "last_tick_time": last.isoformat() if last else None}
    if json_out:
        print_json(data)
        return
    from tapesched.render import human_delta

    since = f" ({human_delta(current - last)} ago)" if last else ""
    sys.stdout.write(
        f"scheduler: {'running' if running else 'NOT running (no tick in the last 2 minutes)'}\n"
        f"last tick: {data['last_tick_time'] or 'never'}{since}\n"
        f"tasks: {counts['total_tasks']} ({counts['enabled_tasks']} enabled)\n"
        f"running executions: {counts['running_executions']}\n"
        f"database: {store.paths.db}\n"
    )


# --- running: tick, run, stop, logs, output -------------------------------------


@app.command()
def tick(
    now_: Annotated[
        str | None,
        typer.Option(
            "--now",
            metavar="TIME",
            help="Evaluate as if at this instant (ISO 8601; local if no offset).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be launched; change nothing.")
    ] = False,
    max_concurrent: Annotated[
        int | None,
        typer.Option(
            "--max-concurrent",
            metavar="N",
            envvar="TAPESCHED_MAX_CONCURRENT_RUNS",
            help="Most runners at once (default 4).",
            show_envvar=True,
        ),
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Report what the tick did as JSON on stdout.")
    ] = False,
) -> None:
    """The cron entry point: launch due tasks as detached runs. Quiet when all is well."""
    from tapesched import paths
    from tapesched import tick as ticker
    from tapesched.clock import host_zone_name, parse_instant

    if max_concurrent is not None and max_concurrent < 1:
        raise InvalidInput(f"--max-concurrent: {max_concurrent} is not valid; expected 1 or more")
    at = parse_instant(now_, host_zone_name(), "--now") if now_ else now()
    report = ticker.tick(paths.resolve(Globals.db), at, dry_run, max_concurrent)
    if json_out:
        from tapesched.render import print_json

        print_json(
            {
                "now": at.isoformat(),
                "dry_run": dry_run,
                "busy": report.busy,
                "launched": [
                    {
                        "task": name,
                        "execution_id": None if dry_run else execution,
                        "trigger": trigger,
                    }
                    for name, execution, trigger in report.launched
                ],
                "skipped": [{"task": name, "reason": reason} for name, reason in report.skipped],
                "queued": report.queued,
                "relaunched": report.relaunched,
                "problems": report.problems,
            }
        )
    elif dry_run:
        for name, _, trigger in report.launched:
            sys.stdout.write(f"would launch {name} ({trigger})\n")
        for name, reason in report.skipped:
            sys.stdout.write(f"would skip {name}: {reason}\n")
        for name in report.queued:
            sys.stdout.write(f"would leave {name} queued\n")
    for problem in report.problems:
        sys.stderr.write(f"tapesched: {problem}\n")
    if report.problems:
        raise typer.Exit(1)


@app.command("_run", hidden=True)
def run_(execution_id: Annotated[str, typer.Argument()]) -> None:
    """Internal: the detached runner of one execution."""
    from tapesched import paths, runner

    raise typer.Exit(runner.run_execution(paths.resolve(Globals.db), execution_id))


@app.command()
def run(
    task_ref: Annotated[
        str, typer.Argument(metavar="TASK", help="Task name or id.", autocompletion=complete_task)
    ],
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait for the outcome: exit 0 on success, 1 otherwise.")
    ] = False,
    json_out: JsonOut = False,
) -> None:
    """Run a task now, detached; print the execution id."""
    from tapesched import control

    store = open_store()
    execution = control.run_now(store, task_ref, now())
    if not wait:
        if json_out:
            from tapesched.render import print_json

            print_json({"execution_id": execution.execution_id, "log_path": execution.log_path})
        else:
            sys.stdout.write(f"{execution.execution_id}\n")
        return
    if not json_out:
        sys.stdout.write(f"{execution.execution_id}\n")
        sys.stdout.flush()
    live = None if json_out or not sys.stderr.isatty() else _live_line(execution)
    final = control.wait_for(store, execution.execution_id, progress=live)
    if live is not None:
        sys.stderr.write("\r\033[K")
    if json_out:
        from tapesched.render import execution_json, print_json

        print_json(execution_json(final))
    if final.status != "success":
        if not json_out:
            detail = f": {final.error_message}" if final.error_message else ""
            sys.stderr.write(f"tapesched: {final.status}{detail}\n")
        raise typer.Exit(1)


def _live_line(execution: Any):  # noqa: ANN202
    """On a terminal: one line showing the elapsed time (and bytes for a virtual tape)."""
    import time

    from tapesched import control
    from tapesched.render import human_delta

    started = time.monotonic()

    def show(current: Any) -> None:
        from datetime import timedelta

        elapsed = human_delta(timedelta(seconds=time.monotonic() - started))
        written = control.bytes_written(current.device)
        extra = f", {written / 1048576:.1f} MiB written" if written else ""
        state = "running" if current.pid else "starting"
        sys.stderr.write(f"\r\033[K{state}: {elapsed}{extra}")
        sys.stderr.flush()

    return show


@app.command()
def stop(
    task_ref: Annotated[
        str, typer.Argument(metavar="TASK", help="Task name or id.", autocompletion=complete_task)
    ],
    grace: Annotated[
        float,
        typer.Option("--grace", metavar="SECONDS", help="Seconds between SIGTERM and SIGKILL."),
    ] = 10.0,
    json_out: JsonOut = False,
) -> None:
    """Stop the run in progress: SIGTERM to its process group, SIGKILL after the grace period."""
    from tapesched import control
    from tapesched import store as db

    if grace < 0:
        raise InvalidInput(f"--grace: {grace} is negative; expected seconds, 0 or more")
    store = open_store()
    with store.read() as session:
        task = db.find_task(session, task_ref)
        running = db.running_for_task(session, task.id)
    if running is None or not control.stop_execution(store, running.execution_id, grace, now):
        raise Conflict(f"task {task.task_name} has no run in progress")
    if json_out:
        from tapesched.render import print_json

        print_json({"execution_id": running.execution_id, "status": "cancelled"})


@app.command()
def logs(
    task_ref: Annotated[
        str, typer.Argument(metavar="TASK", help="Task name or id.", autocompletion=complete_task)
    ],
    limit: Annotated[
        int, typer.Option("--limit", metavar="N", help="Most entries (1-1000).")
    ] = 100,
    offset: Annotated[int, typer.Option("--offset", metavar="N", help="Entries to skip.")] = 0,
    status_: Annotated[
        str | None,
        typer.Option("--status", metavar="STATUS", help="Only this status (success, failed, ...)."),
    ] = None,
    json_out: JsonOut = False,
) -> None:
    """The execution log of a task, newest first."""
    from tapesched import store as db
    from tapesched.models import EXECUTION_STATUSES
    from tapesched.render import duration, execution_json, print_json, short, table

    if not 1 <= limit <= 1000:
        raise InvalidInput(f"--limit: {limit} is out of range; expected 1-1000")
    if offset < 0:
        raise InvalidInput(f"--offset: {offset} is negative; expected 0 or more")
    if status_ is not None and status_ not in EXECUTION_STATUSES:
        raise InvalidInput(
            f"--status: '{status_}' is unknown; expected one of {', '.join(EXECUTION_STATUSES)}"
        )
    with open_store().read() as session:
        task = db.find_task(session, task_ref)
        entries, total = db.task_logs(session, task.id, limit, offset, status_)
    if json_out:
        print_json(
            {
                "logs": [execution_json(entry, task.timezone) for entry in entries],
                "total": total,
                "limit": limit,
                "offset": offset,
            }
        )
        return
    if not entries:
        sys.stdout.write(f"no executions of {task.task_name} yet\n")
        return
    table(
        None,
        ["STARTED", "STATUS", "TRIGGER", "DURATION", "EXECUTION", "ERROR"],
        [
            [
                short(entry.started_at or entry.created_at, task.timezone),
                entry.status,
                entry.trigger,
                duration(entry.duration),
                entry.execution_id,
                entry.error_message or "",
            ]
            for entry in entries
        ],
    )


@app.command()
def output(
    execution_id: Annotated[str, typer.Argument(help="Execution id (or a unique prefix of 8+).")],
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Follow a running job's output to its end.")
    ] = False,
) -> None:
    """Print what the job printed."""
    import time

    from tapesched import store as db

    store = open_store()
    with store.read() as session:
        execution = db.find_execution(session, execution_id)
    path = execution.log_path
    if not path:
        raise OperationFailed(f"execution {execution.execution_id} has no output log")
    position = 0
    while True:
        try:
            with open(path, "rb") as log:
                log.seek(position)
                chunk = log.read()
        except FileNotFoundError:
            chunk = b""
            if not follow:
                raise OperationFailed(f"output log {path} is gone (removed by cleanup?)") from None
        if chunk:
            sys.stdout.buffer.write(chunk)
            sys.stdout.flush()
            position += len(chunk)
        if not follow:
            return
        with store.read() as session:
            state = db.find_execution(session, execution.execution_id).status
        if state != "running":
            follow = False  # one more read picks up the last lines
            continue
        time.sleep(0.3)


@app.command()
def apply(
    file: Annotated[str, typer.Argument(metavar="FILE", help="TOML file with [[task]] tables.")],
    prune: Annotated[
        bool, typer.Option("--prune", help="Delete tasks that are not in the file.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would change; change nothing.")
    ] = False,
    json_out: JsonOut = False,
) -> None:
    """Create or update tasks from a TOML file, by name; applying it twice changes nothing.

    \b
    [[task]]
    task_name = "nightly"
    schedule_type = "daily"
    schedule_config = { time = "02:00:00" }
    timezone = "Europe/Berlin"
    action_type = "backup"
    action_config = { source_paths = ["/srv/data"], device = "/dev/nst0" }
    timeout = 14400

    The whole file is checked first: any error names the task and the field,
    and nothing is applied. 'tapesched export' prints this form.
    """
    from tapesched import control, taskfile
    from tapesched import store as db
    from tapesched.clock import host_zone_name
    from tapesched.models import Task

    try:
        with open(file, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as error:
        raise InvalidInput(f"{file}: cannot read it ({error.strerror})") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{file}: not UTF-8 text") from None
    definitions = taskfile.parse(text, file, host_zone_name())
    store = open_store()
    current = now()
    if prune and not dry_run:
        # Runs in progress of tasks about to be pruned are stopped first, as `delete` does.
        names = {definition["task_name"] for definition in definitions}
        with store.read() as session:
            doomed = [
                execution.execution_id
                for execution in db.running_executions(session)
                if (task := session.get(Task, execution.task_id)) and task.task_name not in names
            ]
        for execution_id in doomed:
            control.stop_execution(store, execution_id, 10.0, now)
    with store.write() as session:
        work = taskfile.plan(session, definitions, prune)
        if not dry_run:
            taskfile.execute(session, work, current)
        else:
            session.rollback()
    summary = {
        "created": [item["task_name"] for item in work.create],
        "updated": [task.task_name for task, _ in work.update],
        "unchanged": work.unchanged,
        "deleted": [task.task_name for task in work.delete],
    }
    if json_out:
        from tapesched.render import print_json

        print_json({**summary, "dry_run": dry_run})
        return
    verb = "would be " if dry_run else ""
    sys.stdout.write(
        ", ".join(f"{len(names)} {verb}{kind}" for kind, names in summary.items()) + "\n"
    )


@app.command()
def export() -> None:
    """Print every task as TOML, in the form 'apply' reads."""
    from tapesched import taskfile

    with open_store().read() as session:
        sys.stdout.write(taskfile.export(session))


@app.command()
def metrics(
    textfile: Annotated[
        str | None,
        typer.Option(
            "--textfile",
            metavar="PATH",
            help="Write atomically to PATH (node_exporter textfile collector) instead of stdout.",
        ),
    ] = None,
) -> None:
    """Print Prometheus metrics: per-task last/next run times, run counters, running gauge."""
    from pathlib import Path

    from tapesched import metrics as exporter

    with open_store().read() as session:
        text = exporter.exposition(session)
    if textfile is None:
        sys.stdout.write(text)
        return
    target = Path(textfile)
    if not target.parent.is_dir():
        raise InvalidInput(f"--textfile: folder {target.parent} does not exist")
    try:
        exporter.write_textfile(target, text)
    except OSError as error:
        raise OperationFailed(f"--textfile: cannot write {target}: {error.strerror}") from None


@app.command()
def completion(
    shell: Annotated[str, typer.Argument(help="bash, zsh or fish.")],
) -> None:
    """Print the shell completion script (task names complete from the database).

    \b
    bash:  tapesched completion bash > ~/.local/share/bash-completion/completions/tapesched
    zsh:   tapesched completion zsh > ~/.zfunc/_tapesched   (with fpath+=~/.zfunc)
    fish:  tapesched completion fish > ~/.config/fish/completions/tapesched.fish
    """
    from typer.completion import get_completion_script

    if shell not in ("bash", "zsh", "fish"):
        raise InvalidInput(f"shell: '{shell}' is not supported; expected bash, zsh or fish")
    script = get_completion_script(prog_name="tapesched", complete_var=COMPLETE_VAR, shell=shell)
    if shell == "zsh":
        script += (
            "\n\n# Autoloaded from fpath as _tapesched: complete this first Tab too.\n"
            'if [[ "${funcstack[1]}" == "_tapesched" ]]; then\n'
            '  _tapesched_completion "$@"\n'
            "fi"
        )
    sys.stdout.write(script + "\n")


COMPLETE_VAR = "_TAPESCHED_COMPLETE"


def main(argv: list[str] | None = None) -> None:
    """Console entry point: one line on stderr and a documented exit code for any error."""
    import os

    if os.environ.get(COMPLETE_VAR):
        from typer.completion import completion_init

        completion_init()
    try:
        code = app(args=argv, prog_name="tapesched", standalone_mode=False)
    except TapeschedError as error:
        sys.stderr.write(f"tapesched: {error.message}\n")
        sys.exit(error.exit_code)
    except typer.TyperException as error:  # usage errors from the parser
        if type(error).__name__ == "NoArgsIsHelpError":  # bare `tapesched`: the help
            sys.stderr.write(error.format_message() + "\n")
            sys.exit(EXIT_USAGE)
        context = getattr(error, "ctx", None)
        hint = f" (see '{context.command_path} --help')" if context is not None else ""
        sys.stderr.write(f"tapesched: {error.format_message()}{hint}\n")
        sys.exit(EXIT_USAGE if error.exit_code == 2 else error.exit_code)
    except typer.Abort:
        sys.stderr.write("tapesched: aborted\n")
        sys.exit(1)
    except KeyboardInterrupt:
        sys.stderr.write("tapesched: interrupted\n")
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
