"""Creating the schema: the SQLModel tables (tapesched.models), through SQLAlchemy.

The only module of the store that imports SQLAlchemy, and only when a
database is new (`init`, or the first command on a new state folder). It
writes a new file that no other process knows of yet (tapesched.store.db
creates a database in a temporary file and links it into place once it is
complete): the tables and the schema version in one transaction, in rollback
journal mode so that the one file holds everything (the first connection to
the database in place turns WAL on).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tapesched.errors import StorageUnavailable
from tapesched.store.db import SCHEMA_VERSION, busy_timeout, describe_storage_error


def create(path: Path, shown: Path | None = None) -> None:
    """Create the tables and record SCHEMA_VERSION in the database at `path`; an error
    names `shown` (the database the file becomes), or `path`."""
    from sqlalchemy import create_engine, event
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.pool import NullPool
    from sqlmodel import SQLModel

    from tapesched import models

    def connect() -> sqlite3.Connection:
        # Connecting by a function, not a URL: a path with '?', '#' or '%' stays a path.
        connection = sqlite3.connect(str(path), timeout=busy_timeout(), isolation_level=None)
        connection.execute("PRAGMA journal_mode=DELETE")
        connection.execute("PRAGMA foreign_keys=ON")
        return connection

    engine = create_engine("sqlite://", creator=connect, poolclass=NullPool)
    event.listen(engine, "begin", lambda connection: connection.exec_driver_sql("BEGIN IMMEDIATE"))
    try:
        with engine.connect() as connection, connection.begin():
            SQLModel.metadata.create_all(connection)
            connection.execute(
                models.Meta.__table__.insert()
                .prefix_with("OR IGNORE", dialect="sqlite")
                .values(key="schema_version", value=str(SCHEMA_VERSION))
            )
    except (DBAPIError, sqlite3.Error) as error:
        raise StorageUnavailable(describe_storage_error(error, shown or path)) from None
    finally:
        engine.dispose()
