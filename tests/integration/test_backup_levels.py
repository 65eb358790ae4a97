"""Backup levels in process, on real files and real tar: differentials, levels by date,
the manual override, the fallback to a full, what a failed run leaves, restore sets; and
the commands that show levels (add, preview, restore-points) through the real entry point.
"""

from __future__ import annotations

import dataclasses
import json
import stat
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "end_to_end"))
import conftest_actions as support  # noqa: E402

GFS = [
    {"level": "full", "on": "1st sun"},
    {"level": "differential", "on": "sun"},
    {"level": "incremental", "on": "*"},
]


@pytest.fixture
def harness(home: Path) -> support.Harness:
    return support.Harness(home)


def _config(tmp_path: Path, **extra: object) -> dict:
    return {"source_paths": [str(tmp_path / "data")], "device": str(tmp_path / "vtape"), **extra}


def _at(when: datetime | None = None, level: str | None = None, zone: str | None = None) -> Any:
    """A wrap for Harness.run: the run's slot, its manual level, the task's zone."""

    def wrap(context: Any) -> None:
        context.scheduled_for = when
        context.level = level
        if zone is not None:
            context.task = dataclasses.replace(context.task, timezone=zone)

    return wrap


def _restore(harness: support.Harness, tmp_path: Path, point: str, task: str = "full") -> Any:
    name = f"restore-{uuid.uuid4().hex[:8]}"
    target = tmp_path / name
    harness.add(name, "recovery", {"from_task": task, "target_path": str(target), "point": point})
    run = harness.run(name)
    assert run.status == "success", harness.output(run)
    return run, target


def test_a_differential_holds_everything_since_the_full_and_restores_with_it(
    tmp_path: Path, harness: support.Harness
) -> None:
    data = tmp_path / "data"
    support.make_tree(data)
    for name, level in (("full", "full"), ("diff", "differential"), ("incr", "incremental")):
        harness.add(name, "backup", _config(tmp_path, task_type=level))
    runs, states = [], []

    def step(name: str) -> None:
        states.append(support.tree_state(data))
        runs.append(harness.run(name))
        assert runs[-1].status == "success", harness.output(runs[-1])

    step("full")
    (data / "plain.txt").write_text("changed on day 1\n")
    step("incr")
    support.write(data / "day2.txt", "added on day 2\n")
    (data / "with space.txt").unlink()
    step("incr")
    (data / "deep").rename(data / "deep moved")
    step("diff")
    support.write(data / "day4.txt", "added on day 4\n")
    step("incr")
    (data / "day2.txt").unlink()
    step("diff")
    (data / "day4.txt").write_text("changed on day 6\n")
    step("incr")

    kinds = [(run.result["ran_as"], run.result["level"]) for run in runs]
    assert kinds == [
        ("full", 0),
        ("incremental", 1),
        ("incremental", 2),
        ("differential", 1),
        ("incremental", 2),
        ("differential", 1),
        ("incremental", 2),
    ]
    ids = [run.execution_id for run in runs]
    assert [run.result["based_on"] for run in runs] == [
        None,
        *ids[:2],
        ids[0],
        ids[3],
        ids[0],
        ids[5],
    ]
    # The second differential holds day 1's change, day 2's file is gone again, the move
    # and day 4's file: what changed since the full, not since the first differential.
    second = runs[5].result
    assert second["files"] > runs[4].result["files"]
    assert "plain.txt" in _members(harness, second)
    assert "day4.txt" in _members(harness, second)
    assert "plain.txt" not in _members(harness, runs[4].result)

    plans = {
        1: [0, 1],
        2: [0, 1, 2],
        3: [0, 3],
        4: [0, 3, 4],
        5: [0, 5],
        6: [0, 5, 6],
    }
    for point, members in plans.items():
        restored, target = _restore(harness, tmp_path, ids[point])
        assert restored.result["chain"] == [ids[index] for index in members]
        assert support.tree_state(support.restored(target, data)) == states[point], point


def _members(harness: support.Harness, result: dict) -> str:
    """The names in an archive, as `tar -t` prints them (one string)."""
    listing = subprocess.run(
        ["tar", "-tf", result["archive_path"]], capture_output=True, text=True, check=True
    )
    return listing.stdout


def test_a_differential_without_a_kept_full_snapshot_runs_as_a_full_and_says_why(
    tmp_path: Path, harness: support.Harness
) -> None:
    support.make_tree(tmp_path / "data")
    harness.add("full", "backup", _config(tmp_path))
    harness.add("diff", "backup", _config(tmp_path, task_type="differential"))

    first = harness.run("diff")  # no full yet in this chain
    assert (first.result["ran_as"], first.result["level"]) == ("full", 0)
    assert first.result["task_type_requested"] == "differential"
    assert "running a full backup" in harness.output(first)
    chain = first.result["chain_id"]
    kept = harness.paths.snapshots / f"{chain}.full.snar"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert kept.read_bytes() == (harness.paths.snapshots / f"{chain}.snar").read_bytes()

    kept.unlink()  # as in a chain begun before differentials
    again = harness.run("diff")
    assert (again.result["ran_as"], again.result["level"]) == ("full", 0)
    assert "no full backup's snapshot is kept for this chain" in harness.output(again)
    assert kept.exists()
    (tmp_path / "data" / "plain.txt").write_text("changed\n")
    third = harness.run("diff")
    assert (third.result["ran_as"], third.result["level"]) == ("differential", 1)
    assert third.result["files"] == 1


def _stop_after_tar(context: Any) -> None:
    run = context.run

    def run_then_stop(*args: Any, **kwargs: Any) -> Any:
        outcome = run(*args, **kwargs)
        context.cancelled = True  # as if `tapesched stop` came now
        return outcome

    context.run = run_then_stop


@pytest.mark.parametrize("level", ["full", "differential", "incremental"])
def test_a_stopped_run_changes_neither_snapshot(
    tmp_path: Path, harness: support.Harness, level: str
) -> None:
    support.make_tree(tmp_path / "data")
    harness.add("full", "backup", _config(tmp_path))
    harness.add("other", "backup", _config(tmp_path, task_type=level))
    chain = harness.run("full").result["chain_id"]
    (tmp_path / "data" / "plain.txt").write_text("changed\n")
    assert harness.run("other").status == "success"
    snapshots = [harness.paths.snapshots / f"{chain}{end}" for end in (".snar", ".full.snar")]
    state = harness.paths.snapshots / f"{chain}.json"
    before = [path.read_bytes() for path in [*snapshots, state]]
    (tmp_path / "data" / "plain.txt").write_text("changed again\n")

    stopped = harness.run("other", wrap=_stop_after_tar)

    assert stopped.status == "cancelled"
    assert [path.read_bytes() for path in [*snapshots, state]] == before
    assert not [path for path in harness.paths.snapshots.iterdir() if path.name.startswith(".")]


def test_levels_pick_the_level_by_the_slot_s_date_in_the_task_s_zone(
    tmp_path: Path, harness: support.Harness
) -> None:
    support.make_tree(tmp_path / "data")
    harness.add("gfs", "backup", _config(tmp_path, levels=GFS))
    sunday_first = datetime(2026, 3, 1, 1, tzinfo=UTC)
    # 16:00 UTC on Saturday the 7th is 01:00 on Sunday the 8th in Tokyo.
    saturday_utc = datetime(2026, 3, 7, 16, tzinfo=UTC)

    full = harness.run("gfs", wrap=_at(sunday_first))
    saturday = harness.run("gfs", wrap=_at(saturday_utc))
    sunday = harness.run("gfs", wrap=_at(saturday_utc, zone="Asia/Tokyo"))
    asked = harness.run("gfs", wrap=_at(saturday_utc, level="full"))
    harness.clock = datetime(2026, 3, 15, 12, tzinfo=UTC)  # a Sunday: no slot, the clock
    unscheduled = harness.run("gfs", wrap=_at(None))

    got = [
        (run.result["ran_as"], run.result["level"], run.result.get("level_rule"))
        for run in (full, saturday, sunday, asked, unscheduled)
    ]
    assert got == [
        ("full", 0, "1st sun"),
        ("incremental", 1, "*"),
        ("differential", 1, "sun"),
        ("full", 0, None),
        ("differential", 1, "sun"),
    ]
    assert asked.result["task_type_requested"] == "full"
    assert "full as this run asked (--level)" in harness.output(asked)
    assert "differential by the rule 'sun' of the task's levels" in harness.output(sunday)


def test_a_manual_level_overrides_task_type(tmp_path: Path, harness: support.Harness) -> None:
    support.make_tree(tmp_path / "data")
    harness.add("incr", "backup", _config(tmp_path, task_type="incremental"))
    assert harness.run("incr").result["ran_as"] == "full"  # nothing to build on yet
    assert harness.run("incr", wrap=_at(level="differential")).result["ran_as"] == "differential"
    assert harness.run("incr").result["level"] == 2
    bad = harness.run("incr", wrap=_at(level="weekly"))
    assert bad.status == "failed" and "level 'weekly' is not one of" in bad.error_message


def test_a_differential_chain_on_labelled_volumes_restores_from_its_shortest_set(
    run_cli: Any, home: Path, tmp_path: Path
) -> None:
    assert run_cli("init").code == 0
    assert run_cli("pool", "add", "daily", "--retention-days", "7").code == 0
    library = tmp_path / "vlib"
    added = run_cli(
        "library", "add", "vlib", "--path", str(library), "--slots", "2", "--capacity", "4M"
    )
    assert added.code == 0, added.err
    assert run_cli("library", "inventory", "vlib").code == 0
    labelled = run_cli(
        "media", "label", "VLIB001", "--pool", "scratch", "--library", "vlib", "--slot", "1"
    )
    assert labelled.code == 0, labelled.err
    harness = support.Harness(home)
    data = tmp_path / "data"
    support.make_tree(data)
    config = {"source_paths": [str(data)], "pool": "daily", "library": "vlib"}
    for name, level in (("full", "full"), ("diff", "differential"), ("incr", "incremental")):
        harness.add(name, "backup", {**config, "task_type": level})
    runs = []
    for name, change in (("full", "a"), ("incr", "b"), ("diff", "c"), ("incr", "d")):
        support.write(data / f"{change}.txt", f"{change}\n")
        runs.append(harness.run(name))
        assert runs[-1].status == "success", harness.output(runs[-1])
    state = support.tree_state(data)

    restored, target = _restore(harness, tmp_path, "latest")

    ids = [run.execution_id for run in runs]
    assert restored.result["chain"] == [ids[0], ids[2], ids[3]]
    assert support.tree_state(support.restored(target, data)) == state
    points = run_cli("restore-points", "full", "--json")
    assert points.code == 0, points.err
    assert [point["ran_as"] for point in points.json()] == [
        "full",
        "incremental",
        "differential",
        "incremental",
    ]
    assert points.json()[-1]["backups"] == [ids[0], ids[2], ids[3]]


# --------------------------------------------------------------------------- the commands


def test_restore_points_show_the_level_of_each_backup(
    tmp_path: Path, harness: support.Harness, run_cli: Any
) -> None:
    support.make_tree(tmp_path / "data")
    harness.add("full", "backup", _config(tmp_path))
    harness.add("diff", "backup", _config(tmp_path, task_type="differential"))
    harness.add("incr", "backup", _config(tmp_path, task_type="incremental"))
    for name in ("full", "incr", "diff", "incr", "incr"):
        (tmp_path / "data" / "plain.txt").write_text(f"changed before {name}\n")
        assert harness.run(name).status == "success"

    table = run_cli("restore-points", "full", "--full")
    points = run_cli("restore-points", "full", "--json").json()

    assert table.code == 0, table.err
    header, *lines = table.out.splitlines()
    start, end = header.index("LEVEL"), header.index("FILES")
    levels = [line[start:end].strip() for line in lines]
    assert levels == ["full", "incremental 1", "differential", "incremental 2", "incremental 3"]
    assert [(point["ran_as"], point["level"]) for point in points] == [
        ("full", 0),
        ("incremental", 1),
        ("differential", 1),
        ("incremental", 2),
        ("incremental", 3),
    ]
    assert [len(point["backups"]) for point in points] == [1, 2, 2, 3, 4]


def test_preview_shows_the_level_of_each_run(run_cli: Any, tmp_path: Path) -> None:
    config = _config(tmp_path, levels=GFS)
    added = run_cli(
        "add", "gfs", "--action", "backup", "--action-config", json.dumps(config),
        "--daily", "01:00", "--tz", "Asia/Tokyo",
    )  # fmt: skip
    assert added.code == 0, added.err
    shown = run_cli("preview", "gfs", "--from", "2026-02-27", "-n", "10", "--json")
    assert shown.code == 0, shown.err
    runs = shown.json()["runs"]
    assert [(run["time"][:10], run["level"]) for run in runs] == [
        ("2026-02-27", "incremental"),
        ("2026-02-28", "incremental"),
        ("2026-03-01", "full"),
        *((f"2026-03-0{day}", "incremental") for day in range(2, 8)),
        ("2026-03-08", "differential"),
    ]
    text = run_cli("preview", "gfs", "--from", "2026-02-27", "-n", "10").out.splitlines()
    assert text[1:4] == [
        "Fri 2026-02-27 01:00:00 JST  incremental",
        "Sat 2026-02-28 01:00:00 JST  incremental",
        "Sun 2026-03-01 01:00:00 JST  full",
    ]

    plain = _config(tmp_path, task_type="differential")
    plain["device"] = str(tmp_path / "other")
    run_cli(
        "add", "weekly", "--action", "backup", "--action-config", json.dumps(plain),
        "--weekly", "sun", "--at", "02:00",
    )  # fmt: skip
    weekly = run_cli("preview", "weekly", "-n", "2", "--json").json()["runs"]
    assert [run["level"] for run in weekly] == ["differential", "differential"]
    run_cli("add", "echo", "--daily", "01:00", "--command", "true")
    other = run_cli("preview", "echo", "-n", "2", "--json").json()["runs"]
    assert all(set(run) == {"time", "note"} for run in other)


def test_add_refuses_bad_level_rules_naming_the_rule(run_cli: Any, tmp_path: Path) -> None:
    rules = [{"level": "full", "on": "1st sun"}, {"level": "incremental", "on": "weekdays"}]
    config = _config(tmp_path, levels=rules)
    refused = run_cli(
        "add",
        "gfs",
        "--action",
        "backup",
        "--action-config",
        json.dumps(config),
        "--daily",
        "01:00",
    )
    assert refused.code == 2
    assert refused.one_error_line.startswith(
        "tapesched: action_config.levels[1]: rule 'weekdays' (incremental): 'weekdays' is not "
        "a word of a rule"
    )
    both = run_cli(
        "add", "gfs", "--action", "backup", "--daily", "01:00",
        "--action-config", json.dumps(_config(tmp_path, levels=GFS, task_type="full")),
    )  # fmt: skip
    assert both.code == 2 and "not both" in both.one_error_line
    gaps = run_cli(
        "add", "gfs", "--action", "backup", "--daily", "01:00",
        "--action-config", json.dumps(_config(tmp_path, levels=GFS[:2])),
    )  # fmt: skip
    assert gaps.code == 2
    assert gaps.one_error_line.endswith(
        "no rule gives a level to Mon 2001-01-01 (nor to the days like it); end the rules "
        'with {"level": "incremental", "on": "*"}\n'
    )
