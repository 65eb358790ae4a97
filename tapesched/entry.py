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

from tapesched.errors import (
    EXIT_FAILED,
    EXIT_STORAGE,
    EXIT_USAGE,
    TapeschedError,
    os_error_line,
    printable,
    undecodable,
)

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


def check_arguments(args: list[str]) -> None:
    """Refuse an argument that is not valid UTF-8 (exit 2), before anything reads it.

    Every name, path, command and reference tapesched takes from the command line may be
    stored, printed or logged, and all of those are UTF-8; Python hands over bytes that
    are not UTF-8 as lone surrogates, which fail wherever they land. This is the one
    place every argument passes through, for the fast path and the full command line.
    """
    for index, arg in enumerate(args, start=1):
        if undecodable(arg):
            sys.stderr.write(
                f"tapesched: argument {index} ('{printable(arg)}') is not valid UTF-8; "
                "names, paths, commands and other text must be UTF-8\n"
            )
            sys.exit(EXIT_USAGE)


def exit_on_os_error(error: OSError, where: object = None) -> None:
    """The edge's answer to an OSError nothing below handled: one line naming the path,
    exit 5 (storage unavailable). A closed standard output (`tapesched list | head -1`)
    ends the command quietly with exit 1, as the parser does when it sees it first."""
    if isinstance(error, BrokenPipeError):
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        sys.exit(EXIT_FAILED)
    sys.stderr.write(f"tapesched: {printable(os_error_line(error, where))}\n")
    sys.exit(EXIT_STORAGE)


def main(argv: list[str] | None = None) -> None:
    """Console entry point."""
    args = sys.argv[1:] if argv is None else list(argv)
    check_arguments(args)
    fast = fast_command(args, dict(os.environ))
    if fast is None:
        from tapesched.cli import main as full

        full(args)
        return
    command, db, argument = fast
    try:
        sys.exit(_tick(db) if command == "tick" else _run(db, argument))
    except TapeschedError as error:
        sys.stderr.write(f"tapesched: {printable(error.message)}\n")
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("tapesched: interrupted\n")
        sys.exit(130)
    except OSError as error:
        exit_on_os_error(error, _home(db))


def _home(db: str | None) -> object:
    """The state folder, to name in a line about an OSError that names no path."""
    from tapesched import paths

    try:
        return paths.resolve(db).home
    except TapeschedError:
        return None


def _tick(db: str | None) -> int:
    from tapesched import paths
    from tapesched import tick as ticker
    from tapesched.clock import utcnow

    report = ticker.tick(paths.resolve(db), utcnow().replace(microsecond=0))
    return ticker.report_problems(report)


def _run(db: str | None, execution_id: str) -> int:
    from tapesched import paths, runner

    return runner.run_execution(paths.resolve(db), execution_id)
