"""Several hosts on one catalog: each task's host, run leases, the hosts table.

- tasks.host: the host whose tick runs the task, or "any". Tasks that exist
  when the database is upgraded belong to the host that upgrades it (their
  drives and paths are there); set TAPESCHED_HOST to name another.
- executions.lease_expires: until when a running execution is known alive.
- executions.job_start: the job's start time, so that a tick ending a job left
  behind (even a day later, after the host came back) never signals another
  process that got its pid.
- hosts: each host's last tick (the single heartbeat in meta moves here, under
  the upgrading host's name; a database that never ticked gets no row).
- meta.schema_version becomes 2 (tapesched 0.1.0 reads it only to see that a schema
  exists, so it would not refuse the database: every host runs the new tapesched
  before the upgrade).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    config = op.get_context().config
    host = config.attributes.get("host") if config is not None else None
    if not host:
        from tapesched.hosts import this_host

        host = this_host()
    op.add_column(
        "tasks", sa.Column("host", sa.String(length=64), server_default="any", nullable=False)
    )
    op.add_column("executions", sa.Column("lease_expires", sa.DateTime(), nullable=True))
    op.add_column("executions", sa.Column("job_start", sa.String(), nullable=True))
    op.create_table(
        "hosts",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("last_tick", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    bind = op.get_bind()
    bind.execute(sa.text("UPDATE tasks SET host = :host"), {"host": host})
    bind.execute(
        sa.text("UPDATE executions SET host = :host WHERE status = 'running' AND host IS NULL"),
        {"host": host},
    )
    heartbeat = bind.execute(
        sa.text("SELECT value FROM meta WHERE key = 'last_tick_time'")
    ).scalar()
    if heartbeat:
        # Only a tick that ran makes a host row: a new database (made through this revision
        # by `init`) lists no host until one ticks.
        from datetime import UTC, datetime

        last_tick = datetime.fromisoformat(heartbeat).astimezone(UTC).replace(tzinfo=None)
        bind.execute(
            sa.text("INSERT INTO hosts (name, last_tick) VALUES (:host, :last_tick)").bindparams(
                sa.bindparam("last_tick", type_=sa.DateTime())
            ),
            {"host": host, "last_tick": last_tick},
        )
    bind.execute(sa.text("DELETE FROM meta WHERE key = 'last_tick_time'"))
    bind.execute(sa.text("UPDATE meta SET value = '2' WHERE key = 'schema_version'"))


def downgrade() -> None:
    raise NotImplementedError(
        "tapesched does not downgrade a catalog: restore the copy taken before the upgrade"
    )
