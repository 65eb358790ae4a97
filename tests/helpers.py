"""Helpers shared by the tests (importable as `helpers`: pytest's pythonpath has tests/)."""

from __future__ import annotations

import sqlite3
import time
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
