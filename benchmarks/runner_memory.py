"""Peak memory (max RSS) of one runner, `tapesched _run EXECUTION_ID`, for a custom `true` task.

A state folder gets one task (`tapesched add mem --every 1d --command true`)
and, per run, one execution row made the way `tapesched run` makes it
(control.run_now, without the launch). This script then starts the runner
itself, exactly as tick and run do (same argv, new session, stdin /dev/null,
output to the execution's log), waits for it with wait4(2) and reads that
child's peak RSS. The runner is measured round-robin with plain interpreters
for comparison; medians are shown.

    python benchmarks/runner_memory.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

import _bench as b

# Runs in a child with tapesched imported: make `count` execution rows as run_now does.
MAKE_EXECUTIONS = r"""
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


def have_gnu_time() -> bool:
    try:
        done = subprocess.run([GNU_TIME, "--version"], capture_output=True, text=True, check=False)
    except OSError:
        return False
    return "GNU" in done.stdout + done.stderr


def peak_rss(
    argv: list[str], env: dict[str, str], log_path: str | None, gnu_time: str | None
) -> tuple[int, float]:
    """Run argv as a child (new session, stdin /dev/null); return its max RSS in KiB and
    its wall time.

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
    command = [GNU_TIME, "-f", "%M", "-o", gnu_time, *argv] if gnu_time else argv
    try:
        start = time.perf_counter()
        child = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
            env=env,
        )
    finally:
        os.close(out)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {child.returncode}")
    if gnu_time:
        return int(Path(gnu_time).read_text().split()[-1]), elapsed
    return usage.ru_maxrss, elapsed  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each (default 5)")
    parser.add_argument("--tmpdir", help="where to make the scratch state folder")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    b.require_tapesched()

    root = b.make_root(args.tmpdir)
    try:
        home = root / "home"
        env = b.env_for(home)
        cli = b.tapesched_argv()
        b.run_checked([*cli, "init"], env)
        b.run_checked([*cli, "add", "mem", "--every", "1d", "--command", "true"], env)
        made = json.loads(
            b.run_checked(
                [b.PYTHON, "-c", MAKE_EXECUTIONS, "mem", str(args.runs + 1)],
                env,
                stdout=subprocess.PIPE,
            ).stdout
        )
        db, executions = made["db"], made["executions"]

        gnu_time = str(root / "time.out") if have_gnu_time() else None
        b.print_machine("tapesched runner peak memory")
        print(f"runner: {b.PYTHON} -m tapesched --db DB _run EXECUTION_ID (task: custom `true`)")
        how = (
            f"GNU time ({GNU_TIME} -f %M)"
            if gnu_time
            else "wait4 from this process (no GNU time: figures include a floor of this "
            "process's own RSS)"
        )
        print(f"{args.runs} runs of each, round-robin, after 1 warm-up round; max RSS via {how}\n")
        others = {
            "python -c pass": [b.PYTHON, "-c", "pass"],
            'python -c "import sqlite3"': [b.PYTHON, "-c", "import sqlite3"],
            'python -c "import sqlmodel"': [b.PYTHON, "-c", "import sqlmodel"],
        }
        labels = ["tapesched _run (runner)", *others]
        rss: dict[str, list[int]] = {label: [] for label in labels}
        wall: dict[str, list[float]] = {label: [] for label in labels}
        for round_no in range(args.runs + 1):
            shift = round_no % len(labels)
            for label in labels[shift:] + labels[:shift]:
                if label in others:
                    kib, elapsed = peak_rss(others[label], env, None, gnu_time)
                else:
                    execution_id, log_path = executions[round_no]
                    argv = [b.PYTHON, "-m", "tapesched", "--db", db, "_run", execution_id]
                    kib, elapsed = peak_rss(argv, env, log_path, gnu_time)
                if round_no:
                    rss[label].append(kib)
                    wall[label].append(elapsed)

        base = b.median(rss["python -c pass"])
        rows = []
        for label in labels:
            med = b.median(rss[label])
            rows.append(
                [
                    label,
                    f"{med / 1024:.1f}",
                    f"{min(rss[label]) / 1024:.1f}–{max(rss[label]) / 1024:.1f}",
                    f"{med / base:.2f}x",
                    f"{b.median(wall[label]) * 1000:.0f}",
                ]
            )
        b.print_table(
            ["process", "max RSS MiB", "min–max MiB", "vs python -c pass", "wall ms"], rows
        )

        connection = sqlite3.connect(db)
        outcomes = dict(
            connection.execute(
                "SELECT status, count(*) FROM executions WHERE started_at IS NOT NULL GROUP BY 1"
            ).fetchall()
        )
        connection.close()
        print(f"\nexecutions run: {outcomes} (expected success {args.runs + 1})")
        b.print_load_at_end()
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
