"""Tasks kept as a TOML file: what `apply` reads and what `export` writes.

The whole file is checked before anything changes, each task by the same
rules as `add` (tapesched.spec); tapesched.tasks.apply_specs then makes every
change in one transaction. Applying the file `export` printed changes nothing.
"""

from __future__ import annotations

import json
import tomllib
from typing import Any

from tapesched.errors import InvalidInput, printable
from tapesched.spec import FIELDS, MAX_DEPTH, TaskSpec, changes_from, new_spec

REQUIRED = ("task_name", "schedule_type", "schedule_config", "action_type", "action_config")


def parse(text: str, source: str, host_zone: str) -> list[TaskSpec]:
    """Given TOML text, return the validated task specs.

    Raise InvalidInput naming the task and the field for the first problem.
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InvalidInput(f"{source}: not valid TOML ({error})") from None
    except RecursionError:
        raise InvalidInput(
            f"{source}: arrays or tables nested too deeply to read; expected at most "
            f"{MAX_DEPTH} levels"
        ) from None
    except ValueError as error:  # a whole number of thousands of digits, say
        raise InvalidInput(f"{source}: not valid TOML ({_first_line(error)})") from None
    extra = set(document) - {"task"}
    if extra:
        raise InvalidInput(
            f"{source}: unknown top-level key {sorted(extra)[0]!r}; expected [[task]]"
        )
    entries = document.get("task", [])
    if isinstance(entries, dict):
        raise InvalidInput(
            f"{source}: 'task' is a single table ([task]); expected an array of tables: "
            "write [[task]] before each task"
        )
    if not isinstance(entries, list):
        raise InvalidInput(
            f"{source}: 'task' is {_kind(entries)}; expected an array of tables ([[task]])"
        )
    seen: set[str] = set()
    specs = []
    for index, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise InvalidInput(
                f"{source}: task #{index} is {_kind(entry)}, not a table; expected [[task]]"
            )
        name = entry.get("task_name")
        shown = printable(name) if isinstance(name, str) and name.strip() else f"#{index}"
        where = f"{source}: task {shown}"
        try:
            spec = _spec(entry, host_zone)
        except InvalidInput as error:
            raise error.within(where) from None
        if spec.task_name in seen:
            raise InvalidInput("defined twice in the file", field=f"{where}: task_name")
        seen.add(spec.task_name)
        specs.append(spec)
    return specs


def _kind(value: Any) -> str:
    """What a TOML value is, in words."""
    kinds = {bool: "true or false", int: "a number", float: "a number", str: "a string"}
    for kind, words in kinds.items():
        if isinstance(value, kind):
            return words
    return "an array" if isinstance(value, list) else "a date or time"


def _first_line(error: BaseException) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def _spec(entry: dict[str, Any], host_zone: str) -> TaskSpec:
    unknown = [key for key in entry if key not in FIELDS]
    if unknown:
        raise InvalidInput(f"unknown field; accepted: {', '.join(FIELDS)}", field=unknown[0])
    for required in REQUIRED:
        if required not in entry:
            raise InvalidInput("required", field=required)
    spec, _warnings = new_spec(changes_from(entry), host_zone)
    return spec


def export(tasks: list[Any]) -> str:
    """Every task (in the order given) as TOML, in the form `apply` reads."""
    blocks = []
    for task in tasks:
        lines = ["[[task]]"]
        for key in FIELDS:
            value = getattr(task, key)
            if value is None:
                continue
            lines.append(f"{key} = {toml_value(value)}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + ("\n" if blocks else "")


def toml_value(value: Any) -> str:
    """A TOML value: strings (JSON escapes are valid TOML), numbers, booleans, arrays,
    inline tables."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        items = ", ".join(
            f"{_toml_key(key)} = {toml_value(item)}" for key, item in value.items()
            if item is not None
        )  # fmt: skip
        return "{ " + items + " }" if items else "{}"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _toml_key(key: str) -> str:
    bare = key and all(char.isalnum() or char in "_-" for char in key) and key.isascii()
    return key if bare else json.dumps(key)
