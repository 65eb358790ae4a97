"""The database: engine, transactions, queries and claims as plain functions.

All queries are portable SQL through SQLAlchemy; SQLite-only settings (WAL,
busy timeout, BEGIN IMMEDIATE for write transactions) live in the connection
set-up alone. Claims and state changes are compare-and-set updates, which are
safe on any backend.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from sqlalchemy import event, func, update
from sqlalchemy.exc import DatabaseError, IntegrityError, OperationalError
from sqlmodel import Session, SQLModel, col, create_engine, delete, select

from tapesched.errors import Conflict, NotFound, StorageUnavailable
from tapesched.models import SCHEMA_VERSION, Execution, Meta, Task
from tapesched.paths import StatePaths

DEFAULT_BUSY_TIMEOUT = 10.0
FINAL_STATUSES = ("success", "failed", "cancelled", "skipped", "lost")


def busy_timeout() -> float:
    """Seconds a writer waits for a locked database (TAPESCHED_BUSY_TIMEOUT)."""
    try:
        return max(0.0, float(os.environ.get("TAPESCHED_BUSY_TIMEOUT", DEFAULT_BUSY_TIMEOUT)))
    except ValueError:
        return DEFAULT_BUSY_TIMEOUT


def describe_storage_error(error: Exception, db: Path) -> str:
    """Given a database error, return one line for an operator."""
    text = str(getattr(error, "orig", error)) or type(error).__name__
    lowered = text.lower()
    if "locked" in lowered or "busy" in lowered:
        return f"database {db} is locked by another process (waited {busy_timeout():g}s)"
    if "not a database" in lowered or "malformed" in lowered or "corrupt" in lowered:
        return f"database {db} is corrupt or not a tapesched database ({text})"
    if "readonly" in lowered or "read-only" in lowered or "unable to open" in lowered:
        return f"database {db} cannot be written ({text})"
    return f"database {db}: {text}"


class Store:
    """An open database. Use read() and write() for transactions."""

    def __init__(self, paths: StatePaths, create: bool = True) -> None:
        self.paths = paths
        if create:
            paths.ensure()
        elif not paths.db.exists():
            raise StorageUnavailable(f"database {paths.db} does not exist; run 'tapesched init'")
        self.engine = create_engine(
            f"sqlite:///{paths.db}",
            connect_args={"timeout": busy_timeout(), "check_same_thread": False},
        )
        event.listen(self.engine, "connect", _on_connect)
        event.listen(self.engine, "begin", _on_begin)
        with self.guard():
            self._ensure_schema()
        _restrict(paths.db)

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Turn database errors into StorageUnavailable (exit 5)."""
        try:
            yield
        except (OperationalError, DatabaseError) as error:
            raise StorageUnavailable(describe_storage_error(error, self.paths.db)) from None

    def _ensure_schema(self) -> None:
        with Session(self.engine) as session:
            try:
                version = session.get(Meta, "schema_version")
            except OperationalError as error:
                if "no such table" not in str(error):
                    raise
                version = None
        if version is None:
            with self.engine.connect() as connection:
                connection = connection.execution_options(tapesched_write=True)
                with connection.begin():
                    SQLModel.metadata.create_all(connection)
                    connection.execute(
                        Meta.__table__.insert()
                        .prefix_with("OR IGNORE", dialect="sqlite")
                        .values(key="schema_version", value=str(SCHEMA_VERSION))
                    )

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session (deferred transaction)."""
        with self.guard(), Session(self.engine, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One short write transaction (BEGIN IMMEDIATE on SQLite), committed at the end."""
        with self.guard(), self.engine.connect() as connection:
            connection = connection.execution_options(tapesched_write=True)
            with Session(bind=connection, expire_on_commit=False) as session:
                try:
                    yield session
                    session.commit()
                except BaseException:
                    session.rollback()
                    raise

    def dispose(self) -> None:
        self.engine.dispose()


def _on_connect(dbapi_connection, _record) -> None:  # noqa: ANN001 - DB-API objects
    # Let SQLAlchemy's "begin" event issue BEGIN so writers can ask for IMMEDIATE.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
    except Exception:  # noqa: BLE001 - a read-only or corrupt file surfaces at the first query
        pass
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _on_begin(connection) -> None:  # noqa: ANN001
    if connection.get_execution_options().get("tapesched_write"):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        connection.exec_driver_sql("BEGIN")


def _restrict(db: Path) -> None:
    for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        try:
            if path.exists() and path.stat().st_mode & 0o077 and path.owner():
                path.chmod(0o600)
        except (OSError, KeyError):
            pass


# --- meta -----------------------------------------------------------------


def get_meta(session: Session, key: str) -> str | None:
    row = session.get(Meta, key)
    return row.value if row else None


def set_meta(session: Session, key: str, value: str) -> None:
    row = session.get(Meta, key)
    if row is None:
        session.add(Meta(key=key, value=value))
    else:
        row.value = value
        session.add(row)


# --- tasks ----------------------------------------------------------------


def find_task(session: Session, ref: str) -> Task:
    """Given a task name or numeric id, return the task; raise NotFound."""
    task = session.exec(select(Task).where(Task.task_name == ref)).first()
    if task is None and ref.isdigit():
        task = session.get(Task, int(ref))
    if task is None:
        raise NotFound(f"no such task: {ref}")
    return task


def name_taken(session: Session, name: str, except_id: int | None = None) -> bool:
    query = select(Task.id).where(Task.task_name == name)
    if except_id is not None:
        query = query.where(Task.id != except_id)
    return session.exec(query).first() is not None


def add_task(session: Session, task: Task) -> Task:
    """Insert a task; raise Conflict if the name is taken."""
    if name_taken(session, task.task_name):
        raise Conflict(f"task name already taken: {task.task_name}")
    session.add(task)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(f"task name already taken: {task.task_name}") from None
    return task


def list_tasks(session: Session, enabled_only: bool = False) -> list[Task]:
    query = select(Task).order_by(Task.id)
    if enabled_only:
        query = query.where(Task.enabled == True)  # noqa: E712 - SQL expression
    return list(session.exec(query))


def delete_task(session: Session, task: Task) -> None:
    session.exec(delete(Execution).where(Execution.task_id == task.id))
    session.delete(task)


def due_tasks(session: Session, now: datetime, limit: int) -> list[Task]:
    """Enabled tasks with next_run_time <= now, oldest first (uses the index)."""
    query = (
        select(Task)
        .where(Task.enabled == True, col(Task.next_run_time) <= now)  # noqa: E712
        .order_by(col(Task.next_run_time), col(Task.id))
        .limit(limit)
    )
    return list(session.exec(query))


def advance(session: Session, task_id: int, expected: datetime, new_next: datetime | None) -> bool:
    """Compare-and-set next_run_time: move it only if it still holds `expected`."""
    result = session.exec(
        update(Task)
        .where(Task.id == task_id, Task.next_run_time == expected, Task.enabled == True)  # noqa: E712
        .values(next_run_time=new_next)
    )
    return result.rowcount == 1


# --- executions -----------------------------------------------------------


def running_executions(session: Session) -> list[Execution]:
    query = select(Execution).where(Execution.status == "running").order_by(Execution.created_at)
    return list(session.exec(query))


def count_running(session: Session) -> int:
    """How many executions are running (the concurrency cap counts these)."""
    query = select(func.count()).select_from(Execution).where(Execution.status == "running")
    return session.exec(query).one()


def device_in_use(session: Session, device: str) -> bool:
    """Whether a running execution uses this device."""
    query = select(Execution.execution_id).where(
        Execution.status == "running", Execution.device == device
    )
    return session.exec(query.limit(1)).first() is not None


def running_for_task(session: Session, task_id: int) -> Execution | None:
    query = select(Execution).where(Execution.task_id == task_id, Execution.status == "running")
    return session.exec(query).first()


def find_execution(session: Session, execution_id: str) -> Execution:
    execution = session.get(Execution, execution_id)
    if execution is None:
        matches = (
            list(
                session.exec(
                    select(Execution).where(col(Execution.execution_id).startswith(execution_id))
                )
            )
            if len(execution_id) >= 8
            else []
        )
        if len(matches) == 1:
            return matches[0]
        raise NotFound(f"no such execution: {execution_id}")
    return execution


def task_logs(
    session: Session, task_id: int, limit: int, offset: int, status: str | None = None
) -> tuple[list[Execution], int]:
    """The execution log of a task, newest first, and the total count."""
    query = select(Execution).where(Execution.task_id == task_id)
    count = select(func.count()).select_from(Execution).where(Execution.task_id == task_id)
    if status:
        query = query.where(Execution.status == status)
        count = count.where(Execution.status == status)
    query = query.order_by(col(Execution.created_at).desc()).offset(offset).limit(limit)
    return list(session.exec(query)), session.exec(count).one()


def counts(session: Session) -> dict[str, int]:
    total = session.exec(select(func.count()).select_from(Task)).one()
    enabled = session.exec(
        select(func.count()).select_from(Task).where(Task.enabled == True)  # noqa: E712
    ).one()
    running = session.exec(
        select(func.count()).select_from(Execution).where(Execution.status == "running")
    ).one()
    return {"total_tasks": total, "enabled_tasks": enabled, "running_executions": running}


def finish_execution(
    session: Session,
    execution_id: str,
    status: str,
    completed_at: datetime,
    error: str | None = None,
    result: dict | None = None,
) -> bool:
    """Record the outcome of a running execution and the task's statistics, once.

    Compare-and-set on status='running': whoever records first (runner, stop,
    tick's reconcile) wins; later callers get False and change nothing.
    Statistics: success and failed count as runs (and feed the average
    duration); cancelled counts as a run but neither success nor failure;
    lost counts as a failure but not as a run; skipped counts as nothing.
    """
    execution = session.get(Execution, execution_id)
    if execution is None or execution.status != "running":
        return False
    duration = None
    if execution.started_at is not None and status in ("success", "failed", "cancelled"):
        duration = max(0.0, (completed_at - execution.started_at).total_seconds())
    changed = session.exec(
        update(Execution)
        .where(Execution.execution_id == execution_id, Execution.status == "running")
        .values(
            status=status,
            completed_at=completed_at,
            duration=duration,
            error_message=error,
            result=result if result is not None else execution.result,
        )
    )
    if changed.rowcount != 1:
        return False
    task = session.get(Task, execution.task_id)
    if task is None:
        return True
    if status in ("success", "failed", "cancelled"):
        task.total_runs += 1
        task.last_run_time = execution.started_at or completed_at
    if status == "success":
        task.success_runs += 1
        task.last_success_time = completed_at
    elif status in ("failed", "lost"):
        task.failure_runs += 1
        task.last_failure_time = completed_at
    if duration is not None and status in ("success", "failed"):
        session.flush()
        task.average_duration = session.exec(
            select(func.avg(Execution.duration)).where(
                Execution.task_id == task.id,
                col(Execution.status).in_(("success", "failed")),
                col(Execution.duration).is_not(None),
            )
        ).one()
        task.last_duration = duration
    if not task.enabled:
        task.status = "inactive"
    else:
        task.status = {
            "success": "active",
            "failed": "error",
            "lost": "error",
            "cancelled": "paused",
        }.get(status, task.status)
    task.updated_at = completed_at
    session.add(task)
    return True


def last_tick(session: Session) -> datetime | None:
    value = get_meta(session, "last_tick_time")
    return datetime.fromisoformat(value) if value else None


def next_from_now(task: Task, now: datetime) -> datetime | None:
    """The task's next run counted from now (enable, edit)."""
    from tapesched import schedule as schedules
    from tapesched.schedule_config import Schedule

    schedule = Schedule(task.schedule_type, task.schedule_config, task.timezone)
    return schedules.next_run(schedule, now, None, task.created_at)


def task_states(session: Session, tasks: list[Task], now: datetime) -> dict[int, str]:
    """What `list` and `show` call each task: 'running' with a run in progress,
    'queued' when due but its drive is busy, else its status ('inactive' if disabled)."""
    running = running_executions(session)
    running_tasks = {execution.task_id for execution in running}
    busy = {execution.device for execution in running if execution.device}
    states: dict[int, str] = {}
    for task in tasks:
        if task.id in running_tasks:
            states[task.id] = "running"
        elif not task.enabled:
            states[task.id] = "inactive"
        elif task.next_run_time and task.next_run_time <= now and task.device in busy:
            states[task.id] = "queued"
        elif task.status == "running":
            states[task.id] = "active"
        else:
            states[task.id] = task.status
    return states
