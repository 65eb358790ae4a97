"""Schedule configs: validate them, with their error messages (SPEC section 3).

A schedule is a type, a JSON config and an IANA zone; validate() checks all three and returns
them normalized as a Schedule. The value parsers and formatters here are shared with
tapesched.schedule (the computation of next runs) and tapesched.cli.shorthands (the
command-line options). Pure: no I/O, never reads the clock.

Cron expressions are parsed here by Debian cron's grammar (parse_cron), without croniter:
validation never imports it, so `tapesched --help` and `tick` stay fast.
"""

from __future__ import annotations

import calendar
import json
import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
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
# All accepted keys are required, but an interval's start.
_REQUIRED_KEYS = {
    kind: tuple(k for k in keys if k != "start") for kind, keys in _ACCEPTED_KEYS.items()
}

UNITS: dict[str, timedelta] = {
    "minutes": timedelta(minutes=1),
    "hours": timedelta(hours=1),
    "days": timedelta(days=1),  # a day is 24 h of elapsed time, not a calendar day
}
_UNIT_ALIASES = {"minute": "minutes", "hour": "hours", "day": "days"}
# Longer intervals are surely typos, and they would overflow datetime arithmetic.
_MAX_INTERVAL = timedelta(days=3660)
# The most of each unit an interval may count (as integers: a huge count never reaches a
# timedelta, which would overflow).
INTERVAL_LIMITS = {unit: _MAX_INTERVAL // step for unit, step in UNITS.items()}

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTH_NAMES = (
    "", "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip

_TIME_RE = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?", re.ASCII)
_DATETIME_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?"
    r"(Z|[+-]\d{2}:?\d{2})?",
    re.IGNORECASE | re.ASCII,
)

_SHOW_LIMIT = 80
# The engine's calendar: datetime holds years 1-9999; a day's margin keeps every local time
# inside it once moved to UTC, whatever the zone's offset (all are below 24 h).
_FIRST_DAY = datetime(1, 1, 2)
_LAST_DAY = datetime(9999, 12, 30, 23, 59, 59)
_RANGE_FORM = "a date from 0001-01-02 to 9999-12-30"
# Objects and arrays in a JSON config: deeper is surely not a config, and it would reach the
# recursion limits of the code that reads it back (tapesched.spec refuses it at every door).
MAX_JSON_DEPTH = 32

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
    try:
        shown = repr(value) if isinstance(value, str) else json.dumps(value)
    except (TypeError, ValueError, RecursionError):  # not JSON, too deep, or a huge number
        try:
            shown = repr(value)
        except (ValueError, RecursionError):
            if is_int(value):
                shown = f"a number of about {int(value.bit_length() * 0.30103) + 1} digits"
            else:
                shown = "a value too deep to show"
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
        except ValueError:
            pass
        else:
            if not _FIRST_DAY <= parsed.replace(tzinfo=None) <= _LAST_DAY:
                raise InvalidInput(
                    f"{field}: {show(value)} is out of range; expected {_RANGE_FORM}"
                )
            return parsed
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
    # isoformat, not strftime: strftime("%Y") drops the zeros of years before 1000 on glibc.
    return value.isoformat(sep=" " if value.tzinfo is None else "T", timespec="seconds")


def _parse_interval(value: object, field: str) -> int:
    if not is_int(value) or value <= 0:
        raise InvalidInput(
            f"{field}: {show(value)} is not an interval; expected a whole number >= 1"
        )
    return value


def interval_limit_words() -> str:
    """The longest interval, in words for messages."""
    return "3660 days ({minutes} minutes, {hours} hours)".format(**INTERVAL_LIMITS)


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


# --------------------------------------------------------------------------- cron expressions

# Debian cron's macros and the fields each stands for (its entry.c sets the same bits and
# flags), stored as given: the operator sees what they wrote, and the meaning is cron's.
CRON_MACROS = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}  # fmt: skip
_MONTH_WORDS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_WEEKDAY_WORDS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# Per field: its name, its lowest and highest value, and the names cron takes for them.
_CRON_FIELDS = (
    ("minute", 0, 59, ()), ("hour", 0, 23, ()), ("day of month", 1, 31, ()),
    ("month", 1, 12, _MONTH_WORDS), ("day of week", 0, 7, _WEEKDAY_WORDS),
)  # fmt: skip
# One item of a list, as Debian's get_range reads it: *, */step, N, N-M or N-M/step.
_CRON_ITEM_RE = re.compile(r"(?:(\*)|([0-9a-z]+)(?:-([0-9a-z]+))?)(?:/([0-9]+))?", re.I | re.ASCII)
_CRON_LIMIT = 1000  # characters: far more than any list of every value needs
_CRON_FORM = (
    "5 fields 'minute hour day-of-month month day-of-week', e.g. '0 2 * * 1-5', "
    "or @hourly, @daily, @weekly, @monthly, @yearly"
)


@dataclass(frozen=True)
class CronSpec:
    """A cron expression as Debian's cron reads it: the values each field matches, whether the
    two day fields are ORed, and whether it is a "wildcard" job."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday ... 6 = Saturday (cron's 7 is folded into 0)
    # Either day field matches (OR) only when neither starts with `*`; else both must (AND).
    day_or: bool
    # A minute or hour field starting with `*`: the job follows elapsed time across DST
    # changes (cron's MIN_STAR/HR_STAR); the others are fixed-time jobs.
    wildcard: bool


def parse_cron(value: object, field: str) -> tuple[str, CronSpec]:
    """Given a cron expression (5 fields or a macro), return it normalized (fields separated by
    one space, macros as given) with its CronSpec; raise InvalidInput naming field if Debian's
    cron would refuse it or read it otherwise, or if it never fires."""

    def refuse(detail: str) -> InvalidInput:
        why = f" ({detail})" if detail else ""
        return InvalidInput(
            f"{field}: {show(value)} is not a cron expression{why}; expected {_CRON_FORM}"
        )

    text = value.strip(" \t") if isinstance(value, str) else ""
    if not text or len(text) > _CRON_LIMIT:
        raise refuse("")
    if text == "@reboot":
        raise InvalidInput(
            f"{field}: '@reboot' is not supported: tapesched runs from cron's minute tick and "
            "cannot see a reboot; expected a time, e.g. @daily or '0 2 * * *'"
        )
    if text.startswith("@"):
        if text not in CRON_MACROS:
            raise refuse(f"unknown macro {show(text)}")
        expression, fields = text, CRON_MACROS[text].split(" ")
    else:
        fields = re.split(r"[ \t]+", text)
        expression = " ".join(fields)
    if len(fields) != 5:
        raise refuse(f"{len(fields)} fields")
    values = [_cron_field(part, index, refuse) for index, part in enumerate(fields)]
    spec = CronSpec(
        minutes=values[0],
        hours=values[1],
        days=values[2],
        months=values[3],
        weekdays=frozenset(day % 7 for day in values[4]),
        day_or=not (fields[2].startswith("*") or fields[4].startswith("*")),
        wildcard=fields[0].startswith("*") or fields[1].startswith("*"),
    )
    # ORed, any weekday of any month matches. ANDed, some day must exist in some month; each
    # date then falls on every weekday within the 400-year cycle.
    if not spec.day_or and all(day > _longest(month) for month in spec.months for day in spec.days):
        raise InvalidInput(
            f"{field}: {show(value)} never fires; expected a date that occurs, e.g. '0 2 28 2 *'"
        )
    return expression, spec


def _cron_field(text: str, index: int, refuse) -> frozenset[int]:
    name, low, high, _ = _CRON_FIELDS[index]
    values: set[int] = set()
    for item in text.split(","):
        match = _CRON_ITEM_RE.fullmatch(item)
        if match is None:
            raise refuse(f"{name} {show(item)} is not a number, a range or a step")
        star, first, last, step = match.groups()
        start, stop = low, high
        if not star:
            start = _cron_number(first, index, refuse)
            stop = start if last is None else _cron_number(last, index, refuse)
            if last is None and step is not None:
                # Debian's cron refuses it (other crons read N/S as N-max/S).
                raise refuse(f"{name} {show(item)}: a step needs a range, e.g. */{step}")
            if start > stop:
                sunday = " (Sunday is 0 or 7)" if index == 4 else ""
                raise refuse(f"{name} {show(item)} runs backwards{sunday}")
        increment = int(step) if step is not None else 1
        if increment < 1:
            raise refuse(f"{name} {show(item)} has a step of 0")
        values.update(range(start, stop + 1, increment))
    return frozenset(values)


def _cron_number(token: str, index: int, refuse) -> int:
    name, low, high, words = _CRON_FIELDS[index]
    if token.lower() in words:
        return words.index(token.lower()) + low
    if token.isdigit() and low <= int(token) <= high:
        return int(token)
    named = f" or {words[0]}-{words[-1]}" if words else ""
    raise refuse(f"{name} {show(token)} is not {low}-{high}{named}")


def _longest(month: int) -> int:
    return 29 if month == 2 else calendar.monthrange(2001, month)[1]


def check_cron(value: object, field: str) -> str:
    """Given a cron expression, return it normalized; raise InvalidInput as parse_cron does."""
    return parse_cron(value, field)[0]


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
    is not JSON or not an object, or cannot be read at all (nested past the parser's recursion
    limit, a number of thousands of digits). What it holds is checked by tapesched.spec, at
    every door alike: at most MAX_JSON_DEPTH levels, finite numbers, UTF-8 text."""
    try:
        value = json.loads(text)
    except (ValueError, TypeError, RecursionError) as error:
        detail = {
            json.JSONDecodeError: getattr(error, "msg", ""),
            RecursionError: f"nested too deeply to read; at most {MAX_JSON_DEPTH} levels",
            TypeError: "not text",
        }.get(type(error), "a number too long to read")  # int() refuses 4300 digits
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
        if interval > INTERVAL_LIMITS[unit]:
            amount = f"{interval} {unit}" if interval < 10**80 else f"{show(interval)} of {unit}"
            raise InvalidInput(
                f"{field('interval')}: {amount} is too long; expected at most "
                f"{interval_limit_words()}"
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
