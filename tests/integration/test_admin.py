"""`status` as a check, and `apply` you can trust: each change printed, --dry-run changes
nothing, --prune names what it deletes and asks (issue 9, class 7). On each backend."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from helpers import catalog_exists, dump
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.usefixtures("backend")

# --------------------------------------------------------------------------- status


def heartbeat(seconds_ago: float, host: str | None = None) -> None:
    """Record a tick's heartbeat as a tick does, as if it ran `seconds_ago` (on this host,
    or on `host`)."""
    from tapesched.clock import utcnow
    from tapesched.hosts import this_host
    from tapesched.paths import resolve
    from tapesched.store.db import open_database
    from tapesched.store.hosts import heartbeat as write_heartbeat

    with open_database(resolve(), create=False) as db, db.write():
        write_heartbeat(db, host or this_host(), utcnow() - timedelta(seconds=seconds_ago))


def test_status_fails_until_a_tick_runs(run_cli, sh):
    run_cli("init")
    never = run_cli("status", "--json")
    assert never.code == 1 and never.err == ""
    assert never.json()["ticking"] is False and never.json()["running"] is False
    human = run_cli("status")
    assert human.code == 1 and "NOT running" in human.out
    assert sh("tick").code == 0
    ticking = run_cli("status", "--json")
    assert ticking.code == 0, ticking.err
    assert ticking.json()["ticking"] is True and ticking.json()["running"] is True
    assert run_cli("status").code == 0


def test_status_fails_when_the_last_tick_is_older_than_two_minutes(run_cli):
    run_cli("init")
    heartbeat(119)
    assert run_cli("status", "--json").json()["ticking"] is True
    assert run_cli("status").code == 0
    heartbeat(125)
    stale = run_cli("status", "--json")
    assert stale.code == 1 and stale.json()["ticking"] is False
    heartbeat(-3600)  # a clock set back after the tick: no evidence of ticks now
    assert run_cli("status").code == 1


def test_status_and_hosts_name_another_host_whose_tick_stopped(run_cli):
    """Another host sharing the catalog stops ticking: `status` here names it (its exit
    status stays this host's), `hosts` marks it STOPPED."""
    from tapesched.hosts import this_host

    run_cli("init")
    heartbeat(5)
    heartbeat(30, host="h-alive")
    heartbeat(600, host="h-dead")
    status = run_cli("status")
    assert status.code == 0
    assert "host h-dead: tick STOPPED (last tick" in status.out
    assert "min" in status.out and "ago); 0 runs recorded running)" in status.out
    assert "h-alive" not in status.out
    data = run_cli("status", "--json").json()
    assert {(entry["name"], entry["ticking"]) for entry in data["hosts"]} == {
        (this_host(), True),
        ("h-alive", True),
        ("h-dead", False),
    }
    listed = {entry["name"]: entry for entry in run_cli("hosts", "--json").json()}
    assert listed["h-dead"]["ticking"] is False and listed[this_host()]["this_host"] is True
    table = run_cli("hosts").out.splitlines()
    assert table[0].split() == ["HOST", "TICK", "LAST", "TICK", "RUNNING", "TASKS"]
    assert [line.split()[:2] for line in table[1:] if line.startswith("h-")] == [
        ["h-alive", "ticking"],
        ["h-dead", "STOPPED"],
    ]


def test_an_unreachable_server_is_one_line_naming_host_port_and_database(run_cli):
    """Port 1 of this machine: nothing listens there."""
    result = run_cli("--db", "postgresql+psycopg://backup:s3cret@127.0.0.1:1/tapes", "list")
    assert result.code == 5 and result.out == ""
    assert result.err.startswith(
        "tapesched: cannot connect to PostgreSQL server 127.0.0.1 port 1, database tapes "
        "as backup: "
    )
    assert result.err.count("\n") == 1 and "s3cret" not in result.err


# --------------------------------------------------------------------------- apply

TASK = """
[[task]]
task_name = "{name}"
description = "{description}"
schedule_type = "daily"
schedule_config = {{ time = "{time}" }}
timezone = "UTC"
action_type = "custom"
action_config = {{ command = "true" }}
"""


def task_file(tmp_path: Path, tasks: dict[str, tuple[str, str]], name: str = "t.toml") -> Path:
    path = tmp_path / name
    path.write_text(
        "".join(
            TASK.format(name=task, description=description, time=time)
            for task, (description, time) in tasks.items()
        )
    )
    return path


def test_dry_run_prints_each_change_and_changes_nothing(run_cli, home, tmp_path):
    run_cli("apply", str(task_file(tmp_path, {"a": ("x", "01:00"), "b": ("y", "02:00")})))
    run_cli("add", "stray", "--daily", "05:00", "--command", "true")
    before = dump()
    file = task_file(
        tmp_path, {"a": ("new words", "03:00"), "b": ("y", "02:00"), "d": ("", "04:00")}
    )
    result = run_cli("apply", str(file), "--dry-run", "--prune")
    assert result.code == 0, result.err
    assert result.out == (
        "would create d\n"
        "would update a: description, schedule_config\n"
        "would delete stray\n"
        "1 would be created, 1 would be updated, 1 would be unchanged, 1 would be deleted\n"
    )
    planned = run_cli("apply", str(file), "--dry-run", "--prune", "--json").json()
    assert planned["changes"] == [
        {"change": "create", "task": "d"},
        {"change": "update", "task": "a", "fields": ["description", "schedule_config"]},
        {"change": "delete", "task": "stray"},
    ]
    assert planned["dry_run"] is True and planned["updated"] == ["a"]
    assert dump() == before
    # The same changes, made: printed in the past tense.
    done = run_cli("apply", str(file), "--prune", "--yes")
    assert done.code == 0, done.err
    assert done.out.splitlines()[:3] == [
        "created d",
        "updated a: description, schedule_config",
        "deleted stray",
    ]
    assert run_cli("apply", str(file), "--prune").out == (
        "0 created, 0 updated, 3 unchanged, 0 deleted\n"
    )


def test_prune_without_a_terminal_needs_yes(run_cli, home, tmp_path):
    run_cli("add", "stray", "--daily", "05:00", "--command", "true")
    run_cli("add", "other", "--daily", "05:00", "--command", "true")
    before = dump()
    file = task_file(tmp_path, {"a": ("x", "01:00")})
    refused = run_cli("apply", str(file), "--prune")
    assert refused.code == 2 and refused.out == ""
    assert refused.err.startswith("tapesched: ") and refused.err.count("\n") == 1
    assert "other, stray" in refused.err and "--yes" in refused.err
    assert dump() == before
    assert run_cli("apply", str(file), "--prune", "--json").code == 2
    assert dump() == before
    done = run_cli("apply", str(file), "--prune", "-y", "--json")
    assert done.code == 0 and done.json()["deleted"] == ["other", "stray"]


def on_a_terminal(args: list[str], answer: bytes) -> subprocess.CompletedProcess[str]:
    """Run tapesched with a terminal on stdin that answers `answer`."""
    master, slave = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "tapesched", *args],
            stdin=slave,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        os.close(slave)
        slave = -1
        os.write(master, answer)
        out, err = process.communicate(timeout=60)
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def test_prune_on_a_terminal_names_the_tasks_and_asks(run_cli, home, tmp_path):
    run_cli("add", "stray", "--daily", "05:00", "--command", "true")
    before = dump()
    file = task_file(tmp_path, {"a": ("x", "01:00")})
    declined = on_a_terminal(["apply", str(file), "--prune"], b"n\n")
    assert declined.returncode == 1
    assert "stray" in declined.stderr and "Delete them?" in declined.stderr
    # (the answer's newline is echoed on the terminal, not in this pipe)
    assert declined.stderr.endswith(
        "Delete them? [y/N] tapesched: apply --prune not confirmed; nothing changed\n"
    )
    assert dump() == before
    accepted = on_a_terminal(["apply", str(file), "--prune"], b"y\n")
    assert accepted.returncode == 0, accepted.stderr
    assert (
        accepted.stdout
        == "created a\ndeleted stray\n1 created, 0 updated, 0 unchanged, 1 deleted\n"
    )
    names = [task["task_name"] for task in run_cli("list", "--json").json()["tasks"]]
    assert names == ["a"]


NAMES = st.sampled_from(["a", "b", "c", "d", "e"])
TASKS = st.dictionaries(
    NAMES, st.tuples(st.sampled_from(["", "x", "y z"]), st.sampled_from(["01:00", "02:30"]))
)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(existing=TASKS, wanted=TASKS, prune=st.booleans())
def test_dry_run_plans_exactly_what_apply_then_does(
    run_cli, home, tmp_path, existing, wanted, prune
):
    for task in run_cli("list", "--json").json()["tasks"] if catalog_exists() else []:
        run_cli("delete", task["task_name"], "--yes")
    assert run_cli("apply", str(task_file(tmp_path, existing, "old.toml"))).code == 0
    before = dump()
    file = task_file(tmp_path, wanted)
    extra = ["--prune", "--yes"] if prune else []
    planned = run_cli("apply", str(file), "--dry-run", "--json", *extra)
    assert planned.code == 0, planned.err
    assert dump() == before
    plan = planned.json()
    expected_updates = sorted(
        name for name in wanted if name in existing and wanted[name] != existing[name]
    )
    assert sorted(plan["created"]) == sorted(set(wanted) - set(existing))
    assert sorted(plan["updated"]) == expected_updates
    assert sorted(plan["deleted"]) == (sorted(set(existing) - set(wanted)) if prune else [])
    for change in plan["changes"]:
        if change["change"] == "update":
            old, new = existing[change["task"]], wanted[change["task"]]
            fields = [
                f
                for f, o, n in zip(["description", "schedule_config"], old, new, strict=True)
                if o != n
            ]
            assert change["fields"] == fields
    made = run_cli("apply", str(file), "--json", *extra)
    assert made.code == 0, made.err
    assert {**made.json(), "dry_run": True} == plan
    assert run_cli("apply", str(file), "--json", *extra).json()["changes"] == []
