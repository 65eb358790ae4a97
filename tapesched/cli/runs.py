"""Commands on runs: tick, run, stop, logs, output (and the hidden runner, _run)."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from tapesched.cli.common import app, now, open_db, print_json, state_paths
from tapesched.cli.options import JsonOut, TaskRef
from tapesched.errors import InvalidInput, OperationFailed


@app.command()
def tick(
    now_: Annotated[
        str | None,
        typer.Option(
            "--now",
            metavar="TIME",
            help="Evaluate as if at this instant (ISO 8601; local if no offset).",
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
    from tapesched.clock import host_zone_name, parse_instant

    if max_concurrent is not None and max_concurrent < 1:
        raise InvalidInput(f"--max-concurrent: {max_concurrent} is not valid; expected 1 or more")
    at = parse_instant(now_, host_zone_name(), "--now") if now_ else now()
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
    raise typer.Exit(ticker.report_problems(report))


@app.command("_run", hidden=True)
def run_(execution_id: Annotated[str, typer.Argument()]) -> None:
    """Internal: the detached runner of one execution."""
    from tapesched import runner

    raise typer.Exit(runner.run_execution(state_paths(), execution_id))


@app.command()
def run(
    task_ref: TaskRef,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait for the outcome: exit 0 on success, 1 otherwise.")
    ] = False,
    json_out: JsonOut = False,
) -> None:
    """Run a task now, detached; print the execution id."""
    from tapesched import control

    with open_db() as db:
        execution = control.run_now(db, state_paths(), task_ref, now())
        if not wait:
            if json_out:
                print_json({"execution_id": execution.execution_id, "log_path": execution.log_path})
            else:
                sys.stdout.write(f"{execution.execution_id}\n")
            return
        if not json_out:
            sys.stdout.write(f"{execution.execution_id}\n")
            sys.stdout.flush()
        live = None if json_out or not sys.stderr.isatty() else _live_line()
        final = control.wait_for(db, execution.execution_id, progress=live)
    if live is not None:
        sys.stderr.write("\r\033[K")
    if json_out:
        from tapesched.render import execution_json

        print_json(execution_json(final))
    if final.status != "success":
        if not json_out:
            detail = f": {final.error_message}" if final.error_message else ""
            sys.stderr.write(f"tapesched: {final.status}{detail}\n")
        raise typer.Exit(1)


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


@app.command()
def stop(
    task_ref: TaskRef,
    grace: Annotated[
        float,
        typer.Option("--grace", metavar="SECONDS", help="Seconds between SIGTERM and SIGKILL."),
    ] = 10.0,
    json_out: JsonOut = False,
) -> None:
    """Stop the run in progress: SIGTERM to its process group, SIGKILL after the grace period."""
    from tapesched import control
    from tapesched.clock import utcnow

    if grace < 0:
        raise InvalidInput(f"--grace: {grace} is negative; expected seconds, 0 or more")
    with open_db() as db:
        stopped = control.stop_task(db, task_ref, grace, utcnow)
    if json_out:
        print_json({"execution_id": stopped.execution_id, "status": "cancelled"})


@app.command()
def logs(
    task_ref: TaskRef,
    limit: Annotated[
        int, typer.Option("--limit", metavar="N", help="Most entries (1-1000).")
    ] = 100,
    offset: Annotated[int, typer.Option("--offset", metavar="N", help="Entries to skip.")] = 0,
    status_: Annotated[
        str | None,
        typer.Option("--status", metavar="STATUS", help="Only this status (success, failed, ...)."),
    ] = None,
    json_out: JsonOut = False,
) -> None:
    """The execution log of a task, newest first."""
    from tapesched.lifecycle import EXECUTION_STATUSES
    from tapesched.render import duration, execution_json, short, table
    from tapesched.store import executions
    from tapesched.store import tasks as task_rows

    if not 1 <= limit <= 1000:
        raise InvalidInput(f"--limit: {limit} is out of range; expected 1-1000")
    if offset < 0:
        raise InvalidInput(f"--offset: {offset} is negative; expected 0 or more")
    if status_ is not None and status_ not in EXECUTION_STATUSES:
        raise InvalidInput(
            f"--status: '{status_}' is unknown; expected one of {', '.join(EXECUTION_STATUSES)}"
        )
    with open_db() as db, db.read():
        task = task_rows.find(db, task_ref)
        entries, total = executions.task_logs(db, task.id, limit, offset, status_)
    if json_out:
        print_json(
            {
                "logs": [execution_json(entry, task.timezone) for entry in entries],
                "total": total,
                "limit": limit,
                "offset": offset,
            }
        )
        return
    if not entries:
        sys.stdout.write(f"no executions of {task.task_name} yet\n")
        return
    table(
        None,
        ["STARTED", "STATUS", "TRIGGER", "DURATION", "EXECUTION", "ERROR"],
        [
            [
                short(entry.started_at or entry.created_at, task.timezone),
                entry.status,
                entry.trigger,
                duration(entry.duration),
                entry.execution_id,
                entry.error_message or "",
            ]
            for entry in entries
        ],
    )


@app.command()
def output(
    execution_id: Annotated[str, typer.Argument(help="Execution id (or a unique prefix of 8+).")],
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Follow a running job's output to its end.")
    ] = False,
) -> None:
    """Print what the job printed."""
    import time

    from tapesched.store import executions

    with open_db() as db:
        with db.read():
            execution = executions.find(db, execution_id)
        path = execution.log_path
        if not path:
            raise OperationFailed(f"execution {execution.execution_id} has no output log")
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
