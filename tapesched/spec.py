"""A task's definition (TaskSpec), the rule for each of its fields, and how changes apply.

Every door a task comes in by (`add`, `edit`, `enable`/`disable`, `apply`)
builds a TaskChanges and has it checked here, so a bad value gets the same
message whichever door it came in by. Pure: no database, no clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any

from tapesched.actions import ACTION_TYPES, validate_action
from tapesched.errors import InvalidInput, printable, undecodable
from tapesched.field_rules import (  # noqa: F401 - MAX_* and the policies: read by tests, cli
    DEFAULT_RETRY_DELAY,
    MAX_DEVICE_WAIT,
    MAX_MISFIRE_GRACE,
    MAX_RETRIES,
    MAX_RETRY_DELAY,
    MAX_TIMEOUT,
    MISFIRE_POLICIES,
    NOTIFY_ON,
    RULES,
    _whole,
)
from tapesched.schedule import is_past_once
from tapesched.schedule_config import Schedule, validate, validate_zone

# The definition's fields, in the order `export` writes them (the seed's names).
FIELDS = (
    "task_name", "description", "enabled", "host", "schedule_type", "schedule_config", "timezone",
    "action_type", "action_config", "timeout", "misfire", "misfire_grace", "device_wait",
    "ping_url", "notify_command", "notify_on", "retries", "retry_delay", "hook_before",
    "hook_after", "start_window",
)  # fmt: skip
SCHEDULE_FIELDS = ("schedule_type", "schedule_config", "timezone")
# Lists and tables in a config nest at most this deep (the config itself is the first).
MAX_DEPTH = 32
# Whole numbers in a config: what SQLite and most JSON readers hold exactly.
MAX_INTEGER = 2**63 - 1


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()  # a field that a change leaves alone (None may mean "remove it")


@dataclass(frozen=True)
class TaskSpec:
    """A validated task definition: what the operator decides about a task (not its state)."""

    task_name: str
    schedule: Schedule
    action_type: str
    action_config: dict[str, Any]
    description: str = ""
    enabled: bool = True
    timeout: int | None = None
    misfire: str = "run_once"
    misfire_grace: int | None = None
    device_wait: int = 60
    ping_url: str | None = None
    notify_command: str | None = None
    notify_on: str = "failure"
    # The host whose tick runs it, or "any"; None when not said: a new task then runs on
    # the host that adds it, and a changed one keeps its host.
    host: str | None = None
    retries: int = 0
    retry_delay: int = DEFAULT_RETRY_DELAY
    hook_before: str | list[str] | None = None
    hook_after: str | list[str] | None = None
    start_window: str | None = None

    def values(self) -> dict[str, Any]:
        """The definition as the stored fields, in FIELDS order."""
        flat = {
            "schedule_type": self.schedule.type,
            "schedule_config": self.schedule.config,
            "timezone": self.schedule.zone,
        }
        return {name: flat[name] if name in flat else getattr(self, name) for name in FIELDS}

    @property
    def device(self) -> str | None:
        """The drive or directory the task uses (one job per drive), or its library
        (`library:NAME`: one job per library)."""
        library = self.action_config.get("library")
        if isinstance(library, str) and self.action_type == "backup":
            return f"library:{library}"
        device = self.action_config.get("device")
        return device if isinstance(device, str) else None


@dataclass
class TaskChanges:
    """What a door says about a task: a new one (every field it knows) or changes to one.

    A field left UNSET is unchanged (or its default, for a new task). The action
    config is either replaced (`action_config`) or has some keys set
    (`action_settings`, the command line's shorthands), which merge into the
    current config when the action type stays the same.
    """

    task_name: Any = UNSET
    description: Any = UNSET
    enabled: Any = UNSET
    schedule_type: Any = UNSET
    schedule_config: Any = UNSET
    timezone: Any = UNSET
    action_type: Any = UNSET
    action_config: Any = UNSET
    action_settings: dict[str, Any] = field(default_factory=dict)
    timeout: Any = UNSET
    misfire: Any = UNSET
    misfire_grace: Any = UNSET
    device_wait: Any = UNSET
    ping_url: Any = UNSET
    notify_command: Any = UNSET
    notify_on: Any = UNSET
    host: Any = UNSET
    retries: Any = UNSET
    retry_delay: Any = UNSET
    hook_before: Any = UNSET
    hook_after: Any = UNSET
    start_window: Any = UNSET
    # A new time of day for the current schedule, keeping its days (`edit --at 02:00`).
    schedule_time: Any = UNSET

    def given(self, name: str) -> bool:
        return getattr(self, name) is not UNSET

    def empty(self) -> bool:
        """Whether nothing would change."""
        return not self.action_settings and not any(
            self.given(item.name) for item in fields(self) if item.name != "action_settings"
        )

    def schedule_given(self) -> bool:
        return any(self.given(name) for name in (*SCHEDULE_FIELDS, "schedule_time"))

    def action_given(self) -> bool:
        return (
            bool(self.action_settings) or self.given("action_type") or self.given("action_config")
        )


def check_values(changes: TaskChanges) -> None:
    """What every field must be, whatever its own rule: text that is valid UTF-8 (it is
    stored, printed and logged), and, in a config, lists and tables at most MAX_DEPTH deep,
    finite numbers and whole numbers SQLite holds. Checked first, at every door, so that no
    rule (nor its message) ever handles such a value."""
    for item in fields(changes):
        value = getattr(changes, item.name)
        if value is UNSET:
            continue
        if item.name == "action_settings":  # keys of the action config (shorthands)
            _check_value(value, "action_config", numbers=True)
            continue
        _check_value(value, item.name, numbers=item.name == "action_config")


def _check_value(value: Any, name: str, numbers: bool = False) -> None:
    pending = [(value, name, 0)]
    while pending:
        item, where, depth = pending.pop()
        if isinstance(item, str):
            if undecodable(item):
                raise InvalidInput(
                    f"'{printable(item)}' is not valid UTF-8 text; expected UTF-8", field=where
                )
        elif isinstance(item, dict | list):
            if depth >= MAX_DEPTH:
                raise InvalidInput(
                    f"nested deeper than {MAX_DEPTH} levels; expected at most {MAX_DEPTH} "
                    "levels of lists and tables",
                    field=name,
                )
            if isinstance(item, dict):
                for key, inner in item.items():
                    if isinstance(key, str) and undecodable(key):
                        raise InvalidInput(
                            f"key '{printable(key)}' is not valid UTF-8 text; expected UTF-8",
                            field=where,
                        )
                    pending.append((inner, f"{where}.{printable(str(key))}", depth + 1))
            else:
                pending.extend((inner, f"{where}[{index}]", depth + 1)
                               for index, inner in enumerate(item))  # fmt: skip
        elif numbers and isinstance(item, float) and not math.isfinite(item):
            raise InvalidInput(f"{item!r} is not valid; expected a finite number", field=where)
        elif numbers and _whole(item) and abs(item) > MAX_INTEGER:
            raise InvalidInput(
                f"{item!r} is too large; expected a whole number of at most {MAX_INTEGER}",
                field=where,
            )


# --------------------------------------------------------------------------- schedule, action


def resolve_schedule(
    schedule_type: Any, config: Any, zone: Any, current: Schedule | None
) -> Schedule:
    """Given the schedule fields of a change (UNSET where not given) and the current
    schedule (None for a new task), return the validated schedule. A type given without a
    config keeps the current config if the type is the same."""
    zone_name = current.zone if zone is UNSET and current else zone
    validate_zone(zone_name)
    kind = schedule_type if schedule_type is not UNSET else (current.type if current else None)
    if kind is None:
        raise InvalidInput(
            "missing; give --schedule-type TYPE --schedule-config JSON or a shorthand such as "
            "--daily 02:00, --every 30m, --cron '0 2 * * *'",
            field="schedule",
        )
    if config is UNSET:
        if current is None or current.type != kind:
            raise InvalidInput(
                f"required with --schedule-type {kind}; expected a JSON object "
                "(see 'tapesched add --help')",
                field="schedule_config",
            )
        config = current.config
    if not isinstance(config, dict):
        raise InvalidInput(f"{config!r} is not a table; expected one", field="schedule_config")
    return validate(kind, config, zone_name)


def resolve_action(
    action_type: Any,
    config: Any,
    settings: dict[str, Any],
    current: tuple[str, dict[str, Any]] | None,
) -> tuple[str, dict[str, Any], list[str]]:
    """Given the action fields of a change and the current (type, config), return the
    validated (type, config, warnings). Settings merge into the current config when the
    type stays the same and no config replaces it."""
    kind = action_type if action_type is not UNSET else (current[0] if current else None)
    if kind is None:
        raise InvalidInput(
            "missing; give --action TYPE --action-config JSON or a shorthand such as "
            "--command '...' or --source PATH --device DIR",
            field="action",
        )
    if not isinstance(kind, str):
        raise InvalidInput(
            f"{kind!r} is unknown; expected one of {', '.join(ACTION_TYPES)}", field="action_type"
        )
    if config is not UNSET and not isinstance(config, dict):
        raise InvalidInput(f"{config!r} is not a table; expected one", field="action_config")
    merged = {**(config if config is not UNSET else {}), **settings}
    if current and kind == current[0] and config is UNSET:
        merged = {**current[1], **settings}
    # A setting of None removes its key (--levels removes task_type, --level the levels).
    merged = {key: value for key, value in merged.items() if settings.get(key, 0) is not None}
    validated, warnings = validate_action(kind, merged)
    return kind, validated, warnings


def check_start(schedule: Schedule, now: datetime, force: bool) -> bool:
    """Whether a new or changed schedule is a once schedule in the past: refused (raise
    InvalidInput) unless `force`, which accepts it to run at the next tick."""
    if not is_past_once(schedule, now):
        return False
    if not force:
        raise InvalidInput(
            f"{schedule.config['datetime']} is in the past; give a future time, or "
            "--force to accept it (it then runs at the next tick)",
            field="schedule_config.datetime",
        )
    return True


# --------------------------------------------------------------------------- specs


def new_spec(
    changes: TaskChanges, host_zone: str, now: datetime | None = None, force: bool = False
) -> tuple[TaskSpec, list[str]]:
    """Given what a door says about a new task, return its validated spec and the warnings
    (paths that do not exist yet); raise InvalidInput naming the first bad field. Given
    `now`, a once schedule in the past is refused here already (see check_start)."""
    check_values(changes)
    if not changes.given("task_name"):
        raise InvalidInput("required", field="task_name")
    zone = changes.timezone if changes.given("timezone") and changes.timezone else host_zone
    if changes.given("timezone") and not changes.timezone:
        validate_zone(changes.timezone)
    values = {name: RULES[name](getattr(changes, name)) for name in RULES if changes.given(name)}
    schedule = resolve_schedule(changes.schedule_type, changes.schedule_config, zone, None)
    action_type, config, warnings = resolve_action(
        changes.action_type, changes.action_config, changes.action_settings, None
    )
    spec = TaskSpec(schedule=schedule, action_type=action_type, action_config=config, **values)
    if now is not None:
        check_start(spec.schedule, now, force)
    return spec, warnings


def at_time(schedule: Schedule, time: str) -> Schedule:
    """The schedule with a new time of day and the same days; raise InvalidInput for a
    schedule that has no time of day (once, interval, cron)."""
    if "time" not in schedule.config:
        raise InvalidInput(
            f"a {schedule.type} schedule has no time of day to change; give a whole new "
            "schedule (--daily, --weekly ... --at, --cron, --every, --once)",
            field="--at",
        )
    return Schedule(schedule.type, {**schedule.config, "time": time}, schedule.zone)


def changed_spec(current: TaskSpec, changes: TaskChanges) -> tuple[TaskSpec, list[str]]:
    """Given a task's spec and changes to it, return the new validated spec and warnings."""
    check_values(changes)
    values = {name: RULES[name](getattr(changes, name)) for name in RULES if changes.given(name)}
    schedule = current.schedule
    if changes.given("schedule_time"):
        schedule = at_time(schedule, changes.schedule_time)
    if changes.schedule_given():
        schedule = resolve_schedule(
            changes.schedule_type, changes.schedule_config, changes.timezone, schedule
        )
    action_type, config, warnings = current.action_type, current.action_config, []
    if changes.action_given():
        action_type, config, warnings = resolve_action(
            changes.action_type,
            changes.action_config,
            changes.action_settings,
            (current.action_type, current.action_config),
        )
    spec = replace(
        current, schedule=schedule, action_type=action_type, action_config=config, **values
    )
    return spec, warnings


def spec_of(task: Any) -> TaskSpec:
    """The spec of a stored task (its values as stored, not checked again)."""
    return TaskSpec(
        task_name=task.task_name,
        schedule=Schedule(task.schedule_type, task.schedule_config, task.timezone),
        action_type=task.action_type,
        action_config=task.action_config,
        description=task.description,
        enabled=task.enabled,
        timeout=task.timeout,
        misfire=task.misfire,
        misfire_grace=task.misfire_grace,
        device_wait=task.device_wait,
        ping_url=task.ping_url,
        notify_command=task.notify_command,
        notify_on=task.notify_on,
        host=task.host,
        retries=task.retries,
        retry_delay=task.retry_delay,
        hook_before=task.hook_before,
        hook_after=task.hook_after,
        start_window=task.start_window,
    )


def changes_from(values: dict[str, Any]) -> TaskChanges:
    """A TaskChanges holding every field of a definition (a task file's table, say)."""
    return TaskChanges(**{name: values[name] for name in FIELDS if name in values})
