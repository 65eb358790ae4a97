"""What every command shares: the Typer app, the global options, the database, the clock."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Annotated

import typer

from tapesched import __version__
from tapesched.cli.options import HelpGroup

app = typer.Typer(
    name="tapesched",
    help=(
        "Schedule tape backup jobs. System cron calls 'tapesched tick' once a minute; "
        "due tasks run as detached jobs whose outcome is recorded.\n\n"
        "Exit codes: 0 done; 1 the job or operation failed; 2 invalid usage or input; "
        "3 no such task, execution, pool, library or volume; 4 conflict; 5 storage unavailable."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["--help", "-h"]},
    cls=HelpGroup,
)


class Globals:
    db: str | None = None


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"tapesched {__version__}\n")
        raise typer.Exit()


@app.callback()
def root(
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            metavar="PATH",
            envvar="TAPESCHED_DB",
            help="Database file (default: in the state folder).",
            show_envvar=True,
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    Globals.db = db


def state_paths():  # noqa: ANN201 - StatePaths
    from tapesched import paths

    return paths.resolve(Globals.db)


def open_db(create: bool = True):  # noqa: ANN201 - a tapesched.store.db.Database
    """The catalog named by --db / TAPESCHED_DB (or the state folder's).

    Commands that change tasks or run them create the state folder and the database when
    they are missing (`create`, the default). Commands that only look pass create=False:
    they make nothing, and a missing database is one line naming where it was looked for
    and saying to run 'tapesched init' (exit 5)."""
    from tapesched.store.db import open_database

    return open_database(state_paths(), create=create)


def now() -> datetime:
    from tapesched.clock import utcnow

    return utcnow().replace(microsecond=0)


def warn(message: str) -> None:
    sys.stderr.write(f"tapesched: warning: {message}\n")


def print_json(data: object) -> None:
    from tapesched.render import print_json as dump

    dump(data)
