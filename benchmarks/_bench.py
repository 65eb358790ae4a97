"""Helpers shared by the benchmark scripts in this folder (not a benchmark itself).

Every script runs tapesched the way an operator or cron does: as a separate
process, with TAPESCHED_HOME pointing at a fresh state folder made for the
benchmark. Large task tables are made by bulk-inserting rows (copied from a row
that `tapesched add` wrote) in one SQLite transaction.

A script can run an older tapesched beside the working tree (`--old PATH`, a
checkout of that commit, e.g. `git worktree add /tmp/tapesched-old 4e70cbb`):
it is started as `python -m tapesched` with PYTHONPATH and the working
directory set to that checkout, after a probe has checked that `tapesched`
really imports from there (not from the editable install).
"""

from __future__ import annotations

import hashlib
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

PYTHON = sys.executable
DB_NAME = "tapesched.db"
REPO = Path(__file__).resolve().parent.parent
OLD_TREE = "/tmp/tapesched-old"
OLD_COMMIT = "4e70cbb"


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


class Command(NamedTuple):
    """One command line to run: argv, environment (None: this one's) and working folder."""

    argv: Sequence[str]
    env: dict[str, str] | None = None
    cwd: str | None = None


@dataclass(frozen=True)
class Code:
    """One version of tapesched: how to start it, with which PYTHONPATH, from which folder."""

    label: str
    argv: tuple[str, ...]
    pythonpath: str | None = None
    cwd: str | None = None

    def env(self, home: Path) -> dict[str, str]:
        env = env_for(home)
        if self.pythonpath:
            env["PYTHONPATH"] = self.pythonpath
        return env

    def command(self, home: Path, *args: str) -> Command:
        return Command([*self.argv, *args], self.env(home), self.cwd)

    def python(self, home: Path, *args: str) -> Command:
        """This interpreter with this version importable (for `python -c CODE`)."""
        return Command([PYTHON, *args], self.env(home), self.cwd)


def new_code(module: bool = False) -> Code:
    """The working tree: the console script (as cron runs it), or `python -m tapesched`
    (as tick starts a runner, and as the old version is run here)."""
    if module:
        return Code("new", (PYTHON, "-m", "tapesched"), cwd=str(REPO))
    return Code("new", tuple(tapesched_argv()), cwd=str(REPO))


def add_old_argument(parser) -> None:  # noqa: ANN001 - an argparse parser
    parser.add_argument(
        "--old",
        default=OLD_TREE,
        metavar="PATH",
        help=f"checkout of the old code to run beside the new (default {OLD_TREE}, made with "
        f"`git worktree add {OLD_TREE} {OLD_COMMIT}`); 'none' to leave it out",
    )


def old_code(tree: str | None) -> Code | None:
    """The old version in the checkout `tree` (None for 'none'), checked to import from there."""
    if tree in (None, "", "none"):
        return None
    root = Path(tree).resolve()
    if not (root / "tapesched" / "__init__.py").exists():
        sys.exit(
            f"no old checkout at {root}: make one with "
            f"`git worktree add {root} {OLD_COMMIT}`, or pass --old none"
        )
    commit = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    code = Code(f"old {commit or root.name}", (PYTHON, "-m", "tapesched"), str(root), cwd=str(root))
    where = imported_from(code.python(Path(tempfile.gettempdir()) / "unused"))
    if not Path(where).resolve().is_relative_to(root):
        sys.exit(f"the old code's probe imported tapesched from {where}, not from {root}")
    return code


def imported_from(command: Command) -> str:
    """Where `import tapesched` resolves with this command's environment and folder."""
    probe = [*command.argv, "-c", "import tapesched; print(tapesched.__file__)"]
    return subprocess.run(
        probe, env=command.env, cwd=command.cwd, capture_output=True, text=True, check=True
    ).stdout.strip()


def describe_codes(codes: Sequence[Code]) -> None:
    """One line per version: how it is started and where its package was imported from."""
    for code in codes:
        where = imported_from(code.python(Path(tempfile.gettempdir()) / "unused"))
        how = " ".join(code.argv)
        extra = f" with PYTHONPATH={code.pythonpath}, cwd {code.cwd}" if code.pythonpath else ""
        print(f"{code.label}: {how}{extra}; tapesched imported from {where}")


def imported_modules(command: Command) -> set[str]:
    """The top-level modules a command imports (PYTHONPROFILEIMPORTTIME, read from stderr)."""
    env = dict(command.env if command.env is not None else os.environ)
    env["PYTHONPROFILEIMPORTTIME"] = "1"
    done = subprocess.run(
        command.argv, env=env, cwd=command.cwd, capture_output=True, text=True, check=False
    )
    return modules_in_importtime(done.stderr)


def modules_in_importtime(text: str) -> set[str]:
    found = set()
    for line in text.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            name = line.rsplit("|", 1)[1].strip()
            if name and name != "package":
                found.add(name.split(".")[0])
    return found


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


def source_hash() -> str:
    """A hash of the working tree's tapesched/ sources (to see whether they changed)."""
    digest = hashlib.sha1()
    for path in sorted((REPO / "tapesched").rglob("*.py")):
        digest.update(str(path.relative_to(REPO)).encode() + b"\0")
        try:
            digest.update(path.read_bytes())
        except OSError:
            pass
    return digest.hexdigest()[:12]


def tree_line() -> str:
    """Which code 'new' is: the commit and the uncommitted changes under tapesched/ (read
    without taking git's optional locks, so the checkout's state is left alone)."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "--no-optional-locks", "-C", str(REPO), *args],
            capture_output=True,
            text=True,
            check=False,
        )
        return done.stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "?"
    changed = git("diff", "--name-only", "HEAD", "--", "tapesched").splitlines()
    changed += git("ls-files", "--others", "--exclude-standard", "--", "tapesched").splitlines()
    state = f"uncommitted: {', '.join(changed)}" if changed else "no uncommitted changes"
    return f"tree:     {REPO} at {head} ({state}); tapesched/*.py hash {source_hash()}"


_STARTED_WITH: list[str] = []


def print_machine(title: str) -> None:
    print(title)
    print("=" * len(title))
    for line in machine_lines():
        print(line)
    print(tree_line())
    _STARTED_WITH.append(source_hash())
    print()


def print_load_at_end() -> None:
    """The load average again (other work on the host skews every figure above), and
    whether the sources measured as 'new' changed during the run."""
    print(f"\nload avg: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (at end)")
    if _STARTED_WITH:
        now = source_hash()
        same = "unchanged" if now == _STARTED_WITH[0] else "CHANGED during the run"
        print(f"tapesched/*.py hash {now} at end ({same})")


# --- timing ---------------------------------------------------------------------


def run_checked(
    argv: Sequence[str],
    env: dict[str, str] | None = None,
    stdout=subprocess.DEVNULL,  # noqa: ANN001
    cwd: str | None = None,
) -> subprocess.CompletedProcess:
    """Run argv; raise with its stderr when it exits non-zero."""
    done = subprocess.run(
        argv, env=env, cwd=cwd, stdout=stdout, stderr=subprocess.PIPE, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode(errors='replace')}"
        )
    return done


def run_command(command: Command, stdout=subprocess.DEVNULL) -> subprocess.CompletedProcess:  # noqa: ANN001
    return run_checked(command.argv, command.env, stdout, command.cwd)


def time_once(command: Command) -> float:
    """Wall time of one run of a command, in seconds (output discarded, exit status checked)."""
    start = time.perf_counter()
    run_command(command)
    return time.perf_counter() - start


def interleaved(
    commands: dict[str, Command],
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
            elapsed = time_once(commands[label])
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
    """This environment without TAPESCHED_* and PYTHONPATH, and TAPESCHED_HOME=home."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("TAPESCHED_") and k != "PYTHONPATH"
    }
    env["TAPESCHED_HOME"] = str(home)
    return env


def db_time(instant: datetime) -> str:
    """How tapesched stores an instant: naive UTC, microseconds."""
    return instant.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def make_state(
    home: Path,
    count: int,
    next_run: Callable[[int], datetime],
    action_config: dict | None = None,
    code: Code | None = None,
) -> Path:
    """Initialise a state folder with `count` tasks; return the database path.

    `tapesched init` and one `tapesched add` (of `code`, default the working
    tree) make the schema and a template row; the template is then replaced by
    `count` copies (names bench-000000, ...), inserted in one transaction, with
    next_run_time = next_run(i) (a datetime).
    """
    home.mkdir(parents=True, exist_ok=True)
    code = code or new_code()
    run_command(code.command(home, "init"))
    run_command(code.command(home, "add", "template", "--every", "1d", "--command", "true"))
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
