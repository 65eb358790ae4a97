"""A state folder that cannot hold a run's lock or log, and a task deleted under `run --wait`:
one line, a documented exit code, no traceback, and no claimed execution left without a
runner.

The tests run as root in CI, where a chmod does not stop anyone, so a folder is made
unusable in a way that also stops root: a regular file where the task's log folder
(`logs/<task>`) should be, or a folder where a lock file (`locks/exec-<id>.lock`,
`locks/tick.lock`, `locks/device-*.lock`) should be.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from helpers import age_claim, dump, wait_until
from hostile_servers import recording
from speed_helpers import build_parser_once

from tapesched import decisions
from tapesched.paths import safe_name

FUTURE = "2030-01-01 00:00"
DUE = "2030-01-01T00:00:10+00:00"


@pytest.fixture
def cli(run_cli, monkeypatch):  # noqa: ANN201
    """The CLI in this process (conftest's run_cli, its parser built once per test), to set
    up tasks and read what happened; what runs them (run, tick, _run, delete) is a real
    process (sh)."""
    build_parser_once(monkeypatch)
    return run_cli


def entries(cli, task: str) -> list[dict]:
    result = cli("logs", task, "--json")
    assert result.code == 0, result.err
    return result.json()["logs"]


def one_line(err: str) -> str:
    assert err.count("\n") == 1 and err.startswith("tapesched: "), err
    assert "Traceback" not in err
    return err


def block_log_folder(home: Path, task: str) -> Path:
    """A regular file where the task's log folder should be."""
    blocked = home / "logs" / safe_name(task)
    blocked.parent.mkdir(parents=True, exist_ok=True)
    blocked.write_text("not a folder")
    return blocked


def test_run_whose_log_cannot_be_made_fails_at_once_with_exit_5(sh, cli, home, tmp_path):
    notified = tmp_path / "notified"
    with recording() as server:
        add = cli(
            "add", "unlogged", "--every", "1d", "--command", "touch " + str(tmp_path / "ran"),
            "--ping-url", server.url, "--notify-command", f"touch {notified}",
        )  # fmt: skip
        assert add.code == 0, add.err
        blocked = block_log_folder(home, "unlogged")
        for wait in ([], ["--wait"]):
            result = sh("run", "unlogged", *wait)
            assert result.code == 5
            line = one_line(result.err)
            assert "could not start its runner" in line and str(blocked) in line
        assert [hit.path.split("?")[0] for hit in server.hits] == ["/ping/abc/fail"] * 2
    runs = entries(cli, "unlogged")
    assert len(runs) == 2
    for entry in runs:
        assert entry["status"] == "failed" and entry["pid"] is None
        assert entry["error_message"].startswith(f"could not start its runner: {blocked}: ")
    assert notified.exists() and not (tmp_path / "ran").exists()
    assert not any((home / "locks").glob("exec-*.lock"))  # no lock file left behind
    assert cli("show", "unlogged", "--json").json()["status"] == "error"


def test_tick_launches_the_others_and_reports_one_line(sh, cli, home):
    for name in ("alpha", "blocked", "omega"):
        result = cli("add", name, "--once", FUTURE, "--tz", "UTC", "--command", "true")
        assert result.code == 0, result.err
    blocked = block_log_folder(home, "blocked")
    tick = sh("tick", "--now", DUE, "--json")
    assert tick.code == 1
    line = one_line(tick.err)
    assert "task blocked" in line and str(blocked) in line
    report = tick.json()
    assert sorted(item["task"] for item in report["launched"]) == ["alpha", "omega"]
    for name in ("alpha", "omega"):
        [entry] = wait_until(
            lambda name=name: [e for e in entries(cli, name) if e["status"] != "running"]
        )
        assert entry["status"] == "success"
    [failed] = entries(cli, "blocked")
    assert failed["status"] == "failed" and "could not start its runner" in failed["error_message"]
    again = sh("tick", "--now", DUE)
    assert again.code == 0 and again.err == ""  # recorded once; nothing left running


def claimed_without_runner(sh, cli, name: str) -> str:
    """A claim whose tick was killed before it launched the runner; return its id."""
    assert cli("add", name, "--once", FUTURE, "--tz", "UTC", "--command", "true").code == 0
    crashed = sh("tick", "--now", DUE, env={"TAPESCHED_FAILPOINT": "after-claim"})
    assert crashed.code == -signal.SIGKILL
    [pending] = entries(cli, name)
    assert pending["status"] == "running" and pending["pid"] is None
    return pending["execution_id"]


def test_a_relaunch_whose_lock_is_a_folder_is_recorded_failed(sh, cli, home):
    execution_id = claimed_without_runner(sh, cli, "locked-out")
    lock = home / "locks" / f"exec-{execution_id}.lock"
    lock.mkdir(parents=True)
    age_claim(home, execution_id, decisions.RELAUNCH_AFTER + timedelta(seconds=1))
    tick = sh("tick", "--now", DUE)
    assert tick.code == 1
    line = one_line(tick.err)
    assert execution_id in line and str(lock) in line and "Is a directory" in line
    [entry] = entries(cli, "locked-out")
    assert entry["status"] == "failed"
    assert entry["error_message"] == f"could not start its runner: {lock}: Is a directory"
    assert sh("tick", "--now", DUE).code == 0


def test_a_runner_that_cannot_take_its_lock_records_the_run_failed(sh, cli, home):
    execution_id = claimed_without_runner(sh, cli, "runner-locked")
    lock = home / "locks" / f"exec-{execution_id}.lock"
    lock.mkdir(parents=True)
    db = str(home / "tapesched.db")
    runner = subprocess.run(
        [sys.executable, "-m", "tapesched", "--db", db, "_run", execution_id],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert runner.returncode == 5
    assert str(lock) in one_line(runner.stderr)
    [entry] = entries(cli, "runner-locked")
    assert entry["status"] == "failed" and "could not start its runner" in entry["error_message"]


def test_a_tick_lock_that_is_a_folder_is_exit_5_and_writes_nothing(sh, cli, home):
    assert cli("add", "waiting", "--once", FUTURE, "--tz", "UTC", "--command", "true").code == 0
    (home / "locks" / "tick.lock").mkdir(parents=True)
    before = dump(home / "tapesched.db")
    for args in (["tick"], ["tick", "--now", DUE]):  # the fast path and the full parser
        tick = sh(*args)
        assert tick.code == 5
        assert "tick.lock" in one_line(tick.err)
    assert dump(home / "tapesched.db") == before


def test_a_device_lock_that_is_a_folder_fails_the_job_not_the_runner(sh, cli, home, tmp_path):
    drive = tmp_path / "vtape"
    drive.mkdir()
    config = json.dumps({"command": ["true"], "device": str(drive)})
    add = cli("add", "taped", "--every", "1d", "--action", "custom", "--action-config", config)
    assert add.code == 0, add.err
    (home / "locks" / f"device-{safe_name(str(drive))}.lock").mkdir(parents=True)
    result = sh("run", "taped", "--wait")
    assert result.code == 1
    first = result.err.splitlines()[0]  # then, maybe, the last lines of the job's output
    assert first.startswith("tapesched: failed: device lock ") and "Is a directory" in first
    assert "Traceback" not in result.err
    [entry] = entries(cli, "taped")
    assert entry["status"] == "failed"
    assert "Traceback" not in cli("output", entry["execution_id"]).out


def test_a_task_deleted_while_run_wait_waits_is_exit_3(sh, cli, home):
    assert cli("add", "doomed", "--every", "1d", "--command", "sleep 300").code == 0
    waiter = subprocess.Popen(
        [sys.executable, "-m", "tapesched", "run", "doomed", "--wait"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: [e for e in entries(cli, "doomed") if e["job_pid"]])
        # Hold the waiter still while the task goes, so it next looks at a deleted run
        # (not at the cancellation `delete` records on its way).
        waiter.send_signal(signal.SIGSTOP)
        deleted = sh("delete", "doomed", "--yes", "--grace", "1")
        assert deleted.code == 0, deleted.err
        waiter.send_signal(signal.SIGCONT)
        out, err = waiter.communicate(timeout=60)
    finally:
        if waiter.poll() is None:
            waiter.kill()
    assert waiter.returncode == 3
    assert "is gone (its task was deleted)" in one_line(err)
    assert len(out.splitlines()) == 1  # the execution id, as `run --wait` prints first
