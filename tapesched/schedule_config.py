"""Schedule configs: validate them, with their error messages (SPEC section 3).

A schedule is a type, a JSON config and an IANA zone; validate() checks all three and returns
them normalized as a Schedule. The value parsers and formatters here are shared with
tapesched.schedule (the computation of next runs) and tapesched.schedule_shorthands (the
command-line options). Pure: no I/O, never reads the clock.

croniter is imported lazily, inside the function that needs it, so that `tapesched --help`
stays fast.
"""

from __future__ import annotations

import calendar
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tapesched.errors import InvalidInput

SCHEDULE_TYPES = ("once", "interval", "daily", "weekly", "monthly", "yearly", "cron")

CONFIG = "schedule_config"

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

UNITS: dict[str, timedelta] = {
    "minutes": timedelta(minutes=1),
    "hours": timedelta(hours=1),
    "days": timedelta(days=1),  # a day is 24 h of elapsed time, not a calendar day
}
_UNIT_ALIASES = {"minute": "minutes", "hour": "hours", "day": "days"}
# Longer intervals are surely typos, and they would overflow datetime arithmetic.
_MAX_INTERVAL = timedelta(days=3660)

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
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

_SHOW_LIMIT = 80

_TIME_FORM = "HH:MM or HH:MM:SS (00:00-23:59)"
_DATETIME_FORM = "YYYY-MM-DD HH:MM[:SS], optionally with T and a UTC offset such as +01:00"
_WEEKDAY_FORM = "0-6 (0 = Monday) or a list of them"


@dataclass(frozen=True)
class Schedule:
    """A validated schedule: its type, its normalized JSON config and its IANA zone."""

    type: str
    config: dict
    zone: str


# --------------------------------------------------------------------------- values


def show(value: object) -> str:
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


def is_int(value: object) -> bool:
    # JSON true/false are ints to Python; nobody means day 1 by `true`.
    return isinstance(value, int) and not isinstance(value, bool)


def parse_time(value: object, field: str) -> time:
    """Given "HH:MM" or "HH:MM:SS", return the time; raise InvalidInput naming field if not."""
    match = _TIME_RE.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is not None:
        hour, minute = int(match[1]), int(match[2])
        second = int(match[3]) if match[3] is not None else 0
        if hour <= 23 and minute <= 59 and second <= 59:
            return time(hour, minute, second)
    raise InvalidInput(f"{field}: {show(value)} is not a time; expected {_TIME_FORM}")


def format_time(value: time) -> str:
    return value.strftime("%H:%M:%S")


def short_time(value: time) -> str:
    """Given a time, return HH:MM, or HH:MM:SS when the seconds matter."""
    return value.strftime("%H:%M:%S" if value.second else "%H:%M")


def parse_datetime(value: object, field: str) -> datetime:
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
    raise InvalidInput(f"{field}: {show(value)} is not a date and time; expected {_DATETIME_FORM}")


def _parse_offset(text: str) -> timedelta:
    if text.upper() == "Z":
        return timedelta(0)
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours > 23 or minutes > 59:
        raise ValueError("offset out of range")
    return sign * timedelta(hours=hours, minutes=minutes)


def format_datetime(value: datetime) -> str:
    """Given a parsed datetime, return its normal form: local as "YYYY-MM-DD HH:MM:SS",
    with an offset as ISO 8601 "YYYY-MM-DDTHH:MM:SS+HH:MM"."""
    if value.tzinfo is None:
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return value.isoformat()


def _parse_interval(value: object, field: str) -> int:
    if not is_int(value) or value <= 0:
        raise InvalidInput(
            f"{field}: {show(value)} is not an interval; expected a whole number >= 1"
        )
    return value


def _parse_unit(value: object, field: str) -> str:
    unit = value.strip().lower() if isinstance(value, str) else None
    unit = _UNIT_ALIASES.get(unit, unit) if unit is not None else None
    if unit not in UNITS:
        raise InvalidInput(f"{field}: {show(value)} is not a unit; expected minutes, hours or days")
    return unit


def _parse_ranged_int(value: object, field: str, what: str, low: int, high: int) -> int:
    if not is_int(value) or not low <= value <= high:
        raise InvalidInput(f"{field}: {show(value)} is not a {what}; expected {low}-{high}")
    return value


def _parse_weekdays(value: object, field: str) -> int | list[int]:
    if is_int(value) and 0 <= value <= 6:
        return value
    if isinstance(value, list) and value and all(is_int(item) and 0 <= item <= 6 for item in value):
        return sorted(set(value))
    raise InvalidInput(f"{field}: {show(value)} is not a day of the week; expected {_WEEKDAY_FORM}")


def check_month_day(month: int, day: int, field: str, shown: str) -> None:
    # 29 Feb is allowed: in common years it runs on 28 Feb.
    longest = 29 if month == 2 else calendar.monthrange(2001, month)[1]
    if day > longest:
        raise InvalidInput(
            f"{field}: {shown} never occurs; {_MONTH_NAMES[month]} has at most {longest} days"
        )


def check_cron(value: object, field: str) -> str:
    """Given a cron expression, return it with single spaces; raise InvalidInput if it is not
    five fields croniter accepts or it never fires."""
    from croniter import croniter  # lazy: croniter is slow to import and --help must not need it

    fields = value.split() if isinstance(value, str) else []
    form = "5 fields 'minute hour day-of-month month day-of-week', e.g. '0 2 * * *'"
    if len(fields) != 5:
        raise InvalidInput(f"{field}: {show(value)} is not a cron expression; expected {form}")
    expression = " ".join(fields)
    try:
        valid = croniter.is_valid(expression)
    except Exception:  # croniter raises assorted errors on odd input; all mean "invalid"
        valid = False
    if not valid:
        raise InvalidInput(f"{field}: {show(value)} is not a cron expression; expected {form}")
    try:
        # A well-formed expression can still name a date that never occurs (31 Feb). Wall
        # times dressed as UTC, as tapesched.schedule does: pure calendar arithmetic, no DST.
        croniter(expression, datetime(2001, 1, 1, tzinfo=UTC)).get_next(datetime)
    except Exception:  # croniter's CroniterBadDateError, after searching years ahead
        raise InvalidInput(
            f"{field}: {show(value)} never fires; expected a date that occurs, e.g. '0 2 28 2 *'"
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
            f"timezone: unknown zone {show(zone)}; expected an IANA name such as "
            "Europe/Berlin or UTC"
        ) from None
    return zone


def parse_config(text: str, field: str = CONFIG) -> dict:
    """Given JSON text, return the object it holds; raise InvalidInput naming field if the text
    is not JSON or not an object."""
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, TypeError) as error:
        detail = error.msg if isinstance(error, json.JSONDecodeError) else "not text"
        raise InvalidInput(
            f"{field}: {show(text)} is not valid JSON ({detail}); expected a JSON object such as "
            '{"time": "02:00"}'
        ) from None
    if not isinstance(value, dict):
        raise InvalidInput(
            f'{field}: {show(text)} is not a JSON object; expected one such as {{"time": "02:00"}}'
        )
    return value


def validate(schedule_type: str, config: dict, zone: str) -> Schedule:
    """Given a type, a raw config and a zone, return the Schedule with its config normalized
    (times "HH:MM:SS", weekdays sorted); raise InvalidInput naming the first bad field."""
    kind = schedule_type.strip().lower() if isinstance(schedule_type, str) else None
    if kind not in SCHEDULE_TYPES:
        raise InvalidInput(
            f"schedule_type: {show(schedule_type)} is unknown; expected one of "
            f"{', '.join(SCHEDULE_TYPES)}"
        )
    validate_zone(zone)
    accepted = _ACCEPTED_KEYS[kind]
    if not isinstance(config, dict):
        raise InvalidInput(
            f"{CONFIG}: {show(config)} is not a JSON object; expected one with the keys "
            f"{', '.join(accepted)}"
        )
    for key in config:
        if key not in accepted:
            raise InvalidInput(
                f"{CONFIG}: unknown key {show(key)} for {kind}; accepted keys: "
                f"{', '.join(accepted)}"
            )
    for key in _REQUIRED_KEYS[kind]:
        if key not in config:
            raise InvalidInput(
                f"{CONFIG}.{key}: missing; {kind} requires {', '.join(_REQUIRED_KEYS[kind])}"
            )

    def field(key: str) -> str:
        return f"{CONFIG}.{key}"

    normal: dict = {}
    if kind == "once":
        normal["datetime"] = format_datetime(parse_datetime(config["datetime"], field("datetime")))
    elif kind == "interval":
        interval = _parse_interval(config["interval"], field("interval"))
        unit = _parse_unit(config["unit"], field("unit"))
        if interval * UNITS[unit] > _MAX_INTERVAL:
            raise InvalidInput(
                f"{field('interval')}: {interval} {unit} is too long; expected at most 3660 days"
            )
        normal["interval"] = interval
        normal["unit"] = unit
        if config.get("start") is not None:
            normal["start"] = format_datetime(parse_datetime(config["start"], field("start")))
    elif kind == "weekly":
        normal["day_of_week"] = _parse_weekdays(config["day_of_week"], field("day_of_week"))
    elif kind == "monthly":
        normal["day_of_month"] = _parse_ranged_int(
            config["day_of_month"], field("day_of_month"), "day of the month", 1, 31
        )
    elif kind == "yearly":
        month = _parse_ranged_int(config["month"], field("month"), "month", 1, 12)
        day = _parse_ranged_int(config["day"], field("day"), "day of the month", 1, 31)
        check_month_day(month, day, field("day"), f"{month:02d}-{day:02d}")
        normal["month"] = month
        normal["day"] = day
    elif kind == "cron":
        normal["cron"] = check_cron(config["cron"], field("cron"))
    if "time" in accepted:
        normal["time"] = format_time(parse_time(config["time"], field("time")))
    return Schedule(type=kind, config=normal, zone=zone)
