"""Host names: which host this tick or runner is, and what a task may be bound to.

Every tick and runner knows its host: TAPESCHED_HOST, else the machine's host
name. A task runs on one named host (its drives and paths live there) or on
`any` host. Cheap: standard library only.
"""

from __future__ import annotations

import os
import re

from tapesched.errors import InvalidInput, printable

ANY = "any"
MAX_LENGTH = 64
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def check_name(value: str, what: str = "--host", allow_any: bool = True) -> str:
    """Given a host name (or `any`), return it; raise InvalidInput (exit 2) saying what a
    host name may hold."""
    if allow_any and value == ANY:
        return value
    if value == ANY:
        raise InvalidInput(f"{what}: 'any' is not a host name (it means every host)")
    if not value or len(value) > MAX_LENGTH or not _NAME.fullmatch(value):
        raise InvalidInput(
            f"{what} {printable(value)!r}: a host name is 1-{MAX_LENGTH} letters, digits, "
            "'.', '_' or '-', starting with a letter or digit" + (", or 'any'" if allow_any else "")
        )
    return value


def this_host(environ: dict[str, str] | None = None) -> str:
    """This host's name: TAPESCHED_HOST (checked: exit 2 if it is no host name), else
    the machine's host name as gethostname(2) gives it, with any character a host name
    may not hold replaced by '-'."""
    env = os.environ if environ is None else environ
    named = env.get("TAPESCHED_HOST")
    if named is not None:
        return check_name(named, "TAPESCHED_HOST", allow_any=False)
    machine = os.uname().nodename or "localhost"
    if not _NAME.fullmatch(machine) or len(machine) > MAX_LENGTH:
        machine = re.sub(r"[^A-Za-z0-9._-]", "-", machine)[:MAX_LENGTH].lstrip("._-") or "localhost"
    return machine
