"""The media tables' store (tapesched.store.media, revision 0003) on each backend.

Pools, libraries, volumes and pieces: their records have exactly the tables'
columns; names and labels are unique (Conflict) and ordered by code point on both
backends; a pool or a library in use is not deleted; where a volume is (slot, drive,
shelf) stays one volume per slot and per drive; the volumes a backup may write on come
in the order of preference; what a write adds is counted exactly, byte counts past 2**31
included (BIGINT on PostgreSQL); pieces are read and deleted across IN lists of any
length, and go with their executions.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlmodel import Session

from tapesched import models
from tapesched.errors import Conflict, NotFound
from tapesched.store import catalog, executions, media, tasks
from tapesched.store.db import Database, open_database
from tapesched.store.media import PieceRecord

T0 = datetime(2026, 3, 29, 0, 59, 59, 123456, tzinfo=UTC)
BIG = 3 * 2**40 + 12345  # past 32 bits (and 2**31 by far)


@pytest.fixture
def db(backend) -> Iterator[Database]:  # noqa: ANN001 - conftest.Backend
    """The test's catalog, open, on each backend."""
    with open_database(backend.paths) as database:
        yield database


def add_task(db: Database, name: str, **values) -> int:  # noqa: ANN003 - columns
    row = {
        "task_name": name,
        "description": "",
        "status": "active",
        "enabled": True,
        "schedule_type": "daily",
        "schedule_config": {"time": "02:00:00"},
        "timezone": "UTC",
        "action_type": "backup",
        "action_config": {"source_paths": ["/srv"], "device": "/srv/vtape"},
        "device": "/srv/vtape",
        "total_runs": 0,
        "success_runs": 0,
        "failure_runs": 0,
        "misfire": "run_once",
        "device_wait": 60,
        "notify_on": "failure",
        "created_at": T0,
        "updated_at": T0,
        "host": "any",
        **values,
    }
    return tasks.insert(db, row)


def add_execution(db: Database, task_id: int, execution_id: str, status: str = "success") -> None:
    executions.insert(
        db,
        {
            "execution_id": execution_id,
            "task_id": task_id,
            "created_at": T0,
            "status": status,
            "completed_at": None if status == "running" else T0,
        },
    )


def volume(label: str, **values) -> dict:  # noqa: ANN003 - columns
    return {
        "label": label,
        "state": "scratch",
        "created_at": T0,
        "updated_at": T0,
        **values,
    }


def where(record: media.VolumeRecord) -> tuple:
    return (record.library, record.slot, record.drive)


# --------------------------------------------------------------------------- the tables


def test_records_have_exactly_the_tables_columns() -> None:
    assert media.POOLS.columns == tuple(models.Pool.__table__.columns.keys())
    assert media.LIBRARIES.columns == tuple(models.Library.__table__.columns.keys())
    assert media.VOLUMES.columns == tuple(models.Volume.__table__.columns.keys())
    assert media.PIECES.columns == tuple(models.Piece.__table__.columns.keys())


def test_byte_counts_are_bigint(db: Database) -> None:
    with db.read():
        if db.shared:
            types = dict(
                db.rows(
                    "SELECT table_name || '.' || column_name, data_type "
                    "FROM information_schema.columns WHERE table_schema = 'public' "
                    "AND column_name IN ('bytes_written', 'bytes')"
                )
            )
            assert types == {"volumes.bytes_written": "bigint", "pieces.bytes": "bigint"}
        else:
            types = {name: kind for _, name, kind, *_ in db.rows("PRAGMA table_info(volumes)")} | {
                name: kind for _, name, kind, *_ in db.rows("PRAGMA table_info(pieces)")
            }
            assert (types["bytes_written"], types["bytes"]) == ("BIGINT", "BIGINT")


def test_what_sqlmodel_writes_the_store_reads_and_back(backend, db: Database) -> None:  # noqa: ANN001
    location = backend.paths.db
    url = f"sqlite:///{location}" if isinstance(location, Path) else location.render(mask=False)
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            session.add(models.Pool(name="weekly", retention_days=35, created_at=T0))
            session.add(
                models.Library(
                    name="vlib",
                    kind="virtual",
                    config={"path": "/srv/ä", "slots": 8},
                    host="h1",
                    created_at=T0,
                )
            )
            session.add(
                models.Volume(
                    label="V1",
                    pool="weekly",
                    state="append",
                    bytes_written=BIG,
                    files_written=2,
                    last_written=T0,
                    library="vlib",
                    slot=3,
                    created_at=T0,
                    updated_at=T0,
                )
            )
            session.commit()
        with db.write():
            assert media.get_pool(db, "weekly") == media.PoolRecord("weekly", 35, T0)
            assert media.get_library(db, "vlib").config == {"path": "/srv/ä", "slots": 8}
            stored = media.get_volume(db, "V1")
            assert (stored.bytes_written, stored.last_written, where(stored)) == (
                BIG,
                T0,
                ("vlib", 3, None),
            )
            task_id = add_task(db, "nightly")
            add_execution(db, task_id, "e1")
            media.add_piece(db, PieceRecord("e1", 0, "V1", 1, BIG, "ab" * 32))
            media.record_write(db, "V1", BIG, 1, T0 + timedelta(hours=1), 35)
        with Session(engine) as session:
            written = session.get(models.Volume, "V1")
            assert written.bytes_written == 2 * BIG and written.files_written == 3
            assert written.retained_until == T0 + timedelta(hours=1, days=35)
            piece = session.get(models.Piece, ("e1", 0))
            assert piece.bytes == BIG and piece.volume == "V1"
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- pools


def test_pools_are_added_changed_listed_by_code_point_and_unique(db: Database) -> None:
    names = ["b", "B", "a.b", "ab", "a", "Z9", "a-b", "9x", "a_b"]
    with db.write():
        for index, name in enumerate(names):
            record = media.add_pool(db, name, index + 1, T0 + timedelta(seconds=index))
            assert record == media.PoolRecord(name, index + 1, T0 + timedelta(seconds=index))
        with pytest.raises(Conflict, match="^pool ab exists$"):
            media.add_pool(db, "ab", 9, T0)
        media.set_pool_retention(db, "B", 400)
        with pytest.raises(NotFound, match="no such pool: nope"):
            media.set_pool_retention(db, "nope", 3)
    with db.read():
        assert [pool.name for pool in media.all_pools(db)] == sorted(names)
        assert media.get_pool(db, "B").retention_days == 400
        assert media.get_pool(db, "ab") == media.PoolRecord("ab", 4, T0 + timedelta(seconds=3))
        assert media.get_pool(db, "AB") is None


def test_a_pool_in_use_is_not_deleted(db: Database) -> None:
    with db.write():
        for name in ("weekly", "weekly2", "w_ekly"):
            media.add_pool(db, name, 35, T0)
        media.add_volume(db, volume("V1", pool="weekly", state="append"))
        media.add_volume(db, volume("V2", pool="weekly", state="retired"))
        media.add_volume(db, volume("V3"))  # the scratch pool
        add_task(db, "nightly", action_config={"pool": "weekly", "library": "vlib"})
        add_task(db, "other", action_config={"pool": "weekly2", "device": "weekly"})
        add_task(db, "check", action_type="verify", action_config={"volume": "weekly"})
        with pytest.raises(NotFound, match="no such pool: monthly"):
            media.delete_pool(db, "monthly")
        with pytest.raises(Conflict) as caught:
            media.delete_pool(db, "weekly")
        assert caught.value.message == (
            "pool weekly is in use: 2 volumes and 1 task (nightly) name it"
        )
        # LIKE would match "weekly" in w_ekly's search ('_' is any character); the JSON
        # decides.
        assert media.tasks_naming_pool(db, "w_ekly") == []
        media.delete_pool(db, "w_ekly")
        with pytest.raises(Conflict, match="^pool weekly2 is in use: 1 task \\(other\\) name it$"):
            media.delete_pool(db, "weekly2")
        media.update_volume(db, "V1", {"pool": None, "state": "scratch"})
        media.update_volume(db, "V2", {"pool": None})
        with pytest.raises(Conflict, match="^pool weekly is in use: 1 task \\(nightly\\)"):
            media.delete_pool(db, "weekly")
        tasks.update(db, tasks.find(db, "nightly").id, {"action_config": {"device": "/x"}})
        media.delete_pool(db, "weekly")
    with db.read():
        assert [pool.name for pool in media.all_pools(db)] == ["weekly2"]


# --------------------------------------------------------------------------- libraries


def test_libraries_are_added_listed_and_deleted_when_empty(db: Database) -> None:
    config = {"path": "/srv/vlib ü", "slots": 24, "drives": 2, "capacity": BIG}
    with db.write():
        added = media.add_library(db, "vlib", "virtual", config, "h1", T0)
        assert added == media.LibraryRecord("vlib", "virtual", config, "h1", T0)
        changer = {"changer": "/dev/sg3", "drives": ["/dev/nst0", "/dev/nst1"]}
        media.add_library(db, "Robot", "changer", changer, "h2", T0)
        with pytest.raises(Conflict, match="^library vlib exists$"):
            media.add_library(db, "vlib", "changer", {}, "h1", T0)
        media.add_volume(db, volume("V1"))
        media.add_volume(db, volume("V2"))
        media.place(db, "V1", "vlib", 1, None)
        media.place(db, "V2", "Robot", None, "Robot:0")
    with db.read():
        assert media.all_libraries(db) == [
            media.LibraryRecord("Robot", "changer", changer, "h2", T0),
            added,
        ]
        assert media.get_library(db, "vlib").config == config
        assert media.get_library(db, "nope") is None
    with db.write():
        with pytest.raises(Conflict, match="^library vlib holds 1 volume$"):
            media.delete_library(db, "vlib")
        with pytest.raises(Conflict, match="^library Robot holds 1 volume$"):
            media.delete_library(db, "Robot")  # the volume is in one of its drives
        with pytest.raises(NotFound, match="no such library: nope"):
            media.delete_library(db, "nope")
        media.place(db, "V1", None, None, None)
        media.delete_library(db, "vlib")
    with db.read():
        assert [library.name for library in media.all_libraries(db)] == ["Robot"]


# --------------------------------------------------------------------------- volumes


def test_volumes_are_added_found_filtered_and_changed(db: Database) -> None:
    with db.write():
        first = media.add_volume(
            db,
            volume(
                "V1",
                barcode="VLIB001",
                pool="weekly",
                state="append",
                uuid="0" * 36,
                labelled_at=T0,
                library="vlib",
                slot=1,
            ),
        )
        assert first == media.VolumeRecord(
            "V1",
            "VLIB001",
            "weekly",
            "append",
            "0" * 36,
            0,
            0,
            None,
            None,
            None,
            T0,
            "vlib",
            1,
            None,
            T0,
            T0,
        )
        with pytest.raises(Conflict, match="^volume V1 is already in the catalog$"):
            media.add_volume(db, volume("V1"))
        media.add_volume(db, volume("v1", barcode="VLIB002", library="vlib", slot=2))
        media.add_volume(db, volume("A-1", pool="weekly", state="full"))
        media.add_volume(db, volume("B_2", pool="daily", state="append", drive="/dev/nst0"))
        media.add_volume(db, volume("9", state="retired"))
    with db.read():
        assert media.get_volume(db, "V1") == first
        assert media.get_volume(db, "nope") is None
        assert media.volume_by_barcode(db, "VLIB002").label == "v1"
        assert media.volume_by_barcode(db, "VLIB999") is None

        def labels(**filters) -> list[str]:  # noqa: ANN003
            return [record.label for record in media.volumes(db, **filters)]

        assert (
            labels() == sorted(["V1", "v1", "A-1", "B_2", "9"]) == ["9", "A-1", "B_2", "V1", "v1"]
        )
        assert labels(pool="weekly") == ["A-1", "V1"]
        assert labels(pool="scratch") == ["9", "v1"]
        assert labels(state="append") == ["B_2", "V1"]
        assert labels(pool="weekly", state="full") == ["A-1"]
        assert labels(library="vlib") == ["V1", "v1"]
        assert labels(library="vlib", state="scratch") == ["v1"]
        assert labels(pool="nope") == []
    with db.write():
        later = T0 + timedelta(minutes=5)
        changed = media.update_volume(
            db, "v1", {"pool": "weekly", "state": "append", "uuid": "u", "updated_at": later}
        )
        assert (changed.pool, changed.state, changed.uuid, changed.updated_at) == (
            "weekly",
            "append",
            "u",
            later,
        )
        unchanged_time = media.update_volume(db, "A-1", {"state": "error"})
        assert (unchanged_time.state, unchanged_time.updated_at) == ("error", T0)
        assert media.update_volume(db, "A-1", {}) == unchanged_time
        with pytest.raises(NotFound, match="no such volume: nope"):
            media.update_volume(db, "nope", {"state": "full"})
        with pytest.raises(Conflict, match="^volume V1 is already in the catalog$"):
            media.update_volume(db, "v1", {"label": "V1"})
        with pytest.raises(KeyError):
            media.update_volume(db, "v1", {"colour": "red"})
    with db.read():
        assert media.get_volume(db, "v1") == changed  # the failed changes left it as it was


def test_placing_a_volume_takes_its_slot_or_drive_from_any_other(db: Database) -> None:
    later = T0 + timedelta(hours=1)
    with db.write():
        for label in ("A", "B", "C", "D", "E", "F"):
            media.add_volume(db, volume(label))
        media.place(db, "A", "vlib", 1, None)
        media.place(db, "C", "vlib", 2, None)
        media.place(db, "F", "other", 1, None)
        # B is found in slot 1: A is not there any more (the shelf), C and F stay.
        media.place(db, "B", "vlib", 1, None, later)
        got = {label: media.get_volume(db, label) for label in "ABCF"}
        assert {label: where(record) for label, record in got.items()} == {
            "A": (None, None, None),
            "B": ("vlib", 1, None),
            "C": ("vlib", 2, None),
            "F": ("other", 1, None),
        }
        assert (got["A"].updated_at, got["B"].updated_at, got["C"].updated_at) == (
            later,
            later,
            T0,
        )
        # Placing a volume again where it is changes nothing else.
        media.place(db, "B", "vlib", 1, None)
        assert where(media.get_volume(db, "B")) == ("vlib", 1, None)

        # C loaded into the library's drive 0: it leaves its slot, keeps the library.
        media.place(db, "C", "vlib", None, "vlib:0")
        assert where(media.get_volume(db, "C")) == ("vlib", None, "vlib:0")
        # Slot 2, which C left, taken by D: C stays in the drive.
        media.place(db, "D", "vlib", 2, None)
        assert where(media.get_volume(db, "C")) == ("vlib", None, "vlib:0")
        # B loaded into drive 0: C, found nowhere else, is on the shelf.
        media.place(db, "B", "vlib", None, "vlib:0")
        assert where(media.get_volume(db, "C")) == (None, None, None)
        assert where(media.get_volume(db, "B")) == ("vlib", None, "vlib:0")

        # A standalone drive: E there, then A; E is on the shelf.
        media.place(db, "E", None, None, "/dev/nst0")
        media.place(db, "A", None, None, "/dev/nst0", later)
        assert where(media.get_volume(db, "E")) == (None, None, None)
        assert where(media.get_volume(db, "A")) == (None, None, "/dev/nst0")
        assert media.get_volume(db, "E").updated_at == later

        with pytest.raises(NotFound, match="no such volume: nope"):
            media.place(db, "nope", "vlib", 3, None)

        # Slots found empty: D's (vlib 2) and an empty one; the drive and F keep theirs.
        media.clear_slot(db, "vlib", 2, later)
        media.clear_slot(db, "vlib", 7)
        placed = {label: where(media.get_volume(db, label)) for label in "ABCDEF"}
        assert placed == {
            "A": (None, None, "/dev/nst0"),
            "B": ("vlib", None, "vlib:0"),
            "C": (None, None, None),
            "D": (None, None, None),
            "E": (None, None, None),
            "F": ("other", 1, None),
        }
        assert media.get_volume(db, "D").updated_at == later
        media.clear_drive(db, "vlib:0")
        assert where(media.get_volume(db, "B")) == (None, None, None)


def test_candidates_come_in_the_order_of_preference(db: Database) -> None:
    t = [T0 + timedelta(days=day) for day in range(4)]
    with db.write():
        rows = [
            volume("app-old", pool="weekly", state="append", last_written=t[1]),
            volume("app-new", pool="weekly", state="append", last_written=t[3]),
            volume("app-mid", pool="weekly", state="append", last_written=t[2]),
            volume("app-none", pool="weekly", state="append"),
            volume("APP-none", pool="weekly", state="append"),
            # A scratch volume of the pool that was written before (recycled): by label.
            volume("scr-b", pool="weekly", state="scratch", last_written=t[3]),
            volume("scr-a", pool="weekly", state="scratch"),
            volume("free-b"),
            volume("free-a", last_written=t[3]),
            volume("Free-c"),
            volume("full", pool="weekly", state="full", last_written=t[3]),
            volume("error", pool="weekly", state="error"),
            volume("retired", pool="weekly", state="retired"),
            volume("retired-free", state="retired"),
            volume("other-app", pool="daily", state="append", last_written=t[3]),
            volume("other-scr", pool="daily", state="scratch"),
        ]
        for row in rows:
            media.add_volume(db, row)
    with db.read():
        assert [record.label for record in media.candidates(db, "weekly")] == [
            "app-new",
            "app-mid",
            "app-old",
            "APP-none",
            "app-none",
            "scr-a",
            "scr-b",
            "Free-c",
            "free-a",
            "free-b",
        ]
        assert [record.label for record in media.candidates(db, "daily")] == [
            "other-app",
            "other-scr",
            "Free-c",
            "free-a",
            "free-b",
        ]
        assert [record.label for record in media.candidates(db, "monthly")] == [
            "Free-c",
            "free-a",
            "free-b",
        ]
    with db.write():
        media.place(db, "app-mid", "vlib", 4, None)
        media.place(db, "app-new", "vlib", None, "vlib:1")  # in a drive of the library
        media.place(db, "app-old", "other", 1, None)
        media.place(db, "free-b", "vlib", 9, None)
        media.place(db, "scr-a", None, None, "/dev/nst0")  # a standalone drive
        media.place(db, "full", "vlib", 2, None)
    with db.read():
        assert [record.label for record in media.candidates(db, "weekly", "vlib")] == [
            "app-new",
            "app-mid",
            "free-b",
        ]
        assert media.candidates(db, "weekly", "none") == []


def test_a_write_adds_to_the_counts_and_sets_the_retention(db: Database) -> None:
    t1, t2 = T0 + timedelta(hours=1), T0 + timedelta(days=3, microseconds=7)
    with db.write():
        media.add_volume(db, volume("V1", pool="weekly", state="append"))
        first = media.record_write(db, "V1", BIG, 2, t1, 35)
        assert (first.bytes_written, first.files_written) == (BIG, 2)
        assert (first.first_written, first.last_written) == (t1, t1)
        assert (first.retained_until, first.updated_at) == (t1 + timedelta(days=35), t1)
        second = media.record_write(db, "V1", 2**31 + 1, 1, t2, 7)
        with pytest.raises(NotFound, match="no such volume: nope"):
            media.record_write(db, "nope", 1, 1, t2, 7)
    with db.read():
        stored = media.get_volume(db, "V1")
    assert stored == second
    assert (stored.bytes_written, stored.files_written) == (BIG + 2**31 + 1, 3)
    assert (stored.first_written, stored.last_written) == (t1, t2)
    assert (stored.retained_until, stored.updated_at) == (t2 + timedelta(days=7), t2)


# --------------------------------------------------------------------------- pieces


def test_pieces_are_read_by_execution_and_by_volume(db: Database) -> None:
    with db.write():
        task_id = add_task(db, "nightly")
        for execution_id in ("e1", "e2", "e3", "e4"):
            add_execution(db, task_id, execution_id)
        # e1 spans V1 (file 1) and V2 (file 1); e2 is on V2 (file 2), e3 on V1 (2 and 3:
        # two pieces on one volume); e4 has none. Added out of order.
        pieces = [
            PieceRecord("e1", 1, "V2", 1, 10, "b" * 64),
            PieceRecord("e1", 0, "V1", 1, BIG, "a" * 64),
            PieceRecord("e3", 1, "V1", 3, 5, "d" * 64),
            PieceRecord("e2", 0, "V2", 2, 2**31, "c" * 64),
            PieceRecord("e3", 0, "V1", 2, 7, "e" * 64),
        ]
        for piece in pieces:
            media.add_piece(db, piece)
        with pytest.raises(Conflict, match="^piece 1 of execution e1 is recorded already$"):
            media.add_piece(db, PieceRecord("e1", 1, "V3", 1, 1, "f" * 64))
    with db.read():
        found = media.pieces_of(db, ["e3", "e1", "e4", "e1", "nope"])
        assert list(found) == ["e3", "e1", "e4", "nope"]
        assert found["e1"] == [pieces[1], pieces[0]]
        assert found["e3"] == [pieces[4], pieces[2]]
        assert found["e4"] == found["nope"] == []
        assert media.pieces_of(db, []) == {}
        assert media.pieces_on(db, "V1") == [pieces[1], pieces[4], pieces[2]]
        assert media.pieces_on(db, "V2") == [pieces[0], pieces[3]]
        assert media.pieces_on(db, "V9") == []
        assert media.executions_on(db, "V1") == ["e1", "e3"]
        assert media.executions_on(db, "V2") == ["e1", "e2"]
        assert media.pieces_of(db, ["e1"])["e1"][0].bytes == BIG
    with db.write():
        media.delete_pieces(db, ["e1", "nope"])
        media.delete_pieces(db, [])
    with db.read():
        assert media.executions_on(db, "V1") == ["e3"]
        assert media.pieces_of(db, ["e1", "e2"]) == {"e1": [], "e2": [pieces[3]]}


def test_pieces_of_many_executions_across_in_lists(db: Database) -> None:
    count = 1200  # three IN lists of at most 500
    ids = [f"exec-{index:05d}" for index in range(count)]
    with db.write():
        task_id = add_task(db, "nightly")
        for index, execution_id in enumerate(ids):
            add_execution(db, task_id, execution_id)
            for seq in range(1 + index % 2):
                media.add_piece(
                    db,
                    PieceRecord(execution_id, seq, f"V{seq}", index + 1, 2**32 + index, "0" * 64),
                )
    with db.read():
        found = media.pieces_of(db, list(reversed(ids)))
        assert list(found) == list(reversed(ids))
        assert all(
            [piece.seq for piece in found[execution_id]] == list(range(1 + index % 2))
            for index, execution_id in enumerate(ids)
        )
        assert sum(len(pieces) for pieces in found.values()) == count + count // 2
        assert found[ids[999]][1].bytes == 2**32 + 999
        assert media.executions_on(db, "V1") == ids[1::2]
    with db.write():
        media.delete_pieces(db, ids[:1100])
    with db.read():
        assert sum(len(pieces) for pieces in media.pieces_of(db, ids).values()) == 150


def test_deleting_executions_or_their_task_deletes_their_pieces(db: Database) -> None:
    ids = [f"e{index:04d}" for index in range(1001)]
    with db.write():
        nightly = add_task(db, "nightly")
        weekly = add_task(db, "weekly")
        for execution_id in ids:
            add_execution(db, nightly, execution_id)
            media.add_piece(db, PieceRecord(execution_id, 0, "V1", 1, 1, "0" * 64))
        add_execution(db, nightly, "running", status="running")
        media.add_piece(db, PieceRecord("running", 0, "V2", 1, 1, "0" * 64))
        add_execution(db, weekly, "w1")
        media.add_piece(db, PieceRecord("w1", 0, "V3", 1, 1, "0" * 64))
        catalog.delete_executions(db, [*ids[:1000], "running"])
    with db.read():
        left = media.pieces_of(db, [*ids, "running", "w1"])
        assert [execution_id for execution_id, pieces in left.items() if pieces] == [
            ids[1000],
            "running",  # a running execution and its pieces are never deleted
            "w1",
        ]
        assert executions.get(db, ids[0]) is None and executions.get(db, "running") is not None
    with db.write():
        tasks.delete(db, weekly)
    with db.read():
        assert media.pieces_on(db, "V3") == []
        assert media.executions_on(db, "V2") == ["running"]
