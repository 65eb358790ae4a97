"""A grandfather-father-son backup task driven over two months of daily ticks: `tick
--now` (the real entry point, in this process to keep the test quick), real detached
runners, real tar on a virtual tape, the other commands as real processes.

One task, `--daily 01:00` in Asia/Tokyo (01:00 there is 16:00 UTC the day before, so a
level taken from the UTC date would be a day off), with levels full on "1st sun",
differential on "sun", incremental on "*". Files are added, changed, renamed and deleted
between the days; a restore to a Thursday must give that Thursday's tree byte for byte,
from the full, that week's differential and the incrementals after it.
"""

from __future__ import annotations

import json
import os
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import conftest_actions as support
from helpers import rows, wait_until

ZONE = ZoneInfo("Asia/Tokyo")
FIRST = date(2031, 3, 2)  # the first Sunday of March 2031
DAYS = 61  # to 2031-05-01
LEVELS = [
    {"level": "full", "on": "1st sun"},
    {"level": "differential", "on": "sun"},
    {"level": "incremental", "on": "*"},
]


def _slot(day: date) -> str:
    return datetime(day.year, day.month, day.day, 1, tzinfo=ZONE).isoformat()


def _change(source: Path, number: int) -> None:
    """The day's changes: a file added, the journal appended to, every third day a file
    deleted, every fifth a folder renamed, every seventh a file rewritten with its size."""
    support.write(source / "days" / f"day {number:02d}.txt", f"day {number}\n" * (number + 1))
    with open(source / "journal.log", "a", encoding="utf-8") as journal:
        journal.write(f"entry {number}\n")
    if number % 3 == 2:
        (source / "days" / f"day {number - 2:02d}.txt").unlink()
    if number % 5 == 4:
        folder = next(path for path in source.iterdir() if path.name.startswith("box"))
        folder.rename(source / f"box {number}")
    if number % 7 == 6:
        support.write(source / "fixed.bin", bytes([number]) * 64)


def _wait_idle(db: Path, count: int) -> None:
    """Until `count` runs were claimed and none is running (the runner finished)."""

    def idle() -> bool:
        [(claimed, running)] = rows(
            "SELECT count(*), coalesce(sum(status = 'running'), 0) FROM executions "
            "WHERE status != 'skipped'",
            db=db,
        )
        return claimed == count and running == 0

    wait_until(idle, timeout=30, poll=0.02)


def test_gfs_levels_over_two_months_and_a_thursday_restores_byte_for_byte(
    sh, run_cli, home: Path, tmp_path: Path
) -> None:
    source, vtape, db = tmp_path / "data", tmp_path / "vtape", home / "tapesched.db"
    support.write(source / "journal.log", "start\n")
    support.write(source / "box" / "inner.txt", "in a box\n")
    support.write(source / "fixed.bin", b"\x00" * 64)
    config = {"source_paths": [str(source)], "device": str(vtape), "levels": LEVELS}
    added = sh(
        "add", "gfs", "--action", "backup", "--action-config", json.dumps(config),
        "--daily", "01:00", "--tz", "Asia/Tokyo", "--misfire", "skip",
    )  # fmt: skip
    assert added.code == 0, added.err
    # The task is due tomorrow (the wall clock's): one tick on the eve of the first day
    # drops that slot (misfire skip), and the schedule goes on from there.
    eve = run_cli(
        "tick", "--now", (datetime.fromisoformat(_slot(FIRST)) - timedelta(hours=12)).isoformat()
    )
    assert eve.code == 0, eve.err

    trees: dict[date, dict[str, str]] = {}
    for number in range(DAYS):
        day = FIRST + timedelta(days=number)
        _change(source, number)
        trees[day] = support.tree_state(source)
        ticked = run_cli("tick", "--now", _slot(day))
        assert ticked.code == 0, ticked.err
        _wait_idle(db, number + 1)

    done = sh("logs", "gfs", "--json", "--limit", "1000")
    assert done.code == 0, done.err
    runs = {}
    for entry in done.json()["logs"]:
        if entry["status"] == "skipped":
            continue
        assert entry["status"] == "success", entry
        assert entry["trigger"] == "schedule"
        local = datetime.fromisoformat(entry["scheduled_for"]).astimezone(ZONE)
        assert (local.hour, local.minute) == (1, 0)
        runs[local.date()] = entry
    assert sorted(runs) == [FIRST + timedelta(days=n) for n in range(DAYS)]

    for day, entry in runs.items():
        result = entry["result"]
        sunday = day.weekday() == 6
        expected = (
            "full" if sunday and day.day <= 7 else "differential" if sunday else "incremental"
        )
        assert result["ran_as"] == result["task_type_requested"] == expected, day
        assert result["level_rule"] == {"full": "1st sun", "differential": "sun"}.get(expected, "*")
        previous = runs.get(day - timedelta(days=1))
        if expected == "full":
            assert result["level"] == 0
        elif expected == "differential":
            assert result["level"] == 1
        else:
            assert result["level"] == previous["result"]["level"] + 1
    fulls = sorted(day for day, entry in runs.items() if entry["result"]["ran_as"] == "full")
    assert fulls == [date(2031, 3, 2), date(2031, 4, 6)]

    # A differential holds everything since the full: more than the incremental before it.
    assert runs[date(2031, 4, 20)]["result"]["files"] > runs[date(2031, 4, 19)]["result"]["files"]

    thursday = date(2031, 4, 17)
    week = [date(2031, 4, 6), date(2031, 4, 13)] + [date(2031, 4, d) for d in (14, 15, 16, 17)]
    expected_plan = [runs[day]["execution_id"] for day in week]
    points = sh("restore-points", "gfs", "--json")
    assert points.code == 0, points.err
    by_id = {point["execution_id"]: point for point in points.json()}
    point = by_id[runs[thursday]["execution_id"]]
    assert point["backups"] == expected_plan
    assert point["ran_as"] == "incremental" and point["level"] == 5
    assert by_id[runs[date(2031, 4, 13)]["execution_id"]]["ran_as"] == "differential"
    table = sh("restore-points", "gfs", "--full")
    assert "differential" in table.out and "incremental 5" in table.out

    target = tmp_path / "restore"
    recovery = {
        "from_task": "gfs",
        "point": runs[thursday]["execution_id"],
        "target_path": str(target),
    }
    added = sh(
        "add", "restore", "--action", "recovery", "--action-config", json.dumps(recovery),
        "--once", "2099-01-01 00:00",
    )  # fmt: skip
    assert added.code == 0, added.err
    restored = sh("run", "restore", "--wait", "--json")
    assert restored.code == 0, restored.err
    assert restored.json()["result"]["chain"] == expected_plan
    assert support.tree_state(support.restored(target, source)) == trees[thursday]
    assert trees[thursday] != trees[thursday + timedelta(days=1)]
    assert os.listdir(target) == [str(source).lstrip("/").split("/")[0]]
