"""Commands for the installation: init, status, apply, export, metrics, completion."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from tapesched.cli.common import Globals, app, now, open_db, print_json, state_paths
from tapesched.cli.options import JsonOut
from tapesched.errors import InvalidInput, OperationFailed

COMPLETE_VAR = "_TAPESCHED_COMPLETE"


@app.command()
def init(
    install_cron: Annotated[
        bool,
        typer.Option("--install-cron", help="Add the tick line to your crontab (idempotent)."),
    ] = False,
    json_out: JsonOut = False,
) -> None:
    """Create the database and state folders; print the crontab line."""
    from tapesched import crontab

    paths = state_paths()
    open_db().close()
    line = crontab.tick_line(paths, Globals.db)
    outcome = crontab.install(line) if install_cron else None
    if json_out:
        print_json(
            {"home": str(paths.home), "db": str(paths.db), "crontab": line, "cron_install": outcome}
        )
        return
    sys.stdout.write(f"state folder: {paths.home}\ndatabase: {paths.db}\n")
    if outcome is None:
        sys.stdout.write(f"add this line to your crontab (crontab -e):\n{line}\n")
    else:
        messages = {
            "installed": "added to your crontab",
            "updated": "updated in your crontab",
            "present": "already in your crontab",
        }
        sys.stdout.write(f"{messages[outcome]}:\n{line}\n")


@app.command()
def status(json_out: JsonOut = False) -> None:
    """Whether ticks are running, task counts, runs in progress, last tick."""
    from tapesched.render import human_delta
    from tapesched.store import executions
    from tapesched.store import tasks as task_rows
    from tapesched.store.db import last_tick

    current = now()
    with open_db() as db, db.read():
        total, enabled = task_rows.counts(db)
        running_executions = executions.count_running(db)
        last = last_tick(db)
    # A tick in the last two minutes (a second of slack for a clock read just before it).
    running = last is not None and -1 <= (current - last).total_seconds() <= 120
    data = {
        "running": running,
        "total_tasks": total,
        "enabled_tasks": enabled,
        "running_executions": running_executions,
        "last_tick_time": last.isoformat() if last else None,
    }
    if json_out:
        print_json(data)
        return
    since = f" ({human_delta(current - last)} ago)" if last else ""
    sys.stdout.write(
        f"scheduler: {'running' if running else 'NOT running (no tick in the last 2 minutes)'}\n"
        f"last tick: {data['last_tick_time'] or 'never'}{since}\n"
        f"tasks: {total} ({enabled} enabled)\n"
        f"running executions: {running_executions}\n"
        f"database: {state_paths().db}\n"
    )


@app.command()
def apply(
    file: Annotated[str, typer.Argument(metavar="FILE", help="TOML file with [[task]] tables.")],
    prune: Annotated[
        bool, typer.Option("--prune", help="Delete tasks that are not in the file.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would change; change nothing.")
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

    The whole file is checked first: any error names the task and the field,
    and nothing is applied. 'tapesched export' prints this form.
    """
    from tapesched import taskfile, tasks
    from tapesched.clock import host_zone_name, utcnow

    try:
        with open(file, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as error:
        raise InvalidInput(f"{file}: cannot read it ({error.strerror})") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{file}: not UTF-8 text") from None
    specs = taskfile.parse(text, file, host_zone_name())
    with open_db() as db:
        plan = tasks.apply_specs(
            db, specs, now(), utcnow, prune=prune, dry_run=dry_run, force=force, source=file
        )
    summary = {
        "created": plan.created,
        "updated": [name for name, _ in plan.updated],
        "unchanged": plan.unchanged,
        "deleted": plan.deleted,
    }
    if json_out:
        print_json({**summary, "dry_run": dry_run})
        return
    verb = "would be " if dry_run else ""
    sys.stdout.write(
        ", ".join(f"{len(names)} {verb}{kind}" for kind, names in summary.items()) + "\n"
    )


@app.command()
def export() -> None:
    """Print every task as TOML, in the form 'apply' reads."""
    from tapesched import taskfile
    from tapesched.store import tasks as task_rows

    with open_db() as db, db.read():
        listed = task_rows.all_tasks(db, order="name")
    sys.stdout.write(taskfile.export(listed))


@app.command()
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
    """Print Prometheus metrics: per-task last/next run times, run counters, running gauge."""
    from pathlib import Path

    from tapesched import metrics as exporter

    with open_db() as db:
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


@app.command()
def completion(
    shell: Annotated[str, typer.Argument(help="bash, zsh or fish.")],
) -> None:
    """Print the shell completion script (task names complete from the database).

    \b
    bash:  tapesched completion bash > ~/.local/share/bash-completion/completions/tapesched
    zsh:   tapesched completion zsh > ~/.zfunc/_tapesched   (with fpath+=~/.zfunc)
    fish:  tapesched completion fish > ~/.config/fish/completions/tapesched.fish
    """
    from typer.completion import get_completion_script

    if shell not in ("bash", "zsh", "fish"):
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
