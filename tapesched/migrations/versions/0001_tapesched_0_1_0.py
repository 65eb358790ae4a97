"""The schema of tapesched 0.1.0: tasks, executions and meta.

A database made by tapesched 0.1.0 has these tables and no alembic_version;
`tapesched db upgrade` recognises it by meta.schema_version = 1 and records
it at this revision before upgrading it further.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("schedule_type", sa.String(), nullable=False),
        sa.Column("schedule_config", sa.JSON(), nullable=False),
        sa.Column("timezone", sa.String(), nullable=False),
        sa.Column("action_type", sa.String(), nullable=False),
        sa.Column("action_config", sa.JSON(), nullable=False),
        sa.Column("device", sa.String(), nullable=True),
        sa.Column("next_run_time", sa.DateTime(), nullable=True),
        sa.Column("last_run_time", sa.DateTime(), nullable=True),
        sa.Column("last_success_time", sa.DateTime(), nullable=True),
        sa.Column("last_failure_time", sa.DateTime(), nullable=True),
        sa.Column("total_runs", sa.Integer(), nullable=False),
        sa.Column("success_runs", sa.Integer(), nullable=False),
        sa.Column("failure_runs", sa.Integer(), nullable=False),
        sa.Column("average_duration", sa.Float(), nullable=True),
        sa.Column("last_duration", sa.Float(), nullable=True),
        sa.Column("timeout", sa.Integer(), nullable=True),
        sa.Column("misfire", sa.String(), nullable=False),
        sa.Column("misfire_grace", sa.Integer(), nullable=True),
        sa.Column("device_wait", sa.Integer(), nullable=False),
        sa.Column("ping_url", sa.String(), nullable=True),
        sa.Column("notify_command", sa.String(), nullable=True),
        sa.Column("notify_on", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_tasks_task_name", "tasks", ["task_name"], unique=True)
    op.create_index("ix_tasks_enabled_next_run_time", "tasks", ["enabled", "next_run_time"])
    op.create_table(
        "meta",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "executions",
        sa.Column("execution_id", sa.String(length=36), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(), nullable=False),
        sa.Column("scheduled_for", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.Column("duration", sa.Float(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("error_message", sa.String(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("device", sa.String(), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("process_start", sa.String(), nullable=True),
        sa.Column("job_pid", sa.Integer(), nullable=True),
        sa.Column("host", sa.String(), nullable=True),
        sa.Column("log_path", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"]),
        sa.PrimaryKeyConstraint("execution_id"),
    )
    op.create_index("ix_executions_status", "executions", ["status"])
    op.create_index("ix_executions_task_started", "executions", ["task_id", "created_at"])
    op.execute(sa.text("INSERT INTO meta (key, value) VALUES ('schema_version', '1')"))


def downgrade() -> None:
    op.drop_table("executions")
    op.drop_table("meta")
    op.drop_table("tasks")
