"""Tables for tapesched.schedule_config: normalized configs, validation messages (their start
and the accepted form they name), zones, cron expressions as Debian's cron reads them, the
calendar's ends and parse_config (hostile inputs generated: test_schedule_hostile.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tapesched import schedule_config as module
from tapesched.errors import InvalidInput

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"
LORD_HOWE = "Australia/Lord_Howe"


# (schedule_type, config, zone, expected normalized config)
NORMALIZE_ROWS = [
    ("daily", {"time": "2:07"}, "UTC", {"time": "02:07:00"}),
    ("daily", {"time": " 23:59:59 "}, "UTC", {"time": "23:59:59"}),
    ("weekly", {"day_of_week": [3, 0, 3], "time": "02:00"}, "UTC",
     {"day_of_week": [0, 3], "time": "02:00:00"}),
    ("weekly", {"day_of_week": 2, "time": "02:00"}, "UTC", {"day_of_week": 2, "time": "02:00:00"}),
    ("monthly", {"day_of_month": 31, "time": "02:00"}, "UTC",
     {"day_of_month": 31, "time": "02:00:00"}),
    ("yearly", {"month": 2, "day": 29, "time": "02:00"}, "UTC",
     {"month": 2, "day": 29, "time": "02:00:00"}),
    ("interval", {"interval": 2, "unit": "Hour"}, "UTC", {"interval": 2, "unit": "hours"}),
    ("interval", {"interval": 5, "unit": "days", "start": "2026-01-01T00:00"}, "UTC",
     {"interval": 5, "unit": "days", "start": "2026-01-01 00:00:00"}),
    ("interval", {"interval": 5, "unit": "minutes", "start": None}, "UTC",
     {"interval": 5, "unit": "minutes"}),
    ("cron", {"cron": " 0  2 * * * "}, "UTC", {"cron": "0 2 * * *"}),
    ("cron", {"cron": "0\t2 * * MON-fri"}, "UTC", {"cron": "0 2 * * MON-fri"}),
    ("cron", {"cron": "@daily"}, "UTC", {"cron": "@daily"}),  # macros are kept as given
    ("cron", {"cron": " @annually\t"}, "UTC", {"cron": "@annually"}),
    ("cron", {"cron": "0 0 31 2 1"}, "UTC", {"cron": "0 0 31 2 1"}),  # ORed: Mondays in Feb
    ("once", {"datetime": "9999-12-30 23:59:59"}, "Pacific/Pago_Pago",
     {"datetime": "9999-12-30 23:59:59"}),
    ("once", {"datetime": "0001-01-02 00:00"}, "Pacific/Kiritimati",
     {"datetime": "0001-01-02 00:00:00"}),
    ("interval", {"interval": 5270400, "unit": "minutes"}, "UTC",
     {"interval": 5270400, "unit": "minutes"}),
    ("interval", {"interval": 87840, "unit": "hours"}, "UTC", {"interval": 87840, "unit": "hours"}),
    ("once", {"datetime": "2026-12-25 14:30"}, BERLIN, {"datetime": "2026-12-25 14:30:00"}),
    ("once", {"datetime": "2026-12-25T14:30:00Z"}, BERLIN,
     {"datetime": "2026-12-25T14:30:00+00:00"}),
    ("once", {"datetime": "2026-12-25T14:30:00-0330"}, BERLIN,
     {"datetime": "2026-12-25T14:30:00-03:30"}),
]  # fmt: skip


@pytest.mark.parametrize(("schedule_type", "config", "zone", "expected"), NORMALIZE_ROWS)
def test_validate_normalizes(schedule_type: str, config: dict, zone: str, expected: dict) -> None:
    schedule = module.validate(schedule_type, config, zone)

    assert schedule == module.Schedule(schedule_type, expected, zone)
    assert module.validate(schedule.type, schedule.config, zone) == schedule  # idempotent


def test_validate_lowercases_the_type() -> None:
    assert module.validate("DAILY", {"time": "02:00"}, "UTC").type == "daily"


# (schedule_type, config, zone, the message's start, a fragment naming the accepted form)
INVALID_ROWS = [
    ("hourly", {}, "UTC", "schedule_type: 'hourly' is unknown",
     "expected one of once, interval, daily, weekly, monthly, yearly, cron"),
    ("daily", {"time": "02:00"}, "Mars/X", "timezone: unknown zone 'Mars/X'",
     "expected an IANA name such as Europe/Berlin or UTC"),
    ("daily", {"time": "02:00"}, "", "timezone: unknown zone ''", "IANA"),
    ("daily", {"time": "02:00"}, "../etc/passwd", "timezone: unknown zone '../etc/passwd'", "IANA"),
    ("daily", {"time": "02:00"}, "Europe", "timezone: unknown zone 'Europe'", "IANA"),
    ("daily", ["02:00"], "UTC", 'schedule_config: ["02:00"] is not a JSON object', "keys time"),
    ("daily", {"time": "25:00"}, "UTC", "schedule_config.time: '25:00' is not a time",
     "expected HH:MM or HH:MM:SS (00:00-23:59)"),
    ("daily", {"time": "2:7"}, "UTC", "schedule_config.time: '2:7' is not a time", "HH:MM"),
    ("daily", {"time": "ab"}, "UTC", "schedule_config.time: 'ab' is not a time", "HH:MM"),
    ("daily", {"time": "12:60"}, "UTC", "schedule_config.time: '12:60' is not a time", "HH:MM"),
    ("daily", {"time": "12:00:61"}, "UTC", "schedule_config.time: '12:00:61' is not a time",
     "HH:MM"),
    ("daily", {"time": "24:00"}, "UTC", "schedule_config.time: '24:00' is not a time", "HH:MM"),
    ("daily", {"time": "١٢:٠٠"}, "UTC", "schedule_config.time: '١٢:٠٠' is not a time", "HH:MM"),
    ("daily", {"time": 200}, "UTC", "schedule_config.time: 200 is not a time", "HH:MM"),
    ("daily", {}, "UTC", "schedule_config.time: missing", "daily requires time"),
    ("daily", {"time": "02:00", "when": 1}, "UTC", "schedule_config: unknown key 'when' for daily",
     "accepted keys: time"),
    ("weekly", {"day_of_week": 7, "time": "02:00"}, "UTC",
     "schedule_config.day_of_week: 7 is not a day of the week", "0-6 (0 = Monday)"),
    ("weekly", {"day_of_week": -1, "time": "02:00"}, "UTC",
     "schedule_config.day_of_week: -1 is not", "0-6"),
    ("weekly", {"day_of_week": [0, 7], "time": "02:00"}, "UTC",
     "schedule_config.day_of_week: [0, 7] is not", "0-6"),
    ("weekly", {"day_of_week": [], "time": "02:00"}, "UTC",
     "schedule_config.day_of_week: [] is not", "0-6"),
    ("weekly", {"day_of_week": True, "time": "02:00"}, "UTC",
     "schedule_config.day_of_week: true is not", "0-6"),
    ("weekly", {"time": "02:00"}, "UTC", "schedule_config.day_of_week: missing",
     "weekly requires day_of_week, time"),
    ("weekly", {"day_of_week": 1}, "UTC", "schedule_config.time: missing", "weekly requires"),
    ("monthly", {"day_of_month": 0, "time": "02:00"}, "UTC",
     "schedule_config.day_of_month: 0 is not a day of the month", "expected 1-31"),
    ("monthly", {"day_of_month": 32, "time": "02:00"}, "UTC",
     "schedule_config.day_of_month: 32 is not", "1-31"),
    ("monthly", {"day_of_month": "1", "time": "02:00"}, "UTC",
     "schedule_config.day_of_month: '1' is not", "1-31"),
    ("yearly", {"month": 0, "day": 1, "time": "02:00"}, "UTC",
     "schedule_config.month: 0 is not a month", "expected 1-12"),
    ("yearly", {"month": 13, "day": 1, "time": "02:00"}, "UTC",
     "schedule_config.month: 13 is not a month", "1-12"),
    ("yearly", {"month": 1, "day": 32, "time": "02:00"}, "UTC", "schedule_config.day: 32 is not",
     "1-31"),
    ("yearly", {"month": 2, "day": 30, "time": "02:00"}, "UTC",
     "schedule_config.day: 02-30 never occurs", "February has at most 29 days"),
    ("yearly", {"month": 4, "day": 31, "time": "02:00"}, "UTC",
     "schedule_config.day: 04-31 never occurs", "April has at most 30 days"),
    ("yearly", {"month": 11, "day": 31, "time": "02:00"}, "UTC",
     "schedule_config.day: 11-31 never occurs", "November"),
    ("yearly", {"month": 1, "time": "02:00"}, "UTC", "schedule_config.day: missing",
     "yearly requires month, day, time"),
    ("interval", {"interval": 0, "unit": "minutes"}, "UTC",
     "schedule_config.interval: 0 is not an interval", "expected a whole number >= 1"),
    ("interval", {"interval": -5, "unit": "minutes"}, "UTC", "schedule_config.interval: -5 is not",
     ">= 1"),
    ("interval", {"interval": 1.5, "unit": "hours"}, "UTC", "schedule_config.interval: 1.5 is not",
     ">= 1"),
    ("interval", {"interval": "30", "unit": "minutes"}, "UTC",
     "schedule_config.interval: '30' is not", ">= 1"),
    ("interval", {"interval": True, "unit": "minutes"}, "UTC",
     "schedule_config.interval: true is not", ">= 1"),
    ("interval", {"interval": 30, "unit": "weeks"}, "UTC",
     "schedule_config.unit: 'weeks' is not a unit", "expected minutes, hours or days"),
    ("interval", {"interval": 30}, "UTC", "schedule_config.unit: missing",
     "interval requires interval, unit"),
    ("interval", {"interval": 3661, "unit": "days"}, "UTC",
     "schedule_config.interval: 3661 days is too long", "at most 3660 days"),
    ("interval", {"interval": 5270401, "unit": "minutes"}, "UTC",
     "schedule_config.interval: 5270401 minutes is too long", "5270400 minutes"),
    ("interval", {"interval": 10**30, "unit": "minutes"}, "UTC",
     "schedule_config.interval: 1000000000000000000000000000000 minutes is too long",
     "at most 3660 days"),
    ("interval", {"interval": 10**5000, "unit": "days"}, "UTC",
     "schedule_config.interval: a number of about 5001 digits of days is too long",
     "3660 days"),
    ("interval", {"interval": 1, "unit": "days", "start": "9999-12-31 12:00"}, "UTC",
     "schedule_config.start: '9999-12-31 12:00' is out of range",
     "expected a date from 0001-01-02 to 9999-12-30"),
    ("interval", {"interval": 30, "unit": "minutes", "start": "soon"}, "UTC",
     "schedule_config.start: 'soon' is not a date and time", "YYYY-MM-DD HH:MM[:SS]"),
    ("interval", {"interval": 30, "unit": "minutes", "every": 2}, "UTC",
     "schedule_config: unknown key 'every' for interval", "accepted keys: interval, unit, start"),
    ("cron", {"cron": "0 2 * *"}, "UTC", "schedule_config.cron: '0 2 * *' is not a cron expression",
     "expected 5 fields"),
    ("cron", {"cron": "0 2 * * * *"}, "UTC",
     "schedule_config.cron: '0 2 * * * *' is not a cron expression", "5 fields"),
    ("cron", {"cron": "61 * * * *"}, "UTC",
     "schedule_config.cron: '61 * * * *' is not a cron expression", "5 fields"),
    ("cron", {"cron": "*/0 * * * *"}, "UTC",
     "schedule_config.cron: '*/0 * * * *' is not a cron expression", "5 fields"),
    ("cron", {"cron": "@reboot"}, "UTC", "schedule_config.cron: '@reboot' is not supported",
     "expected a time, e.g. @daily"),
    ("cron", {"cron": "@DAILY"}, "UTC",
     "schedule_config.cron: '@DAILY' is not a cron expression (unknown macro '@DAILY')",
     "@hourly, @daily, @weekly, @monthly, @yearly"),
    ("cron", {"cron": "@every 5m"}, "UTC", "schedule_config.cron: '@every 5m' is not a cron",
     "5 fields"),
    ("cron", {"cron": "@daily 0"}, "UTC", "schedule_config.cron: '@daily 0' is not a cron",
     "5 fields"),
    # Debian's cron refuses these (other crons accept some, with meanings of their own).
    ("cron", {"cron": "1/20 * * * *"}, "UTC",
     "schedule_config.cron: '1/20 * * * *' is not a cron expression (minute '1/20': a step "
     "needs a range, e.g. */20)", "5 fields"),
    ("cron", {"cron": "5-3 * * * *"}, "UTC",
     "schedule_config.cron: '5-3 * * * *' is not a cron expression (minute '5-3' runs "
     "backwards)", "5 fields"),
    ("cron", {"cron": "0 0 * * mon-sun"}, "UTC",
     "schedule_config.cron: '0 0 * * mon-sun' is not a cron expression (day of week 'mon-sun' "
     "runs backwards (Sunday is 0 or 7))", "5 fields"),
    ("cron", {"cron": "0 0 L * *"}, "UTC",
     "schedule_config.cron: '0 0 L * *' is not a cron expression (day of month 'L' is not "
     "1-31)", "5 fields"),
    ("cron", {"cron": "0 0 15W * *"}, "UTC", "schedule_config.cron: '0 0 15W * *' is not a",
     "5 fields"),
    ("cron", {"cron": "0 0 * * 1#2"}, "UTC",
     "schedule_config.cron: '0 0 * * 1#2' is not a cron expression (day of week '1#2' is not "
     "a number, a range or a step)", "5 fields"),
    ("cron", {"cron": "0 0 ? * *"}, "UTC", "schedule_config.cron: '0 0 ? * *' is not a cron",
     "5 fields"),
    ("cron", {"cron": "0 0 * * sunday"}, "UTC",
     "schedule_config.cron: '0 0 * * sunday' is not a cron expression (day of week 'sunday' "
     "is not 0-7 or sun-sat)", "5 fields"),
    ("cron", {"cron": "0 0 * january *"}, "UTC",
     "schedule_config.cron: '0 0 * january *' is not a cron expression (month 'january' is "
     "not 1-12 or jan-dec)", "5 fields"),
    ("cron", {"cron": "mon 0 * * *"}, "UTC", "schedule_config.cron: 'mon 0 * * *' is not a cron",
     "(minute 'mon' is not 0-59)"),
    ("cron", {"cron": "0 24 * * *"}, "UTC", "schedule_config.cron: '0 24 * * *' is not a cron",
     "(hour '24' is not 0-23)"),
    ("cron", {"cron": "0 0 0 * *"}, "UTC", "schedule_config.cron: '0 0 0 * *' is not a cron",
     "(day of month '0' is not 1-31)"),
    ("cron", {"cron": "0 0 * 13 *"}, "UTC", "schedule_config.cron: '0 0 * 13 *' is not a cron",
     "(month '13' is not 1-12 or jan-dec)"),
    ("cron", {"cron": "0 0 * * 8"}, "UTC", "schedule_config.cron: '0 0 * * 8' is not a cron",
     "(day of week '8' is not 0-7 or sun-sat)"),
    ("cron", {"cron": "*-5 * * * *"}, "UTC", "schedule_config.cron: '*-5 * * * *' is not a",
     "5 fields"),
    ("cron", {"cron": "5.5 * * * *"}, "UTC", "schedule_config.cron: '5.5 * * * *' is not a",
     "5 fields"),
    ("cron", {"cron": "0,,5 * * * *"}, "UTC", "schedule_config.cron: '0,,5 * * * *' is not a",
     "5 fields"),
    ("cron", {"cron": "\u0661 * * * *"}, "UTC", "schedule_config.cron: '\u0661 * * * *' is not",
     "5 fields"),
    ("cron", {"cron": "0\u00a02 * * *"}, "UTC", "schedule_config.cron: '0\\xa02 * * *' is not",
     "(4 fields)"),
    ("cron", {"cron": "0 2\n* * *"}, "UTC", "schedule_config.cron: '0 2\\n* * *' is not a cron",
     "5 fields"),
    ("cron", {"cron": "0 2 * * *\n"}, "UTC", "schedule_config.cron: '0 2 * * *\\n' is not",
     "5 fields"),
    ("cron", {"cron": "0 " * 600}, "UTC", "schedule_config.cron: '0 0 0 0", "5 fields"),
    ("cron", {"cron": ""}, "UTC", "schedule_config.cron: '' is not a cron expression", "5 fields"),
    ("cron", {"cron": None}, "UTC", "schedule_config.cron: null is not a cron", "5 fields"),
    # ANDed day fields (one starts with `*`) that no month has; ORed ones always fire.
    ("cron", {"cron": "0 0 30 2 */2"}, "UTC", "schedule_config.cron: '0 0 30 2 */2' never fires",
     "a date that occurs"),
    ("cron", {"cron": "0 0 31 4,6,9,11 *"}, "UTC", "schedule_config.cron: '0 0 31 4,6,9,11 *' "
     "never fires", "a date that occurs"),
    ("cron", {"cron": "a b c d e"}, "UTC",
     "schedule_config.cron: 'a b c d e' is not a cron expression", "5 fields"),
    ("cron", {"cron": 5}, "UTC", "schedule_config.cron: 5 is not a cron expression", "5 fields"),
    ("cron", {"cron": "0 0 31 2 *"}, "UTC", "schedule_config.cron: '0 0 31 2 *' never fires",
     "a date that occurs"),
    ("cron", {}, "UTC", "schedule_config.cron: missing", "cron requires cron"),
    ("once", {"datetime": "tomorrow"}, "UTC",
     "schedule_config.datetime: 'tomorrow' is not a date and time", "YYYY-MM-DD HH:MM[:SS]"),
    ("once", {"datetime": "2026-02-30 10:00"}, "UTC",
     "schedule_config.datetime: '2026-02-30 10:00' is not", "YYYY-MM-DD"),
    ("once", {"datetime": "2026-12-25"}, "UTC", "schedule_config.datetime: '2026-12-25' is not",
     "YYYY-MM-DD"),
    ("once", {"datetime": "2026-12-25 25:00"}, "UTC",
     "schedule_config.datetime: '2026-12-25 25:00' is not", "YYYY-MM-DD"),
    ("once", {"datetime": "2026-12-25 10:00+25:00"}, "UTC",
     "schedule_config.datetime: '2026-12-25 10:00+25:00' is not", "UTC offset"),
    ("once", {"datetime": 20261225}, "UTC", "schedule_config.datetime: 20261225 is not",
     "YYYY-MM-DD"),
    # The calendar's ends: datetime holds years 1-9999, and a day's margin keeps the instant in
    # it in any zone (9999-12-31 23:59 in New York is in year 10000 in UTC).
    ("once", {"datetime": "9999-12-31 23:59"}, NEW_YORK,
     "schedule_config.datetime: '9999-12-31 23:59' is out of range",
     "expected a date from 0001-01-02 to 9999-12-30"),
    ("once", {"datetime": "9999-12-31T00:00:00-12:00"}, "UTC",
     "schedule_config.datetime: '9999-12-31T00:00:00-12:00' is out of range", "9999-12-30"),
    ("once", {"datetime": "0001-01-01 12:00"}, "Asia/Tokyo",
     "schedule_config.datetime: '0001-01-01 12:00' is out of range", "0001-01-02"),
    ("once", {"datetime": "0000-12-31 12:00"}, "UTC",
     "schedule_config.datetime: '0000-12-31 12:00' is not a date and time", "YYYY-MM-DD"),
    ("once", {"datetime": "10000-01-01 00:00"}, "UTC",
     "schedule_config.datetime: '10000-01-01 00:00' is not a date and time", "YYYY-MM-DD"),
]  # fmt: skip


@pytest.mark.parametrize(("schedule_type", "config", "zone", "start", "form"), INVALID_ROWS)
def test_validate_refuses(
    schedule_type: str, config: dict, zone: str, start: str, form: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        module.validate(schedule_type, config, zone)

    message = caught.value.message
    assert message.startswith(start)
    assert form in message
    assert "\n" not in message
    assert caught.value.exit_code == 2


def test_validate_zone_message_is_exact() -> None:
    with pytest.raises(InvalidInput) as caught:
        module.validate_zone("Mars/X")

    assert caught.value.message == (
        "timezone: unknown zone 'Mars/X'; expected an IANA name such as Europe/Berlin or UTC"
    )


@pytest.mark.parametrize("zone", ["UTC", BERLIN, NEW_YORK, LORD_HOWE, "Asia/Kolkata"])
def test_validate_zone_returns_known_names(zone: str) -> None:
    assert module.validate_zone(zone) == zone


@pytest.mark.parametrize(
    ("schedule_type", "config", "message"),
    [
        (
            "daily",
            {"time": "25:00"},
            "schedule_config.time: '25:00' is not a time; expected HH:MM or HH:MM:SS (00:00-23:59)",
        ),
        (
            "interval",
            {"interval": 30, "unit": "weeks"},
            "schedule_config.unit: 'weeks' is not a unit; expected minutes, hours or days",
        ),
        (
            "hourly",
            {},
            "schedule_type: 'hourly' is unknown; expected one of once, interval, daily, weekly, "
            "monthly, yearly, cron",
        ),
    ],
)
def test_validate_messages_are_exact(schedule_type: str, config: dict, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        module.validate(schedule_type, config, "UTC")

    assert caught.value.message == message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"time": "02:00"}', {"time": "02:00"}),
        ("{}", {}),
        (' {"cron": "0 2 * * *"} ', {"cron": "0 2 * * *"}),
    ],
)
def test_parse_config_returns_the_object(text: str, expected: dict) -> None:
    assert module.parse_config(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        '{"a": ' + "[" * 40 + "]" * 40 + "}",
        '{"a": NaN, "b": -Infinity, "c": 1e400}',
        '{"a": "\\ud800"}',
        '{"a": ' + "9" * 4000 + "}",
    ],
    ids=["40-deep", "not-finite", "surrogate", "4000-digits"],
)
def test_parse_config_leaves_what_it_can_read_to_the_rule_of_every_door(text: str) -> None:
    # tapesched.spec refuses these with one message whether they come from --action-config,
    # --schedule-config or a task file (tests/integration/test_doors.py).
    assert module.parse_config(text, "action_config") == json.loads(text)


@pytest.mark.parametrize(
    "value",
    [10**5000, [[[[]]]], float("nan"), "x\ud800", b"\xff", object(), {1: {2: 3}}],
    ids=["huge-int", "nested", "nan", "surrogate", "bytes", "object", "int-keys"],
)
def test_show_gives_one_short_line_for_anything(value: object) -> None:
    shown = module.show(value)

    assert "\n" not in shown and 0 < len(shown) <= 80


def test_show_survives_nesting_deeper_than_the_recursion_limit() -> None:
    deep: list = []
    for _ in range(100000):
        deep = [deep]

    assert module.show(deep) == "a value too deep to show"


@pytest.mark.parametrize(
    ("text", "field", "start", "fragment"),
    [
        (
            "{",
            "schedule_config",
            "schedule_config: '{' is not valid JSON",
            "expected a JSON object",
        ),
        ("", "schedule_config", "schedule_config: '' is not valid JSON", "JSON object"),
        ("{'time': 1}", "schedule_config", "schedule_config: \"{'time': 1}\" is not valid", "JSON"),
        ("[1, 2]", "schedule_config", "schedule_config: '[1, 2]' is not a JSON object", "{"),
        ('"02:00"', "schedule_config", "schedule_config: '\"02:00\"' is not a JSON object", "{"),
        ("nope", "action_config", "action_config: 'nope' is not valid JSON", "JSON object"),
        # What the parser cannot read: one line, never a RecursionError or ValueError.
        (
            "[" * 100000,
            "schedule_config",
            "schedule_config: '[[[[",
            "is not valid JSON (nested too deeply to read; at most 32 levels)",
        ),
        (
            '{"a": ' + "[" * 100000,
            "action_config",
            'action_config: \'{"a": [[[',
            "(nested too deeply to read; at most 32 levels)",
        ),
        (
            '{"a": ' + "9" * 5000 + "}",
            "schedule_config",
            'schedule_config: \'{"a": 9999',
            "is not valid JSON (a number too long to read)",
        ),
        ("\udcff", "action_config", "action_config: '\\udcff' is not valid JSON", "JSON"),
    ],
)
def test_parse_config_refuses(text: str, field: str, start: str, fragment: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        module.parse_config(text, field)

    assert caught.value.message.startswith(start)
    assert fragment in caught.value.message
    assert "\n" not in caught.value.message


def test_validate_cuts_long_values_short_in_messages() -> None:
    with pytest.raises(InvalidInput) as caught:
        module.validate("daily", {"time": "x" * 500}, "UTC")

    assert len(caught.value.message) < 160
    assert caught.value.message.startswith("schedule_config.time: 'xxx")


# (expression, wildcard: follows elapsed time across DST, day_or: day fields ORed)
CRON_KIND_ROWS = [
    ("*/30 2 * * *", True, False),
    ("* 2 * * *", True, False),
    ("0 */2 * * *", True, False),
    ("0 * * * *", True, False),
    ("*/1 0 1 1 *", True, False),
    ("30 2 * * *", False, False),
    ("0 1-23/2 * * *", False, False),
    ("0-59 0-23 * * *", False, False),
    ("0 0 1 * 1", False, True),  # neither day field starts with `*`: either matches
    ("0 0 1-31 * 0-7", False, True),
    ("0 0 */2 * 1", False, False),  # one does: both must match
    ("0 0 1,15 * */1", False, False),
    ("0 0 13 * 5", False, True),
    ("@hourly", True, False),  # Debian's entry.c: HR_STAR
    ("@daily", False, False),
    ("@midnight", False, False),
    ("@weekly", False, False),  # DOW_STAR: Sundays only
    ("@monthly", False, False),
    ("@yearly", False, False),
    ("@annually", False, False),
]


@pytest.mark.parametrize(("expression", "wildcard", "day_or"), CRON_KIND_ROWS)
def test_parse_cron_kinds_as_debian_does(expression: str, wildcard: bool, day_or: bool) -> None:
    _, spec = module.parse_cron(expression, "cron")

    assert (spec.wildcard, spec.day_or) == (wildcard, day_or)


# (expression, the field, the values it matches)
CRON_VALUE_ROWS = [
    ("5-5/10 * * * *", "minutes", {5}),  # a one-value range stays one value
    ("*/100 * * * *", "minutes", {0}),
    ("10-59/20 * * * *", "minutes", {10, 30, 50}),
    ("0,30,0 * * * *", "minutes", {0, 30}),
    ("0 */7 * * *", "hours", {0, 7, 14, 21}),
    ("0 0 * * 7", "weekdays", {0}),  # 7 is Sunday too
    ("0 0 * * 0,7", "weekdays", {0}),
    ("0 0 * * */2", "weekdays", {0, 2, 4, 6}),
    ("0 0 * * 1-7/2", "weekdays", {1, 3, 5, 0}),
    ("0 0 * * MON-Fri", "weekdays", {1, 2, 3, 4, 5}),
    ("0 0 * * sun,sat", "weekdays", {0, 6}),
    ("0 0 * jan-mar/2 *", "months", {1, 3}),
    ("0 0 * DEC *", "months", {12}),
    ("0 0 31 * *", "days", {31}),
    ("0 0 00000000005 * *", "days", {5}),
    ("@weekly", "weekdays", {0}),
    ("@yearly", "months", {1}),
]


@pytest.mark.parametrize(("expression", "field", "values"), CRON_VALUE_ROWS)
def test_parse_cron_values(expression: str, field: str, values: set[int]) -> None:
    _, spec = module.parse_cron(expression, "cron")

    assert getattr(spec, field) == values


@pytest.mark.parametrize(("macro", "expansion"), sorted(module.CRON_MACROS.items()))
def test_macros_mean_their_expansion(macro: str, expansion: str) -> None:
    assert module.parse_cron(macro, "cron") == (macro, module.parse_cron(expansion, "cron")[1])


def test_validating_a_cron_expression_does_not_import_croniter() -> None:
    code = (
        "import sys, tapesched.schedule_config as c; "
        "c.validate('cron', {'cron': '*/5 1-3 * jan mon'}, 'UTC'); print('croniter' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "False"


def test_importing_schedule_config_does_not_import_croniter() -> None:
    # `tapesched --help` imports this module; croniter must stay out of that path.
    code = "import sys, tapesched.schedule_config; print('croniter' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "False"
