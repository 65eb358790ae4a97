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
from speed_helpers import build_parser_once

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
        "ACTIONS",
        "TASK FILES",
        "METRICS",
        "EXIT STATUS",
        "FILES",
        "ENVIRONMENT",
        "EXAMPLES",
        "SEE ALSO",
    ]
    plain = unroff(text)
    for needle in [
        "* * * * * TAPESCHED_HOME=/var/lib/tapesched /usr/local/bin/tapesched tick",
        "OnCalendar=*-*-* *:*:00",
        "Type=oneshot",
        "TAPESCHED_BUSY_TIMEOUT",
        "logs/<task>/<id>.log",
        "systemd.timer(5)",
    ]:
        assert needle in plain


def test_man_page_never_hyphenates_and_renders_cleanly_at_any_width() -> None:
    """Hyphenation is off (.nh after .TH), so no word is ever broken: groff marks a
    hyphenation break with U+2010 in UTF-8 output (a dash written \\- is U+2212)."""
    if shutil.which("groff") is None:
        pytest.skip("groff is not installed (apt-get install groff-base); CI installs it")
    text = MAN.read_text(encoding="utf-8")
    lines = text.split("\n")
    assert lines.index(".nh") > next(i for i, line in enumerate(lines) if line.startswith(".TH"))
    assert not [line for line in lines if line.startswith(".hy")]
    for width in (40, 52, 66, 80, 100):
        done = subprocess.run(
            ["groff", "-man", "-ww", "-Tutf8", f"-rLL={width}n", str(MAN)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0
        assert "\u2010" not in done.stdout, f"a word is hyphenated at {width} columns"
        # Below 80 columns only a long name may stick out; nothing else may warn.
        warnings = [w for w in done.stderr.splitlines() if "can't break line" not in w]
        assert warnings == [] if width < 80 else done.stderr == ""
    # ... and the check would see a hyphenation: without .nh there are some.
    hyphenating = subprocess.run(
        ["groff", "-man", "-Tutf8", "-rLL=40n"],
        input=text.replace("\n.nh\n", "\n"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "\u2010" in hyphenating.stdout


def section(man_text: str, heading: str) -> str:
    """The plain text of one .SH section."""
    match = re.search(
        rf"^\.SH \"?{re.escape(heading)}\"?\n(.*?)(?=^\.SH )", man_text, flags=re.M | re.S
    )
    assert match, f"no {heading} section"
    return unroff(match.group(1)).replace("\\~", " ")


def test_man_page_carries_the_action_config_keys() -> None:
    from tapesched.actions import ACTION_TYPES, SCHEMAS

    actions = section(MAN.read_text(encoding="utf-8"), "ACTIONS")
    parts = re.split(r"^\.SS (\S+)\n", actions, flags=re.M)
    by_action = dict(zip(parts[1::2], parts[2::2], strict=True))
    assert list(by_action) == list(ACTION_TYPES)
    for action, schema in SCHEMAS.items():
        tags = tagged_lines(by_action[action])
        for key, (_check, form, required) in schema.items():
            assert (f"{key} (required)" if required else key) in tags, (action, key)
            assert " ".join(form.split()) in " ".join(by_action[action].split()), (action, key)


def test_man_page_carries_the_task_file_fields_and_defaults() -> None:
    from tapesched.spec import FIELDS, TaskSpec
    from tapesched.taskfile import REQUIRED

    fields = section(MAN.read_text(encoding="utf-8"), "TASK FILES")
    assert tagged_lines(fields) == list(FIELDS)
    items = [item.split("\n", 1) for item in fields.split(".TP\n")[1:]]
    body = {name: " ".join(text.split(".PP")[0].split()) for name, text in items}
    spec = TaskSpec.__dataclass_fields__
    for name in FIELDS:
        if name in REQUIRED:
            assert body[name].endswith("Required."), name
        elif name == "timezone":
            assert body[name].endswith("Default: the host's zone."), name
        elif name == "host":  # not said: this host for a new task, kept for an existing one
            assert spec[name].default is None
            assert "Default: the host that applies the file, for a new task" in body[name]
        else:
            default = spec[name].default
            if default is None or isinstance(default, bool):  # (0 == False as a dict key)
                shown = {None: "none", True: "true", False: "false"}[default]
            else:
                shown = f'"{default}"' if isinstance(default, str) else default
            assert body[name].endswith(f"Default: {shown}."), (name, body[name])


def test_man_page_carries_every_metric() -> None:
    from tapesched.metrics import FAMILIES

    metrics = section(MAN.read_text(encoding="utf-8"), "METRICS")
    tags = tagged_lines(metrics)
    assert tags == [f"{name} ({kind})" for name, (kind, _) in FAMILIES.items()]
    for _, text in FAMILIES.values():
        assert " ".join(text.split()) in " ".join(metrics.split())


def test_man_page_carries_the_files_and_the_environment() -> None:
    from tapesched.paths import DB_NAME

    text = MAN.read_text(encoding="utf-8")
    files = tagged_lines(section(text, "FILES"))
    for entry in (DB_NAME, "logs/<task>/<id>.log", "locks/", "snapshots/"):
        assert entry in files
    environment = section(text, "ENVIRONMENT")
    documented = set(tagged_lines(environment)) | set(re.findall(r"TAPESCHED_[A-Z_]+", environment))
    in_code = gen_docs.environment_in_code() - gen_docs.INTERNAL_ENVIRONMENT
    assert in_code <= documented, f"undocumented: {in_code - documented}"
    assert {"TAPESCHED_HOME", "TAPESCHED_DB", "NO_COLOR", "XDG_STATE_HOME"} <= documented


def test_generation_fails_for_what_the_code_has_and_the_page_does_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    found = gen_docs.environment_in_code()
    monkeypatch.setattr(gen_docs, "environment_in_code", lambda: found | {"TAPESCHED_NEW_KNOB"})
    with pytest.raises(RuntimeError, match="not described: TAPESCHED_NEW_KNOB"):
        gen_docs.render_man()
    monkeypatch.undo()
    meanings = {k: v for k, v in gen_docs.FIELD_MEANINGS.items() if k != "timeout"}
    monkeypatch.setattr(gen_docs, "FIELD_MEANINGS", meanings)
    with pytest.raises(RuntimeError, match="not described: timeout"):
        gen_docs.render_man()


# --- --help never breaks a word ----------------------------------------------------


def broken_words(widths: tuple[int, ...]) -> list[tuple[int, str, str]]:
    """(width, command, word) for each word of a help text that `--help` does not show
    whole at that width."""
    group = gen_docs.cli_group()
    broken = []
    for width in widths:
        for name, command in gen_docs.all_commands(group):
            context = command.context_class(
                command, info_name=f"tapesched {name}", terminal_width=width,
                max_content_width=width,
            )  # fmt: skip
            shown = set(command.get_help(context).split())
            texts = [param.help or "" for param in command.params] + [command.help or ""]
            broken += [
                (width, name, word)
                for text in texts
                for word in text.split()
                if word not in shown and word != "\b"
            ]
    return broken


def test_help_never_breaks_a_word_at_common_widths() -> None:
    assert broken_words((80, 100, 132)) == []


def test_help_never_breaks_a_word_even_in_a_narrow_terminal() -> None:
    # Every command's class is tapesched.cli.options.HelpCommand, whose wrapper puts a word
    # longer than the column on a line of its own instead of cutting it.
    assert broken_words((30, 40, 50, 60)) == []


# --- covers every command --------------------------------------------------------


def unroff(text: str) -> str:
    """Roff source to plain text, enough to find names in it."""
    text = re.sub(r"\\f[BIRP]", "", text)
    for escaped, plain in [(r"\-", "-"), (r"\(aq", "'"), (r"\(dq", '"'), (r"\e", "\\")]:
        text = text.replace(escaped, plain)
    return text.replace(r"\~", " ").replace(r"\&", "")


def command_sections(man_text: str) -> dict[str, str]:
    """Under .SH COMMANDS: each .SS heading (a command, or a group's command: "pool add")
    and the text below it."""
    match = re.search(r"^\.SH COMMANDS\n(.*?)(?=^\.SH )", man_text, flags=re.M | re.S)
    assert match, "no COMMANDS section"
    sections: dict[str, str] = {}
    heading = None
    for line in unroff(match.group(1)).split("\n"):
        if line.startswith(".SS "):
            heading = " ".join(line[4:].strip('"').split())
            sections[heading] = ""
        elif heading is not None:
            sections[heading] += line + "\n"
    return sections


def tagged_lines(section: str) -> list[str]:
    """The tag lines of the .TP paragraphs in a section."""
    lines = section.split("\n")
    return [lines[index + 1] for index, line in enumerate(lines[:-1]) if line == ".TP"]


def missing_from_man(group: typer.core.TyperGroup, man_text: str) -> list[str]:
    """Every visible command (a group's commands included) and option of the parser that
    the page does not document."""
    sections = command_sections(man_text)
    missing = []
    for name, command in gen_docs.all_commands(group):
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
    assert {"add", "tick", "completion", "pool", "media", "restore-points"} <= set(visible)
    documented = [name for name, _ in gen_docs.all_commands(group)]
    assert {"pool add", "library inventory", "media label"} <= set(documented)
    assert "pool" not in documented  # a group is documented by its commands
    assert missing_from_man(group, MAN.read_text(encoding="utf-8")) == []


def test_a_group_command_missing_from_the_page_fails_the_check() -> None:
    committed = MAN.read_text(encoding="utf-8")
    without = committed.replace('.SS "pool edit"\n', '.SS "pool gone"\n')
    assert without != committed
    missing = missing_from_man(gen_docs.cli_group(), without)
    assert "command pool edit" in missing


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
def home_with_task(run_cli, home: Path) -> Path:
    """The state folder (conftest's `home`, tmp_path/home) with a task, added in this
    process: what is tested is how a real process completes from it."""
    done = run_cli("add", "nightly", "--daily", "02:00", "--command", "true")
    assert done.code == 0, done.err
    return home


@pytest.fixture
def home_with_media(run_cli, home_with_task: Path, tmp_path: Path) -> Path:
    """The state folder with a task, a pool, a virtual library and a volume, so that every
    completion of a name (task, pool, library, volume) has something to offer."""
    for args in (
        ["pool", "add", "weekly", "--retention-days", "35"],
        ["library", "add", "vlib", "--path", str(tmp_path / "vlib"), "--slots", "2",
         "--capacity", "64K"],
        ["media", "label", "VLIB001", "--pool", "weekly", "--library", "vlib", "--slot", "1"],
    ):  # fmt: skip
        done = run_cli(*args)
        assert done.code == 0, (args, done.err)
    return home_with_task


@pytest.fixture
def complete(run_cli, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    """Ask tapesched's entry point for completions in this process, through the protocol
    the generated scripts use (_TAPESCHED_COMPLETE, COMP_WORDS, COMP_CWORD), its parser
    built once per test. (The tests above ask a real process the same way, and the shells
    ask one through their scripts.)"""
    build_parser_once(monkeypatch)
    for name in list(os.environ):
        if name.startswith(("_TYPER_", "COMP_")):
            monkeypatch.delenv(name)

    def ask(home: Path, words: str, cword: int):  # noqa: ANN202 - a helpers.Result
        monkeypatch.setenv("TAPESCHED_HOME", str(home))
        monkeypatch.setenv("_TAPESCHED_COMPLETE", "complete_bash")
        monkeypatch.setenv("COMP_WORDS", words)
        monkeypatch.setenv("COMP_CWORD", str(cword))
        return run_cli()

    return ask


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
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert done.stdout.split() == ["nightly"]

    done = cli(env={**env, "COMP_WORDS": "tapesched sta", "COMP_CWORD": "1"})
    assert done.returncode == 0 and done.stderr == "", done.stderr
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


def test_completion_completes_the_shell_names(home_with_task: Path, shim: Path) -> None:
    env = clean_env(home_with_task, _TAPESCHED_COMPLETE="complete_bash")
    done = cli(env={**env, "COMP_WORDS": "tapesched completion ", "COMP_CWORD": "2"})
    assert done.returncode == 0 and done.stdout.split() == ["bash", "zsh", "fish"]
    done = cli(env={**env, "COMP_WORDS": "tapesched completion z", "COMP_CWORD": "2"})
    assert done.stdout.split() == ["zsh"]
    path = f"{shim}{os.pathsep}{os.environ.get('PATH', '')}"
    shells = {
        "bash": (
            ["bash", "-c"],
            "source completions/tapesched.bash\n"
            "COMP_WORDS=(tapesched completion f); COMP_CWORD=2\n"
            "_tapesched_completion tapesched f completion\n"
            'printf "%s\\n" "${COMPREPLY[@]}"\n',
            lambda out: out.split() == ["fish"],
        ),
        "zsh": (
            ["zsh", "-df", "-c"],
            f"fpath=({COMPLETIONS} $fpath); autoload -Uz compinit && compinit -D -u\n"
            '_arguments() { print -r -- "$*" }\n'
            "words=(tapesched completion ''); CURRENT=3\n"
            "$_comps[tapesched]\n",
            lambda out: all(f'"{shell}"' in out for shell in ("bash", "zsh", "fish")),
        ),
        "fish": (
            ["fish", "--no-config", "-c"],
            f"source {COMPLETIONS / 'tapesched.fish'}; complete -C 'tapesched completion '",
            lambda out: sorted(out.split()) == ["bash", "fish", "zsh"],
        ),
    }
    tried = 0
    for shell, (argv, script, ok) in shells.items():
        if shutil.which(shell) is None:
            continue
        tried += 1
        done = subprocess.run(
            [*argv, script],
            capture_output=True,
            text=True,
            env=clean_env(home_with_task, PATH=path),
            cwd=ROOT,
            timeout=60,
        )
        assert done.returncode == 0, (shell, done.stderr)
        assert ok(done.stdout), (shell, done.stdout)
    if not tried:
        pytest.skip("none of bash, zsh, fish is installed")


def test_every_value_completion_answers(home_with_media: Path, complete) -> None:
    """Each option or argument that completes values (added by anyone, in a group's commands
    too) offers some for an empty word, through the protocol the generated scripts use,
    without an error."""
    group = gen_docs.cli_group()
    seen: set[tuple[str, ...]] = set()
    asked = 0
    for name, command in gen_docs.all_commands(group):
        positional = [p for p in command.params if p.param_type_name == "argument"]
        for param in command.params:
            completes = getattr(param, "_custom_shell_complete", None) is not None or getattr(
                getattr(param, "type_descriptor", None), "is_choice", False
            )
            key = tuple(param.opts) if param.param_type_name == "option" else (param.name,)
            if not completes or key in seen:
                continue
            if param.param_type_name == "argument" and param is not positional[0]:
                continue
            seen.add(key)
            words = f"tapesched {name} " + (
                f"{param.opts[0]} " if param.param_type_name == "option" else ""
            )
            done = complete(home_with_media, words, len(words.split()))
            asked += 1
            assert done.code == 0 and done.err == "", (words, done.err)
            assert done.out.split(), f"{words!r} completes nothing"
    assert asked >= 6  # at least tasks, shells, pools, libraries, volumes, volume states


def test_group_commands_and_media_names_complete(home_with_media: Path, complete) -> None:
    for words, expected in [
        ("tapesched pool ", ["add", "list", "edit", "delete"]),
        ("tapesched pool edit w", ["weekly"]),
        ("tapesched media list --pool ", ["weekly", "scratch"]),
        ("tapesched media show V", ["VLIB001"]),
        ("tapesched library inventory ", ["vlib"]),
        ("tapesched media list --state f", ["full"]),
    ]:
        cword = len(words.split()) - (0 if words.endswith(" ") else 1)
        done = complete(home_with_media, words, cword)
        assert done.code == 0, (words, done.err)
        assert done.out.split() == expected, (words, done.out)
