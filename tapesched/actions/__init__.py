"""Action types and the validation of their configs (cheap: no heavy imports).

Each action module (backup, recovery, cleanup, health_check, retention_check,
custom) exposes ``run(config, context) -> dict``; this package only knows
their config schemas, so `add` and `edit` can check them without importing
the actions themselves.
"""

from __future__ import annotations

import os
import re
import shlex
import stat
from collections.abc import Callable
from typing import Any

from tapesched.errors import InvalidInput

ACTION_TYPES = (
    "backup", "recovery", "cleanup", "health_check", "retention_check", "verify", "custom",
)  # fmt: skip


def _string(value: Any) -> bool:
    return isinstance(value, str) and value != "" and "\x00" not in value


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


def _int_between(low: int, high: int) -> Callable[[Any], bool]:
    return lambda value: _int_at_least(low)(value) and value <= high


def _number_between(low: float, high: float) -> Callable[[Any], bool]:
    return lambda value: _positive_number(value) and low < value <= high


def _string_items(value: Any) -> bool:
    return isinstance(value, list) and all(_string(item) for item in value)


def _point(value: Any) -> bool:
    return value == "latest" or (isinstance(value, str) and bool(_EXECUTION_ID.match(value)))


def _pool(value: Any) -> bool:
    return isinstance(value, str) and bool(_POOL.fullmatch(value)) and value != "scratch"


def _volume(value: Any) -> bool:
    return isinstance(value, str) and bool(_LABEL.fullmatch(value))


# The media names (tapesched.media.labels says the same; kept here so that checking a
# config imports nothing more).
_POOL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
_EXECUTION_ID = re.compile(r"^[0-9a-fA-F-]{8,36}$")
# Bounds that keep date arithmetic far from overflow (and catch typos).
MAX_DAYS = 36500
MAX_HOURS = 24 * 3660


# key -> (check, accepted form, required)
SCHEMAS: dict[str, dict[str, tuple[Callable[[Any], bool], str, bool]]] = {
    "backup": {
        "source_paths": (_string_list, "a non-empty list of absolute paths", True),
        "device": (
            _string,
            "a tape drive such as /dev/nst0 or a directory (with a pool: where its volumes "
            "are loaded)",
            False,
        ),
        "pool": (_pool, "the name of a pool (see 'tapesched pool add')", False),
        "library": (_volume, "the name of a library (see 'tapesched library add')", False),
        "drive": (_int_between(0, 63), "the index of one of the library's drives, 0-63", False),
        "task_type": (
            lambda v: v in ("full", "differential", "incremental"),
            "full, differential or incremental",
            False,
        ),
        "levels": (
            lambda v: isinstance(v, list),
            'a list of rules such as {"level": "full", "on": "1st sun"}, the first matching '
            "a run's date giving its level",
            False,
        ),
        "compression_enabled": (_bool, "true or false", False),
        "exclude": (_string_items, "a list of tar --exclude patterns", False),
        "block_size": (
            lambda v: _int_at_least(1)(v) and v <= 4096,
            "a tar blocking factor, 1-4096 records of 512 bytes",
            False,
        ),
    },
    "recovery": {
        "from_task": (_task_ref, "the name or id of a backup task", True),
        "point": (_point, "latest or the execution id of a backup (8+ hex characters)", False),
        "target_path": (_string, "an absolute path", True),
        "paths": (
            _string_items,
            "a list of backed-up paths to restore (/data/x), without '..'",
            False,
        ),
        "overwrite": (_bool, "true or false", False),
    },
    "cleanup": {
        "retention_days": (
            _int_between(1, MAX_DAYS),
            f"a whole number of days, 1-{MAX_DAYS}",
            True,
        ),
        "include_archives": (_bool, "true or false", False),
    },
    "health_check": {
        "devices": (
            _string_items,
            "a list of tape drives, virtual-tape directories or library:NAME",
            False,
        ),
        "min_free_mb": (_int_at_least(0), "a whole number of MiB, 0 or more", False),
    },
    "retention_check": {
        "tasks": (
            lambda v: isinstance(v, list) and bool(v) and all(_task_ref(i) for i in v),
            "a list of backup task names or ids",
            False,
        ),
        "max_age_hours": (
            _number_between(0, MAX_HOURS),
            f"a number of hours above 0, at most {MAX_HOURS}",
            False,
        ),
        "retention_days": (
            _int_between(1, MAX_DAYS),
            f"a whole number of days, 1-{MAX_DAYS}",
            False,
        ),
    },
    "verify": {
        "from_task": (_task_ref, "the name or id of a backup task", False),
        "volume": (_volume, "the label of a volume", False),
        "restore_test": (_bool, "true or false", False),
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

DEVICE_FIELD = "action_config.device"
ABSOLUTE_PATH_KEYS = {"backup": ("source_paths",), "recovery": ("target_path",)}


def validate_action(action_type: str, config: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Given an action type and its config, return (config, warnings).

    The config is stored as given, except `device`, normalized (/srv/vtape/ ->
    /srv/vtape) because it names the device lock: two spellings of one drive
    must never run two jobs at once, and a backup's `levels`, normalised by
    tapesched.levels. Raise InvalidInput naming the field and the
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
    if action_type == "backup":
        _check_media_keys(config)
        if "levels" in config:
            config = {**config, "levels": _check_levels(config)}
    if action_type == "verify" and ("from_task" in config) == ("volume" in config):
        raise InvalidInput(
            "action_config: verify takes from_task (a backup task's latest restore point) "
            "or volume (every piece on one volume), one of them"
        )
    if action_type == "verify" and "volume" in config and "restore_test" in config:
        raise InvalidInput("action_config.restore_test: only with from_task, not with volume")
    if isinstance(config.get("device"), str):
        config = {**config, "device": os.path.normpath(config["device"])}
    warnings: list[str] = []
    for key in ABSOLUTE_PATH_KEYS.get(action_type, ()):
        values = config[key] if isinstance(config[key], list) else [config[key]]
        for value in values:
            if not os.path.isabs(value):
                raise InvalidInput(f"action_config.{key}: '{value}' is not an absolute path")
    if action_type == "backup":
        _check_sources(config["source_paths"])
        for path in config["source_paths"]:
            if not os.path.lexists(path):
                warnings.append(f"source path {path} does not exist now; it is checked at run time")
        if "device" in config and device_kind(config["device"]) == "directory":
            _check_device_outside(config["device"], config["source_paths"])
            if not os.path.lexists(config["device"]):
                warnings.append(
                    f"virtual tape {config['device']} does not exist now; "
                    "it is created (mode 0700) at the first backup"
                )
    if action_type == "recovery":
        for path in config.get("paths", []):
            parts = path.strip("/").split("/")
            if not path.strip("/") or ".." in parts:
                raise InvalidInput(
                    f"action_config.paths: '{path}' is not valid; expected a backed-up path "
                    "such as /data/projects, without '..'"
                )
        target = config["target_path"]
        if _non_empty_dir(target) and not config.get("overwrite"):
            warnings.append(
                f"target_path {target} is not empty now; the run refuses a non-empty target "
                "unless overwrite is true"
            )
        elif os.path.lexists(target) and not os.path.isdir(target):
            warnings.append(f"target_path {target} exists and is not a directory")
    if action_type == "health_check":
        for device in config.get("devices", []):
            if device.startswith("library:") and _volume(device.removeprefix("library:")):
                continue  # a library (its inventory is checked)
            device_kind(device)
    return config, warnings


def _check_media_keys(config: dict[str, Any]) -> None:
    """A backup writes to a device (no media tracking), or to a pool's volumes found in a
    library or in a drive: one place, said once."""
    if "pool" not in config:
        if "library" in config or "drive" in config:
            key = "library" if "library" in config else "drive"
            raise InvalidInput(
                f"action_config.{key}: only with a pool (the library holds the pool's volumes)"
            )
        if "device" not in config:
            raise InvalidInput(
                "action_config.device: required for backup; expected a tape drive such as "
                "/dev/nst0 or a directory (or a pool with a library or a device)"
            )
        return
    if ("library" in config) == ("device" in config):
        raise InvalidInput(
            "action_config: a backup to a pool takes library (a library holding the pool's "
            "volumes) or device (a drive an operator loads), one of them"
        )
    if "drive" in config and "library" not in config:
        raise InvalidInput("action_config.drive: only with a library")


def _check_levels(config: dict[str, Any]) -> list[dict[str, str]]:
    """A backup's level is one task_type or levels by date, not both; the rules checked and
    normalised (tapesched.levels)."""
    from tapesched.levels import check_rules

    if "task_type" in config:
        raise InvalidInput(
            "action_config: a backup takes task_type (one level for every run) or levels "
            "(a level by date), not both"
        )
    return check_rules(config["levels"], "action_config.levels")


def _non_empty_dir(path: str) -> bool:
    try:
        return os.path.isdir(path) and bool(os.listdir(path))
    except OSError:
        return False


def _check_device_outside(device: str, sources: list[str]) -> None:
    """Refuse a virtual tape inside a source: every backup would hold all the earlier ones."""
    folder = os.path.normpath(device)
    for source in sources:
        top = os.path.normpath(source)
        if folder == top or folder.startswith(top.rstrip("/") + "/"):
            raise InvalidInput(
                f"action_config.device: the virtual tape {device} is inside the source {source}; "
                "each backup would contain the earlier ones; put it outside the sources"
            )


def _check_sources(sources: list[str]) -> None:
    """Refuse a source given twice or inside another: tar would store it twice."""
    normalized = [os.path.normpath(path) for path in sources]
    for index, first in enumerate(normalized):
        for second in normalized[index + 1 :]:
            if first == second:
                raise InvalidInput(f"action_config.source_paths: {first} is given twice")
            outer, inner = sorted((first, second), key=len)
            if inner.startswith(outer.rstrip("/") + "/"):
                raise InvalidInput(
                    f"action_config.source_paths: {inner} is inside {outer}; give only {outer}"
                )


def device_kind(device: str) -> str:
    """Given a device setting, return 'tape' or 'directory'; raise InvalidInput otherwise.

    A character device (or a path under /dev) is a tape drive; anything else
    must be a directory or not exist yet (a virtual tape is created at first use).
    """
    if not os.path.isabs(device):
        raise InvalidInput(
            f"'{device}' is not an absolute path; "
            "expected a tape drive such as /dev/nst0 or a directory used as a virtual tape",
            field=DEVICE_FIELD,
        )
    try:
        mode = os.stat(device).st_mode
    except FileNotFoundError:
        if device.startswith("/dev/"):
            _refuse_rewinding(device)
            return "tape"
        return "directory"
    except OSError as error:
        raise InvalidInput(f"{device}: {error.strerror}", field=DEVICE_FIELD) from None
    if stat.S_ISCHR(mode):
        _refuse_rewinding(device)
        return "tape"
    if stat.S_ISDIR(mode):
        return "directory"
    raise InvalidInput(
        f"'{device}' is neither a tape drive (character device) nor a directory",
        field=DEVICE_FIELD,
    )


def _refuse_rewinding(device: str) -> None:
    # /dev/st0 rewinds at every close: `mt eod` then tar would write over the first archive.
    if re.match(r"^st\d+[lma]?$", os.path.basename(device)):
        raise InvalidInput(
            f"'{device}' is a rewinding tape device; every close rewinds "
            "the tape and the next archive would overwrite the first; use the non-rewinding "
            f"node {os.path.join(os.path.dirname(device), 'n' + os.path.basename(device))}",
            field=DEVICE_FIELD,
        )
