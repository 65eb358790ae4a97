"""Moving an archive between tar and the volumes, with a SHA-256 per piece, in one pass.

A backup's archive is one stream (tar writes it to a pipe, `--file=-`). The
stream is written to the medium in records; when a record no longer fits on
the volume (end of medium), the piece written so far is closed, the next
volume is mounted, and the stream goes on there as a new piece. Each piece's
SHA-256 and size are computed from the bytes as they go to the medium: nothing
is read back afterwards.

A restore reads the pieces in order into tar's standard input, computing each
piece's SHA-256 as it reads and comparing it at the piece's end. The caller
extracts into a staging folder, so a mismatch leaves nothing half-restored.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import select
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

from tapesched.errors import TapeError
from tapesched.media.drive import EndOfMedium, PieceWriter

CHUNK = 1 << 20
# A drive returns one record per read(), and refuses a buffer smaller than the record: read
# with room for the largest a backup may write (block_size 4096 x 512 bytes).
READ_SIZE = 4096 * 512
_PIPE_SIZE = 1 << 20
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
_POLL = 0.5  # seconds between checks (deadline, cancellation) while a pipe is idle


@dataclass(frozen=True)
class Piece:
    """One part of an archive: where it is, how long it is, its SHA-256."""

    volume: str
    file_number: int
    bytes: int
    sha256: str


class Mismatch(TapeError):
    """A piece read back is not what was written (its checksum or its length differ)."""


def widen(fd: int) -> None:
    """Ask for a larger pipe buffer (fewer wake-ups); a refusal changes nothing."""
    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, _F_SETPIPE_SZ, _PIPE_SIZE)


# A volume to write on: its label and a writer at its end of data. Called with None for the
# first piece, then with the piece that filled the previous volume.
OpenNext = Callable[["Piece | None"], tuple[str, PieceWriter]]


class _Current:
    def __init__(self, volume: str, writer: PieceWriter) -> None:
        self.volume = volume
        self.writer = writer
        self.digest = hashlib.sha256()
        self.written = 0

    def piece(self) -> Piece:
        return Piece(self.volume, self.writer.file_number, self.written, self.digest.hexdigest())


def write_stream(
    fd: int,
    record_size: int,
    open_next: OpenNext,
    on_piece: Callable[[Piece, bool], None],
    check: Callable[[], None],
) -> list[Piece]:
    """Given the read end of tar's output, write it to volume after volume; return the
    pieces in order.

    `open_next` mounts a volume and gives its label and a writer; `on_piece(piece, full)`
    is told of each piece once it is on the medium (full: the volume is full and the next
    one follows). `check` runs between reads (raises to stop). The stream is written in
    whole records of `record_size` bytes (tar pads its last record; a compressed stream
    may end in a shorter one); a record that does not fit ends the volume and starts the
    next one. tar's output is read into one buffer of whole records, hashed and written
    from there: no copy of the data is made."""
    widen(fd)
    size = max(record_size, CHUNK - CHUNK % record_size)
    buffer = bytearray(size)
    view = memoryview(buffer)
    pieces: list[Piece] = []
    current = _Current(*open_next(None))
    try:
        while True:
            filled = _fill(fd, view, check)
            if filled:
                current = _put(view[:filled], record_size, current, pieces, open_next, on_piece)
            if filled < size:  # the end of tar's output
                break
        current.writer.close()
    except BaseException:
        with contextlib.suppress(Exception):
            current.writer.abort()
        raise
    piece = current.piece()
    if piece.bytes or not pieces:
        pieces.append(piece)
        on_piece(piece, False)
    return pieces


def _fill(fd: int, view: memoryview, check: Callable[[], None]) -> int:
    """Read from the pipe into `view` until it is full or the writer closed its end;
    return how many bytes it holds."""
    filled = 0
    while filled < len(view):
        check()
        ready, _, _ = select.select([fd], [], [], _POLL)
        if not ready:
            continue
        count = os.readv(fd, [view[filled:]])
        if count == 0:
            break
        filled += count
    return filled


def _put(
    data: memoryview,
    record_size: int,
    current: _Current,
    pieces: list[Piece],
    open_next: OpenNext,
    on_piece: Callable[[Piece, bool], None],
) -> _Current:
    """Write whole records; at the end of a volume, go on with the next one. A writer that
    takes one record per write (a drive: each write is one block on the tape) is given
    them one by one; the others, as many as there are."""
    if not getattr(current.writer, "record_writes", False):
        try:
            current.writer.write(data)
            current.digest.update(data)
            current.written += len(data)
            return current
        except EndOfMedium:
            pass
    for start in range(0, len(data), record_size):
        record = data[start : start + record_size]
        while True:
            try:
                current.writer.write(record)
            except EndOfMedium:
                if current.written == 0:
                    raise TapeError(
                        f"volume {current.volume} cannot take one record of {len(record)} bytes"
                    ) from None
                current.writer.close()
                piece = current.piece()
                pieces.append(piece)
                on_piece(piece, True)
                current = _Current(*open_next(piece))
                continue
            current.digest.update(record)
            current.written += len(record)
            break
    return current


class Sink:
    """tar's standard input: bytes go there until tar stops reading (it has read its
    end-of-archive blocks, or failed); after that they are only counted and checked."""

    def __init__(self, fd: int | None) -> None:
        self.fd = fd
        self.closed = fd is None
        if fd is not None:
            widen(fd)

    def write(self, data: bytes, check: Callable[[], None]) -> None:
        if self.closed or self.fd is None:
            return
        view = memoryview(data)
        while view:
            check()
            _, ready, _ = select.select([], [self.fd], [], _POLL)
            if not ready:
                continue
            try:
                sent = os.write(self.fd, view)
            except OSError as error:
                if error.errno in (errno.EPIPE, errno.EBADF):
                    self.closed = True
                    return
                raise
            view = view[sent:]


def read_stream(
    pieces: list[Piece],
    open_piece: Callable[[Piece], BinaryIO],
    sink: Sink,
    check: Callable[[], None],
    on_checked: Callable[[Piece], None] | None = None,
) -> None:
    """Read the pieces in order into `sink`, checking each one's SHA-256 and length at its
    end; raise Mismatch naming the piece at the first difference."""
    for index, piece in enumerate(pieces):
        reader = open_piece(piece)
        digest = hashlib.sha256()
        count = 0
        try:
            while True:
                chunk = reader.read(READ_SIZE)
                if not chunk:
                    break
                digest.update(chunk)
                count += len(chunk)
                sink.write(chunk, check)
                check()
        finally:
            with contextlib.suppress(Exception):
                reader.close()
        found = digest.hexdigest()
        if found != piece.sha256 or count != piece.bytes:
            raise Mismatch(
                f"piece {index + 1} of {len(pieces)} (volume {piece.volume}, tape file "
                f"{piece.file_number}): checksum mismatch (recorded {piece.sha256} for "
                f"{piece.bytes} bytes, read {found} for {count} bytes)"
            )
        if on_checked is not None:
            on_checked(piece)


def piece_dict(piece: Piece) -> dict[str, Any]:
    return {
        "volume": piece.volume,
        "file_number": piece.file_number,
        "bytes": piece.bytes,
        "sha256": piece.sha256,
    }
