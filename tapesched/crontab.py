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


def install(line: str) -> str:
    """Add the tick line to the current user's crontab, idempotently.

    A line that already runs `tapesched ... tick` is replaced by this one; an
    identical line is left alone. Return 'installed', 'updated' or 'present'.
    Raise OperationFailed when there is no crontab command or it fails.
    """
    from tapesched import process
    from tapesched.errors import OperationFailed

    command = shutil.which("crontab")
    if command is None:
        raise OperationFailed(
            "no crontab command on this host; install cron, or use the systemd timer "
            "in examples/ (tapesched-tick.timer)"
        )
    listed = process.run_command([command, "-l"])
    if listed.returncode != 0 and "no crontab" not in listed.stderr.lower():
        raise OperationFailed(f"crontab -l failed: {listed.stderr.strip() or listed.returncode}")
    lines = listed.stdout.splitlines() if listed.returncode == 0 else []
    if line in lines:
        return "present"
    ours = [index for index, text in enumerate(lines) if _is_tick_line(text)]
    if ours:
        lines[ours[0]] = line
        for index in reversed(ours[1:]):
            del lines[index]
        outcome = "updated"
    else:
        lines.append(line)
        outcome = "installed"
    written = process.run_command([command, "-"], input="\n".join(lines) + "\n")
    if written.returncode != 0:
        raise OperationFailed(f"crontab - failed: {written.stderr.strip() or written.returncode}")
    return outcome


def _is_tick_line(text: str) -> bool:
    words = text.split()
    return (
        not text.lstrip().startswith("#")
        and bool(words)
        and words[-1] == "tick"
        and any(word.endswith("tapesched") for word in words)
    )
