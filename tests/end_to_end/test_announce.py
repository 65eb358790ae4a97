"""Whoever ends a run announces it, once: the runner at a normal end, tick for a lost or
timed-out run, `stop` for a cancellation. Each case gets exactly one final ping, paired
with the start by its run id, and at most one notify command run. Real runners, real
signals, a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from helpers import wait_until
from hostile_servers import Recording, recording
from speed_helpers import build_parser_once

from tapesched import decisions


@pytest.fixture
def server():  # noqa: ANN201
    with recording("/ping/uuid") as endpoint:
        yield endpoint


@pytest.fixture
def cli(run_cli, monkeypatch):  # noqa: ANN201
    """The CLI in this process (conftest's run_cli, its parser built once per test), to set
    up tasks and read what happened; whoever ends a run (runner, tick, stop) is a real
    process (sh)."""
    build_parser_once(monkeypatch)
    return run_cli


def add(cli, name: str, server: Recording, notified: Path, *options: str) -> None:
    command = f"sh -c 'echo $TAPESCHED_STATUS $TAPESCHED_EXECUTION_ID >> {notified}'"
    result = cli(
        "add", name, "--every", "1d", "--ping-url", server.url,
        "--notify-command", command, *options,
    )  # fmt: skip
    assert result.code == 0, result.err


def entries(cli, task: str) -> list[dict]:
    return cli("logs", task, "--json").json()["logs"]


def running_job(cli, task: str) -> dict:
    def started():
        found = [e for e in entries(cli, task) if e["status"] == "running" and e["job_pid"]]
        return found[0] if found else None

    return wait_until(started)


def gone(pid: int) -> bool:
    """The process has exited (a zombie nobody reaped counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")


def announced(server: Recording, notified: Path, execution_id: str) -> tuple[list[str], list[str]]:
    """The final pings (all but /start) and the notify command's runs."""
    starts = [p for p in server.paths() if "/start?" in p]
    finals = [p for p in server.paths() if "/start?" not in p]
    assert all(p.endswith(f"rid={execution_id}") for p in starts + finals), server.paths()
    runs = notified.read_text().splitlines() if notified.exists() else []
    return finals, runs


def test_normal_end_is_announced_once_by_the_runner(sh, cli, server, tmp_path):
    notified = tmp_path / "notified"
    add(cli, "plain", server, notified, "--command", "sh -c 'exit 5'")
    result = sh("run", "plain", "--wait")
    assert result.code == 1
    execution_id = result.out.strip()
    [entry] = entries(cli, "plain")
    assert gone(entry["pid"])  # run --wait returned after the runner had announced
    finals, runs = announced(server, notified, execution_id)
    assert server.paths()[0] == f"/ping/uuid/start?rid={execution_id}"
    assert finals == [f"/ping/uuid/5?rid={execution_id}"]
    assert runs == [f"failed {execution_id}"]


def test_a_lost_run_is_announced_once_by_tick(sh, cli, server, tmp_path):
    notified = tmp_path / "notified"
    add(cli, "victim", server, notified, "--command", "sleep 300")
    sh("run", "victim")
    running = running_job(cli, "victim")
    os.kill(running["pid"], signal.SIGKILL)
    wait_until(lambda: gone(running["pid"]), 10)
    tick = sh("tick")
    assert tick.code == 1 and tick.err.count("\n") == 1 and "lost" in tick.err
    execution_id = running["execution_id"]
    finals, runs = announced(server, notified, execution_id)
    assert finals == [f"/ping/uuid/fail?rid={execution_id}"]
    assert runs == [f"lost {execution_id}"]
    assert b"vanished" in server.hits[-1].body  # the tail of the log, with tick's line
    output = cli("output", execution_id).out
    assert "finished: lost: runner (pid" in output and "(recorded by tick)" in output
    assert sh("tick").code == 0  # found once, announced once
    assert announced(server, notified, execution_id) == (finals, runs)


def test_a_run_whose_runner_never_started_is_announced_by_tick(sh, cli, server, tmp_path, home):
    notified = tmp_path / "notified"
    add(cli, "orphan", server, notified, "--command", "true")
    cli("edit", "orphan", "--once", "2030-01-01 00:00", "--tz", "UTC")
    failpoint = {"TAPESCHED_FAILPOINT": "after-claim"}
    crashed = sh("tick", "--now", "2030-01-01T00:00:10+00:00", env=failpoint)
    assert crashed.code == -signal.SIGKILL
    [pending] = entries(cli, "orphan")
    late = decisions.NEVER_STARTED_AFTER + timedelta(minutes=1)
    age(home, pending["execution_id"], "created_at", late)
    tick = sh("tick", "--now", "2020-01-01T00:00:00+00:00")
    assert tick.code == 1 and "runner never started" in tick.err
    finals, runs = announced(server, notified, pending["execution_id"])
    assert server.paths() == finals == [f"/ping/uuid/fail?rid={pending['execution_id']}"]
    assert runs == [f"lost {pending['execution_id']}"]


def age(home: Path, execution_id: str, column: str, by: timedelta) -> None:
    """Move an execution's instant back, as if it had happened `by` earlier."""
    connection = sqlite3.connect(home / "tapesched.db")
    try:
        with connection:
            (value,) = connection.execute(
                f"SELECT {column} FROM executions WHERE execution_id = ?", (execution_id,)
            ).fetchone()
            earlier = datetime.fromisoformat(value) - by
            connection.execute(
                f"UPDATE executions SET {column} = ? WHERE execution_id = ?",
                (earlier.strftime("%Y-%m-%d %H:%M:%S.%f"), execution_id),
            )
    finally:
        connection.close()


def test_a_run_timed_out_by_tick_is_announced_once_by_tick(sh, cli, server, tmp_path, home):
    notified = tmp_path / "notified"
    add(cli, "overrun", server, notified, "--timeout", "3600", "--command", "sleep 300")
    sh("run", "overrun")
    running = running_job(cli, "overrun")
    # Its runner's own clock says it has time left; tick's reading of started_at says not.
    age(home, running["execution_id"], "started_at", timedelta(hours=2))
    tick = sh("tick")
    assert tick.code == 1 and "timed out after 3600s (stopped by tick)" in tick.err
    assert gone(running["pid"])  # tick stopped the runner before announcing
    execution_id = running["execution_id"]
    [entry] = entries(cli, "overrun")
    assert entry["status"] == "failed"
    finals, runs = announced(server, notified, execution_id)
    assert finals == [f"/ping/uuid/fail?rid={execution_id}"]
    assert runs == [f"failed {execution_id}"]


@pytest.mark.parametrize(("notify_on", "runs_expected"), [("failure", 0), ("always", 1)])
def test_a_stopped_run_is_announced_once_by_stop(
    sh, cli, server, tmp_path, notify_on, runs_expected
):
    notified = tmp_path / "notified"
    add(cli, "halted", server, notified, "--notify-on", notify_on, "--command", "sleep 300")
    sh("run", "halted")
    running = running_job(cli, "halted")
    stopped = sh("stop", "halted", "--grace", "1")
    assert stopped.code == 0, stopped.err
    assert gone(running["pid"])  # stop waits for the runner, then announces
    execution_id = running["execution_id"]
    finals, runs = announced(server, notified, execution_id)
    assert finals == [f"/ping/uuid/fail?rid={execution_id}"]
    assert runs == [f"cancelled {execution_id}"] * runs_expected
    output = cli("output", execution_id).out
    assert "(recorded by stop)" in output
