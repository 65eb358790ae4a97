"""What the command line says about a schedule and an action, as the fields of a change.

Schedule shorthands: --once, --every 30m, --daily 02:00, --weekly mon,thu (day names only:
a number means Monday in the seed's numbering and Sunday in cron's, so it is refused),
--monthly 1, --yearly 02-29 (each with --at HH:MM where it has a day), --cron;
parsed into the (schedule_type, config) that tapesched.schedule_config.validate()
takes. Action shorthands (--source, --device, --command, ...) set keys of the
action config and imply its type. The seed's forms (--schedule-type with
--schedule-config, --action with --action-config) are JSON parsed here; every
value is then checked by tapesched.spec, as it is for `apply`.
"""

from __future__ import annotations

import re
from typing import Any

from tapesched.errors import InvalidInput
from tapesched.schedule_config import (
    DAY_NAMES,
    INTERVAL_LIMITS,
    check_cron,
    check_month_day,
    format_datetime,
    format_time,
    interval_limit_words,
    parse_config,
    parse_datetime,
    parse_time,
    show,
)

# Spelled out rather than taken from calendar.day_name, which follows the process locale.
_DAY_FULL_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_WORDS = {
    **{name.lower(): index for index, name in enumerate(DAY_NAMES)},
    **{name: index for index, name in enumerate(_DAY_FULL_NAMES)},
}

_EVERY_RE = re.compile(
    r"(\d+)\s*(m|min|mins|minute|minutes|h|hr|hrs|hour|hours|d|day|days)", re.IGNORECASE | re.ASCII
)
_MONTH_DAY_RE = re.compile(r"(\d{1,2})-(\d{1,2})", re.ASCII)
_DAY_NUMBER_RE = re.compile(r"\d{1,2}", re.ASCII)

_EVERY_FORM = "a number and a unit: 30m, 2h, 1d"
_WEEKDAY_WORDS_FORM = (
    "day names mon..sun or monday..sunday, ranges such as mon-fri, comma-separated"
)


def _parse_every(value: str) -> dict:
    match = _EVERY_RE.fullmatch(value.strip())
    if match is None:
        raise InvalidInput(f"--every: {show(value)} is not an interval; expected {_EVERY_FORM}")
    unit = {"m": "minutes", "h": "hours", "d": "days"}[match[2][0].lower()]
    # Past 12 digits it is too long anyway; int() would refuse 4300 digits with a traceback.
    amount = int(match[1]) if len(match[1]) <= 12 else INTERVAL_LIMITS[unit] + 1
    if amount <= 0:
        raise InvalidInput(f"--every: {show(value)} is not at least 1; expected {_EVERY_FORM}")
    if amount > INTERVAL_LIMITS[unit]:
        raise InvalidInput(
            f"--every: {show(value)} is too long; expected at most {interval_limit_words()}"
        )
    return {"interval": amount, "unit": unit}


def _parse_weekday_words(value: str) -> int | list[int]:
    """Given day names (mon, monday), ranges of them (mon-fri; fri-mon wraps over the
    weekend) and lists, return the seed's day_of_week (0 = Monday)."""
    days: set[int] = set()
    for part in value.split(","):
        bounds = [_weekday_word(word, value) for word in part.split("-")]
        if len(bounds) > 2:
            raise InvalidInput(
                f"--weekly: {show(value)} is not a list of days; expected {_WEEKDAY_WORDS_FORM}"
            )
        days.update((bounds[0] + step) % 7 for step in range((bounds[-1] - bounds[0]) % 7 + 1))
    ordered = sorted(days)
    return ordered[0] if len(ordered) == 1 else ordered


def _weekday_word(word: str, whole: str) -> int:
    word = word.strip().lower()
    if word in _DAY_WORDS:
        return _DAY_WORDS[word]
    if word.isascii() and word.isdigit():
        _refuse_day_number(word, whole)
    raise InvalidInput(
        f"--weekly: {show(whole)} is not a list of days; expected {_WEEKDAY_WORDS_FORM}"
    )


def _refuse_day_number(word: str, whole: str) -> None:
    """A number in --weekly: 0 is Monday in the seed's day_of_week and Sunday in cron's."""
    number = int(word) if len(word) <= 2 else 99
    seed = _DAY_FULL_NAMES[number].capitalize() if number <= 6 else None
    cron = _DAY_FULL_NAMES[(number - 1) % 7].capitalize() if number <= 7 else None
    if cron is None:
        raise InvalidInput(
            f"--weekly: {show(whole)} is not a list of days; expected {_WEEKDAY_WORDS_FORM}"
        )
    which = "" if whole.strip() == word else f"{word} is "
    meanings = (
        f"{which}{seed} in tapesched's seed numbering, {cron} in cron's"
        if seed
        else f"{which}{cron} in cron's numbering, no day in tapesched's seed numbering (0-6)"
    )
    raise InvalidInput(
        f"--weekly: {show(whole)} is ambiguous: {meanings}; give a name such as {cron[:3].lower()}"
    )


def _parse_month_day(value: str) -> dict:
    match = _MONTH_DAY_RE.fullmatch(value.strip())
    month, day = (int(match[1]), int(match[2])) if match else (0, 0)
    if not 1 <= month <= 12 or not 1 <= day <= 31:
        raise InvalidInput(f"--yearly: {show(value)} is not a date; expected MM-DD such as 12-25")
    check_month_day(month, day, "--yearly", show(value))
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
            f"--at: {show(at)} needs --weekly, --monthly or --yearly; "
            "expected --daily HH:MM for a daily time"
        )
    if not given:
        return None
    at_time = format_time(parse_time(at if at is not None else "00:00", "--at"))
    if once is not None:
        return "once", {"datetime": format_datetime(parse_datetime(once, "--once"))}
    if every is not None:
        return "interval", _parse_every(every)
    if daily is not None:
        return "daily", {"time": format_time(parse_time(daily, "--daily"))}
    if weekly is not None:
        return "weekly", {"day_of_week": _parse_weekday_words(weekly), "time": at_time}
    if monthly is not None:
        text = monthly.strip()
        day = int(text) if _DAY_NUMBER_RE.fullmatch(text) else 0
        if not 1 <= day <= 31:
            raise InvalidInput(
                f"--monthly: {show(monthly)} is not a day of the month; expected 1-31"
            )
        return "monthly", {"day_of_month": day, "time": at_time}
    if yearly is not None:
        return "yearly", {**_parse_month_day(yearly), "time": at_time}
    assert cron is not None
    return "cron", {"cron": check_cron(cron, "--cron")}


def schedule_fields(
    schedule_type: str | None,
    schedule_config: str | None,
    shorthands: dict[str, str | None],
    time_alone: bool = False,
) -> dict[str, Any]:
    """Given the schedule options, return the schedule fields they give (none, the type,
    the config, or both). The seed form and one shorthand are alternatives. With
    `time_alone` (edit), --at by itself gives a new time of day for the task's schedule,
    which keeps its days (`schedule_time`)."""
    others = {name: value for name, value in shorthands.items() if name != "at"}
    at = shorthands.get("at")
    if (
        time_alone
        and at is not None
        and all(value is None for value in others.values())
        and schedule_type is None
        and schedule_config is None
    ):
        return {"schedule_time": format_time(parse_time(at, "--at"))}
    shorthand = parse_shorthand(**shorthands)
    if shorthand and (schedule_type is not None or schedule_config is not None):
        raise InvalidInput(
            "schedule: give either --schedule-type/--schedule-config or one shorthand "
            "(--daily, --every, ...), not both"
        )
    if shorthand:
        return {"schedule_type": shorthand[0], "schedule_config": shorthand[1]}
    fields: dict[str, Any] = {}
    if schedule_type is not None:
        fields["schedule_type"] = schedule_type
    if schedule_config is not None:
        fields["schedule_config"] = parse_config(schedule_config, "schedule_config")
    return fields


# shorthand option -> (action_config key, the action it implies)
ACTION_SHORTHANDS = {
    "source": ("source_paths", "backup"),
    "device": ("device", None),
    "level": ("task_type", "backup"),
    "levels": ("levels", "backup"),
    "compress": ("compression_enabled", "backup"),
    "exclude": ("exclude", "backup"),
    "command": ("command", "custom"),
    "from_task": ("from_task", "recovery"),
    "target": ("target_path", "recovery"),
    "retention_days": ("retention_days", None),
    "pool": ("pool", "backup"),
    "library": ("library", "backup"),
}


def action_fields(
    action_type: str | None, action_config: str | None, shorthands: dict[str, Any]
) -> dict[str, Any]:
    """Given the action options, return the action fields they give: the type (given, or
    implied by a shorthand), the config (the seed's JSON, which replaces the current one)
    and the settings (the shorthands' keys, which merge into it)."""
    settings: dict[str, Any] = {}
    implied = None
    for option, value in shorthands.items():
        if value in (None, [], ()):
            continue
        key, action = ACTION_SHORTHANDS[option]
        settings[key] = list(value) if isinstance(value, list | tuple) else value
        implied = implied or action
    if "levels" in settings:  # --levels replaces the one level, --level the rules
        from tapesched.levels import parse_shorthand

        settings["levels"] = parse_shorthand(settings["levels"])
        settings.setdefault("task_type", None)
    elif "task_type" in settings:
        settings["levels"] = None
    fields: dict[str, Any] = {"action_settings": settings}
    if action_config is not None:
        fields["action_config"] = parse_config(action_config, "action_config")
    if action_type is not None or implied is not None:
        fields["action_type"] = action_type if action_type is not None else implied
    return fields


def schedule_options(
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


def action_shorthands(
    source: list[str] | None,
    device: str | None,
    level: str | None,
    compress: bool | None,
    exclude: list[str] | None,
    command: str | None,
    from_task: str | None,
    target: str | None,
    retention_days: int | None,
    pool: str | None = None,
    library: str | None = None,
    levels: str | None = None,
) -> dict[str, Any]:
    """The action shorthands, by option name (tapesched.cli.shorthands.ACTION_SHORTHANDS)."""
    return {
        "source": source, "device": device, "level": level, "compress": compress,
        "exclude": exclude, "command": command, "from_task": from_task, "target": target,
        "retention_days": retention_days, "pool": pool, "library": library, "levels": levels,
    }  # fmt: skip
