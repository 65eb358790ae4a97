"""The schema's history as Alembic revisions (applied by tapesched.store.schema)."""
