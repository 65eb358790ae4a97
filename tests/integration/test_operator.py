"""Operator tooling: task files (apply and export on each backend), metrics, the crontab
line, colour."""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path

import pytest
from helpers import dump

from tapesched.hosts import this_host

HOST = this_host()

TASKS = """
[[task]]
task_name = "nightly"
schedule_type = "daily"
schedule_config = { time = "02:00" }
timezone = "Europe/Berlin"
action_type = "custom"
action_config = { command = ["echo", "nightly run"] }
timeout = 3600

[[task]]
task_name = "weekly-full"
description = "full backup, Sundays"
schedule_type = "weekly"
schedule_config = { day_of_week = 6, time = "01:00:00" }
timezone = "UTC"
action_type = "custom"
action_config = { command = "true", device = "/srv/vtape" }
ping_url = "https://hc.example/ping/abc"
notify_command = "mail -s failed root"
"""


def write(tmp_path: Path, text: str, name: str = "tasks.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.usefixtures("backend")
def test_apply_creates_then_reapply_changes_nothing(run_cli, home, tmp_path):
    file = write(tmp_path, TASKS)
    first = run_cli("apply", str(file), "--json")
    assert first.code == 0, first.err
    assert first.json()["created"] == ["nightly", "weekly-full"]
    nightly = run_cli("show", "nightly", "--json").json()
    assert nightly["schedule_config"] == {"time": "02:00:00"}
    assert nightly["timeout"] == 3600
    assert nightly["next_run_time"][10:] in ("T02:00:00+01:00", "T02:00:00+02:00")
    before = dump()
    again = run_cli("apply", str(file), "--json").json()
    assert again["unchanged"] == ["nightly", "weekly-full"] and again["updated"] == []
    assert dump() == before


@pytest.mark.usefixtures("backend")
def test_apply_updates_by_name_and_recomputes_only_schedule_changes(run_cli, tmp_path):
    run_cli("apply", str(write(tmp_path, TASKS)))
    weekly_before = run_cli("show", "weekly-full", "--json").json()
    changed = TASKS.replace('time = "02:00"', 'time = "04:30"').replace(
        'description = "full backup, Sundays"', 'description = "full, Sundays"'
    )
    result = run_cli("apply", str(write(tmp_path, changed)), "--json").json()
    assert result["updated"] == ["nightly", "weekly-full"]
    assert run_cli("show", "nightly", "--json").json()["next_run_time"][11:16] == "04:30"
    weekly = run_cli("show", "weekly-full", "--json").json()
    assert weekly["description"] == "full, Sundays"
    assert weekly["next_run_time"] == weekly_before["next_run_time"]


@pytest.mark.usefixtures("backend")
def test_export_then_apply_is_a_no_op(run_cli, home, tmp_path):
    run_cli("add", "a", "--every", "45m", "--command", "echo 'quoted \"arg\"' ü")
    run_cli(
        "add",
        "b",
        "--cron",
        "*/5 1-3 * * 1-5",
        "--tz",
        "America/New_York",
        "--action",
        "custom",
        "--action-config",
        '{"command": ["x"], "env": {"A B": "c\\nd"}, "success_exit_codes": [0, 3]}',
        "--timeout",
        "60",
        "--misfire",
        "skip",
        "--misfire-grace",
        "30",
    )
    run_cli("add", "c", "--monthly", "31", "--at", "02:00", "--command", "true", "--disabled")
    exported = run_cli("export")
    assert exported.code == 0
    file = write(tmp_path, exported.out, "export.toml")
    before = dump()
    result = run_cli("apply", str(file), "--json").json()
    assert result["unchanged"] == ["a", "b", "c"]
    assert dump() == before
    assert run_cli("export").out == exported.out


@pytest.mark.usefixtures("backend")
def test_bad_file_refused_whole(run_cli, home, tmp_path):
    run_cli("apply", str(write(tmp_path, TASKS)))
    before = dump()
    bad = (
        TASKS.replace('time = "02:00"', 'time = "02:00"').replace(
            "day_of_week = 6", "day_of_week = 9"
        )
        + '\n[[task]]\ntask_name = "new-one"\n'
    )
    result = run_cli("apply", str(write(tmp_path, bad)))
    assert result.code == 2
    assert "task weekly-full" in result.err and "day_of_week" in result.err
    assert result.err.count("\n") == 1
    assert dump() == before


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[[task]]\ntask_name = 'x'\n", "schedule_type: required"),
        ("not toml at all [", "not valid TOML"),
        (
            TASKS + "\n[[task]]\ntask_name = 'nightly'\nschedule_type = 'daily'\n"
            "schedule_config = { time = '01:00' }\naction_type = 'custom'\n"
            "action_config = { command = 'true' }\n",
            "defined twice",
        ),
        (TASKS.replace("timeout = 3600", "timeout = 'soon'"), "timeout"),
        (TASKS.replace("timeout = 3600", "colour = 'red'"), "colour: unknown field"),
    ],
)
def test_bad_files_name_the_problem(run_cli, home, tmp_path, text, words):
    assert run_cli("init").code == 0
    result = run_cli("apply", str(write(tmp_path, text)))
    assert result.code == 2 and words in result.err
    assert run_cli("list", "--json").json()["total"] == 0


@pytest.mark.usefixtures("backend")
def test_apply_prune_deletes_tasks_not_in_the_file(run_cli, tmp_path):
    run_cli("add", "stray", "--daily", "05:00", "--command", "true")
    result = run_cli("apply", str(write(tmp_path, TASKS)), "--prune", "--yes", "--json").json()
    assert result["deleted"] == ["stray"]
    names = [t["task_name"] for t in run_cli("list", "--json").json()["tasks"]]
    assert names == ["nightly", "weekly-full"]


@pytest.mark.usefixtures("backend")
def test_apply_dry_run_changes_nothing(run_cli, home, tmp_path):
    run_cli("init")
    before = dump()
    result = run_cli("apply", str(write(tmp_path, TASKS)), "--dry-run")
    assert result.out == (
        "would create nightly\nwould create weekly-full\n"
        "2 would be created, 0 would be updated, 0 would be unchanged, 0 would be deleted\n"
    )
    assert dump() == before


SAMPLE = re.compile(r"^(tapesched_[a-z_]+)(\{[^}]*\})? (-?[0-9.]+)$")


def parse_metrics(text: str) -> tuple[dict, dict]:
    """Parse the exposition format line by line; fail on any line that is not valid."""
    families: dict[str, dict[str, str]] = {}
    samples: dict[tuple[str, str], float] = {}
    for line in text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            _, kind, name, rest = line.split(" ", 3)
            families.setdefault(name, {})[kind] = rest
            continue
        match = SAMPLE.match(line)
        assert match, f"not a valid sample line: {line!r}"
        name, labels, value = match.groups()
        assert name in families, f"sample before its # TYPE: {line}"
        samples[(name, labels or "")] = float(value)
    return families, samples


def test_metrics_parse_back(run_cli, sh, home, tmp_path):
    sh("add", "ok", "--every", "1d", "--command", "true")
    sh("add", "bad", "--every", "1d", "--command", "false")
    assert sh("run", "ok", "--wait").code == 0
    assert sh("run", "bad", "--wait").code == 1
    sh("tick")
    result = run_cli("metrics")
    families, samples = parse_metrics(result.out)
    assert all(set(f) == {"HELP", "TYPE"} for f in families.values())
    assert families["tapesched_task_runs_total"]["TYPE"] == "counter"
    assert (
        samples[("tapesched_task_runs_total", f'{{task="ok",host="{HOST}",result="success"}}')] == 1
    )
    assert (
        samples[("tapesched_task_runs_total", f'{{task="bad",host="{HOST}",result="failure"}}')]
        == 1
    )
    assert (
        samples[
            ("tapesched_task_history_executions", f'{{task="bad",host="{HOST}",status="failed"}}')
        ]
        == 1
    )
    assert samples[("tapesched_task_running", f'{{task="ok",host="{HOST}"}}')] == 0
    assert (
        "tapesched_task_last_success_timestamp_seconds",
        f'{{task="ok",host="{HOST}"}}',
    ) in samples
    assert (
        "tapesched_task_last_failure_timestamp_seconds",
        f'{{task="bad",host="{HOST}"}}',
    ) in samples
    assert ("tapesched_task_next_run_timestamp_seconds", f'{{task="ok",host="{HOST}"}}') in samples
    assert ("tapesched_task_last_duration_seconds", f'{{task="bad",host="{HOST}"}}') in samples
    assert samples[("tapesched_last_tick_timestamp_seconds", f'{{host="{HOST}"}}')] > 1.7e9
    target = tmp_path / "prom" / "tapesched.prom"
    target.parent.mkdir()
    assert run_cli("metrics", "--textfile", str(target)).code == 0
    assert parse_metrics(target.read_text())[1].keys() == samples.keys()
    assert [p.name for p in target.parent.iterdir()] == ["tapesched.prom"]


def test_metrics_label_escaping():
    from tapesched.metrics import label

    assert label('a"b\\c\nd') == 'a\\"b\\\\c\\nd'


@pytest.fixture
def fake_crontab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A crontab(1) stand-in keeping the table in a file (no cron daemon here)."""
    table = tmp_path / "crontab.txt"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "crontab"
    script.write_text(
        "#!/bin/sh\n"
        f'T="{table}"\n'
        'if [ "$1" = "-l" ]; then\n'
        '  [ -f "$T" ] || { echo "no crontab for $(id -un)" >&2; exit 1; }\n'
        '  cat "$T"; exit 0\n'
        "fi\n"
        'if [ "$1" = "-" ]; then cat > "$T"; exit 0; fi\n'
        "exit 2\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return table


def test_install_cron_is_idempotent(run_cli, fake_crontab):
    fake_crontab.write_text("MAILTO=ops\n0 3 * * * /usr/bin/other-job\n")
    first = run_cli("init", "--install-cron")
    assert first.code == 0 and "added to your crontab" in first.out
    lines = fake_crontab.read_text().splitlines()
    assert lines[:2] == ["MAILTO=ops", "0 3 * * * /usr/bin/other-job"]
    assert len(lines) == 3 and lines[2].startswith("* * * * * ") and lines[2].endswith(" tick")
    second = run_cli("init", "--install-cron")
    assert "already in your crontab" in second.out
    assert fake_crontab.read_text().splitlines() == lines


def test_install_cron_into_an_empty_crontab_and_replaces_an_old_line(run_cli, fake_crontab, home):
    assert run_cli("init", "--install-cron").code == 0
    assert len(fake_crontab.read_text().splitlines()) == 1
    old = f"* * * * * TAPESCHED_HOME={home} /old/venv/bin/tapesched tick"
    other = "* * * * * /old/venv/bin/tapesched tick"  # another state folder's: kept
    fake_crontab.write_text(f"{old}\n{other}\n")
    result = run_cli("init", "--install-cron")
    assert "replaced this state folder's line" in result.out and f"- {old}" in result.out
    [line, kept] = fake_crontab.read_text().splitlines()
    assert "/old/venv" not in line and kept == other


def test_install_cron_without_crontab_says_so(run_cli, tmp_path, monkeypatch):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    result = run_cli("init", "--install-cron")
    assert result.code == 1 and "no crontab command" in result.err


def test_no_color_wins_over_a_terminal_request(sh):
    sh("add", "c", "--daily", "02:00", "--command", "true")
    coloured = sh("list", env={"FORCE_COLOR": "1"})
    assert "\x1b[" in coloured.out
    plain = sh("list", env={"FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert "\x1b[" not in plain.out and "active" in plain.out
    piped = sh("list")
    assert "\x1b[" not in piped.out


def test_systemd_examples_run_tick(tmp_path):
    root = Path(__file__).resolve().parents[2]
    service = (root / "examples" / "tapesched-tick.service").read_text()
    timer = (root / "examples" / "tapesched-tick.timer").read_text()
    assert re.search(r"^ExecStart=/\S+tapesched tick$", service, re.M)
    assert "Type=oneshot" in service
    assert "OnCalendar=*-*-* *:*:00" in timer
    if subprocess.run(["which", "systemd-analyze"], capture_output=True).returncode == 0:
        done = subprocess.run(
            ["systemd-analyze", "calendar", "*-*-* *:*:00"], capture_output=True, text=True
        )
        assert done.returncode == 0


# --------------------------------------------------------------------------- hostile task files

BASE_TASK = (
    'task_name = "h"\nschedule_type = "daily"\nschedule_config = { time = "02:00" }\n'
    'timezone = "UTC"\naction_type = "custom"\n'
)


def deep_toml(levels: int) -> str:
    return "x = " + "[" * levels + "]" * levels + "\n"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("task = 5\n", "'task' is a number; expected an array of tables ([[task]])"),
        ('task = "x"\n', "'task' is a string; expected an array of tables ([[task]])"),
        ("task = true\n", "'task' is true or false; expected an array of tables ([[task]])"),
        ("task = 1979-05-27\n", "'task' is a date or time; expected an array of tables ([[task]])"),
        ('task = [1, "x"]\n', "task #1 is a number, not a table; expected [[task]]"),
        ("task = [[1]]\n", "task #1 is an array, not a table; expected [[task]]"),
        ('[task]\ntask_name = "a"\n', "'task' is a single table ([task]); expected an array of "
         "tables: write [[task]] before each task"),
        ("[task.x]\ny = 1\n", "'task' is a single table ([task]); expected an array of "
         "tables: write [[task]] before each task"),
        (deep_toml(5000), "arrays or tables nested too deeply to read; expected at most 32 levels"),
        ("x = " + "{a = " * 3000 + "1" + "}" * 3000 + "\n",
         "arrays or tables nested too deeply to read; expected at most 32 levels"),
        ("[[task]]\n" + BASE_TASK + "action_config = { command = " + "[" * 40 + '"x"' + "]" * 40
         + " }\n", "task h: action_config: nested deeper than 32 levels; expected at most 32 "
         "levels of lists and tables"),
        ("[[task]]\n" + BASE_TASK + "description = " + "[" * 100 + "]" * 100
         + '\naction_config = { command = "true" }\n',
         "task h: description: nested deeper than 32 levels; expected at most 32 levels of "
         "lists and tables"),
        ("[[task]]\n" + BASE_TASK + "timeout = " + "9" * 5000 + "\n", "not valid TOML"),
        ("[[task]]\n" + BASE_TASK + "timeout = 99999999999999999999999\n"
         'action_config = { command = "true" }\n', "task h: timeout: 99999999999999999999999 "
         "is not valid; expected a whole number of seconds, 1-315360000 (ten years)"),
        ("[[task]]\n" + BASE_TASK + 'description = "\\ud800"\n', "not valid TOML"),
        ("[[task]]\n" + BASE_TASK.replace('"h"', '"a\\nb"') + "action_config = { command = 'x' }\n",
         "task a\\nb: task name: 'a\\nb' is not valid"),
        ("[[task]]\n" + BASE_TASK.replace('"custom"', "{ a = 1 }")
         + "action_config = { command = 'true' }\n",
         "task h: action_type: {'a': 1} is unknown; expected one of backup, recovery"),
        ("[[task]]\n" + BASE_TASK + "device_wait = inf\naction_config = { command = 'true' }\n",
         "task h: device_wait: inf is not valid; expected a whole number of seconds, 0-86400"),
    ],
)  # fmt: skip
def test_a_hostile_task_file_is_one_line_and_changes_nothing(run_cli, home, tmp_path, text, line):
    run_cli("apply", str(write(tmp_path, TASKS)))
    before = dump()
    file = write(tmp_path, text, "hostile.toml")
    result = run_cli("apply", str(file))
    assert result.code == 2, result
    assert result.err.startswith(f"tapesched: {file}: ")
    assert line in result.err and result.err.count("\n") == 1, result.err
    assert "Traceback" not in result.err
    assert dump() == before


@pytest.mark.usefixtures("backend")
def test_a_task_file_once_in_the_past_is_refused_as_add_refuses_it(run_cli, home, tmp_path):
    run_cli("init")
    before = dump()
    text = TASKS + (
        '\n[[task]]\ntask_name = "late"\nschedule_type = "once"\n'
        'schedule_config = { datetime = "2020-01-01 00:00" }\ntimezone = "UTC"\n'
        'action_type = "custom"\naction_config = { command = "true" }\n'
    )
    file = write(tmp_path, text)
    for extra in ([], ["--dry-run"]):
        result = run_cli("apply", str(file), *extra)
        assert result.code == 2
        assert result.err == (
            f"tapesched: {file}: task late: schedule_config.datetime: 2020-01-01 00:00:00 is in "
            "the past; give a future time, or --force to accept it (it then runs at the next "
            "tick)\n"
        )
        assert dump() == before
    forced = run_cli("apply", str(file), "--force", "--json")
    assert forced.code == 0 and forced.json()["created"] == ["nightly", "weekly-full", "late"]


RECOVERY_FILE = """
[[task]]
task_name = "nightly"
schedule_type = "daily"
schedule_config = {{ time = "01:00" }}
timezone = "UTC"
action_type = "backup"
action_config = {{ source_paths = ["{tmp}/data"], device = "{device}" }}

[[task]]
task_name = "restore"
schedule_type = "daily"
schedule_config = {{ time = "03:00" }}
timezone = "UTC"
enabled = false
action_type = "recovery"
action_config = {{ from_task = "{reader}", target_path = "{tmp}/restore" }}
"""


@pytest.mark.usefixtures("backend")
def test_apply_cannot_change_the_chain_a_recovery_reads_from(run_cli, home, tmp_path):
    def file(device: str, reader: str = "nightly") -> str:
        text = RECOVERY_FILE.format(tmp=tmp_path, device=device, reader=reader)
        return str(write(tmp_path, text))

    assert run_cli("apply", file(f"{tmp_path}/tape")).code == 0
    before = dump()
    for reader in ("nightly", "1"):
        for extra in ([], ["--dry-run"]):
            result = run_cli("apply", file(f"{tmp_path}/tape2", reader), *extra)
            assert result.code == 4, result
            assert result.err.startswith(
                f"tapesched: {tmp_path}/tasks.toml: task nightly: action: recovery task restore "
                "reads from nightly (from_task); changing its sources or device"
            )
            assert dump() == before
    # The same file pointing the recovery elsewhere changes both at once.
    assert run_cli("apply", file(f"{tmp_path}/tape2", "other")).code == 0
