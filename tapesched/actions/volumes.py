"""Archives on labelled volumes: what backup, recovery and verify do with a pool's media.

A backup names a pool and where its volumes are (a library, or a drive). tar
writes the archive to a pipe; the runner streams it onto the mounted volume,
computing each piece's SHA-256 as it goes, and at the end of a volume mounts
the next one of the pool (stream.write_stream). Each piece is recorded in the
catalog as soon as it is on the medium, with the volume's counters.

A restore reads the pieces back in order into tar's standard input, checking
each one's SHA-256 as it reads, and extracts into a staging folder inside the
target; only when every archive of the chain extracted and every piece matched
does anything move into place. A mismatch leaves the target as it was.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from tapesched.actions import extract_guard as guard
from tapesched.actions import tape as tapes
from tapesched.actions.listing import parse_listing
from tapesched.errors import ActionFailed, NotFound, TapeError
from tapesched.job import JobContext
from tapesched.media import stream
from tapesched.media.drive import Runner
from tapesched.media.mount import Mounter, Where, pool_of, where_for
from tapesched.store import media as media_rows
from tapesched.store.catalog import Backup
from tapesched.store.media import PieceRecord


def tool_runner(context: JobContext) -> Runner:
    """mt and mtx run through the job (its process group, deadline and cancellation)."""
    return lambda argv: tapes.run_tool(context, argv, capture=True)


def lock_name(config: dict[str, Any]) -> str:
    """The device lock of a place holding volumes: one job per library, or per drive."""
    if config.get("library"):
        return f"library:{config['library']}"
    return str(config.get("device"))


def mounter(context: JobContext, where: Where) -> Mounter:
    wait = float(getattr(context.task, "device_wait", 60) or 0)
    return Mounter(context.db, where, context.log, context.check, wait, context.now)


# --------------------------------------------------------------------------- writing


def write_archive(
    context: JobContext,
    config: dict[str, Any],
    argv: list[str],
    result: dict[str, Any],
    outcome: Callable[[JobContext, int, dict[str, Any]], None],
) -> None:
    """Run tar (`argv` writes the archive to its standard output) and stream the archive
    onto the pool's volumes; fill result's pieces and volumes."""
    db = context.db
    try:
        pool = pool_of(db, config["pool"])
    except NotFound as error:
        raise ActionFailed(error.message, result) from None
    where = where_for(db, config, tool_runner(context))
    mount = mounter(context, where)
    record_size = int(result["block_size"]) * 512
    used: list[str] = []

    def open_next(previous: stream.Piece | None) -> tuple[str, Any]:
        volume = mount.mount_for_write(pool, set(used))
        with db.write():  # retained from the moment it is chosen: cleanup leaves it alone
            media_rows.update_volume(
                db,
                volume.label,
                {"retained_until": context.now() + timedelta(days=pool.retention_days)},
            )
        used.append(volume.label)
        writer = where.drive.open_append()
        context.log(f"writing tape file {writer.file_number} on volume {volume.label}")
        return volume.label, writer

    def on_piece(piece: stream.Piece, full: bool) -> None:
        now = context.now()
        with db.write():
            media_rows.add_piece(
                db,
                PieceRecord(
                    context.execution_id,
                    len(result["pieces"]),
                    piece.volume,
                    piece.file_number,
                    piece.bytes,
                    piece.sha256,
                ),
            )
            media_rows.record_write(db, piece.volume, piece.bytes, 1, now, pool.retention_days)
            if full:
                media_rows.update_volume(db, piece.volume, {"state": "full", "updated_at": now})
        result["pieces"].append(stream.piece_dict(piece))
        if piece.volume not in result["volumes"]:
            result["volumes"].append(piece.volume)
        if full:
            context.log(
                f"volume {piece.volume} is full after {piece.bytes} bytes of this archive; "
                f"going on with the next volume of pool {pool.name}"
            )

    env = tapes.tar_env()
    tapes.require(argv[0], env)
    try:
        with context.stream(argv, env=env, stdout=subprocess.PIPE) as child:
            assert child.stdout is not None
            stream.write_stream(
                child.stdout.fileno(), record_size, open_next, on_piece, context.check
            )
        outcome(context, child.returncode, result)
    except BaseException as error:
        # The pieces of a backup that failed name nothing to restore (the volumes keep their
        # counters: the bytes are on them).
        with contextlib.suppress(Exception), db.write():
            media_rows.delete_pieces(db, [context.execution_id])
        if isinstance(error, TapeError) and getattr(error, "result", None) is None:
            error.result = result
        raise
    finally:
        _release(context, mount)
    result["archive_bytes"] = sum(piece["bytes"] for piece in result["pieces"])
    result["tape_file_number"] = result["pieces"][0]["file_number"] if result["pieces"] else None


def _release(context: JobContext, mount: Mounter) -> None:
    try:
        mount.release()
    except TapeError as error:
        context.log(f"could not put the volume back: {error.message}")


# --------------------------------------------------------------------------- reading


def pieces_of(context: JobContext, plan: list[Backup]) -> list[list[stream.Piece]]:
    """The pieces of each backup of a plan, in order; ActionFailed if one has none (its
    volumes were recycled)."""
    with context.db.read():
        found = media_rows.pieces_of(context.db, [item.execution_id for item in plan])
    pieces = []
    for item in plan:
        rows = found.get(item.execution_id, [])
        if not rows:
            raise ActionFailed(
                f"backup {item.execution_id}: the catalog has no piece of it (its volumes were "
                "recycled?)"
            )
        pieces.append(
            [stream.Piece(row.volume, row.file_number, row.bytes, row.sha256) for row in rows]
        )
    return pieces


def volumes_in_order(pieces: list[list[stream.Piece]]) -> list[str]:
    labels: list[str] = []
    for archive in pieces:
        for piece in archive:
            if not labels or labels[-1] != piece.volume:
                labels.append(piece.volume)
    return labels


def place_of(item: Backup) -> dict[str, Any]:
    """Where a backup's volumes are read: the library or drive it was written through."""
    return {"library": item.result.get("library"), "device": item.result.get("device")}


@contextlib.contextmanager
def holding(context: JobContext, plan: list[Backup]) -> Iterator[None]:
    """Hold the lock of every library or drive the plan's archives were written through
    (one, unless the chain's tasks write the pool through different places)."""
    wait = float(getattr(context.task, "device_wait", 60) or 0)
    with contextlib.ExitStack() as stack:
        for name in sorted({lock_name(place_of(item)) for item in plan}):
            stack.enter_context(tapes.hold_device(context, name, wait))
        yield


class Mounts:
    """The mounters of a job reading a plan: one for each place its archives are in."""

    def __init__(self, context: JobContext) -> None:
        self.context = context
        self.by_place: dict[str, Mounter] = {}

    def __call__(self, item: Backup) -> Mounter:
        place = place_of(item)
        key = lock_name(place)
        if key not in self.by_place:
            where = where_for(self.context.db, place, tool_runner(self.context))
            self.by_place[key] = mounter(self.context, where)
        return self.by_place[key]

    def release(self) -> None:
        for mount in self.by_place.values():
            _release(self.context, mount)


def read_pieces(
    context: JobContext,
    mount: Mounter,
    pieces: list[stream.Piece],
    sink: stream.Sink,
    on_checked: Callable[[stream.Piece], None] | None = None,
) -> None:
    """Read an archive's pieces into `sink`, mounting each volume as its turn comes."""

    def open_piece(piece: stream.Piece) -> Any:
        if mount.mounted != piece.volume:
            mount.mount(piece.volume)
        return mount.where.drive.open_read(piece.file_number)

    stream.read_stream(pieces, open_piece, sink, context.check, on_checked)


def extract_archive(
    context: JobContext,
    mount: Mounter,
    item: Backup,
    pieces: list[stream.Piece],
    folder: Path,
    options: list[str],
) -> tuple[int, Any]:
    """Extract one archive of the chain into `folder` (its links held aside while tar runs),
    checking each piece; return tar's exit code and its listing."""
    index_file = (
        context.paths.snapshots / f".restore.{context.execution_id}.{item.execution_id}.index"
    )
    context.paths.snapshots.mkdir(mode=0o700, parents=True, exist_ok=True)
    tapes.private_file(index_file)
    argv = tapes.tar_extract_argv(
        "-",
        str(folder),
        int(item.result.get("block_size") or 20),
        bool(item.result.get("compression")),
        str(index_file),
        None,
        options,
    )
    argv.insert(2, "--read-full-records")
    env = tapes.tar_env()
    tapes.require(argv[0], env)
    shelter = guard.LinkShelter(folder)
    try:
        shelter.shelter()
        with context.stream(argv, env=env, stdin=subprocess.PIPE) as child:
            assert child.stdin is not None
            sink = stream.Sink(child.stdin.fileno())
            try:
                read_pieces(context, mount, pieces, sink)
            finally:
                with contextlib.suppress(OSError):
                    child.stdin.close()
        text = index_file.read_text(errors="surrogateescape")
    finally:
        problems = shelter.restore()
        with contextlib.suppress(FileNotFoundError):
            index_file.unlink()
    if problems:
        raise ActionFailed(f"{len(problems)} symbolic links could not be put back: {problems[0]}")
    return child.returncode, parse_listing(text)


def restore_chain(
    context: JobContext,
    plan: list[Backup],
    pieces: list[list[stream.Piece]],
    staging: Path,
    options: list[str],
    result: dict[str, Any],
) -> list[Any]:
    """Extract every archive of the plan, in order, into the (new, empty) staging folder;
    return each archive's listing. Raise ActionFailed (the staging folder is the caller's to
    remove) at the first tar failure or piece that does not match."""
    mounts = Mounts(context)
    listings = []
    try:
        for item, archive in zip(plan, pieces, strict=True):
            mount = mounts(item)
            context.log(
                f"extracting backup {item.execution_id} (level {item.result.get('level')}) "
                f"from {', '.join(volumes_in_order([archive]))}"
            )
            try:
                code, listing = extract_archive(context, mount, item, archive, staging, options)
            except stream.Mismatch as mismatch:
                raise ActionFailed(f"{mismatch.message}; nothing was restored", result) from None
            if code != 0:
                raise ActionFailed(
                    f"tar failed extracting backup {item.execution_id} (exit {code}); "
                    "nothing was restored",
                    result,
                )
            result["files_extracted"] += listing.files
            result["members_extracted"] += listing.members
            listings.append(listing)
    finally:
        mounts.release()
    return listings


def move_into(staging: Path, target: Path, members: list[str] | None) -> None:
    """Move what was restored from the staging folder into the target: every top-level
    entry, or only `members` (archive member names such as data/x). An entry already in
    the target (overwrite) is replaced, and a folder merged, never through a link."""
    if members is None:
        for entry in sorted(os.listdir(staging)):
            _merge(staging / entry, target / entry)
        return
    for member in members:
        source = staging / member
        if not source.is_symlink() and not source.exists():
            raise ActionFailed(f"paths: /{member} is not in the backup up to this point")
        destination = target / member
        parent = destination.parent
        made = _make_parents(staging, target, Path(member).parent)
        if parent.is_symlink():
            raise ActionFailed(f"{parent} is a symbolic link; not restoring through it")
        _merge(source, destination)
        for archived, folder in reversed(made):  # after the move, which changed their times
            if archived.is_dir() and not archived.is_symlink():
                shutil.copystat(archived, folder, follow_symlinks=False)


def _make_parents(staging: Path, target: Path, relative: Path) -> list[tuple[Path, Path]]:
    """Make the folders above a restored path that the target lacks; return each with its
    archived self in the staging folder (whose mode and times it is to get)."""
    current, archived = target, staging
    made = []
    for part in relative.parts:
        current, archived = current / part, archived / part
        if current.is_symlink() or (current.exists() and not current.is_dir()):
            raise ActionFailed(f"{current} is in the way (not a folder); not restoring through it")
        if not current.exists():
            current.mkdir(mode=0o700)
            made.append((archived, current))
    return made


def _merge(source: Path, destination: Path) -> None:
    if (
        source.is_dir()
        and not source.is_symlink()
        and destination.is_dir()
        and not destination.is_symlink()
    ):
        for entry in sorted(os.listdir(source)):
            _merge(source / entry, destination / entry)
        shutil.copystat(source, destination, follow_symlinks=False)
        return
    if destination.is_symlink() or (destination.exists() and not destination.is_dir()):
        destination.unlink()
    elif destination.exists():
        shutil.rmtree(destination)
    os.rename(source, destination)


def remove_staging(staging: Path) -> None:
    """Remove a staging folder (never following a link out of it)."""
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(staging)


def check_pieces(
    context: JobContext,
    mount: Mounter,
    pieces: list[stream.Piece],
    done: Callable[[stream.Piece], None],
) -> None:
    """Read pieces back and check each one's SHA-256 (nothing is written anywhere)."""
    read_pieces(context, mount, pieces, stream.Sink(None), done)
