"""Tasks kept as a TOML file: `apply` (idempotent create/update by name) and `export`.

The whole file is validated before anything changes; then every change is
made in one transaction. Applying the file `export` printed changes nothing.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session, select

from tapesched import manage, notify, schedule_config
from tapesched import schedule as schedules
from tapesched import store as db
from tapesched.actions import validate_action
from tapesched.errors import InvalidInput
from tapesched.models import Task
from tapesched.schedule_config import Schedule

# The file's keys: the seed's field names and the task options, in export order.
FIELDS = (
    "task_name", "description", "enabled", "schedule_type", "schedule_config", "timezone",
    "action_type", "action_config", "timeout", "misfire", "misfire_grace", "device_wait",
    "ping_url", "notify_command", "notify_on",
)  # fmt: skip
DEFAULTS: dict[str, Any] = {
    "description": "", "enabled": True, "timeout": None, "misfire": "run_once",
    "misfire_grace": None, "device_wait": 60, "ping_url": None, "notify_command": None,
    "notify_on": "failure",
}  # fmt: skip
SCHEDULE_FIELDS = ("schedule_type", "schedule_config", "timezone")


@dataclass
class Plan:
    create: list[dict[str, Any]] = field(default_factory=list)
    update: list[tuple[Task, dict[str, Any]]] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    delete: list[Task] = field(default_factory=list)


def parse(text: str, source: str, host_zone: str) -> list[dict[str, Any]]:
    """Given TOML text, return the validated, normalized task definitions.

    Raise InvalidInput naming the task and the field for the first problem.
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InvalidInput(f"{source}: not valid TOML ({error})") from None
    extra = set(document) - {"task"}
    if extra:
        raise InvalidInput(
            f"{source}: unknown top-level key {sorted(extra)[0]!r}; expected [[task]]"
        )
    entries = document.get("task", [])
    if not isinstance(entries, list):
        raise InvalidInput(f"{source}: 'task' must be an array of tables ([[task]])")
    seen: set[str] = set()
    tasks = []
    for index, entry in enumerate(entries, start=1):
        where = f"{source}: task {entry.get('task_name', f'#{index}')!s}"
        try:
            definition = _normalize(entry, host_zone)
        except InvalidInput as error:
            raise InvalidInput(f"{where}: {error.message}") from None
        if definition["task_name"] in seen:
            raise InvalidInput(f"{where}: task_name: defined twice in the file")
        seen.add(definition["task_name"])
        tasks.append(definition)
    return tasks


def _normalize(entry: dict[str, Any], host_zone: str) -> dict[str, Any]:
    unknown = [key for key in entry if key not in FIELDS]
    if unknown:
        raise InvalidInput(f"{unknown[0]}: unknown field; accepted: {', '.join(FIELDS)}")
    for required in (
        "task_name",
        "schedule_type",
        "schedule_config",
        "action_type",
        "action_config",
    ):
        if required not in entry:
            raise InvalidInput(f"{required}: required")
    definition = {**DEFAULTS, **entry}
    name = definition["task_name"]
    if not isinstance(name, str):
        raise InvalidInput("task_name: expected a string")
    manage.check_name(name)
    _expect(definition, "description", str)
    _expect(definition, "enabled", bool)
    zone = definition.get("timezone") or host_zone
    if not isinstance(zone, str):
        raise InvalidInput("timezone: expected an IANA zone name")
    schedule_config.validate_zone(zone)
    if not isinstance(definition["schedule_config"], dict):
        raise InvalidInput("schedule_config: expected a table")
    schedule = schedule_config.validate(
        str(definition["schedule_type"]), definition["schedule_config"], zone
    )
    definition.update(
        schedule_type=schedule.type, schedule_config=schedule.config, timezone=schedule.zone
    )
    if not isinstance(definition["action_config"], dict):
        raise InvalidInput("action_config: expected a table")
    definition["action_config"], _ = validate_action(
        str(definition["action_type"]), definition["action_config"]
    )
    for key in ("timeout", "misfire_grace", "device_wait"):
        value = definition[key]
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise InvalidInput(f"{key}: expected a whole number of seconds")
    manage.check_positive("timeout", definition["timeout"])
    manage.check_misfire(definition["misfire"], definition["misfire_grace"])
    if definition["device_wait"] is None or definition["device_wait"] < 0:
        raise InvalidInput("device_wait: expected seconds, 0 or more")
    if definition["ping_url"] is not None:
        _expect(definition, "ping_url", str)
        notify.check_ping_url(definition["ping_url"])
    if definition["notify_command"] is not None:
        _expect(definition, "notify_command", str)
    notify.check_notify(definition["notify_command"], definition["notify_on"])
    return definition


def _expect(definition: dict[str, Any], key: str, kind: type) -> None:
    if not isinstance(definition[key], kind):
        raise InvalidInput(f"{key}: expected {kind.__name__}, got {definition[key]!r}")


def plan(session: Session, definitions: list[dict[str, Any]], prune: bool) -> Plan:
    """Compare the file with the database: what to create, update, leave, delete."""
    existing = {task.task_name: task for task in session.exec(select(Task))}
    result = Plan()
    for definition in definitions:
        task = existing.pop(definition["task_name"], None)
        if task is None:
            result.create.append(definition)
            continue
        changes = {key: value for key, value in definition.items() if getattr(task, key) != value}
        if changes:
            result.update.append((task, changes))
        else:
            result.unchanged.append(task.task_name)
    if prune:
        result.delete = sorted(existing.values(), key=lambda task: task.task_name)
    return result


def execute(session: Session, work: Plan, now: datetime) -> None:
    """Make the planned changes in the caller's transaction."""
    rows = []
    for definition in work.create:
        schedule = Schedule(
            definition["schedule_type"], definition["schedule_config"], definition["timezone"]
        )
        enabled = definition["enabled"]
        rows.append({
            **definition,
            "status": "active" if enabled else "inactive",
            "device": definition["action_config"].get("device"),
            "next_run_time": schedules.next_run(schedule, now, None, now) if enabled else None,
            "total_runs": 0, "success_runs": 0, "failure_runs": 0,
            "created_at": now, "updated_at": now,
        })  # fmt: skip
    if rows:
        session.execute(insert(Task), rows)
    for task, changes in work.update:
        for key, value in changes.items():
            setattr(task, key, value)
        task.device = task.action_config.get("device")
        if "enabled" in changes and not task.enabled:
            task.next_run_time = None
            if task.status != "running":
                task.status = "inactive"
        elif task.enabled and ("enabled" in changes or set(changes) & set(SCHEDULE_FIELDS)):
            task.next_run_time = db.next_from_now(task, now)
            if task.status == "inactive":
                task.status = "active"
        task.updated_at = now
        session.add(task)
    for task in work.delete:
        db.delete_task(session, task)


def export(session: Session) -> str:
    """Every task as TOML, in the form `apply` reads."""
    blocks = []
    for task in session.exec(select(Task).order_by(Task.task_name)):
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
