"""Helpers shared by the benchmark scripts in this folder (not a benchmark itself).

Every script runs tapesched the way an operator or cron does: as a separate
process, with TAPESCHED_HOME pointing at a fresh state folder made for the
benchmark. Large task tables are made by bulk-inserting rows (copied from a row
that `tapesched add` wrote) in one SQLite transaction.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

PYTHON = sys.executable
DB_NAME = "tapesched.db"


def tapesched_argv() -> list[str]:
    """The console script installed beside this interpreter (else `python -m tapesched`)."""
    script = Path(PYTHON).parent / "tapesched"
    if script.exists():
        return [str(script)]
    found = shutil.which("tapesched")
    return [found] if found else [PYTHON, "-m", "tapesched"]


def require_tapesched() -> None:
    """Fail early, with a clear line, when this interpreter cannot import tapesched."""
    probe = subprocess.run(
        [PYTHON, "-c", "import tapesched"], capture_output=True, text=True, check=False
    )
    if probe.returncode != 0:
        sys.exit(
            f"{PYTHON} cannot import tapesched; run the benchmark with the project's venv python"
        )


# --- the machine ----------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def nproc() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def mem_total_mib() -> int | None:
    value = meminfo("MemTotal")
    return None if value is None else value // 1024


def meminfo(key: str) -> int | None:
    """A /proc/meminfo value in KiB (None when unavailable)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def machine_lines() -> list[str]:
    code = "import sys, sqlite3; print(sys.version.split()[0], sqlite3.sqlite_version)"
    version = subprocess.run(
        [PYTHON, "-c", code],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    mem = mem_total_mib()
    return [
        f"date:     {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"machine:  nproc={nproc()}, CPU: {cpu_model()}"
        + (f", RAM {mem / 1024:.1f} GiB" if mem else ""),
        f"kernel:   {platform.system()} {platform.release()}",
        f"python:   {version[0]} ({PYTHON}); SQLite {version[1]}",
        f"load avg: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (at start)",
    ]


def print_machine(title: str) -> None:
    print(title)
    print("=" * len(title))
    for line in machine_lines():
        print(line)
    print()


def print_load_at_end() -> None:
    """The load average again: other work on the host skews every figure above."""
    print(f"\nload avg: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (at end)")


# --- timing ---------------------------------------------------------------------


def run_checked(
    argv: Sequence[str], env: dict[str, str] | None = None, stdout=subprocess.DEVNULL
) -> subprocess.CompletedProcess:
    """Run argv; raise with its stderr when it exits non-zero."""
    done = subprocess.run(argv, env=env, stdout=stdout, stderr=subprocess.PIPE, check=False)
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode(errors='replace')}"
        )
    return done


def time_once(argv: Sequence[str], env: dict[str, str] | None = None) -> float:
    """Wall time of one run of argv, in seconds (output discarded, exit status checked)."""
    start = time.perf_counter()
    run_checked(argv, env)
    return time.perf_counter() - start


def interleaved(
    commands: dict[str, tuple[Sequence[str], dict[str, str] | None]],
    runs: int,
    warmup: int = 2,
) -> dict[str, list[float]]:
    """Time every command `runs` times, round-robin, so they share the same conditions.

    The order within a round rotates each round, so no command is always first
    (after an idle pause) or always last. `warmup` untimed rounds come first.
    """
    labels = list(commands)
    times: dict[str, list[float]] = {label: [] for label in labels}
    for round_no in range(warmup + runs):
        shift = round_no % len(labels)
        for label in labels[shift:] + labels[:shift]:
            argv, env = commands[label]
            elapsed = time_once(argv, env)
            if round_no >= warmup:
                times[label].append(elapsed)
    return times


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def spread(values: Sequence[float]) -> str:
    """min–max, for the table."""
    return f"{min(values) * 1000:.0f}–{max(values) * 1000:.0f}"


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()

    print(line(cells[0]))
    print("  ".join("-" * width for width in widths))
    for row in cells[1:]:
        print(line(row))


# --- state folders and bulk tasks -----------------------------------------------


def make_root(parent: str | None) -> Path:
    """A fresh folder for this benchmark's state folders."""
    return Path(tempfile.mkdtemp(prefix="tapesched-bench-", dir=parent)).resolve()


def env_for(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAPESCHED_")}
    env["TAPESCHED_HOME"] = str(home)
    return env


def db_time(instant: datetime) -> str:
    """How tapesched stores an instant: naive UTC, microseconds."""
    return instant.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def make_state(
    home: Path,
    count: int,
    next_run: callable,
    action_config: dict | None = None,
) -> Path:
    """Initialise a state folder with `count` tasks; return the database path.

    `tapesched init` and one `tapesched add` make the schema and a template row;
    the template is then replaced by `count` copies (names bench-000000, ...),
    inserted in one transaction, with next_run_time = next_run(i) (a datetime).
    """
    home.mkdir(parents=True, exist_ok=True)
    env = env_for(home)
    cli = tapesched_argv()
    run_checked([*cli, "init"], env)
    run_checked([*cli, "add", "template", "--every", "1d", "--command", "true"], env)
    db = home / DB_NAME
    connection = sqlite3.connect(db)
    try:
        connection.row_factory = sqlite3.Row
        template = dict(connection.execute("SELECT * FROM tasks").fetchone())
        del template["id"]
        if action_config is not None:
            template["action_config"] = json.dumps(action_config)
        columns = list(template)
        sql = f"INSERT INTO tasks ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
        name_at = columns.index("task_name")
        next_at = columns.index("next_run_time")
        base = [template[c] for c in columns]

        def rows():
            for i in range(count):
                row = list(base)
                row[name_at] = f"bench-{i:06d}"
                row[next_at] = db_time(next_run(i))
                yield row

        with connection:
            connection.execute("DELETE FROM tasks")
            connection.executemany(sql, rows())
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    return db


def far_future(i: int) -> datetime:
    """Not due for decades; spread over the year so the index holds distinct keys."""
    return datetime(2099, 1, 1, tzinfo=UTC) + timedelta(seconds=37 * i)


def utcnow() -> datetime:
    return datetime.now(UTC)
