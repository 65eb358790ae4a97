"""What people read: `list`, `logs`, `show` and `preview` (issue 9, class 7).

Tables stay tables at any width: one row per line, no line longer than the width (an
execution id, which is never cut, excepted), values cut with '…' and whole with --full.
Times have one form everywhere. Read-only commands never create a database.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers import dump
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.cells import cell_len

from tapesched.render import clean, stamp
from tapesched.store import executions
from tapesched.store.db import connect

STAMP = re.compile(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d{4}-\d\d-\d\d \d\d:\d\d:\d\d [A-Za-z0-9+-]+")
ID_WIDTH = 36
NAMES = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", fullmatch=True).filter(
    lambda name: not name.isdigit()
)
# Anything at all: newlines, escape sequences, wide and combining characters, bidi marks.
MESSAGES = st.text(max_size=300)
WIDTHS = st.integers(20, 300)
FEW = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture
def template(run_cli, home: Path, tmp_path: Path) -> Path:
    """An empty, initialised database to copy for each generated example."""
    assert run_cli("init").code == 0
    return home / "tapesched.db"


def fresh_copy(template: Path, tmp_path: Path) -> Path:
    folder = tmp_path / f"db-{uuid.uuid4().hex}"
    folder.mkdir()
    target = folder / "tapesched.db"
    shutil.copyfile(template, target)
    return target


def add_execution(
    db_path: Path,
    task_id: int,
    created: datetime,
    status: str = "failed",
    error: str = "",
    log_path: Path | None = None,
) -> str:
    execution_id = str(uuid.uuid4())
    database = connect(db_path)
    try:
        with database.write():
            executions.insert(
                database,
                {
                    "execution_id": execution_id,
                    "task_id": task_id,
                    "trigger": "manual",
                    "created_at": created,
                    "started_at": created,
                    "completed_at": created + timedelta(seconds=3),
                    "duration": 3.0,
                    "status": status,
                    "error_message": error or None,
                    "log_path": str(log_path) if log_path else None,
                },
            )
    finally:
        database.close()
    return execution_id


def lines_of(text: str) -> list[str]:
    assert text.endswith("\n")
    return text[:-1].split("\n")


def printable(line: str) -> bool:
    return all(char.isprintable() for char in line)


def test_list_stays_a_table_at_every_width(run_cli, template, tmp_path, monkeypatch):
    tried: list[int] = []

    @FEW
    @given(names=st.lists(NAMES, min_size=1, max_size=5, unique=True), width=WIDTHS)
    def check(names: list[str], width: int) -> None:
        tried.append(len(names))
        db = str(fresh_copy(template, tmp_path))
        for minute, name in enumerate(names):
            added = run_cli(
                "--db", db, "add", name, "--daily", f"03:{minute:02d}", "--command", "x"
            )
            assert added.code == 0, added.err
        monkeypatch.setenv("COLUMNS", str(width))
        cut = run_cli("--db", db, "list")
        assert cut.code == 0, cut.err
        rows = lines_of(cut.out)
        assert len(rows) == 1 + len(names)  # a header, then one line per task
        for line in rows:
            assert cell_len(line) <= width and printable(line), (width, line)
        whole = run_cli("--db", db, "list", "--full")
        rows = lines_of(whole.out)
        assert len(rows) == 1 + len(names)
        for line, name in zip(rows[1:], names, strict=True):  # by next run: 03:00, 03:01 ...
            assert f" {name} " in line

    check()
    print(f"list: {sum(tried)} generated task names at generated widths")


def test_logs_stay_a_table_at_every_width_and_ids_are_never_cut(
    run_cli, template, tmp_path, monkeypatch
):
    tried: list[int] = []

    @FEW
    @given(
        name=NAMES,
        messages=st.lists(MESSAGES, min_size=1, max_size=6),
        width=WIDTHS,
        one_task=st.booleans(),
    )
    def check(name: str, messages: list[str], width: int, one_task: bool) -> None:
        tried.append(len(messages) + 1)
        db = fresh_copy(template, tmp_path)
        added = run_cli("--db", str(db), "add", name, "--daily", "03:00", "--command", "x")
        assert added.code == 0, added.err
        start = datetime(2026, 11, 1, tzinfo=UTC)
        ids = [
            add_execution(db, 1, start + timedelta(hours=hour), error=message)
            for hour, message in enumerate(messages)
        ]
        newest_first = ids[::-1]
        where = [name] if one_task else []
        monkeypatch.setenv("COLUMNS", str(width))
        cut = run_cli("--db", str(db), "logs", *where)
        assert cut.code == 0, cut.err
        rows = lines_of(cut.out)
        assert len(rows) == 1 + len(ids)
        for line, execution_id in zip(rows[1:], newest_first, strict=True):
            assert execution_id in line  # whole, on its own row
            assert cell_len(line) <= max(width, ID_WIDTH) and printable(line), (width, line)
        whole = run_cli("--db", str(db), "logs", *where, "--full")
        rows = lines_of(whole.out)
        assert len(rows) == 1 + len(ids)
        for line, execution_id, message in zip(rows[1:], newest_first, messages[::-1], strict=True):
            assert execution_id in line and line.endswith(clean(message).rstrip())
            if not one_task:
                assert f" {name} " in line

    check()
    print(f"logs: {sum(tried)} generated names and error messages at generated widths")


def test_tables_without_a_terminal_or_columns_show_values_whole(run_cli, monkeypatch):
    long_name = "a-task-name-long-enough-to-be-cut-" + "x" * 30
    run_cli("add", long_name, "--daily", "02:00", "--command", "true")
    monkeypatch.delenv("COLUMNS")
    listed = run_cli("list")  # stdout is captured: not a terminal
    assert long_name in listed.out and "…" not in listed.out


def test_list_is_sorted_by_next_run_with_none_last(run_cli):
    run_cli("add", "b-late", "--daily", "23:00", "--command", "true", "--tz", "UTC")
    run_cli("add", "a-off", "--daily", "01:00", "--command", "true", "--disabled")
    run_cli("add", "c-early", "--daily", "00:30", "--command", "true", "--tz", "UTC")
    run_cli("add", "d-once", "--once", "2035-01-01 00:00", "--command", "true", "--tz", "UTC")
    data = run_cli("list", "--json").json()
    timed = sorted(
        (task for task in data["tasks"] if task["next_run_time"]),
        key=lambda task: datetime.fromisoformat(task["next_run_time"]),
    )
    expected = [task["task_name"] for task in timed] + ["a-off"]
    names = {task["task_name"] for task in data["tasks"]}
    rows = lines_of(run_cli("list").out)[1:]
    assert [next(n for n in names if f" {n} " in row) for row in rows] == expected
    # JSON keeps the order by id that scripts had
    assert [task["task_name"] for task in data["tasks"]] == ["b-late", "a-off", "c-early", "d-once"]


def test_times_have_one_form_in_list_show_and_logs(run_cli, home):
    run_cli("add", "berlin", "--daily", "01:00", "--command", "true", "--tz", "Europe/Berlin")
    task = run_cli("show", "berlin", "--json").json()
    next_run = datetime.fromisoformat(task["next_run_time"])
    expected = stamp(next_run, "Europe/Berlin")
    assert STAMP.fullmatch(expected) and expected.endswith(" 01:00:00 " + expected.split()[-1])
    assert expected.split()[-1] in ("CET", "CEST")
    assert expected in run_cli("list").out
    assert re.search(rf"^next run +{re.escape(expected)}$", run_cli("show", "berlin").out, re.M)
    add_execution(home / "tapesched.db", task["id"], next_run, "success")
    logged = lines_of(run_cli("logs").out)[1]
    assert logged.startswith(stamp(next_run, "Europe/Berlin"))
    for text in (run_cli("list").out, run_cli("show", "berlin").out, run_cli("logs").out):
        assert not re.search(r"\d\d:\d\d:\d\d\.\d", text)  # no microseconds
        assert not re.search(r"\d\dT\d\d", text)  # no ISO 'T' for people


def test_show_shows_everything_the_task_has(run_cli, home):
    added = run_cli(
        "add", "full-task", "--description", "nightly", "--weekly", "sun", "--at", "01:00",
        "--tz", "Europe/Berlin", "--action", "custom",
        "--action-config", '{"command": ["/usr/local/bin/report"], "device": "/srv/vtape"}',
        "--timeout", "3600", "--misfire", "skip", "--misfire-grace", "90", "--device-wait", "45",
        "--ping-url", "https://hc.example/ping/abc", "--notify-command", "page-oncall --now",
        "--notify-on", "always",
    )  # fmt: skip
    assert added.code == 0, added.err
    # Whatever a description holds (written by hand into the database), show prints it on
    # one line and never passes an escape sequence to the terminal.
    connection = sqlite3.connect(home / "tapesched.db")
    with connection:
        connection.execute("UPDATE tasks SET description = ?", ("nightly\nreport\x1b[2J",))
    connection.close()
    shown = run_cli("show", "full-task")
    assert shown.code == 0
    fields = {}
    for line in lines_of(shown.out):
        key, _, value = re.split(r"( {2,})", line, maxsplit=1)
        fields[key] = value
    assert fields["description"] == "nightly report [2J"
    assert fields["ping URL"] == "https://hc.example/ping/abc"
    assert fields["notify command"] == "page-oncall --now"
    assert fields["notify on"] == "always"
    assert fields["misfire"] == "skip" and fields["misfire grace"] == "90s"
    assert fields["device"] == "/srv/vtape" and fields["device wait"] == "45s"
    assert fields["timeout"] == "3600s"
    assert fields["timezone"] == "Europe/Berlin"
    assert "/usr/local/bin/report" in fields["action config"]
    assert fields["schedule (seed form)"].startswith("weekly ")
    for key in ("next run", "created", "updated"):
        assert STAMP.fullmatch(fields[key]), (key, fields[key])
    assert fields["last run"] == "never"
    data = run_cli("show", "full-task", "--json").json()
    assert data["device"] == "/srv/vtape" and data["notify_on"] == "always"


def test_preview_prints_like_systemd_analyze_calendar(run_cli):
    result = run_cli(
        "preview", "--daily", "02:30", "--tz", "Europe/Berlin", "--from", "2026-03-27", "-n", "4"
    )
    assert result.code == 0, result.err
    header, *runs = lines_of(result.out)
    assert header == "daily at 02:30 (Europe/Berlin)"
    assert runs == [
        "Fri 2026-03-27 02:30:00 CET",
        "Sat 2026-03-28 02:30:00 CET",
        "Sun 2026-03-29 03:00:00 CEST  moved past the DST gap (that local time does not exist)",
        "Mon 2026-03-30 02:30:00 CEST",
    ]
    back = run_cli(
        "preview", "--daily", "01:30", "--tz", "America/New_York", "--from", "2026-10-31 12:00",
        "-n", "2",
    )  # fmt: skip
    assert lines_of(back.out)[1:] == [
        "Sun 2026-11-01 01:30:00 EDT  in the repeated DST hour",
        "Mon 2026-11-02 01:30:00 EST",
    ]
    machine = run_cli(
        "preview", "--daily", "02:30", "--tz", "Europe/Berlin", "--from", "2026-03-27", "-n", "4",
        "--json",
    )  # fmt: skip
    assert machine.json()["runs"][2] == {"time": "2026-03-29T03:00:00+02:00", "note": "dst_gap"}


READ_ONLY = [
    ["list"],
    ["list", "--json"],
    ["show", "x"],
    ["logs"],
    ["logs", "x"],
    ["preview", "x"],
    ["output", "x"],
    ["output", "0123456789abcdef"],
]


@pytest.mark.parametrize("command", READ_ONLY, ids=" ".join)
def test_read_only_commands_never_create_a_database(run_cli, home, command):
    assert not home.exists()
    result = run_cli(*command)
    assert result.code == 5, result.err
    assert result.err.count("\n") == 1 and "tapesched init" in result.err
    assert str(home / "tapesched.db") in result.err
    assert not home.exists()


def test_read_only_commands_never_create_a_named_database_or_its_folder(sh, home, tmp_path):
    target = tmp_path / "elsewhere" / "deeper" / "t.db"
    for command in (["list"], ["logs"], ["show", "x"], ["preview", "x"], ["output", "x"]):
        result = sh("--db", str(target), *command)
        assert result.code == 5 and result.err.count("\n") == 1, (command, result.err)
        assert "Traceback" not in result.err
    assert not (tmp_path / "elsewhere").exists() and not home.exists()


def test_logs_across_tasks_newest_first_with_since_and_until(run_cli, home):
    run_cli("add", "one", "--daily", "01:00", "--command", "true", "--tz", "UTC")
    run_cli("add", "two", "--daily", "02:00", "--command", "true", "--tz", "Asia/Tokyo")
    db = home / "tapesched.db"
    base = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    made = [
        (add_execution(db, 1 + hour % 2, base + timedelta(hours=hour), "success"), hour)
        for hour in range(6)
    ]
    everything = run_cli("logs", "--json").json()
    assert everything["total"] == 6
    assert [entry["execution_id"] for entry in everything["logs"]] == [i for i, _ in made[::-1]]
    assert [entry["task_name"] for entry in everything["logs"]] == ["two", "one"] * 3
    window = run_cli(
        "logs", "--since", "2026-11-20 14:00", "--until", "2026-11-20T17:00:00+00:00", "--json"
    ).json()
    assert [entry["execution_id"] for entry in window["logs"]] == [
        made[4][0],
        made[3][0],
        made[2][0],
    ]
    offset = run_cli("logs", "two", "--since", "2026-11-20T23:00:00+09:00", "--json").json()
    assert [entry["execution_id"] for entry in offset["logs"]] == [made[5][0], made[3][0]]
    people = lines_of(run_cli("logs", "--limit", "2").out)
    assert people[0].split()[:2] == ["STARTED", "TASK"] and len(people) == 4
    assert people[-1] == "2 of 6; the next ones: --offset 2"
    assert "Sat 2026-11-21 02:00:00 JST" in people[1]  # in the task's own zone
    assert run_cli("logs", "--since", "2030-01-01").out == "no executions match\n"


@pytest.mark.parametrize("option", ["--since", "--until"])
def test_logs_refuses_bad_instants(run_cli, home, option):
    run_cli("init")
    before = dump(home / "tapesched.db")
    for value in ("", "   ", "yesterday", "2026-13-01"):
        result = run_cli("logs", option, value)
        assert result.code == 2 and result.err.count("\n") == 1 and option in result.err
    crossed = run_cli("logs", "--since", "2026-12-02", "--until", "2026-12-01")
    assert crossed.code == 2 and "--until" in crossed.err
    assert dump(home / "tapesched.db") == before


def test_empty_instants_are_refused_everywhere(run_cli, home):
    run_cli("add", "t", "--daily", "02:00", "--command", "true")
    before = dump(home / "tapesched.db")
    tried = 0

    @settings(max_examples=25, deadline=None)
    @given(blank=st.text(alphabet=" \t\n\r\x0b\x0c\u00a0\u2003", max_size=5))
    def check(blank: str) -> None:
        nonlocal tried
        for command in (["tick", "--now", blank], ["preview", "t", "--from", blank]):
            tried += 1
            result = run_cli(*command)
            assert result.code == 2, (command, result)
            assert result.err.count("\n") == 1 and "empty" in result.err

    check()
    print(f"blank instants: {tried} tried")
    assert dump(home / "tapesched.db") == before


def test_output_reads_a_task_as_its_latest_run(run_cli, home):
    run_cli("add", "one", "--daily", "01:00", "--command", "true")
    db = home / "tapesched.db"
    logs = home / "logs" / "one"
    logs.mkdir(parents=True, exist_ok=True)
    ids = []
    for day in range(3):
        path = logs / f"run-{day}.log"
        path.write_text(f"run {day}\n")
        created = datetime(2026, 11, 20 + day, tzinfo=UTC)
        ids.append(add_execution(db, 1, created, "success", log_path=path))
    add_execution(db, 1, datetime(2026, 11, 24, tzinfo=UTC), "skipped")  # a slot, not a run
    assert run_cli("output", "one").out == "run 2\n"
    assert run_cli("output", "1").out == "run 2\n"  # by task id too
    assert run_cli("output", ids[0]).out == "run 0\n"
    assert run_cli("output", ids[1][:8]).out == "run 1\n"
    # A task whose name is also the start of an execution id: the task wins, and says so.
    prefix = ids[0][:9]  # 'xxxxxxxx-': a valid task name, never all digits
    run_cli("add", prefix, "--daily", "01:00", "--command", "true")
    shadowed = run_cli("output", prefix)
    assert shadowed.code == 3 and "has no runs yet" in shadowed.err
    add_execution(db, 2, datetime(2026, 11, 25, tzinfo=UTC), "success")
    ambiguous = run_cli("output", prefix)
    assert "warning" in ambiguous.err and "whole execution id" in ambiguous.err
    assert run_cli("output", ids[0]).out == "run 0\n"  # the whole id still names the run
    missing = run_cli("output", "nothing-like-it")
    assert (
        missing.code == 3
        and missing.err == "tapesched: no such task or execution: nothing-like-it\n"
    )


def test_delete_without_a_terminal_needs_yes(run_cli, home):
    run_cli("add", "keep", "--daily", "02:00", "--command", "true")
    before = dump(home / "tapesched.db")
    refused = run_cli("delete", "keep")  # pytest's stdin is not a terminal
    assert refused.code == 2 and refused.err.count("\n") == 1 and "--yes" in refused.err
    assert dump(home / "tapesched.db") == before
    done = run_cli("delete", "keep", "--yes")
    assert done.code == 0 and done.out == "deleted task keep (id 1) and its history\n"


@pytest.mark.parametrize("grace", ["-1", "nan", "inf", "1e300"])
def test_grace_out_of_range_is_refused(run_cli, home, grace):
    run_cli("add", "keep", "--daily", "02:00", "--command", "true")
    before = dump(home / "tapesched.db")
    for command in (
        ["delete", "keep", "--yes", "--grace", grace],
        ["stop", "keep", "--grace", grace],
    ):
        result = run_cli(*command)
        assert result.code == 2 and result.err.count("\n") == 1 and "--grace" in result.err
    assert dump(home / "tapesched.db") == before


def test_edit_says_what_changed(run_cli):
    run_cli("add", "e", "--daily", "02:00", "--command", "true", "--tz", "UTC")
    result = run_cli("edit", "e", "--daily", "05:30", "--timeout", "60")
    assert result.code == 0, result.err
    assert result.out.startswith(
        "changed task e: schedule_config, next_run_time, timeout; next run "
    )
    assert re.search(r"next run \w{3} \d{4}-\d\d-\d\d 05:30:00 UTC\n$", result.out)


def test_logs_refuse_an_offset_sqlite_cannot_hold(run_cli, home):
    run_cli("init")
    result = run_cli("logs", "--offset", str(2**70))
    assert result.code == 2 and result.err.count("\n") == 1 and "--offset" in result.err
