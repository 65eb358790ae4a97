"""Schedules: compute their next runs (SPEC section 3).

Pure: no I/O, never reads the clock; `after`/`now` are always passed in. Schedules are
validated by tapesched.schedule_config, and re-validated here on use.

Wall-clock schedules (once, daily, weekly, monthly, yearly, and cron's fixed-time
jobs) are evaluated in the schedule's zone with cron(8)'s DST rule: a local
time inside a spring-forward gap runs at the end of the gap, a local time that
happens twice runs once, at its first occurrence. Intervals and cron's wildcard
jobs (minute or hour field starting with `*`, as Debian's cron decides) follow
elapsed time instead: they run at both occurrences of a repeated wall time and
not at all inside a gap. Cron's day fields are ORed only when neither starts
with `*` (tapesched.schedule_config.parse_cron reads expressions as Debian does).

croniter is imported lazily, inside the functions that need it, so that
`tapesched --help` and `tick` stay fast; it only walks the calendar (see _cron_walls).
"""

from __future__ import annotations

import calendar
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from tapesched.errors import InvalidInput
from tapesched.schedule_config import (
    CONFIG,
    CRON_MACROS,
    DAY_NAMES,
    UNITS,
    CronSpec,
    Schedule,
    is_int,
    parse_cron,
    parse_datetime,
    parse_time,
    short_time,
    show,
    validate,
)

NOTE_DST_GAP = "dst_gap"
NOTE_DST_REPEAT = "dst_repeat"

_UTC = UTC
# Instants the engine computes with: datetime's range less a day at each end, so that any
# zone's local time of them exists too. Later runs are "no next run".
_EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
_LATEST = datetime(9999, 12, 30, 23, 59, 59, tzinfo=UTC)


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
    cron_spec: CronSpec | None = None
    cron_form: tuple[str, bool] = ("", True)  # what croniter reads, and its day_or
    step: timedelta | None = None
    instant: datetime | None = None  # once: naive local, or aware when an offset was given
    start: datetime | None = None  # interval anchor, same forms as instant


def _plan(schedule: Schedule) -> _Plan:
    """Given a Schedule (normalized or not), return its plan; raise InvalidInput if invalid."""
    try:
        key = json.dumps(schedule.config, sort_keys=True)
    except (TypeError, ValueError, RecursionError):
        raise InvalidInput(f"{CONFIG}: {show(schedule.config)} is not JSON-serialisable") from None
    return _plan_cached(schedule.type, key, schedule.zone)


@lru_cache(maxsize=256)
def _plan_cached(schedule_type: str, config_json: str, zone: str) -> _Plan:
    # Re-validating makes next_run safe on configs read back from the database.
    normal = validate(schedule_type, json.loads(config_json), zone)
    config = normal.config
    changes: dict = {}
    if "time" in config:
        changes["at"] = parse_time(config["time"], "time")
    if normal.type == "once":
        changes["instant"] = parse_datetime(config["datetime"], "datetime")
    elif normal.type == "interval":
        changes["step"] = config["interval"] * UNITS[config["unit"]]
        if "start" in config:
            changes["start"] = parse_datetime(config["start"], "start")
    elif normal.type == "weekly":
        days = config["day_of_week"]
        changes["weekdays"] = tuple(days) if isinstance(days, list) else (days,)
    elif normal.type == "monthly":
        changes["day_of_month"] = config["day_of_month"]
    elif normal.type == "yearly":
        changes["month"] = config["month"]
        changes["day"] = config["day"]
    elif normal.type == "cron":
        spec = parse_cron(config["cron"], f"{CONFIG}.cron")[1]
        changes.update(cron=config["cron"], cron_spec=spec, cron_form=_croniter_form(spec))
    return _Plan(type=normal.type, zone=ZoneInfo(zone), **changes)


def _croniter_form(spec: CronSpec) -> tuple[str, bool]:
    """Given a CronSpec, return the expression and day_or with which croniter matches the same
    calendar: every field spelled out, so croniter's own syntax never decides anything."""

    def listed(values: frozenset[int], size: int) -> str:
        return "*" if len(values) == size else ",".join(map(str, sorted(values)))

    days, weekdays = listed(spec.days, 31), listed(spec.weekdays, 7)
    day_or = spec.day_or and "*" not in (days, weekdays)
    if spec.day_or and not day_or:
        days = weekdays = "*"  # ORed with a whole field: any day
    fields = (listed(spec.minutes, 60), listed(spec.hours, 24), days, listed(spec.months, 12))
    return " ".join((*fields, weekdays)), day_or


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
        if day == date.max:
            return
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
        while year <= 9999:
            yield datetime.combine(_clamped(year, month, plan.day_of_month), at)
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    elif plan.type == "yearly":
        year = start.year
        while year <= 9999:
            yield datetime.combine(_clamped(year, plan.month, plan.day), at)
            year += 1


def _cron_walls(plan: _Plan, start: datetime) -> Iterator[datetime]:
    """Given a cron plan and a naive wall time, yield the matching naive wall times strictly
    after it, by pure calendar arithmetic, up to the end of year 9999."""
    from croniter import croniter  # lazy: see module docstring

    expression, day_or = plan.cron_form
    # Wall times dressed as UTC: croniter then does calendar arithmetic with no DST at all,
    # which sidesteps its DST bugs (fixed-time jobs firing twice on fall-back days).
    iterator = croniter(expression, start.replace(tzinfo=_UTC, microsecond=0), day_or=day_or)
    while True:
        try:
            wall = iterator.get_next(datetime)
        except (OverflowError, ValueError):  # past 9999 (croniter's BadDateError is one too)
            return
        yield wall.replace(tzinfo=None)


def _first_fixed(
    walls: Iterator[datetime], plan: _Plan, after: datetime
) -> tuple[datetime, str | None] | None:
    """Given increasing wall times, return the first run strictly after `after`."""
    # _resolve is non-decreasing in the wall time, so the first instant past `after` is the
    # answer; two walls that land on one instant (gap) are yielded once because the next call's
    # `after` is that instant.
    for wall in walls:
        instant, note = _resolve(wall, plan.zone)
        if instant > after:
            return instant, note
    return None  # the calendar ended first


def _first_elapsed_cron(plan: _Plan, after: datetime) -> tuple[datetime, str | None] | None:
    """Given a wildcard cron plan, return its first run strictly after `after`, in elapsed
    time: both occurrences of a repeated wall time, none in a gap."""
    zone = plan.zone
    local = after.astimezone(zone)
    # A fall-back within the next day makes earlier wall times recur after `after`: look back
    # by the size of the fold so their second occurrences are considered.
    later = min(after, _LATEST - timedelta(days=1)) + timedelta(days=1)  # in range
    later_offset = later.astimezone(zone).utcoffset()
    lookback = max(timedelta(0), local.utcoffset() - later_offset)
    start = local.replace(tzinfo=None) - lookback - timedelta(seconds=1)
    best: datetime | None = None
    for wall in _cron_walls(plan, start):
        try:
            # Every instant of this or a later wall is >= its cron(8) instant: stop past best.
            lower, _ = _resolve(wall, zone)
        except OverflowError:  # this wall and all later ones are past 9999 in UTC
            break
        if best is not None and lower >= best:
            break
        for instant in _instants(wall, zone):
            if instant > after and (best is None or instant < best):
                best = instant
    return (best, _note_at(best, zone)) if best is not None else None


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
    if value is None:
        return
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"{name}: {value.isoformat()} has no zone; expected an aware datetime")
    try:
        early = value.astimezone(_UTC) < _EARLIEST
    except OverflowError:  # before year 1 in UTC (or after 9999)
        early = value.utcoffset() > timedelta(0)
    if early:
        raise InvalidInput(
            f"{name}: {value.isoformat()} is out of range; expected an instant from "
            "0001-01-02 00:00 UTC on"
        )


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
    try:
        after_utc = after.astimezone(_UTC)
        if plan.type == "once":
            assert plan.instant is not None
            instant, note = _to_instant(plan.instant, plan.zone)
            return (instant, note) if instant > after_utc else None
        if plan.type == "interval":
            return _first_interval(plan, after_utc, last_scheduled, created_at)
        if plan.type == "cron" and plan.cron_spec is not None and plan.cron_spec.wildcard:
            return _first_elapsed_cron(plan, after_utc)
        # Walls before after's local wall time map to instants <= after (see _first_fixed),
        # so starting at its local date is enough.
        start = _local_wall(after_utc, plan.zone)
        if plan.type == "cron":
            walls = _cron_walls(plan, start - timedelta(seconds=1))
        else:
            walls = _wall_candidates(plan, start.date())
        return _first_fixed(walls, plan, after_utc)
    except (OverflowError, ValueError):
        return None  # past year 9999 (in UTC or in the zone): no run can be represented


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
    if not is_int(count) or count < 0:
        raise InvalidInput(f"count: {show(count)} is not a count; expected a whole number >= 0")
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
    walls = _cron_walls(plan, datetime(2001, 1, 1))
    first = next(walls)
    return next(walls) - first


def describe(schedule: Schedule) -> str:
    """Given a schedule, return it in words for people, e.g. "daily at 02:00"; a stored one
    that no longer validates (say, cron syntax Debian's cron refuses) says so instead."""
    try:
        plan = _plan(schedule)
    except InvalidInput as error:  # `list` and `show` must still show the task
        return f"{show(schedule.type)} {show(schedule.config)}, not valid: {error.message}"
    config = _plan_config(schedule)
    at = f" at {short_time(plan.at)}" if plan.at is not None else ""
    if plan.type == "once":
        return f"once at {config['datetime']}"
    if plan.type == "interval":
        amount, unit = config["interval"], config["unit"]
        words = f"every {unit[:-1]}" if amount == 1 else f"every {amount} {unit}"
        return words + (f" from {config['start']}" if "start" in config else "")
    if plan.type == "daily":
        return f"daily{at}"
    if plan.type == "weekly":
        return f"weekly on {', '.join(DAY_NAMES[day] for day in plan.weekdays)}{at}"
    if plan.type == "monthly":
        note = " (last day in shorter months)" if plan.day_of_month > 28 else ""
        return f"monthly on day {plan.day_of_month}{at}{note}"
    if plan.type == "yearly":
        return f"yearly on {plan.month:02d}-{plan.day:02d}{at}"
    expanded = f" ({CRON_MACROS[plan.cron]})" if plan.cron in CRON_MACROS else ""
    return f"cron '{plan.cron}'{expanded}"


def _plan_config(schedule: Schedule) -> dict:
    return validate(schedule.type, schedule.config, schedule.zone).config
