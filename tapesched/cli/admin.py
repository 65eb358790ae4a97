"""Commands for the installation: init, status, apply, export, metrics, completion."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from tapesched.cli.common import app, now, open_db, print_json, state_paths
from tapesched.cli.options import HelpCommand, JsonOut
from tapesched.errors import InvalidInput, OperationFailed

if TYPE_CHECKING:
    from tapesched.tasks import ApplyPlan

COMPLETE_VAR = "_TAPESCHED_COMPLETE"


@app.command(cls=HelpCommand)
def init(
    install_cron: Annotated[
        bool,
        typer.Option(
            "--install-cron",
            help="Add this state folder's tick line to your crontab, or replace its older "
            "line; lines of other state folders stay.",
        ),
    ] = False,
    uninstall_cron: Annotated[
        bool,
        typer.Option(
            "--uninstall-cron",
            help="Remove this state folder's tick line from your crontab (creates nothing).",
        ),
    ] = False,
    json_out: JsonOut = False,
) -> None:
    """Create the database and state folders; print the crontab line.

    The line names the state folder (TAPESCHED_HOME) and the database (--db) it
    ticks, quoted for the shell with each % written \\%, so each state folder
    has its own line. A path with a control character cannot be put in a
    crontab line and is refused.
    """
    from tapesched import crontab

    if install_cron and uninstall_cron:
        raise InvalidInput("--install-cron and --uninstall-cron: give one of them")
    paths = state_paths()
    if uninstall_cron:
        change = crontab.uninstall(paths)
        if json_out:
            print_json(
                {
                    "home": str(paths.home),
                    "db": str(paths.db),
                    "cron_uninstall": change.outcome,
                    "cron_removed": change.old_lines,
                }
            )
        elif change.outcome == "removed":
            sys.stdout.write(
                "removed from your crontab:\n" + "".join(f"- {t}\n" for t in change.old_lines)
            )
        else:
            sys.stdout.write(
                f"no tick line for state folder {paths.home} (database {paths.db}) in your "
                "crontab; nothing removed\n"
            )
        return
    line = crontab.tick_line(paths)  # refuses an unsafe path before anything is created
    if install_cron:
        crontab.read_table()  # no crontab command, or one that fails: nothing created either
    open_db().close()
    change = crontab.install(line, paths) if install_cron else None
    if json_out:
        print_json(
            {
                "home": str(paths.home),
                "db": str(paths.db),
                "crontab": line,
                "cron_install": change.outcome if change else None,
                "cron_replaced": change.old_lines if change else [],
            }
        )
        return
    sys.stdout.write(f"state folder: {paths.home}\ndatabase: {paths.db}\n")
    if change is None:
        sys.stdout.write(f"add this line to your crontab (crontab -e):\n{line}\n")
    elif change.outcome == "replaced":
        sys.stdout.write(
            "replaced this state folder's line in your crontab:\n"
            + "".join(f"- {text}\n" for text in change.old_lines)
            + f"+ {line}\n"
        )
    else:
        said = {"added": "added to your crontab", "present": "already in your crontab"}
        sys.stdout.write(f"{said[change.outcome]}:\n{line}\n")


# A tick in the last two minutes means the scheduler runs (README, "status").
TICKING_WITHIN = 120


@app.command(cls=HelpCommand)
def status(json_out: JsonOut = False) -> None:
    """Whether ticks are running, task counts, runs in progress, last tick, other hosts.

    Exit 0 when this host's tick ran in the last two minutes, 1 when none did (a check
    for monitoring: the output, or "ticking" in --json, says the same). Other hosts
    sharing the catalog whose tick stopped are named (exit status unchanged).
    """
    from tapesched.hosts import this_host
    from tapesched.render import human_delta
    from tapesched.store import executions
    from tapesched.store import tasks as task_rows
    from tapesched.store.hosts import all_hosts

    current = now()
    host = this_host()
    with open_db(create=False) as db, db.read():
        total, enabled = task_rows.counts(db)
        running_executions = executions.count_running(db, None)
        hosts = all_hosts(db)
    last = next((known.last_tick for known in hosts if known.name == host), None)
    ticking = _ticking(last, current)
    stopped = [
        known for known in hosts if known.name != host and not _ticking(known.last_tick, current)
    ]
    data = {
        "running": ticking,
        "ticking": ticking,
        "host": host,
        "total_tasks": total,
        "enabled_tasks": enabled,
        "running_executions": running_executions,
        "last_tick_time": last.isoformat() if last else None,
        "hosts": [
            {
                "name": known.name,
                "last_tick_time": known.last_tick.isoformat() if known.last_tick else None,
                "ticking": _ticking(known.last_tick, current),
                "running_executions": known.running,
            }
            for known in hosts
        ],
    }
    if json_out:
        print_json(data)
    else:
        since = f" ({human_delta(current - last)} ago)" if last else ""
        text = (
            f"scheduler: {'running' if ticking else 'NOT running (no tick in the last 2 minutes)'}"
            f" on host {host}\nlast tick: {data['last_tick_time'] or 'never'}{since}\n"
            f"tasks: {total} ({enabled} enabled)\n"
            f"running executions: {running_executions}\n"
            f"database: {state_paths().db}\n"
        )
        for known in stopped:
            when = "never ticked"
            if known.last_tick:
                ago = human_delta(current - known.last_tick)
                when = f"last tick {known.last_tick.isoformat()} ({ago} ago)"
            text += (
                f"host {known.name}: tick STOPPED ({when}; {known.running} runs recorded running)\n"
            )
        sys.stdout.write(text)
    if not ticking:
        raise typer.Exit(1)


def _ticking(last, current) -> bool:  # noqa: ANN001 - datetimes
    """Whether a tick at `last` counts as recent at `current` (a second of slack for a
    clock read just before the tick's)."""
    return last is not None and -1 <= (current - last).total_seconds() <= TICKING_WITHIN


@app.command(cls=HelpCommand)
def apply(
    file: Annotated[str, typer.Argument(metavar="FILE", help="TOML file with [[task]] tables.")],
    prune: Annotated[
        bool,
        typer.Option(
            "--prune",
            help="Delete tasks that are not in the file (names them; asks on a terminal, "
            "else needs --yes). Pools are never deleted.",
        ),
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Delete with --prune without asking.")
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Print each change that would be made; change nothing."),
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Accept a new once schedule in the past.")
    ] = False,
    json_out: JsonOut = False,
) -> None:
    """Create or update tasks from a TOML file, by name; applying it twice changes nothing.

    \b
    [[task]]
    task_name = "nightly"
    schedule_type = "daily"
    schedule_config = { time = "02:00:00" }
    timezone = "Europe/Berlin"
    action_type = "backup"
    action_config = { source_paths = ["/srv/data"], device = "/dev/nst0" }
    timeout = 14400

    [[pool]] tables (name, retention_days) create the pools the tasks name, or
    change their retention; a pool is never deleted, not even by --prune.

    The whole file is checked first: any error names the task and the field,
    and nothing is applied. Each change is printed: created, updated (with the
    fields that change), deleted. 'tapesched export' prints this form.
    """
    import contextlib

    from tapesched import taskfile, tasks
    from tapesched.clock import host_zone_name, utcnow

    try:
        with open(file, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as error:
        raise InvalidInput(f"{file}: cannot read it ({error.strerror})") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{file}: not UTF-8 text") from None
    pools, specs = taskfile.parse_file(text, file, host_zone_name())

    def plan_with(dry: bool) -> ApplyPlan:
        return tasks.apply_specs(
            db, specs, now(), utcnow, prune=prune, dry_run=dry, force=force, source=file
        )

    with open_db() as db:
        if prune and not dry_run and not yes:
            doomed = plan_with(True).deleted
            if doomed:
                _confirm_prune(doomed)
        # Pools and tasks in one transaction; but --prune stops the runs it deletes first,
        # outside any transaction, so there the pools follow in a second one.
        separate = prune and not dry_run
        with contextlib.nullcontext() if separate else db.write():
            pool_plan = None if separate else taskfile.apply_pools(db, pools, now(), dry_run)
            plan = plan_with(dry_run)
        if pool_plan is None:
            pool_plan = taskfile.apply_pools(db, pools, now(), dry_run)
    changes = _plan_changes(plan)
    if json_out:
        print_json(
            {
                "created": plan.created,
                "updated": [name for name, _ in plan.updated],
                "unchanged": plan.unchanged,
                "deleted": plan.deleted,
                "changes": changes,
                "pools": {
                    "created": pool_plan.created,
                    "updated": pool_plan.updated,
                    "unchanged": pool_plan.unchanged,
                },
                "dry_run": dry_run,
            }
        )
        return
    verbs = {"create": "created", "update": "updated", "delete": "deleted"}
    for name in [*pool_plan.created, *pool_plan.updated]:
        verb = "create" if name in pool_plan.created else "update"
        fields = "" if verb == "create" else ": retention_days"
        sys.stdout.write(f"{'would ' + verb if dry_run else verbs[verb]} pool {name}{fields}\n")
    for change in changes:
        verb = f"would {change['change']}" if dry_run else verbs[change["change"]]
        fields = f": {', '.join(change['fields'])}" if "fields" in change else ""
        sys.stdout.write(f"{verb} {change['task']}{fields}\n")
    counts = {
        "created": len(plan.created),
        "updated": len(plan.updated),
        "unchanged": len(plan.unchanged),
        "deleted": len(plan.deleted),
    }
    verb = "would be " if dry_run else ""
    sys.stdout.write(", ".join(f"{n} {verb}{kind}" for kind, n in counts.items()) + "\n")
    if pools:
        pool_counts = {
            "created": len(pool_plan.created),
            "updated": len(pool_plan.updated),
            "unchanged": len(pool_plan.unchanged),
        }
        sys.stdout.write(
            "pools: " + ", ".join(f"{n} {verb}{kind}" for kind, n in pool_counts.items()) + "\n"
        )


def _plan_changes(plan: ApplyPlan) -> list[dict[str, object]]:
    """Each change of an apply plan, in the order they are printed."""
    return [
        *({"change": "create", "task": name} for name in plan.created),
        *({"change": "update", "task": name, "fields": list(f)} for name, f in plan.updated),
        *({"change": "delete", "task": name} for name in plan.deleted),
    ]


def _confirm_prune(doomed: list[str]) -> None:
    """Ask before --prune deletes tasks: on a terminal a question, else --yes is needed."""
    named = ", ".join(doomed[:10]) + (f" and {len(doomed) - 10} more" if len(doomed) > 10 else "")
    if not sys.stdin.isatty():
        raise InvalidInput(
            f"--prune would delete {len(doomed)} task(s) not in the file and their history "
            f"({named}); give --yes to delete them (no terminal to ask on), or --dry-run to "
            "see every change"
        )
    # Asked on stderr and read from the terminal: stdout stays for the result (--json).
    sys.stderr.write(
        f"--prune deletes {len(doomed)} task(s) not in the file, and their history: "
        f"{named}. Delete them? [y/N] "
    )
    sys.stderr.flush()
    if sys.stdin.readline().strip().lower() not in ("y", "yes"):
        raise OperationFailed("apply --prune not confirmed; nothing changed")


@app.command(cls=HelpCommand)
def export() -> None:
    """Print every pool and every task as TOML, in the form 'apply' reads."""
    from tapesched import taskfile
    from tapesched.store import media as catalog
    from tapesched.store import tasks as task_rows

    with open_db(create=False) as db, db.read():
        listed = task_rows.all_tasks(db, order="name")
        pools = catalog.all_pools(db)
    sys.stdout.write(taskfile.export(listed, pools))


@app.command(cls=HelpCommand)
def metrics(
    textfile: Annotated[
        str | None,
        typer.Option(
            "--textfile",
            metavar="PATH",
            help="Write atomically to PATH (node_exporter textfile collector) instead of stdout.",
        ),
    ] = None,
) -> None:
    """Print Prometheus metrics: per task, run counters that never go down, last and next
    run times, the last result and exit code, the last backup's size (see METRICS in
    'man tapesched')."""
    from pathlib import Path

    from tapesched import metrics as exporter

    with open_db(create=False) as db:
        text = exporter.exposition(db)
    if textfile is None:
        sys.stdout.write(text)
        return
    target = Path(textfile)
    if not target.parent.is_dir():
        raise InvalidInput(f"--textfile: folder {target.parent} does not exist")
    try:
        exporter.write_textfile(target, text)
    except OSError as error:
        raise OperationFailed(f"--textfile: cannot write {target}: {error.strerror}") from None


SHELLS = ("bash", "zsh", "fish")


def complete_shell(incomplete: str) -> list[str]:
    """The shell names, for completing `tapesched completion <Tab>`."""
    return [shell for shell in SHELLS if shell.startswith(incomplete)]


@app.command(cls=HelpCommand)
def completion(
    shell: Annotated[
        str,
        typer.Argument(metavar="SHELL", help="bash, zsh or fish.", autocompletion=complete_shell),
    ],
) -> None:
    """Print the shell completion script (task names complete from the database).

    \b
    bash:  tapesched completion bash > ~/.local/share/bash-completion/completions/tapesched
    zsh:   tapesched completion zsh > ~/.zfunc/_tapesched   (with fpath+=~/.zfunc)
    fish:  tapesched completion fish > ~/.config/fish/completions/tapesched.fish
    """
    from typer.completion import get_completion_script

    if shell not in SHELLS:
        raise InvalidInput(f"shell: '{shell}' is not supported; expected bash, zsh or fish")
    script = get_completion_script(prog_name="tapesched", complete_var=COMPLETE_VAR, shell=shell)
    if shell == "zsh":
        script += (
            "\n\n# Autoloaded from fpath as _tapesched: complete this first Tab too.\n"
            'if [[ "${funcstack[1]}" == "_tapesched" ]]; then\n'
            '  _tapesched_completion "$@"\n'
            "fi"
        )
    sys.stdout.write(script + "\n")
