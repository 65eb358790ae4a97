"""The media tables (revision 0003): pools, libraries, volumes and pieces.

What a volume is and where it is: `library` and `slot` set, it is in that slot of
that library; `drive` set, it is loaded in that drive (a library's drive is
"LIB:INDEX", and a volume loaded there keeps `library` set with `slot` NULL); neither,
it is on the shelf. A volume of the scratch pool has pool NULL.

The decisions (which volume a backup takes, when one may be recycled) stay with
the callers; this module only reads and writes rows. Callers hold db.read() or
db.write() around these calls.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tapesched.errors import Conflict, NotFound
from tapesched.store.db import Database, Duplicate, Table, decode_json, encode_time

SCRATCH_POOL = "scratch"  # the name of the pool a volume with pool NULL is in
_CHUNK = 500  # ids per IN (...) list


@dataclass(frozen=True, slots=True)
class PoolRecord:
    """One row of the pools table."""

    name: str
    retention_days: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class LibraryRecord:
    """One row of the libraries table."""

    name: str
    kind: str  # virtual | changer
    config: dict[str, Any]
    host: str  # the host whose devices it is
    created_at: datetime


@dataclass(frozen=True, slots=True)
class VolumeRecord:
    """One row of the volumes table."""

    label: str
    barcode: str | None
    pool: str | None  # None: the scratch pool
    state: str  # scratch | append | full | error | retired
    uuid: str | None
    bytes_written: int
    files_written: int
    first_written: datetime | None
    last_written: datetime | None
    retained_until: datetime | None
    labelled_at: datetime | None
    library: str | None
    slot: int | None
    drive: str | None  # a device path, a folder, or "LIB:INDEX"
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class PieceRecord:
    """One row of the pieces table: piece `seq` of a backup's stream, tape file
    `file_number` of `volume`."""

    execution_id: str
    seq: int
    volume: str
    file_number: int
    bytes: int
    sha256: str


POOLS = Table("pools", PoolRecord, times=frozenset({"created_at"}))
LIBRARIES = Table(
    "libraries", LibraryRecord, times=frozenset({"created_at"}), json=frozenset({"config"})
)
VOLUMES = Table(
    "volumes",
    VolumeRecord,
    times=frozenset(
        {
            "first_written",
            "last_written",
            "retained_until",
            "labelled_at",
            "created_at",
            "updated_at",
        }
    ),
)
PIECES = Table("pieces", PieceRecord)


def _id_list(prefix: str, ids: list[Any]) -> tuple[str, dict[str, Any]]:
    """`:p0, :p1, ...` and their values, for an IN (...) of bound parameters."""
    marks = ", ".join(f":{prefix}{index}" for index in range(len(ids)))
    return marks, {f"{prefix}{index}": value for index, value in enumerate(ids)}


def _chunks(ids: list[str]) -> list[list[str]]:
    unique = list(dict.fromkeys(ids))
    return [unique[start : start + _CHUNK] for start in range(0, len(unique), _CHUNK)]


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


# --------------------------------------------------------------------------- pools


def get_pool(db: Database, name: str) -> PoolRecord | None:
    row = db.first(f"{POOLS.select} WHERE name = :name", {"name": name})
    return POOLS.decode(row) if row else None


def all_pools(db: Database) -> list[PoolRecord]:
    """Every pool, by name (code point order)."""
    rows = db.rows(f"{POOLS.select} ORDER BY name{db.by_code_point}")
    return [POOLS.decode(row) for row in rows]


def add_pool(db: Database, name: str, retention_days: int, now: datetime) -> PoolRecord:
    """Add a pool; return it. Raise Conflict if the name is taken."""
    stored = POOLS.encode({"name": name, "retention_days": retention_days, "created_at": now})
    try:
        with db.savepoint():
            db.execute(POOLS.insert(list(stored)), stored)
    except Duplicate:
        raise Conflict(f"pool {name} exists") from None
    return PoolRecord(name, retention_days, now)


def set_pool_retention(db: Database, name: str, days: int) -> None:
    """Change a pool's retention (volumes written from now on get it); raise NotFound."""
    cursor = db.execute(
        "UPDATE pools SET retention_days = :days WHERE name = :name", {"days": days, "name": name}
    )
    if cursor.rowcount != 1:
        raise NotFound(f"no such pool: {name}")


def tasks_naming_pool(db: Database, name: str) -> list[str]:
    """The names of the tasks whose action config names the pool (`"pool": NAME`), by
    name."""
    # LIKE only narrows the search (on text: PostgreSQL's json has no LIKE); the JSON
    # decides.
    rows = db.rows(
        "SELECT task_name, action_config FROM tasks "
        "WHERE CAST(action_config AS TEXT) LIKE :pattern",
        {"pattern": f"%{json.dumps(name)}%"},
    )
    named = []
    for task_name, raw in rows:
        config = decode_json(raw)
        if isinstance(config, dict) and config.get("pool") == name:
            named.append(task_name)
    return sorted(named)


def delete_pool(db: Database, name: str) -> None:
    """Delete a pool; raise NotFound, or Conflict while volumes are in it or tasks name it."""
    if get_pool(db, name) is None:
        raise NotFound(f"no such pool: {name}")
    volumes_in = db.scalar("SELECT count(*) FROM volumes WHERE pool = :name", {"name": name})
    tasks_naming = tasks_naming_pool(db, name)
    uses = []
    if volumes_in:
        uses.append(_plural(volumes_in, "volume"))
    if tasks_naming:
        uses.append(f"{_plural(len(tasks_naming), 'task')} ({', '.join(tasks_naming)})")
    if uses:
        raise Conflict(f"pool {name} is in use: {' and '.join(uses)} name it")
    db.execute("DELETE FROM pools WHERE name = :name", {"name": name})


# --------------------------------------------------------------------------- libraries


def get_library(db: Database, name: str) -> LibraryRecord | None:
    row = db.first(f"{LIBRARIES.select} WHERE name = :name", {"name": name})
    return LIBRARIES.decode(row) if row else None


def all_libraries(db: Database) -> list[LibraryRecord]:
    """Every library, by name (code point order)."""
    rows = db.rows(f"{LIBRARIES.select} ORDER BY name{db.by_code_point}")
    return [LIBRARIES.decode(row) for row in rows]


def add_library(
    db: Database, name: str, kind: str, config: dict[str, Any], host: str, now: datetime
) -> LibraryRecord:
    """Add a library; return it. Raise Conflict if the name is taken."""
    record = LibraryRecord(name, kind, config, host, now)
    stored = LIBRARIES.encode(
        {"name": name, "kind": kind, "config": config, "host": host, "created_at": now}
    )
    try:
        with db.savepoint():
            db.execute(LIBRARIES.insert(list(stored)), stored)
    except Duplicate:
        raise Conflict(f"library {name} exists") from None
    return record


def delete_library(db: Database, name: str) -> None:
    """Delete a library; raise NotFound, or Conflict while the catalog places volumes in it
    (in a slot or in one of its drives)."""
    if get_library(db, name) is None:
        raise NotFound(f"no such library: {name}")
    placed = db.scalar("SELECT count(*) FROM volumes WHERE library = :name", {"name": name})
    if placed:
        raise Conflict(f"library {name} holds {_plural(placed, 'volume')}")
    db.execute("DELETE FROM libraries WHERE name = :name", {"name": name})


# --------------------------------------------------------------------------- volumes


def get_volume(db: Database, label: str) -> VolumeRecord | None:
    row = db.first(f"{VOLUMES.select} WHERE label = :label", {"label": label})
    return VOLUMES.decode(row) if row else None


def find_volume(db: Database, label: str) -> VolumeRecord:
    """The volume labelled `label`; raise NotFound."""
    volume = get_volume(db, label)
    if volume is None:
        raise NotFound(f"no such volume: {label}")
    return volume


def volume_by_barcode(db: Database, barcode: str) -> VolumeRecord | None:
    """The volume with this barcode (the first by label, should several carry it)."""
    row = db.first(
        f"{VOLUMES.select} WHERE barcode = :barcode ORDER BY label{db.by_code_point} LIMIT 1",
        {"barcode": barcode},
    )
    return VOLUMES.decode(row) if row else None


def volumes(
    db: Database, pool: str | None = None, state: str | None = None, library: str | None = None
) -> list[VolumeRecord]:
    """The volumes, by label (code point order): all, or those of one pool (`scratch`: pool
    NULL), in one state, placed in one library."""
    where = []
    if pool == SCRATCH_POOL:
        where.append("pool IS NULL")
    elif pool is not None:
        where.append("pool = :pool")
    if state is not None:
        where.append("state = :state")
    if library is not None:
        where.append("library = :library")
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    rows = db.rows(
        f"{VOLUMES.select}{clause} ORDER BY label{db.by_code_point}",
        {"pool": pool, "state": state, "library": library},
    )
    return [VOLUMES.decode(row) for row in rows]


def add_volume(db: Database, values: dict[str, Any]) -> VolumeRecord:
    """Add a volume (its columns; bytes and files written default to 0, the others to
    NULL); return it. Raise Conflict if the label is in the catalog already."""
    full = {"bytes_written": 0, "files_written": 0, **values}
    stored = VOLUMES.encode(full)
    try:
        with db.savepoint():
            db.execute(VOLUMES.insert(list(stored)), stored)
    except Duplicate:
        raise Conflict(f"volume {values.get('label')} is already in the catalog") from None
    return find_volume(db, full["label"])


def update_volume(db: Database, label: str, changes: dict[str, Any]) -> VolumeRecord:
    """Set some columns of one volume (updated_at only when given); return it. Raise
    NotFound, or Conflict for a new label that is taken."""
    if not changes:
        return find_volume(db, label)
    stored = VOLUMES.encode(changes)
    assignments = ", ".join(f"{name} = :{name}" for name in stored)
    try:
        with db.savepoint():
            cursor = db.execute(
                f"UPDATE volumes SET {assignments} WHERE label = :label_",
                {**stored, "label_": label},
            )
    except Duplicate:
        raise Conflict(f"volume {changes.get('label')} is already in the catalog") from None
    if cursor.rowcount != 1:
        raise NotFound(f"no such volume: {label}")
    return find_volume(db, changes.get("label", label))


# What leaves a volume's location when one part of it is taken by another volume: the
# library stays only while the other part (the slot, or the library's drive) remains.
_LOSE_SLOT = (
    "library = CASE WHEN drive IS NULL THEN NULL ELSE library END, slot = NULL, "
    "updated_at = coalesce(:now, updated_at)"
)
_LOSE_DRIVE = (
    "library = CASE WHEN slot IS NULL THEN NULL ELSE library END, drive = NULL, "
    "updated_at = coalesce(:now, updated_at)"
)


def place(
    db: Database,
    label: str,
    library: str | None,
    slot: int | None,
    drive: str | None,
    now: datetime | None = None,
) -> None:
    """Record where a volume is (all None: the shelf), and that no other volume is there:
    another volume recorded in the same library slot loses its slot, one recorded in the
    same drive its drive. With `now`, the volumes changed get it as updated_at. Raise
    NotFound."""
    at = encode_time(now)
    if library is not None and slot is not None:
        db.execute(
            f"UPDATE volumes SET {_LOSE_SLOT} WHERE library = :library AND slot = :slot "
            "AND label != :label",
            {"library": library, "slot": slot, "label": label, "now": at},
        )
    if drive is not None:
        db.execute(
            f"UPDATE volumes SET {_LOSE_DRIVE} WHERE drive = :drive AND label != :label",
            {"drive": drive, "label": label, "now": at},
        )
    cursor = db.execute(
        "UPDATE volumes SET library = :library, slot = :slot, drive = :drive, "
        "updated_at = coalesce(:now, updated_at) WHERE label = :label",
        {"library": library, "slot": slot, "drive": drive, "label": label, "now": at},
    )
    if cursor.rowcount != 1:
        raise NotFound(f"no such volume: {label}")


def clear_slot(db: Database, library: str, slot: int, now: datetime | None = None) -> None:
    """A slot was found empty: no volume is recorded in it any more (with `now`, those
    changed get it as updated_at)."""
    db.execute(
        f"UPDATE volumes SET {_LOSE_SLOT} WHERE library = :library AND slot = :slot",
        {"library": library, "slot": slot, "now": encode_time(now)},
    )


def clear_drive(db: Database, drive: str, now: datetime | None = None) -> None:
    """A drive was found empty: no volume is recorded in it any more."""
    db.execute(
        f"UPDATE volumes SET {_LOSE_DRIVE} WHERE drive = :drive",
        {"drive": drive, "now": encode_time(now)},
    )


# The preference of a writable volume for a pool: an append volume of the pool, then a
# scratch volume of the pool, then one of the scratch pool (pool NULL).
_PREFERENCE = (
    "CASE WHEN pool = :pool AND state = 'append' THEN 0 "
    "WHEN pool = :pool AND state = 'scratch' THEN 1 ELSE 2 END"
)


def candidates(db: Database, pool: str, library: str | None = None) -> list[VolumeRecord]:
    """The volumes a backup to `pool` may write on, best first: the pool's `append` volumes
    (the latest written first, never written last), then its `scratch` ones, then those of
    the scratch pool, each group then by label; only those placed in `library` (a slot or
    one of its drives) when given."""
    in_library = " AND library = :library" if library is not None else ""
    latest = f"CASE WHEN {_PREFERENCE} = 0 THEN last_written END"
    rows = db.rows(
        f"{VOLUMES.select} WHERE ((pool = :pool AND state IN ('append', 'scratch')) "
        f"OR (pool IS NULL AND state = 'scratch')){in_library} "
        f"ORDER BY {_PREFERENCE}, {latest} IS NULL, {latest} DESC, "
        f"label{db.by_code_point}",
        {"pool": pool, "library": library},
    )
    return [VOLUMES.decode(row) for row in rows]


def record_write(
    db: Database,
    label: str,
    bytes_added: int,
    files_added: int,
    now: datetime,
    retention_days: int,
) -> VolumeRecord:
    """Add what a backup wrote on a volume to its counts; it was last written (and is
    retained from) `now`; return it. Raise NotFound."""
    stamp = encode_time(now)
    cursor = db.execute(
        "UPDATE volumes SET bytes_written = bytes_written + :bytes, "
        "files_written = files_written + :files, "
        "first_written = coalesce(first_written, :now), last_written = :now, "
        "retained_until = :until, updated_at = :now WHERE label = :label",
        {
            "bytes": bytes_added,
            "files": files_added,
            "now": stamp,
            "until": encode_time(now + timedelta(days=retention_days)),
            "label": label,
        },
    )
    if cursor.rowcount != 1:
        raise NotFound(f"no such volume: {label}")
    return find_volume(db, label)


# --------------------------------------------------------------------------- pieces


def add_piece(db: Database, piece: PieceRecord) -> None:
    """Record one piece of a backup; raise Conflict if that piece is recorded already."""
    stored = PIECES.encode({column: getattr(piece, column) for column in PIECES.columns})
    try:
        with db.savepoint():
            db.execute(PIECES.insert(list(stored)), stored)
    except Duplicate:
        raise Conflict(
            f"piece {piece.seq} of execution {piece.execution_id} is recorded already"
        ) from None


def pieces_of(db: Database, execution_ids: list[str]) -> dict[str, list[PieceRecord]]:
    """Each execution's pieces in stream order (every id given is a key; [] for an execution
    without pieces)."""
    found: dict[str, list[PieceRecord]] = {execution_id: [] for execution_id in execution_ids}
    for chunk in _chunks(execution_ids):
        marks, params = _id_list("e", chunk)
        rows = db.rows(
            f"{PIECES.select} WHERE execution_id IN ({marks}) ORDER BY execution_id, seq",
            params,
        )
        for row in rows:
            piece = PIECES.decode(row)
            found[piece.execution_id].append(piece)
    return found


def pieces_on(db: Database, label: str) -> list[PieceRecord]:
    """The pieces on a volume, in the order of its tape files."""
    rows = db.rows(
        f"{PIECES.select} WHERE volume = :label "
        f"ORDER BY file_number, execution_id{db.by_code_point}, seq",
        {"label": label},
    )
    return [PIECES.decode(row) for row in rows]


def executions_on(db: Database, label: str) -> list[str]:
    """The executions with a piece on a volume, each once, in the order of their first
    tape file on it."""
    rows = db.rows(
        "SELECT execution_id, min(file_number) AS first_file FROM pieces "
        "WHERE volume = :label GROUP BY execution_id "
        f"ORDER BY first_file, execution_id{db.by_code_point}",
        {"label": label},
    )
    return [execution_id for execution_id, _ in rows]


def delete_pieces(db: Database, execution_ids: list[str]) -> None:
    """Forget the pieces of these executions."""
    for chunk in _chunks(execution_ids):
        marks, params = _id_list("e", chunk)
        db.execute(f"DELETE FROM pieces WHERE execution_id IN ({marks})", params)
