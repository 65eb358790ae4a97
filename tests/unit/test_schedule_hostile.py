"""Hostile inputs, generated: whatever reaches validate, parse_cron, parse_config,
parse_shorthand, next_run, preview, describe and period gives a schedule, a run, "no next run"
(None) or one InvalidInput line naming the field or option, the value and the accepted form.
Never a traceback: OverflowError, ValueError from datetime, RecursionError, UnicodeError.

Hostile here means numbers too large for a date (--every 10**30m, intervals, years 1 and 9999
in zones west and east of UTC), JSON deeper than the parser's recursion limit or with numbers
of thousands of digits, NaN, lone surrogates, and cron text that no cron reads. (What
parse_config can read, tapesched.spec checks at every door: tests/integration/test_doors.py.)"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapesched import schedule as engine
from tapesched import schedule_config
from tapesched.cli.shorthands import parse_shorthand
from tapesched.errors import InvalidInput

# Zones at the ends of the offsets (+14, -11, -12) and the DST zones of the other tests.
ZONES = (
    "UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago", "Etc/GMT+12", "Etc/GMT-14",
    "America/Los_Angeles", "Asia/Tokyo", "Europe/Berlin", "Australia/Lord_Howe",
    "America/Santiago",
)  # fmt: skip
FIELDS = ("schedule_type:", "timezone:", "schedule_config")

zones = st.one_of(st.sampled_from(ZONES), st.text(max_size=30))
surrogates = st.sampled_from(["\ud800", "\udcff", "x\udfff"])
texts = st.one_of(st.text(max_size=40), surrogates)
huge_ints = st.one_of(
    st.integers(),
    st.integers(min_value=10**15, max_value=10**60),
    st.sampled_from([4300, 5000]).map(lambda digits: 10**digits),  # past int()'s limit
)
scalars = st.one_of(
    st.none(), st.booleans(), huge_ints, st.floats(allow_nan=True, allow_infinity=True), texts
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def dumped(value: object) -> str:
    """JSON text of {"a": value}; numbers past int()'s 4300 digits come as text instead."""
    try:
        return json.dumps({"a": value})
    except ValueError:
        return '{"a": ' + "7" * 4400 + "}"


def deep(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


@st.composite
def edge_datetimes(draw: st.DrawFn) -> str:
    """Date-times near year 1 and 9999 (and past them), with and without UTC offsets."""
    year = draw(st.sampled_from([0, 1, 2, 9998, 9999, 10000]))
    month, day = draw(st.integers(1, 12)), draw(st.integers(1, 31))
    hour, minute = draw(st.integers(0, 23)), draw(st.integers(0, 59))
    offset = draw(st.sampled_from(["", "Z", "+14:00", "-12:00", "+23:59", "-2359", "+00:00"]))
    return f"{year:04d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}{offset}"


datetimes_text = st.one_of(edge_datetimes(), texts)


@st.composite
def configs(draw: st.DrawFn) -> tuple[str, dict]:
    """A schedule type and a config of right keys with hostile values, valid values, or
    both, and sometimes a stray key."""
    kind = draw(st.sampled_from([*schedule_config.SCHEDULE_TYPES, "Daily", "hourly", ""]))
    valid = {
        "datetime": datetimes_text, "start": datetimes_text, "time": st.just("02:00"),
        "interval": huge_ints, "unit": st.sampled_from(["minutes", "hours", "days", "weeks"]),
        "day_of_week": st.one_of(st.integers(-1, 8), st.lists(st.integers(0, 7))),
        "day_of_month": st.integers(-1, 32), "month": st.integers(0, 13),
        "day": st.integers(0, 32), "cron": st.sampled_from(["0 2 * * *", "@daily", "*/5 * * * *"]),
    }  # fmt: skip
    keys = {
        "once": ["datetime"], "interval": ["interval", "unit", "start"], "daily": ["time"],
        "weekly": ["day_of_week", "time"], "monthly": ["day_of_month", "time"],
        "yearly": ["month", "day", "time"], "cron": ["cron"],
    }.get(kind.lower(), [])  # fmt: skip
    config = {
        key: draw(st.one_of(valid[key], valid[key], json_values))  # hostile a third of the time
        for key in keys
        if draw(st.integers(0, 4))  # a required key missing a fifth of the time
    }
    if draw(st.integers(0, 9)) == 0:
        config[draw(st.text(max_size=5))] = draw(json_values)
    return kind, config


instants = st.one_of(
    st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=14))])),
    st.datetimes(
        min_value=datetime(9999, 12, 20), timezones=st.sampled_from([UTC, ZoneInfo(ZONES[1])])
    ),
    st.datetimes(
        min_value=datetime(2024, 1, 1), max_value=datetime(2028, 1, 1), timezones=st.just(UTC)
    ),  # fmt: skip
)


def assert_one_line(error: InvalidInput, prefixes: tuple[str, ...]) -> None:
    assert error.message.startswith(prefixes), error.message
    assert "\n" not in error.message and "\r" not in error.message
    assert error.exit_code == 2


def assert_runs(schedule: schedule_config.Schedule, after: datetime) -> None:
    """next_run, preview, describe and period of a valid schedule: a run, None or InvalidInput
    for an `after` before the calendar."""
    try:
        noted = engine.next_run_noted(schedule, after)
    except InvalidInput as refused:
        assert_one_line(refused, ("after:",))
        # In UTC before 0001-01-02 (compared as spans: UTC itself may be before year 1).
        assert after.replace(tzinfo=None) - datetime(1, 1, 2) < after.utcoffset()
        return
    if noted is not None:
        run, note = noted
        assert run > after and run.tzinfo is UTC
        assert note in (None, engine.NOTE_DST_GAP, engine.NOTE_DST_REPEAT)
    runs = engine.preview(schedule, after, 3)
    assert [run for run, _ in runs] == sorted({run for run, _ in runs})
    assert isinstance(engine.describe(schedule), str)
    assert engine.period(schedule) is None or engine.period(schedule) > timedelta(0)


# --------------------------------------------------------------------------- validate


@settings(max_examples=400, deadline=None)
@given(kind_config=configs(), zone=zones, after=instants)
def test_validate_and_compute_hostile_configs(
    kind_config: tuple[str, dict], zone: str, after: datetime
) -> None:
    kind, config = kind_config
    try:
        schedule = schedule_config.validate(kind, config, zone)
    except InvalidInput as refused:
        assert_one_line(refused, FIELDS)
        return
    assert schedule_config.validate(schedule.type, schedule.config, schedule.zone) == schedule
    assert_runs(schedule, after)


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(["once", "interval"]),
    moment=edge_datetimes(),
    zone=st.sampled_from(ZONES),
    after=instants,
)
def test_dates_at_the_ends_of_the_calendar(
    kind: str, moment: str, zone: str, after: datetime
) -> None:
    config = {"datetime": moment} if kind == "once" else {"interval": 1, "unit": "days",
                                                          "start": moment}  # fmt: skip
    try:
        schedule = schedule_config.validate(kind, config, zone)
    except InvalidInput as refused:
        assert_one_line(refused, ("schedule_config.datetime:", "schedule_config.start:"))
        assert "out of range" in refused.message or "is not a date" in refused.message
        return
    assert_runs(schedule, after)
    past = engine.is_past_once(schedule, datetime(2026, 1, 1, tzinfo=UTC))
    assert past is (kind == "once" and moment < "2026")


@settings(max_examples=300, deadline=None)
@given(
    amount=st.one_of(st.integers(-5, 10**6), st.integers(10**6, 10**40)),
    unit=st.sampled_from(["minutes", "hours", "days"]),
    zone=st.sampled_from(ZONES),
    after=instants,
)
def test_huge_intervals(amount: int, unit: str, zone: str, after: datetime) -> None:
    try:
        schedule = schedule_config.validate("interval", {"interval": amount, "unit": unit}, zone)
    except InvalidInput as refused:
        assert_one_line(refused, ("schedule_config.interval:",))
        minutes = amount * {"minutes": 1, "hours": 60, "days": 1440}[unit]  # ints: no overflow
        assert amount <= 0 or minutes > 3660 * 1440
        return
    assert_runs(schedule, after)
    last = engine.next_run(schedule, after - timedelta(days=1), last_scheduled=after)
    assert last is None or last > after


# --------------------------------------------------------------------------- cron


cron_text = st.one_of(
    st.text(alphabet="0123456789*/-,@ \tLW#?HRabcdefhijlmnorstuvwyADMNSTUW\n\u00a0", max_size=40),
    st.lists(
        st.sampled_from(
            [
                "*",
                "*/5",
                "0",
                "7",
                "1-5",
                "mon-fri",
                "jan",
                "5/10",
                "31",
                "0-59/7",
                "2",
                "*/0",
                "61",
                "L",
                "1#2",
                "sun-sat",
            ]
        ),  # fmt: skip
        min_size=4,
        max_size=6,
    ).map(" ".join),
    st.sampled_from([*schedule_config.CRON_MACROS, "@reboot", "@every", "@"]),
)


@settings(max_examples=500, deadline=None)
@given(expression=cron_text, zone=st.sampled_from(ZONES), after=instants)
def test_cron_text_gives_a_schedule_or_one_line(
    expression: str, zone: str, after: datetime
) -> None:
    try:
        normal, spec = schedule_config.parse_cron(expression, "--cron")
    except InvalidInput as refused:
        assert_one_line(refused, ("--cron:",))
        return
    schedule = schedule_config.validate("cron", {"cron": expression}, zone)
    assert schedule.config == {"cron": normal}
    assert_runs(schedule, after)
    noted = engine.next_run_noted(schedule, after) if after.year > 1 else None
    if noted is not None and noted[1] != engine.NOTE_DST_GAP:
        wall = noted[0].astimezone(ZoneInfo(zone))  # a run's wall time matches the fields
        assert wall.minute in spec.minutes and wall.hour in spec.hours
        assert wall.month in spec.months and wall.second == 0


# --------------------------------------------------------------------------- command line


@settings(max_examples=400, deadline=None)
@given(
    option=st.sampled_from(["once", "every", "daily", "weekly", "monthly", "yearly", "cron"]),
    value=st.one_of(
        texts,
        edge_datetimes(),
        st.builds(
            lambda digits, unit: "9" * digits + unit,
            st.integers(1, 6000),
            st.sampled_from(["m", "h", "d", " minutes"]),
        ),  # fmt: skip
        st.from_regex(r"\A[0-9]{1,3}(-[0-9]{1,3})?(,[a-z]{3})?\Z"),
        st.sampled_from(["mon", "sun-sat", "7", "0", "fri-mon", "@daily", "99999999999999d"]),
    ),
    at=st.one_of(st.none(), st.just("02:00"), texts),
    zone=st.sampled_from(ZONES),
)
def test_parse_shorthand_hostile_values(option: str, value: str, at: str | None, zone: str) -> None:
    try:
        parsed = parse_shorthand(**{option: value}, at=at)
    except InvalidInput as refused:
        assert_one_line(refused, ("--",))
        return
    assert parsed is not None
    try:
        schedule = schedule_config.validate(*parsed, zone)
    except InvalidInput as refused:  # a --once in the past is spec's business; here: in range
        assert_one_line(refused, FIELDS)
        return
    assert_runs(schedule, datetime(2026, 1, 1, tzinfo=UTC))


@settings(max_examples=300, deadline=None)
@given(
    text=st.one_of(
        json_values.map(dumped),
        st.integers(0, 3000).map(lambda depth: '{"a": ' + "[" * depth + "]" * depth + "}"),
        st.integers(0, 200000).map(lambda depth: "[" * depth),
        st.integers(1, 6000).map(lambda digits: '{"a": ' + "7" * digits + "}"),
        texts,
        st.sampled_from(['{"a": NaN}', '{"a": Infinity}', '{"a": 1e999}', '{"a": "\\ud800"}']),
    ),
    field=st.sampled_from(["schedule_config", "action_config"]),
)
def test_parse_config_hostile_json(text: str, field: str) -> None:
    try:
        value = schedule_config.parse_config(text, field)
    except InvalidInput as refused:
        assert_one_line(refused, (f"{field}:",))
        return
    assert isinstance(value, dict)
    # What it can read goes on to tapesched.spec's rule for every door (depth, NaN, UTF-8).
    assert value == json.loads(text) or json.dumps(value) == json.dumps(json.loads(text))


@pytest.mark.parametrize("depth", [33, 1000, 100000])
def test_validate_configs_nested_past_the_recursion_limit(depth: int) -> None:
    for kind, key in [("daily", "time"), ("cron", "cron"), ("interval", "interval")]:
        with pytest.raises(InvalidInput) as caught:
            config = {key: deep(depth), **({"unit": "days"} if kind == "interval" else {})}
            schedule_config.validate(kind, config, "UTC")
        assert_one_line(caught.value, (f"schedule_config.{key}:",))
    with pytest.raises(InvalidInput) as caught:
        engine.next_run(schedule_config.Schedule("daily", {"time": deep(depth)}, "UTC"),
                        datetime(2026, 1, 1, tzinfo=UTC))  # fmt: skip
    assert_one_line(caught.value, FIELDS)
