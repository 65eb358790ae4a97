"""The plain-SQL store against the schema the SQLModel tables define, on real SQLite files.

The store writes and reads values in the forms SQLAlchemy uses for these
tables (a database written by tapesched 0.1, or by SQLModel, reads back the
same), its records have exactly the tables' columns, and its transactions and
errors behave as the commands rely on.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlmodel import Session

from tapesched import models
from tapesched.errors import Conflict, NotFound, StorageUnavailable
from tapesched.paths import StatePaths
from tapesched.store import executions, tasks
from tapesched.store.db import SCHEMA_VERSION, get_meta, open_database, schema_version

T0 = datetime(2026, 3, 29, 0, 59, 59, 123456, tzinfo=UTC)


@pytest.fixture
def paths(tmp_path: Path) -> StatePaths:
    return StatePaths(home=tmp_path / "home", db=tmp_path / "home" / "tapesched.db")


def test_records_have_exactly_the_tables_columns() -> None:
    assert tasks.TABLE.columns == tuple(models.Task.__table__.columns.keys())
    assert executions.TABLE.columns == tuple(models.Execution.__table__.columns.keys())


def test_a_new_database_gets_the_schema_and_its_version(paths: StatePaths) -> None:
    with open_database(paths) as db:
        assert schema_version(db) == str(SCHEMA_VERSION)
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


def test_what_sqlmodel_writes_the_store_reads_and_back(paths: StatePaths) -> None:
    open_database(paths).close()
    engine = create_engine(f"sqlite:///{paths.db}")
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


def test_the_due_query_uses_the_index_and_compares_instants(paths: StatePaths) -> None:
    with open_database(paths) as db:
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
        with db.read():
            due = tasks.due(db, T0, 10)
            plan = db.rows(
                "EXPLAIN QUERY PLAN SELECT id FROM tasks WHERE enabled = :e AND "
                "next_run_time <= :now ORDER BY next_run_time, id LIMIT 64",
                {"e": True, "now": "x"},
            )
    assert [task.task_name for task in due] == ["t0", "t1"]
    assert "ix_tasks_enabled_next_run_time" in " ".join(str(row) for row in plan)


def test_a_taken_name_is_a_conflict_and_a_huge_id_is_not_found(paths: StatePaths) -> None:
    with open_database(paths) as db, db.write():
        row = {**orm_task().model_dump(exclude={"id"}), "total_runs": 0, "success_runs": 0}
        tasks.insert(db, {**row, "failure_runs": 0})
        with pytest.raises(Conflict, match="already taken: orm"):
            tasks.insert(db, {**row, "failure_runs": 0})
        with pytest.raises(NotFound):
            tasks.find(db, "9" * 40)


def test_a_write_inside_a_read_is_a_programming_error_and_reads_join_writes(
    paths: StatePaths,
) -> None:
    with open_database(paths) as db:
        with db.write(), db.read():
            assert get_meta(db, "schema_version") == str(SCHEMA_VERSION)
        with pytest.raises(RuntimeError), db.read(), db.write():
            pass
        with db.read():  # the failed attempt left no transaction open
            assert get_meta(db, "schema_version") == str(SCHEMA_VERSION)


def test_an_error_rolls_the_whole_transaction_back(paths: StatePaths) -> None:
    with open_database(paths) as db:
        with pytest.raises(KeyError), db.write():
            db.execute("INSERT INTO meta (key, value) VALUES ('k', 'v')")
            raise KeyError("boom")
        with db.read():
            assert get_meta(db, "k") is None


def test_a_locked_database_is_one_line_exit_5(paths: StatePaths, monkeypatch) -> None:
    monkeypatch.setenv("TAPESCHED_BUSY_TIMEOUT", "0.2")
    open_database(paths).close()
    holder = sqlite3.connect(paths.db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with open_database(paths) as db:
            with pytest.raises(StorageUnavailable) as caught, db.write():
                pass
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert caught.value.exit_code == 5
    assert "is locked by another process (waited 0.2s)" in caught.value.message


def test_a_corrupt_file_is_refused_and_left_alone(paths: StatePaths) -> None:
    paths.home.mkdir(parents=True)
    paths.db.write_bytes(b"not a database" * 100)
    with pytest.raises(StorageUnavailable, match="corrupt or not a tapesched database"):
        open_database(paths)
    assert paths.db.read_bytes() == b"not a database" * 100
