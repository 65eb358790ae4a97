"""verify: read backups back and prove them, piece by piece; optionally restore them.

`{"from_task": TASK}` checks the task's latest restore point: every piece of
the full and of each incremental up to it, read from its volume with the
label checked first, its SHA-256 compared with the one recorded while it was
written. `{"volume": LABEL}` checks every piece on one volume. With
`"restore_test": true` (from_task only) the restore point is also extracted
into a scratch folder under the state folder, and each archive's file count
and byte total as tar extracted them are compared with what its backup
recorded: a scheduled restore drill. The scratch folder is removed afterwards.

A backup without media (a bare `device`) is checked as recovery checks it: the
SHA-256 of each archive on a virtual tape.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tapesched.actions import recovery, volumes
from tapesched.actions import tape as tapes
from tapesched.errors import ActionFailed
from tapesched.job import JobContext
from tapesched.media import stream
from tapesched.store import media as media_rows
from tapesched.store.catalog import Backup


def run(config: dict[str, Any], context: JobContext) -> dict[str, Any]:
    if config.get("volume"):
        return _verify_volume(config["volume"], context)
    return _verify_point(config, context)


def _verify_point(config: dict[str, Any], context: JobContext) -> dict[str, Any]:
    task, chain, plan = recovery.plan_for(context.db, str(config["from_task"]), "latest")
    result: dict[str, Any] = {
        "task": task.task_name,
        "chain_id": chain,
        "point": plan[-1].execution_id,
        "backups": [item.execution_id for item in plan],
        "pieces_checked": 0,
        "bytes_checked": 0,
        "volumes": [],
        "restore_test": bool(config.get("restore_test", False)),
    }
    if plan[-1].result.get("backend") != "media":
        return _verify_files(context, plan, result)
    pieces = volumes.pieces_of(context, plan)
    result["volumes"] = volumes.volumes_in_order(pieces)
    context.log(
        f"verifying restore point {plan[-1].execution_id} of {task.task_name}: "
        f"{sum(len(archive) for archive in pieces)} pieces on {', '.join(result['volumes'])}"
    )
    with volumes.holding(context, plan):
        if result["restore_test"]:
            _restore_test(context, plan, pieces, result)
        else:
            mounts = volumes.Mounts(context)
            try:
                for item, archive in zip(plan, pieces, strict=True):
                    _check(context, mounts(item), archive, result)
            finally:
                mounts.release()
    context.log(f"verified {result['pieces_checked']} pieces, {result['bytes_checked']} bytes")
    return result


def _check(
    context: JobContext, mount: Any, pieces: list[stream.Piece], result: dict[str, Any]
) -> None:
    def done(piece: stream.Piece) -> None:
        result["pieces_checked"] += 1
        result["bytes_checked"] += piece.bytes
        context.log(f"volume {piece.volume} tape file {piece.file_number}: checksum ok")

    try:
        volumes.check_pieces(context, mount, pieces, done)
    except stream.Mismatch as mismatch:
        raise ActionFailed(mismatch.message, result) from None


def _restore_test(
    context: JobContext,
    plan: list[Backup],
    pieces: list[list[stream.Piece]],
    result: dict[str, Any],
) -> None:
    scratch = context.paths.home / "verify" / context.execution_id
    scratch.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    scratch.mkdir(mode=0o700)
    result.update(files_extracted=0, members_extracted=0, archives=[])
    options = tapes.tar_features(context).extract_options(root=os.geteuid() == 0)
    try:
        listings = volumes.restore_chain(context, plan, pieces, scratch, options, result)
        result["pieces_checked"] = sum(len(archive) for archive in pieces)
        result["bytes_checked"] = sum(piece.bytes for archive in pieces for piece in archive)
        differences = []
        for item, listing in zip(plan, listings, strict=True):
            recorded = (item.result.get("files"), item.result.get("bytes"))
            found = (listing.files, listing.bytes)
            result["archives"].append(
                {
                    "execution_id": item.execution_id,
                    "files": listing.files,
                    "bytes": listing.bytes,
                    "recorded_files": recorded[0],
                    "recorded_bytes": recorded[1],
                }
            )
            if recorded != found:
                differences.append(
                    f"backup {item.execution_id}: restored {found[0]} files, {found[1]} bytes; "
                    f"the backup recorded {recorded[0]} files, {recorded[1]} bytes"
                )
        if differences:
            raise ActionFailed("restore test: " + "; ".join(differences), result)
        context.log(
            f"restore test: {len(plan)} archives restored into {scratch}, files and sizes "
            "as recorded"
        )
    finally:
        volumes.remove_staging(scratch)


def _verify_volume(label: str, context: JobContext) -> dict[str, Any]:
    db = context.db
    with db.read():
        volume = media_rows.get_volume(db, label)
        if volume is None:
            raise ActionFailed(f"volume {label} is not in the catalog", field="volume")
        rows = media_rows.pieces_on(db, label)
    result: dict[str, Any] = {
        "volume": label,
        "pieces_checked": 0,
        "bytes_checked": 0,
        "backups": sorted({row.execution_id for row in rows}),
    }
    if volume.library:
        config = {"library": volume.library}
    elif volume.drive:
        config = {"device": volume.drive}
    else:
        raise ActionFailed(
            f"volume {label} is on the shelf; put it in a library (then 'tapesched library "
            "inventory') or a drive first"
        )
    pieces = [stream.Piece(row.volume, row.file_number, row.bytes, row.sha256) for row in rows]
    context.log(f"verifying {len(pieces)} pieces on volume {label}")
    wait = float(getattr(context.task, "device_wait", 60) or 0)
    with tapes.hold_device(context, volumes.lock_name(config), wait):
        mount = volumes.mounter(
            context, volumes.where_for(db, config, volumes.tool_runner(context))
        )
        try:
            mount.mount(label)  # the label is checked even on a volume with no piece
            _check(context, mount, pieces, result)
        finally:
            mount.release()
    context.log(f"volume {label}: {result['pieces_checked']} pieces verified")
    return result


def _verify_files(
    context: JobContext, plan: list[Backup], result: dict[str, Any]
) -> dict[str, Any]:
    """Backups without media: the SHA-256 of each archive on a virtual tape (a drive
    without media tracking records none)."""
    for item in plan:
        if item.result.get("backend") != "virtual_tape":
            raise ActionFailed(
                f"backup {item.execution_id} is on a tape drive without media tracking; "
                "it has no checksum to verify (give the backup task a pool)"
            )
        path = Path(item.result["archive_path"])
        recovery._verify_file(context, item)  # noqa: SLF001 - the same check a restore makes
        result["pieces_checked"] += 1
        result["bytes_checked"] += path.stat().st_size
    return result
