"""Ticks every ten minutes through each DST change: every fixed-time slot runs once.

The clock is the only fake: `tick.tick(paths, now)` is called in this process
with `now` stepping through two days around each change, and every due slot is
claimed and launched as a real runner. The expected run instants are written
out by hand from the DST rule (cron(8)'s: a time in the gap runs at the end of
the gap, a repeated time runs at its first occurrence).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers import rows, wait_until

from tapesched import paths as state
from tapesched import tick
from tapesched.store import tasks as task_rows
from tapesched.store.db import decode_time, open_database

pytestmark = pytest.mark.usefixtures("backend")

CASES = [
    # (name, schedule options, window start and end in UTC, expected runs in UTC)
    ("ny-fall", ["--daily", "01:30", "--tz", "America/New_York"],
     "2026-10-31T04:00", "2026-11-02T08:00",
     ["2026-10-31T05:30", "2026-11-01T05:30", "2026-11-02T06:30"]),
    ("ny-spring", ["--daily", "02:30", "--tz", "America/New_York"],
     "2026-03-07T05:00", "2026-03-09T08:00",
     ["2026-03-07T07:30", "2026-03-08T07:00", "2026-03-09T06:30"]),
    ("berlin-spring", ["--cron", "30 2 * * *", "--tz", "Europe/Berlin"],
     "2026-03-28T00:00", "2026-03-30T02:00",
     ["2026-03-28T01:30", "2026-03-29T01:00", "2026-03-30T00:30"]),
    ("berlin-fall", ["--cron", "30 2 * * *", "--tz", "Europe/Berlin"],
     "2026-10-24T00:00", "2026-10-26T02:00",
     ["2026-10-24T00:30", "2026-10-25T00:30", "2026-10-26T01:30"]),
    ("howe-spring", ["--daily", "02:15", "--tz", "Australia/Lord_Howe"],
     "2026-10-02T14:00", "2026-10-04T16:00",
     ["2026-10-02T15:45", "2026-10-03T15:30", "2026-10-04T15:15"]),
    ("howe-fall", ["--weekly", "sun", "--at", "01:45", "--tz", "Australia/Lord_Howe"],
     "2026-04-04T13:00", "2026-04-05T16:00",
     ["2026-04-04T14:45"]),
]  # fmt: skip


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(("name", "options", "start", "end", "expected"), CASES)
def test_ticks_through_a_dst_change_run_each_slot_once(
    run_cli, home: Path, name, options, start, end, expected
):
    assert run_cli("add", name, *options, "--command", "true").code == 0
    paths = state.resolve()
    with open_database(paths) as db, db.write():
        task = task_rows.find(db, name)
        # As if the task had been added before the window.
        task_rows.update(db, task.id, {"next_run_time": utc(expected[0])})
    now, stop = utc(start), utc(end)
    while now <= stop:
        report = tick.tick(paths, now, max_concurrent=50)
        assert report.problems == []
        now += timedelta(minutes=10)

    def claimed():
        return rows("SELECT scheduled_for, status FROM executions ORDER BY scheduled_for")

    found = wait_until(lambda: (r := claimed()) and all(s != "running" for _, s in r) and r, 60)
    slots = [decode_time(when) for when, _ in found]
    assert slots == [utc(text) for text in expected]
    # Runners may still be going when the fake clock reaches the next day's slot, so a
    # slot is either run or recorded skipped: either way it is claimed exactly once.
    assert {status for _, status in found} <= {"success", "skipped"}
