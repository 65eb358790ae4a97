"""Tick cost on PostgreSQL against the number of stored tasks, none due, beside SQLite.

For each size (default 100, 10,000 and 100,000 tasks, next run in 2099, bound
to `any`) one scratch PostgreSQL database and one SQLite state folder are made.
In one round-robin: the floors `python -c "import sqlite3"` (any Python process
that opens SQLite), `python -c "import psycopg"` and `python -c "import
psycopg; psycopg.connect(...)"` (any that opens a PostgreSQL connection);
`tapesched tick` on each SQLite folder and `tapesched --db URL tick` (the
crontab line `init` prints) on each PostgreSQL database, as host h1. Printed:
medians, the largest/smallest ratio on each backend (target at most 1.25, as
on SQLite), PostgreSQL against SQLite and against the floors.

Then `tick()` inside one process (imports excluded), round-robin over every
database, with the statements one tick sends (SQLite's trace callback;
psycopg's Connection.execute), and the due-task query as
`tapesched.store.tasks.due` issues it (SQL and parameters captured from
Database.execute) run ten more times on one connection, to show whether
psycopg prepared it and which plans PostgreSQL made (pg_prepared_statements).

Last, the plans of the due query on the largest database, its SQL and
parameters built by `tapesched.store.tasks.due` itself: EXPLAIN (ANALYZE,
BUFFERS) right after the bulk load (no statistics yet, unless autovacuum was
quicker) and after ANALYZE, and the generic plan a prepared statement can
switch to (PREPARE, plan_cache_mode = force_generic_plan). The due query should
search ix_tasks_enabled_next_run_time.

Every database is made on the server `--pg` names (default $TAPESCHED_BENCH_PG,
else postgresql+psycopg://postgres@127.0.0.1:5432/postgres) and dropped at the end.

    python benchmarks/tick_scaling_pg.py [--runs 20] [--sizes 100,10000,100000] [--pg URL]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sqlite3
import subprocess
from datetime import timedelta
from pathlib import Path

import _bench as b
import _pg

TARGET = 1.25
HOST = "h1"

# Runs in a child process with the new tapesched imported: time tick() round-robin over
# the SQLite folders and PostgreSQL databases, record every statement it sends (SQLite's
# trace callback; psycopg's Connection.execute), capture the due-task query as the store
# issues it, and run it ten more times on one connection to see what psycopg and the
# server make of it (pg_prepared_statements).
IN_PROCESS = r"""
import json, sqlite3, sys, time
import psycopg
from tapesched import paths
from tapesched import tick as ticker
from tapesched.clock import utcnow
from tapesched.hosts import this_host
from tapesched.store import db as store_db
from tapesched.store import tasks as task_rows

targets, runs, warmup = json.loads(sys.argv[1])
statements = []
connect = sqlite3.connect


def traced_connect(*args, **kwargs):
    connection = connect(*args, **kwargs)
    connection.set_trace_callback(statements.append)
    return connection


sqlite3.connect = traced_connect
pg_execute = psycopg.Connection.execute


def traced_execute(self, query, params=None, **kwargs):
    statements.append(query if isinstance(query, str) else repr(query))
    return pg_execute(self, query, params, **kwargs)


psycopg.Connection.execute = traced_execute
resolved = {
    label: paths.resolve(db, environ={"TAPESCHED_HOME": home}) for label, home, db in targets
}
labels = list(resolved)
times = {label: [] for label in labels}
sql = {}
for round_no in range(warmup + runs):
    shift = round_no % len(labels)
    for label in labels[shift:] + labels[:shift]:
        statements.clear()
        start = time.perf_counter()
        report = ticker.tick(resolved[label], utcnow())
        elapsed = time.perf_counter() - start
        if report.busy or report.launched or report.problems:
            sys.exit(f"unexpected tick report for {label}: {report}")
        if round_no >= warmup:
            times[label].append(elapsed)
        sql[label] = list(statements)


def due_query(label):
    # The due-task query exactly as the store sends it, then ten more times on the same
    # connection (psycopg prepares a statement on its 5th execution).
    issued = []
    with store_db.open_database(resolved[label], create=False) as database:
        execute = database.execute

        def capture(sql_text, params=()):
            issued.append((sql_text, params))
            return execute(sql_text, params)

        database.execute = capture
        with database.read():
            task_rows.due(database, utcnow(), 64, this_host())
        database.execute = execute
        prepared = None
        if database.shared:
            for _ in range(10):
                with database.read():
                    task_rows.due(database, utcnow(), 64, this_host())
            with database.read():
                prepared = database.rows(
                    "SELECT name, generic_plans, custom_plans, statement "
                    "FROM pg_prepared_statements WHERE statement LIKE '%next_run_time <=%'"
                )
    due = [(s, p) for s, p in issued if "FROM tasks" in s and "next_run_time <=" in s]
    return (due[-1] if due else None), prepared


largest_pg = [label for label, home, db in targets if db][-1]
largest_sqlite = [label for label, home, db in targets if not db][-1]
pg_due, prepared = due_query(largest_pg)
sqlite_due, _ = due_query(largest_sqlite)
print(json.dumps({"times": times, "sql": sql, "pg_due": pg_due, "sqlite_due": sqlite_due,
                  "prepared": [list(row) for row in prepared or []]}))
"""


def store_due_query() -> tuple[str, dict]:
    """The due query exactly as tapesched.store.tasks.due builds it for host h1 now: its
    SQL (`:name` parameters) and parameters, caught by a stand-in for the Database."""
    from tapesched.store import tasks as task_rows

    class Catch:
        issued: tuple[str, dict] = ("", {})

        def rows(self, sql: str, params: dict) -> list:
            self.issued = (sql, params)
            return []

    catch = Catch()
    task_rows.due(catch, b.utcnow(), 64, HOST)
    return catch.issued


def translate(sql: str) -> str:
    """The store's `:name` parameters as psycopg's, as tapesched's PostgreSQL driver does."""
    from tapesched.store.postgres import translate as driver_translate

    return driver_translate(sql)


def explain(url: str, sql: str, params: dict, analyze: bool = True) -> list[str]:
    """EXPLAIN of `sql` (psycopg placeholders) with `params`, on a connection of its own."""
    options = "(ANALYZE, BUFFERS)" if analyze else "(COSTS)"
    with _pg.connect(url) as connection:
        connection.execute("SET TIME ZONE 'UTC'")
        return [row[0] for row in connection.execute(f"EXPLAIN {options} {sql}", params)]


def generic_plan(url: str, sql: str, params: dict) -> list[str]:
    """The generic plan of the store's due query (`:name` parameters) as a prepared
    statement: PREPARE, then EXPLAIN EXECUTE with plan_cache_mode = force_generic_plan."""
    from psycopg import sql as pgsql

    names: list[str] = []

    def number(match: re.Match) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    positional = re.sub(r"(?<![:\w]):([A-Za-z_]\w*)", number, sql)
    with _pg.connect(url) as connection:
        connection.execute("SET TIME ZONE 'UTC'")
        connection.execute(f"PREPARE bench_due AS {positional}")
        connection.execute("SET plan_cache_mode = force_generic_plan")
        values = pgsql.SQL(", ").join(pgsql.Literal(params[name]) for name in names)
        query = pgsql.SQL("EXPLAIN EXECUTE bench_due({})").format(values)
        lines = [row[0] for row in connection.execute(query)]
        connection.execute("DEALLOCATE bench_due")
    return lines


def statistics_state(url: str) -> str:
    with _pg.connect(url) as connection:
        row = connection.execute(
            "SELECT last_analyze, last_autoanalyze FROM pg_stat_user_tables WHERE relname = 'tasks'"
        ).fetchone()
        autovacuum = connection.execute("SHOW autovacuum").fetchone()[0]
    if row is None:
        return f"no statistics row; autovacuum {autovacuum}"
    when = [f"{x:%H:%M:%S} UTC" if x else "never" for x in row]
    return f"tasks last ANALYZE {when[0]}, autoanalyze {when[1]}; autovacuum {autovacuum}"


def executions_made_pg(url: str) -> int:
    with _pg.connect(url) as connection:
        return connection.execute("SELECT count(*) FROM executions").fetchone()[0]


def executions_made_sqlite(db: Path) -> int:
    connection = sqlite3.connect(db)
    try:
        return connection.execute("SELECT count(*) FROM executions").fetchone()[0]
    finally:
        connection.close()


def short(statement: str) -> str:
    """One line of a statement, a long column list shown as <columns>."""
    text = " ".join(statement.split())
    return re.sub(r"^SELECT (?:[\w.]+, ){5,}[\w.]+ FROM", "SELECT <columns> FROM", text)[:160]


def searches_index(lines: list[str]) -> str:
    return "yes" if any("ix_tasks_enabled_next_run_time" in line for line in lines) else "NO"


def print_plan(lines: list[str]) -> None:
    for line in lines:
        print(f"  {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="timed runs of each (default 20)")
    parser.add_argument(
        "--sizes", default="100,10000,100000", help="task counts (default 100,10000,100000)"
    )
    parser.add_argument("--tmpdir", help="where to make the scratch state folders")
    _pg.add_server_argument(parser)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.runs < 1 or len(sizes) < 2 or min(sizes) < 1:
        parser.error("need --runs >= 1 and at least two task counts >= 1")
    b.require_tapesched()

    root = b.make_root(args.tmpdir)
    try:
        with _pg.scratch(args.pg) as scratch:
            b.print_machine("tapesched tick on PostgreSQL: wall time against stored tasks")
            print(_pg.server_line(args.pg) + f"; {_pg.driver_version()}")
            new = b.new_code()
            b.describe_codes([new])
            urls: dict[int, str] = {}
            pg_homes: dict[int, Path] = {}
            homes: dict[int, Path] = {}
            for size in sizes:
                homes[size] = root / f"sqlite-{size}"
                b.make_state(homes[size], size, b.far_future, code=new)
                urls[size] = scratch.create()
                pg_homes[size] = root / f"pg-{size}"
                _pg.make_state(
                    urls[size],
                    pg_homes[size],
                    size,
                    b.far_future(0),
                    timedelta(seconds=37),
                    analyze=False,
                )
            largest = urls[sizes[-1]]
            print(
                f"SQLite state folders and PostgreSQL databases "
                f"({', '.join(_pg.parse_url(urls[s]).dbname for s in sizes)}) under {root}; "
                "tasks bulk-inserted (bound to any), next run in 2099; ticks as host "
                f"{HOST}"
            )

            # The plan right after the load, before ANALYZE.
            due_sql, due_params = store_due_query()
            before_state = statistics_state(largest)
            before = explain(largest, translate(due_sql), due_params)
            with _pg.connect(largest) as connection:
                _pg.analyze_tables(connection)
            for size in sizes[:-1]:
                with _pg.connect(urls[size]) as connection:
                    _pg.analyze_tables(connection)

            # 1. The CLI, as cron runs it.
            floor = 'python -c "import sqlite3"'
            import_floor = 'python -c "import psycopg"'
            pg_floor = 'python -c "import psycopg; psycopg.connect(...)"'
            conninfo = _conninfo(largest)
            commands = {
                floor: b.Command([b.PYTHON, "-c", "import sqlite3"], None),
                import_floor: b.Command([b.PYTHON, "-c", "import psycopg"], None),
                pg_floor: b.Command(
                    [b.PYTHON, "-c", "import psycopg, sys; psycopg.connect(sys.argv[1]).close()"]
                    + [conninfo],
                    None,
                ),
            }
            for size in sizes:
                commands[f"tapesched tick, SQLite, {size:,} tasks"] = new.command(
                    homes[size], "tick"
                )
            for size in sizes:
                commands[f"tapesched --db URL tick, PostgreSQL, {size:,} tasks"] = b.Command(
                    [*new.argv, "--db", urls[size], "tick"],
                    _pg.env_for(pg_homes[size], host=HOST),
                    new.cwd,
                )
            print(f"\n1. `tapesched tick` as a process: {args.runs} runs of each, interleaved\n")
            times = b.interleaved(commands, args.runs)
            medians = {label: b.median(values) for label, values in times.items()}
            rows = []
            for label, values in times.items():
                med = medians[label]
                rows.append(
                    [
                        label,
                        f"{med * 1000:.1f}",
                        b.spread(values),
                        f"{med / medians[floor]:.2f}x",
                        f"{med / medians[pg_floor]:.2f}x",
                    ]
                )
            b.print_table(
                ["command", "median ms", "min–max ms", "vs import sqlite3", "vs psycopg connect"],
                rows,
            )
            print()
            for backend, label in (
                ("SQLite", "tapesched tick, SQLite, {:,} tasks"),
                ("PostgreSQL", "tapesched --db URL tick, PostgreSQL, {:,} tasks"),
            ):
                ratio = medians[label.format(sizes[-1])] / medians[label.format(sizes[0])]
                verdict = "meets" if ratio <= TARGET else "MISSES"
                print(
                    f"{backend} tick, ratio {sizes[-1]:,} / {sizes[0]:,} tasks (medians): "
                    f"{ratio:.3f}  ({verdict} the target <= {TARGET})"
                )
            for size in sizes:
                pg = medians[f"tapesched --db URL tick, PostgreSQL, {size:,} tasks"]
                lite = medians[f"tapesched tick, SQLite, {size:,} tasks"]
                print(
                    f"{size:,} tasks: PostgreSQL / SQLite tick = {pg / lite:.2f}; "
                    f"PostgreSQL tick - psycopg connect floor = "
                    f"{(pg - medians[pg_floor]) * 1000:.1f} ms, SQLite tick - import sqlite3 "
                    f"floor = {(lite - medians[floor]) * 1000:.1f} ms"
                )

            # 2. tick() in one process: no start-up, so any per-task cost shows.
            targets = [[f"SQLite, {s:,} tasks", str(homes[s]), None] for s in sizes] + [
                [f"PostgreSQL, {s:,} tasks", str(pg_homes[s]), urls[s]] for s in sizes
            ]
            env = b.env_for(root / "unused")
            env["TAPESCHED_HOST"] = HOST
            done = subprocess.run(
                [b.PYTHON, "-c", IN_PROCESS, json.dumps([targets, args.runs, 2])],
                env=env,
                cwd=str(b.REPO),
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                raise SystemExit(f"in-process timing failed:\n{done.stderr}")
            inproc = json.loads(done.stdout)
            print(
                f"\n2. tick() inside one process (imports excluded): {args.runs} runs, "
                "interleaved over all databases\n"
            )
            rows = []
            for backend in ("SQLite", "PostgreSQL"):
                base = b.median(inproc["times"][f"{backend}, {sizes[0]:,} tasks"])
                for size in sizes:
                    label = f"{backend}, {size:,} tasks"
                    values = inproc["times"][label]
                    med = b.median(values)
                    rows.append(
                        [
                            f"tick(), {label}",
                            f"{med * 1000:.2f}",
                            f"{min(values) * 1000:.2f}–{max(values) * 1000:.2f}",
                            f"{med / base:.2f}x",
                            len(inproc["sql"][label]),
                        ]
                    )
            b.print_table(
                ["call", "median ms", "min–max ms", "vs smallest", "SQL statements"], rows
            )
            pg_label = f"PostgreSQL, {sizes[-1]:,} tasks"
            lite_label = f"SQLite, {sizes[-1]:,} tasks"
            print(
                f"\ntick() PostgreSQL / SQLite, {sizes[-1]:,} tasks: "
                f"{b.median(inproc['times'][pg_label]) / b.median(inproc['times'][lite_label]):.2f}"
            )
            print(
                "\nStatements of one tick on PostgreSQL (largest database), in order, as "
                "psycopg's Connection.execute receives them:"
            )
            for statement in inproc["sql"][pg_label]:
                print("  " + short(statement))
            if inproc["prepared"]:
                print(
                    "\nThe due query run 11 times on one connection: psycopg prepared it; "
                    "pg_prepared_statements says:"
                )
                for name, generic, custom, _statement in inproc["prepared"]:
                    print(f"  {name}: {generic} generic plans, {custom} custom plans")
            else:
                print("\nThe due query run 11 times on one connection: not prepared")

            # 3. The due-task query's plan on the largest database.
            print(f"\n3. Plans of the due-task query, PostgreSQL, {sizes[-1]:,} tasks\n")
            print("the due query as tapesched.store.tasks.due builds it:")
            print("  " + short(due_sql))
            print(f"  params: {due_params}")
            if inproc["pg_due"] and inproc["pg_due"][0] != due_sql:
                print("WARNING: the SQL the tick sent differs:\n  " + short(inproc["pg_due"][0]))
            elif inproc["pg_due"]:
                print("  (the same SQL as the tick in section 2 sent)")
            print(f"\nright after the bulk load ({before_state}):")
            print_plan(before)
            due_sql, due_params = store_due_query()
            print(f"\nafter ANALYZE ({statistics_state(largest)}):")
            custom = explain(largest, translate(due_sql), due_params)
            print_plan(custom)
            print("\nits generic plan (PREPARE; plan_cache_mode = force_generic_plan):")
            generic = generic_plan(largest, due_sql, due_params)
            print_plan(generic)
            print()
            for what, plan in (
                ("right after the load", before),
                ("after ANALYZE", custom),
                ("after ANALYZE, generic plan", generic),
            ):
                print(f"searches ix_tasks_enabled_next_run_time, {what}: {searches_index(plan)}")
            if inproc["sqlite_due"]:
                sql, params = inproc["sqlite_due"]
                connection = sqlite3.connect(homes[sizes[-1]] / b.DB_NAME)
                try:
                    plan = connection.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
                finally:
                    connection.close()
                print(f"\nSQLite, {sizes[-1]:,} tasks, as the store issues it:")
                for row in plan:
                    print(f"  -> {row[3]}")

            # Nothing was due: no execution may have been made.
            for size in sizes:
                for label, count in (
                    ("SQLite", executions_made_sqlite(homes[size] / b.DB_NAME)),
                    ("PostgreSQL", executions_made_pg(urls[size])),
                ):
                    if count:
                        print(f"WARNING: {count} executions were created ({label}, {size})")
            b.print_load_at_end()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _conninfo(url: str) -> str:
    from psycopg.conninfo import make_conninfo

    return make_conninfo(**_pg.parse_url(url).connect_arguments())


if __name__ == "__main__":
    main()
