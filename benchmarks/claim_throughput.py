"""Claim throughput: due tasks, one `tick` with the cap raised, jobs that exit at once.

With an old checkout (`--old`, default /tmp/tapesched-old; `--old none` leaves
it out) every repetition of A and B is run for the new and the old code in
turn (the order alternating), each in a state folder made by its own
`init`/`add`, so before and after are measured in one run.

A. Claims alone. A state folder with N tasks (default 1,000), all due (next run
   30 s ago, oldest first). tick() runs inside one process with the runner
   launch replaced by a no-op, so the claim transactions alone are timed
   (imports excluded); each claim_one() call is timed too, to show whether a
   claim gets dearer as the claims pile up. Repeated (default 3), medians.

B. The real thing. A fresh state folder with M due tasks (default 200), each a
   custom action running `true`. One `tapesched tick --max-concurrent M` is
   timed: it claims every task (one write transaction each) and spawns one
   detached runner per claim. Then the database is polled until all M
   executions are final. Reported: claims/s of the tick (M / tick wall time),
   the tick's own CPU, run-queue and blocked time, and runs/s end to end
   (successes / time from the tick's start to the last recorded completion).
   Default 2 repetitions.

   Each runner is a Python process; the old code's runner imports
   SQLModel/SQLAlchemy (about 0.5 s of CPU), so B is bound by runner start-up.
   The figure for 1,000 is `--e2e-tasks 1000 --reps 1`.

A watchdog samples the live runners of this benchmark (found in /proc by their
database path) and the host's available memory; if memory runs low it kills
the tick and those runners (by pid) and reports the repetition as aborted.
Runners that all exit while executions stay "running" are reported as stuck
(a later tick would relaunch or mark them lost; this benchmark runs only one).

    python benchmarks/claim_throughput.py [--tasks 1000] [--e2e-tasks 200] [--reps 2]
                                          [--old /tmp/tapesched-old|none]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import _bench as b

# Runs in a child process with tapesched imported: one tick() over a state folder whose
# tasks are all due, with the runner launch replaced by a no-op, so only the claims (one
# write transaction each) are timed; each claim_one() call is timed too. The same code
# drives the new and the old version: both have tick(paths, now, max_concurrent=...),
# a module-level _launch and claim_one that claim_and_launch looks up at each call.
CLAIMS_ONLY = r"""
import json, sys, time
from tapesched import paths, tick as ticker
from tapesched.clock import utcnow

home, cap = sys.argv[1], int(sys.argv[2])
ticker._launch = lambda *args: True  # "started" (tick drops a claim whose launch fails)
per_claim = []
claim_one = ticker.claim_one


def timed_claim(*args, **kwargs):
    start = time.perf_counter()
    outcome = claim_one(*args, **kwargs)
    per_claim.append(time.perf_counter() - start)
    return outcome


ticker.claim_one = timed_claim
resolved = paths.resolve(None, environ={"TAPESCHED_HOME": home})
start = time.perf_counter()
report = ticker.tick(resolved, utcnow(), max_concurrent=cap)
elapsed = time.perf_counter() - start
print(json.dumps({"seconds": elapsed, "claimed": len(report.launched),
                  "problems": report.problems, "per_claim": per_claim}))
"""


class Watchdog(threading.Thread):
    """Samples live runners of one database and available memory; can abort the run."""

    def __init__(self, db: Path, min_available_kib: int, interval: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.needle = f"\0--db\0{db}\0_run\0".encode()
        self.min_available_kib = min_available_kib
        self.interval = interval
        self.tick: subprocess.Popen | None = None
        self.peak_runners = 0
        self.live_runners = 0
        self.lowest_available_kib: int | None = None
        self.aborted: str | None = None
        self._halt = threading.Event()

    def runner_pids(self, forks: bool = False) -> list[int]:
        """Pids of this benchmark's runners; without `forks`, not counting a runner's child
        caught between fork and exec (it still shows the runner's command line)."""
        found: dict[int, int] = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/cmdline", "rb") as handle:
                    cmdline = b"\0" + handle.read()
                if self.needle not in cmdline:
                    continue
                with open(f"/proc/{entry.name}/stat", "rb") as handle:
                    ppid = int(handle.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            found[int(entry.name)] = ppid
        if forks:
            return list(found)
        return [pid for pid, ppid in found.items() if ppid not in found]

    def run(self) -> None:
        while not self._halt.is_set():
            pids = self.runner_pids()
            self.live_runners = len(pids)
            self.peak_runners = max(self.peak_runners, len(pids))
            available = b.meminfo("MemAvailable")
            if available is not None:
                if self.lowest_available_kib is None or available < self.lowest_available_kib:
                    self.lowest_available_kib = available
                if available < self.min_available_kib and not self.aborted:
                    self.aborted = (
                        f"available memory fell to {available // 1024} MiB with "
                        f"{len(pids)} runners alive"
                    )
                    self.kill_all()
            self._halt.wait(self.interval)

    def kill_all(self) -> None:
        """Stop this benchmark's own tick and runners (by pid) and their jobs."""
        if self.tick is not None and self.tick.poll() is None:
            self.tick.kill()
        for pid in self.runner_pids(forks=True):
            try:
                os.killpg(pid, signal.SIGKILL)  # each runner leads its own session
            except (ProcessLookupError, PermissionError):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def stop(self) -> None:
        self._halt.set()
        self.join()


def times_at_exit(pid: int) -> tuple[float, float | None]:
    """Wait for our child `pid` to exit without reaping it; return the CPU seconds it used
    itself (user + system, /proc/PID/stat of the zombie) and the seconds it spent runnable
    but waiting for a CPU (/proc/PID/schedstat; None where the kernel lacks it).

    Not rusage: at exit the tick's Popen objects reap the runners that have finished by
    then, which would add their CPU to the tick's "children" time.
    """
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan"), None
    try:
        waited = int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        waited = None
    return cpu, waited


def statuses(db: Path) -> Counter:
    connection = sqlite3.connect(db, timeout=30)
    try:
        rows = connection.execute("SELECT status, count(*) FROM executions GROUP BY status")
        return Counter(dict(rows.fetchall()))
    finally:
        connection.close()


def parse_db_time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def due_state(home: Path, tasks: int, code: b.Code) -> Path:
    """A state folder whose `tasks` tasks are all due (30 s ago, oldest first), running `true`,
    made by `code`'s own init/add."""
    base = b.utcnow() - timedelta(seconds=30)
    return b.make_state(
        home,
        tasks,
        lambda i: base + timedelta(microseconds=10 * i),
        action_config={"command": ["true"]},
        code=code,
    )


def slug(code: b.Code) -> str:
    return code.label.split()[0]


def claims_only(root: Path, rep: int, tasks: int, cap: int, code: b.Code) -> dict:
    """tick() in-process with launching disabled: the claim transactions alone."""
    home = root / f"claims-{slug(code)}-{rep}"
    due_state(home, tasks, code)
    command = code.python(home, "-c", CLAIMS_ONLY, str(home), str(cap))
    done = subprocess.run(
        command.argv,
        env=command.env,
        cwd=command.cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"claims-only tick failed ({code.label}):\n{done.stderr}")
    result = json.loads(done.stdout)
    result["code"] = code.label
    shutil.rmtree(home, ignore_errors=True)
    return result


def one_repetition(root: Path, rep: int, tasks: int, cap: int, args, code: b.Code) -> dict:  # noqa: ANN001
    home = root / f"rep-{slug(code)}-{rep}"
    db = due_state(home, tasks, code)
    tick_command = code.command(home, "tick", "--max-concurrent", str(cap))
    watchdog = Watchdog(db, args.min_free_mib * 1024)
    watchdog.start()
    result: dict = {"rep": rep, "code": code.label}
    try:
        output = home / "tick.out"
        started_wall = b.utcnow()
        start = time.perf_counter()
        with output.open("wb") as out:
            tick = subprocess.Popen(
                tick_command.argv,
                env=tick_command.env,
                cwd=tick_command.cwd,
                stdout=out,
                stderr=out,
            )
        watchdog.tick = tick
        tick_cpu, tick_queued = times_at_exit(tick.pid)
        tick_seconds = time.perf_counter() - start
        tick.wait()
        result.update(
            tick_seconds=tick_seconds,
            tick_cpu=tick_cpu,
            tick_queued=tick_queued,
            tick_rc=tick.returncode,
        )
        result["tick_output"] = output.read_text(errors="replace").strip()

        deadline = time.monotonic() + args.timeout
        idle_since = None
        while True:
            counts = statuses(db)
            running = counts.get("running", 0)
            if watchdog.aborted:
                result["aborted"] = watchdog.aborted
                break
            if running == 0:
                break
            if watchdog.live_runners == 0:
                idle_since = idle_since or time.monotonic()
                if time.monotonic() - idle_since > 3:
                    result["stuck"] = running
                    break
            else:
                idle_since = None
            if time.monotonic() > deadline:
                result["timed_out"] = running
                watchdog.kill_all()
                break
            time.sleep(0.2)
        result["poll_seconds"] = time.perf_counter() - start
    finally:
        watchdog.stop()

    connection = sqlite3.connect(db, timeout=30)
    try:
        first_start, last_start, last_end = connection.execute(
            "SELECT min(started_at), max(started_at), max(completed_at) FROM executions"
        ).fetchone()
        errors = Counter(
            dict(
                connection.execute(
                    "SELECT coalesce(error_message, '-'), count(*) FROM executions "
                    "WHERE status NOT IN ('success', 'running') GROUP BY 1"
                ).fetchall()
            )
        )
        never = connection.execute(
            "SELECT log_path FROM executions WHERE started_at IS NULL AND log_path IS NOT NULL"
        ).fetchall()
        never_started = len(never)
    finally:
        connection.close()
    runner_logs = Counter()
    for (log_path,) in never:
        try:
            text = Path(log_path).read_text(errors="replace").strip()
        except OSError:
            text = "(no log file)"
        runner_logs[text.splitlines()[-1] if text else "(empty log)"] += 1
    counts = statuses(db)
    end = parse_db_time(last_end)
    result.update(
        counts=counts,
        total=sum(counts.values()),
        errors=errors,
        never_started=never_started,
        runner_logs=runner_logs,
        peak_runners=watchdog.peak_runners,
        lowest_available_mib=(watchdog.lowest_available_kib or 0) // 1024,
        first_start_s=(parse_db_time(first_start) - started_wall).total_seconds()
        if first_start
        else None,
        last_start_s=(parse_db_time(last_start) - started_wall).total_seconds()
        if last_start
        else None,
        end_to_end_s=(end - started_wall).total_seconds() if end else None,
    )
    return result


def print_claims_only(results: list[dict], tasks: int) -> None:
    rows = []
    for r in results:
        per = r["per_claim"]
        tenth = max(1, len(per) // 10)
        rows.append(
            [
                r["rep"],
                r["code"],
                r["claimed"],
                f"{r['seconds']:.2f}",
                f"{r['claimed'] / r['seconds']:.0f}",
                f"{b.median(per[:tenth]) * 1000:.2f}" if per else "-",
                f"{b.median(per[-tenth:]) * 1000:.2f}" if per else "-",
            ]
        )
    b.print_table(
        [
            "rep",
            "code",
            "claimed",
            "tick() s",
            "claims/s",
            "claim ms, first 10%",
            "claim ms, last 10%",
        ],
        rows,
    )
    print()
    medians = {}
    for code in dict.fromkeys(r["code"] for r in results):
        rates = [r["claimed"] / r["seconds"] for r in results if r["code"] == code]
        medians[code] = b.median(rates)
        print(
            f"median ({code}): {medians[code]:.0f} claims/s ({tasks:,} claims, launching disabled)"
        )
    if len(medians) == 2:
        new, old = medians.values()
        print(f"claims/s new / old: {new / old:.2f}")
    for r in results:
        if r["claimed"] != tasks or r["problems"]:
            print(
                f"rep {r['rep']} ({r['code']}): claimed {r['claimed']} of {tasks}; "
                f"problems: {r['problems'][:3]}"
            )


def print_end_to_end(results: list[dict], tasks: int) -> None:
    rows = []
    for r in results:
        success = r["counts"].get("success", 0)
        end_to_end = r["end_to_end_s"]
        rows.append(
            [
                r["rep"],
                r["code"],
                f"{r['tick_seconds']:.2f}",
                f"{r['tick_cpu']:.2f}",
                f"{r['tick_queued']:.2f}" if r["tick_queued"] is not None else "-",
                f"{r['tick_seconds'] - r['tick_cpu'] - r['tick_queued']:.2f}"
                if r["tick_queued"] is not None
                else "-",
                f"{r['total'] / r['tick_seconds']:.1f}",
                f"{end_to_end:.2f}" if end_to_end else "-",
                f"{success / end_to_end:.2f}" if end_to_end and success else "-",
                f"{r['last_start_s']:.1f}" if r["last_start_s"] is not None else "-",
                r["peak_runners"],
                r["lowest_available_mib"],
                ", ".join(f"{k} {v}" for k, v in sorted(r["counts"].items())),
            ]
        )
    b.print_table(
        [
            "rep",
            "code",
            "tick s",
            "tick CPU s",
            "tick run-queue s",
            "tick blocked s",
            "claims/s",
            "all final s",
            "runs/s",
            "last start s",
            "peak runners",
            "min MemAvailable MiB",
            "executions",
        ],
        rows,
    )
    print()
    rates = {}
    for code in dict.fromkeys(r["code"] for r in results):
        done = [
            r for r in results if r["code"] == code and r["end_to_end_s"] and "aborted" not in r
        ]
        if done:
            claims = b.median([r["total"] / r["tick_seconds"] for r in done])
            runs = b.median([r["counts"].get("success", 0) / r["end_to_end_s"] for r in done])
            rates[code] = (claims, runs)
            print(
                f"median ({code}): {claims:.1f} claims/s in the tick; "
                f"{runs:.2f} successful runs/s end to end"
            )
    if len(rates) == 2:
        (new_claims, new_runs), (old_claims, old_runs) = rates.values()
        print(
            f"new / old: claims/s in the tick {new_claims / old_claims:.2f}; "
            f"runs/s end to end {new_runs / old_runs:.2f}"
        )
    print()
    for line in (
        "tick s: wall time of the tick process (start-up, claims, spawns).",
        "tick CPU s: CPU time of the tick process itself (user + system).",
        "tick run-queue s: time the tick was runnable but waited for a CPU (schedstat).",
        "tick blocked s: the rest, asleep: SQLite busy waits, each spawned child's exec, I/O.",
        "claims/s: executions the tick made / tick s.",
        "all final s: from the tick's start to the last completion recorded.",
        "runs/s: successful executions / all final s.",
        "last start s: when the last runner recorded its start, from the tick's start.",
        "peak runners: most runner processes alive at once (sampled every 0.25 s).",
    ):
        print(line)
    for r in results:
        notes = []
        if r["tick_rc"] != 0 or r["tick_output"]:
            notes.append(f"tick exited {r['tick_rc']}: {r['tick_output'][:500]}")
        if r["total"] != tasks:
            notes.append(f"{r['total']} executions for {tasks} due tasks")
        if r.get("aborted"):
            notes.append(f"ABORTED by the watchdog: {r['aborted']}")
        if r.get("stuck"):
            notes.append(
                f"{r['stuck']} executions left 'running' with no runner alive "
                "(the next tick would relaunch them)"
            )
        if r.get("timed_out"):
            notes.append(f"{r['timed_out']} executions still running at the timeout")
        if r["never_started"]:
            notes.append(f"{r['never_started']} executions never started")
        for message, count in r["errors"].most_common(5):
            notes.append(f"{count} x not success, error: {message[:200]}")
        for message, count in r["runner_logs"].most_common(5):
            notes.append(f"{count} x runner log of a never-started execution: {message[:200]}")
        for note in notes:
            print(f"rep {r['rep']} ({r['code']}): {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tasks", type=int, default=1000, help="due tasks for A, claims alone (default 1000)"
    )
    parser.add_argument(
        "--e2e-tasks", type=int, default=200, help="due tasks for B, end to end (default 200)"
    )
    parser.add_argument(
        "--reps", type=int, default=2, help="end-to-end repetitions (default 2, max 3)"
    )
    parser.add_argument(
        "--claims-reps", type=int, default=3, help="claims-only repetitions (default 3)"
    )
    parser.add_argument(
        "--max-concurrent", type=int, help="the tick's cap (default: the number of due tasks)"
    )
    parser.add_argument(
        "--timeout", type=float, default=600, help="give up on a repetition after S seconds"
    )
    parser.add_argument(
        "--min-free-mib",
        type=int,
        default=2048,
        help="abort a repetition when MemAvailable falls below this (default 2048)",
    )
    parser.add_argument("--tmpdir", help="where to make the scratch state folders")
    parser.add_argument("--keep", action="store_true", help="keep the state folders")
    b.add_old_argument(parser)
    args = parser.parse_args()
    if min(args.tasks, args.e2e_tasks) < 1 or not 0 <= args.reps <= 3 or args.claims_reps < 0:
        parser.error("need task counts >= 1, 0 <= --reps <= 3 and --claims-reps >= 0")
    b.require_tapesched()
    old = b.old_code(args.old)
    codes = [b.new_code()] + ([old] if old else [])
    order = {code.label: index for index, code in enumerate(codes)}

    def in_turn(rep: int) -> list[b.Code]:
        """The versions in the order of this repetition (alternating)."""
        return codes[rep % len(codes) :] + codes[: rep % len(codes)]

    root = b.make_root(args.tmpdir)
    try:
        b.print_machine("tapesched claim throughput")
        b.describe_codes(codes)
        print()
        if args.claims_reps:
            cap = args.max_concurrent or args.tasks
            print(
                f"A. claims alone: tick() in one process over {args.tasks:,} due tasks, "
                f"cap {cap}, runner launch disabled; {args.claims_reps} repetitions"
                + (" of each version, alternating\n" if old else "\n")
            )
            claims = []
            for rep in range(args.claims_reps):
                for code in in_turn(rep):
                    result = claims_only(root, rep, args.tasks, cap, code)
                    result["rep"] = rep + 1
                    claims.append(result)
            claims.sort(key=lambda r: (order[r["code"]], r["rep"]))
            print_claims_only(claims, args.tasks)
            print()
        if args.reps:
            cap = args.max_concurrent or args.e2e_tasks
            print(
                f"B. the real thing: {args.e2e_tasks:,} due tasks (custom action `true`), one "
                f"`tapesched tick --max-concurrent {cap}`, then wait until all are final; "
                f"{args.reps} repetitions" + (" of each version, alternating\n" if old else "\n")
            )
            results = []
            for rep in range(1, args.reps + 1):
                for code in in_turn(rep - 1):
                    results.append(one_repetition(root, rep, args.e2e_tasks, cap, args, code))
                    time.sleep(2)  # let the host settle between repetitions
            results.sort(key=lambda r: (order[r["code"]], r["rep"]))
            print_end_to_end(results, args.e2e_tasks)
        b.print_load_at_end()
    finally:
        if args.keep:
            print(f"\nkept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
