"""Task management: building, validating and changing tasks from plain arguments.

The CLI parses options and calls these; they read no clock (`now` is passed)
and raise tapesched errors.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tapesched import schedule as schedules
from tapesched import schedule_config, schedule_shorthands
from tapesched.actions import validate_action
from tapesched.errors import InvalidInput
from tapesched.schedule_config import Schedule

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MISFIRE_POLICIES = ("run_once", "skip")


def check_name(name: str) -> str:
    """Task names: 1-64 of letters, digits, '.', '_', '-', not all digits (ids are)."""
    if not NAME_PATTERN.match(name) or name.isdigit():
        raise InvalidInput(
            f"task name: '{name}' is not valid; expected 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit and not all digits"
        )
    return name


def parse_json_object(text: str, field_name: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInput(
            f"{field_name}: malformed JSON ({error.msg} at column {error.colno}); "
            'expected a JSON object such as {"time": "02:00"}'
        ) from None
    if not isinstance(value, dict):
        raise InvalidInput(f"{field_name}: expected a JSON object, got {type(value).__name__}")
    return value


@dataclass
class ScheduleInput:
    """What the command line said about a schedule (seed form or shorthands)."""

    schedule_type: str | None = None
    schedule_config: str | None = None
    shorthands: dict[str, str | None] = field(default_factory=dict)

    def given(self) -> bool:
        return bool(
            self.schedule_type
            or self.schedule_config
            or any(value is not None for value in self.shorthands.values())
        )


def resolve_schedule(
    given: ScheduleInput, zone: str, current: tuple[str, dict] | None = None
) -> Schedule:
    """Given the schedule options and a zone, return a validated Schedule.

    The seed form (--schedule-type with --schedule-config) and one shorthand
    are alternatives; `current` (type, config) fills in what an edit leaves out.
    """
    shorthand = schedule_shorthands.parse_shorthand(**given.shorthands)
    if shorthand and (given.schedule_type or given.schedule_config):
        raise InvalidInput(
            "schedule: give either --schedule-type/--schedule-config or one shorthand "
            "(--daily, --every, ...), not both"
        )
    if shorthand:
        schedule_type, config = shorthand
    else:
        schedule_type = given.schedule_type or (current[0] if current else None)
        if schedule_type is None:
            raise InvalidInput(
                "schedule: missing; give --schedule-type TYPE --schedule-config JSON or a "
                "shorthand such as --daily 02:00, --every 30m, --cron '0 2 * * *'"
            )
        if given.schedule_config is not None:
            config = parse_json_object(given.schedule_config, "schedule_config")
        elif current and current[0] == schedule_type:
            config = current[1]
        else:
            raise InvalidInput(
                f"schedule_config: required with --schedule-type {schedule_type}; "
                "expected a JSON object (see 'tapesched add --help')"
            )
    return schedule_config.validate(schedule_type, config, zone)


@dataclass
class ActionInput:
    """What the command line said about an action (seed form or shorthands)."""

    action_type: str | None = None
    action_config: str | None = None
    shorthands: dict[str, Any] = field(default_factory=dict)

    def given(self) -> bool:
        return bool(
            self.action_type
            or self.action_config
            or any(value not in (None, [], ()) for value in self.shorthands.values())
        )


# shorthand option -> (action_config key, the action it implies)
ACTION_SHORTHANDS = {
    "source": ("source_paths", "backup"),
    "device": ("device", None),
    "level": ("task_type", "backup"),
    "compress": ("compression_enabled", "backup"),
    "exclude": ("exclude", "backup"),
    "command": ("command", "custom"),
    "from_task": ("from_task", "recovery"),
    "target": ("target_path", "recovery"),
    "retention_days": ("retention_days", None),
}


def resolve_action(
    given: ActionInput, current: tuple[str, dict] | None = None
) -> tuple[str, dict[str, Any], list[str]]:
    """Given the action options, return (action_type, config, warnings)."""
    config: dict[str, Any] = {}
    if given.action_config is not None:
        config = parse_json_object(given.action_config, "action_config")
    implied = None
    for option, value in given.shorthands.items():
        if value in (None, [], ()):
            continue
        key, action = ACTION_SHORTHANDS[option]
        config[key] = list(value) if isinstance(value, list | tuple) else value
        implied = implied or action
    action_type = given.action_type or implied or (current[0] if current else None)
    if action_type is None:
        raise InvalidInput(
            "action: missing; give --action TYPE --action-config JSON or a shorthand such as "
            "--command '...' or --source PATH --device DIR"
        )
    if current and action_type == current[0] and given.action_config is None:
        config = {**current[1], **config}
    return (action_type, *validate_action(action_type, config))


def check_misfire(misfire: str | None, grace: int | None) -> None:
    if misfire is not None and misfire not in MISFIRE_POLICIES:
        raise InvalidInput(f"misfire: '{misfire}' is unknown; expected run_once or skip")
    if grace is not None and grace < 0:
        raise InvalidInput(f"misfire_grace: {grace} is negative; expected seconds, 0 or more")


def check_positive(name: str, value: int | None) -> None:
    if value is not None and value <= 0:
        raise InvalidInput(f"{name}: {value} is not valid; expected a number of seconds above 0")


def forced_once(schedule: Schedule) -> datetime | None:
    """The instant of a once schedule, even a past one (accepted with --force: it runs at
    the next tick as a catch-up)."""
    from datetime import UTC

    return schedules.next_run(schedule, datetime(1970, 1, 1, tzinfo=UTC))
