"""The tasks table: TaskRecord, lookups, inserts, updates and the due index."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tapesched.errors import Conflict, NotFound
from tapesched.store.db import Database, Duplicate, Table, encode_time


@dataclass(frozen=True, slots=True)
class TaskRecord:
    """One row of the tasks table (field names are the seed's; SPEC section 2)."""

    id: int
    task_name: str
    description: str
    status: str
    enabled: bool
    schedule_type: str
    schedule_config: dict[str, Any]
    timezone: str
    action_type: str
    action_config: dict[str, Any]
    device: str | None  # action_config["device"]: one job per drive
    next_run_time: datetime | None
    last_run_time: datetime | None
    last_success_time: datetime | None
    last_failure_time: datetime | None
    total_runs: int
    success_runs: int
    failure_runs: int
    average_duration: float | None
    last_duration: float | None
    timeout: int | None
    misfire: str
    misfire_grace: int | None
    device_wait: int
    ping_url: str | None
    notify_command: str | None
    notify_on: str
    created_at: datetime
    updated_at: datetime
    host: str  # the host whose tick runs it, or "any"
    retries: int  # how many times a failed or lost run is tried again
    retry_delay: int  # seconds before the first retry; doubles after each failed attempt
    retry_at: datetime | None  # when the pending retry is due, or None
    retry_attempt: int  # which attempt the pending retry is (0: none pending)
    hook_before: str | list[str] | None  # run before the job; its failure fails the run
    hook_after: str | list[str] | None  # run after every outcome
    start_window: str | None  # "HH:MM-HH:MM" in the task's zone: when a run may start


TABLE = Table(
    "tasks",
    TaskRecord,
    times=frozenset(
        {
            "next_run_time",
            "last_run_time",
            "last_success_time",
            "last_failure_time",
            "created_at",
            "updated_at",
            "retry_at",
        }
    ),
    json=frozenset({"schedule_config", "action_config", "hook_before", "hook_after"}),
    flags=frozenset({"enabled"}),
)


# --------------------------------------------------------------------------- lookups


def get(db: Database, task_id: int) -> TaskRecord | None:
    row = db.first(f"{TABLE.select} WHERE id = :id", {"id": task_id})
    return TABLE.decode(row) if row else None


def lookup(db: Database, ref: str) -> TaskRecord | None:
    """Given a task name or numeric id, return the task, or None."""
    row = db.first(f"{TABLE.select} WHERE task_name = :name", {"name": ref})
    if row is None and ref.isascii() and ref.isdigit() and len(ref) < 19:
        row = db.first(f"{TABLE.select} WHERE id = :id", {"id": int(ref)})
    return TABLE.decode(row) if row is not None else None


def find(db: Database, ref: str) -> TaskRecord:
    """Given a task name or numeric id, return the task; raise NotFound."""
    task = lookup(db, ref)
    if task is None:
        raise NotFound(f"no such task: {ref}")
    return task


def all_tasks(
    db: Database,
    enabled_only: bool = False,
    order: str = "id",
    action_type: str | None = None,
) -> list[TaskRecord]:
    """Every task, or the enabled ones, or those of one action type; by id or by name."""
    by = {"id": "id", "name": "task_name"}[order]
    where = []
    if enabled_only:
        where.append("enabled = :enabled")
    if action_type is not None:
        where.append("action_type = :action_type")
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    if order == "name":
        by += db.by_code_point
    rows = db.rows(
        f"{TABLE.select}{clause} ORDER BY {by}",
        {"enabled": True, "action_type": action_type},
    )
    return [TABLE.decode(row) for row in rows]


def names_starting(db: Database, prefix: str, limit: int = 200) -> list[str]:
    """Task names that start with `prefix` (shell completion), in order."""
    rows = db.rows(
        "SELECT task_name FROM tasks WHERE substr(task_name, 1, length(:prefix)) = :prefix "
        f"ORDER BY task_name{db.by_code_point} LIMIT :limit",
        {"prefix": prefix, "limit": limit},
    )
    return [name for (name,) in rows]


def counts(db: Database) -> tuple[int, int]:
    """How many tasks there are, and how many are enabled."""
    total, enabled = db.first(
        "SELECT count(*), coalesce(sum(CASE WHEN enabled = :enabled THEN 1 ELSE 0 END), 0) "
        "FROM tasks",
        {"enabled": True},
    )
    return total, enabled


def timeouts(db: Database, task_ids: set[int]) -> dict[int, tuple[str, int | None]]:
    """Name and timeout of the given tasks (those of the running executions: a handful)."""
    result: dict[int, tuple[str, int | None]] = {}
    for task_id in sorted(task_ids):
        row = db.first("SELECT task_name, timeout FROM tasks WHERE id = :id", {"id": task_id})
        if row is not None:
            result[task_id] = (row[0], row[1])
    return result


# --------------------------------------------------------------------------- the due index


def due(db: Database, now: datetime, limit: int, host: str) -> list[TaskRecord]:
    """Enabled tasks with next_run_time <= now that run on `host` or on any host, oldest
    first (searches the index)."""
    rows = db.rows(
        f"{TABLE.select} WHERE enabled = :enabled AND next_run_time <= :now "
        "AND host IN (:host, 'any') ORDER BY next_run_time, id LIMIT :limit",
        {"enabled": True, "now": encode_time(now), "limit": limit, "host": host},
    )
    return [TABLE.decode(row) for row in rows]


def take_due(db: Database, task_id: int, expected: datetime) -> TaskRecord | None:
    """Inside a claim's write transaction: the task if it is still enabled and due at
    `expected`, its row taken for this transaction; None if it is not, or (PostgreSQL)
    if another host's claim holds it right now (SKIP LOCKED: ticks never wait on each
    other)."""
    row = db.first(
        f"{TABLE.select} WHERE id = :id AND next_run_time = :expected AND enabled = :enabled"
        f"{db.skip_locked}",
        {"id": task_id, "expected": encode_time(expected), "enabled": True},
    )
    return TABLE.decode(row) if row else None


def advance(db: Database, task_id: int, expected: datetime, new_next: datetime | None) -> bool:
    """Compare-and-set next_run_time: move it only if it still holds `expected`."""
    cursor = db.execute(
        "UPDATE tasks SET next_run_time = :new WHERE id = :id AND next_run_time = :expected "
        "AND enabled = :enabled",
        {
            "new": encode_time(new_next),
            "id": task_id,
            "expected": encode_time(expected),
            "enabled": True,
        },
    )
    return cursor.rowcount == 1


def due_retries(db: Database, now: datetime, limit: int, host: str) -> list[TaskRecord]:
    """Enabled tasks of `host` (or any host) whose pending retry is due at `now`, oldest
    first (searches the retry index)."""
    rows = db.rows(
        f"{TABLE.select} WHERE enabled = :enabled AND retry_at <= :now "
        "AND host IN (:host, 'any') ORDER BY retry_at, id LIMIT :limit",
        {"enabled": True, "now": encode_time(now), "limit": limit, "host": host},
    )
    return [TABLE.decode(row) for row in rows]


def take_retry(db: Database, task_id: int, expected: datetime) -> TaskRecord | None:
    """Inside a claim's write transaction: the task if it is enabled and its pending retry
    is still due at `expected`, its row taken (see take_due); None if not."""
    row = db.first(
        f"{TABLE.select} WHERE id = :id AND retry_at = :expected AND enabled = :enabled"
        f"{db.skip_locked}",
        {"id": task_id, "expected": encode_time(expected), "enabled": True},
    )
    return TABLE.decode(row) if row else None


def move_retry(db: Database, task_id: int, expected: datetime, new: datetime | None) -> bool:
    """Compare-and-set the pending retry: move it to `new` (None: no retry pending any
    more) only if it is still due at `expected`."""
    assignments = "retry_at = NULL, retry_attempt = 0" if new is None else "retry_at = :new"
    cursor = db.execute(
        f"UPDATE tasks SET {assignments} WHERE id = :id AND retry_at = :expected",
        {"new": encode_time(new), "id": task_id, "expected": encode_time(expected)},
    )
    return cursor.rowcount == 1


# --------------------------------------------------------------------------- changes


def insert(db: Database, values: dict[str, Any]) -> int:
    """Insert a task (every column but id); return its id. Raise Conflict if the name is
    taken."""
    stored = TABLE.encode(values)
    try:
        with db.savepoint():
            return int(db.scalar(f"{TABLE.insert(list(stored))} RETURNING id", stored))
    except Duplicate:
        raise Conflict(f"task name already taken: {values.get('task_name')}") from None


def insert_many(db: Database, rows: list[dict[str, Any]]) -> None:
    """Insert many tasks with the same columns (apply); raise Conflict on a taken name."""
    if not rows:
        return
    try:
        with db.savepoint():
            db.execute_many(TABLE.insert(list(rows[0])), [TABLE.encode(row) for row in rows])
    except Duplicate:
        raise Conflict("a task name in the file is already taken") from None


def update(db: Database, task_id: int, changes: dict[str, Any]) -> None:
    """Set some columns of one task; raise Conflict if a new name is taken."""
    if not changes:
        return
    stored = TABLE.encode(changes)
    assignments = ", ".join(f"{name} = :{name}" for name in stored)
    # Only a new name can be taken: other changes need no savepoint.
    guard = db.savepoint() if "task_name" in stored else nullcontext()
    try:
        with guard:
            db.execute(
                f"UPDATE tasks SET {assignments} WHERE id = :id_", {**stored, "id_": task_id}
            )
    except Duplicate:
        raise Conflict(f"task name already taken: {changes.get('task_name')}") from None


def delete(db: Database, task_id: int) -> None:
    """Delete a task and its executions (and their pieces)."""
    db.execute(
        "DELETE FROM pieces WHERE execution_id IN "
        "(SELECT execution_id FROM executions WHERE task_id = :id)",
        {"id": task_id},
    )
    db.execute("DELETE FROM executions WHERE task_id = :id", {"id": task_id})
    db.execute("DELETE FROM tasks WHERE id = :id", {"id": task_id})
