"""Helpers shared by the tests (importable as `helpers`: pytest's pythonpath has tests/)."""

from __future__ import annotations

import sqlite3
import time
from datetime import datetime, timedelta
from pathlib import Path


def dump(db: Path) -> list[str]:
    """Every row of every table, to show a database unchanged."""
    if not db.exists():
        return []
    connection = sqlite3.connect(db)
    try:
        return list(connection.iterdump())
    finally:
        connection.close()


def wait_until(predicate, timeout: float = 20.0, poll: float = 0.1):  # noqa: ANN001, ANN201
    """Poll until predicate() is truthy; return its value or fail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"condition not met within {timeout}s")


def age_claim(home: Path, execution_id: str, age: timedelta) -> None:
    """Move a claim's created_at back by `age`, as if it had been made that long ago
    (instead of sleeping until the wall clock passes a threshold)."""
    connection = sqlite3.connect(home / "tapesched.db")
    try:
        with connection:
            (created,) = connection.execute(
                "SELECT created_at FROM executions WHERE execution_id = ?", (execution_id,)
            ).fetchone()
            earlier = datetime.fromisoformat(created) - age
            connection.execute(
                "UPDATE executions SET created_at = ? WHERE execution_id = ?",
                (earlier.strftime("%Y-%m-%d %H:%M:%S.%f"), execution_id),
            )
    finally:
        connection.close()
