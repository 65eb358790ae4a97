"""Hostile input through the real entry point: every command and option the command line has.

Arguments are generated (hypothesis): text with control characters, bytes that are not
UTF-8 (lone surrogates, as Python hands them over), numbers too large for SQLite or a
date, JSON nested past any parser's limit, instants at the ends of the calendar, odd
zones, unknown options, task files that are not what `apply` expects. The commands and
their options are read from the command line itself, so an option added later is tried
too. For every input:

- the exit code is a documented one (0-5);
- no traceback;
- a refusal is exactly one line on stderr, `tapesched: ...` (warnings aside), and leaves
  the database as it was (tests/helpers.py `dump`).

Left out, because they act outside the test's folder or start processes: `run` and the
hidden runner `_run` (they spawn runners), `tick` without `--dry-run` (it launches due
tasks), `init --install-cron`/`--uninstall-cron` (the user's crontab), `output --follow`,
`run --wait`; `metrics --textfile` is tried only with paths under the test's folder;
every trial runs in the test's folder.

Each test collects every input that does not hold and fails listing them; run with `-s`
to see how many inputs were tried and held.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from helpers import dump
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from speed_helpers import build_parser_once

DOCUMENTED = {0, 1, 2, 3, 4, 5}
SKIPPED_COMMANDS = {"run", "_run"}
# --textfile writes a file where it is told: its hostile values are tried by
# test_metrics_textfile_stays_in_its_folder, inside the test's folder only, never here,
# where a value such as ../../etc/passwd would name a real file.
SKIPPED_OPTIONS = {
    "--install-cron", "--uninstall-cron", "--follow", "--wait", "--help", "-h", "--textfile",
}  # fmt: skip
TALLY: dict[str, tuple[int, int]] = {}

# ----------------------------------------------------------------------------- strategies

NO_NUL = st.characters(codec=None, exclude_categories=()).filter(lambda char: char != "\x00")
CONTROL = st.characters(min_codepoint=1, max_codepoint=0x1F) | st.sampled_from("\x7f\x85\x9b")
NOT_UTF8 = st.characters(min_codepoint=0xDC80, max_codepoint=0xDCFF)  # argv's surrogateescape
SHARP = st.sampled_from(list("ab/.-_ '\"\\{}[]%?#*$;|&<>=:,@~`!") + ["ü", "\u202e", "\ufeff"])

HOSTILE_TEXT = st.one_of(
    st.text(NO_NUL, max_size=16),
    st.text(st.one_of(CONTROL, NOT_UTF8, SHARP), min_size=1, max_size=12),
    st.sampled_from(
        ["", " ", "\n", "\t", "-", "--", "-x", "--bogus", "--json=1", "../../etc/passwd",
         "/dev/null", "/", ".", "nightly\n", "\nnightly", "nightly", "1", "0", "-1", "9" * 40,
         "x" * 3000, "$(touch /tmp/pwned)", "; rm -rf /", "%s%n", "\u0085", "\udcff", "a\udc80b"]
    ),
)  # fmt: skip
HUGE_NUMBER = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(
        [str(2**63), str(2**63 - 1), str(-(2**63) - 1), "9" * 5000, "1e999", "-1e999", "inf",
         "nan", "-0", "0x10", " 5", "5 ", "\u0663", "1_000", "0", "-1", "86401", "315360001"]
    ),
)  # fmt: skip


def deep_json(levels: int) -> st.SearchStrategy[str]:
    return st.sampled_from(
        [
            "[" * levels + "]" * levels,
            '{"a":' * levels + "1" + "}" * levels,
            '{"command": ' + "[" * levels + '"x"' + "]" * levels + "}",
            '{"command": "true", "env": ' + '{"a": ' * levels + '"b"' + "}" * levels + "}",
        ]
    )


JSON_TEXT = st.one_of(
    st.integers(min_value=1, max_value=3000).flatmap(deep_json),
    st.sampled_from(
        ["{}", "[]", "null", "1", '"x"', "{", '{"command": "true"}', '{"command": "\\udcff"}',
         '{"command": "true", "env": {"\\ud800": "x"}}', '{"min_free_mb": Infinity}',
         '{"min_free_mb": NaN}', '{"retention_days": 1e999}', '{"min_free_mb": ' + "9" * 5000 + "}",
         '{"interval": 99999999999999999999, "unit": "minutes"}', '{"interval": 1, "unit": "x"}',
         '{"datetime": "9999-12-31 23:59:59"}', '{"datetime": "0001-01-01 00:00"}',
         '{"time": "25:00"}', '{"cron": "0 0 31 2 *"}', '{"day_of_week": [0, 0, 99]}',
         '{"source_paths": ["/srv/\\udcff"], "device": "/srv/t"}',
         '{"from_task": "nightly", "target_path": "/tmp/x"}',
         '{"source_paths": ["/srv"], "pool": "../x", "library": "vlib"}',
         '{"source_paths": ["/srv"], "pool": "weekly", "library": "vlib", "drive": 99}',
         '{"source_paths": ["/srv"], "pool": "scratch", "device": "/srv/d"}',
         '{"source_paths": ["/srv"], "library": "vlib"}', '{"volume": "VLIB001\\n"}',
         '{"from_task": "nightly", "volume": "VLIB001"}', '{"volume": "x", "restore_test": 1}']
    ),
    HOSTILE_TEXT,
)  # fmt: skip
INSTANT = st.one_of(
    st.sampled_from(
        ["", " ", "now", "NOW", "0001-01-01T00:00-05:00", "0001-01-01T00:00+05:00",
         "9999-12-31T23:59+14:00", "9999-12-31T23:59-12:00", "9999-12-31 23:59", "9998-12-31",
         "1969-12-31T23:59Z", "2026-13-01", "2026-02-29", "2026-03-29 02:30", "24:00", "T",
         "2026-03-29T02:30:00+25:00", "2026-11-01 01:30", "+999999-01-01"]
    ),
    st.datetimes().map(str),
    HOSTILE_TEXT,
)  # fmt: skip
ZONE = st.one_of(
    st.sampled_from(
        ["", " ", "UTC", "Europe/Berlin", "America/New_York", "Mars/Olympus", "../../etc/passwd",
         "/etc/localtime", "Etc/GMT+14", "Etc/GMT-14", "Etc/GMT+12", "posix/Europe/Berlin",
         "right/UTC", "Factory", "localtime", "UTC\n", "utc", "EST5EDT", "Pacific/Kiritimati",
         "Asia/Kathmandu", "Australia/Lord_Howe", "+05:00", "Z", "\x7f", "x" * 300, "Europe"]
    ),
    HOSTILE_TEXT,
)  # fmt: skip
SCHEDULE_WORD = st.one_of(
    st.sampled_from(
        ["99999999999999999999m", "0m", "-5m", "1e9d", "9999999d", "36500d", "1w", "30", "m",
         "mon,mon", "sun", "mon,thu", "0", "7", "32", "31", "02-29", "02-30", "13-01", "00-00",
         "25:00", "2:7", "23:59:60", "02:00", "@hourly", "@reboot", "@yearly", "* * * * * *",
         "*/0 * * * *", "0 0 31 2 *", "0 2 * * 0-7", "61 * * * *", "0 2 * * mon#9",
         "9999-12-31 23:59", "9999-12-31 23:59:59", "0001-01-01 00:00", "2020-01-01 00:00"]
    ),
    HOSTILE_TEXT,
    HUGE_NUMBER,
)  # fmt: skip

FOCUSED = {
    **dict.fromkeys(
        ["--timeout", "--misfire-grace", "--device-wait", "--retention-days", "--count", "-n",
         "--limit", "--offset", "--max-concurrent", "--grace"], HUGE_NUMBER),
    **dict.fromkeys(["--schedule-config", "--action-config"], JSON_TEXT),
    **dict.fromkeys(["--now", "--from", "--once", "--since", "--until"], INSTANT),
    **dict.fromkeys(["--timezone", "--tz"], ZONE),
    **dict.fromkeys(
        ["--every", "--daily", "--weekly", "--monthly", "--yearly", "--cron", "--at"],
        SCHEDULE_WORD),
}  # fmt: skip


# One of each class of fault, for any option: text that is not UTF-8, control characters,
# numbers past SQLite and dates, JSON past any parser, empty and option-like values.
CLASSES = st.one_of(
    st.tuples(st.text(SHARP, max_size=3), st.text(NOT_UTF8, min_size=1, max_size=2)).map("".join),
    st.tuples(st.text(SHARP, max_size=3), st.text(CONTROL, min_size=1, max_size=2)).map("".join),
    HUGE_NUMBER,
    st.integers(min_value=33, max_value=3000).flatmap(deep_json),
    st.sampled_from(["", " ", "-", "--bogus", "x" * 3000, "9999-12-31 23:59", "0001-01-01"]),
)


def value_for(option: str) -> st.SearchStrategy[str]:
    focused = FOCUSED.get(option)
    if focused is None:
        return st.one_of(CLASSES, CLASSES, HOSTILE_TEXT, JSON_TEXT)
    return st.one_of(focused, focused, CLASSES, HOSTILE_TEXT)


# Options that name a place on this machine where a library or a label is made: tried by
# test_media_places_stay_in_their_folder, under the test's folder only.
SKIPPED_HERE = {"library add": {"--path", "--changer", "--drive"}, "media label": {"--device"}}


def commands() -> dict[str, list[tuple[str, bool]]]:
    """Each command the command line has (a group's as "group command"), with its options
    as (option, takes a value)."""
    from tapesched.cli import app

    found = {}

    def walk(group, prefix: str) -> None:  # noqa: ANN001 - a click group
        for name, command in group.commands.items():
            full = f"{prefix}{name}"
            if name in SKIPPED_COMMANDS:
                continue
            if hasattr(command, "commands"):
                walk(command, f"{full} ")
                continue
            options = []
            for param in command.params:
                if param.param_type_name != "option":
                    continue
                for option in param.opts + list(param.secondary_opts):
                    if option not in SKIPPED_OPTIONS | SKIPPED_HERE.get(full, set()):
                        options.append((option, not param.is_flag))
            found[full] = options

    walk(typer.main.get_command(app), "")
    return found


# ----------------------------------------------------------------------------- the trial


@pytest.fixture(autouse=True)
def _parser_built_once(monkeypatch):
    """The in-process CLI (run_cli) builds its parser once per test, not once per input:
    each input costs what parsing and running it costs, as in a real process."""
    build_parser_once(monkeypatch)


@pytest.fixture
def world(run_cli, home, tmp_path, monkeypatch):
    """A state folder with tasks of each kind, and one finished run. The trials run in the
    test's folder, so that a relative path among the hostile values names nothing else."""
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "data"
    data.mkdir()
    (data / "f").write_text("x")
    setup = [
        ["init"],
        ["add", "nightly", "--daily", "01:00", "--source", str(data), "--device",
         str(tmp_path / "vtape")],
        ["add", "restore", "--daily", "03:00", "--from-task", "nightly", "--target",
         str(tmp_path / "restore"), "--disabled"],
        ["add", "hourly", "--every", "1h", "--command", "true"],
        ["add", "prune", "--action", "cleanup", "--retention-days", "30", "--weekly", "sun",
         "--at", "04:00"],
        ["pool", "add", "weekly", "--retention-days", "7"],
        ["library", "add", "vlib", "--path", str(tmp_path / "vlib"), "--slots", "3",
         "--capacity", "1M"],
        ["media", "label", "VLIB001", "--pool", "scratch", "--library", "vlib", "--slot", "1"],
        ["add", "to-pool", "--daily", "05:00", "--source", str(data), "--pool", "weekly",
         "--library", "vlib"],
    ]  # fmt: skip
    for args in setup:
        assert run_cli(*args).code == 0, args
    return {"execution": "0123456789abcdef", "db": home / "tapesched.db"}


@pytest.fixture
def ran(run_cli, world):
    """The world with one finished run of `hourly` (for logs and output)."""
    done = run_cli("run", "hourly", "--wait")
    assert done.code == 0, done
    return {**world, "execution": done.out.strip()}


def refs(world: dict) -> st.SearchStrategy[str]:
    known = ["nightly", "restore", "hourly", "prune", "to-pool", "1", "2", "3", "4", "99"]
    return st.one_of(st.sampled_from(known), HOSTILE_TEXT, HUGE_NUMBER)


def media_names(*known: str) -> st.SearchStrategy[list[str]]:
    """A pool, library or volume name: a known one, a fresh one, or hostile."""
    fresh = st.sampled_from(["fresh", "VLIB002", "a.b_c-d", "scratch", "x" * 33])
    return st.one_of(st.sampled_from(known), fresh, HOSTILE_TEXT, CLASSES).map(lambda n: [n])


SCHEDULE_OPTIONS = {"--schedule-type", "--schedule-config", "--once", "--every", "--daily",
                    "--weekly", "--monthly", "--yearly", "--cron", "--at"}  # fmt: skip
ACTION_OPTIONS = {"--action", "--action-config", "--source", "--device", "--level",
                  "--compress", "--exclude", "--command", "--from-task", "--target",
                  "--retention-days", "--pool", "--library", "--levels"}  # fmt: skip
SCHEDULE_TYPES = st.sampled_from(["once", "interval", "daily", "weekly", "monthly", "yearly",
                                  "cron"]) | HOSTILE_TEXT  # fmt: skip
ACTION_TYPES = st.sampled_from(["custom", "backup", "recovery", "cleanup", "health_check",
                                "retention_check", "verify"]) | HOSTILE_TEXT  # fmt: skip


def arguments(world: dict, tmp_path: Path, name: str, options: list) -> st.SearchStrategy:
    """Arguments for one command: its positional arguments (mostly sensible, so that the
    options are looked at; often hostile), one of its options with a hostile value, up to
    two more, sometimes an unknown option. A schedule or action option given to add comes
    without add's own default schedule or action (which would be refused first), and a
    seed form's config with a type, so that the hostile value itself is looked at."""
    ref = refs(world)
    execution = st.one_of(st.just(world["execution"]), st.just(world["execution"][:8]),
                          HOSTILE_TEXT, CLASSES)  # fmt: skip
    valid = st.sampled_from(["fresh", "fresh-2", "a.b_c-d"])
    heads = {
        "add": st.one_of(valid, valid, HOSTILE_TEXT, CLASSES).map(lambda item: [item]),
        "edit": ref.map(lambda item: [item]),
        "show": ref.map(lambda item: [item]),
        "delete": ref.map(lambda item: [item]),
        "enable": ref.map(lambda item: [item]),
        "disable": ref.map(lambda item: [item]),
        "stop": ref.map(lambda item: [item]),
        "logs": st.one_of(st.just([]), ref.map(lambda item: [item])),
        "preview": st.one_of(st.just([]), ref.map(lambda item: [item])),
        "output": execution.map(lambda item: [item]),
        "apply": st.one_of(HOSTILE_TEXT, CLASSES).map(lambda item: [item]),
        "completion": st.one_of(
            st.sampled_from(["bash", "zsh", "fish"]), HOSTILE_TEXT, CLASSES
        ).map(lambda item: [item]),
        "tick": st.just(["--dry-run"]),
        "restore-points": ref.map(lambda item: [item]),
        "pool add": media_names("weekly"),
        "pool edit": media_names("weekly"),
        "pool delete": media_names("weekly"),
        "library add": media_names("vlib"),
        "library inventory": media_names("vlib"),
        "media label": media_names("VLIB001"),
        "media show": media_names("VLIB001"),
        "media retire": media_names("VLIB001"),
    }
    head = heads.get(name, st.just([]))

    def with_values(picked: list) -> st.SearchStrategy[list[str]]:
        given = {option for option, _ in picked}
        parts = [
            value_for(option).map(lambda value, option=option: [option, value])
            if takes_value
            else st.just([option])
            for option, takes_value in picked
        ]
        if "--schedule-config" in given and "--schedule-type" not in given:
            parts.append(SCHEDULE_TYPES.map(lambda kind: ["--schedule-type", kind]))
        if "--action-config" in given and "--action" not in given:
            parts.append(ACTION_TYPES.map(lambda kind: ["--action", kind]))
        if name == "add" and not given & SCHEDULE_OPTIONS:
            parts.append(st.sampled_from([["--daily", "02:00"], ["--daily", "02:00"], []]))
        if name == "add" and not given & ACTION_OPTIONS:
            parts.append(st.sampled_from([["--command", "true"], ["--command", "true"], []]))
        return st.tuples(*parts).map(lambda groups: [item for group in groups for item in group])

    chosen = (
        st.tuples(st.sampled_from(options), st.lists(st.sampled_from(options), max_size=2))
        .map(lambda parts: [parts[0], *parts[1]])
        .flatmap(with_values)
        if options
        else st.just([])
    )
    extra = st.sampled_from([[], [], [], ["--bogus"], ["-z"], ["--", "-x"], ["--json=1"]])
    return st.tuples(head, chosen, extra).map(
        lambda parts: [*name.split(" "), *parts[0], *parts[1], *parts[2]]
    )


def verdict(args: list[str], result, before: list[str], after: list[str]) -> str | None:
    """What is wrong with one outcome, or None if it holds."""
    if result.code not in DOCUMENTED:
        return f"exit {result.code}"
    if "Traceback" in result.err:
        return "traceback"
    lines = result.err.splitlines(keepends=True)
    if any(not line.startswith("tapesched: ") or not line.endswith("\n") for line in lines):
        return "stderr lines not all 'tapesched: ...'"
    if result.code == 0:
        return None
    problems = [line for line in lines if not line.startswith("tapesched: warning: ")]
    # Exit 1 of the checks is an answer, not a refusal: `tick` prints a line per problem,
    # `status` says on stdout that no tick runs.
    check = result.code == 1 and args[0] in ("tick", "status")
    if len(problems) != 1 and not check:
        return f"{len(problems)} lines on stderr"
    if after != before:
        return "database changed"
    return None


def trial(run_cli, world, name: str, strategy, examples: int, prepare=None) -> None:
    failures: list[str] = []
    tried = [0]

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def attempt(args: list[str]) -> None:
        if prepare is not None:
            args = prepare(args)
        tried[0] += 1
        before = dump(world["db"])
        try:
            result = run_cli(*args)
        except Exception as error:  # noqa: BLE001 - what escaped the edge is the finding
            shown = [Path(arg).read_text() if arg.endswith(".toml") else arg for arg in args]
            failures.append(f"raised {type(error).__name__}: {shown!r}")
            return
        problem = verdict(args, result, before, dump(world["db"]))
        if problem:
            shown = [Path(arg).read_text() if arg.endswith(".toml") else arg for arg in args]
            failures.append(f"{problem}: {shown!r} -> {result.code} {result.err[-300:]!r}")

    attempt()
    TALLY[name] = (tried[0], tried[0] - len(failures))
    print(f"\n{name}: {tried[0]} hostile inputs tried, {tried[0] - len(failures)} held")
    assert not failures, f"{len(failures)} of {tried[0]} did not hold:\n" + "\n".join(failures[:20])


COMMANDS = commands()


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_and_option(run_cli, request, tmp_path, name):
    world = request.getfixturevalue("ran" if name in ("logs", "output") else "world")
    examples = {"add": 80, "edit": 80, "preview": 50, "tick": 50, "logs": 40}.get(name, 20)
    trial(run_cli, world, name, arguments(world, tmp_path, name, COMMANDS[name]), examples)


# TOML that `apply` reads: every field with hostile values, and structure that is not ours.
TOML_VALUE = st.one_of(
    st.integers(min_value=-(10**25), max_value=10**25).map(str),
    st.sampled_from(["inf", "nan", "-inf", "1e999", "true", "1979-05-27", "07:32:00", "[]", "{}"]),
    st.text(NO_NUL.filter(lambda char: not "\ud800" <= char <= "\udfff"), max_size=12).map(
        json.dumps
    ),
    st.integers(min_value=1, max_value=1500).map(lambda n: "[" * n + "]" * n),
    st.integers(min_value=1, max_value=200).map(lambda n: "{ a = " * n + "1" + " }" * n),
    st.sampled_from(['"\\ud800"', '"\\u0000"', '"a\\nb"', '"\\u001b[31m"', "'''x'''", '"""']),
)
GOOD = {
    "task_name": '"filed"', "schedule_type": '"daily"', "schedule_config": '{ time = "02:00" }',
    "timezone": '"UTC"', "action_type": '"custom"', "action_config": '{ command = "true" }',
}  # fmt: skip
FIELDS = [*GOOD, "description", "enabled", "timeout", "misfire", "misfire_grace",
          "device_wait", "ping_url", "notify_command", "notify_on", "host", "colour"]  # fmt: skip


def task_file(tmp_path: Path):  # noqa: ANN201
    tables = st.dictionaries(st.sampled_from(FIELDS), TOML_VALUE, max_size=4).map(
        lambda bad: "[[task]]\n" + "".join(f"{k} = {bad.get(k, v)}\n" for k, v in GOOD.items())
        + "".join(f"{k} = {v}\n" for k, v in bad.items() if k not in GOOD)
    )  # fmt: skip
    shapes = st.sampled_from(
        ["task = 5\n", 'task = [1, "x"]\n', '[task]\ntask_name = "a"\n', "task = []\n",
         "[[task]]\n[[task]]\n", "x = 1\n", "", "\ufeff[[task]]\n", "[[task]\n", "task = [{}]\n"]
    )  # fmt: skip
    texts = st.one_of(tables, shapes, st.tuples(tables, tables).map("\n".join))
    flags = st.lists(st.sampled_from(["--prune", "--dry-run", "--force", "--json"]), max_size=2)
    counter = [0]

    def written(parts: tuple[str, list[str]]) -> list[str]:
        counter[0] += 1
        path = tmp_path / f"hostile-{counter[0]}.toml"
        path.write_text(parts[0], encoding="utf-8", errors="surrogatepass")
        return ["apply", str(path), *parts[1]]

    return st.tuples(texts, flags).map(written)


def test_hostile_task_files(run_cli, world, tmp_path):
    trial(run_cli, world, "apply FILE", task_file(tmp_path), 80)


def test_metrics_textfile_stays_in_its_folder(run_cli, world, tmp_path):
    names = st.text(NO_NUL.filter(lambda char: char != "/"), min_size=1, max_size=20).filter(
        lambda name: name not in (".", "..")
    )
    folder = tmp_path / "textfiles"
    folder.mkdir()
    strategy = names.map(lambda name: ["metrics", "--textfile", str(folder / name)])
    trial(run_cli, world, "metrics --textfile", strategy, 20)
    assert all(path.parent == folder for path in folder.rglob("*"))


def test_media_places_stay_in_their_folder(run_cli, world, tmp_path):
    """library add --path/--changer/--drive and media label --device with any name, always
    under the test's folder: refused in one line, or a library made there."""
    names = st.text(NO_NUL.filter(lambda char: char != "/"), min_size=1, max_size=20).filter(
        lambda name: name not in (".", "..")
    )
    folder = tmp_path / "places"
    folder.mkdir()
    counter = [0]

    def command(parts: tuple[str, int]) -> list[str]:
        counter[0] += 1
        place = str(folder / f"{counter[0]}-{parts[0]}")
        return [
            ["library", "add", f"L{counter[0]}", "--path", place, "--slots", "2"],
            ["library", "add", f"C{counter[0]}", "--changer", place, "--drive", place],
            ["media", "label", f"M{counter[0]}", "--pool", "scratch", "--device", place],
        ][parts[1]]

    strategy = st.tuples(names, st.integers(0, 2)).map(command)
    trial(run_cli, world, "media places", strategy, 30)
    outside = [path for path in tmp_path.iterdir() if path.name not in (
        "places", "data", "vlib", "home", "vtape", "restore")]  # fmt: skip
    assert not [path for path in outside if path.suffix != ".toml"], outside


def test_odd_database_paths(run_cli, world, tmp_path):
    """--db naming a file in a new folder under the test's folder, with any name."""
    names = st.text(NO_NUL.filter(lambda char: char != "/"), min_size=1, max_size=12).filter(
        lambda name: name not in (".", "..")
    )
    commands = st.sampled_from([["list"], ["init"], ["status", "--json"], ["tick", "--dry-run"],
                                ["add", "x", "--daily", "02:00", "--command", "true"]])  # fmt: skip
    strategy = st.tuples(names, commands).map(
        lambda parts: ["--db", str(tmp_path / "dbs" / parts[0] / "t.db"), *parts[1]]
    )
    trial(run_cli, world, "--db PATH", strategy, 20)


def _closed_port_or_refused(text: str) -> bool:
    """A URL that names port 1 of this machine (nothing listens there), or none at all:
    no trial may reach a real server, let alone write a schema into one."""
    from tapesched.dburl import parse
    from tapesched.errors import InvalidInput

    try:
        url = parse(text)
    except InvalidInput:
        return True
    return url.host == "127.0.0.1" and url.port == 1


def test_odd_database_urls(run_cli, world, tmp_path):
    """--db naming a PostgreSQL URL with any user, database, options or tail: refused in
    one line (exit 2), or, when well formed, a server that cannot be reached (exit 5)."""
    from urllib.parse import quote

    part = HOSTILE_TEXT.filter(lambda text: "\x00" not in text)

    def escaped(text: str) -> str:
        return quote(text, safe="", errors="surrogateescape")

    built = st.tuples(part, part, part).map(
        lambda parts: (
            f"postgresql+psycopg://{escaped(parts[0])}@127.0.0.1:1/"
            f"{escaped(parts[1]) or 'x'}?{parts[2]}"
        )
    )
    raw = part.map(lambda tail: "postgresql+psycopg://" + tail)
    urls = st.one_of(built, raw).filter(_closed_port_or_refused)
    commands = st.sampled_from([["list"], ["init"], ["status", "--json"], ["tick"],
                                ["db", "current"], ["db", "upgrade"], ["hosts"]])  # fmt: skip
    strategy = st.tuples(urls, commands).map(lambda parts: ["--db", parts[0], *parts[1]])
    trial(run_cli, world, "--db URL", strategy, 30)
