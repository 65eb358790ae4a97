"""Commands for tape media: pools (pool add, list, edit, delete) and restore-points (what a
recovery of a backup task can reach, and the volumes it needs); the completion of pool,
library and volume names; what the media commands share (cli/libraries.py has library add,
list and inventory; cli/volumes.py media label, list, show and retire).

Names follow tapesched.media.labels: a pool is 1-32 letters, digits, '.', '-' or '_'
starting with a letter or digit, a library or a volume the same without '.'; the pool
name 'scratch' is reserved (a volume of the scratch pool has pool NULL). mt and mtx run
in the C locale, their output captured.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Annotated, Any

import typer

from tapesched.cli.common import app, now, open_db, print_json, state_paths
from tapesched.cli.options import Full, HelpCommand, HelpGroup, JsonOut, TaskRef
from tapesched.errors import Conflict, InvalidInput, NotFound, TapeError, printable

MAX_RETENTION_DAYS = 36500
VOLUME_STATES = ("scratch", "append", "full", "error", "retired")


def _group(name: str, text: str) -> typer.Typer:
    group = typer.Typer(
        name=name, help=text, cls=HelpGroup, rich_markup_mode=None, add_completion=False
    )
    app.add_typer(group, name=name)
    return group


pool_app = _group(
    "pool",
    "Pools of volumes: add, list, edit, delete. A pool's backups are kept for its "
    "retention; the pool 'scratch' holds the unused volumes any pool may take.",
)
library_app = _group(
    "library",
    "Tape libraries (a changer driven by mtx, or a virtual one in a folder): add, list, inventory.",
)
media_app = _group("media", "Volumes (labelled cartridges): label, list, show, retire.")


# --------------------------------------------------------------------------- completion


def _names(read: Any, incomplete: str, extra: tuple[str, ...] = ()) -> list[str]:
    """Names from the catalog starting with `incomplete` (nothing, quietly, without one)."""
    try:
        with open_db(create=False) as db, db.read():
            names = [*read(db), *extra]
    except Exception:  # noqa: BLE001 - completion must never print a traceback
        names = list(extra)
    return [name for name in names if name.startswith(incomplete)]


def complete_pool(incomplete: str) -> list[str]:
    from tapesched.store import media as catalog

    return _names(lambda db: [pool.name for pool in catalog.all_pools(db)], incomplete)


def complete_pool_or_scratch(incomplete: str) -> list[str]:
    from tapesched.store import media as catalog

    pools = lambda db: [pool.name for pool in catalog.all_pools(db)]  # noqa: E731
    return _names(pools, incomplete, ("scratch",))


def complete_library(incomplete: str) -> list[str]:
    from tapesched.store import media as catalog

    return _names(lambda db: [item.name for item in catalog.all_libraries(db)], incomplete)


def complete_volume(incomplete: str) -> list[str]:
    from tapesched.store import media as catalog

    return _names(lambda db: [volume.label for volume in catalog.volumes(db)], incomplete)


def complete_state(incomplete: str) -> list[str]:
    return [state for state in VOLUME_STATES if state.startswith(incomplete)]


# --------------------------------------------------------------------------- options

PoolName = Annotated[
    str, typer.Argument(metavar="NAME", help="The pool's name.", autocompletion=complete_pool)
]
NewName = Annotated[str, typer.Argument(metavar="NAME", help="1-32 letters, digits, ., _ or -.")]
LibraryName = Annotated[
    str,
    typer.Argument(metavar="NAME", help="The library's name.", autocompletion=complete_library),
]
PoolDays = Annotated[
    int,
    typer.Option(
        "--retention-days",
        metavar="DAYS",
        help="Days a volume's backups are kept after it was last written (1-36500).",
    ),
]


# --------------------------------------------------------------------------- shared


def check_days(days: int) -> int:
    if not 1 <= days <= MAX_RETENTION_DAYS:
        raise InvalidInput(
            f"--retention-days: {days} is out of range; expected days, 1-{MAX_RETENTION_DAYS}"
        )
    return days


def check_library_name(name: str) -> str:
    """A library is named like a volume: letters, digits, '-' and '_' (its name makes the
    barcodes of a virtual library's cartridges)."""
    from tapesched.media.labels import LABEL_RE

    if not LABEL_RE.match(name):
        shown = printable(name if len(name) <= 64 else name[:64] + "...")
        raise InvalidInput(
            f"library '{shown}': expected 1-32 letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )
    return name


def device_path(value: str, option: str) -> str:
    """A device or folder given on the command line: an absolute path on one line,
    normalized (it names the device lock, as a task's device does)."""
    if not value or any(ord(char) < 32 or 127 <= ord(char) < 160 for char in value):
        raise InvalidInput(
            f"{option}: '{printable(value)}' is not a path; expected an absolute path"
        )
    if not os.path.isabs(value):
        raise InvalidInput(f"{option}: '{printable(value)}' is not an absolute path")
    return os.path.normpath(value)


def human_bytes(count: int | None) -> str:
    """'0 B', '512 B', '1.5 KiB', '3.2 GiB'."""
    if count is None:
        return "-"
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            return f"{count} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} B"  # pragma: no cover


def location(volume: Any) -> str:
    """Where a volume is: 'LIB slot N', 'LIB drive I', a drive, or 'shelf'."""
    if volume.drive:
        library, _, index = volume.drive.rpartition(":")
        if volume.library and library == volume.library:
            return f"{library} drive {index}"
        return volume.drive
    if volume.library and volume.slot is not None:
        return f"{volume.library} slot {volume.slot}"
    return "shelf"


def stamp_here(value: Any) -> str:
    """An instant for people, in this host's zone ('-' for none)."""
    from tapesched.clock import host_zone_name
    from tapesched.render import stamp

    return stamp(value, host_zone_name())


def volume_json(volume: Any) -> dict[str, Any]:
    from dataclasses import fields
    from datetime import datetime

    from tapesched.render import iso

    data: dict[str, Any] = {}
    for field in fields(volume):
        value = getattr(volume, field.name)
        data[field.name] = iso(value) if isinstance(value, datetime) else value
    data["pool"] = volume.pool or "scratch"
    data["location"] = location(volume)
    return data


def tool_runner():  # noqa: ANN201 - tapesched.media.drive.Runner
    """mt and mtx for a command: run to their end in the C locale, output captured (stderr
    with stdout); a missing program is one line naming its package."""
    import subprocess

    from tapesched import process
    from tapesched.actions.tape import missing_tool, tar_env

    env = tar_env()

    def run(argv: list[str]) -> tuple[int, str]:
        try:
            done = process.run_command(argv, env=env, stderr=subprocess.STDOUT)
        except FileNotFoundError:
            raise TapeError(missing_tool(argv[0])) from None
        except UnicodeDecodeError:
            raise TapeError(f"{argv[0]}: its output is not text") from None
        return done.returncode, done.stdout or ""

    return run


@contextlib.contextmanager
def device_held(config: dict[str, Any], what: str) -> Iterator[None]:
    """Hold the device lock jobs take for a library or a drive (actions.volumes.lock_name),
    without waiting: busy is a Conflict."""
    from tapesched import process
    from tapesched.actions.volumes import lock_name

    lock = process.FileLock(state_paths().device_lock(lock_name(config)))
    if not lock.acquire():
        raise Conflict(f"device busy: {what} is in use (a running job or another command)")
    try:
        yield
    finally:
        lock.release()


def open_library(record: Any) -> Any:
    """The library of a catalog entry, on the host it is attached to."""
    from tapesched.hosts import this_host
    from tapesched.media import library

    here = this_host()
    if record.host != here:
        raise Conflict(
            f"library {record.name} is attached to host {record.host}, not {here}; run this there"
        )
    return library.open_library(record.name, record.kind, record.config, tool_runner())


def find_library(db: Any, name: str) -> Any:
    from tapesched.store import media as catalog

    record = catalog.get_library(db, name)
    if record is None:
        raise NotFound(f"no such library: {name} (see 'tapesched library list')")
    return record


# --------------------------------------------------------------------------- pools


def _pool_json(pool: Any, volumes: int = 0, written: int = 0, tasks: list[str] | None = None):  # noqa: ANN202
    from tapesched.render import iso

    return {
        "name": pool.name,
        "retention_days": pool.retention_days,
        "created_at": iso(pool.created_at),
        "volumes": volumes,
        "bytes_written": written,
        "tasks": tasks or [],
    }


@pool_app.command("add", cls=HelpCommand)
def pool_add(name: NewName, retention_days: PoolDays, json_out: JsonOut = False) -> None:
    """Add a pool: volumes whose backups are kept for the same time.

    A volume's backups are retained DAYS after the volume was last written; only then may
    the cleanup action recycle it into the scratch pool. The name 'scratch' is reserved:
    it names the unused volumes that any pool may take.
    """
    from tapesched.media.labels import check_pool_name
    from tapesched.store import media as catalog

    check_pool_name(name)
    check_days(retention_days)
    with open_db() as db, db.write():
        pool = catalog.add_pool(db, name, retention_days, now())
    if json_out:
        print_json(_pool_json(pool))
    else:
        sys.stdout.write(f"added pool {name} (backups kept {retention_days} days)\n")


@pool_app.command("list", cls=HelpCommand)
def pool_list(full: Full = False, json_out: JsonOut = False) -> None:
    """List the pools: retention, volumes and bytes written, the tasks that name them."""
    from tapesched.render import table
    from tapesched.store import media as catalog

    with open_db(create=False) as db, db.read():
        pools = catalog.all_pools(db)
        volumes = catalog.volumes(db)
        tasks = {pool.name: catalog.tasks_naming_pool(db, pool.name) for pool in pools}
    counts: dict[str | None, list[int]] = {}
    for volume in volumes:
        count = counts.setdefault(volume.pool, [0, 0])
        count[0] += 1
        count[1] += volume.bytes_written
    scratch = counts.get(None, [0, 0])[0]
    if json_out:
        print_json(
            [_pool_json(pool, *counts.get(pool.name, [0, 0]), tasks[pool.name]) for pool in pools]
        )
        return
    if not pools:
        sys.stdout.write("no pools; add one with 'tapesched pool add NAME --retention-days N'\n")
        return
    rows = [
        [
            pool.name,
            f"{pool.retention_days} days",
            str(counts.get(pool.name, [0, 0])[0]),
            human_bytes(counts.get(pool.name, [0, 0])[1]),
            ", ".join(tasks[pool.name]) or "-",
        ]
        for pool in pools
    ]
    footer = f"{scratch} volume{'s' if scratch != 1 else ''} in the scratch pool"
    table(None, ["POOL", "RETENTION", "VOLUMES", "WRITTEN", "TASKS"], rows, full, footer)


@pool_app.command("edit", cls=HelpCommand)
def pool_edit(name: PoolName, retention_days: PoolDays, json_out: JsonOut = False) -> None:
    """Change a pool's retention. Volumes are retained by it from their next write on;
    what was written before keeps the date it was given."""
    from tapesched.media.labels import check_pool_name
    from tapesched.store import media as catalog

    check_pool_name(name)
    check_days(retention_days)
    with open_db(create=False) as db, db.write():
        before = catalog.get_pool(db, name)
        if before is None:
            raise NotFound(f"no such pool: {name}")
        catalog.set_pool_retention(db, name, retention_days)
        pool = catalog.get_pool(db, name)
    if json_out:
        print_json(_pool_json(pool))
    else:
        sys.stdout.write(
            f"pool {name}: backups kept {retention_days} days "
            f"(was {before.retention_days}), from each volume's next write\n"
        )


@pool_app.command("delete", cls=HelpCommand)
def pool_delete(name: PoolName, json_out: JsonOut = False) -> None:
    """Delete a pool that no volume is in and no task names."""
    from tapesched.media.labels import check_pool_name
    from tapesched.store import media as catalog

    check_pool_name(name)
    with open_db(create=False) as db, db.write():
        catalog.delete_pool(db, name)
    if json_out:
        print_json({"deleted": name})
    else:
        sys.stdout.write(f"deleted pool {name}\n")


# --------------------------------------------------------------------------- restore points


@app.command("restore-points", cls=HelpCommand)
def restore_points(task_ref: TaskRef, full: Full = False, json_out: JsonOut = False) -> None:
    """List the points a recovery of a backup task can reach: each successful backup of
    its chain, with the volumes a restore to it reads, in order (the full's, then the
    differential's and each incremental's). A backup without media shows its device or
    archive instead."""
    from tapesched.actions.backup import task_chain
    from tapesched.actions.recovery import chain_backups, restore_plan
    from tapesched.render import iso, table
    from tapesched.store import media as catalog
    from tapesched.store import tasks as task_rows

    with open_db(create=False) as db, db.read():
        task = task_rows.find(db, task_ref)
        if task.action_type != "backup":
            raise InvalidInput(
                f"task {task.task_name} is a {task.action_type} task; restore points are "
                "those of a backup task"
            )
        chain = task_chain(task.action_config or {})
        backups = chain_backups(db, chain) if chain else []
        pieces = catalog.pieces_of(db, [item.execution_id for item in backups])
    points = []
    for item in backups:
        try:
            members = restore_plan(backups, item.execution_id)
        except ValueError:
            continue  # no full before it: nothing restores it
        places: list[str] = []
        for member in members:
            for place in _places(member, pieces.get(member.execution_id, [])):
                if place not in places:
                    places.append(place)
        points.append((item, members, places))
    if json_out:
        print_json(
            [
                {
                    "execution_id": item.execution_id,
                    "completed_at": iso(item.completed_at),
                    "level": item.result.get("level"),
                    "ran_as": _ran_as(item),
                    "files": item.result.get("files"),
                    "bytes": item.result.get("bytes"),
                    "volumes": places,
                    "backups": [member.execution_id for member in members],
                }
                for item, members, places in points
            ]
        )
        return
    if not points:
        sys.stdout.write(f"task {task.task_name} has no restore point yet (no successful backup)\n")
        return
    rows = [
        [
            item.execution_id,
            stamp_here(item.completed_at),
            _level_text(item),
            str(item.result.get("files", "-")),
            human_bytes(item.result.get("bytes")),
            ", ".join(places) or "-",
        ]
        for item, _members, places in points
    ]
    table(None, ["EXECUTION", "COMPLETED", "LEVEL", "FILES", "BYTES", "VOLUMES"], rows, full)


def _ran_as(backup: Any) -> str:
    """full, differential or incremental (a backup's `ran_as`; a full by its level)."""
    if backup.is_full:
        return "full"
    return "differential" if backup.result.get("ran_as") == "differential" else "incremental"


def _level_text(backup: Any) -> str:
    kind = _ran_as(backup)
    return f"incremental {backup.result.get('level')}" if kind == "incremental" else kind


def _places(backup: Any, pieces: list[Any]) -> list[str]:
    """What a restore of one backup reads: its volumes, in order, or its device/archive."""
    if pieces:
        return [piece.volume for piece in pieces]
    result = backup.result
    if result.get("volumes"):
        return [str(label) for label in result["volumes"]]
    if result.get("archive_path"):
        return [str(result["archive_path"])]
    if result.get("device"):
        number = result.get("tape_file_number")
        return [f"{result['device']} file {number}" if number is not None else result["device"]]
    return []
