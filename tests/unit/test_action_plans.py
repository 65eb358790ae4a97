"""The pure decisions of the actions: chains, restore plans, what cleanup keeps, checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tapesched.actions import backup, cleanup, health_check, recovery, retention_check

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _backup(name: str, day: int, level: int, backend: str = "virtual_tape") -> recovery.Backup:
    return recovery.Backup(
        execution_id=f"{name}-0000-0000",
        task_id=1,
        completed_at=T0 + timedelta(days=day),
        result={
            "level": level,
            "ran_as": "full" if level == 0 else "incremental",
            "backend": backend,
            "chain_id": "c",
        },
    )


def _ids(items: list[recovery.Backup]) -> list[str]:
    return [item.execution_id.split("-")[0] for item in items]


def test_chain_id_ignores_order_and_spelling_of_sources_and_device() -> None:
    first = backup.chain_id(["/data/b", "/data/a/"], "/srv/vtape/")
    assert first == backup.chain_id(["/data/a", "/data/./b"], "/srv/vtape")
    assert len(first) == 16
    assert first != backup.chain_id(["/data/a"], "/srv/vtape")
    assert first != backup.chain_id(["/data/a", "/data/b"], "/dev/nst0")


def test_task_chain_of_an_unusable_config_is_none() -> None:
    assert backup.task_chain({"device": "/x"}) is None


@pytest.mark.parametrize(
    ("sources", "members"),
    [
        (["/data/x"], ["data/x"]),
        (["/srv/b/", "/home/a b"], ["home/a b", "srv/b"]),
        (["/-odd"], ["-odd"]),
        (["/"], ["."]),
    ],
)
def test_member_names_are_relative_to_root(sources: list[str], members: list[str]) -> None:
    assert backup.member_names(sources) == members


CHAIN = [
    _backup("full1", 0, 0),
    _backup("inc1", 1, 1),
    _backup("inc2", 2, 2),
    _backup("full2", 7, 0),
    _backup("inc3", 8, 1),
]


@pytest.mark.parametrize(
    ("point", "expected"),
    [
        ("latest", ["full2", "inc3"]),
        ("inc2-0000-0000", ["full1", "inc1", "inc2"]),
        ("inc1-000", ["full1", "inc1"]),  # a unique prefix of 8+ characters
        ("full1-0000-0000", ["full1"]),
        ("full2-0000-0000", ["full2"]),
    ],
)
def test_restore_plan_takes_the_last_full_and_the_incrementals_up_to_the_point(
    point: str, expected: list[str]
) -> None:
    assert _ids(recovery.restore_plan(CHAIN, point)) == expected


@pytest.mark.parametrize(
    ("backups", "point", "reason"),
    [
        ([], "latest", "no successful backup"),
        (CHAIN, "unknown-0000", "not a successful backup of this chain"),
        (CHAIN, "inc", "not a successful backup of this chain"),  # too short a prefix
        (CHAIN[1:3], "latest", "no full backup at or before the point"),
    ],
)
def test_restore_plan_refuses(backups: list, point: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        recovery.restore_plan(backups, point)


@pytest.mark.parametrize(
    ("paths", "members"),
    [
        (["/data/x"], ["data/x"]),
        (["data/x/", "/data//y/./z"], ["data/x", "data/y/z"]),
    ],
)
def test_wanted_members(paths: list[str], members: list[str]) -> None:
    assert recovery.wanted_members(paths) == members


@pytest.mark.parametrize("path", ["/", "/data/../etc", "..", ""])
def test_wanted_members_refuses_paths_that_leave_the_backup(path: str) -> None:
    with pytest.raises(ValueError, match="not a path inside the backup"):
        recovery.wanted_members([path])


def test_select_members_keeps_what_the_archive_holds() -> None:
    names = ["data", "data/a", "data/dir", "data/dir/f", "data/ab"]
    assert recovery.select_members(names, ["data/a", "data/dir", "data/gone", "data/d"]) == [
        "data/a",
        "data/dir",
    ]


def test_count_files_counts_files_and_links_not_folders(tmp_path: Path) -> None:
    root = tmp_path / "data"
    (root / "sub").mkdir(parents=True)
    (root / "f").write_text("x")
    (root / "sub" / "g").write_text("y")
    (root / "link").symlink_to("sub")
    assert recovery.count_files(tmp_path, ["data"]) == 3
    assert recovery.count_files(tmp_path, ["data/f", "missing"]) == 1


# cleanup: days are relative to T0; the cutoff is day 10.
CUTOFF = T0 + timedelta(days=10)


@pytest.mark.parametrize(
    ("chain", "deleted", "needed"),
    [
        # two expired restore sets before a kept one: both go
        (
            [("f1", 0, 0), ("i1", 1, 1), ("f2", 5, 0), ("i2", 6, 1), ("f3", 11, 0)],
            ["f1", "i1", "f2", "i2"],
            [],
        ),
        # a kept incremental needs its expired full and the incrementals before it
        ([("f1", 2, 0), ("i1", 8, 1), ("i2", 12, 2)], [], ["f1", "i1"]),
        # the newest restore set stays even when all of it has expired
        ([("f1", 1, 0), ("i1", 2, 1), ("f2", 3, 0), ("i2", 4, 1)], ["f1", "i1"], ["f2", "i2"]),
        # nothing expired
        ([("f1", 11, 0), ("i1", 12, 1)], [], []),
        # an incremental whose full is gone starts a set of its own
        ([("i0", 1, 3), ("f1", 2, 0), ("f2", 12, 0)], ["i0", "f1"], []),
    ],
)
def test_plan_archives_keeps_what_a_kept_archive_needs(
    chain: list[tuple[str, int, int]], deleted: list[str], needed: list[str]
) -> None:
    plan = cleanup.plan_archives([_backup(*item) for item in chain], CUTOFF)
    assert _ids(plan.delete) == deleted
    assert _ids(plan.needed) == needed


def test_plan_archives_never_deletes_tape_drive_archives() -> None:
    chain = [_backup("f1", 0, 0, "tape"), _backup("f2", 11, 0, "tape")]
    assert cleanup.plan_archives(chain, CUTOFF).delete == []


@pytest.mark.parametrize(
    ("last", "ok", "words"),
    [
        (None, False, "no tick has run yet"),
        (T0 - timedelta(minutes=6), False, "6 minutes ago"),
        (T0 - timedelta(minutes=4), True, "last tick"),
        (T0, True, "last tick"),
    ],
)
def test_tick_check(last: datetime | None, ok: bool, words: str) -> None:
    check = health_check.tick_check(last, T0)
    assert check["name"] == "tick"
    assert check["ok"] is ok
    assert words in check["detail"]


@pytest.mark.parametrize(
    ("last_success", "created", "window", "ok", "words"),
    [
        (T0 - timedelta(hours=47), T0 - timedelta(days=30), timedelta(days=2), True, "47.0 hours"),
        (T0 - timedelta(hours=49), T0 - timedelta(days=30), timedelta(days=2), False, "overdue"),
        (None, T0 - timedelta(hours=1), timedelta(days=2), True, "no successful run yet"),
        (None, T0 - timedelta(days=3), timedelta(days=2), False, "never succeeded"),
        (None, T0 - timedelta(days=300), None, True, "runs once"),
    ],
)
def test_overdue_check(
    last_success: datetime | None,
    created: datetime,
    window: timedelta | None,
    ok: bool,
    words: str,
) -> None:
    check = retention_check.overdue_check("nightly", last_success, created, window, T0)
    assert check["ok"] is ok
    assert words in check["detail"]
    assert check["task"] == "nightly"
