"""Libraries (autochangers): one interface over a real one driven by `mtx` and a virtual one
(a folder), so that backup and recovery do not know which they have.

Virtual library layout (a folder DIR):

    DIR/library.json        {"format": 1, "name", "slots": N, "drives": D, "capacity": bytes}
    DIR/slots/001/ ...      a virtual cartridge per full slot (absent: the slot is empty)
    DIR/drives/0/ ...       a virtual drive per drive
    DIR/drives/0/cartridge  the loaded cartridge, renamed there from its slot
    DIR/drives/0/source     the number of the slot it came from

Slots are numbered 1..N, drives 0..D-1 (as mtx numbers its Data Transfer Elements).
Every failure is a TapeError with one line naming the library, slot or drive.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from tapesched.actions import tape
from tapesched.errors import InvalidInput, TapeError, printable
from tapesched.media.drive import (
    CARTRIDGE,
    Drive,
    Runner,
    TapeDrive,
    VirtualDrive,
    cartridge_info,
    create_cartridge,
    run_program,
    write_bytes_atomically,
)
from tapesched.media.labels import RECORD, check_label

MTX = "mtx"
LIBRARY_FILE = "library.json"
MAX_SLOTS = 999
MAX_DRIVES = 64


@dataclass(frozen=True)
class Slot:
    number: int
    full: bool
    barcode: str | None
    import_export: bool = False


@dataclass(frozen=True)
class Bay:
    """A drive of a library: whether it holds a cartridge, its barcode, where it came from."""

    index: int
    full: bool
    barcode: str | None
    source_slot: int | None


@dataclass(frozen=True)
class Inventory:
    slots: list[Slot]
    drives: list[Bay]


class Library(Protocol):
    name: str

    def inventory(self) -> Inventory: ...

    def load(self, slot: int, drive: int) -> None: ...

    def unload(self, slot: int, drive: int) -> None: ...

    def drive(self, index: int) -> Drive: ...


def _count(value: object, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(f"{what} {value!r}: expected a whole number from {low} to {high}")
    return value


def default_prefix(name: str) -> str:
    """The barcode prefix of a virtual library's cartridges: its name upper-cased, letters
    and digits only, at most 6 ('vlib' -> 'VLIB')."""
    return re.sub(r"[^A-Z0-9]", "", name.upper())[:6] or "VLIB"


# --------------------------------------------------------------------------- virtual


class VirtualLibrary:
    """A folder of slot and drive folders; load and unload rename cartridge folders."""

    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.path = Path(path)

    @classmethod
    def create(
        cls,
        name: str,
        path: Path,
        slots: int,
        capacity: int,
        drives: int = 1,
        prefix: str | None = None,
    ) -> VirtualLibrary:
        """Create a virtual library with a cartridge in every slot (barcodes PREFIX001...),
        or adopt an existing folder holding the same library; raise TapeError if the folder
        holds anything else, InvalidInput for bad numbers."""
        check_label(name, "library name")
        _count(slots, "slots", 1, MAX_SLOTS)
        _count(drives, "drives", 1, MAX_DRIVES)
        _count(capacity, "capacity", RECORD + 1, 1 << 62)
        prefix = default_prefix(name) if prefix is None else prefix
        check_label(f"{prefix}{slots:03d}", "barcode")
        wanted: dict[str, Any] = {
            "format": 1,
            "name": name,
            "slots": slots,
            "drives": drives,
            "capacity": capacity,
        }
        path = Path(path)
        library = cls(name, path)
        try:
            if (path / LIBRARY_FILE).exists():
                found = library._layout()
                if found != wanted:
                    different = ", ".join(
                        f"{key} {found.get(key)!r} not {value!r}"
                        for key, value in wanted.items()
                        if found.get(key) != value
                    )
                    raise TapeError(f"library {name}: {path} holds another library ({different})")
                for index in range(drives):
                    (path / "drives" / str(index)).mkdir(mode=0o700, parents=True, exist_ok=True)
                return library
            # Absent, empty, or what an interrupted create left (library.json comes last).
            if path.exists() and {entry.name for entry in path.iterdir()} - {"slots", "drives"}:
                raise TapeError(f"library {name}: {path} is not empty and not a virtual library")
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            for folder in (path / "slots", path / "drives"):
                folder.mkdir(mode=0o700, exist_ok=True)
            for number in range(1, slots + 1):
                barcode = f"{prefix}{number:03d}"
                create_cartridge(library._slot_path(number), barcode, capacity)
            for index in range(drives):
                (path / "drives" / str(index)).mkdir(mode=0o700, exist_ok=True)
            write_bytes_atomically(path / LIBRARY_FILE, (json.dumps(wanted) + "\n").encode())
        except OSError as error:
            raise TapeError(
                f"library {name}: {path}: cannot create it ({error.strerror})"
            ) from None
        return library

    def _layout(self) -> dict[str, Any]:
        """library.json; TapeError if it is missing or invalid."""
        try:
            with open(self.path / LIBRARY_FILE, "rb") as handle:
                data = json.loads(handle.read(65536))
        except (OSError, ValueError, RecursionError):  # ValueError: a NUL in the path too
            data = None
        valid = isinstance(data, dict) and all(
            isinstance(data.get(key), int) and not isinstance(data.get(key), bool)
            for key in ("slots", "drives", "capacity")
        )
        if not valid:
            raise TapeError(
                f"library {self.name}: {self.path} is not a virtual library "
                f"({LIBRARY_FILE} missing or invalid)"
            )
        return data  # type: ignore[return-value]

    def _slot_path(self, number: int) -> Path:
        return self.path / "slots" / f"{number:03d}"

    def _drive_path(self, index: int) -> Path:
        return self.path / "drives" / str(index)

    def _check(self, slot: int | None, drive: int | None) -> None:
        layout = self._layout()
        if slot is not None and (
            isinstance(slot, bool) or not isinstance(slot, int) or not 1 <= slot <= layout["slots"]
        ):
            raise TapeError(f"library {self.name}: no slot {slot} (slots 1-{layout['slots']})")
        if drive is not None and (
            isinstance(drive, bool)
            or not isinstance(drive, int)
            or not 0 <= drive < layout["drives"]
        ):
            last = layout["drives"] - 1
            raise TapeError(f"library {self.name}: no drive {drive} (drives 0-{last})")

    def _barcode(self, folder: Path) -> str | None:
        try:
            return cartridge_info(folder)[0]
        except TapeError:
            return None

    def _source(self, index: int) -> int | None:
        try:
            text = (self._drive_path(index) / "source").read_text(encoding="ascii").strip()
            return int(text) if text.isdigit() and len(text) <= 9 else None
        except (OSError, ValueError):
            return None

    def inventory(self) -> Inventory:
        layout = self._layout()
        slots = []
        for number in range(1, layout["slots"] + 1):
            folder = self._slot_path(number)
            full = folder.is_dir()
            slots.append(Slot(number, full, self._barcode(folder) if full else None))
        bays = []
        for index in range(layout["drives"]):
            folder = self._drive_path(index) / CARTRIDGE
            if folder.is_dir():
                bays.append(Bay(index, True, self._barcode(folder), self._source(index)))
            else:
                bays.append(Bay(index, False, None, None))
        return Inventory(slots, bays)

    def load(self, slot: int, drive: int) -> None:
        self._check(slot, drive)
        source, bay = self._slot_path(slot), self._drive_path(drive)
        if not source.is_dir():
            raise TapeError(f"library {self.name}: slot {slot} is empty")
        if (bay / CARTRIDGE).exists():
            holds = self._barcode(bay / CARTRIDGE) or "a cartridge"
            raise TapeError(f"library {self.name}: drive {drive} is full (holds {holds})")
        try:
            bay.mkdir(mode=0o700, parents=True, exist_ok=True)
            write_bytes_atomically(bay / "source", f"{slot}\n".encode())
            os.rename(source, bay / CARTRIDGE)
            tape.fsync_path(bay)
            tape.fsync_path(source.parent)
        except OSError as error:
            raise TapeError(
                f"library {self.name}: cannot load slot {slot} into drive {drive} "
                f"({error.strerror})"
            ) from None

    def unload(self, slot: int, drive: int) -> None:
        self._check(slot, drive)
        target, bay = self._slot_path(slot), self._drive_path(drive)
        if not (bay / CARTRIDGE).is_dir():
            raise TapeError(f"library {self.name}: drive {drive} is empty")
        if target.exists():
            raise TapeError(f"library {self.name}: slot {slot} is full")
        try:
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.rename(bay / CARTRIDGE, target)
            tape.fsync_path(target.parent)
            with contextlib.suppress(FileNotFoundError):
                (bay / "source").unlink()
            tape.fsync_path(bay)
        except OSError as error:
            raise TapeError(
                f"library {self.name}: cannot unload drive {drive} into slot {slot} "
                f"({error.strerror})"
            ) from None

    def drive(self, index: int) -> VirtualDrive:
        self._check(None, index)
        return VirtualDrive(self._drive_path(index), name=f"{self.name} drive {index}")


# --------------------------------------------------------------------------- mtx


def mtx_argv(changer: str, operation: str, *arguments: object) -> list[str]:
    """Given a changer device and an mtx operation, return the mtx argument list."""
    return [MTX, "-f", changer, operation, *(str(argument) for argument in arguments)]


def mtx_failure(operation: str, changer: str, code: int, output: str = "") -> str:
    """Given an mtx operation, its changer, exit code and output, return the operator's
    message (with mtx's last line of output, if any)."""
    if code < 0:
        return f"mtx {operation} on {changer}: killed by signal {-code}"
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    said = f": {printable(lines[-1][:200])}" if lines else ""
    return (
        f"mtx {operation} on {changer}: failed (mtx exit {code}){said}; "
        "is it the library's changer device (/dev/sgN), and is the slot or drive as expected?"
    )


_DRIVE_RE = re.compile(r"^\s*Data Transfer Element\s+(\d{1,9})\s*:\s*(Full|Empty)\b(.*)$")
_SLOT_RE = re.compile(
    r"^\s*Storage Element\s+(\d{1,9})(\s+IMPORT/EXPORT)?\s*:\s*(Full|Empty)\b(.*)$"
)
_SOURCE_RE = re.compile(r"\(\s*Storage Element\s+(\d{1,9})\s+Loaded\s*\)")
_TAG_RE = re.compile(r"(?<![A-Za-z])VolumeTag\s*=\s*([^\s:]+)")


def parse_mtx_status(text: str) -> Inventory:
    """Given the output of `mtx status`, return its slots and drives (sorted, first line of
    each kept); lines it does not know are skipped. Never raises."""
    slots: dict[int, Slot] = {}
    drives: dict[int, Bay] = {}
    lines = text.splitlines() if isinstance(text, str) else []
    for line in lines:
        match = _DRIVE_RE.match(line)
        if match:
            index, full, rest = int(match.group(1)), match.group(2) == "Full", match.group(3)
            source = _SOURCE_RE.search(rest)
            barcode = _tag(rest) if full else None
            slot = int(source.group(1)) if full and source else None
            drives.setdefault(index, Bay(index, full, barcode, slot))
            continue
        match = _SLOT_RE.match(line)
        if match:
            number, full = int(match.group(1)), match.group(3) == "Full"
            barcode = _tag(match.group(4)) if full else None
            slots.setdefault(number, Slot(number, full, barcode, bool(match.group(2))))
    return Inventory([slots[n] for n in sorted(slots)], [drives[i] for i in sorted(drives)])


def _tag(rest: str) -> str | None:
    match = _TAG_RE.search(rest)
    return match.group(1) if match else None


class ChangerLibrary:
    """A real library: its changer driven by mtx, its drives by mt (TapeDrive)."""

    def __init__(self, name: str, changer: str, drives: list[str], run: Runner) -> None:
        self.name = name
        self.changer = changer
        self.drives = list(drives)
        self._run = run

    def _mtx(self, operation: str, *arguments: object) -> str:
        code, output = run_program(self._run, mtx_argv(self.changer, operation, *arguments))
        if code != 0:
            raise TapeError(
                f"library {self.name}: " + mtx_failure(operation, self.changer, code, output)
            )
        return output

    def _device(self, index: int) -> str:
        if isinstance(index, bool) or not isinstance(index, int):
            raise TapeError(f"library {self.name}: no drive {index!r}")
        if not 0 <= index < len(self.drives):
            known = f"drives 0-{len(self.drives) - 1}" if self.drives else "no drives configured"
            raise TapeError(f"library {self.name}: no drive {index} ({known})")
        return self.drives[index]

    def _slot(self, slot: int) -> int:
        if isinstance(slot, bool) or not isinstance(slot, int) or slot < 1:
            raise TapeError(f"library {self.name}: no slot {slot!r} (slots are numbered from 1)")
        return slot

    def inventory(self) -> Inventory:
        found = parse_mtx_status(self._mtx("status"))
        if not found.slots and not found.drives:
            raise TapeError(
                f"library {self.name}: mtx status on {self.changer} listed no slots or drives"
            )
        return found

    def load(self, slot: int, drive: int) -> None:
        self._device(drive)
        self._mtx("load", self._slot(slot), drive)

    def unload(self, slot: int, drive: int) -> None:
        device = self._device(drive)
        self._slot(slot)
        code, _ = run_program(self._run, tape.mt_argv(device, "offline"))
        if code != 0:
            raise TapeError(f"library {self.name}: " + tape.mt_failure("offline", device, code))
        self._mtx("unload", slot, drive)

    def drive(self, index: int) -> TapeDrive:
        return TapeDrive(self._device(index), self._run)


def open_library(name: str, kind: str, config: dict[str, Any], run: Runner) -> Library:
    """Given a library's catalog entry (its kind and config), return the library:
    "virtual" {"path", ...} or "changer" {"changer", "drives": [...]}."""
    if kind == "virtual":
        path = config.get("path") if isinstance(config, dict) else None
        if not isinstance(path, str) or not path:
            raise TapeError(f"library {name}: its configuration has no path")
        return VirtualLibrary(name, Path(path))
    if kind == "changer":
        changer = config.get("changer") if isinstance(config, dict) else None
        drives = config.get("drives") if isinstance(config, dict) else None
        if not isinstance(changer, str) or not changer:
            raise TapeError(f"library {name}: its configuration has no changer")
        if not isinstance(drives, list) or not all(isinstance(d, str) and d for d in drives):
            raise TapeError(f"library {name}: its configuration has no list of drives")
        return ChangerLibrary(name, changer, drives, run)
    raise TapeError(f"library {name}: unknown kind {kind!r} (expected virtual or changer)")
