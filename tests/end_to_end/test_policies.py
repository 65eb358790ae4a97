"""Retries and start windows through real ticks and real runners (issue 12), on an SQLite
state folder (the first also on PostgreSQL).

Retries wait from when the failed attempt really ended (the wall clock), so the
retry scenarios tick with `--now` just ahead of the wall clock; the window
scenario moves `--now` freely, since windows are read on the schedule's clock.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers import wait_until
from hostile_servers import recording

# The retry claim's SQL runs on each backend; the other scenarios differ only in what a
# tick decides, which does not depend on the backend: SQLite alone.
on_each_backend = pytest.mark.usefixtures("backend")


def logs(sh, task: str) -> list[dict]:
    result = sh("logs", task, "--json")
    assert result.code == 0, result.err
    return list(reversed(result.json()["logs"]))  # oldest first


def show(sh, task: str) -> dict:
    result = sh("show", task, "--json")
    assert result.code == 0, result.err
    return result.json()


def tick(sh, now: datetime) -> dict:
    result = sh("tick", "--now", now.isoformat(), "--json")
    assert result.code in (0, 1), result.err
    return result.json()


def settled(sh, task: str, count: int) -> list[dict]:
    """Wait until the task has `count` executions, none running; return them, oldest first."""

    def done() -> list[dict] | None:
        entries = logs(sh, task)
        finished = len(entries) >= count and all(e["status"] != "running" for e in entries)
        return entries if finished else None

    return wait_until(done, 30)


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def counting_job(tmp_path: Path, succeed_on: int) -> str:
    """A job that fails until its `succeed_on`th run, counting runs in a file."""
    counter = tmp_path / "runs"
    script = tmp_path / "job.sh"
    script.write_text(
        "#!/bin/sh\n"
        f"n=$(($(cat {counter} 2>/dev/null || echo 0) + 1))\n"
        f"echo $n > {counter}\n"
        'echo "attempt $n"\n'
        f'[ "$n" -ge {succeed_on} ] || {{ echo "not yet" >&2; exit 1; }}\n'
    )
    script.chmod(0o755)
    return str(script)


def notifier(tmp_path: Path) -> tuple[str, Path]:
    """A notify command that appends each call's status and execution to a file."""
    calls = tmp_path / "notified"
    script = tmp_path / "notify.sh"
    script.write_text(f'#!/bin/sh\necho "$TAPESCHED_STATUS $TAPESCHED_EXECUTION_ID" >> {calls}\n')
    script.chmod(0o755)
    return str(script), calls


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


@on_each_backend
def test_a_task_failing_twice_then_succeeding_runs_three_times_with_backoff(sh, tmp_path):
    with recording() as pings:
        _failing_twice_then_succeeding(sh, tmp_path, pings.url)
    # Each attempt pings its start; one that will be retried sends its output to /log; the
    # series' outcome is pinged once.
    assert [path.split("?")[0] for path in pings.paths()] == [
        "/ping/abc/start", "/ping/abc/log", "/ping/abc/start", "/ping/abc/log",
        "/ping/abc/start", "/ping/abc",
    ]  # fmt: skip
    assert b"not yet" in pings.hits[1].body


def _failing_twice_then_succeeding(sh, tmp_path: Path, ping_url: str) -> None:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=2)
    notify, notified = notifier(tmp_path)
    added = sh(
        "add", "flaky", "--once", start.isoformat(), "--command", counting_job(tmp_path, 3),
        "--retries", "3", "--retry-delay", "60", "--notify-command", notify,
        "--notify-on", "always", "--ping-url", ping_url,
    )  # fmt: skip
    assert added.code == 0, added.err

    first = tick(sh, start + timedelta(seconds=5))
    assert [(run["task"], run["trigger"]) for run in first["launched"]] == [("flaky", "schedule")]
    [attempt1] = settled(sh, "flaky", 1)
    assert (attempt1["status"], attempt1["attempt"]) == ("failed", 1)
    task = show(sh, "flaky")
    retry_at = instant(task["retry_at"])
    assert task["retry_attempt"] == 2
    assert retry_at - instant(attempt1["completed_at"]) == timedelta(seconds=60)
    assert lines(notified) == []  # the series is not over: nobody is told yet

    assert tick(sh, retry_at - timedelta(seconds=1))["launched"] == []  # not before its time
    second = tick(sh, retry_at)
    assert [(run["task"], run["trigger"]) for run in second["launched"]] == [("flaky", "retry")]
    attempt2 = settled(sh, "flaky", 2)[1]
    assert (attempt2["status"], attempt2["attempt"], attempt2["trigger"]) == ("failed", 2, "retry")
    assert instant(attempt2["scheduled_for"]) == retry_at
    task = show(sh, "flaky")
    retry_at2 = instant(task["retry_at"])
    assert task["retry_attempt"] == 3
    # The delay doubles after the second failed attempt.
    assert retry_at2 - instant(attempt2["completed_at"]) == timedelta(seconds=120)
    assert lines(notified) == []

    assert tick(sh, retry_at2 - timedelta(seconds=1))["launched"] == []
    assert len(tick(sh, retry_at2)["launched"]) == 1
    runs = settled(sh, "flaky", 3)
    assert [(run["status"], run["trigger"], run["attempt"]) for run in runs] == [
        ("failed", "schedule", 1),
        ("failed", "retry", 2),
        ("success", "retry", 3),
    ]
    task = show(sh, "flaky")
    assert (task["retry_at"], task["retry_attempt"]) == (None, 0)  # a success ends the series
    assert (task["total_runs"], task["success_runs"], task["failure_runs"]) == (3, 1, 2)
    assert lines(notified) == [f"success {runs[2]['execution_id']}"]  # once, for the outcome
    assert tick(sh, retry_at2 + timedelta(hours=1))["launched"] == []  # nothing more

    table = sh("logs", "flaky")
    assert table.code == 0 and "ATTEMPT" in table.out
    log = sh("output", runs[0]["execution_id"]).out
    assert "will retry" in log or "retry (attempt 2)" in log


def test_retries_used_up_tell_once_and_a_retry_past_the_next_run_is_dropped(sh, tmp_path):
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=2)
    notify, notified = notifier(tmp_path)
    failing = "sh -c 'echo broken >&2; exit 2'"
    assert sh(
        "add", "doomed", "--once", start.isoformat(), "--command", failing, "--retries", "1",
        "--retry-delay", "30", "--notify-command", notify,
    ).code == 0  # fmt: skip
    # Every 2 minutes: a retry 5 minutes later would come after the next scheduled run.
    assert sh(
        "add", "frequent", "--every", "2m", "--command", failing, "--retries", "5",
        "--retry-delay", "300", "--notify-command", notify,
    ).code == 0  # fmt: skip
    frequent_due = instant(show(sh, "frequent")["next_run_time"])

    tick(sh, max(start, frequent_due) + timedelta(seconds=5))
    settled(sh, "doomed", 1)
    [frequent] = settled(sh, "frequent", 1)
    # No retry for `frequent`: its failure is final, and told at once.
    assert show(sh, "frequent")["retry_at"] is None
    assert f"failed {frequent['execution_id']}" in lines(notified)
    retry_at = instant(show(sh, "doomed")["retry_at"])
    assert [line for line in lines(notified) if "failed" in line] == [
        f"failed {frequent['execution_id']}"
    ]

    tick(sh, retry_at + timedelta(seconds=1))
    runs = settled(sh, "doomed", 2)
    assert [(run["status"], run["attempt"]) for run in runs] == [("failed", 1), ("failed", 2)]
    assert show(sh, "doomed")["retry_at"] is None  # retries used up
    assert f"failed {runs[1]['execution_id']}" in lines(notified)
    assert f"failed {runs[0]['execution_id']}" not in lines(notified)


def test_a_queued_run_outside_its_window_waits_for_the_opening(sh, tmp_path):
    device = tmp_path / "drive"
    device.mkdir()
    marker = tmp_path / "windowed-ran"
    config = {"command": "sleep 1", "device": str(device)}
    assert sh(
        "add", "hog", "--daily", "01:00", "--tz", "UTC", "--action", "custom",
        "--action-config", json.dumps(config),
    ).code == 0  # fmt: skip
    config = {"command": f"touch {marker}", "device": str(device)}
    assert sh(
        "add", "windowed", "--daily", "01:00", "--tz", "UTC", "--window", "00:30-01:30",
        "--action", "custom", "--action-config", json.dumps(config),
    ).code == 0  # fmt: skip
    slot = instant(show(sh, "windowed")["next_run_time"])  # tomorrow 01:00: late by 2030
    night = datetime(2030, 1, 1, 1, 0, 5, tzinfo=UTC)

    report = tick(sh, night)
    assert [run["task"] for run in report["launched"]] == ["hog"]
    assert report["queued"] == ["windowed"]  # behind the busy drive
    settled(sh, "hog", 1)

    # The drive is free, but the window closed at 01:30: the run waits for tomorrow's
    # 00:30 opening (before its next scheduled run at 01:00), and does not start now.
    late = tick(sh, night + timedelta(hours=1))
    assert late["launched"] == []
    assert late["waiting"] == [{"task": "windowed", "until": "2030-01-02T00:30:00+00:00"}]
    assert logs(sh, "windowed") == [] and not marker.exists()
    assert tick(sh, datetime(2030, 1, 2, 0, 29, tzinfo=UTC))["launched"] == []

    opened = tick(sh, datetime(2030, 1, 2, 0, 30, 5, tzinfo=UTC))
    assert [(run["task"], run["trigger"]) for run in opened["launched"]] == [
        ("windowed", "catch_up")
    ]
    [run] = settled(sh, "windowed", 1)
    assert run["status"] == "success" and marker.exists()
    assert instant(run["scheduled_for"]) == slot
    assert instant(show(sh, "windowed")["next_run_time"]) == datetime(2030, 1, 2, 1, 0, tzinfo=UTC)

    # A manual run ignores the window.
    assert sh("run", "windowed", "--wait").code == 0


def test_a_run_whose_window_opens_after_the_next_slot_is_skipped_with_the_reason(sh):
    assert sh("add", "hourly", "--every", "1h", "--tz", "UTC", "--command", "true").code == 0
    due = instant(show(sh, "hourly")["next_run_time"])
    # A window that opens three hours after the slot: the next slot (in an hour) comes first.
    window = f"{(due.hour + 3) % 24:02d}:00-{(due.hour + 4) % 24:02d}:00"
    assert sh("edit", "hourly", "--window", window).code == 0
    report = tick(sh, due + timedelta(seconds=5))
    assert report["launched"] == []
    reason = f"outside its window {window}; the next scheduled run comes first"
    assert report["skipped"] == [{"task": "hourly", "reason": reason}]
    [entry] = logs(sh, "hourly")
    assert (entry["status"], entry["error_message"]) == ("skipped", f"skipped: {reason}")
    assert instant(show(sh, "hourly")["next_run_time"]) == due + timedelta(hours=1)
