"""Media commands through the real entry point, on a real SQLite file and a virtual library
in tmp_path: pool, library, media label/list/show/retire, restore-points, [[pool]] in apply
and export, the argument lists of mt and mtx (fakes on PATH), and hostile names."""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers import dump, execute, rows

from tapesched.media.labels import Label
from tapesched.store.db import encode_time


def ok(result):  # noqa: ANN001, ANN201
    assert result.code == 0, result.err
    return result


def refused(result, code: int, before: list[str], needle: str = "") -> str:  # noqa: ANN001
    """One line on stderr, exit `code`, no traceback, the database as it was."""
    assert result.code == code, (result.code, result.out, result.err)
    line = result.one_error_line
    assert line.startswith("tapesched: ") and "Traceback" not in line
    assert needle in line, line
    assert dump() == before
    return line


@pytest.fixture
def world(run_cli, home, tmp_path):  # noqa: ANN001, ANN201
    """A pool `weekly` (35 days) and a virtual library `vlib` of four 64 KiB cartridges."""
    ok(run_cli("init"))
    ok(run_cli("pool", "add", "weekly", "--retention-days", "35"))
    path = tmp_path / "vlib"
    ok(run_cli("library", "add", "vlib", "--path", str(path), "--slots", "4", "--capacity", "64K"))
    return path


def tape_label(cartridge: Path) -> Label | None:
    path = cartridge / "000000.tape"
    return Label.decode(path.read_bytes()) if path.exists() else None


def volume(run_cli, label: str) -> dict:  # noqa: ANN001
    """media show --json: the volume's fields, and its pieces."""
    shown = ok(run_cli("media", "show", label, "--json")).json()
    return {**shown["volume"], "pieces": shown["pieces"]}


def set_retained(label: str, until: datetime, state: str = "full") -> None:
    execute(
        "UPDATE volumes SET retained_until = :until, last_written = :until, state = :state, "
        "files_written = 1 WHERE label = :label",
        {"until": encode_time(until), "state": state, "label": label},
    )


# --------------------------------------------------------------------------- pools


def test_pool_add_list_edit_delete(run_cli, home):
    ok(run_cli("init"))
    added = ok(run_cli("pool", "add", "weekly", "--retention-days", "35", "--json")).json()
    assert added["name"] == "weekly" and added["retention_days"] == 35
    assert ok(run_cli("pool", "add", "monthly", "--retention-days", "400")).out == (
        "added pool monthly (backups kept 400 days)\n"
    )
    listed = ok(run_cli("pool", "list", "--json")).json()
    assert [(pool["name"], pool["retention_days"]) for pool in listed] == [
        ("monthly", 400),
        ("weekly", 35),
    ]
    table = ok(run_cli("pool", "list")).out.splitlines()
    assert table[0].split() == ["POOL", "RETENTION", "VOLUMES", "WRITTEN", "TASKS"]
    assert table[2].split()[:3] == ["weekly", "35", "days"]
    assert table[-1] == "0 volumes in the scratch pool"

    before = dump()
    refused(run_cli("pool", "add", "weekly", "--retention-days", "3"), 4, before, "exists")
    refused(run_cli("pool", "add", "scratch", "--retention-days", "3"), 2, before, "reserved")
    for days in ("0", "36501", "-1", "x", "99999999999999999999999"):
        refused(run_cli("pool", "add", "p", "--retention-days", days), 2, before)
    refused(run_cli("pool", "add", "p"), 2, before, "--retention-days")
    refused(run_cli("pool", "edit", "nope", "--retention-days", "3"), 3, before, "no such pool")
    refused(run_cli("pool", "delete", "nope"), 3, before, "no such pool")
    refused(run_cli("pool", "edit", "weekly", "--retention-days", "0"), 2, before)
    refused(run_cli("pool"), 2, before, "Missing command")

    edited = ok(run_cli("pool", "edit", "weekly", "--retention-days", "60"))
    assert edited.out.startswith("pool weekly: backups kept 60 days (was 35)")
    assert rows("SELECT retention_days FROM pools WHERE name = 'weekly'") == [(60,)]
    assert ok(run_cli("pool", "delete", "monthly", "--json")).json() == {"deleted": "monthly"}
    assert [pool["name"] for pool in ok(run_cli("pool", "list", "--json")).json()] == ["weekly"]


def test_a_pool_in_use_is_not_deleted(run_cli, world):
    ok(run_cli("media", "label", "VLIB001", "--pool", "weekly", "--library", "vlib", "--slot", "1"))
    before = dump()
    refused(run_cli("pool", "delete", "weekly"), 4, before, "in use")
    listed = ok(run_cli("pool", "list", "--json")).json()
    assert listed[0]["volumes"] == 1


def test_read_only_media_commands_create_nothing(run_cli, home):
    for args in (["pool", "list"], ["library", "list"], ["media", "list"], ["media", "show", "X"]):
        result = run_cli(*args)
        assert result.code == 5 and "does not exist" in result.one_error_line, args
    assert not home.exists()


# --------------------------------------------------------------------------- libraries


def test_library_add_virtual_and_its_inventory(run_cli, world, tmp_path):
    assert sorted(os.listdir(world / "slots")) == ["001", "002", "003", "004"]
    assert json.loads((world / "slots" / "002" / "cartridge.json").read_text())["barcode"] == (
        "VLIB002"
    )
    listed = ok(run_cli("library", "list", "--json")).json()
    assert listed[0]["kind"] == "virtual"
    assert listed[0]["config"] == {"path": str(world), "slots": 4, "drives": 1, "capacity": 65536}

    first = ok(run_cli("library", "inventory", "vlib", "--json")).json()
    assert [(slot["slot"], slot["barcode"], slot["volume"]) for slot in first["slots"]] == [
        (1, "VLIB001", None),
        (2, "VLIB002", None),
        (3, "VLIB003", None),
        (4, "VLIB004", None),
    ]
    assert first["drives"][0]["full"] is False and first["shelved"] == []
    table = ok(run_cli("library", "inventory", "vlib")).out.splitlines()
    assert table[0].split() == ["SLOT", "BARCODE", "VOLUME", "POOL", "STATE"]
    assert table[2].split() == ["1", "VLIB001", "not", "labelled", "-", "-"]

    ok(run_cli("media", "label", "VLIB001", "--pool", "weekly", "--library", "vlib", "--slot", "1"))
    # The operator takes cartridge 1 out of the library: the inventory shelves its volume.
    (world / "slots" / "001").rename(tmp_path / "outside")
    gone = ok(run_cli("library", "inventory", "vlib", "--json")).json()
    assert gone["shelved"] == ["VLIB001"] and gone["slots"][0]["full"] is False
    assert volume(run_cli, "VLIB001")["location"] == "shelf"
    # ... and puts it back, and loads it into the drive: found there.
    (tmp_path / "outside").rename(world / "slots" / "001")
    ok(run_cli("library", "inventory", "vlib"))
    assert volume(run_cli, "VLIB001")["location"] == "vlib slot 1"
    (world / "drives" / "0").mkdir(exist_ok=True)
    (world / "slots" / "001").rename(world / "drives" / "0" / "cartridge")
    (world / "drives" / "0" / "source").write_text("1\n")
    loaded = ok(run_cli("library", "inventory", "vlib", "--json")).json()
    assert loaded["drives"][0]["volume"] == "VLIB001"
    assert volume(run_cli, "VLIB001")["location"] == "vlib drive 0"
    table = ok(run_cli("library", "inventory", "vlib")).out.splitlines()
    assert table[1].split() == ["drive", "0", "VLIB001", "VLIB001", "weekly", "append"]
    assert table[2].split() == ["1", "-", "-", "-", "empty"]
    assert table[-1] == "4 slots, 3 full; 1 volumes placed"


def test_library_add_refusals(run_cli, world, tmp_path):
    before = dump()
    other = str(tmp_path / "other")
    cases = [
        (["--path", other, "--slots", "2", "--changer", "/dev/sg1"], 2, "one of them"),
        ([], 2, "one of them"),
        (["--path", other], 2, "--slots"),
        (["--path", "relative/dir", "--slots", "2"], 2, "not an absolute path"),
        (["--path", other, "--slots", "2", "--drive", "/dev/nst0"], 2, "--drive"),
        (["--path", other, "--slots", "2", "--capacity", "lots"], 2, "size"),
        (["--path", other, "--slots", "0"], 2, "slots"),
        (["--path", other, "--slots", "1000"], 2, "slots"),
        (["--path", other, "--slots", "2", "--barcode-prefix", "a b"], 2, "barcode"),
        (["--changer", "/dev/sg1"], 2, "--drive"),
        (["--changer", "/dev/sg1", "--drive", "/dev/st0"], 2, "rewinding"),
        (["--changer", "/dev/sg1", "--drive", "/dev/nst0", "--slots", "3"], 2, "--slots"),
        (["--changer", "/dev/sg1", "--drive", "/dev/nst0", "--drive", "/dev/nst0"], 2, "twice"),
        (["--path", str(world), "--slots", "4"], 4, "vlib"),
    ]
    for options, code, needle in cases:
        refused(run_cli("library", "add", "lib2", *options), code, before, needle)
    assert not (tmp_path / "other").exists()
    refused(run_cli("library", "add", "vlib", "--path", other, "--slots", "2"), 4, before, "exists")
    refused(run_cli("library", "inventory", "nope"), 3, before, "no such library")


# --------------------------------------------------------------------------- label


def test_label_into_a_pool_and_into_scratch(run_cli, world):
    labelled = ok(
        run_cli("media", "label", "VLIB001", "--pool", "weekly", "--library", "vlib", "--slot", "1")
    )
    assert labelled.out == "labelled volume VLIB001 into pool weekly (vlib slot 1)\n"
    record = tape_label(world / "slots" / "001")
    assert record is not None and (record.label, record.pool) == ("VLIB001", "weekly")
    assert not (world / "drives" / "0" / "cartridge").exists()  # back in its slot
    shown = volume(run_cli, "VLIB001")
    assert shown["state"] == "append" and shown["pool"] == "weekly"
    assert shown["barcode"] == "VLIB001" and shown["uuid"] == record.uuid
    assert shown["pieces"] == []

    scratch = ok(
        run_cli(
            "media", "label", "S2", "--pool", "scratch", "--library", "vlib", "--slot", "2",
            "--json",
        )
    ).json()  # fmt: skip
    assert (scratch["pool"], scratch["state"], scratch["barcode"]) == (
        "scratch",
        "scratch",
        "VLIB002",
    )
    assert tape_label(world / "slots" / "002").pool is None
    listed = ok(run_cli("media", "list", "--json")).json()
    assert [item["label"] for item in listed] == ["S2", "VLIB001"]
    assert [
        item["label"] for item in ok(run_cli("media", "list", "--pool", "scratch", "--json")).json()
    ] == ["S2"]
    assert [
        item["label"] for item in ok(run_cli("media", "list", "--state", "append", "--json")).json()
    ] == ["VLIB001"]
    table = ok(run_cli("media", "list")).out.splitlines()
    assert table[0].split()[:3] == ["LABEL", "POOL", "STATE"]
    assert table[1].split()[:4] == ["S2", "scratch", "scratch", "0"]
    assert table[2].endswith("vlib slot 1")


SLOT1 = ["--library", "vlib", "--slot", "1"]


def test_label_refusals_leave_tape_and_catalog_alone(run_cli, world):
    ok(run_cli("media", "label", "VLIB001", "--pool", "weekly", "--library", "vlib", "--slot", "1"))
    first = tape_label(world / "slots" / "001")
    before = dump()
    base = ["media", "label"]
    cases = [
        (["VLIB009", "--pool", "nope", "--library", "vlib", "--slot", "3"], 3, "no such pool"),
        (["VLIB009", "--pool", "weekly", "--library", "nope", "--slot", "3"], 3, "no such library"),
        (["VLIB009", "--pool", "weekly", "--library", "vlib", "--slot", "9"], 2, "no slot 9"),
        (["VLIB009", "--pool", "weekly", "--library", "vlib"], 2, "--slot"),
        (["VLIB009", "--pool", "weekly"], 2, "one of them"),
        (["VLIB009", "--pool", "weekly", "--library", "vlib", "--slot", "0"], 2, "--slot"),
        (["VLIB009", "--library", "vlib", "--slot", "3"], 2, "--pool"),
        # Slot 1 holds volume VLIB001: no relabelling without --force, nor under another name.
        (["VLIB001", "--pool", "weekly", "--library", "vlib", "--slot", "1"], 4, "--force"),
        (["OTHER", "--pool", "weekly", *SLOT1, "--force"], 4, "as VLIB001"),
        # The label is another cartridge's already.
        (["VLIB001", "--pool", "weekly", "--library", "vlib", "--slot", "2"], 4, "in the catalog"),
    ]  # fmt: skip
    for options, code, needle in cases:
        refused(run_cli(*base, *options), code, before, needle)
    assert tape_label(world / "slots" / "001") == first
    assert tape_label(world / "slots" / "002") is None
    assert not (world / "drives" / "0" / "cartridge").exists()  # every cartridge put back
    (world / "slots" / "003").rename(world / "gone")
    refused(
        run_cli(*base, "X3", "--pool", "weekly", "--library", "vlib", "--slot", "3"),
        3,
        before,
        "empty",
    )


def test_force_relabels_only_a_scratch_or_expired_volume(run_cli, world):
    label = ["--library", "vlib", "--slot", "1"]
    ok(run_cli("media", "label", "VLIB001", "--pool", "weekly", *label))
    set_retained("VLIB001", datetime.now(UTC) + timedelta(days=10))
    before = dump()
    line = refused(
        run_cli("media", "label", "VLIB001", "--pool", "weekly", *label, "--force"), 4, before
    )
    assert "retained until" in line and "not relabelled" in line
    # Retention passed: --force relabels it, a new volume UUID, its counts reset.
    old_uuid = volume(run_cli, "VLIB001")["uuid"]
    set_retained("VLIB001", datetime.now(UTC) - timedelta(days=1))
    ok(run_cli("media", "label", "VLIB001", "--pool", "weekly", *label, "--force"))
    renewed = volume(run_cli, "VLIB001")
    assert renewed["uuid"] != old_uuid and renewed["state"] == "append"
    assert renewed["files_written"] == 0 and renewed["retained_until"] is None
    assert tape_label(world / "slots" / "001").uuid == renewed["uuid"]
    # A scratch volume: --force puts it into a pool.
    ok(run_cli("media", "label", "S2", "--pool", "scratch", "--library", "vlib", "--slot", "2"))
    ok(
        run_cli(
            "media",
            "label",
            "S2",
            "--pool",
            "weekly",
            "--library",
            "vlib",
            "--slot",
            "2",
            "--force",
        )
    )
    assert volume(run_cli, "S2")["pool"] == "weekly"


def test_a_tape_labelled_elsewhere_needs_force(run_cli, world):
    """A tapesched label the catalog does not know (another catalog's tape)."""
    foreign = Label.new("ALIEN", "monthly", datetime.now(UTC))
    (world / "slots" / "003" / "000000.tape").write_bytes(foreign.encode())
    before = dump()
    line = refused(
        run_cli(
            "media", "label", "VLIB003", "--pool", "weekly", "--library", "vlib", "--slot", "3"
        ),
        4,
        before,
    )
    assert "ALIEN" in line and "does not know" in line
    ok(
        run_cli(
            "media",
            "label",
            "VLIB003",
            "--pool",
            "weekly",
            "--library",
            "vlib",
            "--slot",
            "3",
            "--force",
        )
    )
    assert tape_label(world / "slots" / "003").label == "VLIB003"


def test_label_on_a_standalone_virtual_drive(run_cli, world, tmp_path):
    from tapesched.media.drive import create_cartridge

    drive = tmp_path / "drive"
    before = dump()
    refused(
        run_cli("media", "label", "D1", "--pool", "weekly", "--device", str(drive)),
        1,
        before,
        "no cartridge",
    )
    refused(run_cli("media", "label", "D1", "--pool", "weekly", "--device", "rel/x"), 2, before)
    create_cartridge(drive / "cartridge", "TAPE42", 1 << 20)
    done = ok(
        run_cli("media", "label", "D1", "--pool", "weekly", "--device", str(drive) + "/", "--json")
    ).json()
    assert done["location"] == str(drive) and done["barcode"] == "TAPE42"
    assert done["drive"] == str(drive) and done["library"] is None
    assert tape_label(drive / "cartridge").label == "D1"


def test_a_busy_library_is_a_conflict(run_cli, world, home):
    from tapesched import process
    from tapesched.paths import resolve

    lock = process.FileLock(resolve().device_lock("library:vlib"))
    assert lock.acquire()
    try:
        before = dump()
        args = ["media", "label", "VLIB001", "--pool", "weekly", "--library", "vlib", "--slot", "1"]
        refused(run_cli(*args), 4, before, "device busy: library vlib")
        refused(run_cli("library", "inventory", "vlib"), 4, before, "device busy")
    finally:
        lock.release()
    ok(run_cli("library", "inventory", "vlib"))


# --------------------------------------------------------------------------- mt and mtx

MTX_STATUS = """\
  Storage Changer /dev/sg9:1 Drives, 4 Slots ( 1 Import/Export )
Data Transfer Element 0:Empty
      Storage Element 1:Full :VolumeTag=ABC001L8
      Storage Element 2:Full :VolumeTag=ABC002L8
      Storage Element 3:Empty
      Storage Element 4 IMPORT/EXPORT:Empty
"""


@pytest.fixture
def fake_tools(tmp_path, monkeypatch):  # noqa: ANN001, ANN201
    """`mtx` and `mt` on PATH that log their arguments (and LC_ALL); mtx status prints a
    canned inventory."""
    folder = tmp_path / "fakebin"
    folder.mkdir()
    log = tmp_path / "tools.log"
    status = tmp_path / "status.txt"
    status.write_text(MTX_STATUS)
    for name, body in [
        ("mtx", 'if [ "$3" = status ]; then cat "$FAKE_STATUS"; fi\n'),
        ("mt", ""),
    ]:
        script = folder / name
        script.write_text(
            f'#!/bin/sh\necho "{name} $* LC_ALL=$LC_ALL" >> "$FAKE_LOG"\n{body}exit 0\n'
        )
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_LOG", str(log))
    monkeypatch.setenv("FAKE_STATUS", str(status))
    return log


def test_changer_argument_lists(run_cli, home, fake_tools):
    ok(run_cli("init"))
    ok(run_cli("pool", "add", "weekly", "--retention-days", "35"))
    ok(run_cli("library", "add", "lto", "--changer", "/dev/sg9", "--drive", "/dev/null"))
    inventory = ok(run_cli("library", "inventory", "lto", "--json")).json()
    assert [
        (slot["slot"], slot["barcode"], slot["import_export"]) for slot in inventory["slots"]
    ] == [
        (1, "ABC001L8", False),
        (2, "ABC002L8", False),
        (3, None, False),
        (4, None, True),
    ]
    assert fake_tools.read_text().splitlines() == ["mtx -f /dev/sg9 status LC_ALL=C"]
    fake_tools.write_text("")
    # /dev/null as the drive: mt positions it, the label is read (nothing: unlabelled) and
    # written there, then the drive goes offline and the cartridge back to its slot.
    ok(run_cli("media", "label", "ABC001L8", "--pool", "weekly", "--library", "lto", "--slot", "1"))
    assert fake_tools.read_text().splitlines() == [
        "mtx -f /dev/sg9 status LC_ALL=C",
        "mtx -f /dev/sg9 load 1 0 LC_ALL=C",
        "mt -f /dev/null rewind LC_ALL=C",
        "mt -f /dev/null rewind LC_ALL=C",
        "mt -f /dev/null offline LC_ALL=C",
        "mtx -f /dev/sg9 unload 1 0 LC_ALL=C",
    ]
    shown = volume(run_cli, "ABC001L8")
    assert (shown["library"], shown["slot"], shown["drive"]) == ("lto", 1, None)
    assert shown["barcode"] == "ABC001L8"


def test_a_missing_mtx_names_its_package(run_cli, home, tmp_path, monkeypatch):
    ok(run_cli("init"))
    ok(run_cli("library", "add", "lto", "--changer", "/dev/sg9", "--drive", "/dev/nst0"))
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    before = dump()
    line = refused(run_cli("library", "inventory", "lto"), 1, before)
    assert "command not found: mtx (install the mtx package)" in line


# --------------------------------------------------------------------------- show, retire, points


def _backup_runs(run_cli, tmp_path) -> tuple[str, list[str]]:  # noqa: ANN001
    """A backup task to the pool and two successful runs (a full on VLIB001, an incremental
    spanning VLIB001 and VLIB002), recorded as a runner would."""
    from tapesched.actions.backup import task_chain

    config = {"source_paths": [str(tmp_path / "data")], "pool": "weekly", "library": "vlib"}
    ok(run_cli("add", "media-backup", "--daily", "01:00", "--action", "backup",
               "--action-config", json.dumps(config)))  # fmt: skip
    task_id, stored = rows("SELECT id, action_config FROM tasks WHERE task_name = 'media-backup'")[
        0
    ]
    chain = task_chain(stored if isinstance(stored, dict) else json.loads(stored))
    ids = [str(uuid.uuid4()), str(uuid.uuid4())]
    start = datetime(2026, 11, 1, 1, 0, tzinfo=UTC)
    layout = [[("VLIB001", 1, 4096)], [("VLIB001", 2, 1024), ("VLIB002", 1, 2048)]]
    for index, (execution_id, pieces) in enumerate(zip(ids, layout, strict=True)):
        when = encode_time(start + timedelta(days=index))
        ran_as = "full" if index == 0 else "incremental"
        result = {"chain_id": chain, "level": index, "ran_as": ran_as, "files": 10 + index,
                  "bytes": 5000 + index, "volumes": []}  # fmt: skip
        execute(
            "INSERT INTO executions (execution_id, task_id, trigger, created_at, started_at, "
            "completed_at, status, result) VALUES (:id, :task, 'manual', :at, :at, :at, "
            "'success', :result)",
            {"id": execution_id, "task": task_id, "at": when, "result": json.dumps(result)},
        )
        for seq, (label, file_number, size) in enumerate(pieces):
            execute(
                "INSERT INTO pieces (execution_id, seq, volume, file_number, bytes, sha256) "
                "VALUES (:id, :seq, :volume, :file, :bytes, :sha)",
                {"id": execution_id, "seq": seq, "volume": label, "file": file_number,
                 "bytes": size, "sha": "ab" * 32},
            )  # fmt: skip
    return chain, ids


def test_show_retire_and_restore_points(run_cli, world, tmp_path):
    for slot in ("1", "2"):
        ok(run_cli("media", "label", f"VLIB00{slot}", "--pool", "weekly", "--library", "vlib",
                   "--slot", slot))  # fmt: skip
    _, ids = _backup_runs(run_cli, tmp_path)

    shown = volume(run_cli, "VLIB001")
    assert [(piece["execution_id"], piece["file_number"], piece["task"], piece["level"])
            for piece in shown["pieces"]] == [(ids[0], 1, "media-backup", 0),
                                              (ids[1], 2, "media-backup", 1)]  # fmt: skip
    text = ok(run_cli("media", "show", "VLIB001")).out
    assert "Location        vlib slot 1" in text
    assert "EXECUTION" in text and "SHA-256" in text and ids[1] in text

    points = ok(run_cli("restore-points", "media-backup", "--json")).json()
    assert [point["execution_id"] for point in points] == ids
    assert points[0]["volumes"] == ["VLIB001"] and points[0]["backups"] == [ids[0]]
    assert points[1]["volumes"] == ["VLIB001", "VLIB002"] and points[1]["backups"] == ids
    assert (points[1]["level"], points[1]["files"], points[1]["bytes"]) == (1, 11, 5001)
    table = ok(run_cli("restore-points", "media-backup")).out.splitlines()
    assert table[0].split() == ["EXECUTION", "COMPLETED", "LEVEL", "FILES", "BYTES", "VOLUMES"]
    assert table[2].endswith("VLIB001, VLIB002") and "incremental 1" in table[2]

    retired = ok(run_cli("media", "retire", "VLIB001"))
    assert retired.out == (
        "retired volume VLIB001: nothing more is written on it; its 2 backups stay restorable\n"
    )
    assert ok(run_cli("media", "retire", "VLIB001")).out == "volume VLIB001 is retired already\n"
    assert volume(run_cli, "VLIB001")["state"] == "retired"
    assert ok(run_cli("restore-points", "media-backup", "--json")).json() == points
    assert [
        item["label"]
        for item in ok(run_cli("media", "list", "--state", "retired", "--json")).json()
    ] == ["VLIB001"]


def test_restore_points_of_an_empty_chain_and_refusals(run_cli, world, tmp_path):
    ok(run_cli("add", "plain", "--daily", "01:00", "--source", str(tmp_path / "data"),
               "--device", str(tmp_path / "vtape")))  # fmt: skip
    ok(run_cli("add", "hourly", "--every", "1h", "--command", "true"))
    assert ok(run_cli("restore-points", "plain")).out == (
        "task plain has no restore point yet (no successful backup)\n"
    )
    assert ok(run_cli("restore-points", "plain", "--json")).json() == []
    before = dump()
    refused(run_cli("restore-points", "hourly"), 2, before, "backup task")
    refused(run_cli("restore-points", "nope"), 3, before)
    refused(run_cli("media", "show", "NOPE"), 3, before, "no such volume")
    refused(run_cli("media", "retire", "NOPE"), 3, before, "no such volume")
    refused(run_cli("media", "list", "--state", "lost"), 2, before, "volume state")
    refused(run_cli("media", "list", "--pool", "nope"), 3, before, "no such pool")


# --------------------------------------------------------------------------- apply, export

TASK_TABLE = """
[[task]]
task_name = "hourly"
schedule_type = "interval"
schedule_config = { interval = 1, unit = "hours" }
timezone = "UTC"
action_type = "custom"
action_config = { command = "true" }
"""
POOLS_FILE = """
[[pool]]
name = "weekly"
retention_days = {weekly}

[[pool]]
name = "monthly"
retention_days = 400
"""


def test_apply_and_export_pools(run_cli, home, tmp_path):
    ok(run_cli("init"))
    ok(run_cli("pool", "add", "weekly", "--retention-days", "35"))
    ok(run_cli("pool", "add", "kept", "--retention-days", "7"))
    file = tmp_path / "media.toml"
    file.write_text(POOLS_FILE.format(weekly=60) + TASK_TABLE)
    planned = ok(run_cli("apply", str(file), "--dry-run")).out.splitlines()
    assert planned[:2] == ["would create pool monthly", "would update pool weekly: retention_days"]
    assert planned[-1] == "pools: 1 would be created, 1 would be updated, 0 would be unchanged"
    done = ok(run_cli("apply", str(file), "--json")).json()
    assert done["pools"] == {"created": ["monthly"], "updated": ["weekly"], "unchanged": []}
    assert done["created"] == ["hourly"]
    pools = {
        pool["name"]: pool["retention_days"]
        for pool in ok(run_cli("pool", "list", "--json")).json()
    }
    assert pools == {"kept": 7, "monthly": 400, "weekly": 60}
    # export writes every pool, then the tasks; applying it changes nothing.
    exported = ok(run_cli("export")).out
    assert exported.startswith('[[pool]]\nname = "kept"\nretention_days = 7\n\n[[pool]]\n')
    assert exported.index("[[pool]]") < exported.index("[[task]]")
    again = tmp_path / "exported.toml"
    again.write_text(exported)
    same = ok(run_cli("apply", str(again), "--json")).json()
    assert same["changes"] == [] and same["pools"]["created"] == same["pools"]["updated"] == []
    # --prune deletes tasks, never pools.
    bare = tmp_path / "bare.toml"
    bare.write_text('[[pool]]\nname = "weekly"\nretention_days = 60\n')
    pruned = ok(run_cli("apply", str(bare), "--prune", "--yes", "--json")).json()
    assert pruned["deleted"] == ["hourly"] and pruned["pools"]["unchanged"] == ["weekly"]
    assert len(ok(run_cli("pool", "list", "--json")).json()) == 3


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('[[pool]]\nname = "scratch"\nretention_days = 3\n', "pool scratch: name: pool 'scratch'"),
        ('[[pool]]\nname = "a/b"\nretention_days = 3\n', "pool a/b: name: pool 'a/b': expected"),
        ('[[pool]]\nname = "x"\nretention_days = 0\n', "pool x: retention_days: 0 is out of range"),
        ('[[pool]]\nname = "x"\nretention_days = "3"\n', "pool x: retention_days: is a string"),
        ('[[pool]]\nname = "x"\nretention_days = true\n', "retention_days: is true or false"),
        ('[[pool]]\nname = "x"\n', "pool x: retention_days: required"),
        ('[[pool]]\nretention_days = 3\n', "pool #1: name: required"),
        ('[[pool]]\nname = 5\nretention_days = 3\n', "pool #1: name: is a number"),
        ('[[pool]]\nname = "x"\nretention_days = 3\nkeep = 1\n', "pool x: keep: unknown field"),
        ('[pool]\nname = "x"\n', "'pool' is a single table"),
        ("pool = 3\n", "'pool' is a number"),
        ("pool = [1]\n", "pool #1 is a number, not a table"),
        ('[[pool]]\nname = "x"\nretention_days = 3\n[[pool]]\nname = "x"\nretention_days = 4\n',
         "pool x: name: defined twice"),
    ],
)  # fmt: skip
def test_bad_pool_tables_change_nothing(run_cli, home, tmp_path, text, needle):
    ok(run_cli("init"))
    file = tmp_path / "bad.toml"
    file.write_text(text + TASK_TABLE)  # a good task: not applied either
    before = dump()
    line = refused(run_cli("apply", str(file)), 2, before)
    assert f"{file}: " in line and needle in line, line


# --------------------------------------------------------------------------- hostile names


def hostile_names() -> list[str]:
    """Names no pool, library or volume may have: generated from one good name with control
    characters, separators, lookalikes, and at the edges of the length."""
    base = "weekly"
    names = ["", " ", ".", "..", "../x", "a/b", "/abs", "-", "_x", ".hidden", "x" * 33,
             "w" + "\u200b" + "x", "\u0430bc", "ＡＢＣ", "ü", "a b", "a\\b", "a:b", "x;y",
             "$(id)", "a*", "\ufeffx", "\u202eabc"]  # fmt: skip
    for char in ["\n", "\t", "\r", "\x1b", "\x7f", "\x01", "\x85", "\u2028"]:
        names += [char + base, base + char, base[:3] + char + base[3:]]
    return names


@pytest.mark.parametrize("name", hostile_names(), ids=repr)
def test_hostile_names_are_refused_in_one_line(run_cli, world, tmp_path, name):
    before = dump()
    slot = ["--library", "vlib", "--slot", "1"]
    trials = [
        ["pool", "add", name, "--retention-days", "3"],
        ["pool", "edit", name, "--retention-days", "3"],
        ["pool", "delete", name],
        ["library", "add", name, "--path", str(tmp_path / "lib2"), "--slots", "1"],
        ["library", "inventory", name],
        ["media", "label", name, "--pool", "weekly", *slot],
        ["media", "label", "VLIB001", "--pool", name, *slot],
        ["media", "label", "VLIB001", "--pool", "weekly", "--library", name, "--slot", "1"],
        ["media", "show", name],
        ["media", "retire", name],
        ["media", "list", "--pool", name],
    ]
    for args in trials:
        result = run_cli(*args)
        assert result.code == 2, (args, result.code, result.err)
        line = result.one_error_line
        assert line.startswith("tapesched: ") and "Traceback" not in line
        assert all(char.isprintable() for char in line.rstrip("\n")), line
        assert dump() == before, args
    assert not (tmp_path / "lib2").exists()
    assert tape_label(world / "slots" / "001") is None


def test_label_unloads_what_the_drive_holds_first(run_cli, world):
    """Drive 0 holds slot 2's cartridge (left by a failed job): labelling slot 1 puts it
    back into slot 2 first; labelling slot 2 then takes it straight from the drive."""
    bay = world / "drives" / "0"
    bay.mkdir(exist_ok=True)
    (world / "slots" / "002").rename(bay / "cartridge")
    (bay / "source").write_text("2\n")
    ok(run_cli("media", "label", "VLIB001", "--pool", "weekly", *SLOT1))
    assert (world / "slots" / "002" / "cartridge.json").exists()
    assert not (bay / "cartridge").exists()
    assert tape_label(world / "slots" / "001").label == "VLIB001"

    (world / "slots" / "002").rename(bay / "cartridge")
    (bay / "source").write_text("2\n")
    ok(
        run_cli(
            "media", "label", "VLIB002", "--pool", "scratch", "--library", "vlib", "--slot", "2"
        )
    )
    assert tape_label(world / "slots" / "002").label == "VLIB002"
    assert not (bay / "cartridge").exists()
    assert volume(run_cli, "VLIB002")["location"] == "vlib slot 2"
