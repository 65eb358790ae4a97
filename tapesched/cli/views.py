"""Commands that look at tasks: list, show, preview."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Annotated

import typer

from tapesched.cli.common import app, complete_task, now, open_db, print_json
from tapesched.cli.options import (
    At,
    Cron,
    Daily,
    Every,
    JsonOut,
    Monthly,
    Once,
    ScheduleConfig,
    ScheduleType,
    TaskRef,
    Weekly,
    Yearly,
    Zone,
)
from tapesched.errors import InvalidInput


@app.command("list")
def list_(
    enabled_only: Annotated[
        bool, typer.Option("--enabled-only", help="Only enabled tasks.")
    ] = False,
    json_out: JsonOut = False,
) -> None:
    """List tasks: schedule in words, action, status, next and last run."""
    from tapesched import tasks
    from tapesched.render import schedule_words, short, table, task_json

    current = now()
    with open_db() as db:
        listed = tasks.list_tasks(db, current, enabled_only)
    if json_out:
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
                schedule_words(task),
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
    from tapesched.render import duration, iso, pairs, schedule_words, task_json

    with open_db() as db:
        task, state, running = tasks.show_task(db, task_ref, now())
    described = schedule_words(task)
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
    from tapesched.cli.shorthands import schedule_fields, schedule_options
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
        schedule_options(once, every, daily, weekly, monthly, yearly, cron, at),
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
