"""cleanup: prune history, logs and (optionally) expired archives; recycle expired volumes.

What is never removed:
- a run in progress (its row or its log);
- the record of a successful backup whose archive is kept: recovery reads the
  chain from those rows. Archives on a tape drive are never removed (recycling
  a tape is the operator's call), so their records stay;
- with include_archives, an expired archive that a kept archive still needs
  (the full and the incrementals a kept incremental builds on), and the newest
  restore point of every chain, even when it has expired: cleanup never
  removes the last backup of a chain.
Files are removed only after the rows that name them are gone; archives that
no row names are left alone.

Volumes (labelled media, tapesched.media): a volume whose retention has passed
is recycled (back to `scratch`, so a backup of its pool may relabel and
overwrite it) only when no backup on it is still needed: every backup of a
restore set (a full and its incrementals) is needed while one of them lies on a
volume still retained, and the newest restore set of every chain is always
needed. Recycling writes nothing on the volume: its backups stop being restore
points (their pieces leave the catalog) and their records then age like any
other history. Volumes in the error or retired state are never recycled.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tapesched.actions import tape as tapes
from tapesched.errors import ActionFailed
from tapesched.job import JobContext
from tapesched.store import catalog
from tapesched.store.catalog import Backup


@dataclass
class ArchivePlan:
    """Which expired archives of one chain go, and which stay because they are needed."""

    delete: list[Backup] = field(default_factory=list)
    needed: list[Backup] = field(default_factory=list)


def plan_archives(backups: list[Backup], cutoff: datetime) -> ArchivePlan:
    """Given one chain's backups (oldest first) and the cutoff, return the plan.

    The chain is cut into restore sets, each a full and its incrementals. A set
    whose newest member is expired is wholly expired and goes, except the newest
    set of the chain, kept as the last restore point. In a set with a kept
    member every expired member is needed. Tape-drive archives are never deleted.
    """
    sets: list[list[Backup]] = []
    for item in backups:
        if item.is_full or not sets:
            sets.append([])
        sets[-1].append(item)
    plan = ArchivePlan()
    for number, members in enumerate(sets):
        expired = [item for item in members if item.completed_at < cutoff]
        if not expired:
            continue
        newest_set = number == len(sets) - 1
        if len(expired) == len(members) and not newest_set:
            for item in expired:
                if item.result.get("backend") == "virtual_tape":
                    plan.delete.append(item)
        else:
            plan.needed.extend(expired)
    return plan


@dataclass
class RecyclePlan:
    """Which expired volumes go back to scratch, which stay (and why), and the backups
    that stop being restore points."""

    recycle: list[str] = field(default_factory=list)
    kept: dict[str, str] = field(default_factory=dict)
    backups_dropped: list[str] = field(default_factory=list)


def plan_recycling(
    volumes: list[Any], backups: list[Backup], pieces: dict[str, list[Any]], now: datetime
) -> RecyclePlan:
    """Given every volume, the successful backups (oldest first), each backup's pieces and
    the time, return which volumes may be recycled."""
    expired = {
        volume.label
        for volume in volumes
        if volume.state in ("append", "full")
        and volume.retained_until is not None
        and volume.retained_until <= now
    }
    on_volume: dict[str, list[Backup]] = {}
    needed: dict[str, str] = {}  # execution id -> why
    chains: dict[str, list[list[Backup]]] = {}
    for item in backups:
        if item.execution_id not in pieces:
            continue
        sets = chains.setdefault(item.result.get("chain_id") or "", [])
        if item.is_full or not sets:
            sets.append([])
        sets[-1].append(item)
        for piece in pieces[item.execution_id]:
            on_volume.setdefault(piece.volume, []).append(item)
    for chain, sets in chains.items():
        for number, members in enumerate(sets):
            labels = {piece.volume for item in members for piece in pieces[item.execution_id]}
            retained = sorted(labels - expired)
            if number == len(sets) - 1:
                why = f"it holds the newest restore point of chain {chain}"
            elif retained:
                why = f"a restore set of chain {chain} also lies on {', '.join(retained)}"
            else:
                continue
            for item in members:
                needed[item.execution_id] = why
    plan = RecyclePlan()
    for label in sorted(expired):
        reasons = [
            f"backup {item.execution_id} is needed: {needed[item.execution_id]}"
            for item in on_volume.get(label, [])
            if item.execution_id in needed
        ]
        if reasons:
            plan.kept[label] = reasons[0]
            continue
        plan.recycle.append(label)
        for item in on_volume.get(label, []):
            if item.execution_id not in plan.backups_dropped:
                plan.backups_dropped.append(item.execution_id)
    return plan


def run(config: dict[str, Any], context: JobContext) -> dict[str, Any]:
    days = int(config["retention_days"])
    include_archives = bool(config.get("include_archives", False))
    now = context.now()
    cutoff = now - timedelta(days=days)
    context.log(
        f"removing history older than {days} days (before {cutoff.isoformat()})"
        + (", and expired virtual-tape archives" if include_archives else "")
    )
    removed_archives: list[Backup] = []
    needed: list[Backup] = []
    db = context.db
    with db.write():
        recycled = _recycle(context, now)
        backups = catalog.successful_backups(db)
        on_media = _media_pieces(db, backups)
        keep_rows = {
            item.execution_id
            for item in backups
            if item.result.get("backend") != "media" or item.execution_id in on_media
        }
        if include_archives:
            for chain_items in _by_chain(backups).values():
                plan = plan_archives(chain_items, cutoff)
                removed_archives.extend(plan.delete)
                needed.extend(plan.needed)
            keep_rows -= {item.execution_id for item in removed_archives}
        old = catalog.expired_history(db, cutoff, context.execution_id)
        doomed = [(execution_id, log) for execution_id, log in old if execution_id not in keep_rows]
        doomed_ids = [execution_id for execution_id, _ in doomed]
        catalog.delete_executions(db, doomed_ids)
        referenced = catalog.log_paths(db)
    # The rows are gone (committed); now the files they named.
    problems: list[str] = []
    logs_removed = _remove_logs([log for _, log in doomed if log], referenced, problems)
    logs_removed += _remove_orphan_logs(context.paths.logs, referenced, cutoff, problems)
    results_removed = _remove_results(context.paths, doomed_ids, referenced, cutoff, problems)
    archives_removed: list[str] = []
    for item in removed_archives:
        archive = Path(item.result["archive_path"])
        for path in (archive, tapes.sidecar_path(archive)):
            try:
                path.unlink()
                if path == archive:
                    archives_removed.append(str(archive))
                    context.log(f"removed expired archive {archive} ({item.execution_id})")
            except FileNotFoundError:
                pass
            except OSError as error:
                problems.append(f"{path}: {error.strerror}")
    partials_removed = (
        _remove_stale_partials(context, backups, cutoff, problems) if include_archives else []
    )
    temporaries_removed = _remove_stale_temporaries(context.paths.snapshots, cutoff, problems)
    result = {
        "retention_days": days,
        "cutoff": cutoff.isoformat(),
        "executions_removed": doomed_ids,
        "logs_removed": logs_removed,
        "archives_removed": archives_removed,
        "partial_archives_removed": partials_removed,
        "temporary_files_removed": temporaries_removed,
        "result_files_removed": results_removed,
        "archives_kept_for_chains": [
            item.result.get("archive_path") or f"tape file {item.result.get('tape_file_number')}"
            for item in needed
        ],
        "volumes_recycled": recycled.recycle,
        "volumes_kept": [
            {"volume": label, "reason": reason} for label, reason in recycled.kept.items()
        ],
        "backups_no_longer_restorable": recycled.backups_dropped,
        "problems": problems,
    }
    kept = len(old) - len(doomed)
    context.log(
        f"removed {len(doomed_ids)} executions, {len(logs_removed)} logs, "
        f"{len(archives_removed)} archives; kept {kept} expired backup records "
        f"and {len(needed)} expired archives that kept backups need"
    )
    for label in recycled.recycle:
        context.log(f"recycled volume {label}: back to scratch (its backups have expired)")
    for label, reason in recycled.kept.items():
        context.log(f"kept expired volume {label}: {reason}")
    if problems:
        raise ActionFailed("cleanup could not remove: " + "; ".join(problems), result)
    return result


def _media_pieces(db: Any, backups: list[Backup]) -> dict[str, list[Any]]:
    from tapesched.store import media

    ids = [item.execution_id for item in backups if item.result.get("backend") == "media"]
    return media.pieces_of(db, ids) if ids else {}


def _recycle(context: JobContext, now: datetime) -> RecyclePlan:
    """Inside cleanup's transaction: recycle the volumes whose backups are all expired and
    not needed (see plan_recycling)."""
    from tapesched.store import media

    db = context.db
    volumes = media.volumes(db)
    if not volumes:
        return RecyclePlan()
    backups = catalog.successful_backups(db)
    plan = plan_recycling(volumes, backups, _media_pieces(db, backups), now)
    doomed = set(plan.backups_dropped)
    for label in plan.recycle:
        media.update_volume(db, label, {"state": "scratch", "updated_at": now})
        doomed.update(media.executions_on(db, label))  # failed or lost runs' pieces too
    media.delete_pieces(db, sorted(doomed))
    return plan


def _by_chain(backups: list[Backup]) -> dict[str, list[Backup]]:
    chains: dict[str, list[Backup]] = {}
    for item in backups:
        chains.setdefault(item.result["chain_id"], []).append(item)
    return chains


def _remove_logs(paths: list[str], referenced: set[str], problems: list[str]) -> list[str]:
    removed = []
    for path in paths:
        if path in referenced:
            continue
        try:
            os.unlink(path)
            removed.append(path)
        except FileNotFoundError:
            pass
        except OSError as error:
            problems.append(f"{path}: {error.strerror}")
    return removed


def _remove_orphan_logs(
    logs: Path, referenced: set[str], cutoff: datetime, problems: list[str]
) -> list[str]:
    """Output logs older than the cutoff that no execution names (their task was deleted)."""
    candidates = []
    with contextlib.suppress(FileNotFoundError):
        for folder in os.scandir(logs):
            if not folder.is_dir(follow_symlinks=False):
                continue
            for entry in os.scandir(folder.path):
                if not entry.name.endswith(".log") or entry.path in referenced:
                    continue
                with contextlib.suppress(FileNotFoundError):
                    if entry.stat(follow_symlinks=False).st_mtime < cutoff.timestamp():
                        candidates.append(entry.path)
    return _remove_logs(candidates, referenced, problems)


def _remove_results(
    paths: Any, removed: list[str], referenced: set[str], cutoff: datetime, problems: list[str]
) -> list[str]:
    """The results written for after hooks (results/<execution>.json, tapesched.hooks) of
    the executions removed, and those older than the cutoff whose execution is gone (no
    execution's log is named <execution>.log: their task was deleted)."""
    candidates = [str(paths.result_file(execution_id)) for execution_id in removed]
    kept = {Path(path).stem for path in referenced}
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        for entry in os.scandir(paths.results):
            if not entry.name.endswith(".json") or entry.name.removesuffix(".json") in kept:
                continue
            with contextlib.suppress(FileNotFoundError):
                stat = entry.stat(follow_symlinks=False)
                if entry.is_file(follow_symlinks=False) and stat.st_mtime < cutoff.timestamp():
                    candidates.append(entry.path)
    return _remove_logs(sorted(set(candidates)), set(), problems)


def _remove_stale_partials(
    context: JobContext, backups: list[Backup], cutoff: datetime, problems: list[str]
) -> list[str]:
    """Partial archives left by a killed backup, untouched since before the cutoff."""
    removed = []
    with context.db.read():
        devices = catalog.task_devices(context.db, action_type="backup")
    devices |= {item.result.get("device") for item in backups if item.result.get("device")}
    for device in sorted(devices):
        try:
            entries = list(os.scandir(device)) if Path(device).is_dir() else []
        except OSError as error:
            problems.append(f"{device}: {error.strerror}")
            continue
        for entry in entries:
            if not (entry.name.startswith(".") and entry.name.endswith(".partial")):
                continue
            try:
                if entry.stat(follow_symlinks=False).st_mtime < cutoff.timestamp():
                    os.unlink(entry.path)
                    removed.append(entry.path)
                    context.log(f"removed stale partial archive {entry.path}")
            except FileNotFoundError:
                pass
            except OSError as error:
                problems.append(f"{entry.path}: {error.strerror}")
    return removed


def _remove_stale_temporaries(snapshots: Path, cutoff: datetime, problems: list[str]) -> list[str]:
    """Working copies of snapshots and listings (dot files) that a killed run left behind."""
    candidates = []
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(snapshots):
            if entry.name.startswith(".") and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(FileNotFoundError):
                    if entry.stat(follow_symlinks=False).st_mtime < cutoff.timestamp():
                        candidates.append(entry.path)
    return _remove_logs(candidates, set(), problems)
