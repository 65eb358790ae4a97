"""A bad value gets the same message whichever door it comes in by: add, edit or apply.

Each case is one field with one bad value, given on the command line to `add`
and `edit` and in a task file to `apply`. The message after the door's own
prefix (apply names the file and the task) must be the same, the exit code 2,
and the database unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import dump

BASE = {
    "task_name": "door",
    "schedule_type": "daily",
    "schedule_config": {"time": "02:00"},
    "timezone": "UTC",
    "action_type": "custom",
    "action_config": {"command": "true"},
}

# (case, command-line options, task-file fields)
CASES = [
    ("timeout", ["--timeout", "-5"], {"timeout": -5}),
    ("misfire", ["--misfire", "later"], {"misfire": "later"}),
    ("misfire grace", ["--misfire-grace", "-7"], {"misfire_grace": -7}),
    ("device wait", ["--device-wait", "-1"], {"device_wait": -1}),
    ("ping url", ["--ping-url", "ftp://x.example/y"], {"ping_url": "ftp://x.example/y"}),
    ("notify command", ["--notify-command", "x 'unclosed"], {"notify_command": "x 'unclosed"}),
    ("notify on", ["--notify-on", "sometimes"], {"notify_on": "sometimes"}),
    ("zone", ["--timezone", "Mars/Olympus"], {"timezone": "Mars/Olympus"}),
    ("empty zone", ["--timezone", ""], {"timezone": ""}),
    ("time", ["--schedule-type", "daily", "--schedule-config", '{"time": "25:00"}'],
     {"schedule_config": {"time": "25:00"}}),
    ("schedule type", ["--schedule-type", "hourly", "--schedule-config", "{}"],
     {"schedule_type": "hourly", "schedule_config": {}}),
    ("action type", ["--action", "teleport", "--action-config", "{}"],
     {"action_type": "teleport", "action_config": {}}),
    ("action key", ["--action", "custom", "--action-config", '{"command": "x", "colour": 1}'],
     {"action_config": {"command": "x", "colour": 1}}),
    ("past once", ["--schedule-type", "once", "--schedule-config",
                   '{"datetime": "2020-01-01 00:00"}'],
     {"schedule_type": "once", "schedule_config": {"datetime": "2020-01-01 00:00"}}),
    # Numbers past what SQLite and date arithmetic hold, text and nesting no rule could store.
    ("huge timeout", ["--timeout", "99999999999999999999"], {"timeout": 99999999999999999999}),
    ("timeout past ten years", ["--timeout", "315360001"], {"timeout": 315360001}),
    ("huge grace", ["--misfire-grace", str(2**63)], {"misfire_grace": 2**63}),
    ("device wait past a day", ["--device-wait", "86401"], {"device_wait": 86401}),
    ("huge device wait", ["--device-wait", str(10**30)], {"device_wait": 10**30}),
    ("ping url with a space", ["--ping-url", "https://hc ping.com/x"],
     {"ping_url": "https://hc ping.com/x"}),
    ("ping url without a host", ["--ping-url", "https:///x"], {"ping_url": "https:///x"}),
    ("description of two lines", ["--description", "two\nlines"],
     {"description": "two\nlines"}),
    ("deep action config", ["--action", "custom", "--action-config",
                            '{"command": ' + "[" * 40 + '"x"' + "]" * 40 + "}"],
     {"action_config": {"command": json.loads("[" * 40 + '"x"' + "]" * 40)}}),
    ("infinite number", ["--action", "health_check", "--action-config",
                         '{"min_free_mb": Infinity}'],
     {"action_type": "health_check", "action_config": {"min_free_mb": float("inf")}}),
    ("huge number in a config", ["--action", "health_check", "--action-config",
                                 '{"min_free_mb": 9223372036854775808}'],
     {"action_type": "health_check", "action_config": {"min_free_mb": 2**63}}),
]  # fmt: skip


def toml(fields: dict) -> str:
    """One [[task]] table (JSON escapes and inline tables are valid TOML)."""

    def value(item: object) -> str:
        if isinstance(item, dict):
            return "{ " + ", ".join(f"{key} = {value(inner)}" for key, inner in item.items()) + " }"
        if isinstance(item, float):
            return repr(item)  # inf, nan: TOML's spelling, not JSON's
        return json.dumps(item)

    return "[[task]]\n" + "".join(f"{key} = {value(item)}\n" for key, item in fields.items())


@pytest.mark.parametrize(
    ("options", "fields"), [case[1:] for case in CASES], ids=[c[0] for c in CASES]
)
def test_the_same_message_through_every_door(run_cli, home, tmp_path: Path, options, fields):
    assert run_cli("add", "existing", "--daily", "01:00", "--command", "true").code == 0
    before = dump(home / "tapesched.db")

    schedule = [] if "--schedule-type" in options else ["--daily", "02:00"]
    action = [] if "--action" in options else ["--command", "true"]
    added = run_cli("add", "door", *schedule, *action, *options)
    edited = run_cli("edit", "existing", *options)
    file = tmp_path / "tasks.toml"
    file.write_text(toml({**BASE, **fields}))
    applied = run_cli("apply", str(file))

    assert (added.code, edited.code, applied.code) == (2, 2, 2), (added, edited, applied)
    message = added.err.removeprefix("tapesched: ")
    assert added.err.count("\n") == 1 and message
    assert edited.err == added.err
    assert applied.err == f"tapesched: {file}: task door: {message}"
    assert dump(home / "tapesched.db") == before
