"""Tables for tapesched.schedule_config: normalized configs, validation messages (their start
and the accepted form they name), zones and parse_config."""

from __future__ import annotations

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
    ("cron", {"cron": "@daily"}, "UTC", "schedule_config.cron: '@daily' is not a cron expression",
     "5 fields"),
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


def test_importing_schedule_config_does_not_import_croniter() -> None:
    # `tapesched --help` imports this module; croniter must stay out of that path.
    code = "import sys, tapesched.schedule_config; print('croniter' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "False"
