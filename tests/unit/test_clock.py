"""Parsing the instants the command line takes (`tick --now`, `preview --from`)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapesched.clock import EARLIEST, LATEST, parse_instant
from tapesched.errors import InvalidInput

ZONES = ["UTC", "America/New_York", "Pacific/Kiritimati", "Etc/GMT+12", "Asia/Tokyo"]


@pytest.mark.parametrize("text", ["", " ", "\t", "\n", "   \n  "])
def test_an_empty_instant_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput, match="^--now: an empty value is not an instant; expected"):
        parse_instant(text, "UTC", "--now")


@pytest.mark.parametrize(
    "text",
    [
        "0001-01-01T00:00-05:00",
        "0001-01-01T00:00+05:00",
        "0001-01-01 00:00",
        "9999-12-31T23:59+14:00",
        "9999-12-31T23:59-12:00",
        "9999-12-31 23:59",
        "1969-12-31T23:59:59Z",
        "9999-01-01T00:00Z",
    ],
)
@pytest.mark.parametrize("zone", ZONES)
def test_the_ends_of_the_calendar_are_one_line_not_an_overflow(text: str, zone: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_instant(text, zone, "--from")
    assert caught.value.message == (
        f"--from: {text!r} is out of range; expected an instant in the years 1970-9998 (UTC)"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-29 02:30", datetime(2026, 3, 29, 2, 30, tzinfo=UTC)),
        ("2026-03-29T02:30:00+02:00", datetime(2026, 3, 29, 0, 30, tzinfo=UTC)),
        ("2026-03-29T02:30Z", datetime(2026, 3, 29, 2, 30, tzinfo=UTC)),
        (" 1970-01-01T00:00Z ", EARLIEST),
        ("9998-12-31T23:59:59Z", LATEST),
    ],
)
def test_instants_inside_the_range(text: str, expected: datetime) -> None:
    assert parse_instant(text, "UTC", "--now") == expected


@settings(max_examples=300, deadline=None)
@given(
    text=st.one_of(
        st.text(st.characters(codec=None, exclude_categories=()), max_size=30),
        st.datetimes(timezones=st.none()).map(str),
        st.datetimes(timezones=st.timezones()).map(lambda value: value.isoformat()),
        st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}([+-][0-9]{2}:[0-9]{2})?"),
    ),
    zone=st.sampled_from(ZONES),
)
def test_any_text_is_an_instant_in_range_or_one_line(text: str, zone: str) -> None:
    try:
        value = parse_instant(text, zone, "--now")
    except InvalidInput as error:
        assert error.message.startswith("--now: ")
        assert "\n" not in error.message
        return
    assert value.tzinfo is not None
    assert EARLIEST <= value.astimezone(UTC) <= LATEST
