"""The schema's migrations (tapesched/migrations) on real databases, through real processes.

- A catalog written by tapesched 0.1.0 (tests/fixtures/tapesched-0.1.0.sql, made by
  tools/make_010_fixture.py with the code of commit 5a3bbe3) is refused by every command
  until `tapesched db upgrade`, which keeps every task, execution and statistic, binds
  the tasks to the upgrading host and leaves a copy; afterwards every command works.
- A catalog at revision 0002 (before the media tables of 0003) is refused until
  `tapesched db upgrade`, which adds them and keeps every row, on SQLite and PostgreSQL.
- A catalog at a revision this tapesched does not know is refused by every command.
- The schema the migrations build equals the SQLModel tables (tapesched.models), on
  SQLite and PostgreSQL, for an upgraded 0.1.0 catalog and for a new one.
- PostgreSQL: `init` on an empty database, four at once, a database without schema, and
  a URL with a password, which is never shown.

PostgreSQL tests run on throwaway databases of the server TAPESCHED_TEST_PG names
(tests/pg.py) and skip without one. Everything else stays in tmp_path.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pg
import pytest
from helpers import Result

from tapesched.store.db import SCHEMA_REVISION, SCHEMA_VERSION

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests" / "fixtures" / "tapesched-0.1.0.sql"
OLD_COMMIT = "5a3bbe3"  # tapesched 0.1.0
HOST = "h9"  # the host that upgrades (TAPESCHED_HOST)
HEAD = SCHEMA_REVISION  # the newest revision, which every upgrade reaches
META = {"schema_version": str(SCHEMA_VERSION)}
STORED_TIME = "%Y-%m-%d %H:%M:%S.%f"
KEYS = {"tasks": "id", "executions": "execution_id", "meta": "key"}
STATISTICS = (
    "total_runs",
    "success_runs",
    "failure_runs",
    "average_duration",
    "last_duration",
    "last_run_time",
    "last_success_time",
    "last_failure_time",
)
TABLES = {
    "tasks",
    "executions",
    "meta",
    "hosts",
    "pools",
    "libraries",
    "volumes",
    "pieces",
    "alembic_version",
}
MEDIA_TABLES = ("pools", "libraries", "volumes", "pieces")  # revision 0003
POLICY_COLUMNS = (  # revision 0004
    "retries", "retry_delay", "retry_at", "retry_attempt", "hook_before", "hook_after",
    "start_window",
)  # fmt: skip
PASSWORD = "Sekr1t@pw"  # in a URL as Sekr1t%40pw; trust authentication ignores it

# The commands that open the catalog (all but `db`, `init`, `apply` and `completion`), on
# the fixture's tasks; writers and the fast-path `tick` included.
COMMANDS = [
    ("list",),
    ("list", "--json"),
    ("show", "flaky"),
    ("logs", "flaky"),
    ("output", "flaky"),
    ("preview", "flaky"),
    ("tick",),
    ("tick", "--dry-run"),
    ("run", "flaky"),
    ("run", "nightly-report", "--wait"),
    ("stop", "flaky"),
    ("add", "fresh", "--daily", "03:00", "--command", "true"),
    ("edit", "flaky", "--description", "changed"),
    ("enable", "leap-day"),
    ("disable", "flaky"),
    ("delete", "flaky", "--yes"),
    ("status",),
    ("status", "--json"),
    ("export",),
    ("metrics",),
    ("hosts",),
]


# --------------------------------------------------------------------------- helpers


def environment(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a tapesched process with its own state folder."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("TAPESCHED_")}
    env.update(TAPESCHED_HOME=str(home), TAPESCHED_HOST=HOST, TZ="UTC", COLUMNS="200")
    env.update(extra)
    return env


def tapesched(
    env: dict[str, str], *args: str, timeout: float = 120, cwd: Path | None = None
) -> Result:
    """`python -m tapesched ARGS` as a real process (run in `cwd`: `-m` finds a tapesched
    package there before PYTHONPATH's)."""
    done = subprocess.run(
        [sys.executable, "-m", "tapesched", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=cwd,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def load_010(db: Path) -> Path:
    """A new SQLite file at `db` holding the fixture, in WAL mode as tapesched 0.1.0
    left every database it opened."""
    db.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(db)
    try:
        connection.executescript(FIXTURE.read_text())
        connection.execute("PRAGMA journal_mode=WAL")
    finally:
        connection.close()
    return db


def dump(db: Path) -> list[str]:
    """Every row of every table and the schema (sqlite3's dump), to show a database
    unchanged."""
    connection = sqlite3.connect(db)
    try:
        return list(connection.iterdump())
    finally:
        connection.close()


def query(db: Path, sql: str, params: tuple = ()) -> list[tuple]:
    connection = sqlite3.connect(db)
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


def columns_of(db: Path, table: str) -> list[str]:
    return [row[1] for row in query(db, f"PRAGMA table_info({table})")]


def stored(db: Path, table: str, columns: list[str]) -> list[tuple]:
    """The rows of a table as stored (raw SQLite values), in key order."""
    return query(db, f"SELECT {', '.join(columns)} FROM {table} ORDER BY {KEYS[table]}")


def snapshot(db: Path) -> tuple[list[str], bytes]:
    """What shows a database unchanged: its dump and the bytes of its file."""
    return dump(db), db.read_bytes()


def assert_same_values(table: str, columns: list[str], before: list, after: list) -> None:
    """Row by row and column by column: the same keys, and each column's values equal."""
    assert len(after) == len(before), f"{table}: {len(before)} rows before, {len(after)} after"
    for index, column in enumerate(columns):
        was = [row[index] for row in before]
        now = [row[index] for row in after]
        assert now == was, f"{table}.{column} changed: {was} -> {now}"


def set_revision(db: Path, revision: str) -> None:
    connection = sqlite3.connect(db)
    try:
        with connection:
            connection.execute("UPDATE alembic_version SET version_num = ?", (revision,))
    finally:
        connection.close()


def wait_idle(db: Path, timeout: float = 60) -> None:
    """Wait until no execution is running (the runners a tick launched have ended)."""
    deadline = time.monotonic() + timeout
    while query(db, "SELECT count(*) FROM executions WHERE status = 'running'")[0][0]:
        assert time.monotonic() < deadline, f"runs still going after {timeout}s"
        time.sleep(0.1)


def timed_average(db: Path, task_id: int) -> float:
    """The mean duration of a task's timed runs (success, failed) in the history."""
    durations = [
        duration
        for (duration,) in query(
            db,
            "SELECT duration FROM executions WHERE task_id = ? AND status IN "
            "('success', 'failed') AND duration IS NOT NULL",
            (task_id,),
        )
    ]
    return sum(durations) / len(durations)


def migrate(connection, target: str, stamp: str | None = None) -> None:  # noqa: ANN001
    """Run the Alembic revisions up to `target` on `connection` (a SQLAlchemy connection)
    as tapesched does; first record it at revision `stamp` when given (a 0.1.0 catalog,
    which has no alembic_version, is at 0001)."""
    from alembic import command
    from alembic.config import Config

    import tapesched.migrations

    config = Config()
    config.set_main_option("script_location", str(Path(tapesched.migrations.__file__).parent))
    config.attributes["connection"] = connection
    config.attributes["host"] = HOST
    if stamp is not None:
        command.stamp(config, stamp)
    command.upgrade(config, target)


def model_differences(url: str) -> list:
    """What Alembic's autogenerate finds between the database at `url` (a SQLAlchemy URL)
    and the SQLModel tables: types and server defaults compared too."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool
    from sqlmodel import SQLModel

    import tapesched.models  # noqa: F401 - the tables

    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "compare_server_default": True}
            )
            return compare_metadata(context, SQLModel.metadata)
    finally:
        engine.dispose()


def reflected_schema(url: str) -> dict:
    """Every table's columns, primary key, indexes and foreign keys as SQLAlchemy reflects
    them (alembic_version left out)."""
    from sqlalchemy import create_engine, inspect
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            found = inspect(connection)
            schema = {}
            for table in sorted(set(found.get_table_names()) - {"alembic_version"}):
                schema[table] = {
                    "columns": [
                        (c["name"], str(c["type"]), c["nullable"], c["default"])
                        for c in found.get_columns(table)
                    ],
                    "primary key": found.get_pk_constraint(table)["constrained_columns"],
                    "indexes": sorted(
                        (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                        for i in found.get_indexes(table)
                    ),
                    "foreign keys": sorted(
                        (tuple(f["constrained_columns"]), f["referred_table"])
                        for f in found.get_foreign_keys(table)
                    ),
                }
            return schema
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def old_db(tmp_path: Path) -> Path:
    """The 0.1.0 catalog in tmp_path/home, where the environment's state folder is."""
    return load_010(tmp_path / "home" / "tapesched.db")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return environment(tmp_path / "home")


@pytest.fixture(scope="session")
def upgraded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 0.1.0 catalog upgraded once by `tapesched db upgrade`; tests copy it."""
    home = tmp_path_factory.mktemp("upgraded-010")
    db = load_010(home / "tapesched.db")
    result = tapesched(environment(home), "db", "upgrade")
    assert result.code == 0, result.err
    assert not Path(f"{db}-wal").exists()  # the one file holds it all
    return db


@pytest.fixture
def upgraded_db(tmp_path: Path, upgraded_template: Path) -> Path:
    db = tmp_path / "home" / "tapesched.db"
    db.parent.mkdir(parents=True)
    shutil.copyfile(upgraded_template, db)
    return db


# --------------------------------------------------------------------------- the fixture


def test_the_fixture_is_a_0_1_0_catalog_with_history_and_statistics(old_db: Path) -> None:
    """What the other tests rely on: tapesched 0.1.0's marks (no Alembic, schema_version
    1, a heartbeat in meta), tasks of several schedule and action types, a failed run and
    a scheduled one, statistics that are not all zero."""
    tables = {name for (name,) in query(old_db, "SELECT name FROM sqlite_master")}
    assert "alembic_version" not in tables and "hosts" not in tables
    meta = dict(query(old_db, "SELECT key, value FROM meta"))
    assert meta["schema_version"] == "1" and "last_tick_time" in meta
    assert "host" not in columns_of(old_db, "tasks")
    assert "lease_expires" not in columns_of(old_db, "executions")
    kinds = query(old_db, "SELECT DISTINCT schedule_type, action_type FROM tasks")
    assert {schedule for schedule, _ in kinds} >= {"daily", "interval", "weekly", "cron", "once"}
    assert {action for _, action in kinds} >= {"custom", "backup", "cleanup", "health_check"}
    statuses = query(old_db, "SELECT status, trigger, count(*) FROM executions GROUP BY 1, 2")
    assert ("failed", "manual", 1) in statuses
    assert any(trigger in ("schedule", "catch_up") for _, trigger, _ in statuses)
    assert query(old_db, "SELECT count(*) FROM tasks WHERE failure_runs > 0")[0][0] >= 1
    assert query(old_db, "SELECT count(*) FROM tasks WHERE success_runs > 1")[0][0] >= 1
    assert query(old_db, "SELECT count(*) FROM tasks WHERE last_failure_time IS NOT NULL")[0][0]
    assert query(old_db, "SELECT count(*) FROM tasks WHERE average_duration > 0")[0][0] >= 4
    assert query(old_db, "SELECT count(*) FROM tasks WHERE NOT enabled")[0][0] == 1


def test_revision_0001_is_the_schema_tapesched_0_1_0_made(old_db: Path, tmp_path: Path) -> None:
    """Revision 0001 (what `db upgrade` stamps a 0.1.0 catalog with) builds exactly the
    tables, columns, types, keys and indexes 0.1.0's create_all made."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    engine = create_engine(f"sqlite:///{tmp_path / 'at-0001.db'}", poolclass=NullPool)
    try:
        with engine.begin() as connection:
            migrate(connection, "0001")
    finally:
        engine.dispose()
    assert reflected_schema(f"sqlite:///{tmp_path / 'at-0001.db'}") == reflected_schema(
        f"sqlite:///{old_db}"
    )


# --------------------------------------------------------------------------- before the upgrade


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_refuses_a_0_1_0_catalog_and_leaves_it_as_it_was(
    command: tuple[str, ...], old_db: Path, env: dict[str, str]
) -> None:
    before = snapshot(old_db)
    result = tapesched(env, *command)
    assert result.code == 5, result
    assert result.one_error_line == (
        f"tapesched: database {old_db} has schema revision 0001, older than this "
        f"tapesched's ({HEAD}); run 'tapesched db upgrade'\n"
    )
    assert snapshot(old_db) == before
    assert not Path(f"{old_db}.before-{HEAD}").exists()


def test_db_current_before_and_after_the_upgrade(old_db: Path, env: dict[str, str]) -> None:
    before = snapshot(old_db)
    text = tapesched(env, "db", "current")
    assert (text.code, text.err) == (0, "")
    assert text.out == (
        f"database: {old_db}\nrevision: 0001\nthis tapesched: {HEAD}\n"
        "state: upgrade needed; run 'tapesched db upgrade'\n"
    )
    as_json = tapesched(env, "db", "current", "--json")
    assert as_json.code == 0
    assert as_json.json() == {
        "db": str(old_db),
        "revision": "0001",
        "head": HEAD,
        "state": "upgrade needed",
    }
    assert snapshot(old_db) == before  # looking changes nothing

    assert tapesched(env, "db", "upgrade").code == 0
    text = tapesched(env, "db", "current")
    assert text.code == 0
    assert (
        text.out
        == f"database: {old_db}\nrevision: {HEAD}\nthis tapesched: {HEAD}\nstate: current\n"
    )
    as_json = tapesched(env, "db", "current", "--json")
    assert as_json.json() == {"db": str(old_db), "revision": HEAD, "head": HEAD, "state": "current"}


# --------------------------------------------------------------------------- the upgrade


def test_db_upgrade_keeps_every_task_execution_and_statistic(
    old_db: Path, env: dict[str, str]
) -> None:
    old_columns = {table: columns_of(old_db, table) for table in KEYS}
    before = {table: stored(old_db, table, old_columns[table]) for table in KEYS}
    before_dump = dump(old_db)
    heartbeat = dict(before["meta"])["last_tick_time"]
    assert set(STATISTICS) <= set(old_columns["tasks"])

    result = tapesched(env, "db", "upgrade")
    copy = Path(f"{old_db}.before-{HEAD}")
    assert (result.code, result.err) == (0, "")
    assert result.out == (
        f"upgraded database {old_db} from 0001 to {HEAD} (the database before: {copy})\n"
    )

    # Every row of 0.1.0's tables, and every column 0.1.0 had, exactly as stored.
    for table in ("tasks", "executions"):
        after = stored(old_db, table, old_columns[table])
        assert_same_values(table, old_columns[table], before[table], after)
    # What the revisions add: the host of each task, leases, the hosts table (0002); the
    # scheduling policies, every task without any (0004).
    assert set(columns_of(old_db, "tasks")) - set(old_columns["tasks"]) == {
        "host",
        *POLICY_COLUMNS,
    }
    assert set(columns_of(old_db, "executions")) - set(old_columns["executions"]) == {
        "lease_expires",
        "job_start",
        "attempt",
        "level",
    }
    assert set(
        query(
            old_db,
            f"SELECT DISTINCT {', '.join(POLICY_COLUMNS)} FROM tasks",
        )
    ) == {(0, 300, None, 0, None, None, None)}
    assert query(old_db, "SELECT DISTINCT attempt, level FROM executions") == [(1, None)]
    assert query(old_db, "SELECT DISTINCT host FROM tasks") == [(HOST,)]
    assert query(old_db, "SELECT count(*) FROM executions WHERE lease_expires IS NOT NULL") == [
        (0,)
    ]
    moved = datetime.fromisoformat(heartbeat).astimezone(UTC).strftime(STORED_TIME)
    assert query(old_db, "SELECT name, last_tick FROM hosts") == [(HOST, moved)]
    # Revision 0003: the media tables, empty.
    for table in MEDIA_TABLES:
        assert query(old_db, f"SELECT count(*) FROM {table}") == [(0,)], table
    assert dict(query(old_db, "SELECT key, value FROM meta")) == META
    assert query(old_db, "SELECT version_num FROM alembic_version") == [(HEAD,)]
    assert query(old_db, "PRAGMA integrity_check") == [("ok",)]
    assert query(old_db, "PRAGMA foreign_key_check") == []

    # The copy taken first is the database as it was, readable by its owner only.
    assert dump(copy) == before_dump
    assert copy.stat().st_mode & 0o777 == 0o600


def test_after_the_upgrade_every_command_works_and_carries_on_the_statistics(
    upgraded_db: Path, env: dict[str, str]
) -> None:
    db = upgraded_db
    tasks_before = {
        name: dict(zip(("id", *STATISTICS, "next_run_time"), row, strict=True))
        for name, *row in query(
            db, f"SELECT task_name, id, {', '.join(STATISTICS)}, next_run_time FROM tasks"
        )
    }
    history = query(db, "SELECT execution_id, task_id FROM executions")

    listed = tapesched(env, "list", "--json")
    assert listed.code == 0, listed.err
    assert {task["task_name"]: task["host"] for task in listed.json()["tasks"]} == dict.fromkeys(
        tasks_before, HOST
    )
    shown = tapesched(env, "show", "flaky")
    assert shown.code == 0, shown.err
    assert "runs                  1 total, 0 ok, 1 failed" in shown.out
    assert f"host                  {HOST}" in shown.out
    logs = tapesched(env, "logs", "nightly-report", "--json")
    assert logs.code == 0, logs.err
    nightly = tasks_before["nightly-report"]
    assert {entry["execution_id"] for entry in logs.json()["logs"]} == {
        execution for execution, task in history if task == nightly["id"]
    }
    assert tapesched(env, "logs", "flaky").out.count("command exited with 3") == 1
    exported = tapesched(env, "export")
    assert exported.code == 0 and exported.out.count("[[task]]") == len(tasks_before)

    # A tick when nightly-report is due by the schedule 0.1.0 computed launches it.
    due = datetime.strptime(nightly["next_run_time"], STORED_TIME).replace(tzinfo=UTC)
    at = (due + timedelta(seconds=30)).isoformat()
    ticked = tapesched(env, "tick", "--now", at, "--json")
    assert ticked.code == 0, ticked.err
    launched = {run["task"]: run for run in ticked.json()["launched"]}
    assert launched["nightly-report"]["trigger"] == "schedule"
    wait_idle(db)
    assert query(
        db,
        "SELECT status, scheduled_for, host FROM executions WHERE execution_id = ?",
        (launched["nightly-report"]["execution_id"],),
    ) == [("success", nightly["next_run_time"], HOST)]
    assert query(db, "SELECT last_tick IS NOT NULL FROM hosts WHERE name = ?", (HOST,)) == [(1,)]

    ran = tapesched(env, "run", "nightly-report", "--wait")
    assert ran.code == 0, ran.err
    failed = tapesched(env, "run", "flaky", "--wait")
    assert failed.code == 1 and "command exited with 3" in failed.err

    # The statistics go on from 0.1.0's: each run since the upgrade adds to the counts, and
    # the average covers the whole history, 0.1.0's runs included.
    old_ids = {execution for execution, _ in history}
    counts = {}
    for name in ("nightly-report", "flaky"):
        was = tasks_before[name]
        new = [
            status
            for execution, status in query(
                db, "SELECT execution_id, status FROM executions WHERE task_id = ?", (was["id"],)
            )
            if execution not in old_ids
        ]
        successes, failures = new.count("success"), new.count("failed")
        total, success, failure, average, last_failure = query(
            db,
            "SELECT total_runs, success_runs, failure_runs, average_duration, "
            "last_failure_time FROM tasks WHERE task_name = ?",
            (name,),
        )[0]
        assert (total, success, failure) == (
            was["total_runs"] + successes + failures,
            was["success_runs"] + successes,
            was["failure_runs"] + failures,
        ), name
        assert average == pytest.approx(timed_average(db, was["id"])), name
        if not failures:
            assert last_failure == was["last_failure_time"], name
        counts[name] = (successes, failures)
    assert counts["nightly-report"] == (2, 0) and counts["flaky"][1] >= 1

    added = tapesched(env, "add", "fresh", "--daily", "03:00", "--command", "true")
    assert added.code == 0, added.err
    assert f"(id {max(task['id'] for task in tasks_before.values()) + 1})" in added.out
    for command in (("status", "--json"), ("metrics",), ("hosts", "--json")):
        result = tapesched(env, *command)
        assert result.code == 0 and result.err == "", (command, result)
    assert [host["name"] for host in tapesched(env, "hosts", "--json").json()] == [HOST]
    flaky_failures = tasks_before["flaky"]["failure_runs"] + counts["flaky"][1]
    assert (
        f'tapesched_task_runs_total{{task="flaky",host="{HOST}",result="failure"}} '
        f"{flaky_failures}\n" in tapesched(env, "metrics").out
    )


def test_db_upgrade_twice_the_second_has_nothing_to_do(old_db: Path, env: dict[str, str]) -> None:
    assert tapesched(env, "db", "upgrade").code == 0
    copy = Path(f"{old_db}.before-{HEAD}")
    kept = copy.read_bytes()
    upgraded = snapshot(old_db)

    again = tapesched(env, "db", "upgrade")
    assert (again.code, again.err) == (0, "")
    assert again.out == f"database {old_db} is at revision {HEAD} already; nothing to do\n"
    as_json = tapesched(env, "db", "upgrade", "--json")
    assert as_json.code == 0
    assert as_json.json() == {
        "db": str(old_db),
        "before": HEAD,
        "after": HEAD,
        "upgraded": False,
        "copy": None,
    }
    assert snapshot(old_db) == upgraded
    assert copy.read_bytes() == kept  # the copy of the 0.1.0 catalog is not overwritten
    assert sorted(path.name for path in old_db.parent.glob("tapesched.db*")) == [
        "tapesched.db",
        f"tapesched.db.before-{HEAD}",
    ]


def test_a_catalog_at_revision_0002_is_refused_then_upgraded_to_the_media_tables(
    old_db: Path, env: dict[str, str]
) -> None:
    """A catalog a tapesched of revision 0002 made (here: the 0.1.0 catalog brought to 0002
    by its revisions) gets the media tables from `db upgrade`, and keeps its rows."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    engine = create_engine(f"sqlite:///{old_db}", poolclass=NullPool)
    try:
        with engine.begin() as connection:
            migrate(connection, "0002", stamp="0001")
    finally:
        engine.dispose()
    assert dict(query(old_db, "SELECT key, value FROM meta")) == {"schema_version": "2"}
    assert not set(MEDIA_TABLES) & {
        name for (name,) in query(old_db, "SELECT name FROM sqlite_master WHERE type = 'table'")
    }
    before = {table: query(old_db, f"SELECT * FROM {table} ORDER BY 1") for table in KEYS}
    before.update(hosts=query(old_db, "SELECT * FROM hosts"))

    refused = tapesched(env, "list")
    assert refused.code == 5
    assert refused.one_error_line == (
        f"tapesched: database {old_db} has schema revision 0002, older than this "
        f"tapesched's ({HEAD}); run 'tapesched db upgrade'\n"
    )
    upgraded = tapesched(env, "db", "upgrade", "--json")
    assert upgraded.code == 0, upgraded.err
    assert (upgraded.json()["before"], upgraded.json()["after"]) == ("0002", HEAD)
    for table in KEYS:
        expected = (
            before[table] if table != "meta" else [("schema_version", META["schema_version"])]
        )
        # Every column the table had at 0002, as it was (later revisions add columns).
        rows = query(old_db, f"SELECT * FROM {table} ORDER BY 1")
        assert [row[: len(expected[0])] for row in rows] == expected, table
    assert query(old_db, "SELECT * FROM hosts") == before["hosts"]
    for table in MEDIA_TABLES:
        assert query(old_db, f"SELECT count(*) FROM {table}") == [(0,)], table
    assert model_differences(f"sqlite:///{old_db}") == []
    assert query(old_db, "PRAGMA foreign_key_check") == []
    assert tapesched(env, "list").code == 0


def test_db_upgrade_binds_the_tasks_to_the_machine_without_tapesched_host(
    old_db: Path, tmp_path: Path
) -> None:
    env = environment(tmp_path / "home")
    del env["TAPESCHED_HOST"]
    assert tapesched(env, "db", "upgrade").code == 0
    from tapesched.hosts import this_host

    machine = this_host({})
    assert query(old_db, "SELECT DISTINCT host FROM tasks") == [(machine,)]
    assert query(old_db, "SELECT name FROM hosts") == [(machine,)]


# --------------------------------------------------------------------------- a newer revision


@pytest.mark.parametrize("command", [*COMMANDS, ("db", "upgrade")], ids=" ".join)
def test_every_command_refuses_a_catalog_upgraded_by_a_newer_tapesched(
    command: tuple[str, ...], upgraded_db: Path, env: dict[str, str]
) -> None:
    set_revision(upgraded_db, "0099")
    before = snapshot(upgraded_db)
    result = tapesched(env, *command)
    assert result.code == 5, result
    assert result.one_error_line == (
        f"tapesched: database {upgraded_db} has schema revision 0099, which this tapesched "
        f"(revision {HEAD}) does not know: it was upgraded by a newer tapesched; "
        "install that version here\n"
    )
    assert snapshot(upgraded_db) == before
    assert sorted(path.name for path in upgraded_db.parent.glob("tapesched.db*")) == [
        "tapesched.db"
    ]


def test_db_current_says_a_newer_revision_is_newer(upgraded_db: Path, env: dict[str, str]) -> None:
    set_revision(upgraded_db, "0099")
    text = tapesched(env, "db", "current")
    assert text.code == 0
    assert text.out == (
        f"database: {upgraded_db}\nrevision: 0099\nthis tapesched: {HEAD}\n"
        "state: newer than this tapesched\n"
    )
    assert tapesched(env, "db", "current", "--json").json()["state"] == "newer than this tapesched"


# --------------------------------------------------------------------------- schema = models


def test_an_upgraded_0_1_0_catalog_has_the_models_schema_on_sqlite(upgraded_db: Path) -> None:
    assert model_differences(f"sqlite:///{upgraded_db}") == []
    assert {
        name
        for (name,) in query(upgraded_db, "SELECT name FROM sqlite_master WHERE type = 'table'")
    } == TABLES


def test_a_new_catalog_has_the_models_schema_on_sqlite(tmp_path: Path, env: dict[str, str]) -> None:
    result = tapesched(env, "init")
    assert result.code == 0, result.err
    db = tmp_path / "home" / "tapesched.db"
    assert model_differences(f"sqlite:///{db}") == []
    assert query(db, "SELECT version_num FROM alembic_version") == [(HEAD,)]
    assert dict(query(db, "SELECT key, value FROM meta")) == META
    # No host has ticked on a new catalog: `init` does not make one up.
    assert query(db, "SELECT count(*) FROM hosts") == [(0,)]
    hosts = tapesched(env, "hosts")
    assert hosts.out == "no host has ticked yet; run 'tapesched tick' (see 'tapesched init')\n"


# --------------------------------------------------------------------------- PostgreSQL


def pg_connect(url: str):  # noqa: ANN201 - a psycopg connection
    import psycopg

    from tapesched.dburl import parse

    return psycopg.connect(**parse(url).connect_arguments(), autocommit=True)


def pg_rows(url: str, sql: str) -> list[tuple]:
    with pg_connect(url) as connection:
        return connection.execute(sql).fetchall()


def pg_tables(url: str) -> set[str]:
    return {
        name
        for (name,) in pg_rows(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    }


def pg_columns(url: str, table: str) -> list[str]:
    return [
        name
        for (name,) in pg_rows(
            url,
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' "
            f"AND table_name = '{table}' ORDER BY ordinal_position",
        )
    ]


def pg_dump(url: str) -> dict[str, list[tuple]]:
    """Every row of every table, to show a PostgreSQL catalog unchanged."""
    return {
        table: pg_rows(url, f"SELECT * FROM {table} ORDER BY 1") for table in sorted(pg_tables(url))
    }


def with_password(url: str, dbname: str | None = None) -> str:
    """The URL with PASSWORD in it (and another database, if given)."""
    from tapesched.dburl import parse

    parsed = parse(url)
    who = quote(parsed.user or "postgres", safe="")
    where = f"{parsed.host or 'localhost'}:{parsed.port or 5432}"
    return (
        f"postgresql+psycopg://{who}:{quote(PASSWORD, safe='')}@{where}/{dbname or parsed.dbname}"
    )


def load_010_into_postgres(url: str, source_db: Path) -> None:
    """Give the PostgreSQL database at `url` the catalog of the fixture as tapesched 0.1.0
    had it (revision 0001's tables, no alembic_version, meta.schema_version 1, the same
    rows). tapesched 0.1.0 only knew SQLite; this is the closest PostgreSQL equivalent."""
    from sqlalchemy import MetaData, create_engine, select, text
    from sqlalchemy.pool import NullPool

    source = create_engine(f"sqlite:///{source_db}", poolclass=NullPool)
    target = create_engine(url, poolclass=NullPool)
    try:
        with target.begin() as connection, source.connect() as old:
            migrate(connection, "0001")
            connection.execute(text("DROP TABLE alembic_version"))
            connection.execute(text("DELETE FROM meta"))
            new_tables, old_tables = MetaData(), MetaData()
            new_tables.reflect(connection)
            old_tables.reflect(old)
            for name in ("tasks", "executions", "meta"):
                rows = [dict(row._mapping) for row in old.execute(select(old_tables.tables[name]))]
                connection.execute(new_tables.tables[name].insert(), rows)
            connection.execute(
                text("SELECT setval(pg_get_serial_sequence('tasks', 'id'), max(id)) FROM tasks")
            )
    finally:
        source.dispose()
        target.dispose()


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A new empty database on the test server; its URL."""
    server = pg.require_server()
    with pg.throwaway_database(server) as url:
        yield url


def test_pg_init_on_an_empty_database_gives_the_models_schema(
    pg_database: str, tmp_path: Path
) -> None:
    env = environment(tmp_path / "home", TAPESCHED_DB=pg_database)
    result = tapesched(env, "init")
    assert (result.code, result.err) == (0, "")
    assert f"database: {pg_database}\n" in result.out
    assert pg_tables(pg_database) == TABLES
    assert model_differences(pg_database) == []
    assert pg_rows(pg_database, "SELECT version_num FROM alembic_version") == [(HEAD,)]
    assert pg_rows(pg_database, "SELECT key, value FROM meta") == list(META.items())
    assert pg_rows(pg_database, "SELECT count(*) FROM hosts") == [(0,)]
    again = tapesched(env, "init")
    assert again.code == 0 and pg_tables(pg_database) == TABLES
    current = tapesched(env, "db", "current", "--json")
    assert current.json() == {"db": pg_database, "revision": HEAD, "head": HEAD, "state": "current"}


@pytest.mark.parametrize("command", ["init", "tick"])
def test_pg_four_processes_at_once_make_the_schema_once(
    command: str, pg_database: str, tmp_path: Path
) -> None:
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "tapesched", command],
            env=environment(
                tmp_path / f"home{index}", TAPESCHED_DB=pg_database, TAPESCHED_HOST=f"h{index}"
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index in range(4)
    ]
    outcomes = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        outcomes.append((process.returncode, err))
    assert outcomes == [(0, "")] * 4
    assert pg_tables(pg_database) == TABLES
    assert pg_rows(pg_database, "SELECT version_num FROM alembic_version") == [(HEAD,)]
    assert pg_rows(pg_database, "SELECT key, value FROM meta") == list(META.items())
    assert sorted(
        pg_rows(pg_database, "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")
    ) == sorted(
        [
            ("alembic_version_pkc",),
            ("executions_pkey",),
            ("hosts_pkey",),
            ("ix_executions_status",),
            ("ix_executions_task_started",),
            ("ix_tasks_enabled_next_run_time",),
            ("ix_tasks_enabled_retry_at",),
            ("ix_tasks_task_name",),
            ("meta_pkey",),
            ("tasks_pkey",),
            ("pools_pkey",),
            ("libraries_pkey",),
            ("volumes_pkey",),
            ("ix_volumes_pool_state",),
            ("pieces_pkey",),
            ("ix_pieces_volume",),
        ]
    )
    assert model_differences(pg_database) == []
    ticked = {name for (name,) in pg_rows(pg_database, "SELECT name FROM hosts")}
    assert ticked == ({f"h{index}" for index in range(4)} if command == "tick" else set())


def test_pg_commands_on_a_database_without_schema_say_to_run_init(
    pg_database: str, tmp_path: Path
) -> None:
    env = environment(tmp_path / "home", TAPESCHED_DB=pg_database)
    expected = (
        f"tapesched: database {pg_database} is corrupt or not a tapesched database (it has no "
        "tapesched schema); run 'tapesched init' to create one\n"
    )
    for command in (("list",), ("status",), ("show", "x"), ("logs", "x"), ("export",), ("hosts",)):
        result = tapesched(env, *command)
        assert result.code == 5, (command, result)
        assert result.one_error_line == expected, command
    upgrade = tapesched(env, "db", "upgrade")
    assert upgrade.code == 5
    assert upgrade.one_error_line == (
        f"tapesched: database {pg_database} has no tapesched schema; "
        "run 'tapesched init' to create one\n"
    )
    assert tapesched(env, "db", "current", "--json").json()["state"] == "none"
    assert pg_tables(pg_database) == set()  # none of them made a schema


def test_pg_db_upgrade_of_a_0_1_0_catalog(pg_database: str, tmp_path: Path) -> None:
    load_010_into_postgres(pg_database, load_010(tmp_path / "source.db"))
    env = environment(tmp_path / "home", TAPESCHED_DB=pg_database)
    old_columns = {table: pg_columns(pg_database, table) for table in KEYS}
    assert "host" not in old_columns["tasks"]

    def rows(table: str) -> list[tuple]:
        columns = ", ".join(old_columns[table])
        return pg_rows(pg_database, f"SELECT {columns} FROM {table} ORDER BY {KEYS[table]}")

    before = {table: rows(table) for table in KEYS}
    assert before["tasks"] and before["executions"]
    nightly = pg_rows(
        pg_database, "SELECT total_runs, success_runs FROM tasks WHERE task_name = 'nightly-report'"
    )[0]
    heartbeat = dict(before["meta"])["last_tick_time"]

    before_dump = pg_dump(pg_database)
    refused = tapesched(env, "list")
    assert refused.code == 5
    assert refused.one_error_line.endswith("run 'tapesched db upgrade'\n")
    assert pg_dump(pg_database) == before_dump

    upgraded = tapesched(env, "db", "upgrade", "--json")
    assert upgraded.code == 0, upgraded.err
    assert upgraded.json() == {
        "db": pg_database,
        "before": "0001",
        "after": HEAD,
        "upgraded": True,
        "copy": None,
    }
    for table in ("tasks", "executions"):
        assert_same_values(table, old_columns[table], before[table], rows(table))
    assert pg_rows(pg_database, "SELECT DISTINCT host FROM tasks") == [(HOST,)]
    moved = datetime.fromisoformat(heartbeat).astimezone(UTC).replace(tzinfo=None)
    assert pg_rows(pg_database, "SELECT name, last_tick FROM hosts") == [(HOST, moved)]
    assert pg_rows(pg_database, "SELECT key, value FROM meta") == list(META.items())
    assert model_differences(pg_database) == []

    listed = tapesched(env, "list", "--json")
    assert listed.code == 0 and len(listed.json()["tasks"]) == len(before["tasks"])
    assert tapesched(env, "show", "flaky").code == 0
    ran = tapesched(env, "run", "nightly-report", "--wait")
    assert ran.code == 0, ran.err
    assert pg_rows(
        pg_database, "SELECT total_runs, success_runs FROM tasks WHERE task_name = 'nightly-report'"
    ) == [(nightly[0] + 1, nightly[1] + 1)]
    added = tapesched(env, "add", "fresh", "--daily", "03:00", "--command", "true")
    assert added.code == 0, added.err
    assert f"(id {max(row[0] for row in before['tasks']) + 1})" in added.out  # ids go on
    assert tapesched(env, "db", "upgrade").out.endswith("nothing to do\n")


def test_pg_db_upgrade_of_a_catalog_at_revision_0002(pg_database: str, tmp_path: Path) -> None:
    load_010_into_postgres(pg_database, load_010(tmp_path / "source.db"))
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    engine = create_engine(pg_database, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            migrate(connection, "0002", stamp="0001")
    finally:
        engine.dispose()
    assert not pg_tables(pg_database) & set(MEDIA_TABLES)
    before = pg_dump(pg_database)
    env = environment(tmp_path / "home", TAPESCHED_DB=pg_database)
    upgraded = tapesched(env, "db", "upgrade", "--json")
    assert upgraded.code == 0, upgraded.err
    assert (upgraded.json()["before"], upgraded.json()["after"]) == ("0002", HEAD)
    after = pg_dump(pg_database)
    assert after.pop("meta") == list(META.items())
    assert after.pop("alembic_version") == [(HEAD,)]
    assert {table: after.pop(table) for table in MEDIA_TABLES} == dict.fromkeys(MEDIA_TABLES, [])
    del before["meta"], before["alembic_version"]
    # Every column each table had at 0002, as it was (0004 adds columns at the end).
    assert {
        table: [row[: len(before[table][0])] if before[table] else row for row in rows]
        for table, rows in after.items()
    } == before
    assert model_differences(pg_database) == []
    assert tapesched(env, "list").code == 0


def test_pg_a_password_in_the_url_is_never_shown(pg_database: str, tmp_path: Path) -> None:
    """Masked (***) wherever the URL is shown, left out of the crontab line, and in no
    output, message or file of the state folder, for a database that does not exist and
    for a real one (trust authentication ignores the password)."""
    home = tmp_path / "home"
    secrets = (PASSWORD, quote(PASSWORD, safe=""))

    def check(result: Result) -> Result:
        for secret in secrets:
            assert secret not in result.out + result.err, result
        return result

    missing = f"ts_missing_{uuid.uuid4().hex[:12]}"
    env = environment(home, TAPESCHED_DB=with_password(pg_database, missing))
    for command in (
        ("list",),
        ("status",),
        ("init",),
        ("tick",),
        ("db", "current"),
        ("db", "upgrade"),
        ("add", "x", "--daily", "01:00", "--command", "true"),
    ):
        result = check(tapesched(env, *command))
        assert result.code == 5, (command, result)
        assert f'database "{missing}" does not exist' in result.one_error_line
    bad_option = check(tapesched(env, "--db", with_password(pg_database) + "?bogus=1", "list"))
    assert bad_option.code == 2 and ":***@" in bad_option.one_error_line

    from tapesched.dburl import parse

    url = with_password(pg_database)
    shown = str(parse(url))
    assert ":***@" in shown
    env = environment(home, TAPESCHED_DB=url)
    before_init = check(tapesched(env, "list"))
    assert before_init.code == 5 and f"database {shown} is corrupt" in before_init.err
    init = check(tapesched(env, "init"))
    assert init.code == 0, init.err
    assert f"database: {shown}\n" in init.out
    # The crontab line: no password at all (libpq's files or PGPASSWORD hold it).
    assert f" --db {parse(url).without_password} tick\n" in init.out
    for command in (("status",), ("db", "current"), ("db", "upgrade")):
        assert shown in check(tapesched(env, *command)).out, command
    assert check(tapesched(env, "db", "current", "--json")).json()["db"] == shown
    assert check(tapesched(env, "add", "job", "--daily", "01:00", "--command", "echo ok")).code == 0
    assert check(tapesched(env, "run", "job", "--wait")).code == 0
    assert check(tapesched(env, "tick")).code == 0
    assert check(tapesched(env, "status")).code == 0
    assert check(tapesched(env, "--db", url, "show", "job")).code == 0
    with pg_connect(pg_database) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0099'")
    newer = check(tapesched(env, "list"))
    assert newer.code == 5 and f"database {shown} has schema revision 0099" in newer.err
    for path in home.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert not any(secret.encode() in content for secret in secrets), path
