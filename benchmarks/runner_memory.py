"""One runner, `tapesched _run EXECUTION_ID`, for a custom `true` task: peak memory and start-up.

What a runner costs before its job starts, new code beside old. Each version
gets its own state folder, made by its own `init` and
`add mem --every 1d --command true`, and execution rows made the way
`tapesched run` makes them (the row control.run_now inserts, through that
version's own store, without the launch). This script then starts each runner
itself, exactly as tick and run do (`python -m tapesched --db DB _run ID`, new
session, stdin /dev/null, output to the execution's log), with the old version
importable from its checkout (`--old`, default /tmp/tapesched-old) only.

Per runner process, through GNU time (`/usr/bin/time -f %M`, so the child is
not forked from this Python process, whose pages would count in its peak RSS):
  - max RSS;
  - CPU time, user + system, of the whole process and its job (`true`), from
    wait4(2) on GNU time (which adds well under a millisecond);
  - wall time, from just before the spawn until it has been reaped;
  - spawn -> start: from the spawn until the runner recorded its start
    (executions.started_at, written just before the job starts), and
    spawn -> done, until it recorded the outcome (completed_at).
Plain interpreters are measured alongside for scale. Everything runs
round-robin (the order rotating each round) after warm-up rounds; medians.
Last, which heavy modules each runner imports (one more run each, with
PYTHONPROFILEIMPORTTIME).

    python benchmarks/runner_memory.py [--runs 15] [--old /tmp/tapesched-old|none]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import _bench as b

# Children with one version importable: make `count` execution rows as run_now does.
MAKE_NEW = r"""
import json, sys, uuid
from tapesched import paths
from tapesched.clock import utcnow
from tapesched.store import executions, tasks
from tapesched.store.db import open_database

name, count = sys.argv[1], int(sys.argv[2])
state = paths.resolve(None)
made = []
with open_database(state, create=False) as db, db.write():
    task = tasks.find(db, name)
    for _ in range(count):
        execution_id = str(uuid.uuid4())
        log_path = str(state.output_log(task.task_name, execution_id))
        executions.insert(db, {"execution_id": execution_id, "task_id": task.id,
                               "trigger": "manual", "created_at": utcnow(),
                               "status": "running", "device": task.device,
                               "log_path": log_path})
        made.append([execution_id, log_path])
print(json.dumps({"db": str(state.db), "executions": made}))
"""

MAKE_OLD = r"""
import json, sys, uuid
from tapesched import paths, store as db
from tapesched.clock import utcnow
from tapesched.models import Execution

name, count = sys.argv[1], int(sys.argv[2])
state = paths.resolve(None)
store = db.Store(state, create=False)
made = []
with store.write() as session:
    task = db.find_task(session, name)
    for _ in range(count):
        execution_id = str(uuid.uuid4())
        log_path = str(state.output_log(task.task_name, execution_id))
        session.add(Execution(execution_id=execution_id, task_id=task.id, trigger="manual",
                              created_at=utcnow(), status="running", device=task.device,
                              log_path=log_path))
        made.append([execution_id, log_path])
print(json.dumps({"db": str(state.db), "executions": made}))
"""

GNU_TIME = "/usr/bin/time"
HEAVY = ("typer", "click", "rich", "sqlalchemy", "sqlmodel", "croniter")
TARGET = 0.5


def have_gnu_time() -> bool:
    try:
        done = subprocess.run([GNU_TIME, "--version"], capture_output=True, text=True, check=False)
    except OSError:
        return False
    return "GNU" in done.stdout + done.stderr


def measure(command: b.Command, log_path: str | None, gnu_time: str | None) -> dict:
    """Run a command as a child (new session, stdin /dev/null, output to log_path or
    /dev/null); return its max RSS (KiB), CPU and wall seconds, and the wall-clock
    instant just before the spawn.

    With GNU time the child is forked from that small C program; a child forked straight
    from this Python process would count this process's pages (copied at fork, shared
    under vfork) in its high-water mark before its exec, which puts a floor of about this
    process's own RSS under every figure.
    """
    if log_path:
        Path(log_path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        out = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    else:
        out = os.open(os.devnull, os.O_WRONLY)
    argv = list(command.argv)
    full = [GNU_TIME, "-f", "%M", "-o", gnu_time, *argv] if gnu_time else argv
    try:
        spawned_at = datetime.now(UTC)
        start = time.perf_counter()
        child = subprocess.Popen(
            full,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
            env=command.env,
            cwd=command.cwd,
        )
    finally:
        os.close(out)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {child.returncode} (log: {log_path})")
    rss = int(Path(gnu_time).read_text().split()[-1]) if gnu_time else usage.ru_maxrss
    return {
        "rss": rss,  # KiB on Linux
        "cpu": usage.ru_utime + usage.ru_stime,
        "wall": elapsed,
        "spawned_at": spawned_at,
    }


def recorded_times(db: str, execution_id: str) -> tuple[datetime | None, datetime | None, str]:
    connection = sqlite3.connect(db, timeout=30)
    try:
        started, completed, status = connection.execute(
            "SELECT started_at, completed_at, status FROM executions WHERE execution_id = ?",
            (execution_id,),
        ).fetchone()
    finally:
        connection.close()

    def parse(text: str | None) -> datetime | None:
        return datetime.fromisoformat(text).replace(tzinfo=UTC) if text else None

    return parse(started), parse(completed), status


def prepare(code: b.Code, home: Path, count: int, maker: str) -> tuple[str, list[list[str]]]:
    """A state folder made by this version, with one task and `count` execution rows."""
    b.run_command(code.command(home, "init"))
    b.run_command(code.command(home, "add", "mem", "--every", "1d", "--command", "true"))
    made = json.loads(
        b.run_command(code.python(home, "-c", maker, "mem", str(count)), stdout=subprocess.PIPE)
        .stdout.decode()
        .strip()
    )
    return made["db"], made["executions"]


def ms(values: list[float]) -> str:
    return f"{b.median(values) * 1000:.0f}" if values else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs of each (default 15)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed rounds first (default 2)")
    parser.add_argument("--tmpdir", help="where to make the scratch state folders")
    b.add_old_argument(parser)
    args = parser.parse_args()
    if args.runs < 1 or args.warmup < 0:
        parser.error("--runs must be at least 1, --warmup at least 0")
    b.require_tapesched()
    old = b.old_code(args.old)

    root = b.make_root(args.tmpdir)
    try:
        rounds = args.warmup + args.runs
        new = b.new_code(module=True)
        runners: dict[str, tuple[b.Code, str, list[list[str]]]] = {}
        db, made = prepare(new, root / "new", rounds + 1, MAKE_NEW)
        runners["runner (new)"] = (new, db, made)
        if old is not None:
            db, made = prepare(old, root / "old", rounds + 1, MAKE_OLD)
            runners[f"runner ({old.label})"] = (old, db, made)

        gnu_time = str(root / "time.out") if have_gnu_time() else None
        b.print_machine("tapesched runner: peak memory and start-up")
        b.describe_codes([code for code, _, _ in runners.values()])
        print("runner: python -m tapesched --db DB _run EXECUTION_ID (task: custom `true`)")
        how = (
            f"GNU time ({GNU_TIME} -f %M)"
            if gnu_time
            else "wait4 from this process (no GNU time: figures include a floor of this "
            "process's own RSS)"
        )
        print(
            f"{args.runs} runs of each, round-robin, after {args.warmup} warm-up rounds; "
            f"max RSS via {how}; CPU = user + system from wait4\n"
        )
        home = root / "plain"
        others = {
            "python -c pass": b.Command([b.PYTHON, "-c", "pass"], b.env_for(home)),
            'python -c "import sqlite3"': b.Command(
                [b.PYTHON, "-c", "import sqlite3"], b.env_for(home)
            ),
            'python -c "import sqlmodel"': b.Command(
                [b.PYTHON, "-c", "import sqlmodel"], b.env_for(home)
            ),
        }
        labels = [*runners, *others]
        keys = ("rss", "cpu", "wall", "to_start", "to_done")
        found: dict[str, dict[str, list[float]]] = {
            label: {key: [] for key in keys} for label in labels
        }
        statuses: dict[str, list[str]] = {label: [] for label in runners}
        for round_no in range(rounds):
            shift = round_no % len(labels)
            for label in labels[shift:] + labels[:shift]:
                if label in others:
                    result = measure(others[label], None, gnu_time)
                else:
                    code, db, made = runners[label]
                    execution_id, log_path = made[round_no]
                    command = code.command(Path(db).parent, "--db", db, "_run", execution_id)
                    result = measure(command, log_path, gnu_time)
                    started, completed, status = recorded_times(db, execution_id)
                    statuses[label].append(status)
                    spawned = result["spawned_at"]
                    if started:
                        result["to_start"] = (started - spawned).total_seconds()
                    if completed:
                        result["to_done"] = (completed - spawned).total_seconds()
                if round_no >= args.warmup:
                    for key in keys:
                        if key in result:
                            found[label][key].append(result[key])

        base = b.median(found["python -c pass"]["rss"])
        rows = []
        for label in labels:
            rss = found[label]["rss"]
            rows.append(
                [
                    label,
                    f"{b.median(rss) / 1024:.1f}",
                    f"{min(rss) / 1024:.1f}–{max(rss) / 1024:.1f}",
                    f"{b.median(rss) / base:.2f}x",
                    ms(found[label]["cpu"]),
                    ms(found[label]["wall"]),
                    ms(found[label]["to_start"]),
                    ms(found[label]["to_done"]),
                ]
            )
        b.print_table(
            [
                "process",
                "max RSS MiB",
                "min–max MiB",
                "vs python -c pass",
                "CPU ms",
                "wall ms",
                "spawn->start ms",
                "spawn->done ms",
            ],
            rows,
        )
        print(
            "\n(medians; CPU = user + system of the process and its children, here the job "
            "`true`; spawn->start/done: from just before the spawn to the started_at / "
            "completed_at the runner recorded)"
        )

        if old is not None:
            new_label, old_label = list(runners)
            print(f"\nnew / old ({old.label}), medians; target for start-up: <= {TARGET}")
            floor_cpu = b.median(found["python -c pass"]["cpu"])
            floor_wall = b.median(found["python -c pass"]["wall"])
            for key, name in (
                ("cpu", "CPU (user + system)"),
                ("wall", "wall time, whole runner"),
                ("to_start", "spawn -> start recorded"),
                ("to_done", "spawn -> outcome recorded"),
                ("rss", "max RSS"),
            ):
                new_med = b.median(found[new_label][key])
                old_med = b.median(found[old_label][key])
                print(f"  {name:<30} {new_med / old_med:.3f}")
            for key, name, floor in (
                ("cpu", "CPU above python -c pass", floor_cpu),
                ("wall", "wall above python -c pass", floor_wall),
            ):
                new_med = b.median(found[new_label][key]) - floor
                old_med = b.median(found[old_label][key]) - floor
                print(f"  {name:<30} {new_med / old_med:.3f}")

        print()
        for label, (code, db, made) in runners.items():
            execution_id, log_path = made[rounds]
            command = code.command(Path(db).parent, "--db", db, "_run", execution_id)
            env = {**command.env, "PYTHONPROFILEIMPORTTIME": "1"}
            measure(b.Command(command.argv, env, command.cwd), log_path, gnu_time)
            modules = b.modules_in_importtime(Path(log_path).read_text(errors="replace"))
            heavy = ", ".join(m for m in HEAVY if m in modules) or "none"
            print(
                f"{label}: imports {len(modules)} top-level modules; heavy: {heavy} "
                f"(checked: {', '.join(HEAVY)})"
            )
        for label in runners:
            outcomes = {s: statuses[label].count(s) for s in sorted(set(statuses[label]))}
            print(f"{label}: executions run: {outcomes} (expected success {rounds})")
        b.print_load_at_end()
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
