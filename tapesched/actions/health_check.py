"""health_check: is this host able to run its tape jobs?

Checks, each reported with ok and a detail: the state folder is writable and
has min_free_mb free; the database passes PRAGMA quick_check; each device
answers (a drive: `mt status`; a virtual tape: a writable directory with
min_free_mb free; a library, `library:NAME`: its inventory answers, and each
pool its backup tasks write has a volume left to write on there); a tick ran in
the last five minutes; no run was lost in the last day. The run fails if any
check fails, with every check in the result.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tapesched import process
from tapesched.actions import device_kind
from tapesched.actions import tape as tapes
from tapesched.errors import ActionFailed, InvalidInput
from tapesched.hosts import this_host
from tapesched.job import JobContext
from tapesched.store import catalog
from tapesched.store.db import quick_check
from tapesched.store.hosts import last_tick

TICK_WITHIN = timedelta(minutes=5)
LOST_WITHIN = timedelta(days=1)
MIB = 1024 * 1024


def check(name: str, ok: bool, detail: str) -> dict[str, Any]:
    return {"name": name, "ok": ok, "detail": detail}


def tick_check(last_tick: datetime | None, now: datetime) -> dict[str, Any]:
    """Given the last tick time and now, return the tick check."""
    if last_tick is None:
        return check(
            "tick", False, "no tick has run yet; install the crontab line (tapesched init)"
        )
    age = now - last_tick
    if age > TICK_WITHIN:
        return check(
            "tick",
            False,
            f"last tick {last_tick.isoformat()}, {int(age.total_seconds() // 60)} minutes ago; "
            "is cron running tapesched tick?",
        )
    return check("tick", True, f"last tick {last_tick.isoformat()}")


def free_space_check(name: str, folder: Path, min_free_mb: int) -> dict[str, Any]:
    """Given a folder, check that a file can be created in it and that it has room."""
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".health-"):
            pass
        free = shutil.disk_usage(folder).free // MIB
    except OSError as error:
        return check(name, False, f"{folder}: not writable ({error.strerror or error})")
    if free < min_free_mb:
        return check(name, False, f"{folder}: {free} MiB free, below {min_free_mb} MiB")
    return check(name, True, f"{folder}: writable, {free} MiB free")


def run(config: dict[str, Any], context: JobContext) -> dict[str, Any]:
    min_free_mb = int(config.get("min_free_mb", 100))
    now = context.now()
    checks = [free_space_check("state_folder", context.paths.home, min_free_mb)]
    checks.append(_database_check(context))
    with context.db.read():
        latest_tick = last_tick(context.db, this_host())
        lost = catalog.lost_since(context.db, now - LOST_WITHIN)
        if "devices" in config:
            devices = list(config["devices"])
        else:
            devices = sorted(catalog.task_devices(context.db, enabled_only=True))
    for device in devices:
        checks.append(_device_check(context, device, min_free_mb))
    checks.append(tick_check(latest_tick, now))
    if lost:
        names = ", ".join(f"{name} ({execution_id[:8]})" for execution_id, name in lost)
        checks.append(check("lost_runs", False, f"{len(lost)} lost in the last day: {names}"))
    else:
        checks.append(check("lost_runs", True, "none in the last day"))
    result = {"checks": checks}
    for item in checks:
        context.log(f"{'ok  ' if item['ok'] else 'FAIL'} {item['name']}: {item['detail']}")
    failed = [item for item in checks if not item["ok"]]
    if failed:
        raise ActionFailed(
            "health check failed: "
            + "; ".join(f"{item['name']}: {item['detail']}" for item in failed),
            result,
        )
    return result


def _database_check(context: JobContext) -> dict[str, Any]:
    try:
        with context.db.read():
            answer = quick_check(context.db)
    except Exception as error:  # noqa: BLE001 - any failure here is the finding
        return check("database", False, f"quick_check could not run: {error}")
    return check("database", answer == "ok", f"quick_check: {answer}")


def _device_check(context: JobContext, device: str, min_free_mb: int) -> dict[str, Any]:
    name = f"device {device}"
    if device.startswith("library:"):
        return _library_check(context, device.removeprefix("library:"), name)
    try:
        kind = device_kind(device)
    except InvalidInput as error:
        return check(name, False, error.detail)
    if kind == "directory":
        return _directory_check(name, Path(device), min_free_mb)
    lock = process.FileLock(context.paths.device_lock(device))
    if not lock.acquire():
        # A job holds the drive; probing it now would disturb that job.
        return check(name, True, "in use by a running job; not probed")
    try:
        code, output = tapes.run_tool(context, tapes.status_argv(device), capture=True)
    except ActionFailed as error:
        return check(name, False, error.message)
    finally:
        lock.release()
    if code != 0:
        return check(name, False, tapes.mt_failure("status", device, code))
    number = tapes.parse_file_number(output)
    where = f"at file {number}" if number is not None else "position unknown"
    return check(name, True, f"mt status answered ({where})")


def _library_check(context: JobContext, library: str, name: str) -> dict[str, Any]:
    """A library answers its inventory, and every pool an enabled backup task writes
    through it has a volume there to write on (else the next backup fails)."""
    from tapesched.actions import volumes
    from tapesched.media.library import open_library
    from tapesched.store import media
    from tapesched.store import tasks as task_rows

    with context.db.read():
        record = media.get_library(context.db, library)
        pools = sorted(
            {
                task.action_config["pool"]
                for task in task_rows.all_tasks(context.db, action_type="backup")
                if task.enabled and task.action_config.get("library") == library
                and isinstance(task.action_config.get("pool"), str)
            }
        )  # fmt: skip
        writable = {pool: len(media.candidates(context.db, pool, library)) for pool in pools}
    if record is None:
        return check(name, False, f"library {library} is not in the catalog")
    lock = process.FileLock(context.paths.device_lock(f"library:{library}"))
    if not lock.acquire():
        return check(name, True, "in use by a running job; not probed")
    try:
        found = open_library(record.name, record.kind, record.config, volumes.tool_runner(context))
        inventory = found.inventory()
    except ActionFailed as error:
        return check(name, False, error.message)
    finally:
        lock.release()
    full = sum(1 for slot in inventory.slots if slot.full)
    empty = [pool for pool, count in writable.items() if count == 0]
    detail = f"{len(inventory.slots)} slots, {full} full, {len(inventory.drives)} drives" + "".join(
        f"; pool {pool}: {count} volumes to write on" for pool, count in writable.items()
    )
    if empty:
        return check(name, False, detail + f"; label or recycle volumes for {', '.join(empty)}")
    return check(name, True, detail)


def _directory_check(name: str, directory: Path, min_free_mb: int) -> dict[str, Any]:
    if directory.is_dir():
        return free_space_check(name, directory, min_free_mb)
    parent = directory.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if parent.is_dir() and os.access(parent, os.W_OK | os.X_OK):
        return check(
            name, True, f"virtual tape not created yet; {parent} is writable (created at first use)"
        )
    return check(name, False, f"virtual tape {directory} does not exist and cannot be created")
