"""The crontab line that calls `tick` each minute: one safe line per state folder.

A crontab line is read three times before tapesched sees its arguments: cron(8)
splits off five time fields and takes the rest of the line as the command; it
cuts the command at the first `%` that is not written `\\%` (the rest becomes the
job's standard input) and turns `\\%` into `%`; then it runs `sh -c COMMAND`.
So every word of the line is quoted for the shell, every `%` is written `\\%`,
and a path that no line can carry (a control character, text that is not UTF-8,
a command longer than cron reads) is refused. Each state folder has its own
line, recognised by the state folder and database it names (TAPESCHED_HOME,
--db), so installing one never unschedules another.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from tapesched.dburl import DatabaseURL
from tapesched.errors import InvalidInput, OperationFailed, TapeschedError
from tapesched.hosts import this_host
from tapesched.paths import DB_NAME, StatePaths, resolve

# Debian's and Vixie's cron read at most MAX_COMMAND - 1 = 999 bytes of a command and
# silently drop the rest; a longer line would run a cut command.
COMMAND_MAX_BYTES = 999
SCHEDULE = "* * * * *"
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_ENV_LINE = re.compile(r"[ \t]*([^\s=#][^\s=]*)[ \t]*=[ \t]*(.*)")
# Characters that end a line somewhere (cron: \n; editors and str.splitlines: more).
_LINE_ENDS = frozenset({"Cc", "Zl", "Zp", "Cs"})


@dataclass(frozen=True)
class CronChange:
    """What install or uninstall did: `added`, `replaced`, `present`, `removed` or
    `absent`; this state folder's line; the lines taken out of the crontab."""

    outcome: str
    line: str | None
    old_lines: list[str] = field(default_factory=list)


def executable() -> list[str]:
    """The words that run tapesched, with an absolute path (cron's PATH is minimal)."""
    beside = Path(sys.executable).parent / "tapesched"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("tapesched")
    return [os.path.abspath(found)] if found else [sys.executable, "-m", "tapesched"]


def check_text(text: str, what: str) -> None:
    """Refuse text that cannot stand in a crontab line (InvalidInput, exit 2)."""
    for char in text:
        kind = unicodedata.category(char)
        if kind in _LINE_ENDS:
            reason = (
                "is not valid UTF-8"
                if kind == "Cs"
                else f"contains the control character U+{ord(char):04X}"
            )
            raise InvalidInput(
                f"{what} {text!r} {reason}; a crontab line cannot carry it (cron would "
                "read a newline as the start of another entry); use a path without control "
                "characters, or run tick from a systemd timer (examples/tapesched-tick.timer)"
            )


def cron_word(text: str, what: str) -> str:
    """`text` as one shell word inside a crontab command: quoted for `sh -c`, each `%`
    written `\\%` (cron gives the shell `%`). The quoted pieces between the `%` never end
    in a backslash, so cron never reads `\\\\%` (a kept backslash, then a cut)."""
    check_text(text, what)
    if not text:
        return "''"
    return r"\%".join(shlex.quote(part) if part else "" for part in text.split("%"))


def tick_line(paths: StatePaths) -> str:
    """`* * * * * TAPESCHED_HOME=HOME [TAPESCHED_HOST=NAME] /abs/tapesched [--db DB] tick`.

    The state folder is always spelled out: cron's environment is not the shell's (no
    XDG_STATE_HOME), and the line names the folder it belongs to; so is TAPESCHED_HOST
    when it is set. A database URL is written without its password. Raise InvalidInput for
    a path no crontab line can carry.
    """
    words = ["TAPESCHED_HOME=" + cron_word(str(paths.home), "state folder")]
    if os.environ.get("TAPESCHED_HOST"):
        words.append("TAPESCHED_HOST=" + cron_word(this_host(), "host name"))
    words += [cron_word(word, "the tapesched executable path") for word in executable()]
    if isinstance(paths.db, DatabaseURL):  # never its password: libpq's files hold that
        words += ["--db", cron_word(paths.db.without_password, "database URL")]
    elif paths.db != paths.home / DB_NAME:
        words += ["--db", cron_word(str(paths.db), "database path")]
    words.append("tick")
    command = " ".join(words)
    size = len(command.encode("utf-8"))
    if size > COMMAND_MAX_BYTES:
        raise InvalidInput(
            f"crontab line: the command would be {size} bytes and cron reads at most "
            f"{COMMAND_MAX_BYTES} (it would run a cut command); use a shorter state folder "
            f"path than {str(paths.home)!r}, or run tick from a systemd timer"
        )
    return f"{SCHEDULE} {command}"


# --------------------------------------------------------------------------- reading lines


def entry_command(line: str) -> str | None:
    """The command part of a crontab entry, as written (None for a comment, a blank line
    or an environment setting)."""
    text = line.lstrip(" \t")
    if not text or text.startswith("#") or _ENV_LINE.fullmatch(line):
        return None
    fields = 1 if text.startswith("@") else 5
    parts = re.match(r"(?:[^ \t]+[ \t]+){" + str(fields) + r"}(.*)", text, re.S)
    return None if parts is None else parts.group(1).lstrip(" \t")


def cron_command(line: str) -> str | None:
    """The command cron gives `sh -c` for a crontab entry: cut at the first `%` not
    written `\\%`, each `\\%` turned into `%` (cron's do_command)."""
    command = entry_command(line)
    if command is None:
        return None
    out: list[str] = []
    escaped = False
    for char in command:
        if escaped:
            out[-1:] = ["%"] if char == "%" else [out[-1], char]
            escaped = False
        elif char == "\\":
            out.append(char)
            escaped = True
        elif char == "%":
            break
        else:
            out.append(char)
    return "".join(out)


def _env_setting(line: str) -> tuple[str, str] | None:
    """A crontab environment line (`NAME = value`, the value maybe quoted)."""
    match = _ENV_LINE.fullmatch(line)
    if match is None:
        return None
    name, value = match.group(1), match.group(2).rstrip(" \t")
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]
    return name, value


def tick_target(command: str, environ: dict[str, str]) -> StatePaths | None:
    """The state folder and database a cron command ticks, if it runs `tapesched tick`."""
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    env = dict(environ)
    while words and _ASSIGNMENT.match(words[0]):
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    if words and os.path.basename(words[0]) == "tapesched":
        rest = words[1:]
    elif len(words) >= 3 and words[1:3] == ["-m", "tapesched"]:
        rest = words[3:]
    else:
        return None
    db = env.get("TAPESCHED_DB")
    if rest[:1] == ["--db"] and len(rest) >= 2:
        db, rest = rest[1], rest[2:]
    elif rest[:1] and rest[0].startswith("--db="):
        db, rest = rest[0][5:], rest[1:]
    if rest[:1] != ["tick"]:
        return None
    try:
        return resolve(db or None, env)
    except TapeschedError:  # a path tapesched would refuse: no state folder of ours
        return None


def _cron_environment() -> dict[str, str]:
    """What cron gives a job to resolve a state folder with: the user's HOME."""
    home = os.environ.get("HOME")
    if not home:
        import pwd

        home = pwd.getpwuid(os.getuid()).pw_dir
    return {"HOME": home}


def owners(lines: list[str]) -> list[StatePaths | None]:
    """For each crontab line, the state folder whose tick it runs (None: not a tick line).
    Environment lines apply to the entries after them, as in cron."""
    environ = _cron_environment()
    found: list[StatePaths | None] = []
    for line in lines:
        setting = _env_setting(line)
        if setting is not None:
            environ[setting[0]] = setting[1]
            found.append(None)
            continue
        command, written = cron_command(line), entry_command(line)
        # What cron runs; else what the line was meant to run (an older tapesched wrote
        # a `%` unescaped, and cron cut that line: it is still this folder's line).
        target = None if command is None else tick_target(command, environ)
        if target is None and written is not None and written != command:
            target = tick_target(written, environ)
        found.append(target)
    return found


# --------------------------------------------------------------------------- the crontab


def _crontab() -> str:
    command = shutil.which("crontab")
    if command is None:
        raise OperationFailed(
            "no crontab command on this host; install cron, or use the systemd timer "
            "in examples/ (tapesched-tick.timer)"
        )
    return command


def _call(argv: list[str], text: str | None = None):  # noqa: ANN202 - CompletedProcess
    from tapesched import process

    try:
        return process.run_command(argv, input=text, timeout=60)
    except UnicodeDecodeError:
        raise OperationFailed(
            f"{shlex.join(argv)}: the crontab is not UTF-8 text; tapesched leaves it alone "
            "(edit it with crontab -e)"
        ) from None
    except Exception as error:  # noqa: BLE001 - OSError, TimeoutExpired: one line
        raise OperationFailed(f"{shlex.join(argv)} failed: {error}") from None


def _said(done) -> str:  # noqa: ANN001 - CompletedProcess
    """What a failed crontab command said, as one line (or its exit status)."""
    lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
    return "; ".join(lines) if lines else f"exit status {done.returncode}"


def read_table() -> list[str]:
    """The current user's crontab, one string per line ([] when there is none)."""
    listed = _call([_crontab(), "-l"])
    if listed.returncode != 0:
        if "no crontab" in listed.stderr.lower():
            return []
        raise OperationFailed(f"crontab -l failed: {_said(listed)}")
    text = listed.stdout
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def write_table(lines: list[str]) -> None:
    written = _call([_crontab(), "-"], "".join(line + "\n" for line in lines))
    if written.returncode != 0:
        raise OperationFailed(f"crontab - failed: {_said(written)}")


def _same(owner: StatePaths | None, paths: StatePaths) -> bool:
    return owner is not None and (owner.home, owner.db) == (paths.home, paths.db)


def install(line: str, paths: StatePaths) -> CronChange:
    """Put this state folder's tick line in the crontab: `added`, `replaced` (its older
    lines are returned) or `present`. Lines of other state folders stay as they are."""
    lines = read_table()
    ours = [index for index, owner in enumerate(owners(lines)) if _same(owner, paths)]
    if not ours:
        write_table([*lines, line])
        return CronChange("added", line)
    keep = next((index for index in ours if lines[index] == line), ours[0])
    old = [lines[index] for index in ours if lines[index] != line or index != keep]
    if not old:
        return CronChange("present", line)
    updated = [
        line if index == keep else text
        for index, text in enumerate(lines)
        if index == keep or index not in ours
    ]
    write_table(updated)
    return CronChange("replaced", line, old)


def uninstall(paths: StatePaths) -> CronChange:
    """Take this state folder's tick lines out of the crontab: `removed` or `absent`."""
    lines = read_table()
    mine = owners(lines)
    removed = [text for text, owner in zip(lines, mine, strict=True) if _same(owner, paths)]
    if not removed:
        return CronChange("absent", None)
    write_table([text for text, owner in zip(lines, mine, strict=True) if not _same(owner, paths)])
    return CronChange("removed", None, removed)
