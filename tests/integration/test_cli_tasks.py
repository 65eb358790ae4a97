"""Task management through the real entry point, on a real SQLite file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime

import pytest
from helpers import dump

from tapesched.hosts import this_host

SEED_FORMS = [
    ("once", {"datetime": "2030-12-25 14:30:00"}),
    ("interval", {"interval": 30, "unit": "minutes"}),
    ("daily", {"time": "02:00:00"}),
    ("weekly", {"day_of_week": 0, "time": "02:00:00"}),
    ("monthly", {"day_of_month": 31, "time": "02:00:00"}),
    ("yearly", {"month": 2, "day": 29, "time": "02:00:00"}),
    ("cron", {"cron": "0 2,14 * * *"}),
]

SHORTHANDS = [
    ("once", ["--once", "2030-12-25 14:30"]),
    ("interval", ["--every", "2h"]),
    ("daily", ["--daily", "02:00"]),
    ("weekly", ["--weekly", "mon,thu", "--at", "03:00"]),
    ("monthly", ["--monthly", "31", "--at", "02:00"]),
    ("yearly", ["--yearly", "02-29", "--at", "02:00"]),
    ("cron", ["--cron", "0 2 * * *"]),
]


@pytest.mark.parametrize(("kind", "config"), SEED_FORMS)
def test_add_seed_form_each_type(run_cli, kind, config):
    result = run_cli(
        "add",
        f"t-{kind}",
        "--schedule-type",
        kind,
        "--schedule-config",
        json.dumps(config),
        "--command",
        "true",
        "--timezone",
        "Europe/Berlin",
        "--json",
    )
    assert result.code == 0, result.err
    task = result.json()
    assert task["task_name"] == f"t-{kind}"
    assert task["schedule_type"] == kind
    assert task["timezone"] == "Europe/Berlin"
    assert task["action_type"] == "custom"
    assert datetime.fromisoformat(task["next_run_time"]).utcoffset() is not None
    assert task["status"] == "active" and task["enabled"] is True


@pytest.mark.parametrize(("kind", "options"), SHORTHANDS)
def test_add_shorthand_each_type(run_cli, kind, options):
    result = run_cli("add", f"s-{kind}", *options, "--command", "true", "--json")
    assert result.code == 0, result.err
    assert result.json()["schedule_type"] == kind
    shown = run_cli("show", f"s-{kind}", "--json").json()
    assert shown["schedule_type"] == kind


def test_add_prints_one_line_and_list_shows_it(run_cli):
    added = run_cli("add", "nightly", "--daily", "02:00", "--command", "echo hi")
    assert added.code == 0
    assert added.out.startswith("added task nightly (id 1); next run ")
    listed = run_cli("list")
    assert "nightly" in listed.out and "daily at 02:00" in listed.out
    data = run_cli("list", "--json").json()
    assert data["total"] == 1
    assert data["tasks"][0]["schedule_description"] == "daily at 02:00"


def test_show_by_name_and_by_id_agree(run_cli):
    run_cli("add", "a", "--daily", "02:00", "--command", "true")
    run_cli("add", "b", "--daily", "03:00", "--command", "true")
    by_name = run_cli("show", "b", "--json").json()
    by_id = run_cli("show", str(by_name["id"]), "--json").json()
    assert by_name == by_id and by_id["task_name"] == "b"
    people = run_cli("show", "b")
    assert "daily at 03:00" in people.out and "runs" in people.out


def test_edit_recomputes_next_run(run_cli):
    run_cli("add", "e", "--daily", "02:00", "--command", "true", "--tz", "UTC")
    before = run_cli("show", "e", "--json").json()["next_run_time"]
    edited = run_cli("edit", "e", "--daily", "05:30", "--json")
    assert edited.code == 0, edited.err
    after = edited.json()["next_run_time"]
    assert before.endswith("T02:00:00+00:00") and after.endswith("T05:30:00+00:00")
    assert (
        run_cli("edit", "e", "--timezone", "Asia/Tokyo", "--json")
        .json()["next_run_time"]
        .endswith("T05:30:00+09:00")
    )


def test_edit_changes_fields_and_renames(run_cli):
    run_cli("add", "old", "--daily", "02:00", "--command", "true")
    result = run_cli(
        "edit",
        "old",
        "--name",
        "new",
        "--description",
        "nightly job",
        "--timeout",
        "60",
        "--misfire",
        "skip",
        "--command",
        "echo changed",
        "--json",
    )
    assert result.code == 0, result.err
    task = result.json()
    assert task["task_name"] == "new" and task["description"] == "nightly job"
    assert task["timeout"] == 60 and task["misfire"] == "skip"
    assert task["action_config"]["command"] == "echo changed"
    assert run_cli("show", "old").code == 3


def test_disable_and_enable(run_cli):
    run_cli("add", "d", "--every", "30m", "--command", "true")
    disabled = run_cli("disable", "d", "--json").json()
    assert disabled["enabled"] is False and disabled["status"] == "inactive"
    assert disabled["next_run_time"] is None
    assert run_cli("list", "--enabled-only", "--json").json()["total"] == 0
    enabled = run_cli("enable", "d", "--json").json()
    assert enabled["enabled"] is True and enabled["status"] == "active"
    assert enabled["next_run_time"] is not None


def test_delete_removes_task_and_history(run_cli, home):
    run_cli("add", "gone", "--daily", "02:00", "--command", "true")
    result = run_cli("delete", "gone", "--yes")
    assert result.code == 0
    assert run_cli("show", "gone").code == 3
    assert run_cli("list", "--json").json()["total"] == 0


def test_preview_task_ten_runs_with_dst_marked(run_cli):
    run_cli("add", "p", "--daily", "02:30", "--command", "true", "--tz", "Europe/Berlin")
    result = run_cli("preview", "p", "--from", "2026-03-26 12:00", "--json")
    assert result.code == 0, result.err
    runs = result.json()["runs"]
    assert len(runs) == 10
    gap = [run for run in runs if run["note"] == "dst_gap"]
    assert [run["time"] for run in gap] == ["2026-03-29T03:00:00+02:00"]
    assert runs[0]["time"] == "2026-03-27T02:30:00+01:00"


def test_preview_schedule_options_fall_back(run_cli):
    result = run_cli(
        "preview",
        "--daily",
        "01:30",
        "--tz",
        "America/New_York",
        "--from",
        "2026-10-31 12:00",
        "--count",
        "3",
        "--json",
    )
    runs = result.json()["runs"]
    assert [run["time"] for run in runs] == [
        "2026-11-01T01:30:00-04:00",
        "2026-11-02T01:30:00-05:00",
        "2026-11-03T01:30:00-05:00",
    ]
    assert runs[0]["note"] == "dst_repeat"
    people = run_cli("preview", "--cron", "0 2 * * *", "--tz", "UTC", "--count", "2")
    assert "02:00:00 UTC" in people.out


def test_status_json_shape(run_cli):
    run_cli("add", "x", "--daily", "02:00", "--command", "true")
    data = run_cli("status", "--json").json()
    host = this_host()
    assert data == {
        "running": False,
        "ticking": False,
        "host": host,
        "total_tasks": 1,
        "enabled_tasks": 1,
        "running_executions": 0,
        "last_tick_time": None,
        "hosts": [
            {
                "name": host,
                "last_tick_time": None,
                "ticking": False,
                "running_executions": 0,
            }
        ],
    }


def test_init_prints_absolute_crontab_line(run_cli, home):
    result = run_cli("init")
    assert result.code == 0
    line = result.out.strip().splitlines()[-1]
    assert line.startswith(f"* * * * * TAPESCHED_HOME={home} /")
    assert line.endswith(" tick")
    assert (home / "tapesched.db").exists()
    assert (home / "locks").is_dir() and (home / "logs").is_dir()
    assert oct((home / "locks").stat().st_mode & 0o777) == "0o700"
    assert oct((home / "tapesched.db").stat().st_mode & 0o777) == "0o600"


def test_once_in_the_past_needs_force(run_cli):
    refused = run_cli("add", "late", "--once", "2020-01-01 00:00", "--command", "true")
    assert refused.code == 2 and "in the past" in refused.err
    forced = run_cli(
        "add", "late", "--once", "2020-01-01 00:00", "--command", "true", "--force", "--json"
    )
    assert forced.code == 0
    assert forced.json()["next_run_time"].startswith("2020-01-01T00:00:00")


BAD_INPUTS = [
    # (arguments after "add NAME", exit code, words the message must contain)
    (["--schedule-type", "daily", "--schedule-config", "{not json"], 2, "schedule_config"),
    (["--schedule-type", "hourly", "--schedule-config", "{}"], 2, "schedule_type"),
    (["--daily", "25:00"], 2, "25:00"),
    (["--daily", "2:7"], 2, "2:7"),
    (["--daily", "ab"], 2, "'ab'"),
    (
        ["--schedule-type", "weekly", "--schedule-config", '{"day_of_week": 7, "time": "02:00"}'],
        2,
        "day_of_week",
    ),
    (
        [
            "--schedule-type",
            "monthly",
            "--schedule-config",
            '{"day_of_month": 32, "time": "02:00"}',
        ],
        2,
        "day_of_month",
    ),
    (["--yearly", "02-30"], 2, "02-30"),
    (
        ["--schedule-type", "interval", "--schedule-config", '{"interval": 0, "unit": "minutes"}'],
        2,
        "interval",
    ),
    (
        ["--schedule-type", "interval", "--schedule-config", '{"interval": 5, "unit": "weeks"}'],
        2,
        "unit",
    ),
    (["--cron", "61 * * * *"], 2, "cron"),
    (["--daily", "02:00", "--timezone", "Mars/Olympus"], 2, "Mars/Olympus"),
    (["--action", "teleport", "--action-config", "{}", "--daily", "02:00"], 2, "action_type"),
    (["--action", "custom", "--action-config", "[1]", "--daily", "02:00"], 2, "action_config"),
    (
        ["--action", "backup", "--action-config", '{"device": "/srv/t"}', "--daily", "02:00"],
        2,
        "source_paths",
    ),
    (
        [
            "--action",
            "custom",
            "--action-config",
            '{"command": "x", "colour": 1}',
            "--daily",
            "02:00",
        ],
        2,
        "colour",
    ),
    (["--daily", "02:00", "--every", "5m", "--command", "true"], 2, "--daily"),
    (["--command", "true"], 2, "schedule"),
    (["--daily", "02:00"], 2, "action"),
    (["--daily", "02:00", "--command", "true", "--misfire", "later"], 2, "misfire"),
]


@pytest.mark.parametrize(("args", "code", "words"), BAD_INPUTS)
def test_bad_input_refused_cleanly(run_cli, home, args, code, words):
    run_cli("add", "existing", "--daily", "01:00", "--command", "true")
    before = dump(home / "tapesched.db")
    if "--command" not in args and "--action" not in args and args != ["--daily", "02:00"]:
        args = [*args, "--command", "true"]
    result = run_cli("add", "newtask", *args)
    assert result.code == code, (result.out, result.err)
    assert words in result.err
    assert result.err.count("\n") == 1 and result.err.startswith("tapesched: ")
    assert "Traceback" not in result.err
    assert result.out == ""
    assert dump(home / "tapesched.db") == before


def test_duplicate_name_is_conflict(run_cli, home):
    run_cli("add", "dup", "--daily", "01:00", "--command", "true")
    before = dump(home / "tapesched.db")
    result = run_cli("add", "dup", "--daily", "02:00", "--command", "true")
    assert result.code == 4 and "already taken" in result.err
    assert dump(home / "tapesched.db") == before
    run_cli("add", "other", "--daily", "01:00", "--command", "true")
    assert run_cli("edit", "other", "--name", "dup").code == 4


@pytest.mark.parametrize(
    "command",
    [
        ["show", "nope"],
        ["edit", "nope", "--daily", "02:00"],
        ["delete", "nope", "-y"],
        ["enable", "nope"],
        ["disable", "99"],
        ["preview", "nope"],
        ["logs", "nope"],
        ["run", "nope"],
        ["stop", "nope"],
    ],
)
def test_unknown_task_exit_3(run_cli, command):
    assert run_cli("init").code == 0  # read-only commands need a database to look in
    result = run_cli(*command)
    assert result.code == 3, result.err
    assert result.err.strip() == f"tapesched: no such task: {command[1]}"


def test_bad_task_name_refused(run_cli, home):
    assert run_cli("init").code == 0
    before = dump(home / "tapesched.db")
    for name in ("123", "has space", ".hidden", "a/b", "x" * 65, "nightly\n", "a\r", "\tb"):
        result = run_cli("add", name, "--daily", "02:00", "--command", "true")
        assert result.code == 2 and result.err.startswith("tapesched: task name: ")
        assert result.err.count("\n") == 1, result.err
        renamed = run_cli("edit", "1", "--name", name)
        assert renamed.code in (2, 3) and renamed.err.count("\n") == 1
    assert dump(home / "tapesched.db") == before


def test_a_name_with_a_trailing_newline_is_refused_through_a_real_process(sh, home):
    result = sh("add", "nightly\n", "--daily", "02:00", "--command", "true")
    assert result.code == 2
    assert result.err == (
        "tapesched: task name: 'nightly\\n' is not valid; expected 1-64 letters, digits, '.', "
        "'_' or '-', starting with a letter or digit and not all digits\n"
    )


def test_unknown_option_one_line_exit_2(run_cli):
    result = run_cli("add", "x", "--dayly", "02:00")
    assert result.code == 2
    assert result.err.count("\n") == 1 and "--dayly" in result.err


def test_corrupt_database_exit_5(run_cli, tmp_path):
    bad = tmp_path / "corrupt.db"
    bad.write_bytes(b"this is not a database at all" * 100)
    result = run_cli("--db", str(bad), "list")
    assert result.code == 5
    assert "corrupt" in result.err and result.err.count("\n") == 1
    assert bad.read_bytes() == b"this is not a database at all" * 100


def test_unwritable_database_location_exit_5(run_cli, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run_cli(
        "--db", str(blocker / "sub" / "t.db"), "add", "x", "--daily", "02:00", "--command", "true"
    )
    assert result.code == 5 and result.err.count("\n") == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="needs a non-root user: root ignores file modes")
def test_read_only_database_exit_5(run_cli, home):
    run_cli("add", "x", "--daily", "02:00", "--command", "true")
    db = home / "tapesched.db"
    before = dump(db)
    db.chmod(0o400)
    home.chmod(0o500)
    try:
        result = run_cli("add", "y", "--daily", "02:00", "--command", "true")
    finally:
        home.chmod(0o700)
        db.chmod(0o600)
    assert result.code == 5 and "cannot be written" in result.err
    assert dump(db) == before


def test_help_and_version_do_not_import_heavy_modules():
    probe = (
        "import sys\n"
        "from tapesched.cli import main\n"
        "try:\n"
        "    main(sys.argv[1:])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = [m for m in ('sqlmodel', 'sqlalchemy', 'croniter') if m in sys.modules]\n"
        "sys.stderr.write('HEAVY=' + ','.join(heavy))\n"
    )
    for args in (["--help"], ["--version"], ["add", "--help"]):
        done = subprocess.run(
            [sys.executable, "-c", probe, *args], capture_output=True, text=True, timeout=30
        )
        assert done.stderr.endswith("HEAVY="), (args, done.stderr)
    version = subprocess.run(
        [sys.executable, "-m", "tapesched", "--version"], capture_output=True, text=True, timeout=30
    )
    assert version.stdout.startswith("tapesched ")


# --------------------------------------------------------------------------- OSError at the edges


def test_a_file_where_the_state_folder_should_be_is_one_line_exit_5(run_cli, home, sh):
    home.parent.mkdir(parents=True, exist_ok=True)
    home.write_text("not a folder")
    for args in (["add", "x", "--daily", "02:00", "--command", "true"], ["init"], ["tick"]):
        for result in (run_cli(*args), sh(*args)):
            assert result.code == 5, (args, result)
            assert result.err == f"tapesched: {home}: not a folder; expected one\n"
    assert home.read_text() == "not a folder"


def test_a_file_where_logs_or_locks_should_be_is_one_line_exit_5(run_cli, home):
    assert run_cli("add", "x", "--daily", "02:00", "--command", "true").code == 0
    before = dump(home / "tapesched.db")
    for folder in ("logs", "locks", "snapshots"):
        (home / folder).rmdir()
        (home / folder).write_text("x")
        for args in (["tick"], ["run", "x"], ["add", "y", "--daily", "02:00", "--command", "true"]):
            result = run_cli(*args)
            assert result.code == 5, (folder, args, result)
            assert result.err == f"tapesched: {home / folder}: not a folder; expected one\n"
        (home / folder).unlink()
        (home / folder).mkdir(mode=0o700)
    assert dump(home / "tapesched.db") == before


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (
            OSError(28, "No space left on device", "/srv/state/logs/x.log"),
            "/srv/state/logs/x.log: No space left on device",
        ),
        (
            PermissionError(13, "Permission denied", "/srv/state/locks/tick.lock"),
            "/srv/state/locks/tick.lock: Permission denied",
        ),
        (OSError(30, "Read-only file system"), "{home}: Read-only file system"),
        (
            IsADirectoryError(21, "Is a directory", "/srv/x", None, "/srv/y"),
            "/srv/x -> /srv/y: Is a directory",
        ),
    ],
)
def test_an_os_error_escaping_a_command_is_one_line_exit_5(run_cli, home, monkeypatch, error, line):
    """Whatever command an OSError escapes from (the full command line or cron's fast path),
    the edge turns it into one line naming the path (else the state folder), exit 5."""
    from tapesched import tasks as operations
    from tapesched import tick as ticker

    def fail(*_args, **_kwargs):
        raise error

    monkeypatch.setattr(operations, "create_task", fail)
    monkeypatch.setattr(ticker, "tick", fail)
    expected = f"tapesched: {line.format(home=home)}\n"
    for args in (
        ["add", "x", "--daily", "02:00", "--command", "true"],
        ["tick"],
        ["tick", "--json"],
    ):
        result = run_cli(*args)
        assert (result.code, result.err) == (5, expected), args


def test_a_closed_standard_output_ends_quietly_with_exit_1(sh, home):
    """`tapesched export | head -0`: the reader is gone; exit 1 with nothing on stderr (as
    `yes | head -1` is quiet), and no complaint from the interpreter at exit."""
    assert sh("add", "t000", "--daily", "02:00", "--command", "true").code == 0
    for command in (["export"], ["list"], ["show", "t000", "--json"]):
        process = subprocess.Popen(
            [sys.executable, "-m", "tapesched", *command],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        process.stdout.close()
        err = process.stderr.read()
        assert (process.wait(timeout=60), err) == (1, ""), command


# --------------------------------------------------------------------------- recovery readers


@pytest.fixture
def chain(run_cli, tmp_path):
    """A backup task and two recovery tasks reading from it, one by name, one by id."""
    source, tape = tmp_path / "data", tmp_path / "vtape"
    source.mkdir()
    backup = run_cli("add", "nightly", "--daily", "01:00", "--source", str(source),
                     "--device", str(tape), "--json")  # fmt: skip
    assert backup.code == 0, backup.err
    for name, ref in (("restore-by-name", "nightly"), ("restore-by-id", str(backup.json()["id"]))):
        added = run_cli("add", name, "--daily", "03:00", "--from-task", ref,
                        "--target", str(tmp_path / name), "--disabled")  # fmt: skip
        assert added.code == 0, added.err
    return source, tape


@pytest.mark.parametrize(
    "change",
    [
        ["--device", "{tmp}/other-tape"],
        ["--source", "{tmp}/elsewhere"],
        ["--command", "true"],
        ["--action", "cleanup", "--action-config", '{"retention_days": 3}'],
        ["--action", "backup", "--action-config",
         '{"source_paths": ["{tmp}/data"], "device": "{tmp}/tape2"}'],
    ],
)  # fmt: skip
@pytest.mark.parametrize("ref", ["nightly", "1"])
def test_the_action_of_a_backup_a_recovery_reads_from_cannot_change(
    run_cli, home, tmp_path, chain, change, ref
):
    before = dump(home / "tapesched.db")
    result = run_cli("edit", ref, *[item.replace("{tmp}", str(tmp_path)) for item in change])
    assert result.code == 4, result
    assert result.err.startswith(
        "tapesched: action: recovery tasks restore-by-id, restore-by-name read from nightly "
        "(from_task); changing its "
    )
    assert result.err.endswith(
        "would make them restore another chain; point them at another backup task first, "
        "or add a new backup task\n"
    ) or result.err.endswith("would leave them no backup to restore; point them at another "
                             "backup task first, or add a new backup task\n")  # fmt: skip
    assert result.err.count("\n") == 1
    assert dump(home / "tapesched.db") == before


def test_what_keeps_the_chain_may_change_and_a_freed_backup_may_change(run_cli, tmp_path, chain):
    source, tape = chain
    for change in (["--level", "incremental"], ["--compress"], ["--exclude", "*.tmp"],
                   ["--device", f"{tape}/"], ["--timeout", "60"]):  # fmt: skip
        result = run_cli("edit", "nightly", *change)
        assert result.code == 0, (change, result.err)
    assert run_cli("delete", "restore-by-id", "--yes").code == 0
    refused = run_cli("edit", "nightly", "--device", str(tmp_path / "t3"))
    assert refused.code == 4 and refused.err == (
        "tapesched: action: recovery task restore-by-name reads from nightly (from_task); "
        "changing its sources or device would make it restore another chain; point it at "
        "another backup task first, or add a new backup task\n"
    )
    assert run_cli("edit", "restore-by-name", "--from-task", "other").code == 0
    assert run_cli("edit", "nightly", "--device", str(tmp_path / "t3")).code == 0


def test_renaming_a_backup_takes_its_recoveries_along(run_cli, chain):
    result = run_cli("edit", "nightly", "--name", "nightly-full")
    assert result.code == 0, result.err
    assert result.err == (
        "tapesched: warning: recovery task restore-by-name now reads from nightly-full "
        "(its from_task was nightly)\n"
    )
    by_name = run_cli("show", "restore-by-name", "--json").json()
    by_id = run_cli("show", "restore-by-id", "--json").json()
    assert by_name["action_config"]["from_task"] == "nightly-full"
    assert by_id["action_config"]["from_task"] == "1"
    refused = run_cli("edit", "nightly-full", "--command", "true")
    assert refused.code == 4 and "read from nightly-full (from_task); changing its action " in (
        refused.err
    )


@pytest.mark.parametrize(
    ("schedule", "config"),
    [
        (["--weekly", "sun,wed", "--at", "01:00"], {"day_of_week": [2, 6], "time": "02:30:00"}),
        (["--monthly", "31", "--at", "01:00"], {"day_of_month": 31, "time": "02:30:00"}),
        (["--yearly", "02-29", "--at", "01:00"], {"month": 2, "day": 29, "time": "02:30:00"}),
        (["--daily", "01:00"], {"time": "02:30:00"}),
    ],
)
def test_edit_at_keeps_the_days(run_cli, schedule, config):
    assert run_cli("add", "kept", *schedule, "--command", "true", "--tz", "UTC").code == 0
    edited = run_cli("edit", "kept", "--at", "02:30", "--json")
    assert edited.code == 0, edited.err
    task = edited.json()
    assert task["schedule_config"] == config
    assert task["next_run_time"].endswith("T02:30:00+00:00")


@pytest.mark.parametrize("schedule", [["--cron", "0 1 * * *"], ["--every", "2h"]])
def test_edit_at_on_a_schedule_without_a_time_of_day_is_refused(run_cli, home, schedule):
    assert run_cli("add", "timeless", *schedule, "--command", "true").code == 0
    before = dump(home / "tapesched.db")
    refused = run_cli("edit", "timeless", "--at", "02:30")
    assert refused.code == 2 and refused.err.count("\n") == 1
    assert refused.err.startswith("tapesched: --at: a ") and "no time of day" in refused.err
    assert dump(home / "tapesched.db") == before
