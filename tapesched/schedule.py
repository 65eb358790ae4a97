"""Schedules: validate them and compute their next runs (SPEC section 3).

Pure: no I/O, never reads the clock; `after`/`now` are always passed in.

Wall-clock schedules (once, daily, weekly, monthly, yearly, cron with fixed
hours) are evaluated in the schedule's zone with cron(8)'s DST rule: a local
time inside a spring-forward gap runs at the end of the gap, a local time that
happens twice runs once, at its first occurrence. Schedules that repeat within
the hour (interval, cron with `*` or a step in the hour field) follow elapsed
time instead: they run at both occurrences of a repeated wall time and not at
all inside a gap.

croniter is imported lazily, inside the functions that need it, so that
`tapesched --help` stays fast.
"""

from __future__ import annotations

import calendar
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tapesched.errors import InvalidInput

SCHEDULE_TYPES = ("once", "interval", "daily", "weekly", "monthly", "yearly", "cron")

NOTE_DST_GAP = "dst_gap"
NOTE_DST_REPEAT = "dst_repeat"

_UTC = UTC
_CONFIG = "schedule_config"

_ACCEPTED_KEYS: dict[str, tuple[str, ...]] = {
    "once": ("datetime",),
    "interval": ("interval", "unit", "start"),
    "daily": ("time",),
    "weekly": ("day_of_week", "time"),
    "monthly": ("day_of_month", "time"),
    "yearly": ("month", "day", "time"),
    "cron": ("cron",),
}
_REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    "once": ("datetime",),
    "interval": ("interval", "unit"),
    "daily": ("time",),
    "weekly": ("day_of_week", "time"),
    "monthly": ("day_of_month", "time"),
    "yearly": ("month", "day", "time"),
    "cron": ("cron",),
}

_UNITS: dict[str, timedelta] = {
    "minutes": timedelta(minutes=1),
    "hours": timedelta(hours=1),
    "days": timedelta(days=1),  # a day is 24 h of elapsed time, not a calendar day
}
_UNIT_ALIASES = {"minute": "minutes", "hour": "hours", "day": "days"}
# Longer intervals are surely typos, and they would overflow datetime arithmetic.
_MAX_INTERVAL = timedelta(days=3660)

_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# Spelled out rather than taken from calendar.day_name, which follows the process locale.
_DAY_FULL_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_WORDS = {
    **{name.lower(): index for index, name in enumerate(_DAY_NAMES)},
    **{name: index for index, name in enumerate(_DAY_FULL_NAMES)},
}
_MONTH_NAMES = (
    "",
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

_TIME_RE = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?", re.ASCII)
_DATETIME_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?"
    r"(Z|[+-]\d{2}:?\d{2})?",
    re.IGNORECASE | re.ASCII,
)
_EVERY_RE = re.compile(
    r"(\d+)\s*(m|min|mins|minute|minutes|h|hr|hrs|hour|hours|d|day|days)", re.IGNORECASE | re.ASCII
)
_MONTH_DAY_RE = re.compile(r"(\d{1,2})-(\d{1,2})", re.ASCII)
_DAY_NUMBER_RE = re.compile(r"\d{1,2}", re.ASCII)

_SHOW_LIMIT = 80

_TIME_FORM = "HH:MM or HH:MM:SS (00:00-23:59)"
_DATETIME_FORM = "YYYY-MM-DD HH:MM[:SS], optionally with T and a UTC offset such as +01:00"
_EVERY_FORM = "a number and a unit: 30m, 2h, 1d"
_WEEKDAY_FORM = "0-6 (0 = Monday) or a list of them"
_WEEKDAY_WORDS_FORM = "day names mon..sun or numbers 0-6 (0 = Monday), comma-separated"


@dataclass(frozen=True)
class Schedule:
    """A validated schedule: its type, its normalized JSON config and its IANA zone."""

    type: str
    config: dict
    zone: str


# --------------------------------------------------------------------------- values


def _show(value: object) -> str:
    """Given a bad value, return it quoted for a one-line message, cut short if long."""
    if isinstance(value, str):
        shown = repr(value)
    else:
        try:
            shown = json.dumps(value)
        except (TypeError, ValueError):
            shown = repr(value)
    # A pasted file as a config must not flood the terminal; the start identifies it.
    return shown if len(shown) <= _SHOW_LIMIT else shown[: _SHOW_LIMIT - 3] + "..."


def _is_int(value: object) -> bool:
    # JSON true/false are ints to Python; nobody means day 1 by `true`.
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_time(value: object, field: str) -> time:
    """Given "HH:MM" or "HH:MM:SS", return the time; raise InvalidInput naming field if not."""
    match = _TIME_RE.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is not None:
        hour, minute = int(match[1]), int(match[2])
        second = int(match[3]) if match[3] is not None else 0
        if hour <= 23 and minute <= 59 and second <= 59:
            return time(hour, minute, second)
    raise InvalidInput(f"{field}: {_show(value)} is not a time; expected {_TIME_FORM}")


def _format_time(value: time) -> str:
    return value.strftime("%H:%M:%S")


def _short_time(value: time) -> str:
    """Given a time, return HH:MM, or HH:MM:SS when the seconds matter."""
    return value.strftime("%H:%M:%S" if value.second else "%H:%M")


def _parse_datetime(value: object, field: str) -> datetime:
    """Given "YYYY-MM-DD HH:MM[:SS]" (T allowed, offset optional), return a naive or aware
    datetime; raise InvalidInput naming field if it is not one."""
    text = value.strip() if isinstance(value, str) else None
    match = _DATETIME_RE.fullmatch(text) if text else None
    if match is not None:
        offset_text = match[7]
        try:
            parsed = datetime(
                int(match[1]),
                int(match[2]),
                int(match[3]),
                int(match[4]),
                int(match[5]),
                int(match[6] or 0),
            )
            if offset_text:
                offset = _parse_offset(offset_text)
                parsed = parsed.replace(tzinfo=timezone(offset))
            return parsed
        except ValueError:
            pass
    raise InvalidInput(f"{field}: {_show(value)} is not a date and time; expected {_DATETIME_FORM}")


def _parse_offset(text: str) -> timedelta:
    if text.upper() == "Z":
        return timedelta(0)
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours > 23 or minutes > 59:
        raise ValueError("offset out of range")
    return sign * timedelta(hours=hours, minutes=minutes)


def _format_datetime(value: datetime) -> str:
    """Given a parsed datetime, return its normal form: local as "YYYY-MM-DD HH:MM:SS",
    with an offset as ISO 8601 "YYYY-MM-DDTHH:MM:SS+HH:MM"."""
    if value.tzinfo is None:
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return value.isoformat()


def _parse_interval(value: object, field: str) -> int:
    if not _is_int(value) or value <= 0:
        raise InvalidInput(
            f"{field}: {_show(value)} is not an interval; expected a whole number >= 1"
        )
    return value


def _parse_unit(value: object, field: str) -> str:
    unit = value.strip().lower() if isinstance(value, str) else None
    unit = _UNIT_ALIASES.get(unit, unit) if unit is not None else None
    if unit not in _UNITS:
        raise InvalidInput(
            f"{field}: {_show(value)} is not a unit; expected minutes, hours or days"
        )
    return unit


def _parse_ranged_int(value: object, field: str, what: str, low: int, high: int) -> int:
    if not _is_int(value) or not low <= value <= high:
        raise InvalidInput(f"{field}: {_show(value)} is not a {what}; expected {low}-{high}")
    return value


def _parse_weekdays(value: object, field: str) -> int | list[int]:
    if _is_int(value) and 0 <= value <= 6:
        return value
    if (
        isinstance(value, list)
        and value
        and all(_is_int(item) and 0 <= item <= 6 for item in value)
    ):
        return sorted(set(value))
    raise InvalidInput(
        f"{field}: {_show(value)} is not a day of the week; expected {_WEEKDAY_FORM}"
    )


def _check_month_day(month: int, day: int, field: str, shown: str) -> None:
    # 29 Feb is allowed: in common years it runs on 28 Feb.
    longest = 29 if month == 2 else calendar.monthrange(2001, month)[1]
    if day > longest:
        raise InvalidInput(
            f"{field}: {shown} never occurs; {_MONTH_NAMES[month]} has at most {longest} days"
        )


def _check_cron(value: object, field: str) -> str:
    """Given a cron expression, return it with single spaces; raise InvalidInput if it is not
    five fields croniter accepts or it never fires."""
    from croniter import croniter  # lazy: croniter is slow to import and --help must not need it

    fields = value.split() if isinstance(value, str) else []
    form = "5 fields 'minute hour day-of-month month day-of-week', e.g. '0 2 * * *'"
    if len(fields) != 5:
        raise InvalidInput(f"{field}: {_show(value)} is not a cron expression; expected {form}")
    expression = " ".join(fields)
    try:
        valid = croniter.is_valid(expression)
    except Exception:  # croniter raises assorted errors on odd input; all mean "invalid"
        valid = False
    if not valid:
        raise InvalidInput(f"{field}: {_show(value)} is not a cron expression; expected {form}")
    try:
        # A well-formed expression can still name a date that never occurs (31 Feb).
        next(_cron_walls(expression, datetime(2001, 1, 1)))
    except Exception:  # croniter's CroniterBadDateError, after searching years ahead
        raise InvalidInput(
            f"{field}: {_show(value)} never fires; expected a date that occurs, e.g. '0 2 28 2 *'"
        ) from None
    return expression


# --------------------------------------------------------------------------- public: parsing


def validate_zone(zone: str) -> str:
    """Given an IANA zone name, return it; raise InvalidInput if zoneinfo does not know it."""
    try:
        if not isinstance(zone, str) or not zone.strip():
            raise ValueError("empty zone")
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        raise InvalidInput(
            f"timezone: unknown zone {_show(zone)}; expected an IANA name such as "
            "Europe/Berlin or UTC"
        ) from None
    return zone


def parse_config(text: str, field: str = _CONFIG) -> dict:
    """Given JSON text, return the object it holds; raise InvalidInput naming field if the text
    is not JSON or not an object."""
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, TypeError) as error:
        detail = error.msg if isinstance(error, json.JSONDecodeError) else "not text"
        raise InvalidInput(
            f"{field}: {_show(text)} is not valid JSON ({detail}); expected a JSON object such as "
            '{"time": "02:00"}'
        ) from None
    if not isinstance(value, dict):
        raise InvalidInput(
            f'{field}: {_show(text)} is not a JSON object; expected one such as {{"time": "02:00"}}'
        )
    return value


def validate(schedule_type: str, config: dict, zone: str) -> Schedule:
    """Given a type, a raw config and a zone, return the Schedule with its config normalized
    (times "HH:MM:SS", weekdays sorted); raise InvalidInput naming the first bad field."""
    kind = schedule_type.strip().lower() if isinstance(schedule_type, str) else None
    if kind not in SCHEDULE_TYPES:
        raise InvalidInput(
            f"schedule_type: {_show(schedule_type)} is unknown; expected one of "
            f"{', '.join(SCHEDULE_TYPES)}"
        )
    validate_zone(zone)
    accepted = _ACCEPTED_KEYS[kind]
    if not isinstance(config, dict):
        raise InvalidInput(
            f"{_CONFIG}: {_show(config)} is not a JSON object; expected one with the keys "
            f"{', '.join(accepted)}"
        )
    for key in config:
        if key not in accepted:
            raise InvalidInput(
                f"{_CONFIG}: unknown key {_show(key)} for {kind}; accepted keys: "
                f"{', '.join(accepted)}"
            )
    for key in _REQUIRED_KEYS[kind]:
        if key not in config:
            raise InvalidInput(
                f"{_CONFIG}.{key}: missing; {kind} requires {', '.join(_REQUIRED_KEYS[kind])}"
            )

    def field(key: str) -> str:
        return f"{_CONFIG}.{key}"

    normal: dict = {}
    if kind == "once":
        normal["datetime"] = _format_datetime(
            _parse_datetime(config["datetime"], field("datetime"))
        )
    elif kind == "interval":
        interval = _parse_interval(config["interval"], field("interval"))
        unit = _parse_unit(config["unit"], field("unit"))
        if interval * _UNITS[unit] > _MAX_INTERVAL:
            raise InvalidInput(
                f"{field('interval')}: {interval} {unit} is too long; expected at most 3660 days"
            )
        normal["interval"] = interval
        normal["unit"] = unit
        if config.get("start") is not None:
            normal["start"] = _format_datetime(_parse_datetime(config["start"], field("start")))
    elif kind == "weekly":
        normal["day_of_week"] = _parse_weekdays(config["day_of_week"], field("day_of_week"))
    elif kind == "monthly":
        normal["day_of_month"] = _parse_ranged_int(
            config["day_of_month"], field("day_of_month"), "day of the month", 1, 31
        )
    elif kind == "yearly":
        month = _parse_ranged_int(config["month"], field("month"), "month", 1, 12)
        day = _parse_ranged_int(config["day"], field("day"), "day of the month", 1, 31)
        _check_month_day(month, day, field("day"), f"{month:02d}-{day:02d}")
        normal["month"] = month
        normal["day"] = day
    elif kind == "cron":
        normal["cron"] = _check_cron(config["cron"], field("cron"))
    if "time" in accepted:
        normal["time"] = _format_time(_parse_time(config["time"], field("time")))
    return Schedule(type=kind, config=normal, zone=zone)


# --------------------------------------------------------------------------- compiled form


@dataclass(frozen=True)
class _Plan:
    """A schedule parsed once into the values the computations need."""

    type: str
    zone: ZoneInfo
    at: time | None = None
    weekdays: tuple[int, ...] = ()
    day_of_month: int = 0
    month: int = 0
    day: int = 0
    cron: str = ""
    cron_elapsed: bool = False
    step: timedelta | None = None
    instant: datetime | None = None  # once: naive local, or aware when an offset was given
    start: datetime | None = None  # interval anchor, same forms as instant


def _plan(schedule: Schedule) -> _Plan:
    """Given a Schedule (normalized or not), return its plan; raise InvalidInput if invalid."""
    try:
        key = json.dumps(schedule.config, sort_keys=True)
    except (TypeError, ValueError):
        raise InvalidInput(
            f"{_CONFIG}: {_show(schedule.config)} is not JSON-serialisable"
        ) from None
    return _plan_cached(schedule.type, key, schedule.zone)


@lru_cache(maxsize=256)
def _plan_cached(schedule_type: str, config_json: str, zone: str) -> _Plan:
    # Re-validating makes next_run safe on configs read back from the database.
    normal = validate(schedule_type, json.loads(config_json), zone)
    config = normal.config
    changes: dict = {}
    if "time" in config:
        changes["at"] = _parse_time(config["time"], "time")
    if normal.type == "once":
        changes["instant"] = _parse_datetime(config["datetime"], "datetime")
    elif normal.type == "interval":
        changes["step"] = config["interval"] * _UNITS[config["unit"]]
        if "start" in config:
            changes["start"] = _parse_datetime(config["start"], "start")
    elif normal.type == "weekly":
        days = config["day_of_week"]
        changes["weekdays"] = tuple(days) if isinstance(days, list) else (days,)
    elif normal.type == "monthly":
        changes["day_of_month"] = config["day_of_month"]
    elif normal.type == "yearly":
        changes["month"] = config["month"]
        changes["day"] = config["day"]
    elif normal.type == "cron":
        hour_field = config["cron"].split()[1]
        changes["cron"] = config["cron"]
        # SPEC 3: `*` or a step in the hour field is "repeats within the hour" (elapsed time).
        changes["cron_elapsed"] = hour_field == "*" or "/" in hour_field
    return _Plan(type=normal.type, zone=ZoneInfo(zone), **changes)


# --------------------------------------------------------------------------- DST mapping


def _resolve(wall: datetime, zone: ZoneInfo) -> tuple[datetime, str | None]:
    """Given a naive local wall time, return the UTC instant it runs at under cron(8)'s rule
    and a note: in a gap, the end of the gap ("dst_gap"); repeated, the first occurrence
    ("dst_repeat"); else the one instant (None)."""
    first = wall.replace(tzinfo=zone, fold=0)
    instant = first.astimezone(_UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != wall:
        return _gap_end(wall, zone), NOTE_DST_GAP
    if first.utcoffset() != wall.replace(tzinfo=zone, fold=1).utcoffset():
        return instant, NOTE_DST_REPEAT
    return instant, None


def _gap_end(wall: datetime, zone: ZoneInfo) -> datetime:
    """Given a wall time inside a gap, return the UTC instant the gap ends (the transition)."""
    # PEP 495: in a gap fold=0 uses the offset before the transition and fold=1 the one after,
    # so wall - after_offset lies before the transition and wall - before_offset at/after it.
    before_offset = wall.replace(tzinfo=zone, fold=0).utcoffset()
    after_offset = wall.replace(tzinfo=zone, fold=1).utcoffset()
    low = (wall - after_offset).replace(tzinfo=_UTC)
    high = (wall - before_offset).replace(tzinfo=_UTC)
    low_offset = low.astimezone(zone).utcoffset()
    # Bisect to the second: offsets of any size (Lord Howe's 30 min) and odd transition times.
    while high - low > timedelta(seconds=1):
        middle = low + timedelta(seconds=(high - low).total_seconds() // 2)
        if middle.astimezone(zone).utcoffset() == low_offset:
            low = middle
        else:
            high = middle
    return high


def _instants(wall: datetime, zone: ZoneInfo) -> list[datetime]:
    """Given a naive wall time, return every UTC instant showing it: none in a gap, two when
    repeated (elapsed-time schedules run at both)."""
    instants = []
    for fold in (0, 1):
        instant = wall.replace(tzinfo=zone, fold=fold).astimezone(_UTC)
        if instant.astimezone(zone).replace(tzinfo=None) == wall and instant not in instants:
            instants.append(instant)
    return instants


def _note_at(instant: datetime, zone: ZoneInfo) -> str | None:
    """Given an instant, return "dst_repeat" if its local wall time happens twice, else None."""
    wall = instant.astimezone(zone).replace(tzinfo=None)
    repeated = (
        wall.replace(tzinfo=zone, fold=0).utcoffset()
        != wall.replace(tzinfo=zone, fold=1).utcoffset()
    )
    return NOTE_DST_REPEAT if repeated else None


def _local_wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def _to_instant(value: datetime, zone: ZoneInfo) -> tuple[datetime, str | None]:
    """Given a config datetime (naive = local in zone, aware = its own offset), return its
    UTC instant and note."""
    if value.tzinfo is not None:
        return value.astimezone(_UTC), _note_at(value, zone)
    return _resolve(value, zone)


# --------------------------------------------------------------------------- candidates


def _days_from(start: date) -> Iterator[date]:
    day = start
    while True:
        yield day
        day += timedelta(days=1)


def _clamped(year: int, month: int, day: int) -> date:
    # A day past the month's end runs on its last day (31 -> 30 Apr, 29 Feb -> 28 Feb).
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def _wall_candidates(plan: _Plan, start: date) -> Iterator[datetime]:
    """Given a fixed-time plan and a local date, yield its naive wall times from that date on,
    in increasing order."""
    at = plan.at
    assert at is not None
    if plan.type == "daily":
        for day in _days_from(start):
            yield datetime.combine(day, at)
    elif plan.type == "weekly":
        for day in _days_from(start):
            if day.weekday() in plan.weekdays:
                yield datetime.combine(day, at)
    elif plan.type == "monthly":
        year, month = start.year, start.month
        while True:
            yield datetime.combine(_clamped(year, month, plan.day_of_month), at)
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    elif plan.type == "yearly":
        year = start.year
        while True:
            yield datetime.combine(_clamped(year, plan.month, plan.day), at)
            year += 1


def _cron_walls(expression: str, start: datetime) -> Iterator[datetime]:
    """Given a cron expression and a naive wall time, yield the matching naive wall times
    strictly after it, by pure calendar arithmetic."""
    from croniter import croniter  # lazy: see module docstring

    # Wall times dressed as UTC: croniter then does calendar arithmetic with no DST at all,
    # which sidesteps its DST bugs (fixed-time jobs firing twice on fall-back days).
    iterator = croniter(expression, start.replace(tzinfo=_UTC, microsecond=0))
    while True:
        yield iterator.get_next(datetime).replace(tzinfo=None)


def _first_fixed(
    walls: Iterator[datetime], plan: _Plan, after: datetime
) -> tuple[datetime, str | None]:
    """Given increasing wall times, return the first run strictly after `after`."""
    # _resolve is non-decreasing in the wall time, so the first instant past `after` is the
    # answer; two walls that land on one instant (gap) are yielded once because the next call's
    # `after` is that instant.
    for wall in walls:
        instant, note = _resolve(wall, plan.zone)
        if instant > after:
            return instant, note
    raise AssertionError("candidate generators are infinite")  # pragma: no cover


def _first_elapsed_cron(plan: _Plan, after: datetime) -> tuple[datetime, str | None]:
    """Given a cron plan that repeats within the hour, return its first run strictly after
    `after`, in elapsed time: both occurrences of a repeated wall time, none in a gap."""
    zone = plan.zone
    local = after.astimezone(zone)
    # A fall-back within the next day makes earlier wall times recur after `after`: look back
    # by the size of the fold so their second occurrences are considered.
    later_offset = (after + timedelta(days=1)).astimezone(zone).utcoffset()
    lookback = max(timedelta(0), local.utcoffset() - later_offset)
    start = local.replace(tzinfo=None) - lookback - timedelta(seconds=1)
    best: datetime | None = None
    for wall in _cron_walls(plan.cron, start):
        # Every instant of this or a later wall is >= its cron(8) instant: stop once past best.
        lower, _ = _resolve(wall, zone)
        if best is not None and lower >= best:
            break
        for instant in _instants(wall, zone):
            if instant > after and (best is None or instant < best):
                best = instant
    assert best is not None
    return best, _note_at(best, zone)


def _first_interval(
    plan: _Plan,
    after: datetime,
    last_scheduled: datetime | None,
    created_at: datetime | None,
) -> tuple[datetime, str | None]:
    step = plan.step
    assert step is not None
    if last_scheduled is not None:
        anchor, allow_anchor = last_scheduled.astimezone(_UTC), False
    elif plan.start is not None:
        anchor, allow_anchor = _to_instant(plan.start, plan.zone)[0], True
    elif created_at is not None:
        anchor, allow_anchor = created_at.astimezone(_UTC), True
    else:
        anchor, allow_anchor = after, False
    if allow_anchor and anchor > after:
        result = anchor
    elif anchor > after:
        result = anchor + step
    else:
        # Integer arithmetic on timedeltas: no float rounding over long spans.
        result = anchor + ((after - anchor) // step + 1) * step
    return result, _note_at(result, plan.zone)


# --------------------------------------------------------------------------- public: runs


def _require_aware(value: datetime | None, name: str) -> None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise InvalidInput(f"{name}: {value.isoformat()} has no zone; expected an aware datetime")


def next_run_noted(
    schedule: Schedule,
    after: datetime,
    last_scheduled: datetime | None = None,
    created_at: datetime | None = None,
) -> tuple[datetime, str | None] | None:
    """Given a schedule and an aware instant, return the first run strictly after it (aware
    UTC) with its note (None, "dst_gap" or "dst_repeat"), or None if there is none; raise
    InvalidInput if the schedule is invalid or a datetime is naive."""
    _require_aware(after, "after")
    _require_aware(last_scheduled, "last_scheduled")
    _require_aware(created_at, "created_at")
    plan = _plan(schedule)
    after_utc = after.astimezone(_UTC)
    try:
        if plan.type == "once":
            assert plan.instant is not None
            instant, note = _to_instant(plan.instant, plan.zone)
            return (instant, note) if instant > after_utc else None
        if plan.type == "interval":
            return _first_interval(plan, after_utc, last_scheduled, created_at)
        if plan.type == "cron" and plan.cron_elapsed:
            return _first_elapsed_cron(plan, after_utc)
        # Walls before after's local wall time map to instants <= after (see _first_fixed),
        # so starting at its local date is enough.
        start = _local_wall(after_utc, plan.zone)
        if plan.type == "cron":
            walls = _cron_walls(plan.cron, start - timedelta(seconds=1))
        else:
            walls = _wall_candidates(plan, start.date())
        return _first_fixed(walls, plan, after_utc)
    except OverflowError:
        return None  # past year 9999: no run can be represented


def next_run(
    schedule: Schedule,
    after: datetime,
    last_scheduled: datetime | None = None,
    created_at: datetime | None = None,
) -> datetime | None:
    """Given a schedule and an aware instant, return the first run strictly after it as an
    aware UTC datetime, or None if there is none (a once in the past); raise InvalidInput if
    the schedule is invalid or a datetime is naive."""
    noted = next_run_noted(schedule, after, last_scheduled, created_at)
    return noted[0] if noted is not None else None


def preview(
    schedule: Schedule,
    after: datetime,
    count: int,
    created_at: datetime | None = None,
) -> list[tuple[datetime, str | None]]:
    """Given a schedule, an aware instant and a count, return the next `count` runs strictly
    after it with their notes (fewer for a once); raise InvalidInput if count < 0."""
    if not _is_int(count) or count < 0:
        raise InvalidInput(f"count: {_show(count)} is not a count; expected a whole number >= 0")
    runs: list[tuple[datetime, str | None]] = []
    cursor, last = after, None
    while len(runs) < count:
        noted = next_run_noted(schedule, cursor, last_scheduled=last, created_at=created_at)
        if noted is None:
            break
        runs.append(noted)
        cursor = last = noted[0]
    return runs


def is_past_once(schedule: Schedule, now: datetime) -> bool:
    """Given a schedule and the current aware instant, return True for a once schedule whose
    instant is at or before now."""
    _require_aware(now, "now")
    plan = _plan(schedule)
    if plan.type != "once":
        return False
    assert plan.instant is not None
    return _to_instant(plan.instant, plan.zone)[0] <= now.astimezone(_UTC)


def period(schedule: Schedule) -> timedelta | None:
    """Given a schedule, return its nominal period (for overdue windows), None for a once."""
    plan = _plan(schedule)
    if plan.type == "once":
        return None
    if plan.type == "interval":
        return plan.step
    if plan.type == "daily":
        return timedelta(days=1)
    if plan.type == "weekly":
        return timedelta(days=7) / len(plan.weekdays)
    if plan.type == "monthly":
        return timedelta(days=31)
    if plan.type == "yearly":
        return timedelta(days=366)
    # cron: a fixed reference keeps the answer independent of the clock (Monday 2001-01-01).
    walls = _cron_walls(plan.cron, datetime(2001, 1, 1))
    first = next(walls)
    return next(walls) - first


def describe(schedule: Schedule) -> str:
    """Given a schedule, return it in words for people, e.g. "daily at 02:00"."""
    plan = _plan(schedule)
    config = _plan_config(schedule)
    at = f" at {_short_time(plan.at)}" if plan.at is not None else ""
    if plan.type == "once":
        return f"once at {config['datetime']}"
    if plan.type == "interval":
        amount, unit = config["interval"], config["unit"]
        words = f"every {unit[:-1]}" if amount == 1 else f"every {amount} {unit}"
        return words + (f" from {config['start']}" if "start" in config else "")
    if plan.type == "daily":
        return f"daily{at}"
    if plan.type == "weekly":
        return f"weekly on {', '.join(_DAY_NAMES[day] for day in plan.weekdays)}{at}"
    if plan.type == "monthly":
        note = " (last day in shorter months)" if plan.day_of_month > 28 else ""
        return f"monthly on day {plan.day_of_month}{at}{note}"
    if plan.type == "yearly":
        return f"yearly on {plan.month:02d}-{plan.day:02d}{at}"
    return f"cron '{plan.cron}'"


def _plan_config(schedule: Schedule) -> dict:
    return validate(schedule.type, schedule.config, schedule.zone).config


# --------------------------------------------------------------------------- shorthands


def _parse_every(value: str) -> dict:
    match = _EVERY_RE.fullmatch(value.strip())
    if match is None:
        raise InvalidInput(f"--every: {_show(value)} is not an interval; expected {_EVERY_FORM}")
    amount = int(match[1])
    unit = {"m": "minutes", "h": "hours", "d": "days"}[match[2][0].lower()]
    if amount <= 0:
        raise InvalidInput(f"--every: {_show(value)} is not at least 1; expected {_EVERY_FORM}")
    return {"interval": amount, "unit": unit}


def _parse_weekday_words(value: str) -> int | list[int]:
    days: set[int] = set()
    for part in value.split(","):
        bounds = [_weekday_word(word, value) for word in part.split("-")]
        if len(bounds) == 1:
            days.add(bounds[0])
        elif len(bounds) == 2 and bounds[0] <= bounds[1]:
            days.update(range(bounds[0], bounds[1] + 1))
        else:
            raise InvalidInput(
                f"--weekly: {_show(value)} is not a list of days; expected {_WEEKDAY_WORDS_FORM}"
            )
    ordered = sorted(days)
    return ordered[0] if len(ordered) == 1 else ordered


def _weekday_word(word: str, whole: str) -> int:
    word = word.strip().lower()
    if _DAY_NUMBER_RE.fullmatch(word) and 0 <= int(word) <= 6:
        return int(word)
    if word in _DAY_WORDS:
        return _DAY_WORDS[word]
    raise InvalidInput(
        f"--weekly: {_show(whole)} is not a list of days; expected {_WEEKDAY_WORDS_FORM}"
    )


def _parse_month_day(value: str) -> dict:
    match = _MONTH_DAY_RE.fullmatch(value.strip())
    month, day = (int(match[1]), int(match[2])) if match else (0, 0)
    if not 1 <= month <= 12 or not 1 <= day <= 31:
        raise InvalidInput(f"--yearly: {_show(value)} is not a date; expected MM-DD such as 12-25")
    _check_month_day(month, day, "--yearly", _show(value))
    return {"month": month, "day": day}


def parse_shorthand(
    *,
    once: str | None = None,
    every: str | None = None,
    daily: str | None = None,
    weekly: str | None = None,
    monthly: str | None = None,
    yearly: str | None = None,
    cron: str | None = None,
    at: str | None = None,
) -> tuple[str, dict] | None:
    """Given the command line's schedule options, return (schedule_type, config) for validate(),
    or None if none was given; raise InvalidInput naming the option if two are given, a value
    is malformed, or --at comes without --weekly, --monthly or --yearly."""
    given = {
        name: value
        for name, value in (
            ("once", once),
            ("every", every),
            ("daily", daily),
            ("weekly", weekly),
            ("monthly", monthly),
            ("yearly", yearly),
            ("cron", cron),
        )
        if value is not None
    }
    if len(given) > 1:
        raise InvalidInput(
            f"--{' and --'.join(given)}: give one schedule option; expected one of --once, "
            "--every, --daily, --weekly, --monthly, --yearly, --cron"
        )
    if at is not None and not given.keys() & {"weekly", "monthly", "yearly"}:
        raise InvalidInput(
            f"--at: {_show(at)} needs --weekly, --monthly or --yearly; "
            "expected --daily HH:MM for a daily time"
        )
    if not given:
        return None
    at_time = _format_time(_parse_time(at if at is not None else "00:00", "--at"))
    if once is not None:
        return "once", {"datetime": _format_datetime(_parse_datetime(once, "--once"))}
    if every is not None:
        return "interval", _parse_every(every)
    if daily is not None:
        return "daily", {"time": _format_time(_parse_time(daily, "--daily"))}
    if weekly is not None:
        return "weekly", {"day_of_week": _parse_weekday_words(weekly), "time": at_time}
    if monthly is not None:
        text = monthly.strip()
        day = int(text) if _DAY_NUMBER_RE.fullmatch(text) else 0
        if not 1 <= day <= 31:
            raise InvalidInput(
                f"--monthly: {_show(monthly)} is not a day of the month; expected 1-31"
            )
        return "monthly", {"day_of_month": day, "time": at_time}
    if yearly is not None:
        return "yearly", {**_parse_month_day(yearly), "time": at_time}
    assert cron is not None
    return "cron", {"cron": _check_cron(cron, "--cron")}
