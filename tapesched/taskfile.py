"""Tasks kept as a TOML file: what `apply` reads and what `export` writes.

The whole file is checked before anything changes, each task by the same
rules as `add` (tapesched.spec); tapesched.tasks.apply_specs then makes every
change in one transaction. Applying the file `export` printed changes nothing.

A file may also hold the pools its backups name, as `[[pool]]` tables (name,
retention_days): apply creates the missing ones and changes the retention of the
others (apply_pools), never deletes one; export writes every pool before the tasks.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tapesched.errors import InvalidInput, printable
from tapesched.spec import FIELDS, MAX_DEPTH, TaskSpec, changes_from, new_spec

REQUIRED = ("task_name", "schedule_type", "schedule_config", "action_type", "action_config")
POOL_FIELDS = ("name", "retention_days")
MAX_RETENTION_DAYS = 36500


@dataclass(frozen=True)
class PoolSpec:
    """A [[pool]] table: a pool's name and how many days its backups are kept."""

    name: str
    retention_days: int


@dataclass
class PoolPlan:
    """What `apply` does (or would do) to the pools: names, by what happens to them."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def parse(text: str, source: str, host_zone: str) -> list[TaskSpec]:
    """Given TOML text, return the validated task specs (its pools are checked too).

    Raise InvalidInput naming the task and the field for the first problem.
    """
    return parse_file(text, source, host_zone)[1]


def parse_file(text: str, source: str, host_zone: str) -> tuple[list[PoolSpec], list[TaskSpec]]:
    """Given TOML text, return its validated pools and task specs.

    Raise InvalidInput naming the pool or the task, and the field, for the first problem.
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
    extra = set(document) - {"task", "pool"}
    if extra:
        raise InvalidInput(
            f"{source}: unknown top-level key {sorted(extra)[0]!r}; expected [[task]] or [[pool]]"
        )
    pools = _pools(_tables(document, "pool", source), source)
    seen: set[str] = set()
    specs = []
    for index, entry in enumerate(_tables(document, "task", source), start=1):
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
    return pools, specs


def _tables(document: dict[str, Any], key: str, source: str) -> list[dict[str, Any]]:
    """The array of tables `key` ([[task]], [[pool]]) of a document ([] without one)."""
    entries = document.get(key, [])
    if isinstance(entries, dict):
        raise InvalidInput(
            f"{source}: '{key}' is a single table ([{key}]); expected an array of tables: "
            f"write [[{key}]] before each {key}"
        )
    if not isinstance(entries, list):
        raise InvalidInput(
            f"{source}: '{key}' is {_kind(entries)}; expected an array of tables ([[{key}]])"
        )
    for index, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise InvalidInput(
                f"{source}: {key} #{index} is {_kind(entry)}, not a table; expected [[{key}]]"
            )
    return entries


def _pools(entries: list[dict[str, Any]], source: str) -> list[PoolSpec]:
    """The [[pool]] tables, each checked: a pool name (not scratch), days 1-36500."""
    from tapesched.media.labels import check_pool_name

    pools: dict[str, PoolSpec] = {}
    for index, entry in enumerate(entries, start=1):
        name = entry.get("name")
        shown = printable(name) if isinstance(name, str) and name.strip() else f"#{index}"
        where = f"{source}: pool {shown}"
        unknown = [key for key in entry if key not in POOL_FIELDS]
        if unknown:
            raise InvalidInput(
                f"unknown field; accepted: {', '.join(POOL_FIELDS)}", field=f"{where}: {unknown[0]}"
            )
        for required in POOL_FIELDS:
            if required not in entry:
                raise InvalidInput("required", field=f"{where}: {required}")
        if not isinstance(name, str):
            raise InvalidInput(f"is {_kind(name)}; expected a pool name", field=f"{where}: name")
        try:
            check_pool_name(name)
        except InvalidInput as error:
            raise error.within(f"{where}: name") from None
        days = entry["retention_days"]
        if isinstance(days, bool) or not isinstance(days, int):
            raise InvalidInput(
                f"is {_kind(days)}; expected whole days, 1-{MAX_RETENTION_DAYS}",
                field=f"{where}: retention_days",
            )
        if not 1 <= days <= MAX_RETENTION_DAYS:
            raise InvalidInput(
                f"{days} is out of range; expected days, 1-{MAX_RETENTION_DAYS}",
                field=f"{where}: retention_days",
            )
        if name in pools:
            raise InvalidInput("defined twice in the file", field=f"{where}: name")
        pools[name] = PoolSpec(name, days)
    return list(pools.values())


def apply_pools(db: Any, pools: list[PoolSpec], now: datetime, dry_run: bool = False) -> PoolPlan:
    """Create the missing pools and set the retention of the others, in one transaction
    (the caller's, if it has one); with `dry_run`, only say what would change. A pool
    missing from the file is left alone."""
    from tapesched.store import media as catalog

    plan = PoolPlan()
    with db.write():
        for pool in pools:
            found = catalog.get_pool(db, pool.name)
            if found is None:
                plan.created.append(pool.name)
                if not dry_run:
                    catalog.add_pool(db, pool.name, pool.retention_days, now)
            elif found.retention_days != pool.retention_days:
                plan.updated.append(pool.name)
                if not dry_run:
                    catalog.set_pool_retention(db, pool.name, pool.retention_days)
            else:
                plan.unchanged.append(pool.name)
    return plan


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


def export(tasks: list[Any], pools: Sequence[Any] = ()) -> str:
    """Every pool, then every task (in the order given) as TOML, in the form `apply`
    reads."""
    blocks = [
        f"[[pool]]\nname = {toml_value(pool.name)}\nretention_days = {pool.retention_days}"
        for pool in pools
    ]
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
