"""Creating and upgrading the schema: the Alembic revisions in tapesched/migrations.

The only module of the store that imports SQLAlchemy and Alembic, and only
when a schema is made or moved: `init` (or the first command on a new SQLite
state folder), an empty PostgreSQL database, `db upgrade`. Everything runs in
one transaction on a connection of its own: on SQLite a `BEGIN IMMEDIATE` one,
on PostgreSQL one that first takes an advisory lock, so that two hosts
initialising or upgrading the same catalog at once do it once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tapesched.dburl import DatabaseURL
from tapesched.errors import StorageUnavailable
from tapesched.store.db import LEGACY_SCHEMA_VERSION, REVISIONS, SCHEMA_REVISION, Database

_LOCK_KEY = "tapesched-schema"


def _config(connection: Any, host: str | None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent.parent / "migrations"))
    config.attributes["connection"] = connection
    if host:
        config.attributes["host"] = host
    return config


@contextmanager
def _connection(location: Path | DatabaseURL, shown: Any, sqlite_journal: str) -> Iterator[Any]:
    """A SQLAlchemy connection to the catalog inside one transaction that holds the
    schema's lock; errors as StorageUnavailable naming `shown`."""
    from sqlalchemy import create_engine, event, text
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.pool import NullPool

    if isinstance(location, DatabaseURL):
        import psycopg

        from tapesched.store.postgres import describe_error

        def connect_postgres() -> Any:
            return psycopg.connect(**location.connect_arguments())

        engine = create_engine(
            "postgresql+psycopg://", creator=connect_postgres, poolclass=NullPool
        )

        def describe(error: BaseException) -> str:
            return describe_error(getattr(error, "orig", error), location)

        errors: tuple[type[BaseException], ...] = (DBAPIError, psycopg.Error)
    else:
        from tapesched.store.sqlite import busy_timeout, describe_storage_error

        def connect_sqlite() -> sqlite3.Connection:
            # By a function, not a URL: a path with '?', '#' or '%' stays a path.
            connection = sqlite3.connect(
                str(location), timeout=busy_timeout(), isolation_level=None
            )
            connection.execute(f"PRAGMA journal_mode={sqlite_journal}")
            connection.execute("PRAGMA foreign_keys=ON")
            return connection

        engine = create_engine("sqlite://", creator=connect_sqlite, poolclass=NullPool)
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))

        def describe(error: BaseException) -> str:
            return describe_storage_error(error, shown)

        errors = (DBAPIError, sqlite3.Error)
    try:
        with engine.connect() as connection, connection.begin():
            if isinstance(location, DatabaseURL):
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": _LOCK_KEY}
                )
            yield connection
    except errors as error:
        raise StorageUnavailable(describe(error)) from None
    finally:
        engine.dispose()


def _revision(connection: Any) -> str | None:
    """The schema's revision as tapesched.store.db.revision tells it, on a SQLAlchemy
    connection: `0001` for a 0.1.0 database, None for none."""
    from sqlalchemy import inspect, text

    tables = set(inspect(connection).get_table_names())
    if "alembic_version" in tables:
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    if "meta" in tables:
        version = connection.execute(
            text("SELECT value FROM meta WHERE key = 'schema_version'")
        ).scalar()
        if version == LEGACY_SCHEMA_VERSION:
            return "0001"
        if version is not None:
            return f"version {version}"
    return None


def _upgrade(connection: Any, host: str | None) -> tuple[str | None, str]:
    """Bring the schema on `connection` to the newest revision; return (before, after)."""
    from alembic import command

    before = _revision(connection)
    config = _config(connection, host)
    if before is not None and before not in REVISIONS:
        raise StorageUnavailable(
            f"the database has schema revision {before}, which this tapesched (revision "
            f"{SCHEMA_REVISION}) does not know: it was upgraded by a newer tapesched"
        )
    if before == "0001":
        from sqlalchemy import inspect

        if "alembic_version" not in inspect(connection).get_table_names():
            command.stamp(config, "0001")  # a 0.1.0 database: it is at 0001 already
    if before != SCHEMA_REVISION:
        command.upgrade(config, SCHEMA_REVISION)
    return before, _revision(connection) or SCHEMA_REVISION


def create_sqlite(path: Path, shown: Path | None = None) -> None:
    """Create the schema at the newest revision in the new SQLite file at `path` (no other
    process knows it yet; tapesched.store.sqlite links it into place); an error names
    `shown`, the database the file becomes. Rollback journal, so that the one file holds
    everything; the first connection in place turns WAL on."""
    with _connection(path, shown or path, "DELETE") as connection:
        _upgrade(connection, None)


def create_postgres(database: Database) -> None:
    """Give an empty PostgreSQL database tapesched's schema at the newest revision (once,
    however many hosts try at the same moment)."""
    with _connection(database.location, database.location, "WAL") as connection:
        if _revision(connection) is None:
            _upgrade(connection, None)


def upgrade(location: Path | DatabaseURL, host: str) -> tuple[str | None, str]:
    """`tapesched db upgrade`: bring the catalog to the newest revision (tasks, history and
    statistics kept); tasks that exist before revision 0002 are bound to `host`. Return
    the revision before and after."""
    with _connection(location, location, "WAL") as connection:
        before = _revision(connection)
        if before is None:
            raise StorageUnavailable(
                f"database {location} has no tapesched schema; run 'tapesched init' to create one"
            )
        return _upgrade(connection, host)
