"""PostgreSQL helpers for the benchmarks: the server, throwaway databases, bulk tasks.

The server is named by a URL such as postgresql+psycopg://postgres@127.0.0.1:5432/postgres
(`--pg`, else TAPESCHED_BENCH_PG, else that default); the database in it is the one
connected to for CREATE DATABASE and DROP DATABASE. Every database a benchmark makes
is named `tsbench_<12 hex digits>` and dropped (WITH (FORCE): whatever is still
connected is ended) when the `Scratch` block ends, however it ends.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import _bench as b

DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
ENV_SERVER = "TAPESCHED_BENCH_PG"
PREFIX = "tsbench"


def add_server_argument(parser) -> None:  # noqa: ANN001 - an argparse parser
    parser.add_argument(
        "--pg",
        default=os.environ.get(ENV_SERVER) or DEFAULT_SERVER,
        metavar="SERVER_URL",
        help=f"PostgreSQL server to make scratch databases on (default ${ENV_SERVER}, "
        f"else {DEFAULT_SERVER})",
    )


def parse_url(url: str) -> Any:
    from tapesched.dburl import parse

    return parse(url)


def connect(url: str, autocommit: bool = True) -> Any:
    """A psycopg connection to the database `url` names (tapesched's own URL parsing)."""
    import psycopg

    return psycopg.connect(**parse_url(url).connect_arguments(), autocommit=autocommit)


def url_for(server: str, name: str) -> str:
    """The server's URL with another database name (password kept)."""
    parsed = parse_url(server)
    return dataclasses.replace(parsed, dbname=name).render(mask=False)


def server_version(server: str) -> str:
    with connect(server) as connection:
        version = connection.execute("SHOW server_version").fetchone()[0]
        limit = connection.execute("SHOW max_connections").fetchone()[0]
    return f"PostgreSQL {version} (max_connections {limit})"


def server_line(server: str) -> str:
    return f"server:   {parse_url(server)}; {server_version(server)}"


class Scratch:
    """Throwaway databases on one server; all of them dropped by `drop_all`."""

    def __init__(self, server: str) -> None:
        self.server = server
        self.made: list[str] = []

    def create(self) -> str:
        """A new empty database; its URL."""
        name = f"{PREFIX}_{uuid.uuid4().hex[:12]}"
        with connect(self.server) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        self.made.append(name)
        return url_for(self.server, name)

    def drop(self, url: str) -> None:
        name = parse_url(url).dbname
        with connect(self.server) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self.made:
            self.made.remove(name)

    def drop_all(self) -> list[str]:
        """Drop every database made here; return the names that could not be dropped."""
        failed = []
        for name in list(self.made):
            try:
                self.drop(url_for(self.server, name))
            except Exception as error:  # noqa: BLE001 - reported; the others are still dropped
                failed.append(f"{name}: {error}")
        return failed


@contextmanager
def scratch(server: str) -> Iterator[Scratch]:
    """Scratch databases for the duration of the block, dropped at its end (and checked)."""
    made = Scratch(server)
    try:
        yield made
    finally:
        failed = made.drop_all()
        for line in failed:
            print(f"WARNING: could not drop scratch database {line}")
        try:
            with connect(server) as connection:
                left = connection.execute(
                    "SELECT datname FROM pg_database WHERE datname = ANY(%s)", [list(made.made)]
                ).fetchall()
        except Exception as error:  # noqa: BLE001 - the block's own error matters more
            print(f"WARNING: could not check for scratch databases left: {error}")
        else:
            if left:
                print(f"WARNING: scratch databases left on the server: {[n for (n,) in left]}")


def env_for(home: Path, url: str | None = None, host: str | None = None) -> dict[str, str]:
    """_bench.env_for (no TAPESCHED_*, no PYTHONPATH, TAPESCHED_HOME=home), with the catalog
    named by TAPESCHED_DB (when `url` is given) and the host by TAPESCHED_HOST."""
    env = b.env_for(home)
    if url is not None:
        env["TAPESCHED_DB"] = url
    if host is not None:
        env["TAPESCHED_HOST"] = host
    return env


def tapesched(home: Path, url: str, *args: str, host: str | None = None) -> None:
    """Run one tapesched command of the working tree on the catalog `url` (exit checked)."""
    b.run_checked(
        [*b.tapesched_argv(), "--db", url, *args],
        env_for(home, host=host),
        cwd=str(b.REPO),
    )


def make_state(
    url: str,
    home: Path,
    count: int,
    first: datetime,
    step: timedelta,
    hosts: Sequence[str] = ("any",),
    action_config: dict | None = None,
    analyze: bool = True,
) -> None:
    """Give the empty database `url` tapesched's schema and `count` tasks.

    `tapesched init` (state folder `home`, host h0) and one `tapesched add` make the
    schema and a template row; the template is then replaced, in one transaction on the
    server, by `count` copies named bench-000000, ... whose next_run_time is
    first + i * step and whose host is hosts[i % len(hosts)]. Then (with `analyze`)
    ANALYZE, as autovacuum does within a minute or so of such a load.
    """
    home.mkdir(parents=True, exist_ok=True)
    tapesched(home, url, "init", host="h0")
    template = ("add", "template", "--every", "1d", "--command", "true", "--host", "any")
    tapesched(home, url, *template, host="h0")
    with connect(url, autocommit=False) as connection:
        columns = [
            name
            for (name,) in connection.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'tasks' AND column_name <> 'id' ORDER BY ordinal_position"
            ).fetchall()
        ]
        computed = {
            "task_name": "'bench-' || lpad(i::text, 6, '0')",
            "next_run_time": "%(first)s::timestamp + i * %(step)s::interval",
            "host": "(%(hosts)s::text[])[i %% %(count_hosts)s + 1]",
        }
        if action_config is not None:
            computed["action_config"] = "%(action)s::json"
        select = ", ".join(computed.get(name, f"t.{name}") for name in columns)
        connection.execute(
            f"INSERT INTO tasks ({', '.join(columns)}) SELECT {select} "
            "FROM tasks t, generate_series(0, %(last)s) AS i WHERE t.task_name = 'template'",
            {
                "first": b.db_time(first),
                "step": step,
                "hosts": list(hosts),
                "count_hosts": len(hosts),
                "last": count - 1,
                "action": None if action_config is None else json.dumps(action_config),
            },
        )
        connection.execute("DELETE FROM tasks WHERE task_name = 'template'")
        connection.commit()
        if analyze:
            analyze_tables(connection)


def analyze_tables(connection: Any) -> None:
    """ANALYZE the tasks and executions tables (statistics for the planner)."""
    connection.execute("ANALYZE tasks")
    connection.execute("ANALYZE executions")
    if not connection.autocommit:
        connection.commit()


def stop_processes(pids: Sequence[int]) -> None:
    """SIGKILL to each pid's process group (runners lead their own) and to the pid."""
    import signal

    for pid in pids:
        for kill in (os.killpg, os.kill):
            try:
                kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def pids_naming(needle: bytes, forks: bool = True) -> list[int]:
    """tapesched processes (ticks, runners) of this user with an argument holding `needle`
    (a scratch database's unique name, or a scratch folder's path: their --db).

    Never a server backend: its title ("postgres: 15/main: postgres tsbench_... SELECT")
    names the database too, and killing a backend makes the server restart every
    connection. So the process must run as this user, have an argument naming tapesched
    and not be titled "postgres:"."""
    found: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if entry.stat().st_uid != os.getuid():
                continue
            with open(f"/proc/{entry.name}/cmdline", "rb") as handle:
                argv = handle.read().split(b"\0")
            if (
                argv[0].startswith(b"postgres")
                or not any(needle in arg for arg in argv)
                or not any(b"tapesched" in arg for arg in argv)
            ):
                continue
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                ppid = int(handle.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        found[int(entry.name)] = ppid
    if forks:
        return list(found)
    return [pid for pid, ppid in found.items() if ppid not in found]


def driver_version() -> str:
    """psycopg's and libpq's versions (what the benchmark and tapesched talk through)."""
    done = subprocess.run(
        [b.PYTHON, "-c", "import psycopg; print(psycopg.__version__, psycopg.pq.version())"],
        capture_output=True,
        text=True,
        check=False,
    )
    parts = done.stdout.split()
    return f"psycopg {parts[0]}, libpq {parts[1]}" if len(parts) == 2 else "psycopg ?"
