"""The options that several commands share, declared once (Typer needs one parameter per
option in each command's signature; these aliases keep one definition of each)."""

from __future__ import annotations

from typing import Annotated

import typer

from tapesched.cli.common import complete_task

TaskRef = Annotated[
    str, typer.Argument(metavar="TASK", help="Task name or id.", autocompletion=complete_task)
]
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
