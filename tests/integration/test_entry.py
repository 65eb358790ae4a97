"""The entry point: cron's `tick` and the runner are dispatched before Typer, load nothing
heavy, and behave exactly as the full command line does."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import wait_until

from tapesched import entry as module

HEAVY = ("typer", "click", "rich", "sqlalchemy", "sqlmodel", "croniter", "pydantic")

FAST_TABLE = [
    # (arguments, environment, dispatched)
    (["tick"], {}, ("tick", None, "")),
    (["--db", "/srv/t.db", "tick"], {}, ("tick", "/srv/t.db", "")),
    (["--db=/srv/t.db", "tick"], {}, ("tick", "/srv/t.db", "")),
    (["_run", "abc-123"], {}, ("_run", None, "abc-123")),
    (["--db", "/srv/t.db", "_run", "abc-123"], {}, ("_run", "/srv/t.db", "abc-123")),
    (["tick"], {"TAPESCHED_MAX_CONCURRENT_RUNS": "8"}, ("tick", None, "")),
    # Anything else is the full parser's: options, mistakes, odd values.
    (["tick", "--now", "2030-01-01 00:00"], {}, None),
    (["tick", "--json"], {}, None),
    (["tick", "--help"], {}, None),
    (["tick", "extra"], {}, None),
    (["--db", "tick"], {}, None),
    (["--db", "--x", "tick"], {}, None),
    (["--db="], {}, None),
    (["tick"], {"TAPESCHED_MAX_CONCURRENT_RUNS": "0"}, None),
    (["tick"], {"TAPESCHED_MAX_CONCURRENT_RUNS": "many"}, None),
    (["tick"], {"TAPESCHED_MAX_CONCURRENT_RUNS": ""}, None),
    (["tick"], {"_TAPESCHED_COMPLETE": "complete_bash"}, None),
    (["_run"], {}, None),
    (["_run", "--help"], {}, None),
    (["_run", "a", "b"], {}, None),
    (["--version"], {}, None),
    ([], {}, None),
    (["list"], {}, None),
]


@pytest.mark.parametrize(("argv", "environ", "expected"), FAST_TABLE)
def test_fast_command(argv, environ, expected) -> None:
    assert module.fast_command(argv, environ) == expected


def probe(home: Path, *args: str) -> tuple[int, str, list[str]]:
    """Run the entry point in a fresh interpreter; return its exit code, stderr and the
    heavy modules it had loaded when it exited."""
    script = (
        "import atexit, sys\n"
        f"heavy = {HEAVY!r}\n"
        "atexit.register(lambda: sys.stderr.write("
        "'\\nLOADED=' + ','.join(m for m in heavy if m in sys.modules)))\n"
        "from tapesched.entry import main\n"
        "main(sys.argv[1:])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "TAPESCHED_HOME": str(home)},
        timeout=60,
    )
    err, _, loaded = done.stderr.rpartition("\nLOADED=")
    return done.returncode, err, [name for name in loaded.strip().split(",") if name]


def test_a_tick_with_nothing_due_loads_nothing_heavy(sh, home: Path) -> None:
    assert sh("add", "later", "--daily", "02:00", "--command", "true").code == 0
    code, err, loaded = probe(home, "tick")
    assert (code, err, loaded) == (0, "", [])


def test_a_tick_with_work_loads_no_parser_and_no_orm(sh, home: Path) -> None:
    assert sh("add", "due", "--once", "2020-01-01 00:00", "--force", "--command", "true").code == 0
    code, err, loaded = probe(home, "tick")
    assert (code, err) == (0, "")
    assert loaded == []
    logs = sh("logs", "due", "--json").json()["logs"]
    assert len(logs) == 1 and logs[0]["trigger"] == "catch_up"


def test_options_go_to_the_full_parser(home: Path) -> None:
    code, err, loaded = probe(home, "tick", "--max-concurrent", "0")
    assert code == 2 and "--max-concurrent: 0 is not valid" in err
    assert "typer" in loaded


def state(home: Path) -> list[tuple]:
    """What a tick leaves in the database, without its ids and instants (and the seconds
    a slot was missed by, which the wall clock moves)."""
    connection = sqlite3.connect(home / "tapesched.db")
    try:
        rows = connection.execute(
            "SELECT t.task_name, e.trigger, e.status, e.error_message, t.next_run_time "
            "FROM executions e JOIN tasks t ON t.id = e.task_id ORDER BY t.task_name"
        ).fetchall()
    finally:
        connection.close()
    return [(*row[:3], re.sub(r"\d+s", "Ns", row[3] or ""), row[4]) for row in rows]


def settled(home: Path) -> list[tuple] | None:
    """The state once no execution is running any more (None until then)."""
    rows = state(home)
    return rows if rows and all(row[2] != "running" for row in rows) else None


def test_both_paths_do_the_same(tmp_path: Path) -> None:
    """`tick` (dispatched early) and `tick --max-concurrent 4` (through Typer) on two equal
    folders: the same claims, skips, heartbeat, output and exit code."""
    results = []
    for name, extra in (("fast", []), ("full", ["--max-concurrent", "4"])):
        home = tmp_path / name
        env = {**os.environ, "TAPESCHED_HOME": str(home)}

        def cli(*args: str, env: dict = env) -> subprocess.CompletedProcess:
            return subprocess.run(
                [sys.executable, "-m", "tapesched", *args],
                capture_output=True,
                text=True,
                env=env,
                timeout=60,
            )

        for task, options in (
            ("a-due", ["--once", "2020-01-01 00:00", "--force"]),
            ("b-missed", ["--once", "2020-01-01 00:00", "--force", "--misfire", "skip"]),
            ("c-later", ["--once", "2099-01-01 00:00"]),
        ):
            added = cli("add", task, *options, "--tz", "UTC", "--command", "true")
            assert added.returncode == 0, added.stderr
        ticked = cli("tick", *extra)
        status = json.loads(cli("status", "--json").stdout)
        results.append((ticked.returncode, ticked.stdout, ticked.stderr, status["running"]))
        results.append(wait_until(lambda home=home: settled(home)))
    assert results[0] == results[2] == (0, "", "", True)
    assert results[1] == results[3]
    assert [row[:3] for row in results[1]] == [
        ("a-due", "catch_up", "success"),
        ("b-missed", "catch_up", "skipped"),
    ]


# --------------------------------------------------------------------------- hostile arguments


@pytest.mark.parametrize(
    "args",
    [
        ["--db", "/srv/\udcff/t.db", "tick"],
        ["--db=/srv/caf\udce9.db", "tick"],
        ["_run", "abc\udcff"],
        ["tick", "--now", "2030-01-01\udcff"],
        ["add", "x", "--description", "\udcff", "--daily", "02:00", "--command", "true"],
        ["show", "\udc80"],
    ],
)
def test_an_argument_that_is_not_utf8_is_refused_before_any_path(sh, run_cli, home, args):
    """Bytes that are not UTF-8 arrive as lone surrogates; whichever path the arguments take
    (cron's fast path or the full command line), one line, exit 2, nothing created."""
    index = next(number for number, arg in enumerate(args, start=1) if "\udc00" <= max(arg))
    from tapesched.errors import printable

    expected = (
        f"tapesched: argument {index} ('{printable(args[index - 1])}') is not valid UTF-8; "
        "names, paths, commands and other text must be UTF-8\n"
    )
    for result in (run_cli(*args), sh(*args)):
        assert (result.code, result.err, result.out) == (2, expected, "")
    assert not home.exists()


def test_a_state_folder_that_is_not_utf8_is_refused(sh, home, tmp_path):
    for env in ({"TAPESCHED_HOME": f"{tmp_path}/st\udcffate"},
                {"TAPESCHED_HOME": "", "TAPESCHED_DB": f"{tmp_path}/t\udcff.db"}):  # fmt: skip
        for args in (["tick"], ["list"], ["init"]):
            result = sh(*args, env=env)
            assert result.code == 2, (args, result)
            assert result.err.count("\n") == 1 and "is not valid UTF-8" in result.err
            assert result.err.startswith("tapesched: ")
    assert sorted(path.name for path in tmp_path.iterdir()) == []


def test_a_zero_length_database_stops_the_fast_tick(sh, home):
    home.mkdir(parents=True)
    (home / "tapesched.db").touch()
    code, err, loaded = probe(home, "tick")
    assert code == 5 and loaded == []
    assert err == (
        f"tapesched: database {home / 'tapesched.db'} is empty (0 bytes): corrupt or not a "
        "tapesched database; move it away, then run 'tapesched init'\n"
    )
    assert (home / "tapesched.db").read_bytes() == b""


def test_an_os_error_in_the_fast_path_is_one_line_exit_5(home):
    """A locks folder cron's tick cannot use: one line naming it, exit 5, no traceback."""
    home.mkdir(parents=True)
    (home / "locks").write_text("a file")
    code, err, _ = probe(home, "tick")
    assert (code, err) == (5, f"tapesched: {home / 'locks'}: not a folder; expected one\n")
