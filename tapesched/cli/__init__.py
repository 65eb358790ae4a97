"""The command line: parse, call one operation, render its result. Reads the clock.

Commands are grouped by what they act on: tasks (add, edit, delete, enable,
disable), views of them (list, show, preview), runs (tick, run, stop, logs,
output), tape media (the groups pool, library and media, and restore-points), the
installation (init, status, apply, export, metrics, completion) and the catalog and
its hosts (db, hosts). Options
that several commands share are declared once (options), and so are the
schedule and action shorthands (shorthands). Heavy modules (rich, croniter,
SQLAlchemy) are imported inside the commands that need them, so `--help` and
`--version` stay fast; `tapesched tick` and the runner do not even come here
(tapesched.entry).
"""

from __future__ import annotations

import os
import sys

import typer

from tapesched.cli import (  # noqa: F401 - each registers its commands
    admin,
    hosts,
    libraries,
    media,
    runs,
    tasks,
    views,
    volumes,
)
from tapesched.cli.admin import COMPLETE_VAR
from tapesched.cli.common import app, state_paths
from tapesched.cli.options import HelpGroup
from tapesched.entry import check_arguments, exit_on_os_error
from tapesched.errors import EXIT_USAGE, TapeschedError, printable

__all__ = ["app", "main"]

# The order of `--help` and the man page: setting up, tasks, runs, media, files and
# monitoring. Command groups (pool, library, media) take their place here too.
ORDER = (
    "init", "add", "list", "show", "edit", "delete", "enable", "disable", "preview", "status",
    "tick", "_run", "run", "stop", "logs", "output", "pool", "library", "media",
    "restore-points", "apply", "export", "metrics", "hosts", "db", "completion",
)  # fmt: skip


class _Ordered(HelpGroup):
    """The tapesched group: its commands and command groups in ORDER (Typer would list
    the groups after every command)."""

    def __init__(self, *args: object, commands: dict | None = None, **kwargs: object) -> None:
        if isinstance(commands, dict):
            commands = dict(sorted(commands.items(), key=lambda item: ORDER.index(item[0])))
        super().__init__(*args, commands=commands, **kwargs)  # type: ignore[arg-type]


app.info.cls = _Ordered


def main(argv: list[str] | None = None) -> None:
    """The whole command line: one line on stderr and a documented exit code for any error
    (control characters in a message, from a name or a file given, are escaped).

    An OSError that no command turned into its own message (an unwritable state folder, a
    file where a folder should be, a full disk) ends here as one line naming the path,
    exit 5."""
    check_arguments(sys.argv[1:] if argv is None else argv)
    if os.environ.get(COMPLETE_VAR):
        from typer.completion import completion_init

        completion_init()
    try:
        code = app(args=argv, prog_name="tapesched", standalone_mode=False)
        sys.stdout.flush()  # a closed pipe ends here (exit 1), not in a complaint at exit
    except TapeschedError as error:
        sys.stderr.write(f"tapesched: {printable(error.message)}\n")
        sys.exit(error.exit_code)
    except typer.TyperException as error:  # usage errors from the parser
        if type(error).__name__ == "NoArgsIsHelpError":  # bare `tapesched`: the help
            sys.stderr.write(error.format_message() + "\n")
            sys.exit(EXIT_USAGE)
        context = getattr(error, "ctx", None)
        hint = f" (see '{context.command_path} --help')" if context is not None else ""
        sys.stderr.write(f"tapesched: {printable(error.format_message())}{hint}\n")
        sys.exit(EXIT_USAGE if error.exit_code == 2 else error.exit_code)
    except typer.Abort:
        sys.stderr.write("tapesched: aborted\n")
        sys.exit(1)
    except KeyboardInterrupt:
        sys.stderr.write("tapesched: interrupted\n")
        sys.exit(130)
    except OSError as error:
        exit_on_os_error(error, _home())
    sys.exit(code if isinstance(code, int) else 0)


def _home() -> object:
    """The state folder, to name in a line about an OSError that names no path."""
    try:
        return state_paths().home
    except TapeschedError:
        return None
