"""The rule for each field of a task's definition (TaskSpec): one function per field,
RULES by name. Each takes the value as a door gave it and returns it checked, or raises
InvalidInput naming the field. Pure: no database, no clock.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from typing import Any

from tapesched.errors import InvalidInput
from tapesched.hosts import check_name as check_host_name

MISFIRE_POLICIES = ("run_once", "skip")
NOTIFY_ON = ("failure", "always")
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")

# Bounds of the number fields: far inside what SQLite and date arithmetic hold, and past
# any sane setting. A timeout or a grace of ten years means "none" in practice; a runner
# that waits longer than a day for its drive is stuck (the tick keeps a task queued while
# its drive is busy, without a runner waiting).
MAX_TIMEOUT = 10 * 365 * 86400
MAX_MISFIRE_GRACE = 10 * 365 * 86400
MAX_DEVICE_WAIT = 86400
# Retries: at most this many after a failed run, and a first delay of at most the
# longest delay a retry ever waits (six hours; the delay doubles up to it).
MAX_RETRIES = 100
MAX_RETRY_DELAY = 6 * 3600
DEFAULT_RETRY_DELAY = 300


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_name(value: Any) -> str:
    """Task names: 1-64 of letters, digits, '.', '_', '-', not all digits (ids are)."""
    if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value) or value.isdigit():
        raise InvalidInput(
            f"{value!r} is not valid; expected 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit and not all digits",
            field="task name",
        )
    return value


def check_description(value: Any) -> str:
    """One line of text: no newline, tab or other control character (it is shown in
    tables and on terminals)."""
    if not isinstance(value, str):
        raise InvalidInput(f"{value!r} is not text; expected a string", field="description")
    if any(ord(char) < 32 or 127 <= ord(char) < 160 for char in value):
        raise InvalidInput(
            f"{value!r} holds a control character (a newline, say); expected one line of text",
            field="description",
        )
    return value


def check_enabled(value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(f"{value!r} is not true or false", field="enabled")
    return value


def check_timeout(value: Any) -> int | None:
    if value is None:
        return None
    if not _whole(value) or not 0 < value <= MAX_TIMEOUT:
        raise InvalidInput(
            f"{value!r} is not valid; expected a whole number of seconds, "
            f"1-{MAX_TIMEOUT} (ten years)",
            field="timeout",
        )
    return value


def check_misfire(value: Any) -> str:
    if value not in MISFIRE_POLICIES:
        raise InvalidInput(f"{value!r} is unknown; expected run_once or skip", field="misfire")
    return value


def _seconds_up_to(name: str, most: int, words: str) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if not _whole(value) or not 0 <= value <= most:
            raise InvalidInput(
                f"{value!r} is not valid; expected a whole number of seconds, 0-{most} ({words})",
                field=name,
            )
        return value

    return check


check_device_wait = _seconds_up_to("device_wait", MAX_DEVICE_WAIT, "a day")
_grace = _seconds_up_to("misfire_grace", MAX_MISFIRE_GRACE, "ten years")


def check_misfire_grace(value: Any) -> int | None:
    return None if value is None else _grace(value)


def check_ping_url(value: Any) -> str | None:
    """An absolute http(s) URL with a host, in ASCII without spaces or control characters
    (what a ping can be sent to; a query string is kept)."""
    if value is None:
        return None
    from urllib.parse import urlsplit

    valid = isinstance(value, str) and value.isascii() and value.isprintable() and " " not in value
    if valid:
        try:
            parts = urlsplit(value)
            valid = parts.scheme in ("http", "https") and bool(parts.hostname)
            valid = valid and parts.port != 0 and not parts.fragment
        except ValueError:  # a port that is not a number, a malformed IPv6 address
            valid = False
    if not valid:
        raise InvalidInput(
            f"{value!r} is not valid; expected an absolute http:// or https:// URL with a host "
            "(no spaces), such as https://hc-ping.com/UUID",
            field="ping_url",
        )
    return value


def check_notify_command(value: Any) -> str | None:
    if value is None:
        return None
    try:
        if not isinstance(value, str) or not shlex.split(value):
            raise ValueError
    except ValueError:
        raise InvalidInput(
            f"{value!r} is not a command; expected a program and its arguments "
            "(split like a shell would, run without one)",
            field="notify_command",
        ) from None
    return value


def check_notify_on(value: Any) -> str:
    if value not in NOTIFY_ON:
        raise InvalidInput(f"{value!r} is unknown; expected failure or always", field="notify_on")
    return value


def check_retries(value: Any) -> int:
    if not _whole(value) or not 0 <= value <= MAX_RETRIES:
        raise InvalidInput(
            f"{value!r} is not valid; expected a whole number of retries, 0-{MAX_RETRIES}",
            field="retries",
        )
    return value


def check_retry_delay(value: Any) -> int:
    if not _whole(value) or not 0 < value <= MAX_RETRY_DELAY:
        raise InvalidInput(
            f"{value!r} is not valid; expected a whole number of seconds, "
            f"1-{MAX_RETRY_DELAY} (six hours)",
            field="retry_delay",
        )
    return value


def _hook_rule(name: str) -> Callable[[Any], str | list[str] | None]:
    def check(value: Any) -> str | list[str] | None:
        """A command run without a shell: a string split like a shell would, or a list of
        arguments; no NUL character (no program can receive one)."""
        if value is None:
            return None
        try:
            if isinstance(value, str):
                argv = shlex.split(value)
            elif isinstance(value, list) and all(isinstance(item, str) for item in value):
                argv = value
            else:
                raise ValueError
            if not argv or not argv[0] or any("\0" in item for item in argv):
                raise ValueError
        except ValueError:
            raise InvalidInput(
                f"{value!r} is not a command; expected a program and its arguments, as a "
                "string (split like a shell would, run without one) or a list of strings",
                field=name,
            ) from None
        return value

    return check


def _check_window(value: Any) -> str | None:
    from tapesched.windows import check_window

    return check_window(value)


def check_host(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{value!r} is not a host name; expected one, or any", field="host")
    return check_host_name(value, "host")


RULES: dict[str, Callable[[Any], Any]] = {
    "task_name": check_name,
    "description": check_description,
    "enabled": check_enabled,
    "timeout": check_timeout,
    "misfire": check_misfire,
    "misfire_grace": check_misfire_grace,
    "device_wait": check_device_wait,
    "ping_url": check_ping_url,
    "notify_command": check_notify_command,
    "notify_on": check_notify_on,
    "host": check_host,
    "retries": check_retries,
    "retry_delay": check_retry_delay,
    "hook_before": _hook_rule("hook_before"),
    "hook_after": _hook_rule("hook_after"),
    "start_window": _check_window,
}
