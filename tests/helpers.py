"""Helpers shared by the tests (importable as `helpers`: pytest's pythonpath has tests/).

Those that read or change a catalog directly work on either backend: they take its
location (a Path for SQLite, a DatabaseURL for PostgreSQL) or, given none, the one the
environment names (TAPESCHED_DB, else TAPESCHED_HOME's tapesched.db), as tapesched does.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from tapesched.dburl import DatabaseURL
from tapesched.paths import resolve
from tapesched.store.db import Database, connect, decode_time, encode_time

Location = Path | DatabaseURL  # a catalog: an SQLite file, or a PostgreSQL database


@dataclass
class Result:
    """What a tapesched command did: its exit code, stdout and stderr."""

    code: int
    out: str
    err: str

    def json(self):  # noqa: ANN201
        return json.loads(self.out)

    @property
    def one_error_line(self) -> str:
        """The one line on stderr of a refused command (nothing on stdout)."""
        assert self.out == "", self.out
        assert self.err.endswith("\n") and self.err.count("\n") == 1, self.err
        return self.err


def group_gone(group: int) -> bool:
    """Whether no process is left in the process group."""
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return True
    return False


def location(db: Location | None = None) -> Location:
    """The catalog given, or the one the environment names."""
    return resolve().db if db is None else db


def catalog_exists(db: Location | None = None) -> bool:
    """Whether there is a catalog yet (a PostgreSQL test database always exists)."""
    where = location(db)
    return not isinstance(where, Path) or where.exists()


@contextmanager
def catalog(db: Location | None = None) -> Iterator[Database]:
    """The catalog opened as tapesched opens it, without checking its schema."""
    database = connect(location(db))
    try:
        yield database
    finally:
        database.close()


def rows(sql: str, params: dict[str, Any] | None = None, db: Location | None = None) -> list:
    """The rows of one query (`:name` parameters), in a read transaction."""
    with catalog(db) as database, database.read():
        return database.rows(sql, params or {})


def execute(sql: str, params: dict[str, Any] | None = None, db: Location | None = None) -> None:
    """Run one statement in a write transaction of its own."""
    with catalog(db) as database, database.write():
        database.execute(sql, params or {})


def dump(db: Location | None = None) -> list[str]:
    """Every row of every table, to show a database unchanged: SQLite's own dump; on
    PostgreSQL each table's columns and its rows, each as text, sorted."""
    where = location(db)
    if isinstance(where, Path):
        if not where.exists():
            return []
        connection = sqlite3.connect(where)
        try:
            return list(connection.iterdump())
        finally:
            connection.close()
    lines = []
    with catalog(where) as database, database.read():
        tables = database.rows(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
        )
        for (table,) in tables:
            cursor = database.execute(f'SELECT * FROM "{table}"')
            columns = [column.name for column in cursor.description]
            lines.append(f"{table} ({', '.join(columns)})")
            lines.extend(sorted(f"{table}: {row!r}" for row in cursor.fetchall()))
    return lines


@contextmanager
def write_lock_held(db: Location | None = None) -> Iterator[None]:
    """Another process's write transaction holding the catalog: SQLite's write lock
    (BEGIN IMMEDIATE); on PostgreSQL, every tapesched table locked against writes (reads
    go on, as they do on SQLite in WAL mode)."""
    where = location(db)
    if isinstance(where, Path):
        holder = sqlite3.connect(where, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    with catalog(where) as database:
        database.execute("BEGIN")
        try:
            database.execute("LOCK TABLE tasks, executions, hosts, meta IN EXCLUSIVE MODE")
            yield
        finally:
            database.execute("ROLLBACK")


def wait_until(predicate, timeout: float = 20.0, poll: float = 0.1):  # noqa: ANN001, ANN201
    """Poll until predicate() is truthy; return its value or fail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"condition not met within {timeout}s")


def age_claim(home: Path, execution_id: str, age: timedelta) -> None:
    """Move a claim's created_at back by `age`, as if it had been made that long ago
    (instead of sleeping until the wall clock passes a threshold). The catalog is the
    one the environment names for the state folder `home`."""
    where = resolve(environ={**os.environ, "TAPESCHED_HOME": str(home)}).db
    with catalog(where) as database, database.write():
        created = decode_time(
            database.scalar(
                "SELECT created_at FROM executions WHERE execution_id = :id", {"id": execution_id}
            )
        )
        database.execute(
            "UPDATE executions SET created_at = :created WHERE execution_id = :id",
            {"created": encode_time(created - age), "id": execution_id},
        )


def end_recorded_processes(db: Location) -> None:
    """Kill the process groups of every runner and job the catalog names (what a failing
    test may have left behind); a file that is no catalog is passed over."""
    from tapesched.errors import StorageUnavailable

    try:
        with catalog(db) as database, database.read():
            found = database.rows("SELECT pid, job_pid FROM executions")
    except (StorageUnavailable, sqlite3.Error):
        return
    for pid, job_pid in found:
        for group in (job_pid, pid):
            if group:
                try:
                    os.killpg(group, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
