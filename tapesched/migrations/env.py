"""Alembic's environment: migrations run on the connection tapesched.store.schema hands
over (config.attributes["connection"]), in the transaction it holds.

For a developer writing a new revision: `alembic -c tapesched/migrations/alembic.ini
revision -m "what changes"` (see that file), then add the revision to
tapesched.store.db.REVISIONS and SCHEMA_REVISION.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine
from sqlmodel import SQLModel

from tapesched import models  # noqa: F401 - the tables, for autogenerate

connection = context.config.attributes.get("connection")
if connection is None:  # run by the alembic command line on a URL of its own
    engine = create_engine(context.config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection, connection.begin():
        context.configure(connection=connection, target_metadata=SQLModel.metadata)
        context.run_migrations()
else:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        transactional_ddl=True,
        render_as_batch=True,
    )
    context.run_migrations()
