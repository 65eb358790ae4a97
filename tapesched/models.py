"""The tables (SPEC section 2): tasks, executions, hosts, a key/value meta table, and the
tape media (issue 11): pools, libraries, volumes and the pieces of each backup.

What the schema is meant to be: the Alembic migrations (tapesched/migrations)
build it, and a test checks that a database migrated to the newest revision
matches these models. Queries are plain SQL in tapesched.store, whose records
(TaskRecord, ExecutionRecord, VolumeRecord...) have the same fields; a test keeps them equal.
Instants are stored as naive UTC and read back as aware UTC, which works the
same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, naive UTC stored, aware UTC out."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


class Task(SQLModel, table=True):
    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_enabled_next_run_time", "enabled", "next_run_time"),
        Index("ix_tasks_enabled_retry_at", "enabled", "retry_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    task_name: str = Field(index=True, unique=True, max_length=64)
    description: str = ""
    status: str = "active"
    enabled: bool = True
    schedule_type: str
    schedule_config: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    timezone: str
    action_type: str
    action_config: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    device: str | None = None  # copied from action_config["device"]: one job per drive
    next_run_time: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_run_time: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_success_time: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_failure_time: datetime | None = Field(default=None, sa_type=UTCDateTime)
    total_runs: int = 0
    success_runs: int = 0
    failure_runs: int = 0
    average_duration: float | None = None
    last_duration: float | None = None
    timeout: int | None = None
    misfire: str = "run_once"
    misfire_grace: int | None = None
    device_wait: int = 60
    ping_url: str | None = None  # Healthchecks-style: URL/start, URL, URL/fail
    notify_command: str | None = None  # argument list as a string, run without a shell
    notify_on: str = "failure"  # failure | always
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    # The host whose tick runs it (its drives and paths live there), or "any".
    host: str = Field(default="any", max_length=64, sa_column_kwargs={"server_default": "any"})
    # Scheduling policies (0004): retries and the retry pending, hooks, the start window.
    retries: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    retry_delay: int = Field(default=300, sa_column_kwargs={"server_default": "300"})
    retry_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    retry_attempt: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    hook_before: Any = Field(default=None, sa_column=Column(JSON, nullable=True))
    hook_after: Any = Field(default=None, sa_column=Column(JSON, nullable=True))
    start_window: str | None = Field(default=None, max_length=11)


class Execution(SQLModel, table=True):
    __tablename__ = "executions"
    __table_args__ = (
        Index("ix_executions_task_started", "task_id", "created_at"),
        Index("ix_executions_status", "status"),
    )

    execution_id: str = Field(primary_key=True, max_length=36)
    task_id: int = Field(foreign_key="tasks.id")
    trigger: str = "schedule"
    scheduled_for: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)  # when it was claimed
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    duration: float | None = None
    status: str = "running"
    error_message: str | None = None
    result: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    device: str | None = None
    pid: int | None = None  # the runner's pid; None until a runner has started
    process_start: str | None = None  # the runner's start time (from /proc), against pid reuse
    job_pid: int | None = None  # the job's pid, which is also its process group id
    host: str | None = None  # the host that claimed it, whose runner runs it
    log_path: str | None = None
    # Until when the run is known alive: its runner renews this; past it (by the database
    # server's clock), a tick on any host marks the run lost.
    lease_expires: datetime | None = Field(default=None, sa_type=UTCDateTime)
    job_start: str | None = None  # the job's start time (from /proc), against pid reuse
    attempt: int = Field(default=1, sa_column_kwargs={"server_default": "1"})  # in its series
    level: str | None = Field(default=None, max_length=16)  # a manual run's backup level


class Host(SQLModel, table=True):
    """Each host that ticks on this catalog, and when its tick last ran."""

    __tablename__ = "hosts"

    name: str = Field(primary_key=True, max_length=64)
    last_tick: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Meta(SQLModel, table=True):
    __tablename__ = "meta"

    key: str = Field(primary_key=True, max_length=64)
    value: str


# --------------------------------------------------------------------------- media (0003)


class Pool(SQLModel, table=True):
    """A pool of volumes and how long its backups are retained. The pool `scratch` is no
    row: a volume in it has pool NULL."""

    __tablename__ = "pools"

    name: str = Field(primary_key=True, max_length=32)
    retention_days: int
    created_at: datetime = Field(sa_type=UTCDateTime)


class Library(SQLModel, table=True):
    """A tape library: virtual (folders) or a changer driven by mtx, on one host."""

    __tablename__ = "libraries"

    name: str = Field(primary_key=True, max_length=32)
    kind: str = Field(max_length=16)  # virtual | changer
    config: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    host: str = Field(max_length=64)  # the host whose devices it is
    created_at: datetime = Field(sa_type=UTCDateTime)


class Volume(SQLModel, table=True):
    """A labelled cartridge. Where it is: library and slot set, in that slot; drive set, in
    that drive (a library's drive "LIB:INDEX" keeps library set, slot NULL); neither, on
    the shelf."""

    __tablename__ = "volumes"
    __table_args__ = (Index("ix_volumes_pool_state", "pool", "state"),)

    label: str = Field(primary_key=True, max_length=32)
    barcode: str | None = Field(default=None, max_length=32)
    pool: str | None = Field(default=None, max_length=32)  # None: the scratch pool
    state: str = Field(max_length=16)  # scratch | append | full | error | retired
    uuid: str | None = Field(default=None, max_length=36)
    bytes_written: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    files_written: int = 0
    first_written: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_written: datetime | None = Field(default=None, sa_type=UTCDateTime)
    retained_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    labelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    library: str | None = Field(default=None, max_length=32)
    slot: int | None = None
    drive: str | None = None  # a device path, a folder, or "LIB:INDEX"
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class Piece(SQLModel, table=True):
    """One piece of a backup's data stream: the tape file `file_number` of `volume`."""

    __tablename__ = "pieces"
    __table_args__ = (Index("ix_pieces_volume", "volume"),)

    execution_id: str = Field(
        primary_key=True, max_length=36, foreign_key="executions.execution_id"
    )
    seq: int = Field(primary_key=True)  # 0, 1, ... in the order of the stream
    volume: str = Field(max_length=32)
    file_number: int
    bytes: int = Field(sa_column=Column(BigInteger, nullable=False))
    sha256: str = Field(max_length=64)
