"""backup: GNU tar onto a drive, a virtual tape or a pool's volumes: full, differential
or incremental.

Full, differential and incremental tasks over the same sources and device (or pool)
form one chain, named by chain_id(sources, device or "pool:NAME"). With a pool, tar
writes to a pipe and actions/volumes.py puts the archive on the pool's labelled volumes.
The level run is the one a manual run asked for, else the task's `levels` rule for the
run's scheduled date in the task's zone (tapesched.levels), else its `task_type`.

The chain's tar snapshot is snapshots/<chain>.snar; a full starts it afresh (level 0)
and keeps a copy of it as snapshots/<chain>.full.snar; a differential (level 1) works
on a copy of that full snapshot, an incremental (previous level + 1) on a copy of the
chain's snapshot, and the copy replaces the snapshot only once the archive is complete,
so a failed or stopped run leaves the chain (both snapshots) as it was. Each result
names the backup it builds on (`based_on`), which recovery checks.

Sources are archived relative to / (`tar -C / data/x`): /data/x restores to
TARGET/data/x. Archives are written in GNU tar's POSIX (pax) format with sparse
files, extended attributes, POSIX ACLs and SELinux labels and nanosecond times,
as far as this host's tar supports them (the result's `kept` says which);
chains begun in the older GNU format go on and restore.

The snapshot, its working copy and tar's listing are private files (0600),
whatever the umask.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from tapesched.actions import device_kind
from tapesched.actions import tape as tapes
from tapesched.actions.listing import parse_listing
from tapesched.errors import ActionFailed, InvalidInput
from tapesched.job import JobContext

# tar exit 1 on create: some files changed while being read. The archive is
# complete and readable; the run succeeds with a warning in its result.
TAR_CHANGED = 1


def normalize_sources(sources: list[str]) -> list[str]:
    """Given source paths, return them normalized (no trailing /, no dots) and sorted."""
    return sorted({os.path.normpath(path) for path in sources})


def normalize_device(device: str) -> str:
    return os.path.normpath(device)


def chain_id(sources: list[str], device: str) -> str:
    """Given sources and a device, return the chain id: 16 hex of a SHA-256."""
    key = json.dumps([normalize_sources(sources), normalize_device(device)])
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def chain_place(action_config: dict[str, Any]) -> str | None:
    """Where a chain's archives go: the pool (`pool:NAME`: its volumes, wherever they are
    loaded) or the device of a backup without media tracking."""
    pool = action_config.get("pool")
    if isinstance(pool, str):
        return f"pool:{pool}"
    device = action_config.get("device")
    return device if isinstance(device, str) else None


def task_chain(action_config: dict[str, Any]) -> str | None:
    """Given a backup task's config, return its chain id (None if the config is unusable)."""
    sources, place = action_config.get("source_paths"), chain_place(action_config)
    if not isinstance(sources, list) or place is None:
        return None
    return chain_id(sources, place)


def member_names(sources: list[str]) -> list[str]:
    """Given absolute source paths, return tar member names relative to /."""
    return [os.path.relpath(path, "/") for path in normalize_sources(sources)]


def snapshot_paths(snapshots: Path, chain: str) -> tuple[Path, Path]:
    """The chain's tar snapshot and its small state file (the level reached)."""
    return snapshots / f"{chain}.snar", snapshots / f"{chain}.json"


def full_snapshot_path(snapshots: Path, chain: str) -> Path:
    """The copy of the snapshot of the chain's latest full, which differentials start from."""
    return snapshots / f"{chain}.full.snar"


LEVELS = ("full", "differential", "incremental")


def requested_level(config: dict[str, Any], context: JobContext) -> tuple[str, str | None]:
    """The level a run asks for, and the text of the `levels` rule that chose it (None
    when none did): the manual override, else the rule for the run's scheduled date (or
    now) in the task's zone, else task_type (default full)."""
    if context.level is not None:
        if context.level not in LEVELS:
            raise ActionFailed(f"level {context.level!r} is not one of {', '.join(LEVELS)}")
        return context.level, None
    from tapesched.levels import planned

    when = context.scheduled_for or context.now()
    try:
        return planned(config, when, getattr(context.task, "timezone", None) or "UTC")
    except InvalidInput as error:
        raise ActionFailed(error.message) from None


def run(config: dict[str, Any], context: JobContext) -> dict[str, Any]:
    sources = normalize_sources(config["source_paths"])
    media = isinstance(config.get("pool"), str)
    device = normalize_device(config["device"]) if config.get("device") else None
    place = chain_place(config) if media else device
    requested, rule = requested_level(config, context)
    compress = bool(config.get("compression_enabled", False))
    exclude = list(config.get("exclude", []))
    try:
        kind = device_kind(device) if device else "media"
    except InvalidInput as error:
        raise ActionFailed(error.detail) from None
    block_size = int(config.get("block_size") or tapes.DEFAULT_BLOCKS["tape" if media else kind])
    missing = [path for path in sources if not os.path.lexists(path)]
    if missing:
        raise ActionFailed(
            "source path does not exist: " + ", ".join(missing)
            if len(missing) == 1
            else "source paths do not exist: " + ", ".join(missing)
        )
    for path in sources:
        if os.path.islink(path):
            context.log(f"source {path} is a symbolic link: the link is archived, not its target")
    if kind == "tape":
        tapes.require(tapes.MT)
    features = tapes.tar_features(context)

    chain = chain_id(sources, place)
    snapshot, state_file = snapshot_paths(context.paths.snapshots, chain)
    full_snapshot = full_snapshot_path(context.paths.snapshots, chain)
    state = _read_state(state_file)
    if rule is not None:
        context.log(f"{requested} by the rule '{rule}' of the task's levels")
    elif context.level is not None:
        context.log(f"{requested} as this run asked (--level)")
    ran_as = requested
    if requested == "incremental" and not snapshot.exists():
        context.log("no full backup in this chain yet: running a full backup")
        ran_as = "full"
    elif requested == "differential" and not full_snapshot.exists():
        context.log(
            "no full backup's snapshot is kept for this chain (no full yet, or the chain "
            "began before differentials): running a full backup"
        )
        ran_as = "full"
    level = {"full": 0, "differential": 1}.get(ran_as, int(state.get("level", 0)) + 1)
    based_on = {"full": None, "differential": state.get("full_execution_id")}.get(
        ran_as, state.get("execution_id")
    )
    copy_of = {"full": None, "differential": full_snapshot}.get(ran_as, snapshot)

    context.paths.snapshots.mkdir(mode=0o700, parents=True, exist_ok=True)
    work_snapshot = context.paths.snapshots / f".{chain}.{context.execution_id}.snar"
    work_full = context.paths.snapshots / f".{chain}.{context.execution_id}.full.snar"
    index_file = context.paths.snapshots / f".{chain}.{context.execution_id}.index"
    result: dict[str, Any] = {
        "level": level,
        "files": 0,
        "bytes": 0,
        "members": 0,
        "device": device,
        "backend": "media" if media else "tape" if kind == "tape" else "virtual_tape",
        "tape_file_number": None,
        "archive_path": None,
        "archive_bytes": None,
        "sha256": None,
        "chain_id": chain,
        "task_type_requested": requested,
        "ran_as": ran_as,
        "based_on": based_on,
        "compression": compress,
        "block_size": block_size,
        "format": features.format,
        "kept": features.kept(),
        "not_kept": features.not_kept(),
        "source_paths": sources,
        "warnings": [],
    }
    if rule is not None:
        result["level_rule"] = rule
    if media:
        result.update(pool=config["pool"], library=config.get("library"), volumes=[], pieces=[])
    context.log(
        f"{ran_as} backup (level {level}) of {', '.join(sources)} to "
        + (f"pool {config['pool']} ({config.get('library') or device})" if media else device)
        + f", chain {chain}"
    )
    lacking = features.not_kept()
    context.log(
        f"{features.format} format; keeps {', '.join(features.kept()) or 'no extra metadata'}"
        + (f"; this tar cannot keep {', '.join(lacking)}" if lacking else "")
    )
    try:
        # Private from the start: tar rewrites these files in place and keeps their mode.
        tapes.private_file(work_snapshot, copy_of)
        tapes.private_file(index_file)
        members = member_names(sources)
        if media:
            from tapesched.actions.volumes import write_archive

            argv = _tar_argv(context, "-", members, work_snapshot, index_file, result, exclude)
            write_archive(context, config, argv, result, _tar_outcome)
        else:
            write = _to_drive if kind == "tape" else _to_directory
            write(context, device, members, work_snapshot, index_file, result, exclude)
        listing = parse_listing(index_file.read_text(errors="surrogateescape"))
        result.update(files=listing.files, bytes=listing.bytes, members=listing.members)
        # The archive is complete: only now does the chain move on (a full's snapshot
        # copied first, so that both renames are all that is left).
        if ran_as == "full":
            tapes.private_file(work_full, work_snapshot)
            tapes.fsync_path(work_full)
        os.replace(work_snapshot, snapshot)
        if ran_as == "full":
            os.replace(work_full, full_snapshot)
        full_id = context.execution_id if ran_as == "full" else state.get("full_execution_id")
        tapes.write_atomically(
            state_file,
            json.dumps(
                {
                    "chain_id": chain,
                    "level": level,
                    "execution_id": context.execution_id,
                    "full_execution_id": full_id,
                    "source_paths": sources,
                    "device": device,
                    "updated_at": context.now().isoformat(),
                }
            )
            + "\n",
        )
    finally:
        for leftover in (work_snapshot, work_full, index_file):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
    context.log(
        f"backup complete: {result['files']} files, {result['bytes']} bytes, "
        + (
            f"{len(result['pieces'])} pieces on {', '.join(result['volumes'])}"
            if media
            else f"tape file {result['tape_file_number']}"
            if kind == "tape"
            else f"{result['archive_path']} sha256 {result['sha256']}"
        )
    )
    return result


def _tar_argv(
    context: JobContext,
    archive: str,
    members: list[str],
    snapshot: Path,
    index_file: Path,
    result: dict[str, Any],
    exclude: list[str],
) -> list[str]:
    return tapes.tar_create_argv(
        archive,
        members,
        str(snapshot),
        result["block_size"],
        result["compression"],
        exclude,
        str(index_file),
        tapes.tar_features(context),
    )


def _tar(
    context: JobContext,
    archive: str,
    members: list[str],
    snapshot: Path,
    index_file: Path,
    result: dict[str, Any],
    exclude: list[str],
) -> None:
    argv = _tar_argv(context, archive, members, snapshot, index_file, result, exclude)
    code, _ = tapes.run_tool(context, argv)
    _tar_outcome(context, code, result)


def _tar_outcome(context: JobContext, code: int, result: dict[str, Any]) -> None:
    """tar's exit code: 0 fine, 1 (files changed while read) a warning, else a failure."""
    if code == TAR_CHANGED:
        warning = "tar: some files changed while they were being archived (tar exit 1)"
        context.log(f"warning: {warning}")
        result["warnings"].append(warning)
    elif code < 0:
        raise ActionFailed(f"tar killed by signal {-code}", result)
    elif code != 0:
        raise ActionFailed(f"tar failed (exit {code}); see the job output", result)


def _to_drive(
    context: JobContext,
    device: str,
    members: list[str],
    snapshot: Path,
    index_file: Path,
    result: dict[str, Any],
    exclude: list[str],
) -> None:
    if tapes.is_rewinding(device):
        raise ActionFailed(
            f"device {device} is a rewinding tape device: each close rewinds the tape and the "
            "next archive would overwrite the first; use the non-rewinding node (/dev/nst0)"
        )
    code, _ = tapes.run_tool(context, tapes.eod_argv(device))
    if code != 0:
        raise ActionFailed(tapes.mt_failure("eod", device, code), result)
    code, status = tapes.run_tool(context, tapes.status_argv(device), capture=True)
    if code != 0:
        raise ActionFailed(tapes.mt_failure("status", device, code), result)
    file_number = tapes.parse_file_number(status)
    if file_number is None:
        raise ActionFailed(
            f"mt status on {device}: no file number in its output (position unknown)", result
        )
    result["tape_file_number"] = file_number
    context.log(f"writing tape file {file_number} on {device}")
    _tar(context, device, members, snapshot, index_file, result, exclude)


def _to_directory(
    context: JobContext,
    device: str,
    members: list[str],
    snapshot: Path,
    index_file: Path,
    result: dict[str, Any],
    exclude: list[str],
) -> None:
    directory = Path(device)
    try:
        tapes.prepare_directory(directory)
    except tapes.TapeError as error:
        error.result = result
        raise
    compress = result["compression"]
    number, partial = _allocate(directory, compress)
    final = directory / tapes.archive_name(number, compress)
    sidecar = tapes.sidecar_path(final)
    result["tape_file_number"] = number
    context.log(f"writing {final}")
    try:
        _tar(context, str(partial), members, snapshot, index_file, result, exclude)
        tapes.fsync_path(partial)
        digest = tapes.sha256_file(partial, context.check)
        tapes.write_atomically(sidecar, tapes.sidecar_text(final, digest))
        os.replace(partial, final)
        tapes.fsync_path(directory)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        if not final.exists():
            with contextlib.suppress(FileNotFoundError):
                sidecar.unlink()
        raise
    tapes.write_label(directory, number)
    result.update(archive_path=str(final), archive_bytes=final.stat().st_size, sha256=digest)


def _allocate(directory: Path, compress: bool) -> tuple[int, Path]:
    """Claim the next file number by creating its partial file (0600, exclusively: tar
    keeps the mode, and a writer from another state folder cannot take the same number)."""
    number = tapes.next_file_number(directory)
    for _ in range(100):
        partial = directory / tapes.partial_name(number, compress)
        try:
            os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            number = max(number + 1, tapes.next_file_number(directory))
            continue
        except OSError as error:
            raise ActionFailed(f"device {directory}: cannot write ({error.strerror})") from None
        return number, partial
    raise ActionFailed(f"device {directory}: cannot claim a file number (busy)")


def _read_state(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
