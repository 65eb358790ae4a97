"""Rendering at the edge: JSON for scripts, rich tables for people.

rich is imported only when a table is printed.
"""

from __future__ import annotations

import json
import os
import sys
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

TASK_FIELDS = (
    "id", "task_name", "description", "status", "enabled", "host", "schedule_type",
    "schedule_config", "timezone", "action_type", "action_config", "device", "next_run_time",
    "last_run_time", "last_success_time", "last_failure_time", "total_runs",
    "success_runs", "failure_runs", "average_duration", "last_duration", "timeout",
    "misfire", "misfire_grace", "device_wait", "ping_url", "notify_command", "notify_on",
    "retries", "retry_delay", "hook_before", "hook_after", "start_window", "retry_at",
    "retry_attempt", "created_at", "updated_at",
)  # fmt: skip
EXECUTION_FIELDS = (
    "execution_id", "task_id", "trigger", "scheduled_for", "started_at", "completed_at",
    "duration", "status", "error_message", "result", "pid", "job_pid", "host", "log_path",
    "lease_expires", "attempt", "level",
)  # fmt: skip


DAY_ABBREVIATIONS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _local(value: datetime, zone: str | None) -> datetime:
    """`value` in `zone` (an aware instant); in UTC when the zone is unknown or the local
    time would fall outside the calendar (an instant at its very end, east of UTC)."""
    try:
        return value.astimezone(ZoneInfo(zone)) if zone else value
    except (OverflowError, ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
        return value.astimezone(UTC)


def iso(value: datetime | None, zone: str | None = None) -> str | None:
    """ISO 8601 with offset, in `zone` when given (for JSON)."""
    if value is None:
        return None
    return _local(value, zone).isoformat()


def stamp(value: datetime | None, zone: str) -> str:
    """The one form of an instant for people, in `list`, `show`, `logs`, `preview` and
    `add`: weekday, date, time to the second and zone, 'Sun 2026-12-06 01:00:00 CET'
    ('-' for none). The weekday is English whatever the locale."""
    if value is None:
        return "-"
    local = _local(value, zone)
    return f"{DAY_ABBREVIATIONS[local.weekday()]} {local:%Y-%m-%d %H:%M:%S} {local.tzname()}"


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


# --------------------------------------------------------------------------- tables


def clean(text: object) -> str:
    """`text` as one printable line: control and format characters (newlines, tabs, escape
    sequences, bidirectional overrides, line separators) become spaces, so a value can
    neither break a row nor drive the terminal."""
    value = str(text)
    if value.isprintable():
        return value
    return "".join(
        " " if unicodedata.category(char)[0] in "CZ" and char != " " else char for char in value
    )


def output_width(stream: Any = None) -> int | None:
    """The width tables fit: COLUMNS when set to a number, else the terminal's; None (no
    limit: values whole, for grep and less) when the output is not a terminal."""
    stream = sys.stdout if stream is None else stream
    value = os.environ.get("COLUMNS", "").strip()
    if value.isdecimal() and 0 < int(value) < 100000:
        return int(value)
    try:
        if stream.isatty():
            return os.get_terminal_size(stream.fileno()).columns or 80
    except (OSError, ValueError, AttributeError):
        pass
    return None


def console(stderr: bool = False):  # noqa: ANN201 - rich type imported lazily
    """A rich console that colours only where colour is wanted and never wraps or crops:
    the callers lay their lines out themselves."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    plain = bool(os.environ.get("NO_COLOR"))  # https://no-color.org: never colour then
    return Console(
        file=stream,
        width=100000,
        color_system=None if plain else "auto",
        no_color=plain or None,
        highlight=False,
        soft_wrap=True,
        emoji=False,
        markup=False,
    )


@dataclass(frozen=True)
class Column:
    """A column of a table. When the width is short, cuttable columns lose their ends first
    (down to `floor` cells, never below their header), then whole columns are left out,
    the lowest `keep` first. An `id` column is neither cut nor left out."""

    header: str
    keep: int = 0
    cut: bool = False
    id: bool = False
    floor: int = 8


SEPARATOR = "  "


def layout(columns: list[Column], natural: list[int], width: int | None) -> list[int | None]:
    """Given the columns, the cells each needs for its widest value, and the width (None:
    no limit), return each column's width, None for a column left out. One row is one
    line: it fits the width unless the id columns alone do not."""
    shown = list(range(len(columns)))
    while True:
        widths: list[int | None] = [
            natural[index] if index in shown else None for index in range(len(columns))
        ]
        if width is None:
            return widths
        excess = sum(natural[i] for i in shown) + len(SEPARATOR) * (len(shown) - 1) - width
        if excess > 0:
            excess = _shrink(columns, natural, widths, shown, excess)
        droppable = [i for i in shown if not columns[i].id]
        if excess <= 0:
            return widths
        if not droppable or len(shown) == 1:
            for index in (i for i in shown if columns[i].cut and excess > 0):
                taken = min(excess, widths[index] - 1)  # the last resort: below the floor
                widths[index] -= taken
                excess -= taken
            return widths
        shown.remove(min(droppable, key=lambda i: (columns[i].keep, -i)))


def _shrink(
    columns: list[Column],
    natural: list[int],
    widths: list[int | None],
    shown: list[int],
    excess: int,
) -> int:
    """Cut the shown cuttable columns towards their floors, each in proportion to what it
    can give, until `excess` cells are saved; return what could not be saved."""
    slack = {
        index: natural[index]
        - min(natural[index], max(columns[index].floor, len(columns[index].header)))
        for index in shown
        if columns[index].cut
    }
    total = sum(slack.values())
    if total <= excess:
        for index, give in slack.items():
            widths[index] = natural[index] - give
        return excess - total
    given = {index: excess * give // total for index, give in slack.items()}
    left = excess - sum(given.values())
    for index in sorted(slack, key=lambda i: slack[i] - given[i], reverse=True)[:left]:
        given[index] += 1
    for index, give in given.items():
        widths[index] = natural[index] - give
    return 0


def table(
    title: str | None,
    columns: list[Column] | list[str],
    rows: list[list[Any]],
    full: bool = False,
    footer: str | None = None,
) -> None:
    """Print a table like `systemctl list-timers`: a header line, then one line per row at
    any width (output_width()); long values are cut with '…' unless `full`, and columns are
    left out when even cut values do not fit. Cells are text or rich Text (for colour)."""
    from rich.cells import cell_len
    from rich.text import Text

    specs = [
        column if isinstance(column, Column) else Column(column, keep=-index, cut=True)
        for index, column in enumerate(columns)
    ]
    cells = [
        [
            Text(clean(cell.plain), style=cell.style)
            if isinstance(cell, Text)
            else Text(clean(cell))
            for cell in row
        ]
        for row in rows
    ]
    natural = [
        max([cell_len(spec.header)] + [cell_len(row[index].plain) for row in cells])
        for index, spec in enumerate(specs)
    ]
    widths = layout(specs, natural, None if full else output_width())
    shown = [index for index, width in enumerate(widths) if width is not None]
    out = console()
    if title:
        out.print(Text(clean(title)))

    def line(values: list[Any]) -> Any:
        joined = Text()
        for position, index in enumerate(shown):
            value = values[index].copy()
            last = position == len(shown) - 1
            if cell_len(value.plain) > widths[index] or not last:
                value.truncate(widths[index], overflow="ellipsis", pad=not last)
            joined.append_text(value)
            if not last:
                joined.append(SEPARATOR)
        joined.rstrip()
        return joined

    out.print(line([Text(spec.header, style="bold") for spec in specs]))
    for row in cells:
        out.print(line(row))
    if footer:
        out.print(Text(clean(footer), style="dim"))


def pairs(rows: list[tuple[str, str]]) -> None:
    """A key/value listing for `show`: one line per field, values whole."""
    from rich.text import Text

    out = console()
    key_width = max((len(key) for key, _ in rows), default=0)
    for key, value in rows:
        line = Text(f"{key:<{key_width}}", style="bold")
        line.append(f"  {clean(value)}")
        out.print(line)


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
