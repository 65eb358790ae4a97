"""Restore plans of chains with differentials: the shortest set (full, the latest
differential, the incrementals after it), refused when a level in between is gone; and
what cleanup keeps of such a chain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tapesched.actions import cleanup, recovery

T0 = datetime(2026, 1, 1, tzinfo=UTC)
KINDS = {"F": "full", "D": "differential", "I": "incremental"}


def _chain(spec: str, based: bool = True) -> list[recovery.Backup]:
    """'F0 I1 I2 D1 I2' -> backups named f0, i1, i2, d1, i2b ... with those levels, each
    based on the backup it builds on (as backup.run records it) when `based`."""
    backups: list[recovery.Backup] = []
    names: list[str] = []
    last_full = last_any = None
    for day, word in enumerate(spec.split()):
        kind, level = KINDS[word[0]], int(word[1:])
        name = word.lower()
        while name in names:
            name += "b"
        names.append(name)
        result = {"level": level, "ran_as": kind, "backend": "virtual_tape", "chain_id": "c"}
        if based:
            result["based_on"] = {"full": None, "differential": last_full}.get(kind, last_any)
        item = recovery.Backup(
            execution_id=f"{name}-0000-0000",
            task_id=1,
            completed_at=T0 + timedelta(days=day),
            result=result,
        )
        backups.append(item)
        last_any = item.execution_id
        if kind == "full":
            last_full = item.execution_id
    return backups


def _ids(items: list[recovery.Backup]) -> list[str]:
    return [item.execution_id.split("-")[0] for item in items]


WEEKS = "F0 I1 I2 I3 D1 I2 I3 D1 I2 I3 F0 I1 D1"


@pytest.mark.parametrize("based", [True, False])
@pytest.mark.parametrize(
    ("point", "expected"),
    [
        ("latest", ["f0b", "d1bb"]),
        ("i3bb-0000-0000", ["f0", "d1b", "i2bb", "i3bb"]),
        ("i2bb-0000-0000", ["f0", "d1b", "i2bb"]),
        ("d1b-0000-0000", ["f0", "d1b"]),
        ("i3b-0000-0000", ["f0", "d1", "i2b", "i3b"]),
        ("i3-0000-0000", ["f0", "i1", "i2", "i3"]),
        ("d1-0000-0000", ["f0", "d1"]),
        ("i1b-0000-0000", ["f0b", "i1b"]),
        ("f0b-0000-0000", ["f0b"]),
    ],
)
def test_the_plan_is_the_full_the_latest_differential_and_the_incrementals_after_it(
    point: str, expected: list[str], based: bool
) -> None:
    assert _ids(recovery.restore_plan(_chain(WEEKS, based), point)) == expected


@pytest.mark.parametrize(
    ("chain", "point", "reason"),
    [
        # The differential an incremental builds on is gone: the one before is level 1
        # too, but the incremental names its own base.
        (_chain("F0 I1 I2 D1 I2")[:3] + _chain("F0 I1 I2 D1 I2")[4:], "latest", "level 1"),
        # An incremental gone from the middle.
        (_chain("F0 D1 I2 I3 I4")[:2] + _chain("F0 D1 I2 I3 I4")[3:], "latest", "level 2"),
        # The full gone: only lower levels of the wrong kind before.
        (_chain("F0 D1 I2")[1:], "latest", "no full backup at or before the point"),
        # Without `based_on` (results of an older tapesched), a missing level still shows.
        (_chain("F0 I1 I2 I3", based=False)[::2], "latest", "the backup of level 1"),
    ],
)
def test_a_plan_with_a_level_gone_is_refused(chain: list, point: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as raised:
        recovery.restore_plan(chain, point)
    if "level" in reason:
        assert "before the point is gone" in str(raised.value)


def test_results_without_levels_restore_from_the_latest_full_as_before() -> None:
    backups = _chain("F0 I1 I2", based=False)
    for item in backups:
        del item.result["level"]
    assert _ids(recovery.restore_plan(backups, "latest")) == ["f0", "i1", "i2"]


def test_cleanup_keeps_whole_restore_sets_with_their_differentials() -> None:
    backups = _chain("F0 I1 D1 I2 F0 D1 I2")
    cutoff = T0 + timedelta(days=5)  # the first set expired, the second in part
    plan = cleanup.plan_archives(backups, cutoff)
    assert _ids(plan.delete) == ["f0", "i1", "d1", "i2"]
    assert _ids(plan.needed) == ["f0b"]
