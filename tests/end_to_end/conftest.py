"""What the end-to-end tests share: no runner or job outlives its test."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import end_recorded_processes


@pytest.fixture(autouse=True)
def no_leftover_processes(tmp_path: Path):
    """Kill whatever runner or job a failing test left behind (the process groups its
    SQLite databases name; a PostgreSQL test database is seen to by the `backend` fixture,
    before it drops the database)."""
    yield
    for db in tmp_path.rglob("*.db"):
        end_recorded_processes(db)
