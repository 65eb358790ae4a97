"""The plain-SQL store against the schema the SQLModel tables define.

The store writes and reads values in the forms SQLAlchemy uses for these
tables (a database written by tapesched 0.1, or by SQLModel, reads back the
same), its records have exactly the tables' columns, and its transactions and
errors behave as the commands rely on. What holds on both backends is tested on
each (the `catalog` fixture: an SQLite file, and a PostgreSQL database of the test's
own); what is about the SQLite file (corrupt, empty, made whole, WAL) on real files.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers import write_lock_held
from sqlalchemy import create_engine
from sqlmodel import Session

from tapesched import models
from tapesched.errors import Conflict, NotFound, StorageUnavailable
from tapesched.paths import StatePaths
from tapesched.store import executions, tasks
from tapesched.store.db import SCHEMA_REVISION, SCHEMA_VERSION, get_meta, open_database, revision

T0 = datetime(2026, 3, 29, 0, 59, 59, 123456, tzinfo=UTC)


@pytest.fixture
def paths(tmp_path: Path) -> StatePaths:
    """An SQLite catalog that does not exist yet."""
    return StatePaths(home=tmp_path / "home", db=tmp_path / "home" / "tapesched.db")


@pytest.fixture
def catalog(backend) -> StatePaths:  # noqa: ANN001 - conftest.Backend
    """The test's catalog on each backend (the SQLite file does not exist yet)."""
    return backend.paths


def test_records_have_exactly_the_tables_columns() -> None:
    assert tasks.TABLE.columns == tuple(models.Task.__table__.columns.keys())
    assert executions.TABLE.columns == tuple(models.Execution.__table__.columns.keys())


def test_a_new_database_gets_the_schema_and_its_version(paths: StatePaths) -> None:
    with open_database(paths) as db:
        assert revision(db) == SCHEMA_REVISION
        with db.read():
            assert get_meta(db, "schema_version") == str(SCHEMA_VERSION)
    assert oct(paths.db.stat().st_mode & 0o777) == "0o600"


def test_a_missing_database_is_not_created_when_create_is_off(paths: StatePaths) -> None:
    with pytest.raises(StorageUnavailable, match="does not exist; run 'tapesched init'"):
        open_database(paths, create=False)
    assert not paths.db.exists()


def orm_task(**overrides) -> models.Task:
    values = dict(
        task_name="orm",
        description="written by SQLModel",
        status="active",
        enabled=True,
        schedule_type="daily",
        schedule_config={"time": "02:00:00"},
        timezone="Europe/Berlin",
        action_type="backup",
        action_config={"source_paths": ["/srv/ä"], "device": "/srv/vtape"},
        device="/srv/vtape",
        next_run_time=T0,
        last_run_time=None,
        timeout=3600,
        misfire_grace=0,
        created_at=T0 - timedelta(days=1),
        updated_at=T0,
    )
    values.update(overrides)
    return models.Task(**values)


def test_what_sqlmodel_writes_the_store_reads_and_back(catalog: StatePaths) -> None:
    paths = catalog
    open_database(paths).close()
    if isinstance(paths.db, Path):
        engine = create_engine(f"sqlite:///{paths.db}")
    else:
        engine = create_engine(paths.db.render(mask=False))
    with Session(engine) as session:
        session.add(orm_task())
        session.commit()
        session.add(
            models.Execution(
                execution_id="e1",
                task_id=1,
                trigger="catch_up",
                scheduled_for=T0,
                created_at=T0,
                started_at=T0 + timedelta(seconds=1),
                status="running",
                result={"chain_id": "abc", "files": 3},
            )
        )
        session.commit()
    with open_database(paths) as db, db.write():
        task = tasks.find(db, "orm")
        assert (task.enabled, task.next_run_time, task.misfire_grace) == (True, T0, 0)
        assert task.action_config == {"source_paths": ["/srv/ä"], "device": "/srv/vtape"}
        assert task.last_run_time is None and task.device_wait == 60
        execution = executions.get(db, "e1")
        assert execution.started_at == T0 + timedelta(seconds=1)
        assert execution.result == {"chain_id": "abc", "files": 3}
        # The store's writes, in turn, read back through SQLAlchemy's types.
        tasks.update(db, task.id, {"next_run_time": T0 + timedelta(hours=1), "enabled": False})
        assert executions.finish(db, "e1", "success", T0 + timedelta(seconds=31), None, None)
    with Session(engine) as session:
        stored = session.get(models.Task, 1)
        assert stored.next_run_time == T0 + timedelta(hours=1) and stored.enabled is False
        assert (stored.total_runs, stored.success_runs, stored.status) == (1, 1, "inactive")
        assert stored.average_duration == pytest.approx(30.0)
        finished = session.get(models.Execution, "e1")
        assert finished.completed_at == T0 + timedelta(seconds=31)
        assert finished.result == {"chain_id": "abc", "files": 3}
    engine.dispose()


def insert_due_tasks(db) -> None:  # noqa: ANN001 - Database
    """Four tasks due a minute before T0, at T0, a second after, an hour after."""
    with db.write():
        for index, offset in enumerate((-60, 0, 1, 3600)):
            row = {
                **orm_task().model_dump(exclude={"id"}),
                "task_name": f"t{index}",
                "next_run_time": T0 + timedelta(seconds=offset),
                "total_runs": 0,
                "success_runs": 0,
                "failure_runs": 0,
            }
            tasks.insert(db, row)


def test_the_due_query_compares_instants(catalog: StatePaths) -> None:
    with open_database(catalog) as db:
        insert_due_tasks(db)
        with db.read():
            assert [task.task_name for task in tasks.due(db, T0, 10, "any")] == ["t0", "t1"]
            assert [task.task_name for task in tasks.due(db, T0, 1, "h1")] == ["t0"]
            later = T0 + timedelta(seconds=1, microseconds=1)
            assert [task.task_name for task in tasks.due(db, later, 10, "h1")] == [
                "t0",
                "t1",
                "t2",
            ]
            assert tasks.due(db, T0 - timedelta(days=1), 10, "any") == []


def test_the_due_query_uses_the_index(paths: StatePaths) -> None:
    with open_database(paths) as db:
        insert_due_tasks(db)
        with db.read():
            due = tasks.due(db, T0, 10, "any")
            plan = db.rows(
                "EXPLAIN QUERY PLAN SELECT id FROM tasks WHERE enabled = :e AND "
                "next_run_time <= :now AND host IN (:host, 'any') "
                "ORDER BY next_run_time, id LIMIT 64",
                {"e": True, "now": "x", "host": "h1"},
            )
    assert [task.task_name for task in due] == ["t0", "t1"]
    assert "ix_tasks_enabled_next_run_time" in " ".join(str(row) for row in plan)


def test_a_taken_name_is_a_conflict_and_a_huge_id_is_not_found(catalog: StatePaths) -> None:
    with open_database(catalog) as db, db.write():
        row = {**orm_task().model_dump(exclude={"id"}), "total_runs": 0, "success_runs": 0}
        tasks.insert(db, {**row, "failure_runs": 0})
        with pytest.raises(Conflict, match="already taken: orm"):
            tasks.insert(db, {**row, "failure_runs": 0})
        with pytest.raises(NotFound):
            tasks.find(db, "9" * 40)


def test_a_write_inside_a_read_is_a_programming_error_and_reads_join_writes(
    catalog: StatePaths,
) -> None:
    with open_database(catalog) as db:
        with db.write(), db.read():
            assert get_meta(db, "schema_version") == str(SCHEMA_VERSION)
        with pytest.raises(RuntimeError), db.read(), db.write():
            pass
        with db.read():  # the failed attempt left no transaction open
            assert get_meta(db, "schema_version") == str(SCHEMA_VERSION)


def test_an_error_rolls_the_whole_transaction_back(catalog: StatePaths) -> None:
    with open_database(catalog) as db:
        with pytest.raises(KeyError), db.write():
            db.execute("INSERT INTO meta (key, value) VALUES ('k', 'v')")
            raise KeyError("boom")
        with db.read():
            assert get_meta(db, "k") is None


def test_a_locked_database_is_one_line_exit_5(catalog: StatePaths, monkeypatch) -> None:
    monkeypatch.setenv("TAPESCHED_BUSY_TIMEOUT", "0.2")
    open_database(catalog).close()
    with open_database(catalog) as db:
        with write_lock_held(catalog.db):
            with pytest.raises(StorageUnavailable) as caught, db.write():
                db.execute("INSERT INTO meta (key, value) VALUES ('k', 'v')")
        with db.read():
            assert get_meta(db, "k") is None
    assert caught.value.exit_code == 5
    assert "is locked by another process (waited 0.2s)" in caught.value.message


def test_a_failure_caught_inside_a_transaction_never_passes_for_a_commit(
    catalog: StatePaths,
) -> None:
    """SQLite undoes only the failed statement; PostgreSQL ends the whole transaction and
    would answer COMMIT with a silent ROLLBACK: there the commit is refused instead."""
    with open_database(catalog) as db:
        with pytest.raises(StorageUnavailable) if db.shared else nullcontext(), db.write():
            db.execute("INSERT INTO meta (key, value) VALUES ('kept', 'yes')")
            with pytest.raises(StorageUnavailable, match="no_such_table"):
                db.execute("SELECT * FROM no_such_table")
        with db.read():
            assert get_meta(db, "kept") == (None if db.shared else "yes")
        with db.write():  # the next transaction begins normally
            db.execute("INSERT INTO meta (key, value) VALUES ('after', 'ok')")
        with db.read():
            assert get_meta(db, "after") == "ok"


def add_task(db, name: str, **values) -> int:  # noqa: ANN001, ANN003 - Database, columns
    row = {**orm_task().model_dump(exclude={"id"}), "total_runs": 0, "success_runs": 0}
    return tasks.insert(db, {**row, "failure_runs": 0, "task_name": name, **values})


def test_names_are_ordered_by_code_point_on_each_backend(catalog: StatePaths) -> None:
    """As Python sorts them (export, metrics, completion and `hosts` list by name), whatever
    the database's own collation: the test template's is en-US where the server has ICU."""
    from tapesched.store import hosts

    names = ["b", "B", "a.b", "ab", "a", "Z9", "a-b", "9x"]
    with open_database(catalog) as db:
        with db.write():
            for name in names:
                add_task(db, name, host="any" if name != "Z9" else "h-2")
            for host in ("h1", "H3", "h.2"):
                hosts.heartbeat(db, host, T0)
        with db.read():
            assert [task.task_name for task in tasks.all_tasks(db, order="name")] == sorted(names)
            assert tasks.names_starting(db, "") == sorted(names)
            assert tasks.names_starting(db, "a") == ["a", "a-b", "a.b", "ab"]
            listed = [host.name for host in hosts.all_hosts(db)]
    assert listed == sorted(["h1", "H3", "h.2", "h-2"]) == ["H3", "h-2", "h.2", "h1"]


def test_stored_json_of_every_kind_reads_back_as_written(catalog: StatePaths) -> None:
    """A result holding a JSON string, a list, a number or null reads back the same
    on both backends (psycopg would parse JSON itself: a string would be parsed twice)."""
    values = ["text", "3", [1, "two"], {"nested": {"a": [None]}, "big": 10**30}, 1.5, True, None]
    with open_database(catalog) as db:
        with db.write():
            task_id = add_task(db, "json")
            for index, value in enumerate(values):
                executions.insert(
                    db,
                    {
                        "execution_id": f"e{index}",
                        "task_id": task_id,
                        "created_at": T0 + timedelta(seconds=index),
                        "status": "success",
                        "completed_at": T0 + timedelta(seconds=index),
                        "result": value,
                    },
                )
        with db.read():
            assert [executions.get(db, f"e{index}").result for index in range(len(values))] == (
                values
            )


def test_latest_outcomes_per_task_on_each_backend(catalog: StatePaths) -> None:
    """What metrics reads: each task's latest ended run, and each backup task's latest
    successful result; a run recorded without a completion time never counts as the
    latest (SQLite's order for NULL, which PostgreSQL would reverse)."""
    from tapesched.store import catalog as reads

    with open_database(catalog) as db:
        with db.write():
            backup = add_task(db, "nightly")
            other = add_task(db, "custom", action_type="custom")
            for execution_id, task_id, status, minutes, result in [
                ("b1", backup, "success", 1, {"chain_id": "c", "bytes": 1}),
                ("b2", backup, "success", 2, {"chain_id": "c", "bytes": 2}),
                ("b3", backup, "failed", 3, None),
                ("b4", backup, "running", 4, None),
                ("c1", other, "cancelled", 1, None),
                ("c2", other, "lost", None, {"exit_code": 3}),
            ]:
                executions.insert(
                    db,
                    {
                        "execution_id": execution_id,
                        "task_id": task_id,
                        "created_at": T0 + timedelta(minutes=minutes or 9),
                        "status": status,
                        "completed_at": None
                        if minutes is None or status == "running"
                        else T0 + timedelta(minutes=minutes),
                        "result": result,
                    },
                )
        with db.read():
            assert reads.last_outcomes(db) == {backup: ("failed", None), other: ("cancelled", None)}
            assert reads.last_backup_results(db) == {backup: {"chain_id": "c", "bytes": 2}}


def test_runs_lost_elsewhere_are_those_whose_lease_expired(catalog: StatePaths) -> None:
    from tapesched.store.executions import LEASE_EXPIRED

    with open_database(catalog) as db:
        with db.write():
            task_id = add_task(db, "t")
            for execution_id, error in [
                ("lease", f"{LEASE_EXPIRED} at 2026-03-29 00:59:59 UTC: host h1 stopped"),
                ("upper", "Lease Expired at 2026-03-29 00:59:59 UTC"),
                ("vanished", "runner vanished"),
            ]:
                executions.insert(
                    db,
                    {
                        "execution_id": execution_id,
                        "task_id": task_id,
                        "created_at": T0,
                        "completed_at": T0,
                        "status": "lost",
                        "host": "h1",
                        "job_pid": 4242,
                        "error_message": error,
                    },
                )
        with db.read():
            lost = executions.lost_elsewhere(db, "h1", T0 - timedelta(days=1))
            assert [execution.execution_id for execution in lost] == ["lease"]
            assert executions.lost_elsewhere(db, "h2", T0 - timedelta(days=1)) == []
            assert executions.lost_elsewhere(db, "h1", T0 + timedelta(seconds=1)) == []


def test_a_commit_that_fails_closes_its_transaction(paths: StatePaths) -> None:
    """A failed COMMIT (here a deferred foreign key; in life, a lock held past the busy
    timeout) leaves no transaction open: the next one begins normally."""
    with open_database(paths) as db:
        with pytest.raises(StorageUnavailable, match="FOREIGN KEY"), db.write():
            db.execute("PRAGMA defer_foreign_keys = ON")
            executions.insert(db, {"execution_id": "orphan", "task_id": 42, "created_at": T0})
        assert not db.connection.in_transaction
        with db.write():
            db.execute("INSERT INTO meta (key, value) VALUES ('after', 'ok')")
        with db.read():
            assert get_meta(db, "after") == "ok"
            assert executions.get(db, "orphan") is None


def test_a_corrupt_file_is_refused_and_left_alone(paths: StatePaths) -> None:
    paths.home.mkdir(parents=True)
    paths.db.write_bytes(b"not a database" * 100)
    with pytest.raises(StorageUnavailable, match="corrupt or not a tapesched database"):
        open_database(paths)
    assert paths.db.read_bytes() == b"not a database" * 100


# --------------------------------------------------------------------------- the database file


def test_a_zero_length_file_is_corrupt_and_never_initialised(paths: StatePaths) -> None:
    paths.home.mkdir(parents=True)
    paths.db.touch()
    for create in (True, False):
        with pytest.raises(StorageUnavailable) as caught:
            open_database(paths, create=create)
        assert caught.value.exit_code == 5
        assert caught.value.message == (
            f"database {paths.db} is empty (0 bytes): corrupt or not a tapesched database; "
            "move it away, then run 'tapesched init'"
        )
        assert paths.db.read_bytes() == b""
    assert sorted(path.name for path in paths.home.iterdir()) == [
        "locks",
        "logs",
        "snapshots",
        "tapesched.db",
    ]


def test_an_sqlite_file_without_our_schema_is_refused_not_initialised(paths: StatePaths) -> None:
    paths.home.mkdir(parents=True)
    other = sqlite3.connect(paths.db)
    other.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    other.commit()
    other.close()
    with pytest.raises(StorageUnavailable, match="corrupt or not a tapesched database"):
        open_database(paths)
    check = sqlite3.connect(paths.db)
    tables = [row[0] for row in check.execute("SELECT name FROM sqlite_master")]
    check.close()
    assert tables == ["invoices"]


def test_a_folder_where_the_database_should_be(paths: StatePaths) -> None:
    paths.db.mkdir(parents=True)
    for create in (True, False):
        with pytest.raises(StorageUnavailable, match=f"^database {paths.db} is not a file$"):
            open_database(paths, create=create)


def test_without_create_nothing_is_made(tmp_path: Path) -> None:
    paths = StatePaths(home=tmp_path / "none", db=tmp_path / "none" / "tapesched.db")
    with pytest.raises(StorageUnavailable) as caught:
        open_database(paths, create=False)
    assert caught.value.message.startswith(f"database {paths.db} does not exist; run 'tapesched")
    assert list(tmp_path.iterdir()) == []


def test_a_new_database_appears_whole(paths: StatePaths, monkeypatch) -> None:
    """The schema is written elsewhere in the same folder; the database's own name only ever
    names a complete database, and nothing is left behind."""
    from tapesched.store import schema

    written = []
    real = schema.create_sqlite

    def watched(path: Path, shown: Path | None = None) -> None:
        assert not paths.db.exists()
        assert path.parent == paths.db.parent and path != paths.db
        real(path, shown)
        assert not paths.db.exists()
        written.append(path)

    monkeypatch.setattr(schema, "create_sqlite", watched)
    with open_database(paths) as db:
        assert revision(db) == SCHEMA_REVISION
    assert len(written) == 1 and not written[0].exists()
    assert [path.name for path in paths.home.glob(".*")] == []
    assert oct(paths.db.stat().st_mode & 0o777) == "0o600"


def test_a_database_made_by_another_process_meanwhile_is_kept(paths: StatePaths, monkeypatch):
    """Two creators: the one that links second uses the first one's database."""
    from tapesched.store import schema

    real = schema.create_sqlite
    raced = []

    def racing(path: Path, shown: Path | None = None) -> None:
        real(path, shown)
        if not raced:  # the other creator wins the race and writes in its database at once
            raced.append(path)
            with open_database(paths) as other, other.write():
                other.execute("INSERT INTO meta (key, value) VALUES ('winner', 'other')")

    monkeypatch.setattr(schema, "create_sqlite", racing)
    with open_database(paths) as db, db.read():
        assert get_meta(db, "winner") == "other"
    assert [path.name for path in paths.home.glob(".*")] == []


def test_eight_creators_at_once_share_one_whole_database(tmp_path: Path) -> None:
    """Eight processes open a new state folder at once (as eight ticks or commands on a new
    folder would); whenever the database's name exists, it is a complete database."""
    home = tmp_path / "new"
    go = tmp_path / "go"
    script = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from tapesched.paths import StatePaths\n"
        "from tapesched.store.db import open_database, set_meta\n"
        "home, go, me = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]\n"
        "while not go.exists():\n"
        "    pass\n"
        "with open_database(StatePaths(home, home / 'tapesched.db')) as db, db.write():\n"
        "    set_meta(db, 'creator-' + me, me)\n"
    )
    creators = [
        subprocess.Popen([sys.executable, "-c", script, str(home), str(go), str(index)])
        for index in range(8)
    ]
    go.touch()
    seen = 0
    while any(creator.poll() is None for creator in creators):
        db = home / "tapesched.db"
        if db.exists():
            assert db.read_bytes()[:16] == b"SQLite format 3\x00"
            check = sqlite3.connect(db)
            try:
                version = check.execute(
                    "SELECT value FROM meta WHERE key = 'schema_version'"
                ).fetchone()
            finally:
                check.close()
            assert version == (str(SCHEMA_VERSION),)
            seen += 1
    assert [creator.wait() for creator in creators] == [0] * 8
    with open_database(StatePaths(home, home / "tapesched.db"), create=False) as db, db.read():
        assert [get_meta(db, f"creator-{index}") for index in range(8)] == [
            str(index) for index in range(8)
        ]
    assert [path.name for path in home.glob(".*")] == []


@pytest.mark.parametrize("name", ["with space", "what?", "hash#tag", "100%", "new\nline", "ü"])
def test_any_folder_name_holds_a_database(tmp_path: Path, name: str) -> None:
    folder = tmp_path / name
    paths = StatePaths(home=folder, db=folder / "tapesched.db")
    open_database(paths).close()
    with open_database(paths, create=False) as db:
        assert revision(db) == SCHEMA_REVISION
    assert sorted(path.name for path in tmp_path.iterdir()) == [name]


def test_a_number_past_the_database_is_invalid_input_and_text_not_utf8_is_stored_escaped(
    catalog: StatePaths,
) -> None:
    from tapesched.errors import InvalidInput

    with open_database(catalog) as db:
        with pytest.raises(InvalidInput, match="too large"), db.read():
            db.rows("SELECT 1 LIMIT :n", {"n": 2**63})
        with db.write():
            db.execute("INSERT INTO meta (key, value) VALUES (:key, :value)",
                       {"key": "note", "value": "tar: /data/caf\udce9: changed"})  # fmt: skip
            db.execute_many("INSERT INTO meta (key, value) VALUES (:key, :value)",
                            [{"key": "n2", "value": "\ud800"}])  # fmt: skip
        with db.read():
            assert get_meta(db, "note") == "tar: /data/caf\\xe9: changed"
            assert get_meta(db, "n2") == "\\ud800"


def test_the_state_folders_are_checked(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "logs").write_text("a file where a folder should be")
    paths = StatePaths(home=home, db=home / "tapesched.db")
    with pytest.raises(StorageUnavailable, match=f"^{home / 'logs'}: not a folder; expected one$"):
        open_database(paths)
    assert not paths.db.exists()
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    nested = StatePaths(home=blocker / "home", db=blocker / "home" / "tapesched.db")
    with pytest.raises(StorageUnavailable, match="cannot create the folder"):
        open_database(nested)


@pytest.mark.skipif(os.geteuid() == 0, reason="needs a non-root user: root ignores file modes")
def test_an_unwritable_locks_folder_is_refused_before_anything(paths: StatePaths) -> None:
    open_database(paths).close()
    paths.locks.chmod(0o500)
    try:
        with pytest.raises(StorageUnavailable, match="locks: folder cannot be written"):
            open_database(paths)
    finally:
        paths.locks.chmod(0o700)


def test_lock_files_stay_in_the_locks_folder(paths: StatePaths) -> None:
    uuid = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    assert paths.exec_lock(uuid) == paths.locks / f"exec-{uuid}.lock"
    for hostile in ("../../etc/x", "/abs/path", "..", "a/../../b", "\n"):
        assert paths.exec_lock(hostile).parent == paths.locks
        assert paths.device_lock(hostile).parent == paths.locks


# --------------------------------------------------------------------------- retries


def _running(db, execution_id: str, trigger: str = "schedule", attempt: int = 1) -> None:
    executions.insert(
        db,
        {
            "execution_id": execution_id,
            "task_id": 1,
            "trigger": trigger,
            "attempt": attempt,
            "scheduled_for": T0,
            "created_at": T0,
            "status": "running",
        },
    )


def test_a_failed_or_lost_run_leaves_its_retry_with_the_task_in_one_transaction(
    catalog: StatePaths,
) -> None:
    from tapesched.retries import Retry

    with open_database(catalog) as db, db.write():
        tasks.insert(db, _task_row())
        _running(db, "a1")
        ended = T0 + timedelta(minutes=1)
        finished = executions.finish(db, "a1", "lost", ended, "runner vanished")
        assert finished.retry == Retry(ended + timedelta(seconds=60), 2)
        task = tasks.get(db, 1)
        assert (task.retry_at, task.retry_attempt) == (finished.retry.at, 2)
        assert executions.finish(db, "a1", "failed", ended) is None  # recorded once
        # The claim: only one of two compare-and-sets on the same pending retry wins.
        assert tasks.due_retries(db, finished.retry.at, 10, "h1") == [task]
        assert tasks.due_retries(db, ended, 10, "h1") == []
        assert tasks.move_retry(db, 1, finished.retry.at, None)
        assert not tasks.move_retry(db, 1, finished.retry.at, None)
        assert (tasks.get(db, 1).retry_at, tasks.get(db, 1).retry_attempt) == (None, 0)
        # The retry fails too: the wait doubles; a cancelled one ends the series.
        _running(db, "a2", "retry", 2)
        assert executions.finish(db, "a2", "failed", ended).retry == Retry(
            ended + timedelta(seconds=120), 3
        )
        _running(db, "a3", "retry", 3)
        assert executions.finish(db, "a3", "cancelled", ended).retry is None
        assert tasks.get(db, 1).retry_at is None
        # A manual run is never retried, and leaves a pending retry as it is.
        tasks.update(db, 1, {"retry_at": ended, "retry_attempt": 2})
        _running(db, "m1", "manual")
        assert executions.finish(db, "m1", "failed", ended).retry is None
        assert tasks.get(db, 1).retry_at == ended


def _task_row() -> dict:
    return {
        "task_name": "flaky", "description": "", "status": "active", "enabled": True,
        "schedule_type": "daily", "schedule_config": {"time": "02:00:00"}, "timezone": "UTC",
        "action_type": "custom", "action_config": {"command": "false"}, "device": None,
        "next_run_time": T0 + timedelta(days=1), "total_runs": 0, "success_runs": 0,
        "failure_runs": 0, "misfire": "run_once", "device_wait": 60, "notify_on": "failure",
        "created_at": T0, "updated_at": T0, "host": "h1", "retries": 3, "retry_delay": 60,
        "retry_attempt": 0,
    }  # fmt: skip


def test_a_due_retry_outside_its_window_moves_and_one_behind_a_due_run_is_dropped(
    catalog: StatePaths,
) -> None:
    """tick.claim_retry applies decide_retry: Wait moves the pending retry to the opening;
    a retry due when the scheduled run is due too is recorded skipped, and owes the
    announcement of the attempt before it (its failure was never told)."""
    from tapesched.decisions import Skip, Wait
    from tapesched.tick import claim_retry

    due = T0 + timedelta(hours=1)  # 01:59:59 UTC
    with open_database(catalog) as db:
        with db.write():
            tasks.insert(db, {**_task_row(), "start_window": "03:00-04:00"})
            _running(db, "a1")
            executions.finish(db, "a1", "failed", T0, "exit 1")
            tasks.update(db, 1, {"retry_at": due, "retry_attempt": 2})
        opening = datetime(2026, 3, 29, 3, 0, tzinfo=UTC)
        assert claim_retry(db, catalog, 1, due, due, 4, host="h1") == Wait(opening)
        with db.read():
            assert (tasks.get(db, 1).retry_at, tasks.get(db, 1).retry_attempt) == (opening, 2)
            assert executions.running_for_task(db, 1) is None  # nothing launched
        # The scheduled run is due by the time the window opens: the retry is dropped.
        with db.write():
            tasks.update(db, 1, {"next_run_time": opening})
        claim = claim_retry(db, catalog, 1, opening, opening, 4, host="h1")
        assert isinstance(claim, Skip) and claim.reason == (
            "retry dropped: the scheduled run comes first"
        )
        assert (claim.owed.execution_id, claim.owed.status) == ("a1", "failed")
        with db.read():
            assert tasks.get(db, 1).retry_at is None
            [skipped] = [
                entry.execution
                for entry in executions.history(db, 1, 10, 0)[0]
                if entry.execution.status == "skipped"
            ]
        assert (skipped.trigger, skipped.attempt, skipped.scheduled_for) == ("retry", 2, opening)
        # Claimed once: the same pending retry cannot be taken again.
        assert type(claim_retry(db, catalog, 1, opening, opening, 4, host="h1")).__name__ == "Gone"
