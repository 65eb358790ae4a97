"""The executions table: ExecutionRecord, claims, starts, outcomes and history.

An outcome is recorded once: every change of a running execution is a
compare-and-set on `status = 'running'`, so whoever records first (the
runner, `stop`, tick's reconcile) wins and later callers change nothing. What
the outcome does to the task's status and statistics is decided by
tapesched.lifecycle; this module only applies it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tapesched import lifecycle, retries
from tapesched.errors import InvalidInput, NotFound
from tapesched.store import tasks
from tapesched.store.db import Database, Table, encode_json, encode_time


@dataclass(frozen=True, slots=True)
class ExecutionRecord:
    """One row of the executions table (SPEC section 2)."""

    execution_id: str
    task_id: int
    trigger: str
    scheduled_for: datetime | None
    created_at: datetime  # when it was claimed
    started_at: datetime | None
    completed_at: datetime | None
    duration: float | None
    status: str
    error_message: str | None
    result: dict[str, Any] | None
    device: str | None
    pid: int | None  # the runner's pid; None until a runner has started
    process_start: str | None  # the runner's start time (from /proc), against pid reuse
    job_pid: int | None  # the job's pid, which is also its process group id
    host: str | None  # the host that claimed it, whose runner runs it
    log_path: str | None
    lease_expires: datetime | None  # past this (server clock), the run is lost
    job_start: str | None  # the job's start time (from /proc), against pid reuse
    attempt: int  # which attempt of its series (1 for the first; retries count on)
    level: str | None  # the backup level a manual run asked for (`run --level`), or None


TABLE = Table(
    "executions",
    ExecutionRecord,
    times=frozenset({"scheduled_for", "created_at", "started_at", "completed_at", "lease_expires"}),
    json=frozenset({"result"}),
)


# Newest claim first; among claims made at the same instant (a catch-up records its
# skipped slots together), the later slot first, then a fixed order.
NEWEST_FIRST = "created_at DESC, coalesce(scheduled_for, created_at) DESC, execution_id DESC"
NEWEST_FIRST_E = (
    "e.created_at DESC, coalesce(e.scheduled_for, e.created_at) DESC, e.execution_id DESC"
)

# --------------------------------------------------------------------------- lookups


def get(db: Database, execution_id: str) -> ExecutionRecord | None:
    row = db.first(f"{TABLE.select} WHERE execution_id = :id", {"id": execution_id})
    return TABLE.decode(row) if row else None


PREFIX_LENGTH = 8  # the shortest execution id prefix accepted


def by_prefix(db: Database, prefix: str) -> list[ExecutionRecord]:
    """The executions whose id starts with `prefix` (8+ characters), at most two."""
    if len(prefix) < PREFIX_LENGTH:
        return []
    rows = db.rows(
        f"{TABLE.select} WHERE substr(execution_id, 1, length(:prefix)) = :prefix LIMIT 2",
        {"prefix": prefix},
    )
    return [TABLE.decode(row) for row in rows]


def find(db: Database, execution_id: str) -> ExecutionRecord:
    """Given an execution id or a unique prefix of 8+ characters, return it; raise NotFound
    (InvalidInput for a prefix that more than one id starts with)."""
    found = get(db, execution_id)
    if found is not None:
        return found
    matches = by_prefix(db, execution_id)
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise InvalidInput(f"execution id prefix {execution_id} is ambiguous; give more of the id")
    raise NotFound(f"no such execution: {execution_id}")


def latest_run(db: Database, task_id: int) -> ExecutionRecord | None:
    """The task's most recent run (by claim; a skipped slot is not a run), or None."""
    row = db.first(
        f"{TABLE.select} WHERE task_id = :task_id AND status != 'skipped' "
        f"ORDER BY {NEWEST_FIRST} LIMIT 1",
        {"task_id": task_id},
    )
    return TABLE.decode(row) if row else None


def running(db: Database) -> list[ExecutionRecord]:
    """The running executions, oldest claim first."""
    rows = db.rows(f"{TABLE.select} WHERE status = 'running' ORDER BY created_at")
    return [TABLE.decode(row) for row in rows]


def count_running(db: Database, host: str | None) -> int:
    """How many executions are running on a host (its concurrency cap counts these), or
    on every host (None)."""
    if host is None:
        return db.scalar("SELECT count(*) FROM executions WHERE status = 'running'")
    return db.scalar(
        "SELECT count(*) FROM executions WHERE status = 'running' AND host = :host",
        {"host": host},
    )


def device_in_use(db: Database, device: str, host: str) -> bool:
    """Whether a running execution on the host uses this device (one job per drive: a
    drive belongs to its host)."""
    return (
        db.first(
            "SELECT 1 FROM executions WHERE status = 'running' AND device = :device "
            "AND host = :host LIMIT 1",
            {"device": device, "host": host},
        )
        is not None
    )


def running_for_task(db: Database, task_id: int) -> ExecutionRecord | None:
    row = db.first(
        f"{TABLE.select} WHERE task_id = :task_id AND status = 'running' LIMIT 1",
        {"task_id": task_id},
    )
    return TABLE.decode(row) if row else None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """An execution with the name and zone of its task (`logs`)."""

    execution: ExecutionRecord
    task_name: str
    timezone: str


def _bound(value: datetime) -> str:
    """An instant as a bound on stored instants (naive UTC, zero-padded year): instants
    beyond the calendar in UTC become the first or the last instant of the calendar."""
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        return "0001-01-01 00:00:00.000000" if value.year < 5000 else "9999-12-31 23:59:59.999999"
    return f"{utc.year:04d}-{utc:%m-%d %H:%M:%S.%f}"


def history(
    db: Database,
    task_id: int | None,
    limit: int,
    offset: int,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> tuple[list[HistoryEntry], int]:
    """Executions newest first (by claim), of one task or of every task (task_id None), with
    the given status, begun at or after `since` and before `until`; and how many match."""
    where = []
    if task_id is not None:
        where.append("e.task_id = :task_id")
    if status is not None:
        where.append("e.status = :status")
    if since is not None:
        where.append("e.created_at >= :since")
    if until is not None:
        where.append("e.created_at < :until")
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    params = {
        "task_id": task_id,
        "status": status,
        "since": _bound(since) if since is not None else None,
        "until": _bound(until) if until is not None else None,
        "limit": limit,
        "offset": offset,
    }
    joined = "FROM executions e JOIN tasks t ON t.id = e.task_id"
    columns = ", ".join(f"e.{column}" for column in TABLE.columns)
    rows = db.rows(
        f"SELECT {columns}, t.task_name, t.timezone {joined}{clause} "
        f"ORDER BY {NEWEST_FIRST_E} LIMIT :limit OFFSET :offset",
        params,
    )
    total = db.scalar(f"SELECT count(*) {joined}{clause}", params)
    width = len(TABLE.columns)
    entries = [HistoryEntry(TABLE.decode(row[:width]), row[width], row[width + 1]) for row in rows]
    return entries, total


# --------------------------------------------------------------------------- changes


def insert(db: Database, values: dict[str, Any]) -> None:
    """Insert an execution (a claim, a manual run or a skipped slot); the trigger defaults
    to `schedule`, the status to `running`."""
    stored = TABLE.encode({"trigger": "schedule", "status": "running", **values})
    db.execute(TABLE.insert(list(stored)), stored)


def record_start(
    db: Database,
    execution_id: str,
    pid: int,
    process_start: str | None,
    host: str,
    started_at: datetime,
    lease_expires: datetime,
) -> tuple[ExecutionRecord, tasks.TaskRecord] | None:
    """Record the runner's pid, start time, host and first lease, once; return the
    execution and its task, or None if another runner has started it, the run is over or
    its task is gone."""
    execution = get(db, execution_id)
    if execution is None or execution.status != "running" or execution.pid is not None:
        return None
    task = tasks.get(db, execution.task_id)
    if task is None:
        return None
    cursor = db.execute(
        "UPDATE executions SET pid = :pid, process_start = :process_start, host = :host, "
        "started_at = :started_at, lease_expires = :lease WHERE execution_id = :id "
        "AND status = 'running' AND pid IS NULL",
        {
            "pid": pid,
            "process_start": process_start,
            "host": host,
            "started_at": encode_time(started_at),
            "lease": encode_time(lease_expires),
            "id": execution_id,
        },
    )
    if cursor.rowcount != 1:
        return None
    tasks.update(db, task.id, {"status": lifecycle.status_on_start()})
    return get(db, execution_id), tasks.get(db, task.id)


def record_job_pid(db: Database, execution_id: str, pid: int, start: str | None) -> None:
    """Record the job's pid (its process group) and its start time."""
    db.execute(
        "UPDATE executions SET job_pid = :pid, job_start = :start WHERE execution_id = :id",
        {"pid": pid, "start": start, "id": execution_id},
    )


def average_duration(db: Database, task_id: int) -> float | None:
    """The average duration of a task's timed runs in the history."""
    statuses = sorted(lifecycle.TIMED)
    marks = ", ".join(f":s{index}" for index in range(len(statuses)))
    return db.scalar(
        f"SELECT avg(duration) FROM executions WHERE task_id = :task_id "
        f"AND status IN ({marks}) AND duration IS NOT NULL",
        {"task_id": task_id, **{f"s{index}": value for index, value in enumerate(statuses)}},
    )


def finish(
    db: Database,
    execution_id: str,
    status: str,
    completed_at: datetime,
    error: str | None = None,
    result: dict[str, Any] | None = None,
    lease_expired_at: datetime | None = None,
) -> Finished | None:
    """Record the outcome of a running execution and the task's statistics, once; with
    `lease_expired_at` (the server's clock), only if its lease expired before then.

    Return None (changing nothing) if the execution is gone or no longer running, or
    its lease was renewed meanwhile; else a Finished, which says whether the run left a
    retry pending (tapesched.retries).
    """
    execution = get(db, execution_id)
    if execution is None or execution.status != "running":
        return None
    outcome = lifecycle.Outcome(status, execution.started_at, completed_at)
    expired = " AND lease_expires < :expired_at" if lease_expired_at is not None else ""
    cursor = db.execute(
        "UPDATE executions SET status = :status, completed_at = :completed_at, "
        "duration = :duration, error_message = :error, result = :result "
        f"WHERE execution_id = :id AND status = 'running'{expired}",
        {
            "expired_at": encode_time(lease_expired_at),
            "status": status,
            "completed_at": encode_time(completed_at),
            "duration": outcome.duration,
            "error": error,
            "result": encode_json(result if result is not None else execution.result),
            "id": execution_id,
        },
    )
    if cursor.rowcount != 1:
        return None
    task = tasks.get(db, execution.task_id)
    if task is None:
        return Finished(None)
    average = average_duration(db, task.id) if outcome.timed else None
    changes = lifecycle.after_execution(task, outcome, average)
    retry = None
    if execution.trigger in retries.IN_SERIES:
        retry = retries.next_retry(task, execution.attempt, execution.trigger, status, completed_at)
        changes.update(retries.retry_fields(retry))
    tasks.update(db, task.id, changes)
    return Finished(retry)


@dataclass(frozen=True, slots=True)
class Finished:
    """An outcome recorded (always true), and the retry it left pending, if any."""

    retry: retries.Retry | None


LEASE_EXPIRED = "lease expired"


def renew_lease(db: Database, execution_id: str, lease: timedelta) -> str | None:
    """Extend a running execution's lease to the server's clock plus `lease`; return the
    execution's status ('running' when renewed; another when someone recorded an outcome
    meanwhile: lost, cancelled...), None if it is gone."""
    until = db.server_now() + lease
    cursor = db.execute(
        "UPDATE executions SET lease_expires = :until "
        "WHERE execution_id = :id AND status = 'running'",
        {"until": encode_time(until), "id": execution_id},
    )
    if cursor.rowcount == 1:
        return "running"
    return db.scalar("SELECT status FROM executions WHERE execution_id = :id", {"id": execution_id})


def add_note(db: Database, execution_id: str, note: str) -> None:
    """Add a sentence to a finished execution's error message (what its runner did after
    another host recorded the outcome)."""
    db.execute(
        "UPDATE executions SET error_message = coalesce(error_message || '; ', '') || :note "
        "WHERE execution_id = :id AND status != 'running'",
        {"note": note, "id": execution_id},
    )


def lost_elsewhere(db: Database, host: str, since: datetime) -> list[ExecutionRecord]:
    """Executions of this host marked lost since `since` because their lease expired (by
    a tick on another host, while this one was cut off or down) whose job was started:
    its process group may still be running here."""
    # A prefix compared as text (not LIKE, which ignores case on SQLite only).
    rows = db.rows(
        f"{TABLE.select} WHERE status = 'lost' AND host = :host AND job_pid IS NOT NULL "
        "AND completed_at >= :since "
        "AND substr(error_message, 1, length(:reason)) = :reason",
        {"host": host, "since": encode_time(since), "reason": LEASE_EXPIRED},
    )
    return [TABLE.decode(row) for row in rows]


def tasks_running(db: Database) -> set[int]:
    """The ids of the tasks with a run in progress."""
    rows = db.rows("SELECT DISTINCT task_id FROM executions WHERE status = 'running'")
    return {task_id for (task_id,) in rows}
