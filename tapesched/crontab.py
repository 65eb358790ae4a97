"""The crontab line that calls `tick` each minute."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path

from tapesched.paths import StatePaths, default_home


def executable() -> str:
    """The absolute path of the tapesched command (cron's PATH is minimal)."""
    beside = Path(sys.executable).parent / "tapesched"
    if beside.exists():
        return str(beside)
    found = shutil.which("tapesched")
    return os.path.abspath(found) if found else f"{sys.executable} -m tapesched"


def tick_line(paths: StatePaths, db_option: str | None) -> str:
    """`* * * * * [TAPESCHED_HOME=...] /abs/tapesched [--db ...] tick`."""
    prefix = ""
    if (
        paths.home
        != default_home({k: v for k, v in os.environ.items() if k != "TAPESCHED_HOME"}).absolute()
    ):
        prefix = f"TAPESCHED_HOME={shlex.quote(str(paths.home))} "
    db = ""
    if paths.db != paths.home / "tapesched.db":
        db = f" --db {shlex.quote(str(paths.db))}"
    return f"* * * * * {prefix}{executable()}{db} tick"
