"""Commands on runs: tick, run, stop, logs, output (and the hidden runner, _run)."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from tapesched.cli.common import app, now, open_db, print_json, state_paths, warn
from tapesched.cli.options import (
    Full,
    Grace,
    HelpCommand,
    JsonOut,
    Since,
    Status,
    TaskRef,
    Until,
    check_grace,
    complete_level,
    complete_task,
    instant,
)
from tapesched.errors import InvalidInput, NotFound, OperationFailed

BACKUP_LEVELS = ("full", "differential", "incremental")

TAIL_LINES = 10  # what `run --wait` shows of a failed job's output
TAIL_BYTES = 65536  # ... read from the end of its log at most


@app.command(cls=HelpCommand)
def tick(
    now_: Annotated[
        str | None,
        typer.Option(
            "--now",
            metavar="DATETIME",
            help="Evaluate as if at this instant (local unless it has an offset).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be launched; change nothing.")
    ] = False,
    max_concurrent: Annotated[
        int | None,
        typer.Option(
            "--max-concurrent",
            metavar="N",
            envvar="TAPESCHED_MAX_CONCURRENT_RUNS",
            help="Most runners at once (default 4).",
            show_envvar=True,
        ),
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Report what the tick did as JSON on stdout.")
    ] = False,
) -> None:
    """The cron entry point: launch due tasks as detached runs. Quiet when all is well."""
    from tapesched import tick as ticker
    from tapesched.clock import host_zone_name

    if max_concurrent is not None and max_concurrent < 1:
        raise InvalidInput(f"--max-concurrent: {max_concurrent} is not valid; expected 1 or more")
    at = instant(now_, host_zone_name(), "--now", default=None) or now()
    report = ticker.tick(state_paths(), at, dry_run, max_concurrent)
    if json_out:
        print_json(ticker.report_json(report, at, dry_run))
    elif dry_run:
        for name, _, trigger in report.launched:
            sys.stdout.write(f"would launch {name} ({trigger})\n")
        for name, reason in report.skipped:
            sys.stdout.write(f"would skip {name}: {reason}\n")
        for name in report.queued:
            sys.stdout.write(f"would leave {name} queued\n")
        for name, until in report.waiting:
            sys.stdout.write(f"would leave {name} waiting for its window ({until.isoformat()})\n")
    raise typer.Exit(ticker.report_problems(report))


@app.command("_run", hidden=True, cls=HelpCommand)
def run_(execution_id: Annotated[str, typer.Argument()]) -> None:
    """Internal: the detached runner of one execution."""
    from tapesched import runner

    raise typer.Exit(runner.run_execution(state_paths(), execution_id))


@app.command(cls=HelpCommand)
def run(
    task_ref: TaskRef,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait",
            help="Wait for the outcome: exit 0 on success, 1 otherwise (with the last "
            f"{TAIL_LINES} lines of the job's output on stderr).",
        ),
    ] = False,
    level: Annotated[
        str | None,
        typer.Option(
            "--level",
            metavar="LEVEL",
            help="Backup: run this level (full, differential or incremental) instead of the "
            "task's own.",
            autocompletion=complete_level,
        ),
    ] = None,
    json_out: JsonOut = False,
) -> None:
    """Run a task now, detached; print the execution id. Manual runs ignore the task's
    start window."""
    from tapesched import control
    from tapesched.clock import utcnow
    from tapesched.render import clean

    if level is not None and level not in BACKUP_LEVELS:
        raise InvalidInput(
            f"--level: {level!r} is unknown; expected one of {', '.join(BACKUP_LEVELS)}"
        )
    with open_db() as db:
        # The claim's instant to the microsecond, as a tick's: runs are listed by it.
        execution = control.run_now(db, state_paths(), task_ref, utcnow(), level)
        execution_id = execution.execution_id
        if not wait:
            if json_out:
                print_json({"execution_id": execution_id, "log_path": execution.log_path})
            else:
                sys.stdout.write(f"{execution_id}\n")
            return
        if not json_out:
            sys.stdout.write(f"{execution_id}\n")
            sys.stdout.flush()
        live = None if json_out or not sys.stderr.isatty() else _live_line()
        try:
            final = control.wait_for(db, execution_id, progress=live)
        except KeyboardInterrupt:
            if live is not None:
                sys.stderr.write("\r\033[K")
            sys.stderr.write(
                f"tapesched: interrupted; the job goes on (execution {execution_id}); "
                f"follow it with 'tapesched output {execution_id} --follow'\n"
            )
            raise typer.Exit(130) from None
    if live is not None:
        sys.stderr.write("\r\033[K")
    if json_out:
        from tapesched.render import execution_json

        print_json(execution_json(final))
    if final.status != "success":
        if not json_out:
            detail = f": {clean(final.error_message)}" if final.error_message else ""
            sys.stderr.write(f"tapesched: {final.status}{detail}\n")
            _print_tail(final)
        raise typer.Exit(1)


def _print_tail(execution: Any) -> None:
    """The last TAIL_LINES lines of a job's output, on stderr, after its one-line error."""
    lines = tail(execution.log_path) if execution.log_path else []
    if not lines:
        return
    sys.stderr.write(
        f"tapesched: the last {len(lines)} lines of its output "
        f"(all of it: tapesched output {execution.execution_id}):\n"
    )
    sys.stderr.write("".join(f"    {line}\n" for line in lines))
    sys.stderr.flush()


def tail(path: str, count: int = TAIL_LINES, limit: int = TAIL_BYTES) -> list[str]:
    """The last `count` lines of a file (read from its last `limit` bytes), each made one
    printable line; [] if it cannot be read."""
    from tapesched.render import clean

    try:
        with open(path, "rb") as log:
            size = log.seek(0, 2)
            log.seek(max(0, size - limit))
            data = log.read(limit)
    except OSError:
        return []
    lines = data.decode("utf-8", "replace").split("\n")
    if size > limit:
        lines = lines[1:]  # the first one is cut
    if lines and lines[-1] == "":
        lines.pop()
    return [clean(line.rstrip("\r")) for line in lines[-count:]]


def _live_line():  # noqa: ANN202
    """On a terminal: one line showing the elapsed time (and bytes for a virtual tape)."""
    import time
    from datetime import timedelta

    from tapesched import control
    from tapesched.render import human_delta

    started = time.monotonic()

    def show(current: Any) -> None:
        elapsed = human_delta(timedelta(seconds=time.monotonic() - started))
        written = control.bytes_written(current.device)
        extra = f", {written / 1048576:.1f} MiB written" if written else ""
        state = "running" if current.pid else "starting"
        sys.stderr.write(f"\r\033[K{state}: {elapsed}{extra}")
        sys.stderr.flush()

    return show


@app.command(cls=HelpCommand)
def stop(task_ref: TaskRef, grace: Grace = 10.0, json_out: JsonOut = False) -> None:
    """Stop the run in progress: SIGTERM to its process group, SIGKILL after the grace period."""
    from tapesched import control
    from tapesched.clock import utcnow

    check_grace(grace)
    with open_db() as db:
        stopped = control.stop_task(db, task_ref, grace, utcnow)
    if json_out:
        print_json({"execution_id": stopped.execution_id, "status": "cancelled"})


MAX_OFFSET = 10**12


@app.command(cls=HelpCommand)
def logs(
    task_ref: Annotated[
        str | None,
        typer.Argument(
            metavar="TASK",
            help="Task name or id (default: every task).",
            autocompletion=complete_task,
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", metavar="N", help="Most entries (1-1000).")
    ] = 100,
    offset: Annotated[int, typer.Option("--offset", metavar="N", help="Entries to skip.")] = 0,
    status_: Status = None,
    since: Since = None,
    until: Until = None,
    full: Full = False,
    json_out: JsonOut = False,
) -> None:
    """The execution log, newest first: of one task, or of every task with its name. One
    line per run at any width; --full shows values whole."""
    from tapesched.clock import host_zone_name
    from tapesched.hosts import this_host
    from tapesched.lifecycle import EXECUTION_STATUSES
    from tapesched.render import Column, duration, execution_json, stamp, table
    from tapesched.store import executions
    from tapesched.store import tasks as task_rows

    if not 1 <= limit <= 1000:
        raise InvalidInput(f"--limit: {limit} is out of range; expected 1-1000")
    if not 0 <= offset <= MAX_OFFSET:
        raise InvalidInput(f"--offset: {offset} is out of range; expected 0-{MAX_OFFSET}")
    if status_ is not None and status_ not in EXECUTION_STATUSES:
        raise InvalidInput(
            f"--status: '{status_}' is unknown; expected one of {', '.join(EXECUTION_STATUSES)}"
        )
    zone = host_zone_name()
    start, end = instant(since, zone, "--since"), instant(until, zone, "--until")
    if start is not None and end is not None and start > end:
        raise InvalidInput("--since: it is after --until; expected an earlier instant")
    with open_db(create=False) as db, db.read():
        task = task_rows.find(db, task_ref) if task_ref is not None else None
        entries, total = executions.history(
            db, task.id if task else None, limit, offset, status_, start, end
        )
    if json_out:
        print_json(
            {
                "logs": [
                    execution_json(entry.execution, entry.timezone, task_name=entry.task_name)
                    for entry in entries
                ],
                "total": total,
                "limit": limit,
                "offset": offset,
            }
        )
        return
    if not entries:
        whose = f" of {task.task_name}" if task else ""
        filtered = status_ or since is not None or until is not None or offset
        sys.stdout.write(f"no executions{whose} {'match' if filtered else 'yet'}\n")
        return
    columns = [
        Column("STARTED", keep=6),
        Column("TASK", keep=4, cut=True, floor=12),
        Column("STATUS", keep=7),
        Column("TRIGGER", keep=1),
        Column("DURATION", keep=2),
        Column("EXECUTION", id=True),
        Column("ERROR", keep=3, cut=True),
    ]
    rows = [
        [
            stamp(entry.execution.started_at or entry.execution.created_at, entry.timezone),
            entry.task_name,
            entry.execution.status,
            entry.execution.trigger,
            duration(entry.execution.duration),
            entry.execution.execution_id,
            entry.execution.error_message or "",
        ]
        for entry in entries
    ]
    if any(entry.execution.attempt > 1 for entry in entries):
        # Retries in view: which attempt of its series each run was.
        columns.insert(4, Column("ATTEMPT", keep=1))
        for row, entry in zip(rows, entries, strict=True):
            row.insert(4, str(entry.execution.attempt))
    if any(entry.execution.host not in (None, this_host()) for entry in entries):
        # Several hosts share the catalog: which one ran each.
        columns.insert(4, Column("HOST", keep=1, cut=True))
        for row, entry in zip(rows, entries, strict=True):
            row.insert(4, entry.execution.host or "-")
    if task is not None:  # one task: its name would be on every line
        del columns[1]
        for row in rows:
            del row[1]
    shown = offset + len(entries)
    more = f"{shown} of {total}; the next ones: --offset {shown}" if shown < total else None
    table(None, columns, rows, full=full, footer=more)


@app.command(cls=HelpCommand)
def output(
    ref: Annotated[
        str,
        typer.Argument(
            metavar="TASK|EXECUTION_ID",
            help="A task (its latest run), or an execution id or a unique prefix of 8+ "
            "characters of one. An exact execution id is read first, then a task name or "
            "id, then a prefix.",
            autocompletion=complete_task,
        ),
    ],
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Follow a running job's output to its end.")
    ] = False,
) -> None:
    """Print what the job printed: of one run, or of a task's latest run."""
    import time

    from tapesched.store import executions

    with open_db(create=False) as db:
        with db.read():
            execution = _output_of(db, ref)
        path = execution.log_path
        if not path:
            raise OperationFailed(f"execution {execution.execution_id} has no output log")
        from tapesched.hosts import this_host

        if execution.host not in (None, this_host()):
            raise OperationFailed(
                f"execution {execution.execution_id} ran on host {execution.host}: its output "
                f"is there, in {path} (run 'tapesched output' on {execution.host})"
            )
        position = 0
        while True:
            try:
                with open(path, "rb") as log:
                    log.seek(position)
                    chunk = log.read()
            except FileNotFoundError:
                chunk = b""
                if not follow:
                    raise OperationFailed(
                        f"output log {path} is gone (removed by cleanup?)"
                    ) from None
            if chunk:
                sys.stdout.buffer.write(chunk)
                sys.stdout.flush()
                position += len(chunk)
            if not follow:
                return
            with db.read():
                state = executions.find(db, execution.execution_id).status
            if state != "running":
                follow = False  # one more read picks up the last lines
                continue
            time.sleep(0.3)


def _output_of(db: Any, ref: str) -> Any:
    """What `output REF` shows: the execution whose id is REF; else the latest run of the
    task named (or numbered) REF; else the execution whose id starts with REF (8+
    characters). A task that shadows a prefix is said so on stderr."""
    from tapesched.store import executions
    from tapesched.store import tasks as task_rows

    exact = executions.get(db, ref)
    if exact is not None:
        return exact
    task = task_rows.lookup(db, ref)
    if task is None:
        try:
            return executions.find(db, ref)
        except NotFound:
            raise NotFound(f"no such task or execution: {ref}") from None
    latest = executions.latest_run(db, task.id)
    if latest is None:
        raise NotFound(f"task {task.task_name} has no runs yet")
    if any(match.execution_id != latest.execution_id for match in executions.by_prefix(db, ref)):
        warn(
            f"{ref} is a task and the start of an execution id; showing the task's latest run "
            "(give the whole execution id for that run)"
        )
    return latest
