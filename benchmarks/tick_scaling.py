"""Tick cost against the number of stored tasks, none of them due.

Three state folders hold 100, 10,000 and 100,000 tasks (bulk-inserted, next run
in 2099). `tapesched tick` is timed in each, round-robin with
`python -c "import sqlite3"` (the floor for any Python process that opens
SQLite), and the 100,000/100 ratio of the medians is printed: the target is at
most 1.25 (issue 3). A second table times `tick()` inside one process
(imports excluded), so a cost that grows with the task count is not hidden by
the ~0.4 s of start-up, and counts the SQL statements one tick issues. Last,
the query plans of the due-task query, both as written by hand and as
tapesched's ORM actually emits it, to show it searches the index.

    python benchmarks/tick_scaling.py [--runs 20] [--sizes 100,10000,100000]
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

HAND_WRITTEN = (
    "SELECT * FROM tasks WHERE enabled = 1 AND next_run_time <= ? "
    "ORDER BY next_run_time, id LIMIT 64"
)

# Runs in a child process with tapesched imported: time tick() round-robin over the
# state folders and record the SQL it sends, and the SQL of the due-task query.
IN_PROCESS = r"""
import json, sys, time
from sqlalchemy import event
from sqlalchemy.engine import Engine
from tapesched import paths, store as db, tick as ticker
from tapesched.clock import utcnow

homes, runs, warmup = json.loads(sys.argv[1])
statements = []
event.listen(
    Engine, "before_cursor_execute",
    lambda conn, cursor, statement, params, context, many: statements.append(
        (statement, list(params) if isinstance(params, (tuple, list)) else params)
    ),
)
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
        sql[homes[index]] = [s for s, _ in statements]

# The due-task query exactly as tapesched sends it.
store = db.Store(resolved[-1], create=False)
statements.clear()
with store.read() as session:
    db.due_tasks(session, utcnow(), 64)
due = [(s, p) for s, p in statements if "FROM tasks" in s and "next_run_time <=" in s]
print(json.dumps({"times": times, "sql": sql, "due_query": due[-1] if due else None}))
"""


def query_plan(db: Path, sql: str, params: list) -> list[str]:
    connection = sqlite3.connect(db)
    try:
        return [row[3] for row in connection.execute("EXPLAIN QUERY PLAN " + sql, params)]
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
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.runs < 1 or len(sizes) < 2 or min(sizes) < 1:
        parser.error("need --runs >= 1 and at least two task counts >= 1")
    b.require_tapesched()

    root = b.make_root(args.tmpdir)
    try:
        b.print_machine("tapesched tick: wall time against stored tasks (none due)")
        homes: dict[int, Path] = {}
        for size in sizes:
            home = root / f"tasks-{size}"
            b.make_state(home, size, b.far_future)
            homes[size] = home
        print(f"state folders under {root}; tasks bulk-inserted, next run in 2099")
        cli = b.tapesched_argv()

        # 1. The CLI, as cron runs it.
        commands = {'python -c "import sqlite3"': ([b.PYTHON, "-c", "import sqlite3"], None)}
        for size in sizes:
            commands[f"tapesched tick, {size:,} tasks"] = ([*cli, "tick"], b.env_for(homes[size]))
        print(f"\n1. `tapesched tick` as a process: {args.runs} runs of each, interleaved\n")
        times = b.interleaved(commands, args.runs)
        base = b.median(times['python -c "import sqlite3"'])
        rows = []
        for label, values in times.items():
            med = b.median(values)
            rows.append([label, f"{med * 1000:.1f}", b.spread(values), f"{med / base:.2f}x"])
        b.print_table(["command", "median ms", "min–max ms", "vs import sqlite3"], rows)
        first = b.median(times[f"tapesched tick, {sizes[0]:,} tasks"])
        last = b.median(times[f"tapesched tick, {sizes[-1]:,} tasks"])
        ratio = last / first
        verdict = "meets" if ratio <= TARGET else "MISSES"
        print(
            f"\nratio {sizes[-1]:,} / {sizes[0]:,} tasks (medians): {ratio:.3f}"
            f"  ({verdict} the target <= {TARGET})"
        )

        # 2. tick() in one process: no start-up, so any per-task cost shows.
        payload = json.dumps([[str(homes[s]) for s in sizes], args.runs, 2])
        done = subprocess.run(
            [b.PYTHON, "-c", IN_PROCESS, payload],
            env=b.env_for(root / "unused"),
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"in-process timing failed:\n{done.stderr}")
        inproc = json.loads(done.stdout)
        print(f"\n2. tick() inside one process (imports excluded): {args.runs} runs, interleaved\n")
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
        print("\nSQL statements of one tick (largest folder), in order:")
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
            print("as tapesched's ORM emits it (store.due_tasks):")
            print("  " + " ".join(sql.split()))
            print(f"  params: {params}")
            for line in query_plan(db, sql, params):
                print(f"  -> {line}")

        # Nothing was due: no execution may have been made.
        for size in sizes:
            connection = sqlite3.connect(homes[size] / b.DB_NAME)
            count = connection.execute("SELECT count(*) FROM executions").fetchone()[0]
            connection.close()
            if count:
                print(f"WARNING: {count} executions were created in the {size}-task folder")
        b.print_load_at_end()
    finally:
        if args.keep:
            print(f"\nkept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
