"""Action types and the validation of their configs (cheap: no heavy imports).

Each action module (backup, recovery, cleanup, health_check, retention_check,
custom) exposes ``run(config, context) -> dict``; this package only knows
their config schemas, so `add` and `edit` can check them without importing
the actions themselves.
"""

from __future__ import annotations

import os
import shlex
import stat
from collections.abc import Callable
from typing import Any

from tapesched.errors import InvalidInput

ACTION_TYPES = ("backup", "recovery", "cleanup", "health_check", "retention_check", "custom")


def _string(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def _string_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(_string(item) for item in value)


def _bool(value: Any) -> bool:
    return isinstance(value, bool)


def _int_at_least(low: int) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, int) and not isinstance(value, bool) and value >= low


def _positive_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _command(value: Any) -> bool:
    if isinstance(value, str):
        try:
            return bool(shlex.split(value))
        except ValueError:
            return False
    return _string_list(value)


def _env(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(key, str) and key and "=" not in key and isinstance(item, str)
        for key, item in value.items()
    )


def _exit_codes(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(
            isinstance(code, int) and not isinstance(code, bool) and 0 <= code <= 255
            for code in value
        )
    )


def _task_ref(value: Any) -> bool:
    return _string(value) or (isinstance(value, int) and not isinstance(value, bool) and value > 0)


# key -> (check, accepted form, required)
SCHEMAS: dict[str, dict[str, tuple[Callable[[Any], bool], str, bool]]] = {
    "backup": {
        "source_paths": (_string_list, "a non-empty list of absolute paths", True),
        "device": (_string, "a tape drive such as /dev/nst0 or a directory", True),
        "task_type": (lambda v: v in ("full", "incremental"), "full or incremental", False),
        "compression_enabled": (_bool, "true or false", False),
        "exclude": (
            lambda v: isinstance(v, list) and all(_string(i) for i in v),
            "a list of tar --exclude patterns",
            False,
        ),
        "block_size": (
            lambda v: _int_at_least(1)(v) and v <= 4096,
            "a tar blocking factor, 1-4096 records of 512 bytes",
            False,
        ),
    },
    "recovery": {
        "from_task": (_task_ref, "the name or id of a backup task", True),
        "point": (_string, "latest or the execution id of a backup", False),
        "target_path": (_string, "an absolute path", True),
        "paths": (
            lambda v: isinstance(v, list) and all(_string(i) for i in v),
            "a list of paths inside the archive",
            False,
        ),
        "overwrite": (_bool, "true or false", False),
    },
    "cleanup": {
        "retention_days": (_int_at_least(1), "a whole number of days, at least 1", True),
        "include_archives": (_bool, "true or false", False),
    },
    "health_check": {
        "devices": (
            lambda v: isinstance(v, list) and all(_string(i) for i in v),
            "a list of devices",
            False,
        ),
        "min_free_mb": (_int_at_least(0), "a whole number of MiB, 0 or more", False),
    },
    "retention_check": {
        "tasks": (
            lambda v: isinstance(v, list) and all(_task_ref(i) for i in v),
            "a list of backup task names or ids",
            False,
        ),
        "max_age_hours": (_positive_number, "a number of hours above 0", False),
        "retention_days": (_int_at_least(1), "a whole number of days, at least 1", False),
    },
    "custom": {
        "command": (_command, "an argument list or a command string", True),
        "env": (_env, "an object of NAME: value strings", False),
        "cwd": (_string, "a directory path", False),
        "success_exit_codes": (_exit_codes, "a list of exit codes 0-255", False),
        "shell": (_bool, "true or false", False),
        "device": (
            _string,
            "a tape drive or directory the command uses (one job at a time)",
            False,
        ),
    },
}

ABSOLUTE_PATH_KEYS = {"backup": ("source_paths",), "recovery": ("target_path",)}


def validate_action(action_type: str, config: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Given an action type and its config, return (config, warnings).

    The config is stored as given. Raise InvalidInput naming the field and the
    accepted form for an unknown type, a missing or unknown key, a wrong type
    or a value out of range. Warnings name paths that do not exist yet (a mount
    may bring them); those are checked again at run time.
    """
    if action_type not in SCHEMAS:
        raise InvalidInput(
            f"action_type: '{action_type}' is unknown; expected one of {', '.join(ACTION_TYPES)}"
        )
    if not isinstance(config, dict):
        raise InvalidInput("action_config: expected a JSON object")
    schema = SCHEMAS[action_type]
    for key in config:
        if key not in schema:
            raise InvalidInput(
                f"action_config.{key}: unknown key for {action_type}; accepted: {', '.join(schema)}"
            )
    for key, (check, form, required) in schema.items():
        if key not in config:
            if required:
                raise InvalidInput(
                    f"action_config.{key}: required for {action_type}; expected {form}"
                )
            continue
        if not check(config[key]):
            raise InvalidInput(
                f"action_config.{key}: {config[key]!r} is not valid; expected {form}"
            )
    warnings: list[str] = []
    for key in ABSOLUTE_PATH_KEYS.get(action_type, ()):
        values = config[key] if isinstance(config[key], list) else [config[key]]
        for value in values:
            if not os.path.isabs(value):
                raise InvalidInput(f"action_config.{key}: '{value}' is not an absolute path")
    if action_type == "backup":
        for path in config["source_paths"]:
            if not os.path.exists(path):
                warnings.append(f"source path {path} does not exist now; it is checked at run time")
        device_kind(config["device"])
    if action_type == "health_check":
        for device in config.get("devices", []):
            device_kind(device)
    return config, warnings


def device_kind(device: str) -> str:
    """Given a device setting, return 'tape' or 'directory'; raise InvalidInput otherwise.

    A character device (or a path under /dev) is a tape drive; anything else
    must be a directory or not exist yet (a virtual tape is created at first use).
    """
    if not os.path.isabs(device):
        raise InvalidInput(
            f"action_config.device: '{device}' is not an absolute path; "
            "expected a tape drive such as /dev/nst0 or a directory used as a virtual tape"
        )
    try:
        mode = os.stat(device).st_mode
    except FileNotFoundError:
        return "tape" if device.startswith("/dev/") else "directory"
    except OSError as error:
        raise InvalidInput(f"action_config.device: {device}: {error.strerror}") from None
    if stat.S_ISCHR(mode):
        return "tape"
    if stat.S_ISDIR(mode):
        return "directory"
    raise InvalidInput(
        f"action_config.device: '{device}' is neither a tape drive (character device) "
        "nor a directory"
    )
