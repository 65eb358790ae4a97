"""custom: run a command (an argument list; a shell only with "shell": true)."""

from __future__ import annotations

import os
import shlex
from typing import Any

from tapesched.errors import ActionFailed
from tapesched.job import JobContext


def build_argv(config: dict[str, Any]) -> list[str]:
    """Given the config, return the argument list to run."""
    command = config["command"]
    if config.get("shell"):
        text = command if isinstance(command, str) else shlex.join(command)
        return ["/bin/sh", "-c", text]
    return shlex.split(command) if isinstance(command, str) else list(command)


def run(config: dict[str, Any], context: JobContext) -> dict[str, Any]:
    argv = build_argv(config)
    cwd = config.get("cwd")
    if cwd and not os.path.isdir(cwd):
        raise ActionFailed(f"cwd {cwd} is not a directory")
    env = {**os.environ, **config.get("env", {})} if config.get("env") else None
    success = config.get("success_exit_codes", [0])
    context.log(f"running {shlex.join(argv)}")
    code, _ = context.run(argv, cwd=cwd, env=env)
    result = {"exit_code": code, "command": argv}
    if code not in success:
        if code < 0:
            raise ActionFailed(f"command killed by signal {-code}", result)
        raise ActionFailed(f"command exited with {code}", result)
    return result
