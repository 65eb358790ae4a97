"""Tables for tapesched.schedule: next runs in four zones across 2026's DST changes, month
ends, leap years, describe, period and preview (validation is in test_schedule_config.py).

Expected instants are written by hand in UTC from the zone rules (checked with zoneinfo):
Europe/Berlin       2026-03-29 01:00Z 02:00 CET -> 03:00 CEST;
                    2026-10-25 01:00Z 03:00 CEST -> 02:00 CET
America/New_York    2026-03-08 07:00Z 02:00 EST -> 03:00 EDT;
                    2026-11-01 06:00Z 02:00 EDT -> 01:00 EST
Australia/Lord_Howe 2026-04-04 15:00Z 02:00 +11 -> 01:30 +10:30 (local 2026-04-05);
                    2026-10-03 15:30Z 02:00 +10:30 -> 02:30 +11 (local 2026-10-04)
America/Santiago    2026-04-05 03:00Z 00:00 -03 -> 23:00 -04 (local 2026-04-04 repeats);
                    2026-09-06 04:00Z 00:00 -04 -> 01:00 -03

Cron against cronsim and a replay of Debian cron's main loop: test_schedule_cron_sim.py.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from tapesched import schedule as module
from tapesched import schedule_config
from tapesched.errors import InvalidInput

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"
LORD_HOWE = "Australia/Lord_Howe"
SANTIAGO = "America/Santiago"
GAP = module.NOTE_DST_GAP
REPEAT = module.NOTE_DST_REPEAT


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_dst_dates_in_this_file_match_zoneinfo() -> None:
    # The tables below rely on these transitions; fail loudly if tzdata ever disagrees.
    transitions = {
        BERLIN: [(utc(2026, 3, 29, 1), 1, 2), (utc(2026, 10, 25, 1), 2, 1)],
        NEW_YORK: [(utc(2026, 3, 8, 7), -5, -4), (utc(2026, 11, 1, 6), -4, -5)],
        LORD_HOWE: [(utc(2026, 4, 4, 15), 11, 10.5), (utc(2026, 10, 3, 15, 30), 10.5, 11)],
        SANTIAGO: [(utc(2026, 4, 5, 3), -3, -4), (utc(2026, 9, 6, 4), -4, -3)],
    }
    for zone, rows in transitions.items():
        for instant, before, after in rows:
            second = timedelta(seconds=1)
            assert (instant - second).astimezone(ZoneInfo(zone)).utcoffset() == timedelta(
                hours=before
            )
            assert instant.astimezone(ZoneInfo(zone)).utcoffset() == timedelta(hours=after)


# (schedule_type, config, zone, after, expected run in UTC, expected note)
NEXT_RUN_ROWS = [
    # ---- UTC: every type, month ends, leap years, strictness
    ("once", {"datetime": "2026-12-25 14:30:00"}, "UTC",
     utc(2026, 1, 1), utc(2026, 12, 25, 14, 30), None),
    ("once", {"datetime": "2026-12-25T14:30:00+05:00"}, "UTC",
     utc(2026, 1, 1), utc(2026, 12, 25, 9, 30), None),
    ("interval", {"interval": 30, "unit": "minutes"}, "UTC",
     utc(2026, 3, 29, 0, 50), utc(2026, 3, 29, 1, 20), None),
    ("interval", {"interval": 2, "unit": "hours", "start": "2026-01-01 00:00"}, "UTC",
     utc(2026, 1, 1, 3), utc(2026, 1, 1, 4), None),
    ("interval", {"interval": 1, "unit": "days", "start": "2026-06-01 12:00"}, "UTC",
     utc(2026, 1, 1), utc(2026, 6, 1, 12), None),
    ("daily", {"time": "02:00"}, "UTC", utc(2026, 3, 29, 1), utc(2026, 3, 29, 2), None),
    ("daily", {"time": "02:00"}, "UTC", utc(2026, 3, 29, 2), utc(2026, 3, 30, 2), None),
    ("daily", {"time": "23:59:59"}, "UTC",
     utc(2026, 12, 31, 23, 59, 59), utc(2027, 1, 1, 23, 59, 59), None),
    ("weekly", {"day_of_week": [0, 3], "time": "02:00"}, "UTC",
     utc(2026, 1, 1, 2), utc(2026, 1, 5, 2), None),
    ("weekly", {"day_of_week": 6, "time": "02:00"}, "UTC",
     utc(2026, 1, 1), utc(2026, 1, 4, 2), None),
    ("monthly", {"day_of_month": 31, "time": "02:00"}, "UTC",
     utc(2026, 4, 1), utc(2026, 4, 30, 2), None),
    ("monthly", {"day_of_month": 31, "time": "02:00"}, "UTC",
     utc(2026, 2, 1), utc(2026, 2, 28, 2), None),
    ("monthly", {"day_of_month": 31, "time": "02:00"}, "UTC",
     utc(2028, 2, 1), utc(2028, 2, 29, 2), None),
    ("monthly", {"day_of_month": 30, "time": "02:00"}, "UTC",
     utc(2026, 2, 28, 2), utc(2026, 3, 30, 2), None),
    ("monthly", {"day_of_month": 31, "time": "02:00"}, "UTC",
     utc(2026, 12, 31, 2), utc(2027, 1, 31, 2), None),
    ("yearly", {"month": 2, "day": 29, "time": "02:00"}, "UTC",
     utc(2027, 1, 1), utc(2027, 2, 28, 2), None),
    ("yearly", {"month": 2, "day": 29, "time": "02:00"}, "UTC",
     utc(2027, 3, 1), utc(2028, 2, 29, 2), None),
    ("yearly", {"month": 2, "day": 29, "time": "02:00"}, "UTC",
     utc(2028, 2, 29, 2), utc(2029, 2, 28, 2), None),
    ("yearly", {"month": 1, "day": 1, "time": "00:00"}, "UTC",
     utc(2026, 1, 1), utc(2027, 1, 1), None),
    ("cron", {"cron": "0 2,14 * * *"}, "UTC", utc(2026, 1, 1, 3), utc(2026, 1, 1, 14), None),
    ("cron", {"cron": "0 0 29 2 *"}, "UTC", utc(2026, 1, 1), utc(2028, 2, 29), None),
    ("cron", {"cron": "*/15 * * * *"}, "UTC", utc(2026, 1, 1, 0, 15), utc(2026, 1, 1, 0, 30), None),
    # ---- Europe/Berlin, spring forward 2026-03-29 (gap 02:00-03:00)
    ("once", {"datetime": "2026-03-29 02:30:00"}, BERLIN,
     utc(2026, 1, 1), utc(2026, 3, 29, 1), GAP),
    ("daily", {"time": "02:30"}, BERLIN, utc(2026, 3, 28, 12), utc(2026, 3, 29, 1), GAP),
    ("daily", {"time": "02:30"}, BERLIN, utc(2026, 3, 29, 1), utc(2026, 3, 30, 0, 30), None),
    ("daily", {"time": "02:00"}, BERLIN, utc(2026, 3, 28, 12), utc(2026, 3, 29, 1), GAP),
    ("daily", {"time": "03:00"}, BERLIN, utc(2026, 3, 28, 12), utc(2026, 3, 29, 1), None),
    ("weekly", {"day_of_week": 6, "time": "02:30"}, BERLIN,
     utc(2026, 3, 23), utc(2026, 3, 29, 1), GAP),
    ("monthly", {"day_of_month": 29, "time": "02:30"}, BERLIN,
     utc(2026, 3, 1), utc(2026, 3, 29, 1), GAP),
    ("yearly", {"month": 3, "day": 29, "time": "02:30"}, BERLIN,
     utc(2026, 1, 1), utc(2026, 3, 29, 1), GAP),
    ("cron", {"cron": "30 2 * * *"}, BERLIN, utc(2026, 3, 28, 12), utc(2026, 3, 29, 1), GAP),
    ("cron", {"cron": "30 2 * * *"}, BERLIN, utc(2026, 3, 29, 1), utc(2026, 3, 30, 0, 30), None),
    ("cron", {"cron": "0 2,3 * * *"}, BERLIN, utc(2026, 3, 29, 1), utc(2026, 3, 30, 0), None),
    ("cron", {"cron": "*/30 * * * *"}, BERLIN, utc(2026, 3, 29, 0, 45), utc(2026, 3, 29, 1), None),
    ("cron", {"cron": "*/30 * * * *"}, BERLIN, utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 1), None),
    ("interval", {"interval": 1, "unit": "hours", "start": "2026-03-29 01:30"}, BERLIN,
     utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 1, 30), None),
    # ---- Europe/Berlin, fall back 2026-10-25 (02:00-03:00 happens twice)
    ("once", {"datetime": "2026-10-25 02:30:00"}, BERLIN,
     utc(2026, 1, 1), utc(2026, 10, 25, 0, 30), REPEAT),
    ("daily", {"time": "02:30"}, BERLIN, utc(2026, 10, 24, 12), utc(2026, 10, 25, 0, 30), REPEAT),
    ("daily", {"time": "02:30"}, BERLIN, utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30), None),
    ("weekly", {"day_of_week": 6, "time": "02:30"}, BERLIN,
     utc(2026, 10, 19), utc(2026, 10, 25, 0, 30), REPEAT),
    ("monthly", {"day_of_month": 25, "time": "02:30"}, BERLIN,
     utc(2026, 10, 1), utc(2026, 10, 25, 0, 30), REPEAT),
    ("yearly", {"month": 10, "day": 25, "time": "02:30"}, BERLIN,
     utc(2026, 10, 25, 0, 30), utc(2027, 10, 25, 0, 30), None),
    ("cron", {"cron": "30 2 * * *"}, BERLIN,
     utc(2026, 10, 24, 12), utc(2026, 10, 25, 0, 30), REPEAT),
    ("cron", {"cron": "30 2 * * *"}, BERLIN,
     utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30), None),
    ("cron", {"cron": "*/30 * * * *"}, BERLIN,
     utc(2026, 10, 25, 0, 45), utc(2026, 10, 25, 1), REPEAT),
    ("cron", {"cron": "0 * * * *"}, BERLIN, utc(2026, 10, 25, 0), utc(2026, 10, 25, 1), REPEAT),
    ("interval", {"interval": 1, "unit": "days", "start": "2026-10-24 02:30"}, BERLIN,
     utc(2026, 10, 25), utc(2026, 10, 25, 0, 30), REPEAT),
    ("interval", {"interval": 1, "unit": "days", "start": "2026-10-24 02:30"}, BERLIN,
     utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 0, 30), None),
    # ---- America/New_York, spring forward 2026-03-08 (gap 02:00-03:00)
    ("once", {"datetime": "2026-03-08 02:30:00"}, NEW_YORK,
     utc(2026, 1, 1), utc(2026, 3, 8, 7), GAP),
    ("daily", {"time": "02:30"}, NEW_YORK, utc(2026, 3, 7, 12), utc(2026, 3, 8, 7), GAP),
    ("daily", {"time": "02:30"}, NEW_YORK, utc(2026, 3, 8, 7), utc(2026, 3, 9, 6, 30), None),
    ("weekly", {"day_of_week": 6, "time": "02:30"}, NEW_YORK,
     utc(2026, 3, 2), utc(2026, 3, 8, 7), GAP),
    ("monthly", {"day_of_month": 8, "time": "02:30"}, NEW_YORK,
     utc(2026, 3, 1), utc(2026, 3, 8, 7), GAP),
    ("yearly", {"month": 3, "day": 8, "time": "02:30"}, NEW_YORK,
     utc(2026, 1, 1), utc(2026, 3, 8, 7), GAP),
    ("cron", {"cron": "0 2 * * *"}, NEW_YORK, utc(2026, 3, 7, 12), utc(2026, 3, 8, 7), GAP),
    ("cron", {"cron": "0 2 * * *"}, NEW_YORK, utc(2026, 3, 8, 7), utc(2026, 3, 9, 6), None),
    ("cron", {"cron": "*/30 * * * *"}, NEW_YORK, utc(2026, 3, 8, 6, 45), utc(2026, 3, 8, 7), None),
    ("interval", {"interval": 30, "unit": "minutes", "start": "2026-03-08 01:15"}, NEW_YORK,
     utc(2026, 3, 8, 6, 45), utc(2026, 3, 8, 7, 15), None),
    # ---- America/New_York, fall back 2026-11-01 (01:00-02:00 happens twice)
    ("once", {"datetime": "2026-11-01 01:30:00"}, NEW_YORK,
     utc(2026, 1, 1), utc(2026, 11, 1, 5, 30), REPEAT),
    ("once", {"datetime": "2026-11-01T01:30:00-05:00"}, NEW_YORK,
     utc(2026, 1, 1), utc(2026, 11, 1, 6, 30), REPEAT),
    ("daily", {"time": "01:30"}, NEW_YORK, utc(2026, 10, 31, 12), utc(2026, 11, 1, 5, 30), REPEAT),
    ("daily", {"time": "01:30"}, NEW_YORK, utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30), None),
    ("daily", {"time": "01:30"}, NEW_YORK, utc(2026, 11, 1, 6, 15), utc(2026, 11, 2, 6, 30), None),
    ("weekly", {"day_of_week": 6, "time": "01:30"}, NEW_YORK,
     utc(2026, 10, 26), utc(2026, 11, 1, 5, 30), REPEAT),
    ("monthly", {"day_of_month": 1, "time": "01:30"}, NEW_YORK,
     utc(2026, 10, 15), utc(2026, 11, 1, 5, 30), REPEAT),
    ("yearly", {"month": 11, "day": 1, "time": "01:30"}, NEW_YORK,
     utc(2026, 1, 1), utc(2026, 11, 1, 5, 30), REPEAT),
    ("cron", {"cron": "0 1 * * *"}, NEW_YORK, utc(2026, 10, 31, 12), utc(2026, 11, 1, 5), REPEAT),
    ("cron", {"cron": "0 1 * * *"}, NEW_YORK, utc(2026, 11, 1, 5), utc(2026, 11, 2, 6), None),
    ("cron", {"cron": "*/30 * * * *"}, NEW_YORK,
     utc(2026, 11, 1, 5, 45), utc(2026, 11, 1, 6), REPEAT),
    ("cron", {"cron": "*/30 * * * *"}, NEW_YORK,
     utc(2026, 11, 1, 6), utc(2026, 11, 1, 6, 30), REPEAT),
    ("cron", {"cron": "0 */2 * * *"}, NEW_YORK, utc(2026, 11, 1, 4, 30), utc(2026, 11, 1, 7), None),
    ("interval", {"interval": 30, "unit": "minutes", "start": "2026-11-01 00:45"}, NEW_YORK,
     utc(2026, 11, 1, 5, 45), utc(2026, 11, 1, 6, 15), REPEAT),
    # ---- Australia/Lord_Howe, fall back 2026-04-05 (01:30-02:00 happens twice, 30 minutes)
    ("once", {"datetime": "2026-04-05 01:45:00"}, LORD_HOWE,
     utc(2026, 1, 1), utc(2026, 4, 4, 14, 45), REPEAT),
    ("daily", {"time": "01:45"}, LORD_HOWE, utc(2026, 4, 4), utc(2026, 4, 4, 14, 45), REPEAT),
    ("daily", {"time": "01:45"}, LORD_HOWE, utc(2026, 4, 4, 14, 45), utc(2026, 4, 5, 15, 15), None),
    ("weekly", {"day_of_week": 6, "time": "01:45"}, LORD_HOWE,
     utc(2026, 3, 30), utc(2026, 4, 4, 14, 45), REPEAT),
    ("monthly", {"day_of_month": 5, "time": "01:45"}, LORD_HOWE,
     utc(2026, 4, 1), utc(2026, 4, 4, 14, 45), REPEAT),
    ("yearly", {"month": 4, "day": 5, "time": "01:45"}, LORD_HOWE,
     utc(2026, 1, 1), utc(2026, 4, 4, 14, 45), REPEAT),
    ("cron", {"cron": "45 1 * * *"}, LORD_HOWE, utc(2026, 4, 4), utc(2026, 4, 4, 14, 45), REPEAT),
    ("cron", {"cron": "45 1 * * *"}, LORD_HOWE,
     utc(2026, 4, 4, 14, 45), utc(2026, 4, 5, 15, 15), None),
    ("cron", {"cron": "*/30 * * * *"}, LORD_HOWE,
     utc(2026, 4, 4, 14, 45), utc(2026, 4, 4, 15), REPEAT),
    ("cron", {"cron": "*/15 * * * *"}, LORD_HOWE,
     utc(2026, 4, 4, 14, 45), utc(2026, 4, 4, 15), REPEAT),
    ("interval", {"interval": 45, "unit": "minutes", "start": "2026-04-05 01:00"}, LORD_HOWE,
     utc(2026, 4, 4, 14, 30), utc(2026, 4, 4, 14, 45), REPEAT),
    ("interval", {"interval": 45, "unit": "minutes", "start": "2026-04-05 01:00"}, LORD_HOWE,
     utc(2026, 4, 4, 14, 45), utc(2026, 4, 4, 15, 30), None),
    # ---- Australia/Lord_Howe, spring forward 2026-10-04 (gap 02:00-02:30, 30 minutes)
    ("once", {"datetime": "2026-10-04 02:15:00"}, LORD_HOWE,
     utc(2026, 1, 1), utc(2026, 10, 3, 15, 30), GAP),
    ("daily", {"time": "02:15"}, LORD_HOWE, utc(2026, 10, 3), utc(2026, 10, 3, 15, 30), GAP),
    ("daily", {"time": "02:00"}, LORD_HOWE, utc(2026, 10, 3), utc(2026, 10, 3, 15, 30), GAP),
    ("daily", {"time": "02:30"}, LORD_HOWE, utc(2026, 10, 3), utc(2026, 10, 3, 15, 30), None),
    ("daily", {"time": "02:15"}, LORD_HOWE,
     utc(2026, 10, 3, 15, 30), utc(2026, 10, 4, 15, 15), None),
    ("weekly", {"day_of_week": 6, "time": "02:15"}, LORD_HOWE,
     utc(2026, 9, 28), utc(2026, 10, 3, 15, 30), GAP),
    ("monthly", {"day_of_month": 4, "time": "02:15"}, LORD_HOWE,
     utc(2026, 9, 10), utc(2026, 10, 3, 15, 30), GAP),
    ("yearly", {"month": 10, "day": 4, "time": "02:15"}, LORD_HOWE,
     utc(2026, 1, 1), utc(2026, 10, 3, 15, 30), GAP),
    ("cron", {"cron": "15 2 * * *"}, LORD_HOWE, utc(2026, 10, 3), utc(2026, 10, 3, 15, 30), GAP),
    ("cron", {"cron": "*/30 * * * *"}, LORD_HOWE,
     utc(2026, 10, 3, 15, 15), utc(2026, 10, 3, 15, 30), None),
    ("cron", {"cron": "*/15 * * * *"}, LORD_HOWE,
     utc(2026, 10, 3, 15, 15), utc(2026, 10, 3, 15, 30), None),
    ("interval", {"interval": 1, "unit": "hours", "start": "2026-10-04 01:15"}, LORD_HOWE,
     utc(2026, 10, 3, 15), utc(2026, 10, 3, 15, 45), None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("schedule_type", "config", "zone", "after", "expected", "note"), NEXT_RUN_ROWS
)
def test_next_run_noted_table(
    schedule_type: str,
    config: dict,
    zone: str,
    after: datetime,
    expected: datetime,
    note: str | None,
) -> None:
    schedule = schedule_config.validate(schedule_type, config, zone)

    run, got_note = module.next_run_noted(schedule, after)

    assert (run, got_note) == (expected, note)
    assert run.tzinfo is UTC
    assert module.next_run(schedule, after) == expected


def test_next_run_accepts_after_in_any_zone() -> None:
    schedule = schedule_config.validate("daily", {"time": "02:00"}, BERLIN)
    after = datetime(2026, 6, 1, 2, 0, tzinfo=ZoneInfo(NEW_YORK))  # 06:00Z = 08:00 CEST

    assert module.next_run(schedule, after) == utc(2026, 6, 2, 0)


# (config, after, last_scheduled, created_at, expected): interval anchors, in UTC
INTERVAL_ANCHOR_ROWS = [
    # no anchor at all: after itself
    ({"interval": 30, "unit": "minutes"}, utc(2026, 1, 1, 0, 7), None, None,
     utc(2026, 1, 1, 0, 37)),
    # created_at: k >= 0, but strictly after `after`
    ({"interval": 30, "unit": "minutes"}, utc(2026, 1, 1), None, utc(2026, 1, 1),
     utc(2026, 1, 1, 0, 30)),
    ({"interval": 30, "unit": "minutes"}, utc(2026, 1, 1, 1), None, utc(2026, 1, 1, 0, 10),
     utc(2026, 1, 1, 1, 10)),
    ({"interval": 30, "unit": "minutes"}, utc(2026, 1, 1), None, utc(2026, 1, 1, 0, 10),
     utc(2026, 1, 1, 0, 10)),
    # start wins over created_at
    ({"interval": 90, "unit": "minutes", "start": "2026-01-01 00:00"}, utc(2026, 1, 1, 2), None,
     utc(2026, 1, 1, 0, 10), utc(2026, 1, 1, 3)),
    # last_scheduled wins over start; k >= 1
    ({"interval": 30, "unit": "minutes", "start": "2026-01-01 00:00"}, utc(2026, 1, 1, 0, 25),
     utc(2026, 1, 1, 0, 20), None, utc(2026, 1, 1, 0, 50)),
    ({"interval": 30, "unit": "minutes"}, utc(2026, 1, 1, 0, 20), utc(2026, 1, 1, 0, 20), None,
     utc(2026, 1, 1, 0, 50)),
    ({"interval": 30, "unit": "minutes"}, utc(2026, 1, 1, 0, 10), utc(2026, 1, 1, 0, 20), None,
     utc(2026, 1, 1, 0, 50)),
    # many missed periods: one jump, not a loop
    ({"interval": 1, "unit": "minutes"}, utc(2036, 1, 1, 0, 0, 30), utc(2026, 1, 1), None,
     utc(2036, 1, 1, 0, 1)),
    # an explicit offset in start wins over the zone
    ({"interval": 1, "unit": "days", "start": "2026-01-01T06:00:00+02:00"}, utc(2026, 1, 3), None,
     None, utc(2026, 1, 3, 4)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("config", "after", "last_scheduled", "created_at", "expected"), INTERVAL_ANCHOR_ROWS
)
def test_next_run_interval_anchor(
    config: dict,
    after: datetime,
    last_scheduled: datetime | None,
    created_at: datetime | None,
    expected: datetime,
) -> None:
    schedule = schedule_config.validate("interval", config, "UTC")

    assert module.next_run(schedule, after, last_scheduled, created_at) == expected


def test_next_run_interval_days_are_elapsed_time_across_dst() -> None:
    # 24 h after 02:30 CET on 28 March is 03:30 CEST on the 29th, not 02:30.
    schedule = schedule_config.validate("interval", {"interval": 1, "unit": "days"}, BERLIN)

    run = module.next_run(schedule, utc(2026, 3, 28, 2), last_scheduled=utc(2026, 3, 28, 1, 30))

    assert run == utc(2026, 3, 29, 1, 30)
    assert run.astimezone(ZoneInfo(BERLIN)).hour == 3


def test_next_run_once_in_the_past_is_none() -> None:
    schedule = schedule_config.validate("once", {"datetime": "2026-12-25 14:30:00"}, BERLIN)

    assert module.next_run(schedule, utc(2026, 12, 25, 13, 30)) is None
    assert module.next_run_noted(schedule, utc(2027, 1, 1)) is None
    assert module.preview(schedule, utc(2027, 1, 1), 5) == []


@pytest.mark.parametrize(
    ("config", "zone", "now", "expected"),
    [
        ({"datetime": "2026-12-25 14:30:00"}, BERLIN, utc(2026, 12, 25, 13, 30), True),
        ({"datetime": "2026-12-25 14:30:00"}, BERLIN, utc(2026, 12, 25, 13, 29, 59), False),
        ({"datetime": "2026-12-25 14:30:00"}, "UTC", utc(2027, 1, 1), True),
        ({"datetime": "2026-12-25T14:30:00+01:00"}, NEW_YORK, utc(2026, 12, 25, 13, 45), True),
    ],
)
def test_is_past_once(config: dict, zone: str, now: datetime, expected: bool) -> None:
    schedule = schedule_config.validate("once", config, zone)

    assert module.is_past_once(schedule, now) is expected


def test_is_past_once_is_false_for_other_types() -> None:
    schedule = schedule_config.validate("daily", {"time": "02:00"}, "UTC")

    assert module.is_past_once(schedule, utc(2099, 1, 1)) is False


def test_next_run_cron_fixed_time_runs_once_on_fall_back_day() -> None:
    schedule = schedule_config.validate("cron", {"cron": "30 1 * * *"}, NEW_YORK)

    runs = module.preview(schedule, utc(2026, 10, 31), 3)

    assert runs == [
        (utc(2026, 10, 31, 5, 30), None),
        (utc(2026, 11, 1, 5, 30), REPEAT),
        (utc(2026, 11, 2, 6, 30), None),
    ]


def test_next_run_cron_two_walls_on_one_gap_instant_run_once() -> None:
    # 02:00 does not exist on 29 March and moves to 03:00, which is also a run: one run.
    schedule = schedule_config.validate("cron", {"cron": "0 2,3 * * *"}, BERLIN)

    runs = module.preview(schedule, utc(2026, 3, 28, 12), 3)

    assert runs == [
        (utc(2026, 3, 29, 1), GAP),
        (utc(2026, 3, 30, 0), None),
        (utc(2026, 3, 30, 1), None),
    ]


@pytest.mark.parametrize(
    ("zone", "after", "expected_local"),
    [
        # repeated hour: both occurrences of 01:00 and 01:30
        (
            NEW_YORK,
            utc(2026, 11, 1, 4, 15),
            ["00:30-0400", "01:00-0400", "01:30-0400", "01:00-0500", "01:30-0500", "02:00-0500"],
        ),
        # gap: 02:00 and 02:30 do not occur
        (
            NEW_YORK,
            utc(2026, 3, 8, 5, 45),
            ["01:00-0500", "01:30-0500", "03:00-0400", "03:30-0400", "04:00-0400", "04:30-0400"],
        ),
        (
            BERLIN,
            utc(2026, 10, 24, 23, 45),
            ["02:00+0200", "02:30+0200", "02:00+0100", "02:30+0100", "03:00+0100", "03:30+0100"],
        ),
        (
            BERLIN,
            utc(2026, 3, 28, 23, 45),
            ["01:00+0100", "01:30+0100", "03:00+0200", "03:30+0200", "04:00+0200", "04:30+0200"],
        ),
        (
            LORD_HOWE,
            utc(2026, 4, 4, 13, 45),
            ["01:00+1100", "01:30+1100", "01:30+1030", "02:00+1030", "02:30+1030", "03:00+1030"],
        ),
        (
            LORD_HOWE,
            utc(2026, 10, 3, 14, 15),
            ["01:00+1030", "01:30+1030", "02:30+1100", "03:00+1100", "03:30+1100", "04:00+1100"],
        ),
    ],
)
def test_next_run_cron_every_30_minutes_follows_elapsed_time(
    zone: str, after: datetime, expected_local: list[str]
) -> None:
    schedule = schedule_config.validate("cron", {"cron": "*/30 * * * *"}, zone)

    runs = module.preview(schedule, after, len(expected_local))

    shown = [run.astimezone(ZoneInfo(zone)).strftime("%H:%M%z") for run, _ in runs]
    assert shown == expected_local


def test_next_run_interval_across_fall_back_is_elapsed() -> None:
    schedule = schedule_config.validate("interval", {"interval": 30, "unit": "minutes"}, NEW_YORK)

    runs = module.preview(schedule, utc(2026, 11, 1, 4, 45), 6)

    assert [run for run, _ in runs] == [
        utc(2026, 11, 1, 5, 15) + timedelta(minutes=30 * index) for index in range(6)
    ]
    assert [note for _, note in runs] == [REPEAT, REPEAT, REPEAT, REPEAT, None, None]


TRANSITIONS_2026 = {
    BERLIN: (utc(2026, 3, 29, 1), utc(2026, 10, 25, 1)),
    NEW_YORK: (utc(2026, 3, 8, 7), utc(2026, 11, 1, 6)),
    LORD_HOWE: (utc(2026, 4, 4, 15), utc(2026, 10, 3, 15, 30)),
}


@pytest.mark.parametrize(
    ("schedule_type", "config"),
    [
        ("daily", {"time": "01:45"}),
        ("daily", {"time": "02:15"}),
        ("cron", {"cron": "*/15 * * * *"}),
        ("cron", {"cron": "15,45 1,2 * * *"}),
        ("cron", {"cron": "* 2 * * *"}),
        ("interval", {"interval": 20, "unit": "minutes"}),
    ],
)
@pytest.mark.parametrize("zone", list(TRANSITIONS_2026))
def test_next_run_successive_calls_strictly_increase_through_dst_days(
    zone: str, schedule_type: str, config: dict
) -> None:
    schedule = schedule_config.validate(schedule_type, config, zone)
    for transition in TRANSITIONS_2026[zone]:
        cursor, end = transition - timedelta(days=2), transition + timedelta(days=2)
        seen = 0
        while cursor < end:
            following = module.next_run(schedule, cursor, last_scheduled=cursor)
            assert following is not None and following > cursor
            cursor = following
            seen += 1
        assert seen >= 4


# Debian's cron: the day fields are ORed only when neither starts with `*`, else ANDed.
# (expression, the next four days it runs from 2026-01-01 00:00 UTC, a Thursday)
DAY_FIELD_ROWS = [
    ("0 0 1,15 * 1", ["01-05 Mon", "01-12 Mon", "01-15 Thu", "01-19 Mon"]),  # OR
    ("0 0 13 * 5", ["01-02 Fri", "01-09 Fri", "01-13 Tue", "01-16 Fri"]),  # OR: not Fri 13th
    ("0 0 29 2 1", ["02-02 Mon", "02-09 Mon", "02-16 Mon", "02-23 Mon"]),  # OR
    ("0 0 1-31/2 * 1", ["01-03 Sat", "01-05 Mon", "01-07 Wed", "01-09 Fri"]),  # OR
    ("0 0 */2 * 1", ["01-05 Mon", "01-19 Mon", "02-09 Mon", "02-23 Mon"]),  # AND: odd Mondays
    ("0 0 1,15 * */1", ["01-15 Thu", "02-01 Sun", "02-15 Sun", "03-01 Sun"]),  # AND
    ("0 0 13 * */5", ["02-13 Fri", "03-13 Fri", "09-13 Sun", "11-13 Fri"]),  # AND: Sun, Fri
    ("0 0 * * 5", ["01-02 Fri", "01-09 Fri", "01-16 Fri", "01-23 Fri"]),
    ("0 0 1 * 0-7", ["01-02 Fri", "01-03 Sat", "01-04 Sun", "01-05 Mon"]),  # OR with all
    ("0 0 1-31 * 1", ["01-02 Fri", "01-03 Sat", "01-04 Sun", "01-05 Mon"]),
    ("@weekly", ["01-04 Sun", "01-11 Sun", "01-18 Sun", "01-25 Sun"]),
    ("@monthly", ["02-01 Sun", "03-01 Sun", "04-01 Wed", "05-01 Fri"]),
]


@pytest.mark.parametrize(("expression", "expected"), DAY_FIELD_ROWS)
def test_next_run_cron_day_fields_as_debian_cron(expression: str, expected: list[str]) -> None:
    schedule = schedule_config.validate("cron", {"cron": expression}, "UTC")

    runs = module.preview(schedule, utc(2026, 1, 1), 4)

    assert [run.strftime("%m-%d %a") for run, _ in runs] == expected
    assert all(run.strftime("%H:%M") == "00:00" for run, _ in runs)


def test_next_run_cron_and_of_feb_29_and_sunday_waits_for_2032() -> None:
    schedule = schedule_config.validate("cron", {"cron": "0 0 29 2 */7"}, "UTC")

    assert module.preview(schedule, utc(2026, 1, 1), 2) == [
        (utc(2032, 2, 29), None),
        (utc(2060, 2, 29), None),
    ]


# Debian's cron across DST changes: a wildcard job (minute or hour field starting with `*`)
# follows elapsed time, so it never runs in a gap and runs in both copies of a repeated hour;
# any other job runs at the end of a gap, and once in a repeated hour (its first copy).
# (expression, zone, after, the next runs as local "MM-DD HH:MM+zzzz note")
CRON_DST_ROWS = [
    # ---- wildcard jobs (the old rule, "`*` or a step in the hour field", made these fixed)
    ("*/30 2 * * *", BERLIN, utc(2026, 3, 28, 12),
     ["03-30 02:00+0200", "03-30 02:30+0200", "03-31 02:00+0200"]),
    ("*/30 2 * * *", BERLIN, utc(2026, 10, 24, 12),
     ["10-25 02:00+0200 R", "10-25 02:30+0200 R", "10-25 02:00+0100 R", "10-25 02:30+0100 R",
      "10-26 02:00+0100"]),
    ("* 2 * * *", NEW_YORK, utc(2026, 3, 8, 6, 58),
     ["03-09 02:00-0400", "03-09 02:01-0400", "03-09 02:02-0400"]),
    ("*/20 1 * * *", NEW_YORK, utc(2026, 11, 1, 4),
     ["11-01 01:00-0400 R", "11-01 01:20-0400 R", "11-01 01:40-0400 R", "11-01 01:00-0500 R",
      "11-01 01:20-0500 R", "11-01 01:40-0500 R", "11-02 01:00-0500"]),
    ("0 */2 * * *", BERLIN, utc(2026, 3, 28, 22, 30),
     ["03-29 00:00+0100", "03-29 04:00+0200", "03-29 06:00+0200"]),
    ("0 */2 * * *", BERLIN, utc(2026, 10, 24, 21, 30),
     ["10-25 00:00+0200", "10-25 02:00+0200 R", "10-25 02:00+0100 R", "10-25 04:00+0100"]),
    ("*/10 2 * * *", LORD_HOWE, utc(2026, 10, 3, 14),
     ["10-04 02:30+1100", "10-04 02:40+1100", "10-04 02:50+1100", "10-05 02:00+1100"]),
    ("*/15 0 * * *", SANTIAGO, utc(2026, 9, 5, 23), ["09-07 00:00-0300", "09-07 00:15-0300"]),
    ("*/30 23 * * *", SANTIAGO, utc(2026, 4, 4, 12),
     ["04-04 23:00-0300 R", "04-04 23:30-0300 R", "04-04 23:00-0400 R", "04-04 23:30-0400 R",
      "04-05 23:00-0400"]),
    ("@hourly", BERLIN, utc(2026, 10, 24, 23, 30),
     ["10-25 02:00+0200 R", "10-25 02:00+0100 R", "10-25 03:00+0100"]),
    # ---- fixed-time jobs (the old rule made the stepped hours follow elapsed time)
    ("30 2 * * *", BERLIN, utc(2026, 3, 28, 12), ["03-29 03:00+0200 G", "03-30 02:30+0200"]),
    ("30 2 * * *", BERLIN, utc(2026, 10, 24, 12), ["10-25 02:30+0200 R", "10-26 02:30+0100"]),
    ("0 1-23/2 * * *", NEW_YORK, utc(2026, 11, 1, 3, 30),
     ["11-01 01:00-0400 R", "11-01 03:00-0500", "11-01 05:00-0500"]),
    ("15 0-22/2 * * *", SANTIAGO, utc(2026, 9, 5, 23),
     ["09-05 20:15-0400", "09-05 22:15-0400", "09-06 01:00-0300 G", "09-06 02:15-0300"]),
    ("30 23 * * *", SANTIAGO, utc(2026, 4, 4, 12), ["04-04 23:30-0300 R", "04-05 23:30-0400"]),
    ("0,30 2 * * *", BERLIN, utc(2026, 3, 28, 12),
     ["03-29 03:00+0200 G", "03-30 02:00+0200", "03-30 02:30+0200"]),  # two gap times: one run
    ("0-59 1 * * *", NEW_YORK, utc(2026, 11, 1, 5, 58),
     ["11-01 01:59-0400 R", "11-02 01:00-0500", "11-02 01:01-0500"]),
    ("10 2 * * *", LORD_HOWE, utc(2026, 10, 3, 12), ["10-04 02:30+1100 G", "10-05 02:10+1100"]),
]  # fmt: skip


@pytest.mark.parametrize(("expression", "zone", "after", "expected"), CRON_DST_ROWS)
def test_next_run_cron_across_dst_as_debian_cron(
    expression: str, zone: str, after: datetime, expected: list[str]
) -> None:
    schedule = schedule_config.validate("cron", {"cron": expression}, zone)
    marks = {None: "", GAP: " G", REPEAT: " R"}

    runs = module.preview(schedule, after, len(expected))

    shown = [
        run.astimezone(ZoneInfo(zone)).strftime("%m-%d %H:%M%z") + marks[note] for run, note in runs
    ]
    assert shown == expected


def test_next_run_cron_wildcard_minute_runs_120_times_on_a_fall_back_day() -> None:
    schedule = schedule_config.validate("cron", {"cron": "* 2 * * *"}, BERLIN)

    runs = module.preview(schedule, utc(2026, 10, 24, 12), 121)

    assert len([run for run, _ in runs if run.astimezone(ZoneInfo(BERLIN)).day == 25]) == 120
    assert runs[0][0] == utc(2026, 10, 25, 0) and runs[119][0] == utc(2026, 10, 25, 1, 59)


def test_next_run_feb_29_is_found_within_eight_years() -> None:
    cron = schedule_config.validate("cron", {"cron": "0 0 29 2 *"}, "UTC")
    yearly = schedule_config.validate("yearly", {"month": 2, "day": 29, "time": "00:00"}, "UTC")

    # 2100 is not a leap year: the cron skips to 2104, the yearly clamps to 28 Feb.
    assert module.next_run(cron, utc(2096, 3, 1)) == utc(2104, 2, 29)
    assert module.next_run(yearly, utc(2099, 3, 1)) == utc(2100, 2, 28)


def test_next_run_refuses_naive_datetimes() -> None:
    schedule = schedule_config.validate("daily", {"time": "02:00"}, "UTC")

    with pytest.raises(InvalidInput, match="^after: .*expected an aware datetime"):
        module.next_run(schedule, datetime(2026, 1, 1))
    with pytest.raises(InvalidInput, match="^last_scheduled: "):
        module.next_run(schedule, utc(2026, 1, 1), last_scheduled=datetime(2026, 1, 1))


def test_next_run_accepts_an_unnormalized_schedule() -> None:
    # Schedules read back from storage may be built directly; they are validated on use.
    schedule = schedule_config.Schedule("Daily", {"time": "2:07"}, BERLIN)

    assert module.next_run(schedule, utc(2026, 1, 1)) == utc(2026, 1, 1, 1, 7)


def test_next_run_refuses_an_invalid_schedule_built_directly() -> None:
    schedule = schedule_config.Schedule("daily", {"time": "25:00"}, BERLIN)

    with pytest.raises(InvalidInput, match="schedule_config.time"):
        module.next_run(schedule, utc(2026, 1, 1))


# ---------------------------------------------------------------- describe, period, preview


@pytest.mark.parametrize(
    ("schedule_type", "config", "expected"),
    [
        ("interval", {"interval": 30, "unit": "minutes"}, "every 30 minutes"),
        ("interval", {"interval": 1, "unit": "hours"}, "every hour"),
        ("interval", {"interval": 2, "unit": "days"}, "every 2 days"),
        (
            "interval",
            {"interval": 6, "unit": "hours", "start": "2026-01-01 03:00"},
            "every 6 hours from 2026-01-01 03:00:00",
        ),
        ("daily", {"time": "02:00:00"}, "daily at 02:00"),
        ("daily", {"time": "02:00:30"}, "daily at 02:00:30"),
        ("weekly", {"day_of_week": [3, 0], "time": "02:00"}, "weekly on Mon, Thu at 02:00"),
        ("weekly", {"day_of_week": 6, "time": "23:30"}, "weekly on Sun at 23:30"),
        ("monthly", {"day_of_month": 1, "time": "02:00"}, "monthly on day 1 at 02:00"),
        (
            "monthly",
            {"day_of_month": 31, "time": "02:00"},
            "monthly on day 31 at 02:00 (last day in shorter months)",
        ),
        (
            "monthly",
            {"day_of_month": 29, "time": "02:00"},
            "monthly on day 29 at 02:00 (last day in shorter months)",
        ),
        ("yearly", {"month": 2, "day": 29, "time": "02:00"}, "yearly on 02-29 at 02:00"),
        ("yearly", {"month": 12, "day": 25, "time": "06:00"}, "yearly on 12-25 at 06:00"),
        ("cron", {"cron": "0 2 * * *"}, "cron '0 2 * * *'"),
        ("cron", {"cron": "@daily"}, "cron '@daily' (0 0 * * *)"),
        ("cron", {"cron": "@hourly"}, "cron '@hourly' (0 * * * *)"),
        ("once", {"datetime": "2026-12-25 14:30"}, "once at 2026-12-25 14:30:00"),
        ("once", {"datetime": "2026-12-25T14:30Z"}, "once at 2026-12-25T14:30:00+00:00"),
    ],
)
def test_describe(schedule_type: str, config: dict, expected: str) -> None:
    assert module.describe(schedule_config.validate(schedule_type, config, BERLIN)) == expected


def test_describe_a_stored_schedule_that_no_longer_validates() -> None:
    # croniter read `L` (last day); Debian's cron does not, so validation now refuses it.
    stored = schedule_config.Schedule("cron", {"cron": "0 0 L * *"}, "UTC")

    words = module.describe(stored)

    assert words.startswith('\'cron\' {"cron": "0 0 L * *"}, not valid: schedule_config.cron:')
    assert "\n" not in words
    with pytest.raises(InvalidInput, match="^schedule_config.cron: '0 0 L \\* \\*' is not a"):
        module.next_run(stored, utc(2026, 1, 1))


@pytest.mark.parametrize(
    ("schedule_type", "config", "expected"),
    [
        ("once", {"datetime": "2026-12-25 14:30"}, None),
        ("interval", {"interval": 30, "unit": "minutes"}, timedelta(minutes=30)),
        ("interval", {"interval": 3, "unit": "hours"}, timedelta(hours=3)),
        ("interval", {"interval": 2, "unit": "days"}, timedelta(days=2)),
        ("daily", {"time": "02:00"}, timedelta(days=1)),
        ("weekly", {"day_of_week": 0, "time": "02:00"}, timedelta(days=7)),
        ("weekly", {"day_of_week": [0, 3], "time": "02:00"}, timedelta(days=3.5)),
        ("monthly", {"day_of_month": 15, "time": "02:00"}, timedelta(days=31)),
        ("yearly", {"month": 1, "day": 1, "time": "02:00"}, timedelta(days=366)),
        ("cron", {"cron": "0 2,14 * * *"}, timedelta(hours=12)),
        ("cron", {"cron": "*/15 * * * *"}, timedelta(minutes=15)),
        ("cron", {"cron": "0 3 * * 0"}, timedelta(days=7)),
        ("cron", {"cron": "@weekly"}, timedelta(days=7)),
        ("cron", {"cron": "@hourly"}, timedelta(hours=1)),
        ("cron", {"cron": "0 0 29 2 */7"}, datetime(2032, 2, 29) - datetime(2004, 2, 29)),
    ],
)
def test_period(schedule_type: str, config: dict, expected: timedelta | None) -> None:
    assert module.period(schedule_config.validate(schedule_type, config, NEW_YORK)) == expected


def test_preview_ten_daily_runs_mark_the_gap() -> None:
    schedule = schedule_config.validate("daily", {"time": "02:30"}, BERLIN)

    runs = module.preview(schedule, utc(2026, 3, 24, 12), 10)

    cet = [(utc(2026, 3, day, 1, 30), None) for day in (25, 26, 27, 28)]
    gap = [(utc(2026, 3, 29, 1), GAP)]
    cest = [(utc(2026, 3, 30, 0, 30), None), (utc(2026, 3, 31, 0, 30), None)]
    cest += [(utc(2026, 4, day, 0, 30), None) for day in (1, 2, 3)]
    assert runs == cet + gap + cest


def test_preview_ten_hourly_runs_mark_the_repeat() -> None:
    schedule = schedule_config.validate("cron", {"cron": "0 * * * *"}, NEW_YORK)

    runs = module.preview(schedule, utc(2026, 11, 1, 2, 30), 10)

    assert [run for run, _ in runs] == [utc(2026, 11, 1, 3 + index) for index in range(10)]
    notes = [note for _, note in runs]
    assert notes == [None, None, REPEAT, REPEAT, None, None, None, None, None, None]


def test_preview_chains_interval_runs_from_created_at() -> None:
    schedule = schedule_config.validate("interval", {"interval": 45, "unit": "minutes"}, "UTC")

    runs = module.preview(schedule, utc(2026, 1, 1, 1), 3, created_at=utc(2026, 1, 1, 0, 10))

    assert runs == [
        (utc(2026, 1, 1, 1, 40), None),
        (utc(2026, 1, 1, 2, 25), None),
        (utc(2026, 1, 1, 3, 10), None),
    ]


def test_preview_of_a_once_has_one_run() -> None:
    schedule = schedule_config.validate("once", {"datetime": "2026-10-25 02:30"}, BERLIN)

    assert module.preview(schedule, utc(2026, 1, 1), 10) == [(utc(2026, 10, 25, 0, 30), REPEAT)]


def test_preview_count_zero_and_negative() -> None:
    schedule = schedule_config.validate("daily", {"time": "02:00"}, "UTC")

    assert module.preview(schedule, utc(2026, 1, 1), 0) == []
    with pytest.raises(InvalidInput, match="^count: -1 "):
        module.preview(schedule, utc(2026, 1, 1), -1)


def test_importing_schedule_does_not_import_croniter() -> None:
    # `tapesched --help` imports this module; croniter must stay out of that path.
    code = "import sys, tapesched.schedule; print('croniter' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "False"


# ---------------------------------------------------------------- the ends of the calendar

# (type, config, zone, after, the next run in UTC or None: past year 9999 nothing is
# representable, so there is honestly no next run)
CALENDAR_END_ROWS = [
    ("daily", {"time": "23:00"}, "Pacific/Pago_Pago", utc(9999, 12, 30, 12),
     utc(9999, 12, 31, 10)),
    ("daily", {"time": "23:00"}, "Pacific/Pago_Pago", utc(9999, 12, 31, 10), None),
    ("daily", {"time": "00:30"}, "Pacific/Kiritimati", utc(9999, 12, 31), None),
    ("weekly", {"day_of_week": [0, 1, 2, 3, 4, 5, 6], "time": "23:59"}, "UTC",
     utc(9999, 12, 31, 12), utc(9999, 12, 31, 23, 59)),
    ("weekly", {"day_of_week": 4, "time": "23:59"}, "UTC", utc(9999, 12, 31, 23, 59), None),
    ("monthly", {"day_of_month": 31, "time": "02:00"}, "UTC", utc(9999, 12, 15),
     utc(9999, 12, 31, 2)),
    ("monthly", {"day_of_month": 31, "time": "02:00"}, "UTC", utc(9999, 12, 31, 2), None),
    ("monthly", {"day_of_month": 1, "time": "02:00"}, "America/Los_Angeles", utc(9999, 12, 2),
     None),
    ("yearly", {"month": 12, "day": 31, "time": "02:00"}, "UTC", utc(9999, 1, 1),
     utc(9999, 12, 31, 2)),
    ("yearly", {"month": 2, "day": 29, "time": "02:00"}, "UTC", utc(9999, 3, 1), None),
    ("cron", {"cron": "0 0 1 1 *"}, "UTC", utc(9998, 6, 1), utc(9999, 1, 1)),
    ("cron", {"cron": "0 0 1 1 *"}, "UTC", utc(9999, 1, 1), None),
    ("cron", {"cron": "0 0 29 2 */7"}, "UTC", utc(9990, 1, 1), None),  # next: year 10000+
    ("cron", {"cron": "*/5 * * * *"}, "Pacific/Kiritimati", utc(9999, 12, 31, 9),
     utc(9999, 12, 31, 9, 5)),
    ("cron", {"cron": "*/5 * * * *"}, "Pacific/Kiritimati", utc(9999, 12, 31, 9, 55), None),
    ("cron", {"cron": "*/5 * * * *"}, "America/Los_Angeles", utc(9999, 12, 31, 23, 50),
     utc(9999, 12, 31, 23, 55)),
    ("cron", {"cron": "*/5 * * * *"}, "America/Los_Angeles", utc(9999, 12, 31, 23, 55), None),
    ("cron", {"cron": "0 12 * * *"}, "America/Los_Angeles", utc(9999, 12, 31, 21), None),
    ("once", {"datetime": "9999-12-30 23:59:59"}, "Pacific/Pago_Pago", utc(2026, 1, 1),
     utc(9999, 12, 31, 10, 59, 59)),
    ("once", {"datetime": "0001-01-02 00:00"}, "Pacific/Kiritimati", utc(1, 1, 1, 10),
     None),  # refused below: `after` is before 0001-01-02 UTC
    ("interval", {"interval": 3660, "unit": "days", "start": "9999-12-30 00:00"}, "UTC",
     utc(2026, 1, 1), utc(9999, 12, 30)),
    ("interval", {"interval": 3660, "unit": "days", "start": "9999-12-30 00:00"}, "UTC",
     utc(9999, 12, 30), None),
    ("interval", {"interval": 1, "unit": "minutes"}, "Pacific/Kiritimati",
     datetime.max.replace(tzinfo=UTC), None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("schedule_type", "config", "zone", "after", "expected"),
    CALENDAR_END_ROWS[:19] + CALENDAR_END_ROWS[20:],
)
def test_next_run_at_the_end_of_the_calendar(
    schedule_type: str, config: dict, zone: str, after: datetime, expected: datetime | None
) -> None:
    schedule = schedule_config.validate(schedule_type, config, zone)

    assert module.next_run(schedule, after) == expected
    assert module.next_run(schedule, datetime.max.replace(tzinfo=UTC)) is None
    runs = module.preview(schedule, after, 3)
    assert [run for run, _ in runs][:1] == ([expected] if expected else [])
    assert module.describe(schedule) and module.period(schedule) != timedelta(0)


@pytest.mark.parametrize(
    "after",
    [
        utc(1, 1, 1, 23, 59),
        datetime.min.replace(tzinfo=UTC),
        datetime(1, 1, 1, 12, tzinfo=ZoneInfo("Pacific/Kiritimati")),  # before year 1 in UTC
        datetime(1, 1, 1, 23, tzinfo=timezone(timedelta(hours=23, minutes=59))),
    ],
)
def test_next_run_refuses_instants_before_the_calendar(after: datetime) -> None:
    schedule = schedule_config.validate(*CALENDAR_END_ROWS[19][:3])

    with pytest.raises(InvalidInput, match=r"^after: .* is out of range; expected an instant"):
        module.next_run(schedule, after)
    with pytest.raises(InvalidInput, match=r"^now: .* is out of range"):
        module.is_past_once(schedule, after)


def test_next_run_interval_from_the_last_run_past_9999_is_none() -> None:
    schedule = schedule_config.validate("interval", {"interval": 1, "unit": "days"}, "UTC")

    run = module.next_run(schedule, utc(9999, 12, 30), last_scheduled=utc(9999, 12, 31))

    assert run is None
    assert module.is_past_once(schedule, datetime.max.replace(tzinfo=UTC)) is False
