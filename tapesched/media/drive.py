"""Drives: one interface over a real tape drive and a virtual one (a folder).

A real drive is positioned with `mt` (run through a Runner: argv -> (exit code, captured
output)) and read and written through its device node, one record per read() or write().
A virtual drive is a folder whose `cartridge/` subfolder is the loaded cartridge:

    cartridge/cartridge.json  {"format": 1, "barcode": str, "capacity": bytes}
    cartridge/000000.tape     the label record (tape file 0)
    cartridge/000001.tape     tape file 1 (one piece of a backup), ...

Used capacity is the sum of the sizes of the *.tape files; a record that does not fit in
what is left is not written at all (EndOfMedium), as on a drive that reports ENOSPC.
Every failure is a TapeError with one line naming the drive; never a bare OSError.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, Protocol, cast

from tapesched.actions import tape
from tapesched.errors import TapeError
from tapesched.media.labels import RECORD, Label, check_label

Runner = Callable[[list[str]], tuple[int, str]]
CARTRIDGE = "cartridge"
CARTRIDGE_FILE = "cartridge.json"
TAPE_FILE_RE = re.compile(r"^(\d{6,9})\.tape\Z")
READ_BUFFER = 256 * 1024  # the largest label record a drive may hand back in one read


class EndOfMedium(Exception):
    """The record did not fit on the volume; nothing of it was written."""


class NoCartridge(TapeError):
    """The drive holds no cartridge."""


class PieceWriter(Protocol):
    file_number: int

    def write(self, record: bytes) -> None: ...  # the whole record, or EndOfMedium
    def close(self) -> None: ...  # flush and fsync (virtual) / close, writing a filemark
    def abort(self) -> None: ...  # a failed piece: a virtual drive removes its file


class Drive(Protocol):
    name: str

    def loaded(self) -> bool: ...
    def read_label(self) -> Label | None: ...
    def write_label(self, label: Label) -> None: ...
    def open_append(self) -> PieceWriter: ...
    def open_read(self, file_number: int) -> BinaryIO: ...
    def eject(self) -> None: ...
    def capacity(self) -> tuple[int | None, int | None]: ...


def tape_file_name(file_number: int) -> str:
    return f"{file_number:06d}.tape"


@contextlib.contextmanager
def _os_errors(where: object, doing: str) -> Iterator[None]:
    """Turn an OSError into a TapeError: 'WHERE: cannot DOING (reason)'."""
    try:
        yield
    except OSError as error:
        raise TapeError(f"{where}: cannot {doing} ({error.strerror or error})") from None


class _Reader:
    """A tape file open for reading: read(n) returns at most n bytes (on a drive one
    record: n must be at least the record size), b'' at its end; OSError -> TapeError."""

    def __init__(self, fd: int, where: str) -> None:
        self._fd: int | None = fd
        self._where = where

    def read(self, size: int = -1) -> bytes:
        with _os_errors(self._where, "read"):
            if size is not None and size >= 0:
                return os.read(self._open_fd(), size)
            return b"".join(iter(lambda: os.read(self._open_fd(), READ_BUFFER), b""))

    def readinto(self, buffer: bytearray | memoryview) -> int:
        with _os_errors(self._where, "read"):
            return os.readv(self._open_fd(), [buffer])

    def _open_fd(self) -> int:
        if self._fd is None:
            raise TapeError(f"{self._where}: read after close")
        return self._fd

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> _Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Writer:
    """One tape file being written: on a drive (each write() is one record; ENOSPC is the
    end of medium) or on a virtual cartridge (`room` bytes left; its file at `path` is
    flushed to disk by close and removed by abort)."""

    def __init__(
        self,
        fd: int,
        where: str,
        file_number: int,
        room: int | None = None,
        path: Path | None = None,
    ) -> None:
        self.file_number = file_number
        self.written = 0
        self.path = path
        # On a drive each write() is one block on the tape: the stream is given one record
        # at a time (tapesched.media.stream), so that tar and a restore read the same blocks.
        self.record_writes = path is None
        self._fd: int | None = fd
        self._where = where
        self._room = room

    def write(self, record: bytes) -> None:
        if self._fd is None:
            raise TapeError(f"{self._where}: write after close")
        if self._room is not None and self.written + len(record) > self._room:
            left = self._room - self.written
            raise EndOfMedium(f"{self._where}: end of medium ({left} bytes left)")
        try:
            count = os.write(self._fd, record)
            while self.path is not None and count < len(record):  # a file: finish it
                count += os.write(self._fd, memoryview(record)[count:])
        except OSError as error:
            if error.errno == errno.ENOSPC and self.path is None:
                raise EndOfMedium(f"{self._where}: end of medium") from None
            raise TapeError(f"{self._where}: cannot write ({error.strerror})") from None
        if count != len(record):
            raise TapeError(f"{self._where}: short write ({count} of {len(record)} bytes)")
        self.written += count

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with _os_errors(self._where, "close it"):
            try:
                if self.path is not None:
                    os.fsync(fd)
            finally:
                os.close(fd)  # on a drive, the driver writes the filemark
            if self.path is not None:
                tape.fsync_path(self.path.parent)

    def abort(self) -> None:
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            if fd is not None:
                os.close(fd)
            if self.path is not None:
                self.path.unlink()
                tape.fsync_path(self.path.parent)


# --------------------------------------------------------------------------- virtual


def create_cartridge(folder: Path, barcode: str, capacity: int) -> None:
    """Create a virtual cartridge folder (mode 0700) holding its cartridge.json; an
    existing one with the same barcode and capacity is kept. Raise TapeError if the folder
    holds anything else."""
    check_label(barcode, "barcode")
    if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity <= RECORD:
        raise TapeError(f"cartridge {barcode}: capacity {capacity!r} does not hold a label")
    wanted = {"format": 1, "barcode": barcode, "capacity": capacity}
    with _os_errors(folder, "create the cartridge"):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if (folder / CARTRIDGE_FILE).exists():
            if _read_json(folder / CARTRIDGE_FILE) == wanted:
                return
            raise TapeError(f"{folder}: holds another cartridge (not {barcode})")
        if any(folder.iterdir()):
            raise TapeError(f"{folder}: not empty and not a virtual cartridge")
        write_bytes_atomically(folder / CARTRIDGE_FILE, (json.dumps(wanted) + "\n").encode())


def cartridge_info(folder: Path) -> tuple[str, int]:
    """Given a virtual cartridge folder, return its (barcode, capacity); raise TapeError
    if its cartridge.json is missing or invalid."""
    data = _read_json(folder / CARTRIDGE_FILE)
    fields = (data.get("barcode"), data.get("capacity")) if isinstance(data, dict) else ()
    match fields:
        case (str(barcode), int(capacity)) if not isinstance(capacity, bool) and capacity > 0:
            return barcode, capacity
    raise TapeError(f"{folder}: not a virtual cartridge ({CARTRIDGE_FILE} missing or invalid)")


def _read_json(path: Path) -> object:
    try:
        with open(path, "rb") as handle:
            return json.loads(handle.read(65536))
    except (OSError, ValueError, RecursionError):
        return None


def write_bytes_atomically(path: Path, data: bytes) -> None:
    """Write a small file under a temporary name (mode 0600), fsync it, rename it into
    place and fsync its folder. OSError is the caller's to convert."""
    temporary = path.with_name(f".{path.name}.tmp")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    with open(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(fd)
    os.replace(temporary, path)
    tape.fsync_path(path.parent)


def tape_files(cartridge: Path) -> dict[int, Path]:
    """The tape files of a virtual cartridge, by number."""
    found: dict[int, Path] = {}
    for entry in os.scandir(cartridge):
        match = TAPE_FILE_RE.match(entry.name)
        if match and entry.is_file(follow_symlinks=False):
            found[int(match.group(1))] = Path(entry.path)
    return found


class VirtualDrive:
    """A folder used as a drive: its cartridge/ subfolder is the loaded cartridge."""

    def __init__(self, folder: Path, name: str | None = None) -> None:
        self.folder = Path(folder)
        self.name = name or str(folder)
        self.cartridge = self.folder / CARTRIDGE

    def loaded(self) -> bool:
        return self.cartridge.is_dir()

    def _loaded(self) -> tuple[str, int, dict[int, Path]]:
        """The loaded cartridge's barcode, capacity and tape files; NoCartridge if none."""
        if not self.loaded():
            raise NoCartridge(f"{self.name}: no cartridge loaded")
        barcode, capacity = cartridge_info(self.cartridge)
        with _os_errors(f"{self.name}: {self.cartridge}", "list the tape files"):
            return barcode, capacity, tape_files(self.cartridge)

    def read_label(self) -> Label | None:
        self._loaded()
        try:
            with open(self.cartridge / tape_file_name(0), "rb") as handle:
                return Label.decode(handle.read(RECORD + 1))
        except FileNotFoundError:
            return None
        except OSError as error:
            where = f"{self.name}: {self.cartridge}"
            raise TapeError(f"{where}: cannot read the label ({error.strerror})") from None

    def write_label(self, label: Label) -> None:
        """Write the label as tape file 0, erasing every other tape file."""
        record = label.encode()
        barcode, capacity, files = self._loaded()
        if len(record) > capacity:
            raise TapeError(f"{self.name}: cartridge {barcode} is too small for a label")
        with _os_errors(f"{self.name}: {self.cartridge}", "write the label"):
            for number in sorted(files, reverse=True):
                if number != 0:
                    files[number].unlink()
            write_bytes_atomically(self.cartridge / tape_file_name(0), record)

    def open_append(self) -> PieceWriter:
        """Open the next tape file (one more than the highest) of a labelled cartridge."""
        barcode, capacity, files = self._loaded()
        if 0 not in files:
            raise TapeError(f"{self.name}: cartridge {barcode} is not labelled; label it first")
        used = self._used(files)
        number = max(files) + 1
        path = self.cartridge / tape_file_name(number)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        with _os_errors(path, "create the tape file"):
            fd = os.open(path, flags, 0o600)
        return _Writer(fd, f"tape file {number} on {self.name}", number, capacity - used, path)

    def _used(self, files: dict[int, Path]) -> int:
        with _os_errors(f"{self.name}: {self.cartridge}", "measure the tape files"):
            return sum(path.stat().st_size for path in files.values())

    def open_read(self, file_number: int) -> BinaryIO:
        barcode, _, files = self._loaded()
        if file_number not in files:
            label = self.read_label()
            volume = label.label if label is not None else barcode
            raise TapeError(f"tape file {file_number} not on {volume} ({self.name})")
        with _os_errors(files[file_number], "open the tape file"):
            fd = os.open(files[file_number], os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        return cast(BinaryIO, _Reader(fd, f"tape file {file_number} on {self.name}"))

    def eject(self) -> None:
        """Nothing moves a virtual cartridge but a library's unload or the operator."""
        self._loaded()

    def capacity(self) -> tuple[int | None, int | None]:
        _, capacity, files = self._loaded()
        return self._used(files), capacity


# --------------------------------------------------------------------------- real drive


class TapeDrive:
    """A tape drive: positioned with mt, read and written through its device node."""

    def __init__(self, device: str, run: Runner) -> None:
        self.device = device
        self.name = device
        self._run = run

    def _mt(self, operation: str, *arguments: str) -> tuple[int, str]:
        return run_program(self._run, tape.mt_argv(self.device, operation, *arguments))

    def _position(self, operation: str, *arguments: str) -> None:
        """Run an mt operation; on failure say whether the drive is empty (NoCartridge)."""
        code, _ = self._mt(operation, *arguments)
        if code > 0 and not self._medium_present():
            raise NoCartridge(f"{self.name}: no cartridge loaded")
        if code != 0:
            raise TapeError(tape.mt_failure(operation, self.device, code))

    def _medium_present(self) -> bool:
        code, output = self._mt("status")
        empty = code == 0 and re.search(r"\bDR_OPEN\b", output) is not None
        return not empty and "No medium" not in output

    def _refuse_rewinding(self) -> None:
        if tape.is_rewinding(self.device):
            raise TapeError(
                f"{self.device} is a rewinding tape device: every close rewinds the tape; "
                "use the non-rewinding node (/dev/nst0)"
            )

    def _open(self, flags: int) -> int:
        try:
            return os.open(self.device, flags | os.O_CLOEXEC)
        except OSError as error:
            if error.errno == errno.ENOMEDIUM:
                raise NoCartridge(f"{self.name}: no cartridge loaded") from None
            reason = {
                errno.EROFS: "the cartridge is write-protected",
                errno.EBUSY: "the drive is in use by another program",
            }.get(error.errno or 0, f"cannot open it ({error.strerror})")
            raise TapeError(f"{self.name}: {reason}") from None

    def loaded(self) -> bool:
        code, output = self._mt("status")
        if code == 1:
            raise TapeError(tape.mt_failure("status", self.device, code))
        return code == 0 and not re.search(r"\bDR_OPEN\b", output)

    def read_label(self) -> Label | None:
        self._position("rewind")
        fd = self._open(os.O_RDONLY)
        try:
            data = os.read(fd, READ_BUFFER)
        except OSError as error:
            if error.errno in (errno.ENOMEM, errno.EINVAL, errno.EOVERFLOW):
                return None  # a first record larger than any label: not tapesched's
            raise TapeError(f"{self.name}: cannot read the label ({error.strerror})") from None
        finally:
            with contextlib.suppress(OSError):
                os.close(fd)
        return Label.decode(data)

    def write_label(self, label: Label) -> None:
        record = label.encode()
        self._position("rewind")
        writer = _Writer(self._open(os.O_WRONLY), f"the label on {self.name}", 0)
        try:
            writer.write(record)
        except BaseException as error:
            writer.abort()
            if isinstance(error, EndOfMedium):
                raise TapeError(f"{self.name}: end of medium while writing the label") from None
            raise
        writer.close()

    def open_append(self) -> PieceWriter:
        """Open a new tape file after the last one on the tape (mt eod; mt status)."""
        self._refuse_rewinding()
        self._position("eod")
        code, output = self._mt("status")
        if code != 0:
            raise TapeError(tape.mt_failure("status", self.device, code))
        number = tape.parse_file_number(output)
        if number is None:
            raise TapeError(
                f"mt status on {self.device}: no file number in its output (position unknown)"
            )
        if number == 0:
            raise TapeError(f"{self.name}: the loaded tape is not labelled; label it first")
        return _Writer(self._open(os.O_WRONLY), f"tape file {number} on {self.name}", number)

    def open_read(self, file_number: int) -> BinaryIO:
        self._refuse_rewinding()
        self._position("asf", str(int(file_number)))
        fd = self._open(os.O_RDONLY)
        return cast(BinaryIO, _Reader(fd, f"tape file {file_number} on {self.name}"))

    def eject(self) -> None:
        self._position("offline")

    def capacity(self) -> tuple[int | None, int | None]:
        return None, None


def run_program(run: Runner, argv: list[str]) -> tuple[int, str]:
    """Run mt or mtx through a Runner; a missing program fails naming its package."""
    try:
        code, output = run(argv)
    except FileNotFoundError:
        raise TapeError(tape.missing_tool(argv[0])) from None
    except OSError as error:
        raise TapeError(f"{argv[0]}: cannot run it ({error.strerror})") from None
    if code == 127:
        raise TapeError(tape.missing_tool(argv[0]))
    return code, output


def drive_for(device: str, run: Runner) -> Drive:
    """Given a pool's `device`, return its drive: a character device or a path under /dev is
    a tape drive; anything else is a folder used as a virtual drive."""
    try:
        mode: int | None = os.stat(device).st_mode
    except (OSError, ValueError):  # absent (a folder made at first use), or unusable
        mode = None
    if device.startswith("/dev/") or (mode is not None and stat.S_ISCHR(mode)):
        return TapeDrive(device, run)
    if mode is not None and not stat.S_ISDIR(mode):
        raise TapeError(f"device {device}: neither a tape drive nor a folder (a virtual drive)")
    return VirtualDrive(Path(device))
