"""The options that several commands share, declared once (Typer needs one parameter per
option in each command's signature; these aliases keep one definition of each, with one
metavariable each: SECONDS, DATETIME, TIME, ZONE, TASK, N ...), the completion of their
values, and the help formatter every command uses (HelpCommand), which never breaks a word.

Nothing here imports tapesched.cli.common at module level, so that common can use
HelpGroup; what the completions read is imported when they run.
"""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Iterable, Sequence
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from tapesched.errors import InvalidInput

# --------------------------------------------------------------------------- help text

_Context = TyperCommand.context_class  # click's Context, as vendored by Typer
_Formatter = _Context.formatter_class


def wrap(text: str, width: int, indent: str = "") -> str:
    """Click's paragraph rules (a blank line separates paragraphs; one that starts with a
    line holding only \\b is kept as written) without ever breaking a word, at a hyphen or
    anywhere else: a word longer than the line stands alone on its own line."""
    paragraphs: list[list[str]] = []
    lines: list[str] = []
    for line in [*text.expandtabs().splitlines(), ""]:
        if line.strip():
            lines.append(line)
        elif lines:
            paragraphs.append(lines)
            lines = []
    out = []
    for lines in paragraphs:
        if lines[0].strip() == "\b":
            kept = []
            for line in lines[1:]:
                lead = indent + line[: len(line) - len(line.lstrip())]
                if len(indent + line) <= width:
                    kept.append(indent + line)
                else:
                    kept.extend(_wrapper(width, lead, lead + "    ").wrap(line.strip()))
            out.append("\n".join(kept))
        else:
            lead = indent + lines[0][: len(lines[0]) - len(lines[0].lstrip())]
            joined = " ".join(line.strip() for line in lines)
            out.append("\n".join(_wrapper(width, lead, lead).wrap(joined)))
    return "\n\n".join(out)


def _wrapper(width: int, first: str, rest: str) -> textwrap.TextWrapper:
    return textwrap.TextWrapper(
        max(width, 1),
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    )


class HelpFormatter(_Formatter):
    """Click's help layout at the terminal's width (COLUMNS or the terminal's, at most 80),
    with no floor of 50 columns, and no word ever broken; an option whose help would get
    too narrow a column has its help on the lines below it instead."""

    def __init__(
        self, indent_increment: int = 2, width: int | None = None, max_width: int | None = None
    ) -> None:
        if width is None:
            columns = shutil.get_terminal_size().columns
            width = max(min(columns, max_width or 80) - 2, 10)
        super().__init__(indent_increment, width, max_width)

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        indent = " " * self.current_indent
        usage = f"{'Usage: ' if prefix is None else prefix}{prog} {args}"
        self.write("\n".join(_wrapper(self.width, indent, indent + " " * 11).wrap(usage)) + "\n")

    def write_text(self, text: str) -> None:
        self.write(wrap(text, self.width, " " * self.current_indent) + "\n")

    def write_dl(
        self, rows: Sequence[tuple[str, str]], col_max: int = 30, col_spacing: int = 2
    ) -> None:
        rows = list(rows)
        first = min(max((len(term) for term, _ in rows), default=0), col_max) + col_spacing
        indent = " " * self.current_indent
        text_width = self.width - self.current_indent - first
        for term, definition in rows:
            if not definition:
                self.write(f"{indent}{term}\n")
                continue
            if text_width < 24:  # too narrow beside the option: below it
                names = "\n".join(_wrapper(self.width, indent, indent + "  ").wrap(term))
                self.write(f"{names}\n{wrap(definition, self.width, indent + '    ')}\n")
                continue
            lines = wrap(definition, text_width).splitlines() or [""]
            if len(term) + col_spacing <= first:
                self.write(f"{indent}{term:<{first}}{lines[0]}".rstrip() + "\n")
                lines = lines[1:]
            else:
                self.write(f"{indent}{term}\n")
            for line in lines:
                self.write(f"{indent}{' ' * first}{line}".rstrip() + "\n")


class HelpContext(_Context):
    formatter_class = HelpFormatter


class HelpCommand(TyperCommand):
    """Every command's class (`@app.command(cls=HelpCommand)`): its help never breaks a
    word."""

    context_class = HelpContext


class HelpGroup(TyperGroup):
    """The same for the `tapesched` group itself (`typer.Typer(cls=HelpGroup)`)."""

    context_class = HelpContext


# --------------------------------------------------------------------------- completion


def _starting(values: Iterable[str], incomplete: str) -> list[str]:
    return [value for value in values if value.startswith(incomplete)]


def complete_task(incomplete: str) -> list[str]:
    """Task names from the database (nothing, quietly, when there is none)."""
    try:
        from tapesched.cli.common import open_db
        from tapesched.store import tasks as task_rows

        with open_db(create=False) as db, db.read():
            return task_rows.names_starting(db, incomplete)
    except Exception:  # noqa: BLE001 - completion must never print a traceback
        return []


def _media_completion(name: str, incomplete: str) -> list[str]:
    """Pool or library names from the catalog (tapesched.cli.media's completers)."""
    from tapesched.cli import media

    return getattr(media, name)(incomplete)


def complete_zone(incomplete: str) -> list[str]:
    """IANA zone names (read from the zone database only when completing)."""
    from zoneinfo import available_timezones

    return sorted(_starting(available_timezones(), incomplete))


def complete_action(incomplete: str) -> list[str]:
    from tapesched.actions import ACTION_TYPES

    return _starting(ACTION_TYPES, incomplete)


def complete_schedule_type(incomplete: str) -> list[str]:
    from tapesched.schedule_config import SCHEDULE_TYPES

    return _starting(SCHEDULE_TYPES, incomplete)


def complete_level(incomplete: str) -> list[str]:
    return _starting(("full", "differential", "incremental"), incomplete)  # backup's level


def complete_status(incomplete: str) -> list[str]:
    from tapesched.lifecycle import EXECUTION_STATUSES

    return _starting(EXECUTION_STATUSES, incomplete)


def complete_misfire(incomplete: str) -> list[str]:
    from tapesched.spec import MISFIRE_POLICIES

    return _starting(MISFIRE_POLICIES, incomplete)


def complete_notify_on(incomplete: str) -> list[str]:
    from tapesched.spec import NOTIFY_ON

    return _starting(NOTIFY_ON, incomplete)


# --------------------------------------------------------------------------- options

TaskRef = Annotated[
    str, typer.Argument(metavar="TASK", help="Task name or id.", autocompletion=complete_task)
]
Description = Annotated[
    str | None, typer.Option("--description", "-d", metavar="TEXT", help="What the task is for.")
]
ScheduleType = Annotated[
    str | None,
    typer.Option(
        "--schedule-type",
        metavar="TYPE",
        help="Seed form: once, interval, daily, weekly, monthly, yearly or cron.",
        autocompletion=complete_schedule_type,
    ),
]
ScheduleConfig = Annotated[
    str | None,
    typer.Option(
        "--schedule-config",
        metavar="JSON",
        help='Seed form: JSON, e.g. \'{"time": "02:00:00"}\'.',
    ),
]
Once = Annotated[
    str | None,
    typer.Option("--once", metavar="DATETIME", help="Once at a local time: '2026-12-25 14:30'."),
]
Every = Annotated[
    str | None,
    typer.Option("--every", metavar="INTERVAL", help="Interval: 30m, 2h or 1d (elapsed time)."),
]
Daily = Annotated[str | None, typer.Option("--daily", metavar="TIME", help="Daily at HH:MM[:SS].")]
Weekly = Annotated[
    str | None,
    typer.Option(
        "--weekly",
        metavar="WEEKDAYS",
        help="Weekly on days by name: sun, or mon,thu; with --at.",
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
    typer.Option(
        "--cron",
        metavar="EXPR",
        help="A cron expression as Debian's cron reads it, e.g. '0 2 * * 1-5', or @hourly, "
        "@daily, @weekly, @monthly, @yearly.",
    ),
]
At = Annotated[
    str | None,
    typer.Option(
        "--at",
        metavar="TIME",
        help="Time of day for --weekly, --monthly, --yearly (default 00:00); with edit alone, "
        "a new time that keeps the task's days.",
    ),
]
Zone = Annotated[
    str | None,
    typer.Option(
        "--timezone",
        "--tz",
        metavar="ZONE",
        help="IANA zone (default: the host's zone).",
        autocompletion=complete_zone,
    ),
]
JsonOut = Annotated[bool, typer.Option("--json", help="Machine output (JSON) on stdout.")]
Full = Annotated[
    bool,
    typer.Option("--full", "-l", help="Show values whole instead of cut to the width."),
]
ActionType = Annotated[
    str | None,
    typer.Option(
        "--action",
        metavar="ACTION",
        help="backup, recovery, cleanup, health_check, retention_check, verify or custom.",
        autocompletion=complete_action,
    ),
]
ActionConfig = Annotated[
    str | None,
    typer.Option("--action-config", metavar="JSON", help="Seed form: JSON for the action."),
]
Source = Annotated[
    list[str] | None,
    typer.Option("--source", metavar="PATH", help="Backup: a source path (repeat for more)."),
]
Device = Annotated[
    str | None,
    typer.Option(
        "--device", metavar="DEVICE", help="Tape drive (/dev/nst0) or virtual tape directory."
    ),
]
Pool = Annotated[
    str | None,
    typer.Option(
        "--pool",
        metavar="POOL",
        help="Backup: write to this pool's labelled volumes (with --library or --device).",
        autocompletion=lambda incomplete: _media_completion("complete_pool", incomplete),
    ),
]
LibraryName = Annotated[
    str | None,
    typer.Option(
        "--library",
        metavar="LIBRARY",
        help="Backup to a pool: the library holding its volumes.",
        autocompletion=lambda incomplete: _media_completion("complete_library", incomplete),
    ),
]
Level = Annotated[
    str | None,
    typer.Option(
        "--level",
        metavar="LEVEL",
        help="Backup: full, differential or incremental.",
        autocompletion=complete_level,
    ),
]
Levels = Annotated[
    str | None,
    typer.Option(
        "--levels",
        metavar="RULES",
        help="Backup: the level by date, first match wins, e.g. 'full: 1st sun; "
        "differential: sun; incremental: *' (instead of --level).",
    ),
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
    str | None,
    typer.Option(
        "--from-task",
        metavar="TASK",
        help="Recovery: the backup task.",
        autocompletion=complete_task,
    ),
]
Target = Annotated[
    str | None, typer.Option("--target", metavar="PATH", help="Recovery: the target folder.")
]
RetentionDays = Annotated[
    int | None,
    typer.Option("--retention-days", metavar="DAYS", help="Cleanup: days of history to keep."),
]
Force = Annotated[bool, typer.Option("--force", help="Accept a once schedule in the past.")]
Grace = Annotated[
    float,
    typer.Option(
        "--grace",
        metavar="SECONDS",
        help="Seconds between SIGTERM and SIGKILL for a run in progress.",
    ),
]
Status = Annotated[
    str | None,
    typer.Option(
        "--status",
        metavar="STATUS",
        help="Only this status: running, success, failed, cancelled, skipped or lost.",
        autocompletion=complete_status,
    ),
]
Since = Annotated[
    str | None,
    typer.Option(
        "--since",
        metavar="DATETIME",
        help="Only runs begun at or after this instant (local unless it has an offset).",
    ),
]
Until = Annotated[
    str | None,
    typer.Option(
        "--until",
        metavar="DATETIME",
        help="Only runs begun before this instant (local unless it has an offset).",
    ),
]
From = Annotated[
    str | None,
    typer.Option(
        "--from",
        metavar="DATETIME",
        help="Start after this instant (default now; local unless it has an offset).",
    ),
]


MAX_GRACE = 86400.0


def check_grace(grace: float) -> None:
    """--grace (stop, delete): seconds, 0 to a day; refuse anything else (exit 2)."""
    if not 0 <= grace <= MAX_GRACE:  # also refuses nan
        raise InvalidInput(f"--grace: {grace:g} is out of range; expected seconds, 0-{MAX_GRACE:g}")


def instant(text: str | None, zone: str, option: str, default: Any = None) -> Any:
    """An instant option (--now, --from, --since, --until): `default` when not given; an
    empty or blank value is refused (exit 2), never read as "now"."""
    if text is None:
        return default
    if not text.strip():
        raise InvalidInput(
            f"{option}: the value is empty; expected an instant such as '2026-12-25 14:30', "
            "'2026-12-25T14:30:00+01:00' or 'now'"
        )
    from tapesched.clock import parse_instant

    return parse_instant(text, zone, option)
