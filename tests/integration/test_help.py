"""Help text and completion (issue 9, class 7): help that never breaks a word at any width,
one metavariable per option everywhere, and option values that complete."""

from __future__ import annotations

import re

import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from speed_helpers import build_parser_once

from tapesched.cli import app

# The commands whose help tapesched.cli.options.HelpCommand lays out.
COMMANDS = (
    "add", "edit", "delete", "enable", "disable", "list", "show", "preview", "tick", "run",
    "stop", "logs", "output",
)  # fmt: skip


@pytest.fixture(autouse=True)
def _parser_built_once(monkeypatch):
    """The in-process CLI (run_cli) and group() build the parser once per test, not once
    per call; help reads the terminal's width each time it is shown."""
    build_parser_once(monkeypatch)


def group() -> typer.core.TyperGroup:
    return typer.main.get_command(app)


def source_words(name: str) -> set[str]:
    """Every word of a command's own help and of its parameters' help."""
    command = group().commands[name]
    texts = [command.help or ""] + [getattr(param, "help", None) or "" for param in command.params]
    return {word for text in texts for word in text.split() if word != "\b"}


def test_help_never_breaks_a_word_at_any_width(run_cli, monkeypatch):
    tried = 0

    @settings(max_examples=40, deadline=None)
    @given(width=st.integers(20, 300), name=st.sampled_from(COMMANDS))
    def check(width: int, name: str) -> None:
        nonlocal tried
        tried += 1
        monkeypatch.setenv("COLUMNS", str(width))
        result = run_cli(name, "--help")
        assert result.code == 0, result.err
        tokens = set(result.out.split())
        broken = source_words(name) - tokens
        assert not broken, (width, name, sorted(broken)[:5])
        limit = min(width, 80)
        for line in result.out.splitlines():
            # A line is as wide as the terminal, unless it is one word longer than that.
            assert len(line) <= limit or len(line.split()) == 1, (width, line)

    check()
    print(f"help: {tried} command and width pairs")


def test_help_never_breaks_a_word_at_the_narrowest_widths(run_cli, monkeypatch):
    for width in (20, 21, 30, 40, 52, 60, 80):
        monkeypatch.setenv("COLUMNS", str(width))
        for name in COMMANDS:
            out = run_cli(name, "--help").out
            assert not (source_words(name) - set(out.split())), (width, name)
            assert not re.search(r"\w-\n", out)  # no break at a hyphen


def test_an_option_has_one_metavariable_everywhere():
    seen: dict[str, dict[str, str]] = {}
    for name, command in group().commands.items():
        for param in command.params:
            if isinstance(param, typer.core.TyperOption) and not param.is_flag:
                metavar = param.metavar or ""
                for option in param.opts:
                    seen.setdefault(option, {})[name] = metavar
    different = {option: uses for option, uses in seen.items() if len(set(uses.values())) > 1}
    assert not different
    expected = {
        "--timeout": "SECONDS", "--misfire-grace": "SECONDS", "--device-wait": "SECONDS",
        "--grace": "SECONDS", "--timezone": "ZONE", "--from-task": "TASK", "--daily": "TIME",
        "--at": "TIME", "--once": "DATETIME", "--from": "DATETIME", "--now": "DATETIME",
        "--since": "DATETIME", "--until": "DATETIME", "--count": "N", "--limit": "N",
        "--offset": "N", "--max-concurrent": "N", "--action": "ACTION", "--status": "STATUS",
        "--misfire": "POLICY", "--notify-on": "WHEN", "--level": "LEVEL",
    }  # fmt: skip
    for option, metavar in expected.items():
        assert set(seen[option].values()) == {metavar}, option
    for name in COMMANDS:
        for param in group().commands[name].params:
            if isinstance(param, typer.core.TyperArgument):
                assert param.metavar and param.metavar.isupper() or "|" in param.metavar, name


COMPLETIONS = [
    ("tapesched add x --action he", "health_check"),
    ("tapesched add x --level inc", "incremental"),
    ("tapesched edit x --misfire s", "skip"),
    ("tapesched add x --notify-on al", "always"),
    ("tapesched logs --status can", "cancelled"),
    ("tapesched add x --timezone Europe/Berl", "Europe/Berlin"),
    ("tapesched preview --tz America/New_Y", "America/New_York"),
    ("tapesched add x --schedule-type mon", "monthly"),
]


@pytest.mark.parametrize(("words", "expected"), COMPLETIONS)
def test_option_values_complete(run_cli, monkeypatch, words, expected):
    monkeypatch.setenv("_TAPESCHED_COMPLETE", "complete_bash")
    monkeypatch.setenv("COMP_WORDS", words)
    monkeypatch.setenv("COMP_CWORD", str(len(words.split()) - 1))
    result = run_cli()
    assert result.code == 0, result.err
    assert result.out.split() == [expected]


def test_zone_completion_offers_every_zone_of_a_region(run_cli, monkeypatch):
    from zoneinfo import available_timezones

    monkeypatch.setenv("_TAPESCHED_COMPLETE", "complete_bash")
    monkeypatch.setenv("COMP_WORDS", "tapesched add x --timezone Australia/")
    monkeypatch.setenv("COMP_CWORD", "4")
    offered = run_cli().out.split()
    assert offered == sorted(z for z in available_timezones() if z.startswith("Australia/"))
