"""Start windows: `--window HH:MM-HH:MM`, the local times of day a run may start at.

A window is read in the task's zone and may cross midnight (22:00-06:00). It
opens at its first minute and closes at its last: 01:00-05:00 lets a run start
from 01:00:00 up to 04:59:59. Pure: no database, no clock.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tapesched.errors import InvalidInput

_FORM = re.compile(r"([0-9]{1,2}):([0-9]{2})-([0-9]{1,2}):([0-9]{2})")
FIELD = "window"


def check_window(value: object) -> str | None:
    """Given a window as written ('1:00-5:00', '22:00-06:00') or None, return it as
    'HH:MM-HH:MM' (None stays None); raise InvalidInput naming the field."""
    if value is None:
        return None
    match = _FORM.fullmatch(value) if isinstance(value, str) else None
    numbers = [int(part) for part in match.groups()] if match else []
    if not match or numbers[0] > 23 or numbers[2] > 23 or numbers[1] > 59 or numbers[3] > 59:
        raise InvalidInput(
            f"{value!r} is not a window; expected HH:MM-HH:MM in 24-hour time, such as "
            "01:00-05:00 or 22:00-06:00 (crossing midnight)",
            field=FIELD,
        )
    if numbers[:2] == numbers[2:]:
        raise InvalidInput(
            f"{value!r} opens and closes at the same time; expected two different times "
            "(a task that may start at any time has no window)",
            field=FIELD,
        )
    return f"{numbers[0]:02d}:{numbers[1]:02d}-{numbers[2]:02d}:{numbers[3]:02d}"


def bounds(window: str) -> tuple[time, time]:
    """The opening and closing times of a checked window."""
    opening, closing = window.split("-")
    return time.fromisoformat(opening), time.fromisoformat(closing)


def _zone(name: str) -> ZoneInfo:
    """The task's zone; InvalidInput if it is gone from tzdata (as its schedule says)."""
    from tapesched.schedule_config import validate_zone

    return ZoneInfo(validate_zone(name))


def is_open(window: str, instant: datetime, zone: str) -> bool:
    """Whether a run may start at `instant` (aware) under the window, read in `zone`."""
    opening, closing = bounds(window)
    wall = instant.astimezone(_zone(zone)).time().replace(tzinfo=None)
    if opening < closing:
        return opening <= wall < closing
    return wall >= opening or wall < closing


def next_opening(window: str, instant: datetime, zone: str) -> datetime:
    """The first moment at or after `instant` at which the window opens (aware UTC). A
    window opening in a DST gap opens when the gap ends."""
    from tapesched.schedule import _resolve

    tz = _zone(zone)
    opening, _ = bounds(window)
    day = instant.astimezone(tz).date()
    for offset in range(3):  # today's opening, or tomorrow's (the day after, past a gap)
        wall = datetime.combine(day + timedelta(days=offset), opening)
        moment, _note = _resolve(wall, tz)
        if moment >= instant:
            return moment.astimezone(UTC)
    raise AssertionError("a window opens every day")  # pragma: no cover


def describe(window: str | None) -> str:
    """How `show` says it."""
    return f"{window} (runs start only then)" if window else "-"
