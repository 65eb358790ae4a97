"""What the end-to-end tests share: no runner or job outlives its test."""

from __future__ import annotations

import os
import signal
import sqlite3
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def no_leftover_processes(tmp_path: Path):
    """Kill whatever runner or job a failing test left behind (the process groups its
    databases name)."""
    yield
    for db in tmp_path.rglob("*.db"):
        try:
            connection = sqlite3.connect(db)
            rows = connection.execute("SELECT pid, job_pid FROM executions").fetchall()
            connection.close()
        except sqlite3.Error:
            continue
        for pid, job_pid in rows:
            for group in (job_pid, pid):
                if group:
                    try:
                        os.killpg(group, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass
