"""Telling the outside world: Healthchecks-style pings and a notification command.

Neither may ever fail a job: every problem is written to the job's output log
and swallowed.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path
from typing import IO

from tapesched import process

PING_TIMEOUT = 10.0
NOTIFY_TIMEOUT = 60.0
TAIL_BYTES = 10_000


def tail(path: str | None, limit: int = TAIL_BYTES) -> bytes:
    """The last `limit` bytes of a log file (empty if there is none)."""
    if not path:
        return b""
    try:
        with open(path, "rb") as log:
            log.seek(0, os.SEEK_END)
            size = log.tell()
            log.seek(max(0, size - limit))
            return log.read()
    except OSError:
        return b""


def ping_target(url: str, event: str) -> str:
    """URL/start, URL (success) or URL/fail."""
    base = url.rstrip("/")
    return {"start": f"{base}/start", "success": base, "fail": f"{base}/fail"}[event]


def ping(url: str, event: str, body: bytes, log: IO[str] | None) -> bool:
    """POST the body to the event's URL; log and return False on any problem."""
    import urllib.error  # here: http and ssl cost start-up time, and most runs never ping
    import urllib.request

    target = ping_target(url, event)
    request = urllib.request.Request(
        target, data=body, method="POST", headers={"User-Agent": "tapesched"}
    )
    try:
        with urllib.request.urlopen(request, timeout=PING_TIMEOUT) as response:
            response.read(1024)
        return True
    except (urllib.error.URLError, OSError, ValueError) as error:
        if log is not None:
            log.write(f"tapesched: ping {target} failed: {error}\n")
            log.flush()
        return False


def should_notify(notify_on: str | None, status: str) -> bool:
    if notify_on == "always":
        return True
    return status in ("failed", "lost")


def run_notify_command(
    command: str,
    *,
    task: str,
    execution_id: str,
    status: str,
    error: str | None,
    output: str | None,
    log: IO[str] | None,
) -> int | None:
    """Run the notification command with the run's facts in its environment."""
    env = {
        **os.environ,
        "TAPESCHED_TASK": task,
        "TAPESCHED_EXECUTION_ID": execution_id,
        "TAPESCHED_STATUS": status,
        "TAPESCHED_ERROR": error or "",
        "TAPESCHED_OUTPUT": output or "",
    }
    try:
        done = process.run_command(
            shlex.split(command),
            env=env,
            stdout=log if log is not None else subprocess.DEVNULL,
            stderr=subprocess.STDOUT if log is not None else subprocess.DEVNULL,
            timeout=NOTIFY_TIMEOUT,
            cwd=Path(output).parent if output and Path(output).parent.is_dir() else None,
        )
    except (OSError, subprocess.TimeoutExpired, ValueError) as problem:
        if log is not None:
            log.write(f"tapesched: notify command failed: {problem}\n")
            log.flush()
        return None
    if done.returncode != 0 and log is not None:
        log.write(f"tapesched: notify command exited with {done.returncode}\n")
        log.flush()
    return done.returncode


def announce(
    task,
    execution_id: str,
    status: str,
    error: str | None,
    log_path: str | None,
    log: IO[str] | None,
) -> None:  # noqa: ANN001 - a Task row
    """After an outcome is recorded: the success/fail ping and the notification."""
    if task.ping_url:
        ping(task.ping_url, "success" if status == "success" else "fail", tail(log_path), log)
    if task.notify_command and should_notify(task.notify_on, status):
        run_notify_command(
            task.notify_command,
            task=task.task_name,
            execution_id=execution_id,
            status=status,
            error=error,
            output=log_path,
            log=log,
        )
