"""What the actions and the metrics read: backups of a chain, history to prune, checks.

The decisions stay with the actions (which backups a restore needs, which
archives cleanup may delete); this module only fetches and deletes rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tapesched.store import executions
from tapesched.store.db import Database, decode_json, decode_time, encode_time


@dataclass(frozen=True)
class Backup:
    """One successful backup, as recovery and cleanup see it."""

    execution_id: str
    task_id: int
    completed_at: datetime
    result: dict[str, Any]

    @property
    def is_full(self) -> bool:
        return self.result.get("ran_as") == "full" or self.result.get("level") == 0


def _id_list(prefix: str, ids: list[Any]) -> tuple[str, dict[str, Any]]:
    """`:p0, :p1, ...` and their values, for an IN (...) of bound parameters."""
    marks = ", ".join(f":{prefix}{index}" for index in range(len(ids)))
    return marks, {f"{prefix}{index}": value for index, value in enumerate(ids)}


def successful_backups(db: Database, task_ids: list[int] | None = None) -> list[Backup]:
    """Successful runs with a chain in their result, oldest first, of the given tasks or of
    every backup task."""
    if task_ids is not None and not task_ids:
        return []
    if task_ids is None:
        where, params = "task_id IN (SELECT id FROM tasks WHERE action_type = 'backup')", {}
    else:
        marks, params = _id_list("t", task_ids)
        where = f"task_id IN ({marks})"
    rows = db.rows(
        f"SELECT execution_id, task_id, completed_at, result FROM executions "
        f"WHERE {where} AND status = 'success' ORDER BY completed_at, started_at",
        params,
    )
    backups = []
    for execution_id, task_id, completed_at, raw in rows:
        result = decode_json(raw)
        if isinstance(result, dict) and result.get("chain_id"):
            backups.append(Backup(execution_id, task_id, decode_time(completed_at), result))
    return backups


def expired_history(db: Database, cutoff: datetime, except_id: str) -> list[tuple[str, str | None]]:
    """(execution id, log path) of every finished execution older than the cutoff, except
    one (the cleanup run itself)."""
    return db.rows(
        "SELECT execution_id, log_path FROM executions WHERE status != 'running' "
        "AND coalesce(completed_at, created_at) < :cutoff AND execution_id != :except_id",
        {"cutoff": encode_time(cutoff), "except_id": except_id},
    )


def delete_executions(db: Database, execution_ids: list[str]) -> None:
    """Delete finished executions by id (never a running one), and their pieces."""
    for start in range(0, len(execution_ids), 500):
        marks, params = _id_list("e", execution_ids[start : start + 500])
        db.execute(
            "DELETE FROM pieces WHERE execution_id IN (SELECT execution_id FROM executions "
            f"WHERE execution_id IN ({marks}) AND status != 'running')",
            params,
        )
        db.execute(
            f"DELETE FROM executions WHERE execution_id IN ({marks}) AND status != 'running'",
            params,
        )


def log_paths(db: Database) -> set[str]:
    """Every output log an execution names."""
    rows = db.rows("SELECT log_path FROM executions WHERE log_path IS NOT NULL")
    return {path for (path,) in rows}


def task_devices(
    db: Database, action_type: str | None = None, enabled_only: bool = False
) -> set[str]:
    """The devices of the tasks (of one action type, or enabled only)."""
    where = ["device IS NOT NULL"]
    params: dict[str, Any] = {}
    if action_type is not None:
        where.append("action_type = :action_type")
        params["action_type"] = action_type
    if enabled_only:
        where.append("enabled = :enabled")
        params["enabled"] = True
    rows = db.rows(f"SELECT DISTINCT device FROM tasks WHERE {' AND '.join(where)}", params)
    return {device for (device,) in rows if device}


def lost_since(db: Database, since: datetime) -> list[tuple[str, str]]:
    """(execution id, task name) of the runs marked lost since `since`."""
    return db.rows(
        "SELECT e.execution_id, t.task_name FROM executions e JOIN tasks t ON t.id = e.task_id "
        "WHERE e.status = 'lost' AND coalesce(e.completed_at, e.created_at) >= :since "
        "ORDER BY e.created_at",
        {"since": encode_time(since)},
    )


def successes_before(
    db: Database, task_ids: list[int], cutoff: datetime
) -> list[executions.ExecutionRecord]:
    """Successful runs of the given tasks completed before the cutoff, oldest first."""
    if not task_ids:
        return []
    marks, params = _id_list("t", task_ids)
    rows = db.rows(
        f"{executions.TABLE.select} WHERE task_id IN ({marks}) "
        "AND status = 'success' AND completed_at < :cutoff ORDER BY completed_at",
        {**params, "cutoff": encode_time(cutoff)},
    )
    return [executions.TABLE.decode(row) for row in rows]


def status_counts(db: Database) -> dict[int, dict[str, int]]:
    """How many executions each task has in the history, by status (cleanup lowers these:
    they are no run counters; the task row keeps those)."""
    counts: dict[int, dict[str, int]] = {}
    rows = db.rows("SELECT task_id, status, count(*) FROM executions GROUP BY task_id, status")
    for task_id, status, count in rows:
        counts.setdefault(task_id, {})[status] = count
    return counts


# The outcomes of a run that ran (or was lost): not `running`, not `skipped`.
_ENDED = "('success', 'failed', 'cancelled', 'lost')"


# Latest first, by completion, then claim; a run without a completion time last (where
# SQLite puts NULL in a descending order: PostgreSQL would put it first).
_LATEST_FIRST = (
    "e.completed_at IS NULL, e.completed_at DESC, e.created_at DESC, e.execution_id DESC"
)


def last_outcomes(db: Database) -> dict[int, tuple[str, Any]]:
    """Each task's latest run that ended (success, failed, cancelled or lost), in the
    history: its status and result."""
    rows = db.rows(
        "SELECT task_id, status, result FROM ("
        "SELECT e.task_id, e.status, e.result, row_number() OVER (PARTITION BY e.task_id "
        f"ORDER BY {_LATEST_FIRST}) AS latest "
        f"FROM executions e WHERE e.status IN {_ENDED}) AS ranked WHERE latest = 1"
    )
    return {task_id: (status, decode_json(result)) for task_id, status, result in rows}


def last_backup_results(db: Database) -> dict[int, Any]:
    """Each backup task's latest successful run's result, in the history."""
    rows = db.rows(
        "SELECT task_id, result FROM ("
        "SELECT e.task_id, e.result, row_number() OVER (PARTITION BY e.task_id "
        f"ORDER BY {_LATEST_FIRST}) AS latest "
        "FROM executions e JOIN tasks t ON t.id = e.task_id "
        "WHERE e.status = 'success' AND t.action_type = 'backup') AS ranked WHERE latest = 1"
    )
    return {task_id: decode_json(result) for task_id, result in rows}
