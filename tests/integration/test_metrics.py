"""`tapesched metrics`: counters that never go down, values for alerts, and an exposition
that a strict parser of the Prometheus text format (0.0.4) reads back exactly, hostile
task names included. (prometheus_client is not a dependency: the parser is here.) What
metrics reads from the history is checked on each backend."""

from __future__ import annotations

import json
import math
import re
import sqlite3
from dataclasses import dataclass, field

import pytest
from helpers import execute
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from speed_helpers import build_parser_once

from tapesched.metrics import FAMILIES


@pytest.fixture(autouse=True)
def _parser_built_once(monkeypatch):
    """The in-process CLI (run_cli) builds its parser once per test, not once per call."""
    build_parser_once(monkeypatch)


# --------------------------------------------------------------------------- the parser

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
FLOAT = re.compile(r"[+-]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|Inf|NaN)")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


@dataclass
class Exposition:
    help: dict[str, str] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = field(default_factory=dict)

    def value(self, name: str, **labels: str) -> float | None:
        """The sample with these labels (and a `host` label, if not given)."""
        want = set(labels.items())
        found = [
            value
            for (metric, have), value in self.samples.items()
            if metric == name and want <= have and {key for key, _ in have - want} <= {"host"}
        ]
        assert len(found) <= 1, f"{name} {labels}: {len(found)} series"
        return found[0] if found else None

    def series(self, name: str) -> dict[frozenset[tuple[str, str]], float]:
        return {labels: v for (n, labels), v in self.samples.items() if n == name}


def _unescape(text: str, allowed: str, where: str) -> str:
    out, index = [], 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            following = text[index + 1 : index + 2]
            assert following in allowed, f"invalid escape \\{following} in {where}"
            out.append("\n" if following == "n" else following)
            index += 2
        else:
            out.append(char)
            index += 1
    return "".join(out)


def _labels(text: str, line: str) -> tuple[frozenset[tuple[str, str]], str]:
    """Parse `{a="x",b="y"}` at the start of text; return the labels and the rest."""
    assert text[0] == "{"
    index, labels = 1, {}
    while True:
        if text[index] == "}":
            return frozenset(labels.items()), text[index + 1 :]
        match = LABEL_NAME.match(text, index)
        assert match, f"bad label name in {line!r}"
        name = match.group()
        assert name not in labels, f"label {name} twice in {line!r}"
        index = match.end()
        assert text[index : index + 2] == '="', f'expected =" in {line!r}'
        index += 2
        value = []
        while text[index] != '"':
            if text[index] == "\\":
                value.append(text[index : index + 2])
                index += 2
            else:
                value.append(text[index])
                index += 1
        labels[name] = _unescape("".join(value), '\\"n', line)
        index += 1
        if text[index] == ",":
            index += 1
        else:
            assert text[index] == "}", f"expected , or }} in {line!r}"


def parse(text: str) -> Exposition:
    """Parse the text format strictly: every line valid, TYPE before the family's samples
    and at most once, each family's samples together, no series twice, a final newline."""
    assert text.endswith("\n"), "the exposition must end with a newline"
    result = Exposition()
    seen_families: list[str] = []
    for line in text[:-1].split("\n"):
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            _, keyword, rest = line.split(" ", 2)
            name, _, doc = rest.partition(" ")
            assert METRIC_NAME.fullmatch(name), f"bad metric name {name!r}"
            if keyword == "HELP":
                assert name not in result.help, f"HELP twice for {name}"
                result.help[name] = _unescape(doc, "\\n", line)
            else:
                assert name not in result.types, f"TYPE twice for {name}"
                assert doc in TYPES, f"bad type {doc!r}"
                assert not any(n == name for n, _ in result.samples), f"TYPE after samples: {line}"
                result.types[name] = doc
            continue
        assert not line.startswith("#"), f"unexpected comment {line!r}"
        assert line.strip(), "empty line"
        match = METRIC_NAME.match(line)
        assert match, f"not a sample line: {line!r}"
        name, rest = match.group(), line[match.end() :]
        labels: frozenset[tuple[str, str]] = frozenset()
        if rest.startswith("{"):
            labels, rest = _labels(rest, line)
        assert rest.startswith(" "), f"no value in {line!r}"
        parts = rest[1:].split(" ")
        assert 1 <= len(parts) <= 2 and FLOAT.fullmatch(parts[0]), f"bad value in {line!r}"
        if len(parts) == 2:
            assert re.fullmatch(r"-?[0-9]+", parts[1]), f"bad timestamp in {line!r}"
        assert name in result.types, f"sample before its TYPE: {line!r}"
        if not seen_families or seen_families[-1] != name:
            assert name not in seen_families, f"samples of {name} are not together"
            seen_families.append(name)
        key = (name, labels)
        assert key not in result.samples, f"series twice: {line!r}"
        result.samples[key] = float(parts[0].replace("Inf", "inf"))
    return result


def test_the_parser_refuses_what_prometheus_refuses():
    good = '# HELP m x\n# TYPE m gauge\nm{task="a\\"b\\\\c\\nd"} 1\n'
    assert parse(good).value("m", task='a"b\\c\nd') == 1
    for bad in [
        '# TYPE m gauge\nm{task="a\\tb"} 1\n',  # an escape the format does not have
        '# TYPE m gauge\nm{task="a"b"} 1\n',  # an unescaped quote
        "m 1\n",  # no TYPE
        "# TYPE m gauge\nm 1\nm 2\n",  # a series twice
        "# TYPE m gauge\nm one\n",  # not a number
        "# TYPE m gauge\nm 1",  # no final newline
        '# TYPE m gauge\n# TYPE n gauge\nm 1\nn 1\nm{a="b"} 1\n',  # a family split
    ]:
        with pytest.raises((AssertionError, IndexError)):
            parse(bad)


# --------------------------------------------------------------------------- values


def test_every_family_has_help_and_type(run_cli):
    run_cli("add", "t", "--daily", "02:00", "--command", "true")
    exposed = parse(run_cli("metrics").out)
    assert exposed.types == {name: kind for name, (kind, _) in FAMILIES.items()}
    assert exposed.help == {name: text for name, (_, text) in FAMILIES.items()}
    counters = [name for name, kind in exposed.types.items() if kind == "counter"]
    assert counters and all(name.endswith("_total") for name in counters)


@pytest.mark.usefixtures("backend")
def test_values_for_alerts(run_cli, sh):
    run_cli("add", "ok", "--every", "1d", "--command", "true")
    run_cli("add", "bad", "--every", "1d", "--command", "sh -c 'exit 3'")
    run_cli("add", "never", "--every", "1d", "--command", "true")
    assert sh("run", "ok", "--wait").code == 0
    assert sh("run", "bad", "--wait").code == 1
    assert sh("run", "bad", "--wait").code == 1
    sh("tick")
    exposed = parse(run_cli("metrics").out)
    runs = "tapesched_task_runs_total"
    assert exposed.value(runs, task="ok", result="success") == 1
    assert exposed.value(runs, task="ok", result="failure") == 0
    assert exposed.value(runs, task="bad", result="failure") == 2
    assert exposed.value("tapesched_task_runs_finished_total", task="bad") == 2
    assert exposed.value("tapesched_task_last_run_success", task="ok") == 1
    assert exposed.value("tapesched_task_last_run_success", task="bad") == 0
    assert exposed.value("tapesched_task_last_run_success", task="never") is None
    assert exposed.value("tapesched_task_last_exit_code", task="ok") == 0
    assert exposed.value("tapesched_task_last_exit_code", task="bad") == 3
    assert exposed.value("tapesched_task_last_exit_code", task="never") is None
    # Never succeeded: 0, so `time() - ... > X` fires for it.
    for task in ("bad", "never"):
        assert exposed.value("tapesched_task_last_success_timestamp_seconds", task=task) == 0
    assert exposed.value("tapesched_task_last_run_timestamp_seconds", task="never") == 0
    assert exposed.value("tapesched_task_last_success_timestamp_seconds", task="ok") > 1.7e9
    assert exposed.value("tapesched_task_running", task="ok") == 0
    assert exposed.value("tapesched_last_tick_timestamp_seconds") > 1.7e9
    history = "tapesched_task_history_executions"
    assert exposed.value(history, task="bad", status="failed") == 2


@pytest.mark.usefixtures("backend")
def test_run_counters_never_go_down_when_cleanup_prunes_history(run_cli, sh, home):
    run_cli("add", "ok", "--every", "1d", "--command", "true")
    for _ in range(2):
        assert sh("run", "ok", "--wait").code == 0
    before = parse(run_cli("metrics").out)
    # What the cleanup action does to expired history (tapesched.store.catalog).
    from tapesched.paths import resolve
    from tapesched.store import catalog
    from tapesched.store.db import open_database

    with open_database(resolve(), create=False) as db, db.write():
        ids = [row[0] for row in db.rows("SELECT execution_id FROM executions")]
        catalog.delete_executions(db, ids)
    after = parse(run_cli("metrics").out)
    runs = "tapesched_task_runs_total"
    assert before.value(runs, task="ok", result="success") == 2
    assert after.value(runs, task="ok", result="success") == 2
    assert after.value("tapesched_task_runs_finished_total", task="ok") == 2
    assert after.value("tapesched_task_last_run_success", task="ok") == 1
    history = "tapesched_task_history_executions"
    assert before.value(history, task="ok", status="success") == 2
    assert after.value(history, task="ok", status="success") == 0


@pytest.mark.usefixtures("backend")
def test_backup_size_of_the_last_successful_backup(run_cli, sh, tmp_path):
    source = tmp_path / "data"
    source.mkdir()
    (source / "a.txt").write_text("hello tape\n" * 100)
    (source / "b.txt").write_text("more\n")
    vtape = tmp_path / "vtape"
    added = run_cli("add", "b", "--every", "1d", "--source", str(source), "--device", str(vtape))
    assert added.code == 0, added.err
    assert sh("run", "b", "--wait").code == 0
    [entry] = run_cli("logs", "b", "--json").json()["logs"]
    exposed = parse(run_cli("metrics").out)
    assert exposed.value("tapesched_backup_last_bytes", task="b") == entry["result"]["bytes"] > 0
    assert exposed.value("tapesched_backup_last_files", task="b") == entry["result"]["files"] >= 2
    assert exposed.value("tapesched_task_last_exit_code", task="b") is None


def test_textfile_is_written_whole_and_parses(run_cli, tmp_path):
    run_cli("add", "t", "--daily", "02:00", "--command", "true")
    target = tmp_path / "prom" / "tapesched.prom"
    target.parent.mkdir()
    assert run_cli("metrics", "--textfile", str(target)).code == 0
    assert parse(target.read_text()).samples == parse(run_cli("metrics").out).samples
    assert [p.name for p in target.parent.iterdir()] == ["tapesched.prom"]


@pytest.mark.parametrize("kind", ["fifo", "folder", "link to a file", "dangling link"])
def test_textfile_never_replaces_what_is_not_a_regular_file(run_cli, tmp_path, kind):
    """A rename onto /dev/null would replace the device node: anything but a regular file
    (made here inside the test's folder, never a real device) is refused and left alone."""
    import os

    run_cli("add", "t", "--daily", "02:00", "--command", "true")
    target = tmp_path / "prom" / "tapesched.prom"
    target.parent.mkdir()
    real = tmp_path / "real.prom"
    real.write_text("kept\n")
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "folder":
        target.mkdir()
    elif kind == "link to a file":
        target.symlink_to(real)
    else:
        target.symlink_to(tmp_path / "nowhere")
    before = os.lstat(target)
    result = run_cli("metrics", "--textfile", str(target))
    assert result.code == 2 and result.err.count("\n") == 1
    assert "is not a regular file" in result.err and str(target) in result.err
    after = os.lstat(target)
    assert (after.st_ino, after.st_mode) == (before.st_ino, before.st_mode)
    assert real.read_text() == "kept\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["tapesched.prom"]


# --------------------------------------------------------------------------- hostile names

# Task names cannot hold these today (1-64 of [A-Za-z0-9._-]); a database written by an
# older version or by hand can. Label values must carry them exactly.
HOSTILE_NAME = st.text(
    alphabet=st.sampled_from(list("ab\"\\\n{},= #}'$%\t\r") + ["é", "日", "\u2028", "🙂"]),
    min_size=1,
    max_size=16,
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(names=st.lists(HOSTILE_NAME, min_size=1, max_size=3, unique=True))
def test_hostile_task_names_round_trip_through_a_strict_parser(run_cli, home, names):
    db = home / "tapesched.db"
    if db.exists():
        with sqlite3.connect(db) as connection:
            connection.execute("DELETE FROM executions")
            connection.execute("DELETE FROM tasks")
    for index, name in enumerate(names):
        assert run_cli("add", f"t{index}", "--daily", "02:00", "--command", "true").code == 0
        with sqlite3.connect(db) as connection:
            connection.execute(
                "UPDATE tasks SET task_name = ?, failure_runs = 5, total_runs = 7 "
                "WHERE task_name = ?",
                (name, f"t{index}"),
            )
    result = run_cli("metrics")
    assert result.code == 0, result.err
    exposed = parse(result.out)
    failures = exposed.series("tapesched_task_runs_total")
    assert {dict(labels)["task"] for labels in failures} == set(names)
    for name in names:
        assert exposed.value("tapesched_task_runs_total", task=name, result="failure") == 5
        assert exposed.value("tapesched_task_runs_finished_total", task=name) == 7
        assert exposed.value("tapesched_task_enabled", task=name) == 1


# A stored result as a database written by an older version or by hand may hold it, and
# the last exit code the exposition shows for it (None: no sample).
ODD_RESULTS = [
    ({"exit_code": 3}, 3),
    ({"exit_code": "3\n# TYPE x gauge"}, None),
    ({"exit_code": True}, None),
    ({"exit_code": 1e308}, 1e308),
    ({"exit_code": 10**30}, 1e30),
    ([1, 2], None),
    ("text", None),
]


@pytest.mark.usefixtures("backend")
def test_odd_stored_results_never_break_the_exposition(run_cli, sh):
    """Each odd result in turn, stored in place of one real run's (metrics only reads)."""
    run_cli("add", "c", "--every", "1d", "--command", "true")
    assert sh("run", "c", "--wait").code == 0
    wrong = []
    for result, exposed in ODD_RESULTS:
        execute("UPDATE executions SET result = :result", {"result": json.dumps(result)})
        parsed = parse(run_cli("metrics").out)
        value = parsed.value("tapesched_task_last_exit_code", task="c")
        if exposed is None:
            held = value is None
        else:
            held = value is not None and math.isclose(value, exposed)
        if not held:
            wrong.append((result, exposed, value))
    assert not wrong, wrong
