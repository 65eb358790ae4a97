"""Tables for tapesched.cli.shorthands.parse_shorthand: command-line schedule options (hostile
inputs generated: test_schedule_hostile.py)."""

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
    ({"weekly": "sun", "at": "01:00"}, ("weekly", {"day_of_week": 6, "time": "01:00:00"})),
    ({"weekly": "SAT,Sun"}, ("weekly", {"day_of_week": [5, 6], "time": "00:00:00"})),
    ({"weekly": "fri-mon"}, ("weekly", {"day_of_week": [0, 4, 5, 6], "time": "00:00:00"})),
    ({"weekly": "sun-sat"}, ("weekly", {"day_of_week": [0, 1, 2, 3, 4, 5, 6], "time": "00:00:00"})),
    ({"weekly": "sun-tue, thursday"},
     ("weekly", {"day_of_week": [0, 1, 3, 6], "time": "00:00:00"})),
    ({"weekly": "wed-wed"}, ("weekly", {"day_of_week": 2, "time": "00:00:00"})),
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
    ({"cron": "@daily"}, ("cron", {"cron": "@daily"})),
    ({"cron": "@midnight"}, ("cron", {"cron": "@midnight"})),
    ({"cron": "@hourly"}, ("cron", {"cron": "@hourly"})),
    ({"cron": "@weekly"}, ("cron", {"cron": "@weekly"})),
    ({"cron": "@monthly"}, ("cron", {"cron": "@monthly"})),
    ({"cron": "@yearly"}, ("cron", {"cron": "@yearly"})),
    ({"cron": "@annually"}, ("cron", {"cron": "@annually"})),
    ({"every": "5270400m"}, ("interval", {"interval": 5270400, "unit": "minutes"})),
    ({"every": "87840h"}, ("interval", {"interval": 87840, "unit": "hours"})),
    ({"every": "3660d"}, ("interval", {"interval": 3660, "unit": "days"})),
    ({"once": "9999-12-30 23:59:59"}, ("once", {"datetime": "9999-12-30 23:59:59"})),
    ({"once": "0001-01-02 00:00"}, ("once", {"datetime": "0001-01-02 00:00:00"})),
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
    ({"every": "5270401m"}, "--every: '5270401m' is too long",
     "at most 3660 days (5270400 minutes, 87840 hours)"),
    ({"every": "87841h"}, "--every: '87841h' is too long", "at most 3660 days"),
    ({"every": "3661d"}, "--every: '3661d' is too long", "at most 3660 days"),
    ({"every": f"{10**30}m"}, "--every: '1000000000000000000000000000000m' is too long",
     "at most 3660 days"),
    ({"every": "9" * 5000 + "d"}, "--every: '9999", "at most 3660 days"),
    ({"every": "\u0663m"}, "--every: '\u0663m' is not an interval", "30m"),
    ({"daily": "25:00"}, "--daily: '25:00' is not a time", "HH:MM or HH:MM:SS"),
    ({"daily": "2:7"}, "--daily: '2:7' is not a time", "HH:MM"),
    ({"daily": "noon"}, "--daily: 'noon' is not a time", "HH:MM"),
    ({"weekly": "mon", "at": "99:00"}, "--at: '99:00' is not a time", "HH:MM"),
    ({"weekly": "funday"}, "--weekly: 'funday' is not a list of days", "names mon..sun"),
    ({"weekly": ""}, "--weekly: '' is not a list of days", "mon..sun"),
    ({"weekly": "mon,,thu"}, "--weekly: 'mon,,thu' is not a list of days", "comma-separated"),
    ({"weekly": "mon-wed-fri"}, "--weekly: 'mon-wed-fri' is not a list of days", "mon-fri"),
    ({"weekly": "-mon"}, "--weekly: '-mon' is not a list of days", "mon-fri"),
    ({"weekly": "sun0"}, "--weekly: 'sun0' is not a list of days", "mon-fri"),
    ({"weekly": "\u0663"}, "--weekly: '\u0663' is not a list of days", "mon-fri"),
    # Numbers mean different days to the seed (0 = Monday) and to cron (0 = Sunday).
    ({"weekly": "0"}, "--weekly: '0' is ambiguous: Monday in tapesched's seed numbering, "
     "Sunday in cron's", "give a name such as sun"),
    ({"weekly": "6", "at": "02:00"}, "--weekly: '6' is ambiguous: Sunday in tapesched's seed "
     "numbering, Saturday in cron's", "give a name such as sat"),
    ({"weekly": "7"}, "--weekly: '7' is ambiguous: Sunday in cron's numbering, no day in "
     "tapesched's seed numbering (0-6)", "give a name such as sun"),
    ({"weekly": "mon,3"}, "--weekly: 'mon,3' is ambiguous: 3 is Thursday in tapesched's seed "
     "numbering, Wednesday in cron's", "give a name such as wed"),
    ({"weekly": "1-5"}, "--weekly: '1-5' is ambiguous: 1 is Tuesday", "give a name such as mon"),
    ({"weekly": "8"}, "--weekly: '8' is not a list of days", "names mon..sun"),
    ({"weekly": "9" * 50}, "--weekly: '9999", "names mon..sun"),
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
    ({"cron": "@reboot"}, "--cron: '@reboot' is not supported", "expected a time, e.g. @daily"),
    ({"cron": "@Daily"}, "--cron: '@Daily' is not a cron expression (unknown macro", "@daily"),
    ({"cron": "1/5 * * * *"}, "--cron: '1/5 * * * *' is not a cron expression (minute '1/5'",
     "a step needs a range"),
    ({"once": "9999-12-31 00:00"}, "--once: '9999-12-31 00:00' is out of range",
     "expected a date from 0001-01-02 to 9999-12-30"),
    ({"once": "0001-01-01 23:59"}, "--once: '0001-01-01 23:59' is out of range", "0001-01-02"),
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


def test_parse_shorthand_weekly_number_message_is_exact() -> None:
    # Converting `0 1 * * 0` to `--weekly 0` would have moved a Sunday backup to Monday.
    with pytest.raises(InvalidInput) as caught:
        module.parse_shorthand(weekly="0", at="01:00")

    assert caught.value.message == (
        "--weekly: '0' is ambiguous: Monday in tapesched's seed numbering, Sunday in cron's; "
        "give a name such as sun"
    )
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    ("name", "seed_day"),
    [(name, index) for index, name in enumerate(["mon", "tue", "wed", "thu", "fri", "sat", "sun"])]
    + [("monday", 0), ("Tuesday", 1), ("WEDNESDAY", 2), ("thursday", 3), ("friday", 4),
       ("saturday", 5), ("sunday", 6)],
)  # fmt: skip
def test_parse_shorthand_weekday_names_give_the_seeds_numbers(name: str, seed_day: int) -> None:
    assert module.parse_shorthand(weekly=name) == (
        "weekly",
        {"day_of_week": seed_day, "time": "00:00:00"},
    )
