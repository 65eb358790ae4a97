"""Tape devices: a drive driven by `mt` and GNU tar, or a directory used as a virtual tape.

The command lines are built as data by pure functions (tested as tables); the
actions run them through JobContext.run. Everything about the on-disk layout
of a virtual tape lives here too.

Virtual tape layout (a directory, mode 0700, created at first use):

    000001.tar            one complete archive per "tape file"; the number is its
    000001.tar.sha256     tape file number; the sidecar holds its SHA-256 in the
    000002.tar.gz         `sha256sum -c` format
    000002.tar.gz.sha256
    .000003.tar.partial   an archive being written: never looks complete
    tapesched-vtape.json  {"format": 1, "last_file_number": N}: numbers never repeat,
                          even after cleanup removed the newest archives

An archive is written under its partial name, flushed to disk, its checksum
written beside it, and only then renamed to its final name.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tapesched.errors import ActionFailed, TapeError

MT = "mt"
TAR = "tar"
DEFAULT_BLOCKS = {"tape": 128, "directory": 20}  # 64 KiB records on a drive; tar's default else
LABEL = "tapesched-vtape.json"
ARCHIVE_RE = re.compile(r"^(\d{6,})\.tar(\.gz)?$")
_NUMBERED_RE = re.compile(r"^\.?(\d{6,})\.tar(?:\.gz)?(?:\.sha256|\.partial)?$")
# The kernel's rewinding tape nodes (st0, st0l, st0m, st0a): each close rewinds the tape,
# so `mt eod` followed by tar would write over the start of the tape.
_REWINDING_RE = re.compile(r"^st\d+[lma]?$")


# --------------------------------------------------------------------------- mt


def mt_argv(device: str, operation: str, *arguments: str) -> list[str]:
    """Given a device and an mt operation, return the mt argument list."""
    return [MT, "-f", device, operation, *arguments]


def eod_argv(device: str) -> list[str]:
    """Position the drive at the end of recorded data (where the next file goes)."""
    return mt_argv(device, "eod")


def status_argv(device: str) -> list[str]:
    return mt_argv(device, "status")


def asf_argv(device: str, file_number: int) -> list[str]:
    """Position the drive at the start of tape file `file_number` (rewind, then skip)."""
    if file_number < 0:
        raise ValueError(f"tape file number {file_number} is negative")
    return mt_argv(device, "asf", str(file_number))


def parse_file_number(status_text: str) -> int | None:
    """Given the output of `mt status`, return the current file number, or None if the
    drive does not know it (-1) or the output has none."""
    match = re.search(r"File number\s*=\s*(-?\d+)", status_text)
    if match is None:
        return None
    number = int(match.group(1))
    return number if number >= 0 else None


def mt_failure(operation: str, device: str, code: int) -> str:
    """Given an mt operation, its device and exit code, return the operator's message.

    mt-st exits 1 for a bad operation or device and 2 when the operation failed."""
    if code == 1:
        return (
            f"mt {operation} on {device}: bad operation or device (mt exit 1); "
            "is it a tape drive and is mt the mt-st version?"
        )
    if code == 2:
        return (
            f"mt {operation} on {device}: the operation failed (mt exit 2); "
            "is a tape loaded, writable and not in use?"
        )
    if code < 0:
        return f"mt {operation} on {device}: killed by signal {-code}"
    return f"mt {operation} on {device}: exited with {code}"


def is_rewinding(device: str) -> bool:
    """Given a tape device path, say whether it is a rewinding node (/dev/st0)."""
    return bool(_REWINDING_RE.match(os.path.basename(device)))


# --------------------------------------------------------------------------- tools

# The Debian/Ubuntu package that installs each program tapesched runs.
PACKAGES = {MT: "mt-st", TAR: "tar", "mtx": "mtx"}


def missing_tool(program: str) -> str:
    """Given a program that cannot be found, return the operator's message (with the
    package that installs it)."""
    package = PACKAGES.get(os.path.basename(program))
    hint = f" (install the {package} package)" if package else ""
    return f"command not found: {program}{hint}"


def require(program: str, env: dict[str, str] | None = None) -> str:
    """Given a program name, return its path on the PATH tar and mt run with; raise
    TapeError naming the package that installs it if it is not there."""
    path = (env or tar_env()).get("PATH", os.defpath)
    found = shutil.which(program, path=path)
    if found is None:
        raise TapeError(missing_tool(program))
    return found


def run_tool(context: Any, argv: list[str], *, capture: bool = False) -> tuple[int, str]:
    """Run tar or mt through the job (JobContext.run) in the C locale; return (exit
    code, captured output). A missing program fails with the package to install."""
    env = tar_env()
    require(argv[0], env)
    try:
        return context.run(argv, env=env, capture=capture)
    except ActionFailed as error:
        if error.message == f"command not found: {argv[0]}":  # gone since the check
            raise TapeError(missing_tool(argv[0]), error.result) from None
        raise


def tar_env() -> dict[str, str]:
    """The environment for tar and mt: the C locale, so their output parses the same
    everywhere (mt's "File number=", tar's escapes)."""
    return {**os.environ, "LC_ALL": "C", "LANG": "C"}


# --------------------------------------------------------------------------- tar


@dataclass(frozen=True)
class TarFeatures:
    """What this GNU tar can keep, from its --help: the POSIX (pax) format (nanosecond
    times, any name length, and the only format that carries xattrs, ACLs and SELinux
    labels), sparse files, extended attributes, POSIX ACLs, SELinux labels."""

    posix: bool = False
    sparse: bool = False
    xattrs: bool = False
    acls: bool = False
    selinux: bool = False

    @classmethod
    def from_help(cls, text: str) -> TarFeatures:
        def offers(option: str) -> bool:
            return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text) is not None

        posix = offers("--posix") or re.search(r"^\s+posix\b", text, re.MULTILINE) is not None
        return cls(
            posix=posix,
            sparse=offers("--sparse"),
            xattrs=posix and offers("--xattrs"),
            acls=posix and offers("--acls"),
            selinux=posix and offers("--selinux"),
        )

    @property
    def format(self) -> str:
        return "posix" if self.posix else "gnu"

    def kept(self) -> list[str]:
        """What a backup keeps beyond names, data, modes, owners and whole-second times."""
        names = ("sparse", "xattrs", "acls", "selinux", "nanosecond_times")
        have = (self.sparse, self.xattrs, self.acls, self.selinux, self.posix)
        return [name for name, ok in zip(names, have, strict=True) if ok]

    def not_kept(self) -> list[str]:
        every = ["sparse", "xattrs", "acls", "selinux", "nanosecond_times"]
        return [name for name in every if name not in self.kept()]

    def create_options(self) -> list[str]:
        options = [f"--format={self.format}"]
        options += ["--sparse"] if self.sparse else []
        return options + self._metadata_options()

    def extract_options(self, root: bool) -> list[str]:
        """Modes as archived whatever the umask; xattrs of every namespace for root (only
        root may set trusted.* and security.*; others get tar's default, user.*)."""
        options = ["--preserve-permissions", *self._metadata_options()]
        if self.xattrs and root:
            options.insert(2, "--xattrs-include=*")
        return options

    def _metadata_options(self) -> list[str]:
        chosen = (("--xattrs", self.xattrs), ("--acls", self.acls), ("--selinux", self.selinux))
        return [option for option, ok in chosen if ok]


_FEATURES: dict[str, TarFeatures] = {}


def tar_features(context: Any) -> TarFeatures:
    """Ask this host's tar (once per process and tar binary) what it can keep."""
    path = require(TAR)
    if path not in _FEATURES:
        code, text = run_tool(context, [TAR, "--help"], capture=True)
        _FEATURES[path] = TarFeatures.from_help(text if code == 0 else "")
    return _FEATURES[path]


def tar_create_argv(
    archive: str,
    members: list[str],
    snapshot: str,
    block_size: int,
    compress: bool,
    exclude: list[str],
    index_file: str,
    features: TarFeatures | None = None,
) -> list[str]:
    """Given what to archive, return the GNU tar argument list that writes it.

    Members are relative to / (so /data/x is stored as data/x and restores to
    TARGET/data/x); the snapshot drives --listed-incremental; the verbose
    listing (-vv) goes to index_file, from which the files and bytes are counted.
    The format and what is kept come from `features` (none: the GNU format).
    """
    argv = [
        TAR,
        "--create",
        f"--file={archive}",
        f"--blocking-factor={block_size}",
        *(features or TarFeatures()).create_options(),
        f"--listed-incremental={snapshot}",
        "-vv",
        f"--index-file={index_file}",
        "--quoting-style=escape",
        "--directory=/",
    ]
    if compress:
        argv.append("--gzip")
    argv.extend(f"--exclude={pattern}" for pattern in exclude)
    return [*argv, "--", *members]


def tar_list_argv(archive: str, block_size: int, compress: bool, index_file: str) -> list[str]:
    """Given an archive, return the tar argument list that lists it into index_file.

    C quoting: names and link targets in double quotes, so they parse whatever they
    hold (listing.parse_entries); -P shows names and link targets as stored (a
    leading '/' or '..' is not stripped), for the checks recovery makes.
    Without --listed-incremental: with it tar would also print the directory
    records of an incremental archive, whose names are not quoted."""
    argv = [
        TAR,
        "--list",
        f"--file={archive}",
        f"--blocking-factor={block_size}",
        "--numeric-owner",
        "--absolute-names",
        "-vv",
        f"--index-file={index_file}",
        "--quoting-style=c",
    ]
    if compress:
        argv.append("--gzip")
    return argv


def tar_extract_argv(
    archive: str,
    target: str,
    block_size: int,
    compress: bool,
    index_file: str,
    members: list[str] | None = None,
    options: list[str] | None = None,
) -> list[str]:
    """Given an archive and a target folder, return the tar argument list that extracts it.

    --listed-incremental=/dev/null replays the deletions and renames an
    incremental archive records. GNU tar refuses member names with '..' and
    strips a leading '/'; links left by earlier archives are never followed
    because recovery holds them aside while tar runs (extract_guard).
    `options`: what to restore (TarFeatures.extract_options). The archive's
    format (GNU or POSIX) is recognised by tar itself.
    """
    argv = [
        TAR,
        "--extract",
        f"--file={archive}",
        f"--blocking-factor={block_size}",
        "--listed-incremental=/dev/null",
        f"--directory={target}",
        *(options or []),
        "-vv",
        f"--index-file={index_file}",
        "--quoting-style=escape",
    ]
    if compress:
        argv.append("--gzip")
    if members:
        argv.extend(["--", *members])
    return argv


def private_file(path: Path, copy_of: Path | None = None) -> None:
    """Create `path` afresh with mode 0600 (whatever the umask), empty or holding a copy of
    `copy_of`: snapshots and index files tar then writes into keep that mode."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with open(fd, "wb") as handle:
        if copy_of is not None:
            with open(copy_of, "rb") as source:
                shutil.copyfileobj(source, handle)


# --------------------------------------------------------------------------- virtual tape


def archive_name(file_number: int, compress: bool) -> str:
    return f"{file_number:06d}.tar" + (".gz" if compress else "")


def partial_name(file_number: int, compress: bool) -> str:
    return f".{archive_name(file_number, compress)}.partial"


def archives(directory: Path) -> list[tuple[int, Path]]:
    """The complete archives on a virtual tape, by file number."""
    found = []
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(directory):
            match = ARCHIVE_RE.match(entry.name)
            if match and entry.is_file(follow_symlinks=False):
                found.append((int(match.group(1)), Path(entry.path)))
    return sorted(found)


def next_file_number(directory: Path) -> int:
    """The number of the next archive on a virtual tape: one more than any number
    used so far (archives, checksums, partial files and the label's record)."""
    highest = 0
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(directory):
            match = _NUMBERED_RE.match(entry.name)
            if match:
                highest = max(highest, int(match.group(1)))
    return max(highest, read_label(directory).get("last_file_number", 0)) + 1


def read_label(directory: Path) -> dict[str, Any]:
    try:
        data = json.loads((directory / LABEL).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    number = data.get("last_file_number")
    if not isinstance(number, int) or isinstance(number, bool) or number < 0:
        data.pop("last_file_number", None)
    return data


def write_label(directory: Path, last_file_number: int) -> None:
    label = read_label(directory)
    highest = max(label.get("last_file_number", 0), last_file_number)
    data = {**label, "format": 1, "last_file_number": highest}
    write_atomically(directory / LABEL, json.dumps(data) + "\n")


def prepare_directory(directory: Path) -> None:
    """Create a virtual tape at first use (mode 0700); raise TapeError if unusable."""
    if directory.exists() and not directory.is_dir():
        raise TapeError(f"device {directory} exists and is not a directory")
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as error:
        raise TapeError(f"device {directory}: cannot create it ({error.strerror})") from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise TapeError(f"device {directory}: the directory is not writable")


def write_atomically(path: Path, text: str) -> None:
    """Write a small file under a temporary name, flush it, rename it into place."""
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def fsync_path(path: Path) -> None:
    """Flush a file or a directory to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_file(path: Path, check: Callable[[], None] | None = None) -> str:
    """Given a file, return its SHA-256 in hex; `check` runs between chunks (cancellation)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for count, chunk in enumerate(iter(lambda: handle.read(1 << 20), b"")):
            digest.update(chunk)
            if check is not None and count % 64 == 0:
                check()
    return digest.hexdigest()


def sidecar_path(archive: Path) -> Path:
    return archive.with_name(f"{archive.name}.sha256")


def sidecar_text(archive: Path, digest: str) -> str:
    """The checksum file's content, in `sha256sum -c` form."""
    return f"{digest}  {archive.name}\n"


# --------------------------------------------------------------------------- device lock


@contextlib.contextmanager
def hold_device(context: Any, device: str, wait: float) -> Iterator[None]:
    """Hold the device lock (the one the runner takes for backups) for a job that
    reads a drive outside a backup; raise TapeError("device busy") after `wait`."""
    from tapesched import process

    if getattr(context.task, "device", None) == device:
        yield  # the runner took this lock already (a second flock here would wait on itself)
        return
    lock = process.FileLock(context.paths.device_lock(device))
    deadline = time.monotonic() + max(0.0, wait)
    logged = False
    while not lock.acquire():
        context.check()
        if time.monotonic() >= deadline:
            raise TapeError(f"device busy: {device} still in use after {wait:g}s")
        if not logged:
            context.log(f"waiting for the device {device}")
            logged = True
        time.sleep(0.2)
    try:
        yield
    finally:
        lock.release()
