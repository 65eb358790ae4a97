"""recovery: restore a backup chain, up to a point, into a target folder.

The chain of the `from_task` backup task is every successful backup of any
task with the same sources and device. The restore takes the shortest set that
reaches the point: walking back from it, each time the latest earlier backup of
a lower level (the point's incremental, the incrementals before it down to the
latest differential, that differential, the full), checks
every archive first (SHA-256 on a virtual tape; a readable listing with the
recorded member count on a drive), and only then extracts them in order with
--listed-incremental=/dev/null, so deletions and renames are replayed.

Nothing is written outside the target (extract_guard): every member of every
archive is checked against the target and what the earlier members made of it
before anything is extracted, and while each tar runs every symbolic link under
the target is held aside, so no tar follows a link an earlier archive left.
Modes, extended attributes, ACLs and SELinux labels are restored as archived
(as far as this tar keeps them), whatever the umask.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from tapesched.actions import backup
from tapesched.actions import extract_guard as guard
from tapesched.actions import tape as tapes
from tapesched.actions.listing import Entry, parse_entries, parse_listing, unsafe_member
from tapesched.errors import ActionFailed, NotFound
from tapesched.job import JobContext
from tapesched.store import catalog
from tapesched.store import tasks as task_rows
from tapesched.store.catalog import Backup
from tapesched.store.db import Database


def restore_plan(backups: list[Backup], point: str) -> list[Backup]:
    """Given a chain's backups in order and a point ('latest' or an execution id, or a
    unique prefix of 8+ characters), return the backups to restore, in order: walking
    back from the point, each time the latest earlier backup of a lower level, which must
    be exactly one lower (and the one the later backup names as `based_on`, if it names
    one), down to a full: the full, the latest differential after it and the
    incrementals after that. Results without int levels: the latest full at or before
    the point and everything after it. Raise ValueError with the reason if there is none."""
    if not backups:
        raise ValueError("the chain has no successful backup")
    if point == "latest":
        end = len(backups) - 1
    else:
        matches = [
            index
            for index, item in enumerate(backups)
            if item.execution_id == point
            or (len(point) >= 8 and item.execution_id.startswith(point))
        ]
        if len(matches) != 1:
            raise ValueError(f"point {point} is not a successful backup of this chain")
        end = matches[0]
    if _level(backups[end]) is not None:
        return _walk_back(backups, end)
    for start in range(end, -1, -1):
        if backups[start].is_full:
            return backups[start : end + 1]
    raise ValueError("no full backup at or before the point (was it removed?)")


def _level(item: Backup) -> int | None:
    level = item.result.get("level")
    return level if isinstance(level, int) and not isinstance(level, bool) and level >= 0 else None


def _walk_back(backups: list[Backup], end: int) -> list[Backup]:
    plan = [backups[end]]
    need = _level(backups[end])
    index = end
    while need:
        found_at = _lower(backups, index, need)
        if found_at is None:
            raise ValueError("no full backup at or before the point (was it removed?)")
        base, index = plan[0].result.get("based_on"), found_at
        found = _level(backups[index])
        if found != need - 1 or (isinstance(base, str) and base != backups[index].execution_id):
            raise ValueError(
                f"the backup of level {need - 1} before the point is gone "
                "(its volumes were recycled?)"
            )
        plan.insert(0, backups[index])
        need = found
    return plan


def _lower(backups: list[Backup], before: int, level: int) -> int | None:
    """The index of the latest backup before `before` whose level is below `level`."""
    for index in range(before - 1, -1, -1):
        found = _level(backups[index])
        if found is not None and found < level:
            return index
    return None


def chain_backups(db: Database, chain: str) -> list[Backup]:
    """Every successful backup of a chain that can still be read, oldest first, whatever
    task made it (a backup on volumes that were recycled is no longer one)."""
    from tapesched.store import media

    task_ids = [
        task.id
        for task in task_rows.all_tasks(db, action_type="backup")
        if backup.task_chain(task.action_config or {}) == chain
    ]
    found = [
        item
        for item in catalog.successful_backups(db, task_ids)
        if item.result.get("chain_id") == chain
    ]
    on_media = [item.execution_id for item in found if item.result.get("backend") == "media"]
    if not on_media:
        return found
    with_pieces = media.pieces_of(db, on_media)
    return [
        item
        for item in found
        if item.result.get("backend") != "media" or with_pieces.get(item.execution_id)
    ]


def plan_for(db: Database, reference: str, point: str) -> tuple[Any, str | None, list[Backup]]:
    """Given a backup task's name or id and a point, return the task, its chain and the
    backups a restore to the point reads, in order; ActionFailed (field from_task) for a
    task that is missing or no backup, or a point the chain cannot reach."""
    with db.read():
        try:
            task = task_rows.find(db, reference)
        except NotFound as error:
            raise ActionFailed(error.message, field="from_task") from None
        if task.action_type != "backup":
            raise ActionFailed(
                f"{task.task_name} is a {task.action_type} task, not a backup", field="from_task"
            )
        chain = backup.task_chain(task.action_config or {})
        backups = chain_backups(db, chain) if chain else []
    try:
        return task, chain, restore_plan(backups, point)
    except ValueError as error:
        raise ActionFailed(f"chain {chain} of {task.task_name}: {error}") from None


def wanted_members(paths: list[str]) -> list[str]:
    """Given the paths to restore (as backed up, /data/x, or as stored, data/x),
    return archive member names; raise ValueError for one that could leave the target."""
    members = []
    for path in paths:
        member = os.path.normpath(path.lstrip("/")) if path.strip("/") else "."
        if member == "." or ".." in path.split("/") or unsafe_member(member):
            raise ValueError(f"paths: '{path}' is not a path inside the backup")
        members.append(member)
    return members


def select_members(names: list[str], wanted: list[str]) -> list[str]:
    """Given an archive's member names and the wanted members, return those of the wanted
    that the archive holds (the member itself or something under it)."""
    present = set(names)
    return [
        member
        for member in wanted
        if member in present or any(name.startswith(member + "/") for name in names)
    ]


def count_files(target: Path, roots: list[str]) -> int:
    """Given the target and the restored roots (member names), count what is not a
    directory under them (symbolic links are counted, never followed)."""
    total = 0
    for root in roots:
        top = target / root
        if top.is_symlink() or (top.exists() and not top.is_dir()):
            total += 1
            continue
        for folder, folders, files in os.walk(top):
            total += len(files)
            total += sum(1 for name in folders if os.path.islink(os.path.join(folder, name)))
    return total


def run(config: dict[str, Any], context: JobContext) -> dict[str, Any]:
    reference = str(config["from_task"])
    point = config.get("point", "latest")
    target = Path(os.path.normpath(config["target_path"]))
    overwrite = bool(config.get("overwrite", False))
    try:
        wanted = wanted_members(config["paths"]) if config.get("paths") else None
    except ValueError as error:
        raise ActionFailed(str(error)) from None

    task, chain, plan = plan_for(context.db, reference, point)
    device = plan[-1].result["device"]
    backend = plan[-1].result["backend"]
    if backend == "media":
        return _restore_media(context, plan, chain, target, overwrite, wanted)
    result: dict[str, Any] = {
        "chain": [item.execution_id for item in plan],
        "chain_id": chain,
        "point": plan[-1].execution_id,
        "target_path": str(target),
        "device": device,
        "backend": backend,
        "files": 0,
        "files_extracted": 0,
        "members_extracted": 0,
    }
    _check_target(target, overwrite)
    context.log(
        f"restoring chain {chain} up to {plan[-1].execution_id} "
        f"({len(plan)} archive{'s' if len(plan) != 1 else ''}) into {target}"
    )
    lock = (
        tapes.hold_device(context, device, float(getattr(context.task, "device_wait", 60) or 0))
        if backend == "tape"
        else contextlib.nullcontext()
    )
    try:
        if backend == "tape":
            tapes.require(tapes.MT)
        options = tapes.tar_features(context).extract_options(root=os.geteuid() == 0)
        with lock:
            listings = _verify(context, plan)
            selections = _select(listings, wanted, result)
            try:
                guard.check_chain(
                    [(_where(item), entries) for item, entries in zip(plan, listings, strict=True)],
                    guard.on_disk(target),
                )
            except guard.Refused as refused:
                raise ActionFailed(str(refused), result) from None
            target.mkdir(mode=0o700, parents=True, exist_ok=True)
            _extract_chain(context, plan, selections, target, options, result)
    except tapes.TapeError as error:
        error.result = result
        raise
    roots = wanted if wanted is not None else backup.member_names(plan[-1].result["source_paths"])
    result["files"] = count_files(target, roots)
    context.log(f"restore complete: {result['files']} files under {target}")
    return result


def _restore_media(
    context: JobContext,
    plan: list[Backup],
    chain: str,
    target: Path,
    overwrite: bool,
    wanted: list[str] | None,
) -> dict[str, Any]:
    """A chain on labelled volumes: every archive streams from its volumes (each piece's
    SHA-256 checked as it is read) into a staging folder inside the target; only when all
    of them extracted and matched does the restored tree move into place."""
    from tapesched.actions import volumes

    pieces = volumes.pieces_of(context, plan)
    needed = volumes.volumes_in_order(pieces)
    last = plan[-1].result
    result: dict[str, Any] = {
        "chain": [item.execution_id for item in plan],
        "chain_id": chain,
        "point": plan[-1].execution_id,
        "target_path": str(target),
        "pool": last.get("pool"),
        "library": last.get("library"),
        "device": last.get("device"),
        "backend": "media",
        "volumes": needed,
        "files": 0,
        "files_extracted": 0,
        "members_extracted": 0,
    }
    _check_target(target, overwrite)
    context.log(
        f"restoring chain {chain} up to {plan[-1].execution_id} ({len(plan)} "
        f"archive{'s' if len(plan) != 1 else ''}) into {target}; volumes needed, in order: "
        + ", ".join(needed)
    )
    options = tapes.tar_features(context).extract_options(root=os.geteuid() == 0)
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    staging = target / f".tapesched-restore-{context.execution_id}"
    try:
        with volumes.holding(context, plan):
            staging.mkdir(mode=0o700)
            volumes.restore_chain(context, plan, pieces, staging, options, result)
        volumes.move_into(staging, target, wanted)
    except tapes.TapeError as error:
        error.result = result
        raise
    except ActionFailed as error:
        if getattr(error, "result", None) is None:
            error.result = result
        raise
    finally:
        volumes.remove_staging(staging)
    roots = wanted if wanted is not None else backup.member_names(last["source_paths"])
    result["files"] = count_files(target, roots)
    context.log(f"restore complete: {result['files']} files under {target}")
    return result


def _check_target(target: Path, overwrite: bool) -> None:
    if target.exists() or target.is_symlink():
        if not target.is_dir():
            raise ActionFailed(f"target_path {target} exists and is not a directory")
        entries = os.listdir(target)
        if entries and not overwrite:
            raise ActionFailed(
                f"target_path {target} is not empty ({len(entries)} entries); restore into an "
                "empty folder, or set overwrite: true to restore over its content"
            )


def _where(item: Backup) -> str:
    if item.result.get("backend") == "tape":
        return f"tape file {item.result.get('tape_file_number')} of {item.result.get('device')}"
    return str(item.result.get("archive_path"))


def _verify(context: JobContext, plan: list[Backup]) -> list[list[Entry]]:
    """Check every archive before extracting any (checksum, readable listing); return
    each archive's members as tar lists them."""
    listings = []
    for item in plan:
        if item.result.get("backend") == "tape":
            listings.append(_verify_tape(context, item))
        else:
            _verify_file(context, item)
            listings.append(_list(context, item, str(item.result["archive_path"])))
    return listings


def _select(
    listings: list[list[Entry]], wanted: list[str] | None, result: dict[str, Any]
) -> list[list[str] | None]:
    """Per archive, the members to extract (None: all of it)."""
    if wanted is None:
        return [None] * len(listings)
    selections: list[list[str] | None] = []
    found: set[str] = set()
    for entries in listings:
        chosen = select_members([entry.path for entry in entries], wanted)
        found.update(chosen)
        selections.append(chosen)
    absent = [member for member in wanted if member not in found]
    if absent:
        raise ActionFailed(
            "paths not in the backup up to this point: " + ", ".join("/" + m for m in absent),
            result,
        )
    return selections


def _extract_chain(
    context: JobContext,
    plan: list[Backup],
    selections: list[list[str] | None],
    target: Path,
    options: list[str],
    result: dict[str, Any],
) -> None:
    """Extract the archives in order, each with every link under the target held aside,
    then put the links back."""
    shelter = guard.LinkShelter(target)
    problems: list[str] = []
    try:
        for item, members in zip(plan, selections, strict=True):
            if members is not None and not members:
                context.log(f"{_where(item)}: none of the paths in it, skipped")
                continue
            try:
                held = shelter.shelter()
            except OSError as error:
                raise ActionFailed(
                    f"cannot hold the links under {target} aside before extracting "
                    f"{_where(item)} ({error.strerror or error}); the target is incomplete",
                    result,
                ) from None
            if held:
                context.log(f"{held} symbolic links under {target} held aside while tar runs")
            _extract(context, item, target, members, options, result)
    finally:
        problems = shelter.restore()
        for problem in problems:
            context.log(f"could not put a symbolic link back: {problem}")
    if problems:
        raise ActionFailed(
            f"{len(problems)} symbolic links could not be put back (first: {problems[0]})",
            result,
        )


def _verify_file(context: JobContext, item: Backup) -> None:
    archive = Path(item.result["archive_path"])
    expected = item.result.get("sha256")
    if not archive.is_file():
        raise ActionFailed(f"archive {archive} of backup {item.execution_id} is missing")
    if not expected:
        raise ActionFailed(f"archive {archive}: no checksum recorded; refusing to restore it")
    actual = tapes.sha256_file(archive, context.check)
    if actual != expected:
        raise ActionFailed(
            f"archive {archive}: checksum mismatch (recorded {expected}, found {actual}); "
            "nothing was extracted"
        )
    context.log(f"{archive}: checksum ok")


def _verify_tape(context: JobContext, item: Backup) -> list[Entry]:
    """A drive gives no checksum: read the tape file through and check that it is a tar
    archive with the member count the backup recorded (the right tape is loaded)."""
    entries = _list(context, item, item.result["device"])
    recorded = item.result.get("members")
    if recorded is not None and len(entries) != recorded:
        raise tapes.TapeError(
            f"{_where(item)}: holds {len(entries)} members, the backup recorded {recorded}; "
            "is the right tape loaded? nothing was extracted"
        )
    context.log(f"{_where(item)}: {len(entries)} members, readable")
    return entries


def _position(context: JobContext, item: Backup) -> None:
    device = item.result["device"]
    number = item.result.get("tape_file_number")
    if not isinstance(number, int):
        raise tapes.TapeError(f"backup {item.execution_id}: no tape file number recorded")
    code, _ = tapes.run_tool(context, tapes.asf_argv(device, number))
    if code != 0:
        raise tapes.TapeError(tapes.mt_failure(f"asf {number}", device, code))


def _index_path(context: JobContext, item: Backup) -> Path:
    """A private (0600) file for tar's listing of one archive."""
    context.paths.snapshots.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = context.paths.snapshots / f".restore.{context.execution_id}.{item.execution_id}.index"
    tapes.private_file(path)
    return path


def _list(context: JobContext, item: Backup, archive: str) -> list[Entry]:
    if item.result.get("backend") == "tape":
        _position(context, item)
    index_file = _index_path(context, item)
    try:
        argv = tapes.tar_list_argv(
            archive,
            int(item.result.get("block_size") or 20),
            bool(item.result.get("compression")),
            str(index_file),
        )
        code, _ = tapes.run_tool(context, argv)
        if code != 0:
            raise tapes.TapeError(f"{_where(item)}: cannot be read (tar exit {code})")
        text = index_file.read_text(errors="surrogateescape")
    finally:
        with contextlib.suppress(FileNotFoundError):
            index_file.unlink()
    return parse_entries(text)


def _extract(
    context: JobContext,
    item: Backup,
    target: Path,
    members: list[str] | None,
    options: list[str],
    result: dict[str, Any],
) -> None:
    tape = item.result.get("backend") == "tape"
    archive = item.result["device"] if tape else item.result["archive_path"]
    if tape:
        _position(context, item)
    index_file = _index_path(context, item)
    context.log(f"extracting {_where(item)} (level {item.result.get('level')})")
    try:
        argv = tapes.tar_extract_argv(
            archive,
            str(target),
            int(item.result.get("block_size") or 20),
            bool(item.result.get("compression")),
            str(index_file),
            members,
            options,
        )
        code, _ = tapes.run_tool(context, argv)
        text = index_file.read_text(errors="surrogateescape") if index_file.exists() else ""
    finally:
        with contextlib.suppress(FileNotFoundError):
            index_file.unlink()
    listing = parse_listing(text)
    result["files_extracted"] += listing.files
    result["members_extracted"] += listing.members
    if code != 0:
        raise ActionFailed(
            f"tar failed extracting {_where(item)} (exit {code}); the target is incomplete",
            result,
        )
