"""Commands about the catalog itself and the hosts sharing it: db, hosts."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from tapesched.cli.common import app, now, open_db, print_json, state_paths
from tapesched.cli.options import HelpCommand, JsonOut
from tapesched.errors import InvalidInput

DB_ACTIONS = ("upgrade", "current")


def _complete_db_action(incomplete: str) -> list[str]:
    return [action for action in DB_ACTIONS if action.startswith(incomplete)]


@app.command(cls=HelpCommand)
def db(
    action: Annotated[
        str,
        typer.Argument(
            metavar="upgrade|current",
            help="upgrade: bring the database's schema to this tapesched's revision; "
            "current: say where it stands.",
            autocompletion=_complete_db_action,
        ),
    ],
    json_out: JsonOut = False,
) -> None:
    """Upgrade the database's schema, or say which revision it is at.

    \b
    upgrade  brings an older database forward (one made by tapesched 0.1.0
             included): tasks, history and statistics are kept; tasks that
             exist before hosts were known are bound to this host. An SQLite
             database is first copied to DB.before-REVISION beside it.
             Nothing to do is not an error.
    current  prints the revision, this tapesched's, and whether an upgrade is
             needed (exit 0 either way).
    """
    from tapesched.store.db import (
        REVISIONS,
        SCHEMA_REVISION,
        check_revision,
        open_database,
        revision,
    )

    if action not in DB_ACTIONS:
        raise InvalidInput(f"db: unknown action {action!r}; expected upgrade or current")
    paths = state_paths()
    with open_database(paths, create=False, check=False) as database:
        found = revision(database)
        if action == "upgrade" and found is not None and found not in REVISIONS:
            # Newer than this tapesched: refused as every command refuses it, before a
            # copy named for an upgrade is taken.
            check_revision(database)
    if action == "current":
        state = (
            "current"
            if found == SCHEMA_REVISION
            else "none"
            if found is None
            else "upgrade needed"
            if found < SCHEMA_REVISION
            else "newer than this tapesched"
        )
        if json_out:
            print_json(
                {"db": str(paths.db), "revision": found, "head": SCHEMA_REVISION, "state": state}
            )
        else:
            sys.stdout.write(
                f"database: {paths.db}\nrevision: {found or 'none (no tapesched schema)'}\n"
                f"this tapesched: {SCHEMA_REVISION}\nstate: {state}"
                + ("; run 'tapesched db upgrade'" if state == "upgrade needed" else "")
                + "\n"
            )
        return
    before, after, copy = _upgrade(paths, found)
    if json_out:
        print_json(
            {
                "db": str(paths.db),
                "before": before,
                "after": after,
                "upgraded": before != after,
                "copy": str(copy) if copy else None,
            }
        )
    elif before == after:
        sys.stdout.write(f"database {paths.db} is at revision {after} already; nothing to do\n")
    else:
        kept = f" (the database before: {copy})" if copy else ""
        sys.stdout.write(f"upgraded database {paths.db} from {before} to {after}{kept}\n")


def _upgrade(paths, found):  # noqa: ANN001, ANN202 - StatePaths, revision
    """Upgrade; return (before, after, the SQLite copy taken first or None)."""
    from pathlib import Path

    from tapesched.hosts import this_host
    from tapesched.store import schema
    from tapesched.store.db import SCHEMA_REVISION

    copy = None
    if isinstance(paths.db, Path) and found not in (None, SCHEMA_REVISION):
        from tapesched.store.sqlite import backup_copy

        copy = backup_copy(paths.db, f"before-{SCHEMA_REVISION}")
    before, after = schema.upgrade(paths.db, this_host())
    return before, after, copy


@app.command(cls=HelpCommand)
def hosts(json_out: JsonOut = False) -> None:
    """The hosts sharing this catalog: last tick, runs going, tasks bound to each.

    A host is listed once it has ticked, has a task bound to it, or has a run going.
    A host whose tick has not run in the last two minutes is marked stopped: its own
    tasks wait for it; tasks bound to any host run elsewhere.
    """
    from tapesched.cli.admin import TICKING_WITHIN
    from tapesched.hosts import this_host
    from tapesched.render import human_delta, table
    from tapesched.store.hosts import all_hosts

    current = now()
    here = this_host()
    with open_db(create=False) as database, database.read():
        known = all_hosts(database)

    def ticking(host) -> bool:  # noqa: ANN001 - HostRecord
        last = host.last_tick
        return last is not None and -1 <= (current - last).total_seconds() <= TICKING_WITHIN

    if json_out:
        print_json(
            [
                {
                    "name": host.name,
                    "this_host": host.name == here,
                    "last_tick_time": host.last_tick.isoformat() if host.last_tick else None,
                    "ticking": ticking(host),
                    "running_executions": host.running,
                    "tasks": host.tasks,
                }
                for host in known
            ]
        )
        return
    if not known:
        sys.stdout.write("no host has ticked yet; run 'tapesched tick' (see 'tapesched init')\n")
        return
    rows = []
    for host in known:
        last = "never"
        if host.last_tick is not None:
            ago = human_delta(current - host.last_tick)
            last = f"{host.last_tick:%Y-%m-%d %H:%M:%S} UTC ({ago} ago)"
        rows.append(
            [
                host.name + (" *" if host.name == here else ""),
                "ticking" if ticking(host) else "STOPPED",
                last,
                str(host.running),
                str(host.tasks),
            ]
        )
    table(None, ["HOST", "TICK", "LAST TICK", "RUNNING", "TASKS"], rows)
