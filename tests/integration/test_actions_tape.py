"""The tape drive path with a fake `mt` on PATH and /dev/null as the drive.

/dev/null is a character device, so it is taken for a drive; GNU tar writes an
archive to it (and reads nothing back). The fake mt records its arguments and
answers with the exit codes and output the test asks for.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
import textwrap
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "end_to_end"))
import conftest_actions as support  # noqa: E402

from tapesched import process  # noqa: E402

DRIVE = "/dev/null"
FAKE_MT = """\
#!/bin/sh
echo "$*" >> "$FAKE_MT_LOG"
case "$3" in
  status)
    printf '%s\\n' "SCSI 2 tape drive:" "${FAKE_MT_STATUS_LINE-File number=5, block number=0.}"
    exit "${FAKE_MT_STATUS_EXIT:-0}";;
  eod) exit "${FAKE_MT_EOD_EXIT:-0}";;
  asf) exit "${FAKE_MT_ASF_EXIT:-0}";;
esac
exit 1
"""


@pytest.fixture
def mt_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    script = folder / "mt"
    script.write_text(textwrap.dedent(FAKE_MT))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "mt.log"
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_MT_LOG", str(log))
    for name in ("STATUS_LINE", "STATUS_EXIT", "EOD_EXIT", "ASF_EXIT"):
        monkeypatch.delenv(f"FAKE_MT_{name}", raising=False)
    return log


@pytest.fixture
def harness(tmp_path: Path) -> support.Harness:
    support.make_tree(tmp_path / "data")
    harness = support.Harness(tmp_path / "home")
    harness.add("tape", "backup", {"source_paths": [str(tmp_path / "data")], "device": DRIVE})
    return harness


def test_a_backup_positions_at_end_of_data_and_records_the_file_number(
    mt_log: Path, harness: support.Harness
) -> None:
    run = harness.run("tape")

    assert run.status == "success", run.error_message
    assert mt_log.read_text().splitlines() == [f"-f {DRIVE} eod", f"-f {DRIVE} status"]
    assert run.result["backend"] == "tape"
    assert run.result["tape_file_number"] == 5
    assert run.result["block_size"] == 128
    assert (run.result["archive_path"], run.result["sha256"]) == (None, None)
    assert run.result["files"] == 2 * len(support.TRICKY_NAMES) + 4
    assert (harness.paths.snapshots / f"{run.result['chain_id']}.snar").exists()


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("FAKE_MT_EOD_EXIT", "1", f"mt eod on {DRIVE}: bad operation or device (mt exit 1)"),
        ("FAKE_MT_EOD_EXIT", "2", f"mt eod on {DRIVE}: the operation failed (mt exit 2)"),
        ("FAKE_MT_STATUS_EXIT", "2", f"mt status on {DRIVE}: the operation failed (mt exit 2)"),
        ("FAKE_MT_STATUS_LINE", "File number=-1, block number=-1.", "position unknown"),
    ],
)
def test_mt_failures_fail_the_backup_and_say_which(
    mt_log: Path,
    harness: support.Harness,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    words: str,
) -> None:
    monkeypatch.setenv(variable, value)

    run = harness.run("tape")

    assert run.status == "failed"
    assert words in run.error_message
    assert not list(harness.paths.snapshots.glob("*.snar"))  # the chain did not start


def _path_with(tmp_path: Path, *programs: str) -> str:
    """A PATH holding only these programs (links to the real ones)."""
    folder = tmp_path / ("bin-" + "-".join(programs or ("none",)))
    folder.mkdir(exist_ok=True)
    for program in programs:
        real = shutil.which(program)
        assert real, f"{program} is needed for this test"
        (folder / program).symlink_to(real)
    return str(folder)


MT_MISSING = "command not found: mt (install the mt-st package)"
TAR_MISSING = "command not found: tar (install the tar package)"


def test_a_host_without_mt_fails_the_backup_naming_the_package(
    harness: support.Harness, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", _path_with(tmp_path, "tar"))

    run = harness.run("tape")

    assert (run.status, run.error_message) == ("failed", MT_MISSING)
    assert not list(harness.paths.snapshots.glob("*.snar"))


@pytest.mark.parametrize("device", ["drive", "virtual tape"])
def test_a_host_without_tar_fails_the_backup_naming_the_package(
    harness: support.Harness, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, device: str
) -> None:
    if device == "virtual tape":
        config = {"source_paths": [str(tmp_path / "data")], "device": str(tmp_path / "vtape")}
        harness.add("vtape", "backup", config)
    monkeypatch.setenv("PATH", _path_with(tmp_path, "mt"))

    run = harness.run("tape" if device == "drive" else "vtape")

    assert (run.status, run.error_message) == ("failed", TAR_MISSING)
    assert not (tmp_path / "vtape").exists()


def test_recovery_without_mt_or_tar_fails_naming_the_package(
    mt_log: Path, harness: support.Harness, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert harness.run("tape").status == "success"
    config = {"source_paths": [str(tmp_path / "data")], "device": str(tmp_path / "vtape")}
    harness.add("vtape", "backup", config)
    assert harness.run("vtape").status == "success"
    harness.add("from-drive", "recovery", {"from_task": "tape", "target_path": str(tmp_path / "a")})
    harness.add(
        "from-vtape", "recovery", {"from_task": "vtape", "target_path": str(tmp_path / "b")}
    )

    monkeypatch.setenv("PATH", _path_with(tmp_path, "tar"))
    from_drive = harness.run("from-drive")
    monkeypatch.setenv("PATH", _path_with(tmp_path))
    from_vtape = harness.run("from-vtape")

    assert (from_drive.status, from_drive.error_message) == ("failed", MT_MISSING)
    assert (from_vtape.status, from_vtape.error_message) == ("failed", TAR_MISSING)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    assert mt_log.read_text().splitlines() == [f"-f {DRIVE} eod", f"-f {DRIVE} status"]


def test_health_check_without_mt_names_the_package(
    harness: support.Harness, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    harness.add("health", "health_check", {"devices": [DRIVE]})
    monkeypatch.setenv("PATH", _path_with(tmp_path, "tar"))

    run = harness.run("health")

    check = next(c for c in run.result["checks"] if c["name"] == f"device {DRIVE}")
    assert check == {"name": f"device {DRIVE}", "ok": False, "detail": MT_MISSING}
    assert run.status == "failed"


def test_recovery_positions_the_drive_and_checks_each_tape_file_before_extracting(
    mt_log: Path, harness: support.Harness, tmp_path: Path
) -> None:
    assert harness.run("tape").status == "success"
    mt_log.write_text("")
    target = tmp_path / "target"
    harness.add("restore", "recovery", {"from_task": "tape", "target_path": str(target)})

    run = harness.run("restore")

    # /dev/null holds no archive: the check fails, after positioning at the recorded file.
    assert run.status == "failed"
    assert run.error_message == f"tape file 5 of {DRIVE}: cannot be read (tar exit 2)"
    assert mt_log.read_text().splitlines() == [f"-f {DRIVE} asf 5"]
    assert not target.exists()


def test_recovery_from_a_drive_waits_for_the_device_lock(
    mt_log: Path, harness: support.Harness, tmp_path: Path
) -> None:
    assert harness.run("tape").status == "success"
    harness.add(
        "restore",
        "recovery",
        {"from_task": "tape", "target_path": str(tmp_path / "t")},
        device_wait=0,
    )
    lock = process.FileLock(harness.paths.device_lock(DRIVE))
    assert lock.acquire()
    try:
        run = harness.run("restore")
    finally:
        lock.release()

    assert run.status == "failed"
    assert run.error_message == f"device busy: {DRIVE} still in use after 0s"


@pytest.mark.parametrize(
    ("status_exit", "ok", "words"),
    [("0", True, "mt status answered (at file 5)"), ("2", False, "the operation failed")],
)
def test_health_check_asks_the_drive_for_its_status(
    mt_log: Path,
    harness: support.Harness,
    monkeypatch: pytest.MonkeyPatch,
    status_exit: str,
    ok: bool,
    words: str,
) -> None:
    monkeypatch.setenv("FAKE_MT_STATUS_EXIT", status_exit)
    harness.add("health", "health_check", {"devices": [DRIVE]})

    run = harness.run("health")

    check = next(c for c in run.result["checks"] if c["name"] == f"device {DRIVE}")
    assert check["ok"] is ok
    assert words in check["detail"]
    assert mt_log.read_text().splitlines() == [f"-f {DRIVE} status"]


def test_health_check_does_not_probe_a_drive_in_use(mt_log: Path, harness: support.Harness) -> None:
    harness.add("health", "health_check", {"devices": [DRIVE]})
    lock = process.FileLock(harness.paths.device_lock(DRIVE))
    assert lock.acquire()
    try:
        run = harness.run("health")
    finally:
        lock.release()

    check = next(c for c in run.result["checks"] if c["name"] == f"device {DRIVE}")
    assert check == {
        "name": f"device {DRIVE}",
        "ok": True,
        "detail": "in use by a running job; not probed",
    }
    assert not mt_log.exists()
