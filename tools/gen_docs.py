#!/usr/bin/env python3
"""Generate the man page and the shell completions of tapesched.

    python tools/gen_docs.py           # rewrite man/tapesched.1 and completions/*
    python tools/gen_docs.py --check   # exit 1, naming each stale file, if any differs

The COMMANDS and OPTIONS sections of the man page are generated from the command
line parser (every command that is not hidden, its synopsis, its help and every
option with its help; the commands of a group such as `pool` as `pool add`, ...),
so a new command or option shows up on regeneration. So are,
from the code that has them, the action config keys (tapesched.actions.SCHEMAS and
each action module's summary), the task file fields (tapesched.spec.FIELDS, their
defaults from TaskSpec, the required ones from tapesched.taskfile.REQUIRED), the
metrics (tapesched.metrics.FAMILIES), the cron macros and the files of the state
folder. Text the code does not have (what a field or a variable means) is written
below, keyed by name: generation fails when the code has a field or a TAPESCHED_
environment variable that the page does not describe, or the page one the code no
longer has. The other sections are written by hand below. The completion scripts are what
`tapesched completion SHELL` prints (the zsh one made to work when autoloaded from
fpath, see `zsh_autoload_fix`).

The output depends on nothing but the code: no clock, no environment.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

MAN_PAGE = Path("man/tapesched.1")
COMPLETIONS = {
    "bash": Path("completions/tapesched.bash"),
    "zsh": Path("completions/_tapesched"),
    "fish": Path("completions/tapesched.fish"),
}

# The date in the page footer. A constant, so that the output never depends on
# the clock: move it when the page changes in a release.
MANUAL_DATE = "2026-11-28"

# Metavariables of options that declare none; anything else falls back to the
# parameter's name in capitals (a new option `--ping-url` shows `PING_URL`).
METAVARS = {
    "--action": "TYPE",
    "--action-config": "JSON",
    "--at": "TIME",
    "--command": "COMMAND",
    "--count": "N",
    "--cron": "EXPR",
    "--daily": "TIME",
    "--description": "TEXT",
    "--device": "DEVICE",
    "--device-wait": "SECONDS",
    "--every": "INTERVAL",
    "--exclude": "PATTERN",
    "--from": "TIME",
    "--from-task": "TASK",
    "--grace": "SECONDS",
    "--level": "LEVEL",
    "--limit": "N",
    "--max-concurrent": "N",
    "--misfire": "POLICY",
    "--misfire-grace": "SECONDS",
    "--monthly": "DAY",
    "--name": "NAME",
    "--notify-command": "COMMAND",
    "--notify-on": "WHEN",
    "--now": "TIME",
    "--offset": "N",
    "--once": "DATETIME",
    "--ping-url": "URL",
    "--retention-days": "DAYS",
    "--schedule-config": "JSON",
    "--schedule-type": "TYPE",
    "--source": "PATH",
    "--status": "STATUS",
    "--target": "PATH",
    "--textfile": "PATH",
    "--timeout": "SECONDS",
    "--timezone": "ZONE",
    "--weekly": "DAYS",
    "--yearly": "MM-DD",
}

# Help for options that have none anywhere in the parser. An option without help
# in one command takes the help of the same option in another (edit's --action
# reads like add's).
FALLBACK_HELP = {
    "--description": "Free text describing the task.",
}

# A synopsis spells out each option when a command has at most this many.
SYNOPSIS_MAX_OPTIONS = 5


# --- roff ---------------------------------------------------------------------

_CHARS = {
    "\\": r"\e",
    "-": r"\-",
    "'": r"\(aq",
    "`": r"\(ga",
    '"': r"\(dq",
    "\u2013": r"\(en",
    "\u2014": r"\(em",
    "\u2026": r".\|.\|.",
    "\u2192": r"\(->",
    "\u2190": r"\(<-",
    "\u2264": r"\(<=",
    "\u2265": r"\(>=",
    "\u00d7": r"\(mu",
    "\u00a0": r"\~",
}


def escape(text: str) -> str:
    """Plain text as roff input: backslashes, dashes (ASCII `\\-`, so options copy and
    paste), quotes, non-ASCII characters, and a leading dot or apostrophe."""
    return _protect_lines(_chars(text))


def _chars(text: str) -> str:
    out = []
    for char in text:
        if char in _CHARS:
            out.append(_CHARS[char])
        elif ord(char) > 126:
            out.append(rf"\[u{ord(char):04X}]")
        else:
            out.append(char)
    return "".join(out)


def _protect_lines(text: str) -> str:
    return "\n".join(r"\&" + line if line[:1] in (".", "'") else line for line in text.split("\n"))


_MARKUP = re.compile(r"\*\*(.+?)\*\*|__(.+?)__")
# Only ASCII white space separates words: a no-break space (U+00A0, roff \~) keeps a
# cron expression or a formula on one line.
_WHITESPACE = re.compile(r"[ \t\n]+")
NBSP = "\u00a0"


def inline(text: str) -> str:
    """Escape text with light markup, **bold** and __italic__, as one line."""
    text = " ".join(_WHITESPACE.split(text.strip()))
    parts = []
    position = 0
    for match in _MARKUP.finditer(text):
        parts.append(_chars(text[position : match.start()]))
        if match.group(1) is not None:
            parts.append(rf"\fB{_chars(match.group(1))}\fR")
        else:
            parts.append(rf"\fI{_chars(match.group(2))}\fR")
        position = match.end()
    parts.append(_chars(text[position:]))
    return _protect_lines("".join(parts))


_SENTENCE_END = re.compile(r"(?:(?<=[a-z0-9)][.!?])|(?<=\\fR[.!?])) +(?=[A-Z])")


def fill(roff: str, width: int = 78) -> str:
    """Roff text (escaped already) as source lines: one sentence per line, wrapped at
    spaces, so diffs stay small; the rendering is the same."""
    lines = []
    for sentence in _SENTENCE_END.split(" ".join(roff.split())):
        lines.extend(textwrap.wrap(sentence, width, break_long_words=False, break_on_hyphens=False))
    return _protect_lines("\n".join(lines))


def bold(text: str) -> str:
    return rf"\fB{_chars(text)}\fR"


def italic(text: str) -> str:
    return rf"\fI{_chars(text)}\fR"


def quoted(text: str) -> str:
    """A macro argument in double quotes."""
    return '"' + _chars(text) + '"'


class Page:
    """Collects roff lines."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def raw(self, *lines: str) -> None:
        self.lines.extend(lines)

    def sh(self, title: str) -> None:
        self.raw(f".SH {quoted(title)}" if " " in title else f".SH {_chars(title)}")

    def ss(self, title: str) -> None:
        self.raw(f".SS {quoted(title)}" if " " in title else f".SS {_chars(title)}")

    def para(self, text: str, first: bool = False, markup: bool = True) -> None:
        """A paragraph: text with **bold**/__italic__ markup, or plain text (the parser's
        help) with `markup=False`; `first` right after a heading."""
        if not first:
            self.raw(".PP")
        self.raw(fill(inline(text) if markup else _chars(text)))

    def item(self, tag: str, body: str = "") -> None:
        """A tagged paragraph; `tag` and `body` are roff already (see bold, italic, inline)."""
        self.raw(".TP", tag)
        if body:
            self.raw(fill(body))

    def example(self, text: str, indent: bool = True) -> None:
        """A paragraph of lines shown as they are, indented unless told.

        .nf/.fi rather than .EX/.EE: groff's .EE turns hyphenation back on.
        """
        body = text.strip("\n").split("\n")
        self.raw(".PP", *([".RS 4"] if indent else []), ".nf")
        self.raw(*(escape(line) if line else "" for line in body), ".fi")
        if indent:
            self.raw(".RE")

    def text(self) -> str:
        return "\n".join(line for line in self.lines) + "\n"


# --- the parser ---------------------------------------------------------------


def cli_group() -> Any:
    """The click-style group behind the Typer app."""
    import typer

    from tapesched.cli import app

    return typer.main.get_command(app)


def visible_commands(group: Any) -> list[tuple[str, Any]]:
    """(name, command) of every command that is not hidden, in the parser's order."""
    return [(name, command) for name, command in group.commands.items() if not command.hidden]


def is_group(command: Any) -> bool:
    """Whether a command is a group of commands (`pool`: `pool add`, `pool list`, ...)."""
    return isinstance(getattr(command, "commands", None), dict)


def all_commands(group: Any) -> list[tuple[str, Any]]:
    """(name, command) of every command that is not hidden, in the parser's order, a
    group's commands in its place, named by their path ("pool add")."""
    found = []
    for name, command in visible_commands(group):
        if is_group(command):
            found.extend((f"{name} {sub}", item) for sub, item in all_commands(command))
        else:
            found.append((name, command))
    return found


def options_of(command: Any) -> list[Any]:
    return [
        param
        for param in command.params
        if param.param_type_name == "option" and not getattr(param, "hidden", False)
    ]


def arguments_of(command: Any) -> list[Any]:
    return [param for param in command.params if param.param_type_name == "argument"]


def option_names(param: Any) -> list[str]:
    """Every spelling of an option: short ones first, then the long ones, then `--no-x`."""
    shorts = [opt for opt in param.opts if not opt.startswith("--")]
    longs = [opt for opt in param.opts if opt.startswith("--")]
    return shorts + longs + list(param.secondary_opts)


def long_name(param: Any) -> str:
    longs = [opt for opt in param.opts if opt.startswith("--")]
    return (longs or param.opts)[0]


def option_metavar(param: Any) -> str | None:
    if param.is_flag:
        return None
    if param.metavar:
        return param.metavar
    return METAVARS.get(long_name(param), (param.name or "value").strip("_").upper())


def argument_metavar(param: Any) -> tuple[str, bool]:
    """(name, optional) of a positional argument."""
    name = param.metavar or (param.name or "arg").upper()
    optional = not param.required
    if name.startswith("[") and name.endswith("]"):
        name, optional = name[1:-1], True
    return name, optional


def help_texts(group: Any) -> dict[str, str]:
    """The first help found for each long option name, over all commands."""
    found: dict[str, str] = {}
    for _, command in all_commands(group):
        for param in options_of(command):
            if param.help:
                found.setdefault(long_name(param), param.help)
    return found


def help_blocks(text: str) -> list[tuple[str, str]]:
    """Click's help text as ("para", text) and ("verbatim", text) blocks; a block that
    starts with a \\b line is kept as written."""
    blocks = []
    for chunk in re.split(r"\n\s*\n", text.strip()):
        lines = chunk.split("\n")
        if lines[0].strip() == "\b":
            blocks.append(("verbatim", "\n".join(lines[1:])))
        else:
            blocks.append(("para", " ".join(line.strip() for line in lines)))
    return blocks


def format_default(value: Any) -> str | None:
    if value is None or value is False or value == "" or value == () or value == []:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value)
    return str(value)


def option_tag(param: Any) -> str:
    names = ", ".join(bold(name) for name in option_names(param))
    metavar = option_metavar(param)
    return names + (" " + italic(metavar) if metavar else "")


def option_body(param: Any, shared_help: dict[str, str]) -> str:
    """The option's help (roff), with its default, repeatability and variable."""
    text = param.help or shared_help.get(long_name(param)) or FALLBACK_HELP.get(long_name(param))
    sentences = [_chars(text.strip())] if text else []
    default = None if param.is_flag or param.required else format_default(param.default)
    if default is not None:
        sentences.append(f"Default: {bold(default)}.")
    if param.multiple and "repeat" not in (text or "").lower():
        sentences.append("May be given more than once.")
    envvar = getattr(param, "envvar", None)
    if envvar:
        names = [envvar] if isinstance(envvar, str) else list(envvar)
        sentences.append("Environment: " + ", ".join(bold(name) for name in names) + ".")
    return " ".join(sentences)


def synopsis(name: str, command: Any) -> str:
    pieces = [bold(f"tapesched {name}")]
    options = options_of(command)
    if len(options) > SYNOPSIS_MAX_OPTIONS:
        pieces.append(r"[\fIoptions\fR]")
    else:
        for param in options:
            metavar = option_metavar(param)
            spelled = bold(long_name(param)) + (r"\~" + italic(metavar) if metavar else "")
            if param.secondary_opts:
                spelled += "|" + "|".join(bold(opt) for opt in param.secondary_opts)
            pieces.append(spelled if param.required else f"[{spelled}]")
    for param in arguments_of(command):
        metavar, optional = argument_metavar(param)
        pieces.append(f"[{italic(metavar)}]" if optional else italic(metavar))
    return " ".join(pieces)


# --- the man page ---------------------------------------------------------------


def render_man(group: Any | None = None) -> str:
    from tapesched import __version__

    group = group if group is not None else cli_group()
    page = Page()
    page.raw(
        r".\" Generated by tools/gen_docs.py from the tapesched command line: do not edit.",
        r".\" Regenerate with: python tools/gen_docs.py",
        f'.TH TAPESCHED 1 {MANUAL_DATE} "tapesched {escape(__version__)}" "User Commands"',
        ".ad l",
        ".nh",
    )
    _name_synopsis_description(page, group)
    _options(page, group)
    _commands(page, group)
    for section in (
        _schedules,
        _dst_rule,
        _how_runs_happen,
        _actions,
        _task_files,
        _metrics,
        _exit_status,
        _files,
        _environment,
        _examples,
        _see_also,
    ):
        section(page)
    return page.text()


def _name_synopsis_description(page: Page, group: Any) -> None:
    groups = [name for name, command in visible_commands(group) if is_group(command)]
    page.sh("NAME")
    page.raw(r"tapesched \- schedule tape backup jobs, driven by cron")
    page.sh("SYNOPSIS")
    page.raw(
        rf"{bold('tapesched')} [{bold('--db')}\~{italic('PATH')}] {italic('command')} "
        rf"[{italic('options')}] [{italic('arguments')}]",
        ".br",
    )
    if groups:
        page.raw(
            rf"{bold('tapesched')} [{bold('--db')}\~{italic('PATH')}] "
            + "|".join(bold(name) for name in groups)
            + rf" {italic('command')} [{italic('options')}] [{italic('arguments')}]",
            ".br",
        )
    page.raw(
        rf"{bold('tapesched')} {italic('command')} {bold('--help')}",
        ".br",
        rf"{bold('tapesched --version')}",
    )
    page.sh("DESCRIPTION")
    page.para(
        """**tapesched** schedules tape jobs on one host. You manage tasks with its
        commands; system cron (or a systemd timer) calls **tapesched tick** once a minute.
        Each due task runs as a detached process: a backup with GNU **tar** (full or
        incremental) onto a tape drive or a directory used as a virtual tape, a recovery,
        a cleanup of old history, a health or retention check, or a command of your own.
        The outcome goes into the task's execution log and statistics. Nothing stays
        resident between ticks.""",
        first=True,
    )
    page.para(
        """Tasks are named by name or by numeric id. Every command that prints data takes
        **--json** after the command name (**tapesched list --json**): machine output on
        standard output and nothing else there, with the task's field names
        (task_name, schedule_type, next_run_time, ...), enum values in lower case and
        instants in ISO 8601 with their UTC offset. Errors are one line on standard
        error, __tapesched: what is wrong; what is accepted__, never a traceback, and
        leave the database unchanged."""
    )
    page.para(
        """Tape media: volumes (labelled cartridges) in pools, found in tape libraries
        (a changer driven by **mtx**, or a virtual library in a folder) or in a drive, are
        managed with the command groups **pool**, **library** and **media**, whose commands
        are two words (**tapesched pool add**); **restore-points** lists what a recovery
        can reach and the volumes it needs."""
    )


def _options(page: Page, group: Any) -> None:
    page.sh("OPTIONS")
    page.para("These go before the command name.", first=True)
    for param in options_of(group):
        page.item(option_tag(param), option_body(param, {}))
    page.item(
        f"{bold('-h')}, {bold('--help')}",
        inline("Print the help of **tapesched**, or of one command after its name."),
    )


def _commands(page: Page, group: Any) -> None:
    page.sh("COMMANDS")
    page.para(
        """Each command takes **-h** or **--help**. Options and arguments may come in any
        order after the command name.""",
        first=True,
    )
    shared_help = help_texts(group)
    for name, command in all_commands(group):
        page.ss(name)
        page.raw(fill(synopsis(name, command)))
        for kind, text in help_blocks(command.help or command.short_help or ""):
            if kind == "para":
                page.para(text, markup=False)
            else:  # help laid out by hand (\b): as it is, at the text's indent
                page.example(text, indent=False)
        for param in arguments_of(command):
            metavar, _ = argument_metavar(param)
            page.item(italic(metavar), _chars(param.help or ""))
        for param in options_of(command):
            page.item(option_tag(param), option_body(param, shared_help))


def _schedules(page: Page) -> None:
    page.sh("SCHEDULES")
    page.para(
        """A task has one schedule, given to **add**, **edit** and **preview** either as
        JSON, **--schedule-type** __TYPE__ **--schedule-config** __JSON__ (the "seed
        form" of the options' help), or with a shorthand for people. The seven forms:""",
        first=True,
    )
    forms = [
        (
            "once",
            '{"datetime": "2026-12-25 14:30:00"}',
            "--once '2026-12-25 14:30'",
            """That instant, once. A time in the past is refused unless **--force**
            (the task then runs at the next tick).""",
        ),
        (
            "interval",
            '{"interval": 30, "unit": "minutes"}',
            "--every 30m, --every 2h, --every 1d",
            """Units **minutes**, **hours** or **days**; an optional **"start": "2026-12-01
            00:00"** anchors it. Counts elapsed time from the previous scheduled time (or
            the start, or the task's creation), not wall-clock time.""",
        ),
        ("daily", '{"time": "02:00:00"}', "--daily 02:00", "Every day at that time."),
        (
            "weekly",
            '{"day_of_week": 0, "time": "02:00:00"}',
            "--weekly mon,thu --at 02:00",
            """In the JSON, days 0 = Monday to 6 = Sunday, one or a list (cron counts 0 =
            Sunday). The shorthand takes names, **mon** to **sun**; it refuses a bare
            number, naming the day each numbering would mean.""",
        ),
        (
            "monthly",
            '{"day_of_month": 31, "time": "02:00:00"}',
            "--monthly 31 --at 02:00",
            """Days 1 to 31; a day past the month's end runs on its last day (31 runs on
            30 April, 28 or 29 February).""",
        ),
        (
            "yearly",
            '{"month": 2, "day": 29, "time": "02:00:00"}',
            "--yearly 02-29 --at 02:00",
            "29 February runs on 28 February in common years.",
        ),
        (
            "cron",
            '{"cron": "0 2,14 * * *"}',
            "--cron '0 2,14 * * *'",
            """A 5-field cron expression (minute, hour, day of month, month, day of
            week)"""
            + _macros()
            + ".",
        ),
    ]
    for kind, config, shorthand, meaning in forms:
        page.item(bold(kind))
        page.raw(rf"{bold('--schedule-config')} {bold(repr_shell(config))}")
        page.raw(".br")
        page.raw(bold(shorthand))
        page.raw(".br")
        page.raw(fill(inline(" ".join(meaning.split()))))
    page.para(
        """Times are __HH:MM__ or __HH:MM:SS__; **--at** defaults to 00:00. Wall-clock
        schedules are evaluated in the task's **--timezone**, an IANA name such as
        Europe/Berlin (default: the host's zone, stored by name). Bad schedules are
        refused at **add** and **edit** with one line naming the field, the value and the
        accepted form, for example:"""
    )
    page.raw(
        ".IP",
        fill(
            escape(
                "tapesched: schedule_config.time: '25:00' is not a time; "
                "expected HH:MM or HH:MM:SS (00:00-23:59)"
            )
        ),
    )
    page.para(
        """**tapesched preview** shows the next runs of a task or of schedule options
        without saving anything."""
    )


def _macros() -> str:
    """The cron macros the code accepts, as a clause (none if it has no macros)."""
    from tapesched import schedule_config

    macros = getattr(schedule_config, "CRON_MACROS", {})
    if not macros:
        return ""
    return ", or a macro: " + ", ".join(
        f"**{name}** ({expression.replace(' ', NBSP)})" for name, expression in macros.items()
    )


def _cron(expression: str) -> str:
    """A cron expression in italics, kept on one line."""
    return f"__{expression.replace(' ', NBSP)}__"


def repr_shell(text: str) -> str:
    """A JSON value as typed in a shell: in single quotes."""
    return f"'{text}'"


def _dst_rule(page: Page) -> None:
    page.sh("DST RULE")
    page.para(
        """tapesched follows cron(8), not systemd (which skips the day). A run whose local
        time does not exist (the clocks spring forward) runs at the first instant after
        the gap: 02:30 becomes 03:00. A local time that happens twice (the clocks fall
        back) runs once, at its first occurrence.""",
        first=True,
    )
    page.para(
        f"""Intervals, and cron expressions whose minute or hour field starts with __*__
        (cron's "wildcard" jobs: {_cron("*/30 2 * * *")}, {_cron("0 */2 * * *")}), follow
        elapsed time instead, as Debian's cron decides: they run in both copies of the
        repeated hour and not in the gap. A cron expression whose minute and hour fields do
        not start with __*__ ({_cron("30 2 * * *")}, {_cron("0 1-23/2 * * *")}) is a
        fixed-time job. No DST change loses or doubles a fixed-time run. **preview** marks
        runs moved past a gap **dst_gap** and runs in a repeated hour **dst_repeat**."""
    )
    page.para(
        """As in cron, the day of month and the day of week are ORed (either matches) only
        when neither field starts with __*__; when one does (__*__, __*/2__), both must
        match."""
    )


def _how_runs_happen(page: Page) -> None:
    page.sh("HOW RUNS HAPPEN")
    page.para(
        """**tick** takes a non-blocking lock on __locks/tick.lock__ (a second tick finding
        it held exits 0 at once), writes a heartbeat, marks runs whose runner vanished as
        **lost**, stops runs past their timeout, then claims due tasks oldest first. Each
        claim is one short write transaction that moves the task's next run time on only
        if it still holds the value read, so a schedule slot runs once even when ticks
        run concurrently. At most **TAPESCHED_MAX_CONCURRENT_RUNS** runners (default 4)
        run at once; the rest stay due for the next tick. **tick** is quiet when all is
        well, and prints one line per problem on standard error otherwise.""",
        first=True,
    )
    page.para(
        """Each run is a detached runner process in a new session, with standard input
        from /dev/null and its output in __logs/<task>/<id>.log__, never in cron's mail.
        The job runs in its own process group; **stop** and timeouts send it SIGTERM,
        then SIGKILL after a grace period. A task still running when its next time comes
        gets a **skipped** execution (never two runs of one task at once). After downtime
        a task whose time passed runs once as a catch-up, however many times it was
        missed, unless **--misfire skip** or **--misfire-grace** says otherwise. One job
        runs per tape drive: a task whose device is busy stays due (shown **queued**) and
        starts at a later tick."""
    )
    page.para(
        """With **--retries** __N__, a scheduled run that ends **failed** or **lost** runs
        again (trigger **retry**) **--retry-delay** seconds after it ended (default 300),
        twice that after the next failed attempt, at most 6 hours, up to __N__ times; a
        retry that would start at or after the task's next scheduled run is dropped, and
        a success ends the series. The notify command and the final ping fire for the
        series' final outcome only; an attempt that will be retried sends the ping's
        __/log__. A pending retry is stored with the task and claimed like a due run.
        Manual runs are never retried."""
    )
    page.para(
        """With **--window** __HH:MM-HH:MM__ (local, may cross midnight), a run that would
        start outside the window (a catch-up, a retry, a run that waited for its drive)
        waits for the window's next opening, or is recorded **skipped** when the task's
        next scheduled run comes first. **run** ignores the window. **--before** and
        **--after** commands run before and after the job, without a shell, inside the
        task's timeout, their output in the run's log; a failing **--before** fails the
        run and the job is not started; **--after** runs after every outcome and never
        changes it."""
    )
    page.para(
        """Several hosts may share one PostgreSQL catalog (**--db**
        __postgresql+psycopg://USER@HOST:PORT/DBNAME__), each with its own state folder
        and crontab line. A task runs on one host (**--host**, default the host that
        added it) or on **any**; a tick claims only those, takes each claimed row with
        FOR UPDATE SKIP LOCKED, and applies the one-job-per-drive rule and the
        concurrency cap per host. A runner renews a lease on its execution every sixth
        of **TAPESCHED_LEASE** (default 90 seconds); a tick on any host marks a run whose
        lease expired, by the database server's clock, **lost**. A runner that cannot
        renew for the lease less two renewals stops its job and records why."""
    )
    page.para(
        """Execution statuses: **running**, **success**, **failed**, **cancelled** (stopped
        by an operator), **skipped** and **lost** (the runner died without recording a
        result; counted as a failure). Task statuses: **active**, **inactive** (disabled),
        **running**, **paused** (its last run was stopped) and **error** (its last run
        failed or was lost); a task in any of these stays scheduled while enabled."""
    )


# Text the code does not have, keyed by the names the code has (checked both ways).
FIELD_MEANINGS = {
    "task_name": "1 to 64 letters, digits, ., _ or -, not all digits; tasks are matched by it.",
    "description": "Free text.",
    "enabled": "false: the task never runs until enabled.",
    "schedule_type": "once, interval, daily, weekly, monthly, yearly or cron (see SCHEDULES).",
    "schedule_config": "The schedule, as a TOML inline table (see SCHEDULES).",
    "timezone": "The IANA zone wall-clock schedules are evaluated in.",
    "action_type": "The action (see ACTIONS).",
    "action_config": "The action's keys (see ACTIONS), as a TOML inline table.",
    "timeout": "Seconds; a run still going then is stopped and recorded failed.",
    "misfire": "run_once (a missed run runs once as a catch-up) or skip.",
    "misfire_grace": "Seconds; with run_once, a run later than this is skipped instead.",
    "device_wait": "Seconds a runner waits for its drive's lock.",
    "ping_url": "Healthchecks-style URL pinged at the start and the end of each run.",
    "notify_command": "Command run after a failed or lost run.",
    "notify_on": "failure, or always (after every run).",
    "host": "The host whose tick runs it (its drives and paths are there), or any.",
    "retries": "How many times a failed or lost run is tried again (0-100).",
    "retry_delay": "Seconds before the first retry; doubles after each, at most 6 hours.",
    "hook_before": "Command run before the job (a string or a list); its failure fails the run.",
    "hook_after": "Command run after the job, whatever its outcome (a string or a list).",
    "start_window": "HH:MM-HH:MM, local: runs start only then (may cross midnight).",
}
# Defaults that are not TaskSpec's.
FIELD_DEFAULTS = {
    "timezone": "the host's zone",
    "host": "the host that applies the file, for a new task; an existing task keeps its host",
}


def _action_summary(action: str) -> str:
    """The first line of an action module's docstring, without its `name: `."""
    import importlib

    doc = importlib.import_module(f"tapesched.actions.{action}").__doc__ or ""
    first = " ".join(doc.strip().split("\n\n")[0].split())
    return first.split(": ", 1)[1] if first.startswith(f"{action}: ") else first


def _actions(page: Page) -> None:
    from tapesched.actions import ACTION_TYPES, SCHEMAS

    page.sh("ACTIONS")
    page.para(
        """A task runs one action: **--action** __TYPE__ **--action-config** __JSON__, or a
        shorthand (**--source**, **--device**, **--command**, **--from-task**, ...). Configs
        are checked at **add**, **edit** and **apply**: required keys, types, ranges, and
        unknown keys (the message lists the accepted ones). Each run writes what it does
        to its output log (**tapesched output**) and returns a JSON result (**logs
        --json**). The keys of each action:""",
        first=True,
    )
    for action in ACTION_TYPES:
        page.ss(action)
        summary = _action_summary(action)
        page.para(summary[:1].upper() + summary[1:], first=True, markup=False)
        for key, (_check, form, required) in SCHEMAS[action].items():
            page.item(bold(key) + (" (required)" if required else ""), _chars(form))


def _task_files(page: Page) -> None:
    import dataclasses

    from tapesched.spec import FIELDS, TaskSpec
    from tapesched.taskfile import REQUIRED

    _same_names("task file field", set(FIELDS), set(FIELD_MEANINGS))
    defaults = {
        field.name: field.default
        for field in dataclasses.fields(TaskSpec)
        if field.default is not dataclasses.MISSING
    }
    page.sh("TASK FILES")
    page.para(
        """**apply** __FILE__ reads TOML: one **[[task]]** table per task, with these fields
        (the names **--json** prints). Tasks are matched by task_name: new ones are
        created, changed ones updated, and applying the same file again changes nothing;
        **--prune** deletes the tasks that are not in the file. The whole file is checked
        before anything changes, and all changes are one transaction. **export** prints
        every task in this form.""",
        first=True,
    )
    for name in FIELDS:
        if name in REQUIRED:
            note = "Required."
        elif name in FIELD_DEFAULTS:
            note = f"Default: {FIELD_DEFAULTS[name]}."
        else:
            note = f"Default: {_toml_default(defaults.get(name))}."
        page.item(bold(name), inline(f"{FIELD_MEANINGS[name]} {note}"))
    page.para(
        """A file may also hold **[[pool]]** tables, the pools its backups name: **name**
        (required; 1 to 32 letters, digits, ., _ or -, not scratch) and **retention_days**
        (required; 1 to 36500). **apply** creates the missing pools and changes the
        retention of the others; it never deletes a pool, not even with **--prune**.
        **export** prints every pool before the tasks."""
    )
    page.example(
        """
[[pool]]
name = "weekly"
retention_days = 35

[[task]]
task_name = "weekly-full"
schedule_type = "weekly"
schedule_config = { day_of_week = 6, time = "01:00:00" }
timezone = "Europe/Berlin"
action_type = "backup"
action_config = { source_paths = ["/srv/data"], device = "/dev/nst0" }
timeout = 14400
"""
    )


def _toml_default(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


def _metrics(page: Page) -> None:
    from tapesched.metrics import FAMILIES

    page.sh("METRICS")
    page.para(
        """**tapesched metrics** prints the Prometheus text format (**--textfile** __PATH__
        writes it atomically for node_exporter's textfile collector). Per-task samples
        carry the labels __task__ and __host__ (the host that runs it, or any), each
        host's last tick the label __host__; **tapesched_task_runs_total** also __result__ (success,
        failure) and **tapesched_task_history_executions** __status__. The run counters
        come from the task's statistics, so cleanup never lowers them. A task that never
        ran, succeeded or failed has 0 as that last timestamp, so an alert on
        __time() - tapesched_task_last_success_timestamp_seconds__ fires for a
        task that never succeeded.""",
        first=True,
    )
    for name, (kind, text) in FAMILIES.items():
        page.item(f"{bold(name)} ({_chars(kind)})", _chars(text))


def _same_names(what: str, in_code: set[str], described: set[str]) -> None:
    """Fail generation when the code and the page's text name different things."""
    missing, gone = sorted(in_code - described), sorted(described - in_code)
    if missing or gone:
        raise RuntimeError(
            f"tools/gen_docs.py: describe each {what} the code has"
            + (f"; not described: {', '.join(missing)}" if missing else "")
            + (f"; no longer in the code: {', '.join(gone)}" if gone else "")
        )


def _exit_status(page: Page) -> None:
    page.sh("EXIT STATUS")
    for code, meaning in [
        ("0", "Done."),
        ("1", "The job or operation failed (**run --wait** of a failed job; **tick** problems)."),
        ("2", "Invalid usage or input."),
        ("3", "No such task, execution, pool, library or volume."),
        (
            "4",
            "Conflict: name taken, task already running, nothing to stop, device busy, "
            "pool in use, a labelled tape not to overwrite.",
        ),
        ("5", "Storage unavailable: locked past the busy timeout, unwritable, corrupt."),
    ]:
        page.item(bold(code), inline(meaning))


def _files(page: Page) -> None:
    from tapesched.paths import DB_NAME, StatePaths

    state = StatePaths(Path("/h"), Path("/h") / DB_NAME)
    folders = {
        path.relative_to(state.home).as_posix() + "/"
        for path in (state.logs, state.locks, state.snapshots, state.results)
    }
    page.sh("FILES")
    page.para(
        """The state folder is **TAPESCHED_HOME** if set; else, when **--db** or
        **TAPESCHED_DB** names the database, the folder holding it; else
        __/var/lib/tapesched__ for root and __$XDG_STATE_HOME/tapesched__
        (__~/.local/state/tapesched__) for other users. It is never under /tmp by default
        (cron and systemd units often have a private /tmp). Folders are created with mode
        0700, files 0600. It holds:""",
        first=True,
    )
    entries = [
        (
            DB_NAME,
            """The SQLite database (WAL mode): tasks, executions, hosts' heartbeats (none
            when **--db** names a PostgreSQL URL).""",
        ),
        ("logs/<task>/<id>.log", "What each run printed (see **tapesched output**)."),
        (
            "locks/",
            """__tick.lock__, __exec-<id>.lock__ (held by each runner for its life) and
            __device-*.lock__ (one per tape drive, virtual tape or library).""",
        ),
        ("snapshots/", "GNU tar's incremental state, one file per backup chain."),
        (
            "results/<id>.json",
            """Each run's result, as the **--after** command's **TAPESCHED_RESULT** reads it;
            removed with its execution by cleanup.""",
        ),
    ]
    _same_names(
        "state folder entry",
        folders | {DB_NAME},
        {path.split("/")[0] + "/" if "/" in path else path for path, _ in entries},
    )
    for path, meaning in entries:
        page.item(italic(path), inline(" ".join(meaning.split())))
    page.para("A directory used as a virtual tape holds:")
    for path, meaning in [
        (
            "000001.tar, 000002.tar, ...",
            """The archives (__.tar.gz__ when compressed), numbered like the files of a
            tape; each is written as __.NNNNNN.tar.partial__ and renamed when complete.""",
        ),
        ("000001.tar.sha256", "Its checksum, in **sha256sum -c** format."),
        ("tapesched-vtape.json", "The last number used, so numbers never repeat."),
    ]:
        page.item(italic(path), inline(" ".join(meaning.split())))
    page.para("A directory used as a virtual library (**library add --path**) holds:")
    for path, meaning in [
        ("library.json", "Its name, slots, drives and cartridge capacity."),
        (
            "slots/001/, slots/002/, ...",
            """A virtual cartridge per full slot: __cartridge.json__ (its barcode and
            capacity) and its tape files __000000.tape__ (the label), __000001.tape__, ...""",
        ),
        (
            "drives/0/cartridge/",
            """The cartridge loaded in drive 0 (moved there from its slot; __drives/0/source__
            names the slot).""",
        ),
    ]:
        page.item(italic(path), inline(" ".join(meaning.split())))


# Variables the code reads (the state folder, limits) and those it sets for the notify
# command; TAPESCHED_ names are checked against the code (environment_in_code).
ENVIRONMENT = {
    "TAPESCHED_HOME": "The state folder (see **FILES**), used as given.",
    "TAPESCHED_DB": (
        "The database: an SQLite file, or a PostgreSQL URL "
        "__postgresql+psycopg://USER@HOST:PORT/DBNAME__; the same as **--db**."
    ),
    "TAPESCHED_HOST": (
        "This host's name in a shared catalog (default: the machine's host name). Ticks "
        "claim the tasks bound to it or to any host."
    ),
    "TAPESCHED_LEASE": (
        "Seconds a running execution's lease lasts (default 90, at least 3); its runner "
        "renews it every sixth of that."
    ),
    "TAPESCHED_MAX_CONCURRENT_RUNS": (
        "Most runners at once (default 4); the same as **tick --max-concurrent**."
    ),
    "TAPESCHED_BUSY_TIMEOUT": "Seconds to wait for a locked database or row (default 10).",
    "PGPASSWORD": "The PostgreSQL password, when not in __~/.pgpass__ (**PGPASSFILE**).",
    "TAPESCHED_PING_TIMEOUT": "Seconds a ping may take in all (default 10, 0.1 to 300).",
    "XDG_STATE_HOME": "The default state folder is __$XDG_STATE_HOME/tapesched__.",
    "HOME": "Without XDG_STATE_HOME, the default state folder is under it.",
    "TZ": "The host's zone, the default **--timezone** of new tasks.",
    "NO_COLOR": "When set, tables are printed without colour.",
}
NOTIFY_ENVIRONMENT = {
    "TAPESCHED_TASK": "the task's name",
    "TAPESCHED_EXECUTION_ID": "the execution's id",
    "TAPESCHED_STATUS": "how the run ended (failed, lost, success, cancelled)",
    "TAPESCHED_ERROR": "its error message",
    "TAPESCHED_OUTPUT": "the path of its output log",
}
# Not for users: fault injection for the tests, the shell completion protocol, and how a
# runner gets its catalog's password.
INTERNAL_ENVIRONMENT = {"TAPESCHED_FAILPOINT", "_TAPESCHED_COMPLETE", "TAPESCHED_DB_PASSWORD"}


def environment_in_code() -> set[str]:
    """Every TAPESCHED_ variable name the package's code spells out (a whole string)."""
    import ast

    import tapesched

    names = set()
    for path in Path(tapesched.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if re.fullmatch(r"_?TAPESCHED_[A-Z0-9_]+", node.value):
                    names.add(node.value)
    return names


# What the --before and --after commands get besides the notify command's variables.
HOOK_ENVIRONMENT = {
    "TAPESCHED_HOOK": "before or after",
    "TAPESCHED_TRIGGER": "schedule, catch_up, manual or retry",
    "TAPESCHED_ATTEMPT": "1 for a first run, 2 for the first retry ...",
    "TAPESCHED_DURATION": "(after only) seconds since the run started",
    "TAPESCHED_RESULT": "(after only) the path of a file holding the run's result as JSON",
}


def _environment(page: Page) -> None:
    documented = {
        name
        for name in [*ENVIRONMENT, *NOTIFY_ENVIRONMENT, *HOOK_ENVIRONMENT]
        if "TAPESCHED_" in name
    }
    _same_names(
        "TAPESCHED_ environment variable",
        environment_in_code() - INTERNAL_ENVIRONMENT,
        documented,
    )
    page.sh("ENVIRONMENT")
    for name, meaning in ENVIRONMENT.items():
        page.item(bold(name), inline(meaning))
    page.para(
        "The notify command (**--notify-command**) runs with these set: "
        + "; ".join(f"**{name}**, {meaning}" for name, meaning in NOTIFY_ENVIRONMENT.items())
        + "."
    )
    page.para(
        "The **--before** and **--after** commands get the same (**TAPESCHED_STATUS** is "
        "**running** before the job), and: "
        + "; ".join(f"**{name}**, {meaning}" for name, meaning in HOOK_ENVIRONMENT.items())
        + "."
    )


def _examples(page: Page) -> None:
    page.sh("EXAMPLES")
    page.para(
        """A nightly database dump, a weekly full backup to a tape drive with daily
        incrementals, and a cleanup of old history:""",
        first=True,
    )
    page.example(
        """
tapesched add nightly-db --daily 02:00 --timeout 3600 \\
    --command 'pg_dump -f /backup/db.sql mydb'
tapesched add weekly-full --weekly sun --at 01:00 \\
    --source /srv/data --device /dev/nst0
tapesched add daily-incr --daily 01:00 \\
    --source /srv/data --device /dev/nst0 --level incremental
tapesched add prune --daily 04:00 \\
    --action cleanup --action-config '{"retention_days": 30}'
"""
    )
    page.para(
        """Volumes in a virtual library of four 1 GiB cartridges, labelled into a pool, a
        weekly backup to that pool, and the points a recovery can reach:"""
    )
    page.example(
        """
tapesched pool add weekly --retention-days 35
tapesched library add vlib --path /srv/vlib --slots 4 --capacity 1G
tapesched library inventory vlib
tapesched media label VLIB001 --pool weekly --library vlib --slot 1
tapesched media label VLIB002 --pool scratch --library vlib --slot 2
tapesched add weekly-media --weekly sun --at 01:00 --action backup \\
    --action-config '{"source_paths": ["/srv/data"], "pool": "weekly", "library": "vlib"}'
tapesched media list
tapesched restore-points weekly-media
"""
    )
    page.para("Look at the tasks, try a schedule, run a task now and read its log:")
    page.example(
        """
tapesched list
tapesched preview --cron '30 2 * * *' --timezone Europe/Berlin \\
    --from 2026-03-27 --count 4
tapesched run nightly-db --wait
tapesched logs nightly-db --limit 5
tapesched tick --now '2026-12-01 02:00' --dry-run
"""
    )
    page.para(
        """The crontab line of the state folder /var/lib/tapesched. **tapesched init**
        prints it with the absolute path of your install (cron's PATH is minimal) and
        the state folder it ticks, quoted for the shell, each __%__ written __\\%__; **init
        --install-cron** puts it in your crontab, beside the lines of other state folders,
        and **init --uninstall-cron** takes it out:"""
    )
    page.example("* * * * * TAPESCHED_HOME=/var/lib/tapesched /usr/local/bin/tapesched tick")
    page.para(
        """For node_exporter's textfile collector (see **METRICS**), a second line, also
        one line (cron has no continuation lines):"""
    )
    page.example(
        "* * * * * TAPESCHED_HOME=/var/lib/tapesched /usr/local/bin/tapesched metrics "
        "--textfile /var/lib/node_exporter/tapesched.prom"
    )
    page.para(
        """Or a systemd service and timer instead of cron. __KillMode=process__ keeps the
        detached runners alive when **tick** exits; __AccuracySec=1s__ keeps the ticks on
        the minute. Save them as
        __/etc/systemd/system/tapesched-tick.service__:"""
    )
    page.example(
        """
[Unit]
Description=tapesched tick: launch due tape jobs

[Service]
Type=oneshot
ExecStart=/usr/local/bin/tapesched tick
KillMode=process
"""
    )
    page.para("and __/etc/systemd/system/tapesched-tick.timer__:")
    page.example(
        """
[Unit]
Description=Run tapesched tick every minute

[Timer]
OnCalendar=*-*-* *:*:00
AccuracySec=1s

[Install]
WantedBy=timers.target
"""
    )
    page.para("then:")
    page.example("systemctl daemon-reload\nsystemctl enable --now tapesched-tick.timer")


def _see_also(page: Page) -> None:
    page.sh("SEE ALSO")
    refs = ["cron(8)", "crontab(5)", "tar(1)", "mt(1)", "mtx(1)", "systemd.timer(5)"]
    page.raw(",\n".join(rf"{bold(ref.split('(')[0])}({ref.split('(')[1]}" for ref in refs))


# --- completions ---------------------------------------------------------------


def completion_script(shell: str) -> str:
    """What `tapesched completion SHELL` prints, from the real command line."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("_TAPESCHED")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-m", "tapesched", "completion", shell],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"tapesched completion {shell} failed: {done.stderr.strip()}")
    script = done.stdout
    if shell == "zsh":
        script = zsh_autoload_fix(script)
    return script


def zsh_autoload_fix(script: str) -> str:
    """Make the zsh script complete on the first Tab when autoloaded from fpath.

    Installed as share/zsh/site-functions/_tapesched, compinit autoloads the file's
    body as the function _tapesched; typer's script then only registers
    _tapesched_completion for the next Tab. Calling it once when run as _tapesched
    completes this Tab too; sourced or eval'ed, the script behaves as before.
    Idempotent: a script that already handles this is left alone.
    """
    if "funcstack" in script:
        return script
    return script.rstrip("\n") + (
        "\n\n# Autoloaded from fpath as _tapesched: complete this first Tab too.\n"
        'if [[ "${funcstack[1]}" == "_tapesched" ]]; then\n'
        '  _tapesched_completion "$@"\n'
        "fi\n"
    )


# --- driver ---------------------------------------------------------------------


def outputs() -> dict[Path, str]:
    """Every generated file (relative to the repository) and its content."""
    files = {MAN_PAGE: render_man()}
    for shell, path in COMPLETIONS.items():
        files[path] = completion_script(shell)
    return files


def stale(files: dict[Path, str] | None = None) -> list[Path]:
    """The generated files whose committed content differs from what would be generated."""
    files = files if files is not None else outputs()
    return [path for path, text in files.items() if _read(ROOT / path) != text]


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def write(files: dict[Path, str] | None = None) -> list[Path]:
    """Write the files that changed; return them."""
    changed = stale(files := files if files is not None else outputs())
    for path in changed:
        (ROOT / path).parent.mkdir(parents=True, exist_ok=True)
        (ROOT / path).write_text(files[path], encoding="utf-8")
    return changed


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if a file is stale"
    )
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.check:
        old = stale()
        for path in old:
            sys.stderr.write(f"{path} is stale: run python tools/gen_docs.py\n")
        return 1 if old else 0
    for path in write():
        sys.stdout.write(f"wrote {path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
