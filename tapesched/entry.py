"""The `tapesched` command's entry point: cron's two commands first, then the command line.

Cron calls `tapesched [--db PATH] tick` every minute and each run starts
`tapesched --db PATH _run ID`. Those two exact forms are dispatched here,
before Typer (and its dependencies) is imported, and run the same functions
the full command line calls (tapesched.tick.tick, tapesched.runner). Anything
else, every option and every mistake included, goes to the full command line
(tapesched.cli), which parses and reports it. So the fast path never has to
repeat a rule of the parser: it only recognises what needs no parsing.
"""

from __future__ import annotations

import os
import re
import sys

from tapesched.errors import TapeschedError

_COUNT = re.compile(r"[1-9][0-9]{0,5}")


def fast_command(argv: list[str], environ: dict[str, str]) -> tuple[str, str | None, str] | None:
    """Given the arguments and the environment, return (command, --db value, argument) for
    `[--db PATH] tick` and `[--db PATH] _run ID`, or None for anything else."""
    if environ.get("_TAPESCHED_COMPLETE"):
        return None
    db = None
    rest = list(argv)
    if rest[:1] == ["--db"] and len(rest) >= 2 and not rest[1].startswith("-"):
        db, rest = rest[1], rest[2:]
    elif rest[:1] and rest[0].startswith("--db=") and len(rest[0]) > 5:
        db, rest = rest[0][5:], rest[1:]
    if rest == ["tick"]:
        limit = environ.get("TAPESCHED_MAX_CONCURRENT_RUNS")
        if limit is not None and not _COUNT.fullmatch(limit):
            return None  # the full parser reports a bad value
        return ("tick", db, "")
    if len(rest) == 2 and rest[0] == "_run" and not rest[1].startswith("-"):
        return ("_run", db, rest[1])
    return None


def main(argv: list[str] | None = None) -> None:
    """Console entry point."""
    args = sys.argv[1:] if argv is None else list(argv)
    fast = fast_command(args, dict(os.environ))
    if fast is None:
        from tapesched.cli import main as full

        full(args)
        return
    command, db, argument = fast
    try:
        sys.exit(_tick(db) if command == "tick" else _run(db, argument))
    except TapeschedError as error:
        sys.stderr.write(f"tapesched: {error.message}\n")
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("tapesched: interrupted\n")
        sys.exit(130)


def _tick(db: str | None) -> int:
    from tapesched import paths
    from tapesched import tick as ticker
    from tapesched.clock import utcnow

    report = ticker.tick(paths.resolve(db), utcnow().replace(microsecond=0))
    return ticker.report_problems(report)


def _run(db: str | None, execution_id: str) -> int:
    from tapesched import paths, runner

    return runner.run_execution(paths.resolve(db), execution_id)
