"""Hooks (`--before`, `--after`) with real runners, on an SQLite state folder; the
scenarios that read the catalog's outcome (the environment, a stop) also on PostgreSQL
(the `backend` fixture; it skips without TAPESCHED_TEST_PG): the before hook gates the job,
the after hook follows every outcome the runner reaches, neither goes through a shell,
and both count inside the task's timeout."""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

import pytest
from helpers import wait_until

on_each_backend = pytest.mark.usefixtures("backend")

# The CLI runs in process (run_cli: the real entry point, without an interpreter's start-up
# for each command), except tick and stop, as cron and an operator run them; runners, hooks
# and jobs are real processes either way.

FUTURE = "2030-01-01 00:00"
DUE = "2030-01-01T00:00:10+00:00"

# A hook that saves its TAPESCHED_* environment, the result file's JSON and its mode, as
# one JSON file written atomically (a test may poll for it).
SEE = """
import json, os, sys
seen = {k: v for k, v in os.environ.items() if k.startswith("TAPESCHED_")}
if seen.get("TAPESCHED_RESULT"):
    with open(seen["TAPESCHED_RESULT"]) as result:
        seen["result"] = json.load(result)
    seen["mode"] = oct(os.stat(seen["TAPESCHED_RESULT"]).st_mode & 0o777)
with open(sys.argv[1] + ".tmp", "w") as out:
    json.dump(seen, out)
os.replace(sys.argv[1] + ".tmp", sys.argv[1])
"""


def seeing(path: Path) -> str:
    """A hook, as a string split like a shell would, that records what it sees in path."""
    return shlex.join([sys.executable, "-c", SEE, str(path)])


def seen(path: Path, timeout: float = 15) -> dict:
    wait_until(path.exists, timeout)
    return json.loads(path.read_text())


def last_run(run_cli, task: str) -> dict:
    result = run_cli("logs", task, "--json")
    assert result.code == 0, result.err
    return result.json()["logs"][0]


def output(run_cli, execution_id: str) -> str:
    result = run_cli("output", execution_id)
    assert result.code == 0, result.err
    return result.out


def wait_final(run_cli, task: str) -> dict:
    return wait_until(lambda: (e := last_run(run_cli, task))["status"] != "running" and e, 15)


@pytest.mark.parametrize(
    ("hook", "error"),
    [
        (
            "sh -c 'echo dumping; echo pg_dump: connection refused >&2; exit 3'",
            "before hook failed (exit 3): pg_dump: connection refused",
        ),
        (
            "sh -c 'echo about to die; kill -9 $$'",
            "before hook failed (killed by SIGKILL): about to die",
        ),
        (
            "/nonexistent/pg_dump --all",
            "before hook failed: command not found: /nonexistent/pg_dump",
        ),
    ],
    ids=["exit", "signal", "cannot-start"],
)
def test_a_failing_before_hook_fails_the_run_and_the_job_never_starts(
    run_cli, tmp_path, hook, error
):
    marker, after = tmp_path / "job-ran", tmp_path / "after.json"
    added = run_cli(
        "add", "dump", "--every", "1d", "--command", f"touch {marker}",
        "--before", hook, "--after", seeing(after),
    )  # fmt: skip
    assert added.code == 0, added.err
    result = run_cli("run", "dump", "--wait")
    assert result.code == 1
    run = last_run(run_cli, "dump")
    assert (run["status"], run["error_message"]) == ("failed", error)
    assert not marker.exists()
    log = output(run_cli, run["execution_id"])
    assert f"tapesched: before hook: {hook}\n" in log
    if "exit 3" in error:
        assert "dumping\npg_dump: connection refused\ntapesched: before hook exited with 3\n" in log
        assert run["result"]["before_hook"] == {"exit_code": 3, "error": error}
    # The after hook still runs (an unmount after a failed mount), told the failure.
    env = seen(after)
    assert (env["TAPESCHED_STATUS"], env["TAPESCHED_ERROR"]) == ("failed", error)
    assert env["result"] == run["result"]
    assert log.index("tapesched: after hook: ") < log.index("tapesched: finished: failed")


@on_each_backend
def test_hooks_see_the_run_in_their_environment(run_cli, tmp_path):
    before, after = tmp_path / "before.json", tmp_path / "after.json"
    added = run_cli(
        "add", "nightly", "--every", "1d", "--command", "sleep 0.3",
        "--before", seeing(before), "--after", seeing(after),
    )  # fmt: skip
    assert added.code == 0, added.err
    assert run_cli("run", "nightly", "--wait").code == 0
    run = last_run(run_cli, "nightly")
    log_path = run["log_path"]
    first, last = seen(before), seen(after)
    # The runner's environment (TAPESCHED_HOME, TAPESCHED_HOST, ...), plus the run's facts.
    inherited = {k: v for k, v in first.items() if k in os.environ or k in ("TAPESCHED_HOST",)}
    assert first == {
        **inherited,
        "TAPESCHED_TASK": "nightly",
        "TAPESCHED_EXECUTION_ID": run["execution_id"],
        "TAPESCHED_STATUS": "running",
        "TAPESCHED_ERROR": "",
        "TAPESCHED_OUTPUT": log_path,
        "TAPESCHED_HOOK": "before",
        "TAPESCHED_TRIGGER": "manual",
        "TAPESCHED_ATTEMPT": "1",
    }
    assert last["TAPESCHED_HOOK"] == "after" and last["TAPESCHED_STATUS"] == "success"
    assert (last["TAPESCHED_ERROR"], last["TAPESCHED_OUTPUT"]) == ("", log_path)
    assert last["TAPESCHED_EXECUTION_ID"] == run["execution_id"]
    assert 0.3 <= float(last["TAPESCHED_DURATION"]) <= run["duration"]
    assert Path(last["TAPESCHED_RESULT"]).name == f"{run['execution_id']}.json"
    assert last["result"] == run["result"] and last["mode"] == "0o600"
    log = output(run_cli, run["execution_id"])
    assert log.index("before hook exited with 0") < log.index("after hook: ")
    assert "tapesched: after hook exited with 0\n" in log


@pytest.mark.parametrize(
    ("command", "status", "hook", "problem"),
    [
        (
            "true",
            "success",
            "sh -c 'echo cannot eject >&2; exit 5'",
            {"exit_code": 5, "error": "exit 5: cannot eject"},
        ),
        (
            "sh -c 'exit 4'",
            "failed",
            "/nonexistent/eject",
            {"exit_code": None, "error": "could not start: command not found: /nonexistent/eject"},
        ),
    ],
    ids=["success-exit", "failed-cannot-start"],
)
def test_a_failing_after_hook_is_noted_and_the_outcome_stands(
    run_cli, command, status, hook, problem
):
    assert run_cli("add", "eject", "--every", "1d", "--command", command, "--after", hook).code == 0
    run_cli("run", "eject", "--wait")
    run = last_run(run_cli, "eject")
    assert run["status"] == status
    assert run["error_message"] == (None if status == "success" else "command exited with 4")
    assert run["result"]["after_hook"] == problem
    assert run["result"]["exit_code"] == (0 if status == "success" else 4)
    line = f"tapesched: after hook failed ({problem['error']}); the outcome stands: {status}\n"
    assert line in output(run_cli, run["execution_id"])
    assert run_cli("show", "eject", "--json").json()["status"] == (
        "active" if status == "success" else "error"
    )


def test_after_hook_runs_after_a_timeout_of_a_scheduled_run(run_cli, sh, tmp_path):
    after = tmp_path / "after.json"
    added = run_cli(
        "add", "slow", "--once", FUTURE, "--tz", "UTC", "--timeout", "1",
        "--command", "sleep 30", "--after", seeing(after),
    )  # fmt: skip
    assert added.code == 0, added.err
    assert sh("tick", "--now", DUE).code == 0
    env = seen(after)
    assert (env["TAPESCHED_STATUS"], env["TAPESCHED_ERROR"]) == ("failed", "timed out after 1s")
    assert env["TAPESCHED_TRIGGER"] == "schedule" and float(env["TAPESCHED_DURATION"]) >= 1
    run = wait_final(run_cli, "slow")
    assert (run["status"], run["error_message"]) == ("failed", "timed out after 1s")


@on_each_backend
def test_after_hook_runs_after_stop(run_cli, sh, tmp_path):
    after = tmp_path / "after.json"
    added = run_cli(
        "add", "long", "--every", "1d", "--command", "sleep 30", "--after", seeing(after)
    )
    assert added.code == 0, added.err
    assert run_cli("run", "long").code == 0
    wait_until(lambda: last_run(run_cli, "long")["job_pid"], 15)
    assert sh("stop", "long", "--grace", "1").code == 0
    env = seen(after)
    assert (env["TAPESCHED_STATUS"], env["TAPESCHED_ERROR"]) == ("cancelled", "stopped by operator")
    run = wait_final(run_cli, "long")
    assert (run["status"], run["error_message"]) == ("cancelled", "stopped by operator")
    assert "tapesched: after hook exited with 0\n" in output(run_cli, run["execution_id"])


def test_a_before_hook_counts_against_the_timeout(run_cli, tmp_path):
    marker, after = tmp_path / "job-ran", tmp_path / "after.json"
    added = run_cli(
        "add", "mount", "--every", "1d", "--timeout", "1", "--command", f"touch {marker}",
        "--before", "sleep 30", "--after", seeing(after),
    )  # fmt: skip
    assert added.code == 0, added.err
    assert run_cli("run", "mount", "--wait").code == 1
    run = last_run(run_cli, "mount")
    assert (run["status"], run["error_message"]) == ("failed", "timed out after 1s")
    assert not marker.exists()
    assert "tapesched: before hook stopped: timed out\n" in output(run_cli, run["execution_id"])
    assert seen(after)["TAPESCHED_STATUS"] == "failed"


def test_hooks_never_run_through_a_shell(run_cli, tmp_path):
    trap = tmp_path / "trap"
    hook = f"echo a ; touch {trap} '$(touch {trap})' `touch {trap}` && touch {trap}"
    added = run_cli(
        "add", "plain", "--every", "1d", "--command", "true", "--before", hook, "--after", hook
    )
    assert added.code == 0, added.err
    assert run_cli("run", "plain", "--wait").code == 0
    log = output(run_cli, last_run(run_cli, "plain")["execution_id"])
    said = f"a ; touch {trap} $(touch {trap}) `touch {trap}` && touch {trap}\n"
    assert log.count(said) == 2 and not trap.exists()


def test_a_list_form_hook_from_a_task_file(run_cli, tmp_path):
    out = tmp_path / "argument"
    program = 'import sys; open(sys.argv[2], "w").write(sys.argv[1])'
    tasks = tmp_path / "tasks.toml"
    tasks.write_text(
        "[[task]]\n"
        'task_name = "listed"\n'
        'schedule_type = "interval"\n'
        'schedule_config = { interval = 1, unit = "days" }\n'
        'action_type = "custom"\n'
        'action_config = { command = "true" }\n'
        f"hook_before = {json.dumps([sys.executable, '-c', program, 'a b; $(c)', str(out)])}\n"
    )
    applied = run_cli("apply", str(tasks))
    assert applied.code == 0, applied.err
    assert run_cli("run", "listed", "--wait").code == 0
    assert out.read_text() == "a b; $(c)"
    exported = run_cli("export").out
    assert "hook_before = [" in exported and "a b; $(c)" in exported


def test_cleanup_removes_the_result_files_of_the_executions_it_removes(run_cli, home, tmp_path):
    after = tmp_path / "after.json"
    assert (
        run_cli("add", "kept", "--every", "1d", "--command", "true", "--after", seeing(after)).code
        == 0
    )
    assert run_cli("run", "kept", "--wait").code == 0
    result_file = Path(seen(after)["TAPESCHED_RESULT"])
    assert result_file.exists()
    orphan = home / "results" / "00000000-dead-task.json"
    orphan.write_text("{}")
    old = 0  # 1970: older than any cutoff
    os.utime(orphan, (old, old))
    assert run_cli("delete", "kept", "--yes").code == 0
    os.utime(result_file, (old, old))
    added = run_cli("add", "prune", "--every", "1d", "--action", "cleanup", "--retention-days", "1")
    assert added.code == 0, added.err
    assert run_cli("run", "prune", "--wait").code == 0
    removed = last_run(run_cli, "prune")["result"]["result_files_removed"]
    assert sorted(removed) == sorted([str(orphan), str(result_file)])
    assert not orphan.exists() and not result_file.exists()
