"""The execution engine with real processes and real locks, on each backend: an SQLite
file, and a PostgreSQL database of the test's own (the `backend` fixture; it skips
without TAPESCHED_TEST_PG).

Every run here is a detached `tapesched _run` process started by `tick` or
`run`; the clock is faked only through `tick --now`. What drives the engine (`tick`,
`run`, `stop`, `delete`, `output --follow`) runs as a real process (`sh`); setting up
tasks and reading what happened (`add`, `edit`, `logs`, `show`, `list`, `status`) runs
in this process (`cli`), so that waiting for a run costs no process start per look.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from helpers import age_claim, dump, execute, group_gone, rows, wait_until, write_lock_held
from speed_helpers import build_parser_once

from tapesched import decisions

pytestmark = pytest.mark.usefixtures("backend")
# A test about the terminal or the tick lock file, where the catalog plays no part: on
# SQLite only (the PostgreSQL path of what it does is tested beside it).
SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

FUTURE = "2030-01-01 00:00"
DUE = "2030-01-01T00:00:10+00:00"


@pytest.fixture
def cli(run_cli, monkeypatch):  # noqa: ANN201
    """The CLI in this process (conftest's run_cli, its parser built once per test)."""
    build_parser_once(monkeypatch)
    return run_cli


def logs(cli, task: str) -> list[dict]:
    result = cli("logs", task, "--json")
    assert result.code == 0, result.err
    return result.json()["logs"]


def show(cli, task: str) -> dict:
    result = cli("show", task, "--json")
    assert result.code == 0, result.err
    return result.json()


def wait_final(cli, task: str, count: int = 1, timeout: float = 30) -> list[dict]:
    """Wait until the task has `count` executions and none is running."""

    def done():
        entries = logs(cli, task)
        if len(entries) >= count and all(e["status"] != "running" for e in entries):
            return entries
        return None

    return wait_until(done, timeout)


def wait_job(cli, task: str) -> dict:
    """Wait until the task's running execution has started its job; return it."""

    def started():
        entries = [e for e in logs(cli, task) if e["status"] == "running" and e["job_pid"]]
        return entries[0] if entries else None

    return wait_until(started)


def add(cli, name: str, *args: str) -> dict:
    result = cli("add", name, *args, "--json")
    assert result.code == 0, result.err
    return result.json()


def test_run_wait_success_records_statistics(sh, cli, home):
    add(cli, "ok", "--every", "1d", "--command", "echo hello tape")
    result = sh("run", "ok", "--wait")
    assert result.code == 0, result.err
    execution_id = result.out.strip()
    [entry] = logs(cli, "ok")
    assert entry["execution_id"] == execution_id
    assert entry["status"] == "success" and entry["trigger"] == "manual"
    assert entry["pid"] and entry["duration"] is not None
    task = show(cli, "ok")
    assert (task["total_runs"], task["success_runs"], task["failure_runs"]) == (1, 1, 0)
    assert task["status"] == "active" and task["last_success_time"]
    output = sh("output", execution_id)
    assert "hello tape" in output.out
    log = Path(entry["log_path"])
    assert log.parent.parent == home / "logs"
    assert oct(log.stat().st_mode & 0o777) == "0o600"


def test_failure_records_exit_code_then_recovers(sh, cli):
    add(cli, "flaky", "--every", "1d", "--command", "sh -c 'echo oops >&2; exit 3'")
    failed = sh("run", "flaky", "--wait")
    assert failed.code == 1
    assert "command exited with 3" in failed.err
    [entry] = logs(cli, "flaky")
    assert entry["status"] == "failed" and entry["error_message"] == "command exited with 3"
    assert entry["result"]["exit_code"] == 3
    task = show(cli, "flaky")
    assert (task["total_runs"], task["success_runs"], task["failure_runs"]) == (1, 0, 1)
    assert task["status"] == "error" and task["last_failure_time"]
    assert "oops" in cli("output", entry["execution_id"]).out
    assert cli("edit", "flaky", "--command", "true").code == 0
    assert sh("run", "flaky", "--wait").code == 0
    task = show(cli, "flaky")
    assert (task["total_runs"], task["success_runs"], task["failure_runs"]) == (2, 1, 1)
    assert task["status"] == "active" and task["average_duration"] is not None


def test_tick_launches_a_due_task_once_and_quietly(sh, cli):
    add(cli, "once", "--once", FUTURE, "--tz", "UTC", "--command", "echo ran")
    first = sh("tick", "--now", DUE)
    assert (first.code, first.out, first.err) == (0, "", "")
    [entry] = wait_final(cli, "once")
    assert entry["status"] == "success" and entry["trigger"] == "schedule"
    assert entry["scheduled_for"] == "2030-01-01T00:00:00+00:00"
    again = sh("tick", "--now", DUE)
    assert again.code == 0
    # A tick records each run it claims before it exits: a second run would show now.
    assert len(logs(cli, "once")) == 1
    assert show(cli, "once")["next_run_time"] is None


def test_skip_if_running(sh, cli):
    add(cli, "long", "--cron", "* * * * *", "--tz", "UTC", "--command", "sleep 30")
    assert sh("tick", "--now", "2030-01-01T00:00:05+00:00").code == 0
    wait_job(cli, "long")
    assert sh("tick", "--now", "2030-01-01T00:01:05+00:00").code == 0
    entries = logs(cli, "long")
    statuses = sorted(e["status"] for e in entries)
    assert statuses == ["running", "skipped"]
    skipped = next(e for e in entries if e["status"] == "skipped")
    assert "previous run was still running" in skipped["error_message"]
    assert show(cli, "long")["next_run_time"] == "2030-01-01T00:02:00+00:00"
    assert sh("stop", "long", "--grace", "1").code == 0


def test_stop_kills_the_whole_group_even_a_child_ignoring_sigterm(sh, cli):
    add(
        cli,
        "stubborn",
        "--every",
        "1d",
        "--command",
        "sh -c \"trap '' TERM; sleep 300 & sleep 300\"",
    )
    assert sh("run", "stubborn").code == 0
    running = wait_job(cli, "stubborn")
    stopped = sh("stop", "stubborn", "--grace", "1")
    assert stopped.code == 0, stopped.err
    wait_until(lambda: group_gone(running["job_pid"]), 10)
    [entry] = wait_final(cli, "stubborn")
    assert entry["status"] == "cancelled" and entry["error_message"] == "stopped by operator"
    task = show(cli, "stubborn")
    assert task["status"] == "paused" and task["next_run_time"] is not None
    nothing = sh("stop", "stubborn")
    assert nothing.code == 4 and "no run in progress" in nothing.err


def test_timeout_fails_the_run_and_ends_its_processes(sh, cli):
    add(cli, "slow", "--every", "1d", "--timeout", "1", "--command", "sleep 30")
    started = time.monotonic()
    result = sh("run", "slow", "--wait")
    assert result.code == 1
    assert time.monotonic() - started < 20
    [entry] = logs(cli, "slow")
    assert entry["status"] == "failed" and entry["error_message"] == "timed out after 1s"
    assert group_gone(entry["job_pid"])


def test_runner_killed_is_found_lost_by_the_next_tick(sh, cli):
    add(cli, "victim", "--every", "1d", "--command", "sleep 300")
    sh("run", "victim")
    running = wait_job(cli, "victim")
    os.kill(running["pid"], signal.SIGKILL)
    wait_until(
        lambda: (
            not Path(f"/proc/{running['pid']}").exists()
            or Path(f"/proc/{running['pid']}/stat").read_text().split(") ")[1][0] == "Z"
        ),
        10,
    )
    result = sh("tick")
    assert result.code == 1
    assert result.err.count("\n") == 1 and "lost" in result.err and "victim" in result.err
    [entry] = logs(cli, "victim")
    assert entry["status"] == "lost" and "vanished" in entry["error_message"]
    task = show(cli, "victim")
    assert (task["total_runs"], task["failure_runs"], task["status"]) == (0, 1, "error")
    wait_until(lambda: group_gone(running["job_pid"]), 15)
    assert sh("tick").code == 0  # found once, reported once


def test_tick_killed_between_claim_and_launch_loses_and_doubles_nothing(sh, cli, home):
    add(cli, "fragile", "--once", FUTURE, "--tz", "UTC", "--command", "echo once")
    crashed = sh("tick", "--now", DUE, env={"TAPESCHED_FAILPOINT": "after-claim"})
    assert crashed.code == -signal.SIGKILL
    [pending] = logs(cli, "fragile")
    assert pending["status"] == "running" and pending["pid"] is None
    # The claim is no longer fresh: age it past RELAUNCH_AFTER rather than wait for the clock.
    age_claim(home, pending["execution_id"], decisions.RELAUNCH_AFTER + timedelta(seconds=1))
    assert sh("tick", "--now", DUE).code == 0
    [entry] = wait_final(cli, "fragile")
    assert entry["execution_id"] == pending["execution_id"]
    assert entry["status"] == "success"
    assert sh("tick", "--now", DUE).code == 0
    assert len(logs(cli, "fragile")) == 1
    assert show(cli, "fragile")["total_runs"] == 1


def test_eight_concurrent_ticks_on_forty_due_tasks_launch_each_once(cli, home, tmp_path, backend):
    tasks = tmp_path / "forty.toml"
    tasks.write_text(
        "".join(
            f'[[task]]\ntask_name = "t{index:02d}"\nschedule_type = "once"\n'
            f'schedule_config = {{ datetime = "{FUTURE}" }}\ntimezone = "UTC"\n'
            'action_type = "custom"\naction_config = { command = "true" }\n'
            for index in range(40)
        )
    )
    created = cli("apply", str(tasks), "--json")  # one command, not forty `add`s
    assert created.code == 0, created.err
    assert len(created.json()["created"]) == 40
    ticks = []
    for index in range(8):
        # Half share the tick lock; half have their own state folder, so only the
        # compare-and-set claim stands between them and a double run.
        own_home = home if index % 2 == 0 else tmp_path / f"other{index}"
        env = {**os.environ, "TAPESCHED_HOME": str(own_home)}
        ticks.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tapesched",
                    "--db",
                    backend.arg,
                    "tick",
                    "--now",
                    DUE,
                    "--max-concurrent",
                    "100",
                ],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    for tick in ticks:
        out, err = tick.communicate(timeout=120)
        assert tick.returncode == 0, err
        assert out == ""

    def all_done():
        found = rows("SELECT task_id, status FROM executions")
        return found if len(found) >= 40 and all(s != "running" for _, s in found) else None

    per_task = {}
    for task_id, status in wait_until(all_done, 120, 0.5):
        per_task.setdefault(task_id, []).append(status)
    assert len(per_task) == 40
    assert all(statuses == ["success"] for statuses in per_task.values())


def test_concurrency_cap_leaves_the_rest_due(sh, cli):
    for index in range(5):
        add(cli, f"c{index}", "--once", FUTURE, "--tz", "UTC", "--command", "sleep 30")
    assert sh("tick", "--now", DUE, "--max-concurrent", "2").code == 0
    assert cli("status", "--json").json()["running_executions"] == 2
    tasks = cli("list", "--json").json()["tasks"]
    due = [t for t in tasks if t["next_run_time"] == "2030-01-01T00:00:00+00:00"]
    assert len(due) == 3
    assert sh("tick", "--now", DUE, "--max-concurrent", "2").code == 0
    assert cli("status", "--json").json()["running_executions"] == 2
    launched = [t["task_name"] for t in tasks if t["next_run_time"] is None]
    assert launched == ["c0", "c1"]  # oldest first (same time: lowest id)
    for name in launched:
        wait_job(cli, name)
        assert sh("stop", name, "--grace", "1").code == 0


def _three_days_late(cli, name: str, *options: str) -> tuple[dict, str]:
    task = add(cli, name, "--daily", "02:00", "--tz", "UTC", "--command", "true", *options)
    first = datetime.fromisoformat(task["next_run_time"])
    late = first + timedelta(days=3, hours=8)
    return task, late.isoformat()


def test_catch_up_after_three_missed_days_runs_once(sh, cli):
    task, now = _three_days_late(cli, "nightly")
    assert sh("tick", "--now", now).code == 0
    [entry] = wait_final(cli, "nightly")
    assert entry["trigger"] == "catch_up" and entry["status"] == "success"
    expected = datetime.fromisoformat(task["next_run_time"]) + timedelta(days=4)
    assert datetime.fromisoformat(show(cli, "nightly")["next_run_time"]) == expected
    assert sh("tick", "--now", now).code == 0
    assert len(logs(cli, "nightly")) == 1


def test_misfire_skip_drops_missed_runs(sh, cli):
    task, now = _three_days_late(cli, "skipper", "--misfire", "skip")
    assert sh("tick", "--now", now).code == 0
    [entry] = logs(cli, "skipper")
    assert entry["status"] == "skipped" and "misfire=skip" in entry["error_message"]
    after = show(cli, "skipper")
    assert after["total_runs"] == 0
    assert datetime.fromisoformat(after["next_run_time"]) == datetime.fromisoformat(
        task["next_run_time"]
    ) + timedelta(days=4)


def test_misfire_grace_skips_only_past_the_grace(sh, cli):
    task = add(
        cli,
        "graced",
        "--daily",
        "02:00",
        "--tz",
        "UTC",
        "--command",
        "true",
        "--misfire-grace",
        "3600",
    )
    first = datetime.fromisoformat(task["next_run_time"])
    assert sh("tick", "--now", (first + timedelta(minutes=30)).isoformat()).code == 0
    [ran] = wait_final(cli, "graced")
    assert ran["status"] == "success" and ran["trigger"] == "catch_up"
    assert sh("tick", "--now", (first + timedelta(days=1, hours=2)).isoformat()).code == 0
    entries = logs(cli, "graced")
    assert entries[0]["status"] == "skipped" and "misfire_grace" in entries[0]["error_message"]


def test_locked_database_tick_exits_5_and_writes_nothing(sh, cli):
    add(cli, "due", "--once", FUTURE, "--tz", "UTC", "--command", "true")
    before = dump()
    with write_lock_held():
        result = sh("tick", "--now", DUE, env={"TAPESCHED_BUSY_TIMEOUT": "0.5"})
    assert result.code == 5
    assert result.err.count("\n") == 1 and "locked" in result.err
    assert dump() == before
    assert logs(cli, "due") == []


def test_device_queueing_runs_one_job_per_drive(sh, cli, tmp_path):
    drive = tmp_path / "vtape"
    drive.mkdir()
    release = tmp_path / "release"
    # Each job holds the drive until the test releases it: no race with a fixed sleep.
    hold = f"while [ ! -e '{release}' ]; do sleep 0.1; done"
    config = json.dumps({"command": ["sh", "-c", hold], "device": str(drive)})
    for name in ("first", "second"):
        # Due now by the real clock, so `list` (which reads it) sees the queue too.
        add(
            cli,
            name,
            "--once",
            "2020-01-01 00:00",
            "--force",
            "--tz",
            "UTC",
            "--action",
            "custom",
            "--action-config",
            config,
        )
    assert sh("tick").code == 0
    wait_job(cli, "first")
    assert sh("tick").code == 0
    states = {t["task_name"]: t["state"] for t in cli("list", "--json").json()["tasks"]}
    assert states == {"first": "running", "second": "queued"}
    assert "queued" in cli("show", "second").out
    assert logs(cli, "second") == []
    release.touch()
    [one] = wait_final(cli, "first")
    assert sh("tick").code == 0
    [two] = wait_final(cli, "second")
    assert two["status"] == "success"
    assert datetime.fromisoformat(two["started_at"]) >= datetime.fromisoformat(one["completed_at"])


def test_dry_run_changes_nothing(cli):
    add(cli, "maybe", "--once", FUTURE, "--tz", "UTC", "--command", "true")
    before = dump()
    result = cli("tick", "--now", DUE, "--dry-run")
    assert result.code == 0
    assert result.out == "would launch maybe (schedule)\n"
    assert dump() == before


def test_status_running_after_a_tick(sh, cli):
    assert cli("init").code == 0  # status reads a database; it never creates one
    assert cli("status", "--json").json()["running"] is False
    assert sh("tick").code == 0
    status = cli("status", "--json").json()
    assert status["running"] is True and status["last_tick_time"]


@SQLITE_ONLY
def test_second_tick_exits_at_once_when_the_lock_is_held(sh, cli, home):
    import fcntl

    cli("init")
    lock = open(home / "locks" / "tick.lock", "w")  # noqa: SIM115
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        result = sh("tick")
    finally:
        lock.close()
    assert (result.code, result.out, result.err) == (0, "", "")
    assert cli("status", "--json").json()["last_tick_time"] is None


def test_output_follow_reads_to_the_end(sh, cli):
    add(
        cli,
        "chatty",
        "--every",
        "1d",
        "--command",
        "sh -c 'for i in 1 2 3; do echo line $i; sleep 0.3; done'",
    )
    execution_id = sh("run", "chatty").out.strip()
    followed = sh("output", execution_id, "--follow")
    assert followed.code == 0
    assert "line 1" in followed.out and "line 3" in followed.out
    assert "finished: success" in followed.out


def test_run_conflicts_while_running_and_delete_stops_it(sh, cli):
    add(cli, "busy", "--every", "1d", "--command", "sleep 60")
    sh("run", "busy")
    running = wait_job(cli, "busy")
    again = sh("run", "busy")
    assert again.code == 4 and "already running" in again.err
    deleted = sh("delete", "busy", "--yes", "--grace", "1")
    assert deleted.code == 0, deleted.err
    assert group_gone(running["job_pid"])
    assert cli("show", "busy").code == 3


def test_logs_paginate_newest_first_and_filter(cli):
    add(cli, "thrice", "--every", "1d", "--command", "true")
    # Three real runs (their runners are real processes); what is tested is `logs`.
    ids = [cli("run", "thrice", "--wait").out.strip() for _ in range(3)]
    page = cli("logs", "thrice", "--limit", "2", "--offset", "1", "--json").json()
    assert (page["total"], page["limit"], page["offset"]) == (3, 2, 1)
    assert [entry["execution_id"] for entry in page["logs"]] == [ids[1], ids[0]]
    assert cli("logs", "thrice", "--status", "failed", "--json").json()["total"] == 0
    bad = cli("logs", "thrice", "--status", "weird")
    assert bad.code == 2 and "--status" in bad.err
    assert "success" in cli("logs", "thrice").out
    assert cli("output", "00000000-dead").code == 3


@SQLITE_ONLY
def test_run_wait_on_a_terminal_shows_a_live_line(cli, home):
    import pty

    add(cli, "visible", "--every", "1d", "--command", "sleep 1.5")
    controller, terminal = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "tapesched", "run", "visible", "--wait"],
            stdout=subprocess.PIPE,
            stderr=terminal,
            text=True,
            timeout=60,
        )
        os.set_blocking(controller, False)
        seen = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except (BlockingIOError, OSError):
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(terminal)
        os.close(controller)
    assert done.returncode == 0
    assert b"running: " in seen  # "running: 1s" while the job runs
    assert b"\r\x1b[K" in seen  # the line is cleared at the end
    assert len(done.stdout.strip().splitlines()) == 1  # stdout keeps only the execution id


def test_a_task_whose_schedule_no_longer_computes_harms_no_other(sh, cli):
    add(cli, "broken", "--once", FUTURE, "--tz", "UTC", "--command", "true")
    add(cli, "healthy", "--once", FUTURE, "--tz", "UTC", "--command", "true")
    execute("UPDATE tasks SET timezone = 'Mars/Olympus' WHERE task_name = 'broken'")
    result = sh("tick", "--now", DUE)
    assert result.code == 1
    assert result.err.count("\n") == 1 and "task broken" in result.err
    [entry] = wait_final(cli, "healthy")
    assert entry["status"] == "success"
    assert logs(cli, "broken") == []


def test_tick_json_reports_what_it_did(sh, cli):
    add(cli, "reported", "--once", FUTURE, "--tz", "UTC", "--command", "true")
    planned = cli("tick", "--now", DUE, "--dry-run", "--json").json()
    assert planned["launched"] == [
        {"task": "reported", "execution_id": None, "trigger": "schedule"}
    ]
    done = sh("tick", "--now", DUE, "--json").json()
    [launched] = done["launched"]
    assert launched["task"] == "reported" and launched["execution_id"]
    [entry] = wait_final(cli, "reported")
    assert entry["execution_id"] == launched["execution_id"]


@SQLITE_ONLY
@pytest.mark.parametrize(("answer", "code", "kept"), [(b"n\n", 1, True), (b"y\n", 0, False)])
def test_delete_asks_on_a_terminal(cli, answer, code, kept):
    import pty

    add(cli, "precious", "--daily", "02:00", "--command", "true")
    controller, terminal = pty.openpty()
    try:
        os.write(controller, answer)
        done = subprocess.run(
            [sys.executable, "-m", "tapesched", "delete", "precious"],
            stdin=terminal,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        os.close(terminal)
        os.close(controller)
    assert done.returncode == code
    assert "delete task precious and its history?" in done.stderr
    assert (cli("show", "precious").code == 0) is kept
