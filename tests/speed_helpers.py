"""Helpers that make tests cheaper without changing what they check (importable as
`speed_helpers`: pytest's pythonpath has tests/).

- `build_parser_once`: the in-process CLI (conftest's `run_cli`) builds Typer's Click
  command from `tapesched.cli.app` on every call, which is most of what an in-process
  call costs. A real `tapesched` process builds it once and parses one command line with
  it; here it is built once per test and reused for each call of that test. Parsing,
  commands, help and completion are Click's and tapesched's own code as before: help
  reads the terminal's width and completion its variables when they run, not when the
  command is built.
- `reaped`: a process the test started itself is reaped as soon as it exits, as init
  reaps an orphaned job, so that whoever waits for its process group to empty (a zombie
  leader still counts as a member) sees it gone at once.
"""

from __future__ import annotations

import subprocess
import threading

import pytest


def build_parser_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Until the test ends, the in-process CLI reuses one Click command built from
    tapesched's app (other Typer apps are built as before)."""
    import typer.main

    from tapesched.cli import app

    build = typer.main.get_command
    built = build(app)

    def get_command(typer_instance: typer.Typer):  # noqa: ANN202 - a Click command
        return built if typer_instance is app else build(typer_instance)

    monkeypatch.setattr(typer.main, "get_command", get_command)


class Reaped:
    """A child process waited for by a thread of its own: `exited` is set once it has
    exited and been reaped."""

    def __init__(self, child: subprocess.Popen) -> None:
        self.child = child
        self.exited = threading.Event()
        self._thread = threading.Thread(target=self._wait, daemon=True)
        self._thread.start()

    def _wait(self) -> None:
        self.child.wait()
        self.exited.set()

    def alive(self) -> bool:
        return not self.exited.is_set()

    def kill(self) -> None:
        if self.alive():
            try:
                self.child.kill()
            except ProcessLookupError:
                pass
        self.exited.wait(10)


def reaped(child: subprocess.Popen) -> Reaped:
    return Reaped(child)
