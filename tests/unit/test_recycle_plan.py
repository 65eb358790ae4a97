"""Which expired volumes cleanup recycles (cleanup.plan_recycling), and restore plans that
would skip a recycled level (recovery.restore_plan)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from tapesched.actions.cleanup import plan_recycling
from tapesched.actions.recovery import restore_plan
from tapesched.store.catalog import Backup

NOW = datetime(2026, 6, 1, tzinfo=UTC)


@dataclass
class Volume:
    label: str
    state: str
    retained_until: datetime | None


@dataclass
class Piece:
    volume: str


def backup(execution_id: str, level: int, chain: str = "c1") -> Backup:
    ran_as = "full" if level == 0 else "incremental"
    result = {"chain_id": chain, "level": level, "ran_as": ran_as, "backend": "media"}
    return Backup(execution_id, 1, NOW - timedelta(days=60), result)


def expired(label: str, state: str = "full") -> Volume:
    return Volume(label, state, NOW - timedelta(days=1))


def retained(label: str) -> Volume:
    return Volume(label, "append", NOW + timedelta(days=1))


def test_an_older_expired_set_goes_and_the_newest_set_stays() -> None:
    backups = [backup("f1", 0), backup("i1", 1), backup("f2", 0)]
    pieces = {"f1": [Piece("A"), Piece("B")], "i1": [Piece("B")], "f2": [Piece("C")]}
    plan = plan_recycling([expired("A"), expired("B"), expired("C")], backups, pieces, NOW)
    assert plan.recycle == ["A", "B"]
    assert plan.backups_dropped == ["f1", "i1"]
    assert "newest restore point of chain c1" in plan.kept["C"]


def test_a_set_with_a_member_on_a_retained_volume_keeps_all_its_volumes() -> None:
    backups = [backup("f1", 0), backup("i1", 1), backup("f2", 0)]
    pieces = {"f1": [Piece("A")], "i1": [Piece("B")], "f2": [Piece("C")]}
    volumes = [expired("A"), retained("B"), expired("C")]
    plan = plan_recycling(volumes, backups, pieces, NOW)
    assert plan.recycle == []
    assert "also lies on B" in plan.kept["A"]


def test_a_volume_shared_with_a_needed_backup_stays_and_a_backup_spanning_it_is_kept() -> None:
    backups = [backup("f1", 0), backup("f2", 0), backup("f3", 0)]
    # f1 spans A and B; f2 lies on B alone (and a retained volume D); f3 is the newest.
    pieces = {"f1": [Piece("A"), Piece("B")], "f2": [Piece("B"), Piece("D")], "f3": [Piece("E")]}
    volumes = [expired("A"), expired("B"), retained("D"), expired("E")]
    plan = plan_recycling(volumes, backups, pieces, NOW)
    assert plan.recycle == ["A"]
    assert plan.backups_dropped == ["f1"]
    assert set(plan.kept) == {"B", "E"}


@pytest.mark.parametrize("state", ["scratch", "error", "retired"])
def test_only_append_and_full_volumes_are_recycled(state: str) -> None:
    backups = [backup("f1", 0), backup("f2", 0)]
    pieces = {"f1": [Piece("A")], "f2": [Piece("B")]}
    plan = plan_recycling([expired("A", state), expired("B")], backups, pieces, NOW)
    assert plan.recycle == []


def test_chains_are_judged_apart() -> None:
    backups = [backup("a1", 0, "ca"), backup("b1", 0, "cb"), backup("a2", 0, "ca")]
    pieces = {"a1": [Piece("A")], "b1": [Piece("B")], "a2": [Piece("C")]}
    plan = plan_recycling([expired("A"), expired("B"), expired("C")], backups, pieces, NOW)
    assert plan.recycle == ["A"]
    assert set(plan.kept) == {"B", "C"}


def test_a_restore_plan_refuses_a_chain_with_a_level_gone() -> None:
    chain = [backup("f", 0), backup("i1", 1), backup("i3", 3)]
    with pytest.raises(ValueError, match="level 2 before the point is gone"):
        restore_plan(chain, "latest")
    assert [item.execution_id for item in restore_plan(chain[:2], "latest")] == ["f", "i1"]
