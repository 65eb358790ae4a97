"""Tables for tapesched.schedule_shorthands.parse_shorthand: command-line schedule options."""

from __future__ import annotations

import pytest

from tapesched import schedule_config
from tapesched.cli import shorthands as module
from tapesched.errors import InvalidInput

# (options, expected (schedule_type, config))
SHORTHAND_ROWS = [
    ({"once": "2026-12-25 14:30"}, ("once", {"datetime": "2026-12-25 14:30:00"})),
    ({"once": "2026-12-25 14:30:15"}, ("once", {"datetime": "2026-12-25 14:30:15"})),
    ({"once": "2026-12-25T14:30+01:00"}, ("once", {"datetime": "2026-12-25T14:30:00+01:00"})),
    ({"every": "30m"}, ("interval", {"interval": 30, "unit": "minutes"})),
    ({"every": "45min"}, ("interval", {"interval": 45, "unit": "minutes"})),
    ({"every": "90 minutes"}, ("interval", {"interval": 90, "unit": "minutes"})),
    ({"every": "2h"}, ("interval", {"interval": 2, "unit": "hours"})),
    ({"every": "1H"}, ("interval", {"interval": 1, "unit": "hours"})),
    ({"every": "3 hours"}, ("interval", {"interval": 3, "unit": "hours"})),
    ({"every": "1d"}, ("interval", {"interval": 1, "unit": "days"})),
    ({"every": " 7days "}, ("interval", {"interval": 7, "unit": "days"})),
    ({"daily": "02:00"}, ("daily", {"time": "02:00:00"})),
    ({"daily": "2:07"}, ("daily", {"time": "02:07:00"})),
    ({"daily": "23:59:59"}, ("daily", {"time": "23:59:59"})),
    ({"weekly": "mon"}, ("weekly", {"day_of_week": 0, "time": "00:00:00"})),
    ({"weekly": "mon,thu", "at": "02:00"}, ("weekly", {"day_of_week": [0, 3], "time": "02:00:00"})),
    ({"weekly": "Thu, Mon", "at": "02:00"},
     ("weekly", {"day_of_week": [0, 3], "time": "02:00:00"})),
    ({"weekly": "0", "at": "02:00"}, ("weekly", {"day_of_week": 0, "time": "02:00:00"})),
    ({"weekly": "6"}, ("weekly", {"day_of_week": 6, "time": "00:00:00"})),
    ({"weekly": "sunday", "at": "1:30"}, ("weekly", {"day_of_week": 6, "time": "01:30:00"})),
    ({"weekly": "mon-fri", "at": "22:00"},
     ("weekly", {"day_of_week": [0, 1, 2, 3, 4], "time": "22:00:00"})),
    ({"weekly": "mon,mon"}, ("weekly", {"day_of_week": 0, "time": "00:00:00"})),
    ({"monthly": "1", "at": "02:00"}, ("monthly", {"day_of_month": 1, "time": "02:00:00"})),
    ({"monthly": "31"}, ("monthly", {"day_of_month": 31, "time": "00:00:00"})),
    ({"yearly": "01-01", "at": "02:00"}, ("yearly", {"month": 1, "day": 1, "time": "02:00:00"})),
    ({"yearly": "12-25"}, ("yearly", {"month": 12, "day": 25, "time": "00:00:00"})),
    ({"yearly": "02-29"}, ("yearly", {"month": 2, "day": 29, "time": "00:00:00"})),
    ({"yearly": "3-7"}, ("yearly", {"month": 3, "day": 7, "time": "00:00:00"})),
    ({"cron": "0 2 * * *"}, ("cron", {"cron": "0 2 * * *"})),
    ({"cron": " 0  2,14 * * 1-5 "}, ("cron", {"cron": "0 2,14 * * 1-5"})),
]  # fmt: skip


@pytest.mark.parametrize(("options", "expected"), SHORTHAND_ROWS)
def test_parse_shorthand(options: dict, expected: tuple[str, dict]) -> None:
    parsed = module.parse_shorthand(**options)

    assert parsed == expected
    # What the shorthand returns is what validate() keeps.
    schedule_type, config = parsed
    assert schedule_config.validate(schedule_type, config, "UTC").config == config


def test_parse_shorthand_without_a_schedule_option_is_none() -> None:
    assert module.parse_shorthand() is None


# (options, the message's start, a fragment naming the accepted form)
REFUSAL_ROWS = [
    ({"every": "30x"},
     "--every: '30x' is not an interval", "expected a number and a unit: 30m, 2h, 1d"),
    ({"every": "m"}, "--every: 'm' is not an interval", "30m, 2h, 1d"),
    ({"every": "30"}, "--every: '30' is not an interval", "30m, 2h, 1d"),
    ({"every": "2w"}, "--every: '2w' is not an interval", "30m, 2h, 1d"),
    ({"every": "-5m"}, "--every: '-5m' is not an interval", "30m, 2h, 1d"),
    ({"every": "0m"}, "--every: '0m' is not at least 1", "30m, 2h, 1d"),
    ({"every": "1.5h"}, "--every: '1.5h' is not an interval", "30m, 2h, 1d"),
    ({"daily": "25:00"}, "--daily: '25:00' is not a time", "HH:MM or HH:MM:SS"),
    ({"daily": "2:7"}, "--daily: '2:7' is not a time", "HH:MM"),
    ({"daily": "noon"}, "--daily: 'noon' is not a time", "HH:MM"),
    ({"weekly": "mon", "at": "99:00"}, "--at: '99:00' is not a time", "HH:MM"),
    ({"weekly": "funday"}, "--weekly: 'funday' is not a list of days", "mon..sun or numbers 0-6"),
    ({"weekly": "7"}, "--weekly: '7' is not a list of days", "0-6 (0 = Monday)"),
    ({"weekly": ""}, "--weekly: '' is not a list of days", "mon..sun"),
    ({"weekly": "mon,,thu"}, "--weekly: 'mon,,thu' is not a list of days", "comma-separated"),
    ({"weekly": "fri-mon"}, "--weekly: 'fri-mon' is not a list of days", "mon..sun"),
    ({"monthly": "0"}, "--monthly: '0' is not a day of the month", "expected 1-31"),
    ({"monthly": "32"}, "--monthly: '32' is not a day of the month", "1-31"),
    ({"monthly": "first"}, "--monthly: 'first' is not a day of the month", "1-31"),
    ({"monthly": "-1"}, "--monthly: '-1' is not a day of the month", "1-31"),
    ({"yearly": "02-30"}, "--yearly: '02-30' never occurs", "February has at most 29 days"),
    ({"yearly": "04-31"}, "--yearly: '04-31' never occurs", "April has at most 30 days"),
    ({"yearly": "13-01"}, "--yearly: '13-01' is not a date", "MM-DD"),
    ({"yearly": "12/25"}, "--yearly: '12/25' is not a date", "MM-DD"),
    ({"cron": "0 2 * *"}, "--cron: '0 2 * *' is not a cron expression", "5 fields"),
    ({"cron": "nonsense here and there ok"},
     "--cron: 'nonsense here and there ok' is not a cron", "5 fields"),
    ({"cron": "0 0 30 2 *"}, "--cron: '0 0 30 2 *' never fires", "a date that occurs"),
    ({"once": "tomorrow"}, "--once: 'tomorrow' is not a date and time", "YYYY-MM-DD HH:MM[:SS]"),
    ({"once": "2026-13-01 10:00"},
     "--once: '2026-13-01 10:00' is not a date and time", "YYYY-MM-DD"),
    ({"every": "30m", "daily": "02:00"},
     "--every and --daily: give one schedule option", "--once, --every"),
    ({"once": "2026-12-25 14:30", "cron": "0 2 * * *"}, "--once and --cron: give one", "--cron"),
    ({"at": "02:00"}, "--at: '02:00' needs --weekly, --monthly or --yearly", "--daily HH:MM"),
    ({"daily": "02:00", "at": "03:00"},
     "--at: '03:00' needs --weekly, --monthly or --yearly", "--daily"),
    ({"every": "30m", "at": "03:00"}, "--at: '03:00' needs", "--weekly"),
    ({"cron": "0 2 * * *", "at": "03:00"}, "--at: '03:00' needs", "--weekly"),
    ({"once": "2026-12-25 14:30", "at": "03:00"}, "--at: '03:00' needs", "--weekly"),
]  # fmt: skip


@pytest.mark.parametrize(("options", "start", "form"), REFUSAL_ROWS)
def test_parse_shorthand_refuses(options: dict, start: str, form: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        module.parse_shorthand(**options)

    message = caught.value.message
    assert message.startswith(start)
    assert form in message
    assert "\n" not in message


def test_parse_shorthand_every_message_is_exact() -> None:
    with pytest.raises(InvalidInput) as caught:
        module.parse_shorthand(every="30x")

    assert caught.value.message == (
        "--every: '30x' is not an interval; expected a number and a unit: 30m, 2h, 1d"
    )
