"""Health and retention checks, and one drive shared by two due backups, via the CLI."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import conftest_actions as support


def _wait_final(home: Path, name: str, count: int, timeout: float = 30.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        entries = support.logs(home, name)
        if len(entries) >= count and all(e["status"] != "running" for e in entries):
            return entries
        assert time.monotonic() < deadline, f"{name} did not finish: {entries}"
        time.sleep(0.2)


def test_two_backups_due_at_once_on_one_drive_run_one_after_the_other(tmp_path: Path) -> None:
    home, vtape = tmp_path / "home", tmp_path / "vtape"
    for name in ("first", "second"):
        support.make_tree(tmp_path / name)
        support.add(
            home, name, "backup", {"source_paths": [str(tmp_path / name)], "device": str(vtape)}
        )
    due = (datetime.now(UTC) + timedelta(days=2)).isoformat()

    tick = support.cli(home, "tick", "--now", due)
    assert tick.returncode == 0, tick.stderr
    # The drive is busy with the first: the second stays due, with no execution yet.
    assert support.logs(home, "second") == []
    first = _wait_final(home, "first", 1)[0]
    tick = support.cli(home, "tick", "--now", due)
    assert tick.returncode == 0, tick.stderr
    second = _wait_final(home, "second", 1)[0]

    assert first["status"] == second["status"] == "success"
    assert datetime.fromisoformat(second["started_at"]) >= datetime.fromisoformat(
        first["completed_at"]
    )
    assert [first["result"]["tape_file_number"], second["result"]["tape_file_number"]] == [1, 2]


def test_health_check_fails_without_a_tick_and_passes_after_one(tmp_path: Path) -> None:
    home, vtape = tmp_path / "home", tmp_path / "vtape"
    vtape.mkdir()
    support.add(
        home, "health", "health_check", {"devices": [str(vtape)], "min_free_mb": 1}, "--every", "1h"
    )

    code, failed = support.run(home, "health")
    assert code == 1
    checks = {check["name"]: check for check in failed["result"]["checks"]}
    assert not checks["tick"]["ok"]
    assert "tick" in failed["error_message"]
    assert checks["database"]["ok"] and checks["state_folder"]["ok"]
    assert checks[f"device {vtape}"]["ok"]

    assert support.cli(home, "tick").returncode == 0
    code, passed = support.run(home, "health")
    assert code == 0, passed["error_message"]
    assert [check["name"] for check in passed["result"]["checks"]] == [
        "state_folder",
        "database",
        f"device {vtape}",
        "tick",
        "lost_runs",
    ]
    assert all(check["ok"] for check in passed["result"]["checks"])


def test_retention_check_passes_within_the_window_and_fails_when_overdue(tmp_path: Path) -> None:
    home, source = tmp_path / "home", tmp_path / "data"
    source.mkdir()
    support.add(
        home,
        "nightly",
        "backup",
        {"source_paths": [str(source)], "device": str(tmp_path / "vtape")},
        "--daily",
        "02:00",
    )
    support.add(home, "retention", "retention_check", {"retention_days": 7})
    support.add(home, "strict", "retention_check", {"tasks": ["nightly"], "max_age_hours": 0.0001})

    code, passed = support.run(home, "retention")
    assert code == 0, passed["error_message"]
    assert passed["result"]["tasks"][0]["task"] == "nightly"
    assert passed["result"]["tasks"][0]["window_hours"] == 48
    assert passed["result"]["expired_archives"] == []

    code, failed = support.run(home, "strict")
    assert code == 1
    assert failed["result"]["overdue"] == ["nightly"]
    assert "nightly" in failed["error_message"]
    assert "never succeeded" in json.dumps(failed["result"])
