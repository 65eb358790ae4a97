"""Write tests/fixtures/tapesched-0.1.0.sql: a catalog made and used by tapesched 0.1.0.

tapesched 0.1.0 is commit 5a3bbe3 of this repository. This script checks that commit
out into a temporary git worktree and runs its code (`python -m tapesched` with
PYTHONPATH set to the worktree and a TAPESCHED_HOME of its own in a temporary folder):
it adds tasks of several schedule and action types, runs some of them (one fails),
ticks so that a due task is launched by the scheduler, and waits until every run has
ended. The SQLite database it leaves is dumped as SQL text (sqlite3's iterdump), which
tests/integration/test_migrations.py loads into a new file to test `tapesched db
upgrade` on what 0.1.0 really wrote.

Run from the repository: python tools/make_010_fixture.py [OUTPUT]
Nothing outside the temporary folder is written but OUTPUT; the worktree is removed.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMIT = "5a3bbe3"
REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO / "tests" / "fixtures" / "tapesched-0.1.0.sql"


def git(*args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(REPO), *args], capture_output=True, text=True, check=True
    )
    return done.stdout


class OldTapesched:
    """tapesched 0.1.0 run as a process on one state folder."""

    def __init__(self, worktree: Path, home: Path) -> None:
        self.home = home
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("TAPESCHED_") and key != "PYTHONPATH"
        }
        self.env.update(
            PYTHONPATH=str(worktree),
            TAPESCHED_HOME=str(home),
            TZ="UTC",
            COLUMNS="200",
        )

    def __call__(self, *args: str, expect: int = 0) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "tapesched", *args],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.home.parent,  # not the repository, whose tapesched `-m` would find first
            timeout=120,
        )
        if done.returncode != expect:
            raise SystemExit(
                f"tapesched 0.1.0 {' '.join(args)}: exit {done.returncode}, expected {expect}\n"
                f"{done.stdout}{done.stderr}"
            )
        return done.stdout

    @property
    def db(self) -> Path:
        return self.home / "tapesched.db"

    def wait_idle(self, timeout: float = 60) -> None:
        """Wait until no execution is running (the runners a tick launched have ended)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            connection = sqlite3.connect(self.db)
            try:
                running = connection.execute(
                    "SELECT count(*) FROM executions WHERE status = 'running'"
                ).fetchone()[0]
            finally:
                connection.close()
            if running == 0:
                return
            time.sleep(0.2)
        raise SystemExit(f"runs launched by the 0.1.0 tick did not end within {timeout}s")


def make(worktree: Path, scratch: Path) -> Path:
    """Use tapesched 0.1.0 from `worktree` in `scratch`; return its database."""
    old = OldTapesched(worktree, scratch / "home")
    # The version string did not change after 0.1.0: check where the package comes from
    # (from the folder the commands run in: `python -m` puts it first on the path).
    where = subprocess.run(
        [sys.executable, "-c", "import tapesched; print(tapesched.__file__)"],
        capture_output=True,
        text=True,
        env=old.env,
        cwd=scratch,
        check=True,
    ).stdout.strip()
    if not Path(where).is_relative_to(worktree):
        raise SystemExit(f"expected tapesched from the worktree {worktree}, got {where}")
    data = scratch / "data"
    data.mkdir()
    (data / "hello.txt").write_text("hello tape\n")
    (data / "skip.tmp").write_text("not backed up\n")

    old("init")
    old(
        "add",
        "nightly-report",
        "--daily",
        "02:00",
        "--command",
        "echo report from 0.1.0",
        "--description",
        "a custom command, run twice",
        "--timeout",
        "600",
        "--notify-command",
        "true",
        "--notify-on",
        "always",
    )
    old("add", "flaky", "--every", "30m", "--command", "sh -c 'exit 3'", "--misfire", "skip")
    old(
        "add",
        "weekly-full",
        "--weekly",
        "sun",
        "--at",
        "01:00",
        "--source",
        str(data),
        "--device",
        str(scratch / "vtape"),
        "--exclude",
        "*.tmp",
        "--device-wait",
        "120",
    )
    old(
        "add",
        "prune-history",
        "--cron",
        "15 3 * * 1-5",
        "--timezone",
        "Europe/Berlin",
        "--action",
        "cleanup",
        "--retention-days",
        "365",
    )
    old(
        "add",
        "monthly-check",
        "--monthly",
        "31",
        "--at",
        "04:30",
        "--action",
        "health_check",
        "--action-config",
        '{"min_free_mb": 1}',
        "--misfire-grace",
        "3600",
    )
    old(
        "add",
        "leap-day",
        "--yearly",
        "02-29",
        "--at",
        "02:00",
        "--command",
        "true",
        "--disabled",
        "--ping-url",
        "https://hc-ping.example.com/0123abcd",
    )
    # A once schedule in the past: the next tick launches it (a scheduled run).
    old("add", "catch-up", "--once", "2024-01-01 00:00", "--force", "--command", "echo caught up")

    old("run", "nightly-report", "--wait")
    old("run", "nightly-report", "--wait")
    old("run", "flaky", "--wait", expect=1)
    old("run", "weekly-full", "--wait")
    old("run", "prune-history", "--wait")
    old("tick")
    old.wait_idle()
    old("tick")
    old.wait_idle()
    return old.db


def dump(db: Path) -> str:
    connection = sqlite3.connect(db)
    try:
        return "\n".join(connection.iterdump()) + "\n"
    finally:
        connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tapesched-0.1.0-") as folder:
        scratch = Path(folder)
        worktree = scratch / "tapesched-0.1.0"
        git("worktree", "add", "--detach", str(worktree), COMMIT)
        try:
            text = dump(make(worktree, scratch))
        finally:
            git("worktree", "remove", "--force", str(worktree))
            git("worktree", "prune")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
