"""Scheduling policies (issue 12): retries, hooks, start windows, levels by date.

- tasks.retries, tasks.retry_delay: how many times a failed or lost run is tried
  again, and the first delay (it doubles after each failed attempt).
- tasks.retry_at, tasks.retry_attempt: the retry a task has pending (when it is
  due, and which attempt it will be; 0 when none), indexed like next_run_time so
  that a tick finds due retries without reading every task.
- tasks.hook_before, tasks.hook_after: commands run before and after the job
  (JSON: a string split like a shell would, or a list of arguments).
- tasks.start_window: "HH:MM-HH:MM" in the task's zone, or NULL.
- executions.attempt: which attempt of its series a run is (1 for the first).
- executions.level: the backup level a manual run asked for (`run --level`).
- meta.schema_version becomes 4.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for column in (
        sa.Column("retries", sa.Integer(), server_default="0", nullable=False),
        sa.Column("retry_delay", sa.Integer(), server_default="300", nullable=False),
        sa.Column("retry_at", sa.DateTime(), nullable=True),
        sa.Column("retry_attempt", sa.Integer(), server_default="0", nullable=False),
        sa.Column("hook_before", sa.JSON(), nullable=True),
        sa.Column("hook_after", sa.JSON(), nullable=True),
        sa.Column("start_window", sa.String(length=11), nullable=True),
    ):
        op.add_column("tasks", column)
    op.create_index("ix_tasks_enabled_retry_at", "tasks", ["enabled", "retry_at"])
    op.add_column(
        "executions", sa.Column("attempt", sa.Integer(), server_default="1", nullable=False)
    )
    op.add_column("executions", sa.Column("level", sa.String(length=16), nullable=True))
    op.get_bind().execute(sa.text("UPDATE meta SET value = '4' WHERE key = 'schema_version'"))


def downgrade() -> None:
    raise NotImplementedError(
        "tapesched does not downgrade a catalog: restore the copy taken before the upgrade"
    )
