"""Tick cost against the number of stored tasks, none of them due, new beside old.

State folders hold 100, 10,000 and 100,000 tasks (bulk-inserted, next run in
2099), one set made by the new code and, with an old checkout (`--old`,
default /tmp/tapesched-old), one set made by the old code's own `init`/`add`.
In one round-robin: `python -c "import sqlite3"` (the floor for any Python
process that opens SQLite), `tapesched tick` as cron runs it (the console
script) in each new folder, and `python -m tapesched tick` of the new and of
the old code in each of their folders (the old code can only be started that
way: its console script is the new one's). Printed: the 100,000/100 ratio of
the new tick (target at most 1.25, issue 3), each tick against the floor
(target within 4x, issue 8) and new/old for each size.

A second table times `tick()` of the new code inside one process (imports
excluded), so a cost that grows with the task count is not hidden by
start-up, and lists the SQL statements one tick sends to SQLite (every
statement on the Database's connection, via sqlite3's trace callback, values
inlined). Last, the query plan of the due-task query, written by hand and
exactly as `tapesched.store.tasks.due` issues it (its SQL and parameters,
captured from Database.execute).

    python benchmarks/tick_scaling.py [--runs 20] [--sizes 100,10000,100000]
                                      [--old /tmp/tapesched-old|none]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

import _bench as b

TARGET = 1.25
FLOOR_TARGET = 4.0

HAND_WRITTEN = (
    "SELECT * FROM tasks WHERE enabled = 1 AND next_run_time <= ? "
    "ORDER BY next_run_time, id LIMIT 64"
)

# Runs in a child process with the new tapesched imported: time tick() round-robin over the
# state folders, record every SQL statement it sends (trace callback on each connection the
# store opens), and the SQL and parameters of the due-task query as the store issues it.
IN_PROCESS = r"""
import json, sqlite3, sys, time
from tapesched import paths
from tapesched import tick as ticker
from tapesched.clock import utcnow
from tapesched.store import db as store_db
from tapesched.store import tasks as task_rows

homes, runs, warmup = json.loads(sys.argv[1])
statements = []
connect = sqlite3.connect


def traced_connect(*args, **kwargs):
    connection = connect(*args, **kwargs)
    connection.set_trace_callback(statements.append)
    return connection


sqlite3.connect = traced_connect
resolved = [paths.resolve(None, environ={"TAPESCHED_HOME": home}) for home in homes]
times = {home: [] for home in homes}
sql = {}
for round_no in range(warmup + runs):
    shift = round_no % len(homes)
    for index in list(range(shift, len(homes))) + list(range(shift)):
        statements.clear()
        start = time.perf_counter()
        report = ticker.tick(resolved[index], utcnow())
        elapsed = time.perf_counter() - start
        if report.busy or report.launched or report.problems:
            sys.exit(f"unexpected tick report in {homes[index]}: {report}")
        if round_no >= warmup:
            times[homes[index]].append(elapsed)
        sql[homes[index]] = list(statements)

# The due-task query exactly as the store sends it: SQL text and parameters.
issued = []
with store_db.open_database(resolved[-1], create=False) as database:
    execute = database.execute

    def capture(sql_text, params=()):
        issued.append((sql_text, params))
        return execute(sql_text, params)

    database.execute = capture
    with database.read():
        task_rows.due(database, utcnow(), 64, "bench")
        task_rows.due_retries(database, utcnow(), 64, "bench")
due = [(s, p) for s, p in issued if "FROM tasks" in s and "next_run_time <=" in s]
retries = [(s, p) for s, p in issued if "FROM tasks" in s and "retry_at <=" in s]
print(json.dumps({"times": times, "sql": sql, "due_query": due[-1] if due else None,
                  "retry_query": retries[-1] if retries else None}))
"""


def query_plan(db: Path, sql: str, params: list | dict) -> list[str]:
    connection = sqlite3.connect(db)
    try:
        return [row[3] for row in connection.execute("EXPLAIN QUERY PLAN " + sql, params)]
    finally:
        connection.close()


def executions_made(db: Path) -> int:
    connection = sqlite3.connect(db)
    try:
        return connection.execute("SELECT count(*) FROM executions").fetchone()[0]
    finally:
        connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="timed runs of each (default 20)")
    parser.add_argument(
        "--sizes", default="100,10000,100000", help="task counts (default 100,10000,100000)"
    )
    parser.add_argument("--tmpdir", help="where to make the scratch state folders")
    parser.add_argument("--keep", action="store_true", help="keep the state folders")
    b.add_old_argument(parser)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.runs < 1 or len(sizes) < 2 or min(sizes) < 1:
        parser.error("need --runs >= 1 and at least two task counts >= 1")
    b.require_tapesched()
    old = b.old_code(args.old)

    root = b.make_root(args.tmpdir)
    try:
        b.print_machine("tapesched tick: wall time against stored tasks (none due)")
        new = b.new_code()
        new_m = b.new_code(module=True)
        b.describe_codes([new, new_m] + ([old] if old else []))
        homes: dict[int, Path] = {}
        old_homes: dict[int, Path] = {}
        for size in sizes:
            homes[size] = root / f"new-{size}"
            b.make_state(homes[size], size, b.far_future, code=new)
            if old is not None:
                old_homes[size] = root / f"old-{size}"
                b.make_state(old_homes[size], size, b.far_future, code=old)
        print(
            f"state folders under {root}; tasks bulk-inserted, next run in 2099; "
            "each version's folders made by its own init/add"
        )

        # 1. The CLI, as cron runs it.
        floor = 'python -c "import sqlite3"'
        commands = {floor: b.Command([b.PYTHON, "-c", "import sqlite3"], None)}
        for size in sizes:
            commands[f"tapesched tick, {size:,} tasks (new)"] = new.command(homes[size], "tick")
        for size in sizes:
            commands[f"python -m tapesched tick, {size:,} tasks (new)"] = new_m.command(
                homes[size], "tick"
            )
            if old is not None:
                commands[f"python -m tapesched tick, {size:,} tasks ({old.label})"] = old.command(
                    old_homes[size], "tick"
                )
        print(f"\n1. `tapesched tick` as a process: {args.runs} runs of each, interleaved\n")
        times = b.interleaved(commands, args.runs)
        medians = {label: b.median(values) for label, values in times.items()}
        base = medians[floor]
        rows = []
        for label, values in times.items():
            med = medians[label]
            rows.append([label, f"{med * 1000:.1f}", b.spread(values), f"{med / base:.2f}x"])
        b.print_table(["command", "median ms", "min–max ms", "vs import sqlite3"], rows)
        first = medians[f"tapesched tick, {sizes[0]:,} tasks (new)"]
        last = medians[f"tapesched tick, {sizes[-1]:,} tasks (new)"]
        ratio = last / first
        verdict = "meets" if ratio <= TARGET else "MISSES"
        print(
            f"\nnew tick, ratio {sizes[-1]:,} / {sizes[0]:,} tasks (medians): {ratio:.3f}"
            f"  ({verdict} the target <= {TARGET})"
        )
        for size in sizes:
            against = medians[f"tapesched tick, {size:,} tasks (new)"] / base
            verdict = "meets" if against <= FLOOR_TARGET else "MISSES"
            print(
                f"new tick, {size:,} tasks / import sqlite3: {against:.2f}x"
                f"  ({verdict} the target <= {FLOOR_TARGET:g}x)"
            )
        if old is not None:
            for size in sizes:
                new_med = medians[f"python -m tapesched tick, {size:,} tasks (new)"]
                old_med = medians[f"python -m tapesched tick, {size:,} tasks ({old.label})"]
                print(
                    f"python -m tapesched tick, {size:,} tasks: new / old = "
                    f"{new_med / old_med:.3f}  (old / new = {old_med / new_med:.1f}x)"
                )

        # 2. tick() in one process: no start-up, so any per-task cost shows.
        payload = json.dumps([[str(homes[s]) for s in sizes], args.runs, 2])
        done = subprocess.run(
            [b.PYTHON, "-c", IN_PROCESS, payload],
            env=b.env_for(root / "unused"),
            cwd=str(b.REPO),
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"in-process timing failed:\n{done.stderr}")
        inproc = json.loads(done.stdout)
        print(
            f"\n2. tick() of the new code inside one process (imports excluded): "
            f"{args.runs} runs, interleaved\n"
        )
        rows = []
        base_in = b.median(inproc["times"][str(homes[sizes[0]])])
        for size in sizes:
            values = inproc["times"][str(homes[size])]
            med = b.median(values)
            statements = inproc["sql"][str(homes[size])]
            rows.append(
                [
                    f"tick(), {size:,} tasks",
                    f"{med * 1000:.2f}",
                    f"{min(values) * 1000:.2f}–{max(values) * 1000:.2f}",
                    f"{med / base_in:.2f}x",
                    len(statements),
                ]
            )
        b.print_table(["call", "median ms", "min–max ms", "vs smallest", "SQL statements"], rows)
        print(
            "\nSQL statements of one tick (largest folder), in order, as SQLite's trace "
            "callback reports them (values inlined):"
        )
        for statement in inproc["sql"][str(homes[sizes[-1]])]:
            print("  " + " ".join(statement.split())[:150])

        # 3. The due-task query uses the index.
        db = homes[sizes[-1]] / b.DB_NAME
        now = b.db_time(b.utcnow())
        print("\n3. EXPLAIN QUERY PLAN of the due-task query (largest folder)\n")
        print("as written by hand:")
        print(f"  {HAND_WRITTEN}")
        for line in query_plan(db, HAND_WRITTEN, [now]):
            print(f"  -> {line}")
        if inproc["due_query"]:
            sql, params = inproc["due_query"]
            print("as the store issues it (tapesched.store.tasks.due):")
            print("  " + " ".join(sql.split()))
            print(f"  params: {params}")
            for line in query_plan(db, sql, params):
                print(f"  -> {line}")
        else:
            print("WARNING: the due-task query was not captured")
        if inproc.get("retry_query"):
            sql, params = inproc["retry_query"]
            print("the due-retry query (tapesched.store.tasks.due_retries):")
            print("  " + " ".join(sql.split()))
            for line in query_plan(db, sql, params):
                print(f"  -> {line}")

        # Nothing was due: no execution may have been made.
        for label, folders in (("new", homes), ("old", old_homes)):
            for size, home in folders.items():
                count = executions_made(home / b.DB_NAME)
                if count:
                    print(f"WARNING: {count} executions were created in the {label} {size} folder")
        b.print_load_at_end()
    finally:
        if args.keep:
            print(f"\nkept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
