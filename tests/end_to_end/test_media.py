"""Labelled volumes on a virtual library, through the real CLI and detached runners.

The library's cartridges are small (2 MiB), so a full backup of the tree spans
volumes. The standard: every restore point restores byte for byte from the
volumes the catalog names, a wrong or unlabelled volume is refused before a
byte is written, a corrupted piece is found by verify (and a restore of it
leaves the target untouched), and a volume is recycled only once its backups
have expired and no retained chain needs them. Cleanup runs in this process
(conftest_actions.Harness) so that the test can move its clock weeks ahead.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import conftest_actions as support
import pytest

CAPACITY = "2M"
SLOTS = 8


class Site:
    """A state folder, a catalog (the SQLite file in it, or a PostgreSQL database), a pool
    `weekly`, a virtual library `vlib` with five volumes labelled into the scratch pool,
    a source tree larger than one cartridge, and a full and an incremental task."""

    def __init__(self, root: Path, db: Any = None, volumes: int = 5) -> None:
        self.root = root
        self.home = root / "home"
        self.library = root / "vlib"
        self.source = root / "data"
        self.db = db
        extra = {"TAPESCHED_DB": db.arg} if db is not None else {}
        self.env = support.cli_env(self.home, **extra)
        ok(self, "init")
        ok(self, "pool", "add", "weekly", "--retention-days", "7")
        ok(
            self,
            "library", "add", "vlib", "--path", str(self.library),
            "--slots", str(SLOTS), "--capacity", CAPACITY,
        )  # fmt: skip
        ok(self, "library", "inventory", "vlib")
        for slot in range(1, volumes + 1):
            ok(
                self,
                "media", "label", f"VLIB{slot:03d}", "--pool", "scratch",
                "--library", "vlib", "--slot", str(slot),
            )  # fmt: skip
        support.make_tree(self.source)
        support.write(self.source / "big" / "random.bin", os.urandom(3 << 20))
        self.backup("full", "full")
        self.backup("incr", "incremental")

    def backup(self, name: str, level: str) -> None:
        config = {
            "source_paths": [str(self.source)],
            "pool": "weekly",
            "library": "vlib",
            "task_type": level,
        }
        self.add(name, "backup", config)

    def add(self, name: str, action: str, config: dict[str, Any], *options: str) -> None:
        options = options or ("--every", "1d")
        ok(self, "add", name, "--action", action, "--action-config", json.dumps(config), *options)

    def execute(self, name: str) -> tuple[int, dict[str, Any]]:
        done = support.cli(self.home, "run", name, "--wait", "--json", env=self.env)
        assert done.returncode in (0, 1), done.stderr
        return done.returncode, json.loads(done.stdout)

    def run(self, name: str) -> dict[str, Any]:
        code, execution = self.execute(name)
        assert code == 0, (execution["error_message"], self.log(execution))
        return execution

    def fail(self, name: str) -> dict[str, Any]:
        code, execution = self.execute(name)
        assert code == 1, self.log(execution)
        assert execution["status"] == "failed"
        return execution

    def log(self, execution: dict[str, Any]) -> str:
        return Path(execution["log_path"]).read_text(errors="replace")

    def volume(self, label: str) -> dict[str, Any]:
        return self.volumes()[label]

    def volumes(self) -> dict[str, dict[str, Any]]:
        return {volume["label"]: volume for volume in cli_json(self, "media", "list")}

    def recover(self, name: str, target: Path, point: str = "latest") -> dict[str, Any]:
        config = {"from_task": "full", "target_path": str(target), "point": point}
        self.add(name, "recovery", config)
        return self.run(name)


def ok(site: Site, *args: str) -> str:
    done = support.cli(site.home, *args, env=site.env)
    assert done.returncode == 0, done.stderr
    return done.stdout


def cli_json(site: Site, *args: str) -> Any:
    return json.loads(ok(site, *args, "--json"))


@pytest.fixture
def site(tmp_path: Path) -> Site:
    """Two volumes: enough for the full backup (it spans both)."""
    return Site(tmp_path, volumes=2)


def _tape_files(library: Path, label: str) -> Path:
    """The folder of a cartridge in its slot (by its barcode)."""
    for cartridge in sorted((library / "slots").iterdir()):
        info = json.loads((cartridge / "cartridge.json").read_text())
        if info["barcode"] == label:
            return cartridge
    raise AssertionError(f"{label} is not in a slot")


def test_spanning_chain_restores_every_point_and_recycles_only_when_expired(
    tmp_path: Path, backend: Any
) -> None:
    site = Site(tmp_path, backend)
    full = site.run("full")
    assert len(full["result"]["volumes"]) >= 2, full["result"]
    first = full["result"]["volumes"][0]
    assert site.volume(first)["state"] == "full"
    pieces = full["result"]["pieces"]
    assert [piece["volume"] for piece in pieces] == full["result"]["volumes"]
    assert all(len(piece["sha256"]) == 64 and piece["bytes"] > 0 for piece in pieces)

    (site.source / "plain.txt").write_text("changed after the full\n")
    support.write(site.source / "new.bin", os.urandom(300_000))
    (site.source / "zeros.bin").unlink()
    site.run("incr")
    middle_state = support.tree_state(site.source)
    (site.source / "deep").rename(site.source / "moved deep")
    support.write(site.source / "late.txt", "after the second incremental\n")
    latest_state = support.tree_state(site.source)
    site.run("incr")

    points = cli_json(site, "restore-points", "full")
    assert [point["level"] for point in points] == [0, 1, 2]
    middle, latest = points[1], points[2]
    assert latest["backups"] == [point["execution_id"] for point in points]
    assert latest["volumes"][: len(full["result"]["volumes"])] == full["result"]["volumes"]
    table = ok(site, "restore-points", "full")
    assert all(point["execution_id"][:8] in table for point in points)

    restored = site.recover("restore-latest", site.root / "latest")
    assert restored["result"]["volumes"] == latest["volumes"]
    assert support.tree_state(support.restored(site.root / "latest", site.source)) == latest_state
    site.recover("restore-middle", site.root / "middle", middle["execution_id"])
    assert support.tree_state(support.restored(site.root / "middle", site.source)) == middle_state
    assert not [p for p in (site.root / "middle").iterdir() if p.name.startswith(".tapesched")]

    # Recycling: nothing before the volumes' retention has passed; then the volumes that
    # hold only the older restore set (a second full starts a newer one).
    site.backup("full-again", "full")
    second = site.run("full-again")
    harness = support.Harness(site.home, backend.location)
    harness.add("clean", "cleanup", {"retention_days": 365})
    harness.clock += timedelta(days=3)
    early = harness.run("clean")
    assert early.status == "success", harness.output(early)
    assert early.result["volumes_recycled"] == []
    harness.clock += timedelta(days=30)
    late = harness.run("clean")
    assert late.status == "success", harness.output(late)
    recycled = late.result["volumes_recycled"]
    first_set = {label for point in points for label in point["volumes"]}
    second_set = set(second["result"]["volumes"])
    assert recycled and set(recycled) == first_set - second_set, late.result
    states = {label: volume["state"] for label, volume in site.volumes().items()}
    assert all(states[label] == "scratch" for label in recycled), states
    assert all(states[label] in ("append", "full") for label in second_set), states
    # The newer set's volumes have expired too, but hold the newest restore point.
    assert {item["volume"] for item in late.result["volumes_kept"]} == second_set
    remaining = cli_json(site, "restore-points", "full")
    assert [point["execution_id"] for point in remaining] == [second["execution_id"]]


def test_verify_finds_a_corrupted_piece_and_a_restore_of_it_changes_nothing(site: Site) -> None:
    full = site.run("full")
    site.add("check", "verify", {"from_task": "full"})
    assert site.run("check")["result"]["pieces_checked"] == len(full["result"]["pieces"])
    drill = {"from_task": "full", "restore_test": True}
    site.add("drill", "verify", drill)
    assert site.run("drill")["result"]["archives"][0]["files"] == full["result"]["files"]

    piece = full["result"]["pieces"][-1]
    tape_file = _tape_files(site.library, piece["volume"]) / f"{piece['file_number']:06d}.tape"
    data = bytearray(tape_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    tape_file.write_bytes(bytes(data))

    failed = site.fail("check")
    assert "checksum mismatch" in failed["error_message"]
    assert f"volume {piece['volume']}, tape file {piece['file_number']}" in failed["error_message"]
    site.add("by-volume", "verify", {"volume": piece["volume"]})
    assert "checksum mismatch" in site.fail("by-volume")["error_message"]

    target = site.root / "target"
    target.mkdir()
    config = {"from_task": "full", "target_path": str(target)}
    site.add("restore", "recovery", config)
    refused = site.fail("restore")
    assert "nothing was restored" in refused["error_message"]
    assert list(target.iterdir()) == []


def test_wrong_or_unlabelled_volumes_are_refused_before_writing(site: Site) -> None:
    # The library says slot 1 holds VLIB001, but the cartridge there carries VLIB002's label.
    one, two = _tape_files(site.library, "VLIB001"), _tape_files(site.library, "VLIB002")
    shutil.copyfile(two / "000000.tape", one / "000000.tape")
    failed = site.fail("full")
    assert "holds volume VLIB002" in failed["error_message"]
    assert "wanted volume VLIB001" in failed["error_message"]
    assert sorted(path.name for path in one.iterdir()) == ["000000.tape", "cartridge.json"]

    # A standalone drive (a folder) holding an unlabelled cartridge, then one of the
    # catalog's volumes that belongs to no pool this backup may write.
    drive = site.root / "drive"
    (drive / "cartridge").mkdir(parents=True)
    shutil.copyfile(one / "cartridge.json", drive / "cartridge" / "cartridge.json")
    config = {"source_paths": [str(site.source)], "pool": "weekly", "device": str(drive)}
    site.add("standalone", "backup", config, "--every", "1d", "--device-wait", "1")
    failed = site.fail("standalone")
    assert "holds an unlabelled tape" in failed["error_message"]
    assert "wanted an append or scratch volume of pool weekly" in failed["error_message"]
    assert sorted(path.name for path in (drive / "cartridge").iterdir()) == ["cartridge.json"]


def _standalone(site: Site, name: str, capacity: int, **extra: Any) -> Path:
    """A standalone virtual drive (a folder) holding a new cartridge, labelled into the
    scratch pool through the CLI, and a backup task (compressed) writing through it."""
    from tapesched.media.drive import create_cartridge

    drive = site.root / name
    drive.mkdir()
    create_cartridge(drive / "cartridge", f"{name.upper()}1", capacity)
    ok(site, "media", "label", f"{name.upper()}1", "--pool", "scratch", "--device", str(drive))
    config = {
        "source_paths": [str(site.source)],
        "pool": "weekly",
        "device": str(drive),
        "compression_enabled": True,
        **extra,
    }
    site.add(name, "backup", config, "--every", "1d", "--device-wait", "1")
    return drive


def test_a_standalone_drive_writes_what_an_operator_loaded_and_asks_for_more(site: Site) -> None:
    drive = _standalone(site, "big", 64 << 20)
    first = site.run("big")
    assert first["result"]["volumes"] == ["BIG1"] and first["result"]["compression"]
    big = site.volume("BIG1")
    assert (big["pool"], big["drive"]) == ("weekly", str(drive))

    # A crash between writing a scratch volume's new label and recording it: the tape says
    # pool weekly, the catalog still scratch. The volume is still taken, and relabelled.
    small = _standalone(site, "small", 400_000)
    from tapesched.media.drive import VirtualDrive
    from tapesched.media.labels import Label

    on_tape = VirtualDrive(small).read_label()
    assert on_tape is not None and on_tape.pool is None
    VirtualDrive(small).write_label(
        Label(on_tape.label, "weekly", on_tape.uuid, on_tape.labelled_at)
    )
    # The archive does not fit: the drive's volume fills and the run asks for another.
    failed = site.fail("small")
    message = failed["error_message"]
    assert "holds volume SMALL1 (pool weekly, full) was filled by this run" in message, message
    assert "wanted an append or scratch volume of pool weekly (" in message
    assert site.volume("SMALL1")["state"] == "full"
    assert "waiting up to 1s for an operator" in site.log(failed)

    # Restore the standalone drive's backup: only one of the paths, into a target that
    # already holds something (overwrite), byte for byte.
    target = site.root / "only"
    (target / "keep").mkdir(parents=True)
    config = {
        "from_task": "big",
        "target_path": str(target),
        "paths": [str(site.source / "deep")],
        "overwrite": True,
    }
    site.add("restore-some", "recovery", config)
    assert site.run("restore-some")["result"]["volumes"] == ["BIG1"]
    restored = support.restored(target, site.source)
    assert sorted(path.name for path in restored.iterdir()) == ["deep"]
    assert support.tree_state(restored / "deep") == support.tree_state(site.source / "deep")
    assert (target / "keep").is_dir()


def test_health_check_says_when_a_pool_has_no_volume_left_in_its_library(site: Site) -> None:
    site.add("health", "health_check", {"min_free_mb": 0})

    def library_check() -> dict[str, Any]:
        _, execution = site.execute("health")  # no tick has run here: that check fails
        checks = {item["name"]: item for item in execution["result"]["checks"]}
        return checks["device library:vlib"]

    good = library_check()
    assert good["ok"] and "pool weekly: 2 volumes to write on" in good["detail"], good
    for slot in (1, 2):
        ok(site, "media", "retire", f"VLIB{slot:03d}")
    bad = library_check()
    assert not bad["ok"] and "label or recycle volumes for weekly" in bad["detail"], bad
