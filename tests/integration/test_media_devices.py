"""Drives and libraries (tapesched.media.drive, .library) on real folders, and the argument
lists of mt and mtx against fakes on PATH.

The fakes log `mt ARGS` / `mtx ARGS` to one file, so that the order of the two programs'
calls shows (an unload takes the tape offline before the changer moves it). A real drive
is stood in for by a regular file, /dev/null (reads nothing) or /dev/full (ENOSPC).
"""

from __future__ import annotations

import os
import random
import stat
import subprocess
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tapesched.errors import TapeError
from tapesched.media import drive as drives
from tapesched.media import library as libraries
from tapesched.media.drive import EndOfMedium, NoCartridge, TapeDrive, VirtualDrive
from tapesched.media.labels import RECORD, Label
from tapesched.media.library import Bay, Inventory, Slot, VirtualLibrary

RECORD_SIZE = 10240  # tar's default record: 20 blocks of 512 bytes
CAPACITY = 64 * 1024

FAKE_MT = """\
#!/bin/sh
echo "mt $*" >> "$FAKE_LOG"
if [ "$3" = status ]; then
  printf '%s\\n' "SCSI 2 tape drive:" "File number=${FAKE_MT_FILE-5}, block number=0." \\
    "General status bits on (41010000):" " ${FAKE_MT_BITS-ONLINE IM_REP_EN}"
  exit "${FAKE_MT_STATUS_EXIT:-0}"
fi
[ "$3" = "${FAKE_MT_FAIL-none}" ] && exit "${FAKE_MT_EXIT:-2}"
exit 0
"""

FAKE_MTX = """\
#!/bin/sh
echo "mtx $*" >> "$FAKE_LOG"
if [ "$3" = status ]; then cat "$FAKE_MTX_STATUS"; else echo "$3 done"; fi
exit "${FAKE_MTX_EXIT:-0}"
"""

# What a real changer says (trailing spaces and all), with import/export slot 24.
MTX_STATUS = """\
  Storage Changer /dev/sg3:2 Drives, 24 Slots ( 1 Import/Export )
Data Transfer Element 0:Full (Storage Element 3 Loaded):VolumeTag = ABC003L8                    \n\
Data Transfer Element 1:Empty
      Storage Element 1:Full :VolumeTag=ABC001L8                        \n\
      Storage Element 2:Full :VolumeTag=ABC002L8  :AlternateVolumeTag=XYZ
      Storage Element 3:Empty
      Storage Element 4:Full \n\
      Storage Element 5:Full :VolumeTag = \n\
      Storage Element 24 IMPORT/EXPORT:Empty
"""


def _script(folder: Path, name: str, text: str) -> None:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Fake mt and mtx on PATH, logging to the returned file."""
    folder = tmp_path / "bin"
    folder.mkdir()
    _script(folder, "mt", FAKE_MT)
    _script(folder, "mtx", FAKE_MTX)
    status = tmp_path / "mtx-status.txt"
    status.write_text(MTX_STATUS)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_LOG", str(tmp_path / "fake.log"))
    monkeypatch.setenv("FAKE_MTX_STATUS", str(status))
    for name in ("MT_FILE", "MT_BITS", "MT_STATUS_EXIT", "MT_FAIL", "MT_EXIT", "MTX_EXIT"):
        monkeypatch.delenv(f"FAKE_{name}", raising=False)
    return tmp_path / "fake.log"


def run(argv: list[str]) -> tuple[int, str]:
    """A Runner on subprocess (what JobContext.run gives the media code in a job)."""
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    return done.returncode, done.stdout


def calls(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def _label(name: str = "VOL001", pool: str | None = "weekly") -> Label:
    return Label.new(name, pool, datetime(2026, 3, 1, tzinfo=UTC))


def _loaded_drive(tmp_path: Path, capacity: int = CAPACITY) -> VirtualDrive:
    drives.create_cartridge(tmp_path / "drive" / "cartridge", "BC0001", capacity)
    return VirtualDrive(tmp_path / "drive")


def _fill(drive: VirtualDrive, rng: random.Random) -> tuple[int, bytes]:
    """Write records into a new tape file until the end of medium; (file number, data)."""
    writer = drive.open_append()
    written = []
    with pytest.raises(EndOfMedium):
        for _ in range(1000):
            record = rng.randbytes(RECORD_SIZE)
            writer.write(record)
            written.append(record)
    writer.close()
    return writer.file_number, b"".join(written)


def _read(drive: VirtualDrive, number: int) -> bytes:
    reader = drive.open_read(number)
    try:
        return b"".join(iter(lambda: reader.read(1 << 16), b""))
    finally:
        reader.close()


# --------------------------------------------------------------------------- virtual drive


def test_a_virtual_drive_without_a_cartridge_says_so(tmp_path: Path) -> None:
    drive = VirtualDrive(tmp_path / "drive", name="shelf drive")

    assert not drive.loaded()
    for call in (drive.read_label, drive.open_append, drive.capacity, drive.eject):
        with pytest.raises(NoCartridge, match="^shelf drive: no cartridge loaded$"):
            call()
    with pytest.raises(NoCartridge):
        drive.open_read(1)


def test_an_unlabelled_cartridge_reads_no_label_and_refuses_writing(tmp_path: Path) -> None:
    drive = _loaded_drive(tmp_path)

    assert drive.loaded() and drive.read_label() is None
    with pytest.raises(TapeError, match=r"cartridge BC0001 is not labelled; label it first"):
        drive.open_append()
    assert drive.capacity() == (0, CAPACITY)


def test_a_label_is_written_as_tape_file_0_and_read_back(tmp_path: Path) -> None:
    drive = _loaded_drive(tmp_path)
    label = _label()

    drive.write_label(label)

    assert drive.read_label() == label
    cartridge = tmp_path / "drive" / "cartridge"
    assert (cartridge / "000000.tape").read_bytes() == label.encode()
    assert sorted(p.name for p in cartridge.iterdir()) == ["000000.tape", "cartridge.json"]
    assert drive.capacity() == (RECORD, CAPACITY)


def test_a_foreign_or_damaged_label_reads_as_none(tmp_path: Path) -> None:
    drive = _loaded_drive(tmp_path)
    tape_file = tmp_path / "drive" / "cartridge" / "000000.tape"
    for data in (b"", b"\0" * RECORD, _label().encode()[:-1] + b"x", os.urandom(5000)):
        tape_file.write_bytes(data)
        assert drive.read_label() is None


def test_pieces_are_numbered_after_the_highest_and_read_back(tmp_path: Path) -> None:
    drive = _loaded_drive(tmp_path)
    drive.write_label(_label())
    first = drive.open_append()
    first.write(b"a" * 100)
    first.write(b"b" * 50)
    first.close()
    (tmp_path / "drive" / "cartridge" / "000007.tape").write_bytes(b"")  # a leftover

    second = drive.open_append()
    second.write(b"c" * 10)
    second.close()

    assert (first.file_number, second.file_number) == (1, 8)
    assert _read(drive, 1) == b"a" * 100 + b"b" * 50
    assert _read(drive, 8) == b"c" * 10
    mode = (tmp_path / "drive" / "cartridge" / "000001.tape").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600
    assert drive.capacity() == (RECORD + 160, CAPACITY)


def test_a_record_that_does_not_fit_is_not_written_at_all(tmp_path: Path) -> None:
    drive = _loaded_drive(tmp_path)
    drive.write_label(_label())
    rng = random.Random(5)

    number, data = _fill(drive, rng)

    # 1024 (label) + 6 x 10240 = 62464 fit in 64 KiB; a 7th record does not.
    assert (number, len(data)) == (1, 6 * RECORD_SIZE)
    assert _read(drive, 1) == data
    assert drive.capacity() == (RECORD + 6 * RECORD_SIZE, CAPACITY)
    writer = drive.open_append()
    with pytest.raises(EndOfMedium):
        writer.write(b"x" * (CAPACITY - RECORD - 6 * RECORD_SIZE + 1))
    writer.write(b"x" * (CAPACITY - RECORD - 6 * RECORD_SIZE))  # exactly what is left
    writer.close()
    assert drive.capacity() == (CAPACITY, CAPACITY)


def test_an_aborted_piece_leaves_nothing_and_its_number_is_reused(tmp_path: Path) -> None:
    drive = _loaded_drive(tmp_path)
    drive.write_label(_label())
    writer = drive.open_append()
    writer.write(b"partial")

    writer.abort()
    writer.abort()  # twice is harmless

    assert sorted(p.name for p in (tmp_path / "drive" / "cartridge").glob("*.tape")) == [
        "000000.tape"
    ]
    with pytest.raises(TapeError, match="write after close"):
        writer.write(b"more")
    assert drive.open_append().file_number == 1


def test_reading_a_tape_file_that_is_not_there_names_it_and_the_volume(tmp_path: Path) -> None:
    drive = _loaded_drive(tmp_path)
    with pytest.raises(TapeError, match=r"^tape file 3 not on BC0001 \("):
        drive.open_read(3)
    drive.write_label(_label("VOL009"))
    with pytest.raises(TapeError, match=r"^tape file 3 not on VOL009 \("):
        drive.open_read(3)


def test_writing_a_label_erases_the_data(tmp_path: Path) -> None:
    drive = _loaded_drive(tmp_path)
    drive.write_label(_label())
    for _ in range(3):
        writer = drive.open_append()
        writer.write(b"data")
        writer.close()

    relabelled = _label("VOL002", None)
    drive.write_label(relabelled)

    assert drive.read_label() == relabelled
    assert drive.capacity() == (RECORD, CAPACITY)
    assert drive.open_append().file_number == 1


def test_a_cartridge_without_its_description_is_refused(tmp_path: Path) -> None:
    (tmp_path / "drive" / "cartridge").mkdir(parents=True)
    (tmp_path / "drive" / "cartridge" / "cartridge.json").write_text('{"barcode": 1}')

    with pytest.raises(TapeError, match=r"not a virtual cartridge \(cartridge.json missing"):
        VirtualDrive(tmp_path / "drive").read_label()


def test_create_cartridge_keeps_the_same_and_refuses_another(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    drives.create_cartridge(folder, "BC1", 4096)
    drives.create_cartridge(folder, "BC1", 4096)
    assert drives.cartridge_info(folder) == ("BC1", 4096)
    with pytest.raises(TapeError, match="holds another cartridge"):
        drives.create_cartridge(folder, "BC1", 8192)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes").write_text("x")
    with pytest.raises(TapeError, match="not empty and not a virtual cartridge"):
        drives.create_cartridge(tmp_path / "other", "BC2", 4096)
    with pytest.raises(TapeError, match="does not hold a label"):
        drives.create_cartridge(tmp_path / "tiny", "BC3", RECORD)


def test_drive_for_tells_drives_from_folders(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    assert isinstance(drives.drive_for("/dev/null", run), TapeDrive)
    assert isinstance(drives.drive_for("/dev/nst7", run), TapeDrive)
    assert isinstance(drives.drive_for(str(tmp_path), run), VirtualDrive)
    assert isinstance(drives.drive_for(str(tmp_path / "new"), run), VirtualDrive)
    with pytest.raises(TapeError, match="neither a tape drive nor a folder"):
        drives.drive_for(str(tmp_path / "file"), run)


# --------------------------------------------------------------------------- tape drive


def test_read_label_rewinds_and_reads_one_record(log: Path, tmp_path: Path) -> None:
    device = tmp_path / "nst0"
    label = _label()
    device.write_bytes(label.encode())

    assert TapeDrive(str(device), run).read_label() == label
    assert TapeDrive("/dev/null", run).read_label() is None  # nothing on the tape
    assert TapeDrive("/dev/zero", run).read_label() is None  # something else
    assert calls(log) == [
        f"mt -f {device} rewind",
        "mt -f /dev/null rewind",
        "mt -f /dev/zero rewind",
    ]


def test_write_label_rewinds_and_writes_one_record(log: Path, tmp_path: Path) -> None:
    device = tmp_path / "nst0"
    device.write_bytes(b"")
    label = _label()

    TapeDrive(str(device), run).write_label(label)

    assert device.read_bytes() == label.encode()
    assert calls(log) == [f"mt -f {device} rewind"]


def test_open_append_goes_to_the_end_and_takes_the_file_number(log: Path, tmp_path: Path) -> None:
    device = tmp_path / "nst0"
    device.write_bytes(b"")

    writer = TapeDrive(str(device), run).open_append()
    writer.write(b"r" * 512)
    writer.close()

    assert writer.file_number == 5
    assert device.read_bytes() == b"r" * 512
    assert calls(log) == [f"mt -f {device} eod", f"mt -f {device} status"]


def test_enospc_from_the_drive_is_the_end_of_medium(log: Path) -> None:
    writer = TapeDrive("/dev/full", run).open_append()
    with pytest.raises(EndOfMedium):
        writer.write(b"r" * 512)
    writer.abort()


@pytest.mark.parametrize(
    ("variables", "words"),
    [
        ({"FAKE_MT_FILE": "0"}, "/dev/null: the loaded tape is not labelled"),
        ({"FAKE_MT_FILE": "-1"}, "no file number in its output (position unknown)"),
        ({"FAKE_MT_FAIL": "eod"}, "mt eod on /dev/null: the operation failed (mt exit 2)"),
        ({"FAKE_MT_FAIL": "eod", "FAKE_MT_EXIT": "1"}, "mt eod on /dev/null: bad operation"),
        ({"FAKE_MT_STATUS_EXIT": "2"}, "mt status on /dev/null: the operation failed"),
    ],
)
def test_open_append_failures_name_the_drive(
    log: Path, monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], words: str
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(TapeError) as caught:
        TapeDrive("/dev/null", run).open_append()
    assert words in caught.value.message
    assert "\n" not in caught.value.message


def test_an_empty_drive_is_no_cartridge(log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_MT_FAIL", "rewind")
    monkeypatch.setenv("FAKE_MT_BITS", "DR_OPEN IM_REP_EN")
    drive = TapeDrive("/dev/null", run)

    with pytest.raises(NoCartridge, match="^/dev/null: no cartridge loaded$"):
        drive.read_label()
    assert not drive.loaded()
    assert calls(log) == ["mt -f /dev/null rewind"] + ["mt -f /dev/null status"] * 2


def test_open_read_positions_at_the_file_and_eject_takes_the_tape_offline(
    log: Path, tmp_path: Path
) -> None:
    device = tmp_path / "nst0"
    device.write_bytes(b"archive bytes")
    drive = TapeDrive(str(device), run)

    with drive.open_read(3) as reader:  # type: ignore[attr-defined]
        assert reader.read(1 << 18) == b"archive bytes"
        assert reader.read(1 << 18) == b""
    drive.eject()

    assert drive.loaded() and drive.capacity() == (None, None)
    assert calls(log) == [
        f"mt -f {device} asf 3",
        f"mt -f {device} offline",
        f"mt -f {device} status",
    ]


def test_a_rewinding_node_is_refused_before_mt_runs(log: Path) -> None:
    for call in (lambda d: d.open_append(), lambda d: d.open_read(1)):
        with pytest.raises(TapeError, match="/dev/st0 is a rewinding tape device"):
            call(TapeDrive("/dev/st0", run))
    assert calls(log) == []


def test_a_host_without_mt_or_mtx_is_told_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(TapeError, match=r"^command not found: mt \(install the mt-st package\)$"):
        TapeDrive("/dev/null", run).eject()
    changer = libraries.ChangerLibrary("lib", "/dev/sg3", ["/dev/nst0"], run)
    with pytest.raises(TapeError, match=r"^command not found: mtx \(install the mtx package\)$"):
        changer.inventory()


# --------------------------------------------------------------------------- virtual library


def _library(tmp_path: Path, **options: object) -> VirtualLibrary:
    settings = {"slots": 4, "capacity": CAPACITY, "drives": 2, **options}
    return VirtualLibrary.create("vlib", tmp_path / "lib", **settings)  # type: ignore[arg-type]


def test_a_virtual_library_is_created_with_a_cartridge_per_slot(tmp_path: Path) -> None:
    library = _library(tmp_path)

    folder = tmp_path / "lib"
    assert sorted(p.name for p in (folder / "slots").iterdir()) == ["001", "002", "003", "004"]
    assert sorted(p.name for p in (folder / "drives").iterdir()) == ["0", "1"]
    assert drives.cartridge_info(folder / "slots" / "003") == ("VLIB003", CAPACITY)
    assert library.inventory() == Inventory(
        [Slot(n, True, f"VLIB{n:03d}") for n in range(1, 5)],
        [Bay(0, False, None, None), Bay(1, False, None, None)],
    )
    other = VirtualLibrary.create("x", tmp_path / "other", 2, CAPACITY, prefix="TST")
    assert [slot.barcode for slot in other.inventory().slots] == ["TST001", "TST002"]


def test_an_existing_library_is_adopted_and_another_refused(tmp_path: Path) -> None:
    library = _library(tmp_path)
    library.load(1, 0)

    again = _library(tmp_path)  # the same layout: adopted, the loaded cartridge untouched

    assert again.inventory().drives[0] == Bay(0, True, "VLIB001", 1)
    with pytest.raises(TapeError, match=r"^library vlib: .* holds another library \(slots 4 not 5"):
        _library(tmp_path, slots=5)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes").write_text("x")
    with pytest.raises(TapeError, match="is not empty and not a virtual library"):
        VirtualLibrary.create("vlib", tmp_path / "busy", 2, CAPACITY)


def test_an_interrupted_create_is_finished_by_the_next(tmp_path: Path) -> None:
    _library(tmp_path)
    (tmp_path / "lib" / "library.json").unlink()  # created last: the crash came before it
    (tmp_path / "lib" / "slots" / "004" / "cartridge.json").unlink()

    library = _library(tmp_path)

    assert [slot.barcode for slot in library.inventory().slots][-1] == "VLIB004"


def test_load_and_unload_move_the_cartridge_and_its_data(tmp_path: Path) -> None:
    library = _library(tmp_path)

    library.load(2, 0)
    drive = library.drive(0)
    assert drive.name == "vlib drive 0" and drive.loaded()
    label = _label("VLIB002")
    drive.write_label(label)
    writer = drive.open_append()
    writer.write(b"kept")
    writer.close()
    inventory = library.inventory()
    assert inventory.slots[1] == Slot(2, False, None)
    assert inventory.drives == [Bay(0, True, "VLIB002", 2), Bay(1, False, None, None)]
    assert (tmp_path / "lib" / "drives" / "0" / "source").read_text() == "2\n"

    library.unload(2, 0)
    library.load(2, 1)

    assert library.drive(1).read_label() == label
    assert _read(library.drive(1), 1) == b"kept"
    assert not library.drive(0).loaded()
    assert not (tmp_path / "lib" / "drives" / "0" / "source").exists()
    library.unload(2, 1)
    assert library.inventory() == _library(tmp_path).inventory()
    assert all(slot.full for slot in library.inventory().slots)


@pytest.mark.parametrize(
    ("operation", "slot", "drive", "words"),
    [
        ("load", 3, 0, "library vlib: slot 3 is empty"),
        ("load", 1, 1, "library vlib: drive 1 is full (holds VLIB003)"),
        ("load", 5, 0, "library vlib: no slot 5 (slots 1-4)"),
        ("load", 0, 0, "library vlib: no slot 0 (slots 1-4)"),
        ("load", 1, 2, "library vlib: no drive 2 (drives 0-1)"),
        ("unload", 3, 0, "library vlib: drive 0 is empty"),
        ("unload", 1, 1, "library vlib: slot 1 is full"),
        ("unload", 3, -1, "library vlib: no drive -1 (drives 0-1)"),
    ],
)
def test_impossible_moves_are_refused_in_one_line(
    tmp_path: Path, operation: str, slot: int, drive: int, words: str
) -> None:
    library = _library(tmp_path)
    library.load(3, 1)
    before = library.inventory()

    with pytest.raises(TapeError) as caught:
        getattr(library, operation)(slot, drive)

    assert caught.value.message == words
    assert library.inventory() == before


def test_a_folder_that_is_not_a_library_says_so(tmp_path: Path) -> None:
    with pytest.raises(TapeError, match=r"^library gone: .* is not a virtual library"):
        VirtualLibrary("gone", tmp_path / "nothing").inventory()
    with pytest.raises(TapeError, match="no drive 9"):
        _library(tmp_path).drive(9)


def test_a_backup_spans_two_cartridges_of_a_virtual_library(tmp_path: Path) -> None:
    library = _library(tmp_path)
    rng = random.Random(42)
    pieces = []
    for slot in (1, 2):
        library.load(slot, 0)
        drive = library.drive(0)
        drive.write_label(_label(f"VLIB{slot:03d}"))
        pieces.append((slot, *_fill(drive, rng)))
        library.unload(slot, 0)

    restored = b""
    for slot, number, _ in pieces:
        library.load(slot, 1)
        restored += _read(library.drive(1), number)
        library.unload(slot, 1)

    assert restored == b"".join(data for _, _, data in pieces)
    assert len(restored) == 12 * RECORD_SIZE


# --------------------------------------------------------------------------- mtx


def test_mtx_argument_lists() -> None:
    assert libraries.mtx_argv("/dev/sg3", "status") == ["mtx", "-f", "/dev/sg3", "status"]
    assert libraries.mtx_argv("/dev/sg3", "load", 3, 0) == [
        "mtx",
        "-f",
        "/dev/sg3",
        "load",
        "3",
        "0",
    ]


def test_mtx_status_is_parsed_as_a_changer_prints_it() -> None:
    inventory = libraries.parse_mtx_status(MTX_STATUS)

    assert inventory.drives == [Bay(0, True, "ABC003L8", 3), Bay(1, False, None, None)]
    assert inventory.slots == [
        Slot(1, True, "ABC001L8"),
        Slot(2, True, "ABC002L8"),
        Slot(3, False, None),
        Slot(4, True, None),
        Slot(5, True, None),
        Slot(24, False, None, import_export=True),
    ]


def test_mtx_status_of_a_drive_loaded_from_nowhere_known() -> None:
    text = "Data Transfer Element 1:Full (Unknown Storage Element Loaded):VolumeTag = X1\n"
    assert libraries.parse_mtx_status(text).drives == [Bay(1, True, "X1", None)]


def test_mtx_status_garbage_never_raises() -> None:
    rng = random.Random(24)
    lines = MTX_STATUS.splitlines()
    junk = [
        "Storage Element " + "9" * 5000 + ":Full",
        "Data Transfer Element x:Full",
        "Storage Element 7:Maybe",
        "\x00\xff",
        "VolumeTag=" * 100,
    ]
    assert libraries.parse_mtx_status("").slots == []
    assert libraries.parse_mtx_status(None).drives == []  # type: ignore[arg-type]
    for _ in range(2000):
        chosen = rng.choices(lines + junk, k=rng.randrange(12))
        text = "\n".join(chosen)
        if rng.random() < 0.5 and text:
            cut = rng.randrange(len(text))
            text = text[:cut] + chr(rng.randrange(0x20, 0x3000)) + text[cut + 1 :]
        inventory = libraries.parse_mtx_status(text)
        numbers = [slot.number for slot in inventory.slots]
        assert numbers == sorted(set(numbers))


def test_a_changer_library_runs_mtx_and_mt_as_expected(log: Path) -> None:
    library = libraries.ChangerLibrary("big", "/dev/sg3", ["/dev/nst0", "/dev/nst1"], run)

    inventory = library.inventory()
    library.load(4, 1)
    library.unload(3, 0)

    assert inventory == libraries.parse_mtx_status(MTX_STATUS)
    assert calls(log) == [
        "mtx -f /dev/sg3 status",
        "mtx -f /dev/sg3 load 4 1",
        "mt -f /dev/nst0 offline",
        "mtx -f /dev/sg3 unload 3 0",
    ]
    drive = library.drive(1)
    assert isinstance(drive, TapeDrive) and drive.name == "/dev/nst1"


def test_changer_failures_name_the_library_and_operation(
    log: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    library = libraries.ChangerLibrary("big", "/dev/sg3", ["/dev/nst0"], run)
    with pytest.raises(TapeError, match=r"^library big: no drive 1 \(drives 0-0\)$"):
        library.load(1, 1)
    with pytest.raises(TapeError, match=r"^library big: no slot 0"):
        library.unload(0, 0)
    assert calls(log) == []

    monkeypatch.setenv("FAKE_MTX_EXIT", "1")
    with pytest.raises(TapeError) as caught:
        library.load(2, 0)
    assert caught.value.message.startswith(
        "library big: mtx load on /dev/sg3: failed (mtx exit 1): load done;"
    )
    monkeypatch.setenv("FAKE_MT_FAIL", "offline")
    with pytest.raises(TapeError, match="mt offline on /dev/nst0: the operation failed"):
        library.unload(1, 0)
    assert calls(log)[-1] == "mt -f /dev/nst0 offline"  # the changer was not asked

    monkeypatch.setenv("FAKE_MTX_EXIT", "0")
    (tmp_path / "mtx-status.txt").write_text("  Storage Changer /dev/sg3:0 Drives, 0 Slots\n")
    with pytest.raises(TapeError, match="mtx status on /dev/sg3 listed no slots or drives"):
        library.inventory()


def test_open_library_by_kind(tmp_path: Path) -> None:
    _library(tmp_path)
    virtual = libraries.open_library("vlib", "virtual", {"path": str(tmp_path / "lib")}, run)
    changer = libraries.open_library(
        "big", "changer", {"changer": "/dev/sg3", "drives": ["/dev/nst0"]}, run
    )

    assert isinstance(virtual, VirtualLibrary) and len(virtual.inventory().slots) == 4
    assert isinstance(changer, libraries.ChangerLibrary) and changer.drives == ["/dev/nst0"]
    with pytest.raises(TapeError, match="unknown kind 'tape'"):
        libraries.open_library("x", "tape", {}, run)
    with pytest.raises(TapeError, match="has no path"):
        libraries.open_library("x", "virtual", {}, run)
    with pytest.raises(TapeError, match="has no list of drives"):
        libraries.open_library("x", "changer", {"changer": "/dev/sg3", "drives": "/dev/nst0"}, run)
