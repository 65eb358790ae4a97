"""Processes for real: detached children are reaped, not left as zombies."""

from __future__ import annotations

import os
from pathlib import Path

from helpers import wait_until

from tapesched import process


def zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def test_launching_reaps_the_runners_that_already_exited(tmp_path: Path) -> None:
    log = tmp_path / "log"
    # Alive while they are all started (none is reaped yet), then they exit.
    first = [process.spawn_detached(["sleep", "0.5"], log) for _ in range(5)]
    wait_until(lambda: all(zombie(pid) for pid in first))  # exited, not yet reaped
    last = process.spawn_detached(["true"], log)
    assert not any(zombie(pid) for pid in first)
    wait_until(lambda: zombie(last) or not os.path.exists(f"/proc/{last}"))
