"""Creating the schema: the SQLModel tables (tapesched.models), through SQLAlchemy.

The only module of the store that imports SQLAlchemy, and only when a
database is new (`init`, or the first command on a new state folder).
Creating is safe while other processes open the same new file: the tables
and the schema version are written in one BEGIN IMMEDIATE transaction, and
each `CREATE` checks first.
"""

from __future__ import annotations

from pathlib import Path

from tapesched.errors import StorageUnavailable
from tapesched.store.db import (
    SCHEMA_VERSION,
    busy_timeout,
    configure_sqlite,
    describe_storage_error,
)


def create(path: Path) -> None:
    """Create the tables and record SCHEMA_VERSION in the database at `path`."""
    from sqlalchemy import create_engine, event
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.pool import NullPool
    from sqlmodel import SQLModel

    from tapesched import models

    engine = create_engine(
        f"sqlite:///{path}", connect_args={"timeout": busy_timeout()}, poolclass=NullPool
    )
    event.listen(engine, "connect", lambda connection, _record: configure_sqlite(connection))
    event.listen(engine, "begin", lambda connection: connection.exec_driver_sql("BEGIN IMMEDIATE"))
    try:
        with engine.connect() as connection, connection.begin():
            SQLModel.metadata.create_all(connection)
            connection.execute(
                models.Meta.__table__.insert()
                .prefix_with("OR IGNORE", dialect="sqlite")
                .values(key="schema_version", value=str(SCHEMA_VERSION))
            )
    except DBAPIError as error:
        raise StorageUnavailable(describe_storage_error(error, path)) from None
    finally:
        engine.dispose()
