"""The crontab line is always one safe line, one per state folder (issue 9, class 5).

A fake `crontab` on PATH keeps the table in a file. What cron would run is worked
out here as cron(8) does it, independently of tapesched.crontab: five fields, then
the rest of the line as the command, cut at the first `%` not written `\\%` (the rest
is the job's stdin) with `\\%` turned into `%`, then `sh -c COMMAND`. The command is
then really run by sh, with a fake `tapesched` that records its arguments and
environment, and, for a few paths, with the real tapesched doing a real tick.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import unicodedata
from contextlib import contextmanager
from pathlib import Path

import pytest
from helpers import dump
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tapesched import crontab

# Debian's cron keeps at most 999 bytes of a command (MAX_COMMAND 1000).
CRON_MAX_COMMAND = 999

FAKE_CRONTAB = """#!/bin/sh
T='{table}'
if [ "$1" = "-l" ]; then
  [ -f "$T" ] || {{ echo "no crontab for $(id -un)" >&2; exit 1; }}
  cat "$T"; exit 0
fi
if [ "$1" = "-" ]; then cat > "$T"; exit 0; fi
exit 2
"""

# A stand-in for tapesched: records its arguments (NUL-separated), TAPESCHED_HOME,
# TAPESCHED_DB and its standard input.
FAKE_TAPESCHED = """#!/bin/sh
R='{record}'
for a in "$0" "$@"; do printf '%s\\0' "$a"; done > "$R.argv"
printf '%s' "${{TAPESCHED_HOME-<unset>}}" > "$R.home"
printf '%s' "${{TAPESCHED_DB-<unset>}}" > "$R.db"
cat > "$R.stdin"
"""


def executable_file(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


@pytest.fixture
def table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The fake crontab's table (a file); `crontab` on PATH reads and writes it."""
    bin_dir = tmp_path / "crontab-bin"
    bin_dir.mkdir()
    table = tmp_path / "crontab.txt"
    executable_file(bin_dir / "crontab", FAKE_CRONTAB.format(table=table))
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return table


@pytest.fixture
def fake_tapesched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake tapesched in a hostile folder; the crontab line names it. Returns the record
    prefix it writes to."""
    folder = tmp_path / "venv dir %x 'q' \\%" / "bin"
    folder.mkdir(parents=True)
    record = tmp_path / "record"
    fake = executable_file(folder / "tapesched", FAKE_TAPESCHED.format(record=record))
    monkeypatch.setattr(crontab, "executable", lambda: [str(fake)])
    return record


# --------------------------------------------------------------------------- cron(8)


def cron_would_run(line: str) -> tuple[str, str | None]:
    """(command given to sh -c, stdin data or None) for one crontab entry, as Vixie cron
    (Debian's cron) reads it: entry.c takes five blank-separated fields and the rest of
    the line; do_command.c cuts at the first unescaped % and turns \\% into %."""
    assert "\n" not in line, "a crontab entry is one line"
    match = re.fullmatch(r"[ \t]*(?:[^ \t]+[ \t]+){5}(.*)", line, re.S)
    assert match, f"not five fields and a command: {line!r}"
    command = match.group(1)
    assert len(command.encode()) <= CRON_MAX_COMMAND, "cron would cut this command"
    out: list[str] = []
    escaped = False
    for index, char in enumerate(command):
        if escaped:
            if char == "%":
                out[-1] = "%"
            else:
                out.append(char)
            escaped = False
        elif char == "\\":
            out.append(char)
            escaped = True
        elif char == "%":
            return "".join(out), command[index + 1 :]
        else:
            out.append(char)
    return "".join(out), None


def run_like_cron(line: str, record: Path) -> dict[str, object]:
    """Run the entry as cron would (sh -c, cron's small environment); return what the fake
    tapesched recorded."""
    command, stdin = cron_would_run(line)
    assert stdin is None, f"cron would send {stdin!r} to the job's stdin"
    env = {"HOME": os.environ.get("HOME", "/"), "PATH": "/usr/bin:/bin", "SHELL": "/bin/sh"}
    done = subprocess.run(
        ["/bin/sh", "-c", command], env=env, capture_output=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    argv = Path(f"{record}.argv").read_bytes().decode().split("\0")[:-1]
    result = {
        "argv": argv,
        "home": Path(f"{record}.home").read_bytes().decode(),
        "db": Path(f"{record}.db").read_bytes().decode(),
        "stdin": Path(f"{record}.stdin").read_bytes().decode(),
    }
    for suffix in ("argv", "home", "db", "stdin"):
        Path(f"{record}.{suffix}").unlink()
    return result


def lines_of(table: Path) -> list[str]:
    return table.read_text().split("\n")[:-1] if table.exists() else []


@contextmanager
def environment(**values: str | None):
    """Set (or, with None, unset) variables for the block."""
    saved = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# --------------------------------------------------------------------------- hostile paths

# Shell and cron metacharacters, quotes, backslashes, non-ASCII, and characters that end a
# line somewhere (newline, CR, tab, NEL, U+2028): the last kind must be refused.
HOSTILE = st.text(
    alphabet=st.sampled_from(
        list("ab Z09 %'\"\\$`;&|*?~#(){}[]<>!=,-_.:@^+")
        + ["é", "ß", "日", "🙂", "\n", "\r", "\t", "\x85", "\u2028", "\x7f", "\x1b"]
    ),
    min_size=1,
    max_size=12,
).filter(lambda text: text not in (".", ".."))

LINE_ENDS = {"Cc", "Zl", "Zp"}


def unsafe(text: str) -> bool:
    return any(unicodedata.category(char) in LINE_ENDS for char in text)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(component=HOSTILE, how=st.sampled_from(["home", "db-option", "db-variable"]))
def test_hostile_state_paths_give_one_safe_line_or_one_refusal(
    run_cli, table, fake_tapesched, tmp_path, component, how
):
    table.write_text("MAILTO=ops\n0 3 * * * /usr/bin/other-job --x '%'\n")
    before = table.read_text()
    folder = tmp_path / "state" / component
    db = folder / "tasks %s.db"
    if how == "home":
        env = {"TAPESCHED_HOME": str(folder), "TAPESCHED_DB": None}
        args: list[str] = []
        expected_argv = [str(crontab.executable()[0]), "tick"]
    else:
        env = {"TAPESCHED_HOME": None, "TAPESCHED_DB": str(db) if how == "db-variable" else None}
        args = [] if how == "db-variable" else ["--db", str(db)]
        expected_argv = [str(crontab.executable()[0]), "--db", str(db), "tick"]
    with environment(**env):
        result = run_cli(*args, "init", "--install-cron")
        if unsafe(str(folder)):
            assert result.code == 2, result.err
            assert result.err.startswith("tapesched: ") and result.err.count("\n") == 1
            assert "control character" in result.err and "Traceback" not in result.err
            assert table.read_text() == before
            assert not os.path.lexists(folder), "a refused init created the state folder"
            return
        assert result.code == 0, result.err
        assert "added to your crontab" in result.out
        lines = lines_of(table)
        assert lines[:2] == before.split("\n")[:2]
        assert len(lines) == 3
        ran = run_like_cron(lines[2], fake_tapesched)
        assert ran == {"argv": expected_argv, "home": str(folder), "db": "<unset>", "stdin": ""}
        # Again: present, nothing written; then it comes out again, and only it.
        again = run_cli(*args, "init", "--install-cron", "--json")
        assert again.json()["cron_install"] == "present"
        assert lines_of(table) == lines
        removed = run_cli(*args, "init", "--uninstall-cron", "--json")
        assert removed.code == 0, removed.err
        assert removed.json()["cron_removed"] == [lines[2]]
        assert table.read_text() == before


@pytest.mark.parametrize(
    "name",
    [
        "with space",
        "per%cent",
        "back\\%slash-percent",
        'quote\'s "double"',
        "$(touch INJECTED)",
        "semi;colon && touch INJECTED2",
        "grüße 日本",
    ],
)
def test_the_real_line_ticks_the_right_database(run_cli, table, tmp_path, name):
    """The line as installed, run by sh as cron would, makes a real tick of this folder."""
    folder = tmp_path / name
    with environment(TAPESCHED_HOME=str(folder)):
        assert run_cli("init", "--install-cron").code == 0
    [line] = lines_of(table)
    command, stdin = cron_would_run(line)
    assert stdin is None
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "SHELL": "/bin/sh"}
    if os.environ.get("PYTHONPATH"):  # a checkout run in place: the line runs its code
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    done = subprocess.run(
        ["/bin/sh", "-c", command],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    with environment(TAPESCHED_HOME=str(folder)):
        status = run_cli("status", "--json").json()
    assert status["last_tick_time"] is not None
    assert not list(tmp_path.glob("INJECTED*")), "the path ran as a command"


# --------------------------------------------------------------------------- one per folder


def test_a_second_state_folder_gets_its_own_line(run_cli, table, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    with environment(TAPESCHED_HOME=str(first)):
        assert "added to your crontab" in run_cli("init", "--install-cron").out
    with environment(TAPESCHED_HOME=str(second)):
        result = run_cli("init", "--install-cron")
    assert result.code == 0 and "added to your crontab" in result.out
    lines = lines_of(table)
    assert len(lines) == 2
    assert f"TAPESCHED_HOME={first} " in lines[0] and f"TAPESCHED_HOME={second} " in lines[1]
    # Two databases in one folder are two lines too.
    with environment(TAPESCHED_HOME=str(second)):
        other = run_cli("--db", str(second / "other.db"), "init", "--install-cron")
    assert other.code == 0 and "added" in other.out
    assert len(lines_of(table)) == 3
    # Uninstalling one leaves the others.
    with environment(TAPESCHED_HOME=str(first)):
        gone = run_cli("init", "--uninstall-cron")
    assert gone.code == 0 and gone.out == f"removed from your crontab:\n- {lines[0]}\n"
    assert lines_of(table)[0] == lines[1] and len(lines_of(table)) == 2
    with environment(TAPESCHED_HOME=str(first)):
        none = run_cli("init", "--uninstall-cron")
    assert none.code == 0 and "no tick line for state folder" in none.out
    assert str(first) in none.out and none.err == ""


def test_an_older_line_of_this_folder_is_replaced_and_named(run_cli, table, home):
    old = f"* * * * * TAPESCHED_HOME={home} /old/venv/bin/tapesched tick"
    dup = f"*/5 * * * * TAPESCHED_HOME='{home}' python3 -m tapesched tick >/dev/null 2>&1"
    others = [
        "# TAPESCHED_HOME=x tapesched tick (a comment)",
        "* * * * * TAPESCHED_HOME=/srv/other /opt/tapesched tick",
        "* * * * * /usr/bin/backup-thing tick",
    ]
    table.write_text("\n".join([others[0], old, others[1], dup, others[2]]) + "\n")
    result = run_cli("init", "--install-cron")
    assert result.code == 0, result.err
    assert "replaced this state folder's line in your crontab:" in result.out
    assert f"- {old}\n" in result.out and f"- {dup}\n" in result.out
    lines = lines_of(table)
    assert lines[0] == others[0] and lines[2:] == others[1:]
    assert lines[1].startswith(f"* * * * * TAPESCHED_HOME={home} /") and "/old/" not in lines[1]
    assert f"+ {lines[1]}\n" in result.out
    again = run_cli("init", "--install-cron", "--json").json()
    assert again["cron_install"] == "present" and again["cron_replaced"] == []


def test_lines_are_recognised_as_cron_would_read_them(run_cli, table, home, monkeypatch):
    """A line without TAPESCHED_HOME ticks the folder cron's environment gives it: an
    environment line above it, or the default folder of HOME."""
    monkeypatch.setenv("HOME", str(home.parent / "user"))
    default = home.parent / "user" / ".local" / "state" / "tapesched"
    if os.geteuid() == 0:
        default = Path("/var/lib/tapesched")
    lines = [
        f"TAPESCHED_HOME = {home}",
        "* * * * * /usr/local/bin/tapesched tick",  # ticks `home`, by the line above
        "TAPESCHED_HOME=",
        "* * * * * /usr/local/bin/tapesched tick",  # ticks the default folder
    ]
    table.write_text("\n".join(lines) + "\n")
    result = run_cli("init", "--uninstall-cron", "--json").json()
    assert result["cron_removed"] == [lines[1]]
    monkeypatch.setenv("TAPESCHED_HOME", str(default))
    result = run_cli("init", "--uninstall-cron", "--json").json()
    assert result["cron_removed"] == [lines[3]]
    assert lines_of(table) == [lines[0], lines[2]]


def test_first_install_into_no_crontab(run_cli, table):
    assert not table.exists()
    result = run_cli("init", "--install-cron")
    assert result.code == 0 and "added to your crontab" in result.out
    assert len(lines_of(table)) == 1
    assert table.read_text().endswith(" tick\n")


def test_uninstall_without_a_crontab_creates_nothing(run_cli, table, home):
    result = run_cli("init", "--uninstall-cron")
    assert result.code == 0 and "nothing removed" in result.out
    assert not table.exists()
    assert not home.exists(), "--uninstall-cron created the state folder"


# --------------------------------------------------------------------------- refusals


def test_install_and_uninstall_together_are_refused(run_cli, table, home):
    result = run_cli("init", "--install-cron", "--uninstall-cron")
    assert result.code == 2 and result.err.count("\n") == 1
    assert result.err.startswith("tapesched: ") and not home.exists() and not table.exists()


def test_a_command_longer_than_cron_reads_is_refused(run_cli, table, tmp_path):
    deep = tmp_path.joinpath(*["d" * 200] * 5)
    table.write_text("0 1 * * * true\n")
    with environment(TAPESCHED_HOME=str(deep)):
        result = run_cli("init", "--install-cron")
    assert result.code == 2 and result.err.count("\n") == 1
    assert "cron reads at most 999" in result.err
    assert table.read_text() == "0 1 * * * true\n" and not deep.exists()


def test_a_path_that_is_not_utf8_is_refused(table, tmp_path):
    folder = os.fsencode(tmp_path) + b"/bad\xff"
    done = subprocess.run(
        [sys.executable, "-m", "tapesched", "init", "--install-cron"],
        env={**os.environ, "TAPESCHED_HOME": os.fsdecode(folder)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("tapesched: ") and done.stderr.count("\n") == 1
    assert not os.path.lexists(folder) and not table.exists()


def test_plain_init_refuses_a_newline_too_and_creates_nothing(run_cli, tmp_path):
    folder = tmp_path / "a\n* * * * * touch /tmp/pwned"
    with environment(TAPESCHED_HOME=str(folder)):
        result = run_cli("init")
    assert result.code == 2 and result.err.count("\n") == 1 and result.out == ""
    assert not os.path.lexists(folder)


def test_a_failing_crontab_is_one_line(run_cli, tmp_path, monkeypatch, home):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    executable_file(bin_dir / "crontab", "#!/bin/sh\necho 'crontab: cannot open' >&2\nexit 1\n")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    result = run_cli("init", "--install-cron")
    assert result.code == 1 and result.err == "tapesched: crontab -l failed: crontab: cannot open\n"
    assert not home.exists(), "a failed --install-cron created the state folder"
    result = run_cli("init", "--uninstall-cron")
    assert result.code == 1 and result.err.count("\n") == 1


def test_a_crontab_that_is_not_utf8_is_left_alone(run_cli, table, home):
    table.write_bytes(b"0 1 * * * echo caf\xe9\n")
    result = run_cli("init", "--install-cron")
    assert result.code == 1 and result.err.count("\n") == 1 and "not UTF-8" in result.err
    assert table.read_bytes() == b"0 1 * * * echo caf\xe9\n"


def test_a_refused_install_leaves_an_existing_database_unchanged(run_cli, table, home):
    run_cli("add", "x", "--daily", "02:00", "--command", "true")
    before = dump(home / "tapesched.db")
    assert run_cli("init", "--install-cron", "--uninstall-cron").code == 2
    assert dump(home / "tapesched.db") == before


def test_a_line_an_older_tapesched_wrote_with_a_bare_percent_is_replaced(run_cli, table, tmp_path):
    """tapesched 0.1 wrote `%` unescaped: cron cut that line at the `%` and the folder
    never ticked. It is still recognised as this folder's line, and replaced."""
    folder = tmp_path / "50%off"
    broken = f"* * * * * TAPESCHED_HOME={folder} /old/bin/tapesched tick"
    assert cron_would_run(broken)[1] is not None  # cron really did cut it
    table.write_text(broken + "\n")
    with environment(TAPESCHED_HOME=str(folder)):
        result = run_cli("init", "--install-cron")
    assert result.code == 0 and f"- {broken}\n" in result.out
    [line] = lines_of(table)
    assert cron_would_run(line)[1] is None and "/old/bin" not in line
