"""tapesched's cron schedules against two independent models of Debian's cron (Vixie cron):

- cronsim (the simulator Healthchecks uses), which follows Debian's day-field rule and its DST
  handling (fixed-time jobs: a time in a gap runs at the end of the gap, a repeated time runs
  once; wildcard jobs, minute or hour field starting with `*`: elapsed time);
- `debian_runs` below, a minute-by-minute replay of cron.c's main loop (its four wake-up cases:
  normal, small and medium jumps forward, clock going back) with the fields parsed as
  entry.c's get_range does; neither model shares code with tapesched.

cronsim departs from Debian's cron in three places, found by these tests; there tapesched
follows Debian and is checked against the replay only (see DEBIAN_NOT_CRONSIM):
- a one-value range with a step (`5-5/10`) means 5 to the field's end in cronsim, 5 in Debian;
- wildcard jobs in a zone whose change is not a whole hour (Australia/Lord_Howe, 30 minutes):
  cronsim steps hours by 3600 s of elapsed time, lands on :30 and skips matching wall times;
- wildcard jobs on a day whose midnight falls in a gap (America/Santiago): cronsim starts the
  day at the non-existent 00:00 and runs an hour-0 job at the end of the gap.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tapesched import schedule, schedule_config
from tapesched.errors import InvalidInput

cronsim = pytest.importorskip("cronsim")

ZONES = ("Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Santiago", "UTC")
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
RUNS = 6


def transitions(zone: str) -> list[datetime]:
    """Every UTC instant in 2024-2027 at which the zone's offset changes, to the second."""
    tz, found = ZoneInfo(zone), []
    cursor = datetime(2024, 1, 1, tzinfo=UTC)
    while cursor < datetime(2028, 1, 1, tzinfo=UTC):
        later = cursor + timedelta(hours=1)
        if later.astimezone(tz).utcoffset() != cursor.astimezone(tz).utcoffset():
            low, high = cursor, later
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                same = middle.astimezone(tz).utcoffset() == low.astimezone(tz).utcoffset()
                low, high = (middle, high) if same else (low, middle)
            found.append(high.replace(microsecond=0))
        cursor = later
    return found or [datetime(2026, 3, 29, 1, tzinfo=UTC)]  # UTC: any instant will do


TRANSITIONS = {zone: transitions(zone) for zone in ZONES}


def test_the_zones_change_as_these_tests_assume() -> None:
    # Four DST zones with two changes a year (Lord Howe's of 30 minutes), and UTC with none.
    for zone in ZONES[:4]:
        assert len(TRANSITIONS[zone]) == 8, zone
    shifts = {
        abs((t + timedelta(seconds=1)).astimezone(ZoneInfo("Australia/Lord_Howe")).utcoffset()
            - (t - timedelta(seconds=1)).astimezone(ZoneInfo("Australia/Lord_Howe")).utcoffset())
        for t in TRANSITIONS["Australia/Lord_Howe"]
    }  # fmt: skip
    assert shifts == {timedelta(minutes=30)}


# --------------------------------------------------------------------------- expressions


@st.composite
def items(draw: st.DrawFn, low: int, high: int, names: tuple[str, ...] = ()) -> str:
    """One item of a field's list, in Debian's grammar: *, */S, N, N-M, N-M/S."""
    kind = draw(st.sampled_from(["star", "step", "one", "range", "ranged-step"]))
    if kind == "star":
        return "*"
    if kind == "step":
        return f"*/{draw(st.integers(1, high - low + 2))}"
    first = draw(st.integers(low, high))
    last = draw(st.integers(first, high))

    def spell(value: int) -> str:
        index = value - low if names and names[0] == "jan" else value
        use_name = names and index < len(names) and draw(st.booleans())
        return names[index] if use_name else str(value)

    if kind == "one" or first == last:  # cronsim reads N-N/S as N/S (see the docstring)
        return spell(first)
    if kind == "range":
        return f"{spell(first)}-{spell(last)}"
    return f"{spell(first)}-{spell(last)}/{draw(st.integers(1, 6))}"


def fields(low: int, high: int, names: tuple[str, ...] = ()) -> st.SearchStrategy[str]:
    single = items(low, high, names)
    # A list may hold `*` items too; only a field's first character makes it a "star" field.
    listed = st.lists(items(low, high, names), min_size=2, max_size=3).map(",".join)
    return st.one_of(single, single, listed)


expressions = st.tuples(
    fields(0, 59), fields(0, 23), fields(1, 31), fields(1, 12, MONTHS), fields(0, 7, WEEKDAYS)
).map(" ".join)
zones = st.sampled_from(ZONES)


@st.composite
def starts(draw: st.DrawFn, zone: str) -> datetime:
    """An instant within 26 hours of one of the zone's DST changes, or anywhere in 2024-2027."""
    if draw(st.integers(0, 3)):
        transition = draw(st.sampled_from(TRANSITIONS[zone]))
        return transition + timedelta(seconds=draw(st.integers(-26 * 3600, 26 * 3600)))
    return draw(st.datetimes(datetime(2024, 1, 1), datetime(2027, 12, 31), timezones=st.just(UTC)))


# --------------------------------------------------------------------------- the two models


def cronsim_runs(expression: str, zone: str, start: datetime, count: int) -> list[datetime]:
    """cronsim's first `count` runs strictly after start (it may give earlier ones when start
    is in a repeated hour: Debian's cron has run those already)."""
    tz = ZoneInfo(zone)
    found: list[datetime] = []
    iterator = cronsim.CronSim(expression, start.astimezone(tz))
    wildcard = expression.split()[0][0] == "*" or expression.split()[1][0] == "*"
    for run in iterator:  # ends with StopIteration after 50 years without a run
        wall = run.astimezone(UTC).astimezone(tz)  # an imaginary time shows as it really is
        # cronsim's midnight-in-a-gap quirk: a wildcard run whose wall time its fields do not
        # match (Debian's find_jobs matches the wall clock) is not a run.
        if wildcard and (wall.minute not in iterator.minutes or wall.hour not in iterator.hours):
            continue
        if run.astimezone(UTC) > start:
            found.append(run.astimezone(UTC))
        if len(found) == count:
            break
    return found


def debian_field(text: str, low: int, high: int, names: tuple[str, ...] = ()) -> set[int]:
    """A field's values as Debian's get_list/get_range set them (for valid fields)."""

    def number(token: str) -> int:
        return names.index(token) + (1 if names == MONTHS else 0) if token in names else int(token)

    values: set[int] = set()
    for item in text.split(","):
        body, _, step = item.partition("/")
        first, _, last = body.partition("-")
        start, stop = (low, high) if body == "*" else (number(first), number(last or first))
        values.update(range(start, stop + 1, int(step or 1)))
    return values


def debian_runs(
    expression: str, zone: str, start: datetime, count: int, horizon: timedelta
) -> list[datetime]:
    """Replay Debian cron's main loop (cron.c) minute by minute from before start until
    `count` launches after start or start + horizon; return the minutes it launches the job.
    A job launched several times in one minute counts once (see test_schedule.py)."""
    parts = expression.lower().split()
    minutes, hours = debian_field(parts[0], 0, 59), debian_field(parts[1], 0, 23)
    days, months = debian_field(parts[2], 1, 31), debian_field(parts[3], 1, 12, MONTHS)
    weekdays = {day % 7 for day in debian_field(parts[4], 0, 7, WEEKDAYS)}
    day_and = parts[2].startswith("*") or parts[4].startswith("*")  # DOM_STAR / DOW_STAR
    wildcard = parts[0].startswith("*") or parts[1].startswith("*")  # MIN_STAR / HR_STAR
    tz = ZoneInfo(zone)

    def clock(instant: datetime) -> int:  # cron's clockTime: local wall time, in minutes
        return int((instant - EPOCH + instant.astimezone(tz).utcoffset()).total_seconds()) // 60

    def find_jobs(virtual: int, do_wild: bool, do_fixed: bool) -> bool:
        wall = datetime(1970, 1, 1) + timedelta(minutes=virtual)
        in_month, in_week = wall.day in days, (wall.weekday() + 1) % 7 in weekdays
        day = (in_month and in_week) if day_and else (in_month or in_week)
        matches = wall.minute in minutes and wall.hour in hours and wall.month in months and day
        return matches and (do_wild if wildcard else do_fixed)

    now = (start - timedelta(hours=3)).replace(second=0, microsecond=0)
    virtual, launched = clock(now), []
    while now < start + horizon and len(launched) < count:
        now += timedelta(minutes=1)
        running = clock(now)
        difference, fire = running - virtual, False
        if difference == 1:  # the common case
            virtual = running
            fire = find_jobs(virtual, True, True)
        elif abs(difference) > 180:  # the clock jumped: run what matches now
            virtual = running
            fire = find_jobs(running, True, True)
        elif difference > 5:  # forward, e.g. DST begins: wildcard now, fixed-time for each minute
            fire = find_jobs(running, True, False)
            for minute in range(virtual + 1, running + 1):
                fire = find_jobs(minute, False, True) or fire
            virtual = running
        elif difference > 0:  # woke up late: every job of each minute missed
            for minute in range(virtual + 1, running + 1):
                fire = find_jobs(minute, True, True) or fire
            virtual = running
        else:  # back, e.g. DST ends: wildcard jobs only, until the clock catches up
            fire = find_jobs(running, True, False)
        if fire and now > start:
            launched.append(now)
    return launched


def tapesched_runs(expression: str, zone: str, start: datetime) -> list[datetime] | None:
    """tapesched's next runs, or None when it refuses the expression as never firing."""
    try:
        cron = schedule_config.validate("cron", {"cron": expression}, zone)
    except InvalidInput as refused:
        assert "never fires" in refused.message, refused.message
        return None
    return [run for run, _ in schedule.preview(cron, start, RUNS)]


# --------------------------------------------------------------------------- the comparisons


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(expression=expressions, zone=zones, data=st.data())
def test_next_runs_equal_cronsims(expression: str, zone: str, data: st.DataObject) -> None:
    wildcard = expression[0] == "*" or expression.split()[1][0] == "*"
    assume(not (wildcard and zone == "Australia/Lord_Howe"))  # cronsim's 30-minute quirk
    start = data.draw(starts(zone))

    ours = tapesched_runs(expression, zone, start)

    if ours is None:  # never fires: cronsim finds nothing either
        with pytest.raises((StopIteration, cronsim.CronSimError)):
            next(iter(cronsim.CronSim(expression, start.astimezone(ZoneInfo(zone)))))
        return
    assert ours == cronsim_runs(expression, zone, start, RUNS)


@settings(max_examples=200, deadline=None)
@given(expression=expressions, zone=zones, data=st.data())
def test_next_runs_equal_debian_crons_main_loop(
    expression: str, zone: str, data: st.DataObject
) -> None:
    # Starts within three hours of a change, where the four wake-up cases differ.
    transition = data.draw(st.sampled_from(TRANSITIONS[zone]))
    start = transition + timedelta(seconds=data.draw(st.integers(-3 * 3600, 3 * 3600)))
    horizon = timedelta(days=2)

    ours = tapesched_runs(expression, zone, start)

    theirs = debian_runs(expression, zone, start, RUNS, horizon)
    if ours is None:
        assert theirs == []
        return
    # Both sides cut at the same instant (the replay also reports a run exactly at the end).
    end = start + horizon
    assert [run for run in ours if run < end] == [run for run in theirs if run < end]


# Where cronsim and Debian's cron differ, tapesched follows Debian: (expression, zone, start,
# Debian's next runs as local wall times), checked against the replay and written out.
DEBIAN_NOT_CRONSIM = [
    # 5-5/10 is minute 5 only (cronsim: 5, 15, 25, ...).
    ("5-5/10 * * * *", "UTC", datetime(2026, 1, 1, tzinfo=UTC),
     ["00:05+0000", "01:05+0000", "02:05+0000"]),
    # Lord Howe springs forward 02:00 -> 02:30: 02:50 exists (cronsim: 03:50 next).
    ("50 * * * *", "Australia/Lord_Howe", datetime(2025, 10, 4, 14, 0, tzinfo=UTC),
     ["00:50+1030", "01:50+1030", "02:50+1100"]),
    # and falls back 02:00 -> 01:30: hours 20-23 start at :00 that day (cronsim: 20:30).
    ("* 20 5 4 *", "Australia/Lord_Howe", datetime(2026, 4, 4, 20, 0, tzinfo=UTC),
     ["20:00+1030", "20:01+1030", "20:02+1030"]),
    # Santiago springs forward at midnight (00:00 -> 01:00 on 6 Sep 2026): hour 0 does not
    # happen, so an hour-0 wildcard job does not run that day (cronsim: 01:00).
    ("* 0 * * *", "America/Santiago", datetime(2026, 9, 5, 12, 0, tzinfo=UTC),
     ["00:00-0300", "00:01-0300", "00:02-0300"]),
]  # fmt: skip


@pytest.mark.parametrize(("expression", "zone", "start", "expected"), DEBIAN_NOT_CRONSIM)
def test_where_cronsim_differs_tapesched_follows_debian(
    expression: str, zone: str, start: datetime, expected: list[str]
) -> None:
    ours = tapesched_runs(expression, zone, start)

    assert ours is not None
    shown = [run.astimezone(ZoneInfo(zone)).strftime("%H:%M%z") for run in ours[:3]]
    assert shown == expected
    assert ours == debian_runs(expression, zone, start, RUNS, timedelta(days=3))


@pytest.mark.parametrize(("macro", "expansion"), sorted(schedule_config.CRON_MACROS.items()))
@pytest.mark.parametrize("zone", ZONES)
def test_macros_run_as_their_expansion_in_cronsim(macro: str, expansion: str, zone: str) -> None:
    start = TRANSITIONS[zone][0] - timedelta(hours=2)

    ours = tapesched_runs(macro, zone, start)

    assert ours == tapesched_runs(expansion, zone, start)
    if not (macro == "@hourly" and zone == "Australia/Lord_Howe"):
        assert ours == cronsim_runs(expansion, zone, start, RUNS)
