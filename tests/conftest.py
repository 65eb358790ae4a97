"""Shared fixtures: a state folder in tmp_path, the CLI in-process and as a real process,
and the catalog backends (SQLite, PostgreSQL) a test may run on."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pg
import pytest
from helpers import Result, end_recorded_processes
from speed_helpers import build_parser_once

from tapesched import entry
from tapesched.dburl import DatabaseURL
from tapesched.dburl import parse as parse_url
from tapesched.paths import StatePaths
from tapesched.store.db import open_database


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh state folder; TAPESCHED_HOME points at it."""
    folder = tmp_path / "home"
    monkeypatch.setenv("TAPESCHED_HOME", str(folder))
    monkeypatch.delenv("TAPESCHED_DB", raising=False)
    monkeypatch.delenv("TAPESCHED_MAX_CONCURRENT_RUNS", raising=False)
    monkeypatch.delenv("TAPESCHED_HOST", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("TZ", "UTC")
    return folder


@pytest.fixture
def run_cli(home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    """Run the CLI in this process (the real entry point, main()), return a Result. The
    Click command Typer builds from the app is built once per test, not once per call
    (speed_helpers.build_parser_once)."""
    build_parser_once(monkeypatch)

    def invoke(*args: str) -> Result:
        capsys.readouterr()
        try:
            entry.main(list(args))
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return invoke


@pytest.fixture
def sh(home: Path):  # noqa: ANN201
    """Run the CLI as a real process: `python -m tapesched ...`."""

    def invoke(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> Result:
        full_env = {**os.environ, **(env or {})}
        done = subprocess.run(
            [sys.executable, "-m", "tapesched", *args],
            capture_output=True,
            text=True,
            env=full_env,
            timeout=timeout,
        )
        return Result(done.returncode, done.stdout, done.stderr)

    return invoke


# --------------------------------------------------------------------------- backends


@dataclass(frozen=True)
class Backend:
    """The catalog a test runs on: the SQLite file in its state folder, or a PostgreSQL
    database of its own (TAPESCHED_DB names it; the state folder stays in tmp_path)."""

    name: str  # "sqlite" or "postgresql"
    home: Path
    location: Path | DatabaseURL

    @property
    def paths(self) -> StatePaths:
        return StatePaths(home=self.home, db=self.location)

    @property
    def arg(self) -> str:
        """The catalog as --db and TAPESCHED_DB take it."""
        if isinstance(self.location, DatabaseURL):
            return self.location.render(mask=False)
        return str(self.location)


@pytest.fixture(scope="session")
def pg_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(server URL, template name): one database per pytest session (each xdist worker is
    one) with tapesched's schema at the newest revision, which each test's database is
    copied from (CREATE DATABASE ... TEMPLATE: far quicker than migrating each); dropped
    at the end of the session. Its text sorts by en-US rules where the server has ICU.
    Skips without TAPESCHED_TEST_PG."""
    import psycopg

    server = pg.require_server()
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    try:
        # A linguistic collation, as on most servers (this one's default may be C), so that
        # a query that leaves the order of text to the database shows up here.
        url = pg.create_database(server, prefix=f"ts_tpl_{worker}", icu_locale="en-US")
    except psycopg.Error:  # before PostgreSQL 15, or built without ICU
        url = pg.create_database(server, prefix=f"ts_tpl_{worker}")
    try:
        home = tmp_path_factory.mktemp("pg-template")
        with pytest.MonkeyPatch.context() as patch:
            # As a test's own `init` would make it: no host named by the environment.
            patch.delenv("TAPESCHED_HOST", raising=False)
            open_database(StatePaths(home=home, db=parse_url(url))).close()
        yield server, parse_url(url).dbname
    finally:
        pg.drop_database(server, url)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(
    request: pytest.FixtureRequest, home: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Backend]:
    """Run the test on each backend: the SQLite file in `home`, and a fresh PostgreSQL
    database (a copy of the session's template) that TAPESCHED_DB names, dropped after the
    test, once the runners and jobs it names are ended. The PostgreSQL variant skips
    without TAPESCHED_TEST_PG (pg.SKIP_REASON)."""
    if request.param == "sqlite":
        yield Backend("sqlite", home, home / "tapesched.db")
        return
    pg.require_server()
    server, template = request.getfixturevalue("pg_template")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    url = pg.create_database(server, template=template, prefix=f"ts_test_{worker}")
    monkeypatch.setenv("TAPESCHED_DB", url)
    try:
        yield Backend("postgresql", home, parse_url(url))
    finally:
        try:
            end_recorded_processes(parse_url(url))
        finally:
            pg.drop_database(server, url)
