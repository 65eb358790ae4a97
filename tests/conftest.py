"""Shared fixtures: a state folder in tmp_path, the CLI in-process and as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tapesched import entry


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self):  # noqa: ANN201
        return json.loads(self.out)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh state folder; TAPESCHED_HOME points at it."""
    folder = tmp_path / "home"
    monkeypatch.setenv("TAPESCHED_HOME", str(folder))
    monkeypatch.delenv("TAPESCHED_DB", raising=False)
    monkeypatch.delenv("TAPESCHED_MAX_CONCURRENT_RUNS", raising=False)
    monkeypatch.delenv("TAPESCHED_HOST", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("TZ", "UTC")
    return folder


@pytest.fixture
def run_cli(home: Path, capsys: pytest.CaptureFixture[str]):  # noqa: ANN201
    """Run the CLI in this process (the real entry point, main()), return a Result."""

    def invoke(*args: str) -> Result:
        capsys.readouterr()
        try:
            entry.main(list(args))
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return invoke


@pytest.fixture
def sh(home: Path):  # noqa: ANN201
    """Run the CLI as a real process: `python -m tapesched ...`."""

    def invoke(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> Result:
        full_env = {**os.environ, **(env or {})}
        done = subprocess.run(
            [sys.executable, "-m", "tapesched", *args],
            capture_output=True,
            text=True,
            env=full_env,
            timeout=timeout,
        )
        return Result(done.returncode, done.stdout, done.stderr)

    return invoke
