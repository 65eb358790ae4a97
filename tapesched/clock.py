"""The edges' view of time: the clock, the host's zone, and parsing instants."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tapesched.errors import InvalidInput


def utcnow() -> datetime:
    """The current instant, aware, in UTC. Read only at the edges (cli, runner)."""
    return datetime.now(UTC)


def host_zone_name(environ: dict[str, str] | None = None) -> str:
    """Return the IANA name of the host's zone: $TZ, else /etc/localtime's target, else UTC."""
    env = os.environ if environ is None else environ
    tz = (env.get("TZ") or "").lstrip(":")
    if tz and _valid_zone(tz):
        return tz
    try:
        target = os.path.realpath("/etc/localtime")
        marker = "/zoneinfo/"
        if marker in target:
            name = target.split(marker, 1)[1]
            if _valid_zone(name):
                return name
    except OSError:
        pass
    try:
        name = Path("/etc/timezone").read_text().strip()
        if name and _valid_zone(name):
            return name
    except OSError:
        pass
    return "UTC"


def _valid_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


# The instants tapesched computes with: far enough from the calendar's ends (years 1 and
# 9999) that a zone's offset and a schedule's next step stay inside it.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9998, 12, 31, 23, 59, 59, tzinfo=UTC)


def parse_instant(text: str, zone: str, option: str) -> datetime:
    """Given ISO 8601 text ('2026-03-29 02:30', '2026-03-29T02:30:00+02:00', 'now'),
    return an aware datetime; a time without offset is read in `zone`.
    Raise InvalidInput naming the option for text that is empty, not an instant, or
    outside the years 1970-9998 (UTC)."""
    accepted = (
        "expected ISO 8601 such as '2026-12-25 14:30' or '2026-12-25T14:30:00+01:00', or 'now'"
    )
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput(f"{option}: an empty value is not an instant; {accepted}")
    if text.strip().lower() == "now":
        return utcnow()
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        if value.tzinfo is None:
            value = value.replace(tzinfo=ZoneInfo(zone))
        inside = EARLIEST <= value.astimezone(UTC) <= LATEST
    except ValueError:
        raise InvalidInput(f"{option}: {text!r} is not an instant; {accepted}") from None
    except OverflowError:
        inside = False
    if not inside:
        raise InvalidInput(
            f"{option}: {text!r} is out of range; expected an instant in the years "
            f"{EARLIEST.year}-{LATEST.year} (UTC)"
        )
    return value
