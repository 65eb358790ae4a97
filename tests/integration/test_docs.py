"""The man page and the shell completions: current, clean, complete, and working.

The committed files are what `python tools/gen_docs.py` generates; when a test
here says one is stale, run that and commit the result.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import typer

ROOT = Path(__file__).resolve().parents[2]
MAN = ROOT / "man" / "tapesched.1"
COMPLETIONS = ROOT / "completions"


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_docs", ROOT / "tools" / "gen_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gen_docs", module)
    spec.loader.exec_module(module)
    return module


gen_docs = _load_generator()


def clean_env(home: Path | None = None, **extra: str) -> dict[str, str]:
    """The environment without tapesched's variables, the checkout importable."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TAPESCHED_", "_TAPESCHED_", "_TYPER_", "COMP_"))
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["TZ"] = "UTC"
    if home is not None:
        env["TAPESCHED_HOME"] = str(home)
    env.update(extra)
    return env


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tapesched", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )


# --- current --------------------------------------------------------------------


def test_committed_man_page_and_completions_are_current() -> None:
    stale = [str(path) for path in gen_docs.stale()]
    assert not stale, f"stale generated files {stale}: run python tools/gen_docs.py"


def test_check_flag_exits_0_when_current() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen_docs.py"), "--check"],
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""


def test_check_flag_names_the_stale_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    files = gen_docs.outputs()
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text, encoding="utf-8")
    (tmp_path / "completions" / "_tapesched").write_text("#compdef tapesched\n", encoding="utf-8")
    monkeypatch.setattr(gen_docs, "ROOT", tmp_path)
    monkeypatch.setattr(gen_docs, "outputs", lambda: files)

    assert gen_docs.main(["--check"]) == 1
    err = capsys.readouterr().err
    assert "completions/_tapesched" in err
    assert "man/tapesched.1" not in err

    assert gen_docs.main([]) == 0  # regenerating fixes it
    assert gen_docs.main(["--check"]) == 0


def test_man_page_is_deterministic_ascii() -> None:
    first, second = gen_docs.render_man(), gen_docs.render_man()
    assert first == second
    assert first.isascii(), "non-ASCII characters must be roff escapes"
    assert f".TH TAPESCHED 1 {gen_docs.MANUAL_DATE} " in first


# --- renders cleanly ----------------------------------------------------------------


def test_man_page_renders_without_groff_warnings() -> None:
    if shutil.which("groff") is None:
        pytest.skip("groff is not installed (apt-get install groff-base); CI installs it")
    done = subprocess.run(
        ["groff", "-man", "-ww", "-Tutf8", str(MAN)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0
    assert done.stderr == "", f"groff warnings:\n{done.stderr}"
    assert "tapesched" in done.stdout


def test_man_page_has_the_sections() -> None:
    text = MAN.read_text(encoding="utf-8")
    headings = re.findall(r"^\.SH \"?([^\"\n]+)\"?$", text, flags=re.M)
    assert headings == [
        "NAME",
        "SYNOPSIS",
        "DESCRIPTION",
        "OPTIONS",
        "COMMANDS",
        "SCHEDULES",
        "DST RULE",
        "HOW RUNS HAPPEN",
        "EXIT STATUS",
        "FILES",
        "ENVIRONMENT",
        "EXAMPLES",
        "SEE ALSO",
    ]
    plain = unroff(text)
    for needle in [
        "* * * * * /usr/local/bin/tapesched tick",
        "OnCalendar=*-*-* *:*:00",
        "Type=oneshot",
        "TAPESCHED_BUSY_TIMEOUT",
        "logs/<task>/<id>.log",
        "systemd.timer(5)",
    ]:
        assert needle in plain


# --- covers every command --------------------------------------------------------


def unroff(text: str) -> str:
    """Roff source to plain text, enough to find names in it."""
    text = re.sub(r"\\f[BIRP]", "", text)
    for escaped, plain in [(r"\-", "-"), (r"\(aq", "'"), (r"\(dq", '"'), (r"\e", "\\")]:
        text = text.replace(escaped, plain)
    return text.replace(r"\~", " ").replace(r"\&", "")


def command_sections(man_text: str) -> dict[str, str]:
    """Under .SH COMMANDS: each .SS (or .TP) heading's first word and the text below it."""
    match = re.search(r"^\.SH COMMANDS\n(.*?)(?=^\.SH )", man_text, flags=re.M | re.S)
    assert match, "no COMMANDS section"
    sections: dict[str, str] = {}
    heading = None
    for line in unroff(match.group(1)).split("\n"):
        if line.startswith(".SS "):
            heading = line[4:].strip('"').split()[0]
            sections[heading] = ""
        elif heading is not None:
            sections[heading] += line + "\n"
    return sections


def tagged_lines(section: str) -> list[str]:
    """The tag lines of the .TP paragraphs in a section."""
    lines = section.split("\n")
    return [lines[index + 1] for index, line in enumerate(lines[:-1]) if line == ".TP"]


def missing_from_man(group: typer.core.TyperGroup, man_text: str) -> list[str]:
    """Every visible command and option of the parser that the page does not document."""
    sections = command_sections(man_text)
    missing = []
    for name, command in group.commands.items():
        if command.hidden:
            continue
        if name not in sections:
            missing.append(f"command {name}")
            continue
        tags = tagged_lines(sections[name])
        for param in command.params:
            if param.param_type_name != "option" or getattr(param, "hidden", False):
                continue
            for opt in [*param.opts, *param.secondary_opts]:
                pattern = re.compile(rf"(?<![\w-]){re.escape(opt)}(?![\w-])")
                if not any(pattern.search(tag) for tag in tags):
                    missing.append(f"option {name} {opt}")
    return missing


def test_every_command_and_option_is_in_the_man_page() -> None:
    group = gen_docs.cli_group()
    visible = [name for name, command in group.commands.items() if not command.hidden]
    assert {"add", "tick", "completion"} <= set(visible)
    assert missing_from_man(group, MAN.read_text(encoding="utf-8")) == []


def test_hidden_commands_stay_out_of_the_man_page() -> None:
    group = gen_docs.cli_group()
    hidden = [name for name, command in group.commands.items() if command.hidden]
    assert "_run" in hidden
    sections = command_sections(MAN.read_text(encoding="utf-8"))
    assert not set(hidden) & set(sections)


def _group_with_new_command() -> typer.core.TyperGroup:
    extra = typer.Typer()

    @extra.command()
    def frobnicate(
        hard: bool = typer.Option(False, "--hard", help="Frobnicate hard."),
    ) -> None:
        """Frobnicate the tapes."""

    @extra.command()
    def unused() -> None:
        """Only so that the app is a group."""

    group = gen_docs.cli_group()
    group.commands["frobnicate"] = typer.main.get_command(extra).commands["frobnicate"]
    return group


def test_a_command_missing_from_the_page_fails_the_check() -> None:
    group = _group_with_new_command()
    committed = MAN.read_text(encoding="utf-8")
    assert missing_from_man(group, committed) == ["command frobnicate"]
    # ... and an option missing from a command's section too
    without_json = committed.replace(".TP\n\\fB\\-\\-json\\fR\n", ".TP\nnothing\n")
    assert "option list --json" in missing_from_man(gen_docs.cli_group(), without_json)
    # regenerating from that parser documents the new command and its option
    regenerated = gen_docs.render_man(group)
    assert missing_from_man(group, regenerated) == []
    assert ".SS frobnicate" in regenerated


# --- completions work ------------------------------------------------------------


@pytest.fixture
def home_with_task(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    done = cli("add", "nightly", "--daily", "02:00", "--command", "true", env=clean_env(home))
    assert done.returncode == 0, done.stderr
    return home


@pytest.fixture
def shim(tmp_path: Path) -> Path:
    """A folder whose `tapesched` runs this interpreter's tapesched, for the shells."""
    folder = tmp_path / "bin"
    folder.mkdir()
    script = folder / "tapesched"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m tapesched "$@"\n')
    script.chmod(0o755)
    return folder


def test_bash_completion_registers() -> None:
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    done = subprocess.run(
        ["bash", "-c", "source completions/tapesched.bash && complete -p tapesched"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "complete -o default -F _tapesched_completion tapesched"


def test_dynamic_completion_offers_task_names_and_commands(home_with_task: Path) -> None:
    env = clean_env(home_with_task, _TAPESCHED_COMPLETE="complete_bash")
    done = cli(env={**env, "COMP_WORDS": "tapesched show ni", "COMP_CWORD": "2"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["nightly"]

    done = cli(env={**env, "COMP_WORDS": "tapesched sta", "COMP_CWORD": "1"})
    assert done.returncode == 0, done.stderr
    assert "status" in done.stdout.split()


def test_dynamic_completion_without_a_database_offers_nothing(tmp_path: Path) -> None:
    env = clean_env(tmp_path / "none", _TAPESCHED_COMPLETE="complete_bash")
    done = cli(env={**env, "COMP_WORDS": "tapesched show ni", "COMP_CWORD": "2"})
    assert done.returncode == 0
    assert done.stdout.strip() == ""
    assert "Traceback" not in done.stderr


def test_bash_function_completes_task_names(home_with_task: Path, shim: Path) -> None:
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    script = (
        "source completions/tapesched.bash\n"
        "COMP_WORDS=(tapesched show ni); COMP_CWORD=2\n"
        "_tapesched_completion tapesched ni show\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    env = clean_env(home_with_task, PATH=f"{shim}{os.pathsep}{os.environ.get('PATH', '')}")
    done = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["nightly"]


def test_zsh_completion_works_on_the_first_tab_when_autoloaded(
    home_with_task: Path, shim: Path
) -> None:
    if shutil.which("zsh") is None:
        pytest.skip("zsh is not installed")
    # compinit autoloads _tapesched from fpath, as from share/zsh/site-functions;
    # _arguments is stubbed to print what it would offer.
    script = (
        f"fpath=({COMPLETIONS} $fpath); autoload -Uz compinit && compinit -D -u\n"
        '_arguments() { print -r -- "$*" }\n'
        "words=(tapesched show ni); CURRENT=3\n"
        "$_comps[tapesched]\n"
    )
    env = clean_env(home_with_task, PATH=f"{shim}{os.pathsep}{os.environ.get('PATH', '')}")
    done = subprocess.run(
        ["zsh", "-df", "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert '"nightly"' in done.stdout


def test_fish_completion_completes_task_names(home_with_task: Path, shim: Path) -> None:
    if shutil.which("fish") is None:
        pytest.skip("fish is not installed")
    script = f"source {COMPLETIONS / 'tapesched.fish'}; complete -C 'tapesched show ni'"
    env = clean_env(home_with_task, PATH=f"{shim}{os.pathsep}{os.environ.get('PATH', '')}")
    done = subprocess.run(
        ["fish", "--no-config", "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["nightly"]
