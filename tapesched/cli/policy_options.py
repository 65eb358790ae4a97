"""The options of a task's run policy, shared by `add` and `edit`: timeout, misfire,
device wait, ping and notification, retries, hooks, start window and host (Typer needs
one parameter per option in each command's signature; each is declared once, here)."""

from __future__ import annotations

from typing import Annotated

import typer

from tapesched.cli.options import complete_misfire, complete_notify_on

Timeout = Annotated[
    int | None,
    typer.Option(
        "--timeout",
        metavar="SECONDS",
        help="A run still going after this is stopped as failed (edit: 0 removes it).",
    ),
]
Misfire = Annotated[
    str | None,
    typer.Option(
        "--misfire",
        metavar="POLICY",
        help="After missed runs: run_once (catch up once) or skip.",
        autocompletion=complete_misfire,
    ),
]
MisfireGrace = Annotated[
    int | None,
    typer.Option(
        "--misfire-grace",
        metavar="SECONDS",
        help="With run_once, a run later than this is skipped (edit: -1 removes it).",
    ),
]
DeviceWait = Annotated[
    int | None,
    typer.Option(
        "--device-wait",
        metavar="SECONDS",
        help="How long a run waits for its drive.",
    ),
]
PingUrl = Annotated[
    str | None,
    typer.Option(
        "--ping-url",
        metavar="URL",
        help="Healthchecks-style URL: URL/start at start, URL on success, URL/fail on failure "
        "(edit: '' removes it).",
    ),
]
NotifyCommand = Annotated[
    str | None,
    typer.Option(
        "--notify-command",
        metavar="COMMAND",
        help="Command run after a failed run, with TAPESCHED_TASK, TAPESCHED_EXECUTION_ID, "
        "TAPESCHED_STATUS, TAPESCHED_ERROR, TAPESCHED_OUTPUT set (edit: '' removes it).",
    ),
]
NotifyOn = Annotated[
    str | None,
    typer.Option(
        "--notify-on",
        metavar="WHEN",
        help="When to run it: failure (the default) or always.",
        autocompletion=complete_notify_on,
    ),
]
Retries = Annotated[
    int | None,
    typer.Option(
        "--retries",
        metavar="N",
        help="Try a failed or lost run again up to N times (default 0).",
    ),
]
RetryDelay = Annotated[
    int | None,
    typer.Option(
        "--retry-delay",
        metavar="SECONDS",
        help="Wait before the first retry (default 300); doubles after each, at most 6 hours.",
    ),
]
Before = Annotated[
    str | None,
    typer.Option(
        "--before",
        metavar="COMMAND",
        help="Run before the job; if it fails, so does the run and the job does not start "
        "(edit: '' removes it).",
    ),
]
After = Annotated[
    str | None,
    typer.Option(
        "--after",
        metavar="COMMAND",
        help="Run after the job, whatever its outcome (edit: '' removes it).",
    ),
]
Window = Annotated[
    str | None,
    typer.Option(
        "--window",
        metavar="HH:MM-HH:MM",
        help="Runs start only between these local times (may cross midnight; edit: '' removes it).",
    ),
]
TaskHost = Annotated[
    str | None,
    typer.Option(
        "--host",
        metavar="NAME|any",
        help="The host whose tick runs it (default for add: this host, TAPESCHED_HOST or "
        "the host name), or any (work that needs no local drive or path).",
    ),
]
