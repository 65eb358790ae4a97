"""Backups that cannot run: a missing source, a device that is no device."""

from __future__ import annotations

import json
from pathlib import Path

import conftest_actions as support


def test_a_missing_source_warns_at_add_and_fails_the_run_naming_it(tmp_path: Path) -> None:
    home, missing = tmp_path / "home", tmp_path / "not mounted" / "data"
    present = tmp_path / "present"
    present.mkdir()
    stderr = support.add(
        home,
        "backup",
        "backup",
        {"source_paths": [str(present), str(missing)], "device": str(tmp_path / "vtape")},
    )
    assert str(missing) in stderr

    code, execution = support.run(home, "backup")

    assert code == 1
    assert execution["status"] == "failed"
    assert execution["error_message"] == f"source path does not exist: {missing}"
    assert not (tmp_path / "vtape").exists()  # refused before the device was touched


def test_a_regular_file_as_device_is_refused_at_add(tmp_path: Path) -> None:
    home, source, bogus = tmp_path / "home", tmp_path / "data", tmp_path / "tape.img"
    source.mkdir()
    bogus.write_text("not a tape\n")

    done = support.cli(
        home,
        "add",
        "backup",
        "--action",
        "backup",
        "--action-config",
        json.dumps({"source_paths": [str(source)], "device": str(bogus)}),
        "--every",
        "1d",
    )

    assert done.returncode == 2
    assert str(bogus) in done.stderr
    assert "neither a tape drive" in done.stderr
    assert "Traceback" not in done.stderr
    listed = support.cli(home, "list", "--json")
    assert "backup" not in listed.stdout


def test_a_device_that_became_a_regular_file_fails_the_run(tmp_path: Path) -> None:
    home, source, device = tmp_path / "home", tmp_path / "data", tmp_path / "vtape"
    source.mkdir()
    support.add(home, "backup", "backup", {"source_paths": [str(source)], "device": str(device)})
    device.write_text("someone put a file here\n")

    code, execution = support.run(home, "backup")

    assert code == 1
    assert str(device) in execution["error_message"]
    assert "neither a tape drive" in execution["error_message"]
    assert device.read_text() == "someone put a file here\n"
