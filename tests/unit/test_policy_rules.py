"""Start windows and retries as pure rules (tapesched.windows, tapesched.retries), and what a
tick decides about a slot or a retry under them (tapesched.decisions)."""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tapesched import windows
from tapesched.decisions import ClaimFacts, Full, Launch, Queue, Skip, Wait, decide, decide_retry
from tapesched.errors import InvalidInput
from tapesched.retries import MAX_RETRY_WAIT, Retry, next_retry, retry_wait

# --------------------------------------------------------------------------- windows


@pytest.mark.parametrize(
    ("given", "stored"),
    [("01:00-05:00", "01:00-05:00"), ("1:00-5:00", "01:00-05:00"),
     ("22:00-06:00", "22:00-06:00"), ("23:59-00:00", "23:59-00:00"), (None, None)],
)  # fmt: skip
def test_a_window_is_stored_in_one_form(given, stored):
    assert windows.check_window(given) == stored


@pytest.mark.parametrize(
    "bad",
    ["", "01:00", "01:00-", "24:00-01:00", "01:60-02:00", "1-2", "01:00-01:00", "01:00 - 02:00",
     "01:00-02:00-03:00", "０１:00-02:00", 5, ["01:00-02:00"], "01:00-02:00\n", " 01:00-02:00"],
)  # fmt: skip
def test_a_bad_window_is_refused_in_one_line(bad):
    with pytest.raises(InvalidInput) as refused:
        windows.check_window(bad)
    assert refused.value.field == "window" and "\n" not in str(refused.value)


def test_random_text_is_a_window_or_refused_never_a_crash():
    chance = random.Random(12)
    alphabet = string.digits + ":- \t\x00é"
    for _ in range(3000):
        text = "".join(chance.choice(alphabet) for _ in range(chance.randint(0, 14)))
        try:
            stored = windows.check_window(text)
        except InvalidInput:
            continue
        assert windows.check_window(stored) == stored


def at(text: str, zone: str = "UTC") -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


@pytest.mark.parametrize(
    ("window", "time", "open_"),
    [("01:00-05:00", "00:59:59", False), ("01:00-05:00", "01:00", True),
     ("01:00-05:00", "04:59:59", True), ("01:00-05:00", "05:00", False),
     ("22:00-06:00", "23:30", True), ("22:00-06:00", "03:00", True),
     ("22:00-06:00", "06:00", False), ("22:00-06:00", "12:00", False)],
)  # fmt: skip
def test_a_window_is_open_from_its_first_minute_up_to_its_last(window, time, open_):
    assert windows.is_open(window, at(f"2027-03-10 {time}"), "UTC") is open_


def test_the_next_opening_is_today_or_tomorrow_in_the_tasks_zone():
    zone = "Europe/Berlin"
    assert windows.next_opening("22:00-06:00", at("2027-03-10 12:00", zone), zone) == at(
        "2027-03-10 22:00", zone
    )
    assert windows.next_opening("01:00-05:00", at("2027-03-10 12:00", zone), zone) == at(
        "2027-03-11 01:00", zone
    )
    # 02:30 does not exist on 2027-03-28 in Berlin: the window opens when the gap ends.
    assert windows.next_opening("02:30-04:00", at("2027-03-28 01:00", zone), zone) == datetime(
        2027, 3, 28, 1, 0, tzinfo=UTC
    )


# --------------------------------------------------------------------------- retries


@dataclass
class Task:
    enabled: bool = True
    next_run_time: datetime | None = datetime(2027, 1, 2, 2, 0, tzinfo=UTC)
    created_at: datetime = datetime(2026, 1, 1, tzinfo=UTC)
    schedule_type: str = "daily"
    schedule_config: dict = field(default_factory=lambda: {"time": "02:00:00"})
    timezone: str = "UTC"
    misfire: str = "run_once"
    misfire_grace: int | None = None
    device: str | None = None
    start_window: str | None = None
    retries: int = 3
    retry_delay: int = 300
    retry_at: datetime | None = None
    retry_attempt: int = 0


ENDED = datetime(2027, 1, 1, 2, 10, tzinfo=UTC)


def test_the_wait_doubles_after_each_failed_attempt_up_to_six_hours():
    assert [retry_wait(300, attempt) for attempt in (1, 2, 3, 4)] == [
        timedelta(minutes=minutes) for minutes in (5, 10, 20, 40)
    ]
    assert retry_wait(300, 8) == MAX_RETRY_WAIT == timedelta(hours=6)
    assert retry_wait(21600, 1) == MAX_RETRY_WAIT
    assert retry_wait(1, 10_000) == MAX_RETRY_WAIT  # no overflow, however many attempts


def test_a_failed_or_lost_run_of_a_series_is_retried_until_the_retries_are_used_up():
    task = Task()
    assert next_retry(task, 1, "schedule", "failed", ENDED) == Retry(
        ENDED + timedelta(minutes=5), 2
    )
    assert next_retry(task, 2, "retry", "lost", ENDED) == Retry(ENDED + timedelta(minutes=10), 3)
    assert next_retry(task, 3, "retry", "failed", ENDED) == Retry(ENDED + timedelta(minutes=20), 4)
    assert next_retry(task, 4, "retry", "failed", ENDED) is None  # three retries: used up
    assert next_retry(Task(retries=0), 1, "schedule", "failed", ENDED) is None


@pytest.mark.parametrize(
    ("trigger", "status"),
    [("schedule", "success"), ("retry", "cancelled"), ("schedule", "skipped"),
     ("manual", "failed")],
)  # fmt: skip
def test_no_retry_after_a_success_a_stop_a_skip_or_a_manual_run(trigger, status):
    assert next_retry(Task(), 1, trigger, status, ENDED) is None


def test_a_retry_at_or_after_the_next_scheduled_run_is_dropped():
    assert next_retry(Task(next_run_time=ENDED + timedelta(minutes=5)), 1, "schedule",
                      "failed", ENDED) is None  # fmt: skip
    assert next_retry(Task(next_run_time=ENDED + timedelta(minutes=5, seconds=1)), 1,
                      "schedule", "failed", ENDED) is not None  # fmt: skip
    assert next_retry(Task(next_run_time=None), 4, "retry", "failed", ENDED) is None
    assert next_retry(Task(next_run_time=None, retries=9), 9, "retry", "failed", ENDED) == Retry(
        ENDED + MAX_RETRY_WAIT, 10
    )


def test_a_retry_outside_the_window_moves_to_its_opening_or_is_dropped():
    task = Task(start_window="02:00-02:12", next_run_time=datetime(2027, 1, 2, 2, 0, tzinfo=UTC))
    # Ends 02:10; +5 min is 02:15, past the window: the next opening (tomorrow 02:00) is not
    # before the next scheduled run (tomorrow 02:00): dropped.
    assert next_retry(task, 1, "schedule", "failed", ENDED) is None
    task.start_window = "01:00-02:12"
    task.next_run_time = datetime(2027, 1, 2, 3, 0, tzinfo=UTC)
    assert next_retry(task, 1, "schedule", "failed", ENDED) == Retry(
        datetime(2027, 1, 2, 1, 0, tzinfo=UTC), 2
    )


# --------------------------------------------------------------------------- tick decisions

FREE = ClaimFacts(previous_running=False, device_busy=False, running=0)
SLOT = datetime(2027, 1, 1, 2, 0, tzinfo=UTC)
NEXT = SLOT + timedelta(days=1)


def test_a_slot_inside_its_window_launches_and_outside_waits_or_is_skipped():
    task = Task(next_run_time=SLOT, start_window="01:00-05:00")
    assert decide(task, FREE, SLOT, 4) == Launch("schedule", NEXT)
    # Its drive was busy until 06:00: the window reopens at 01:00 tomorrow, before 02:00.
    late = SLOT + timedelta(hours=4)
    assert decide(task, FREE, late, 4) == Wait(datetime(2027, 1, 2, 1, 0, tzinfo=UTC))
    # At 23:00 (a catch-up), a window that next opens at 03:00 tomorrow, after tomorrow's
    # 02:00 slot: this one is dropped, with the reason.
    task.start_window = "03:00-05:00"
    claim = decide(task, FREE, SLOT + timedelta(hours=21), 4)
    assert isinstance(claim, Skip) and claim.next_run == NEXT
    assert claim.reason == "outside its window 03:00-05:00; the next scheduled run comes first"
    # The misfire rules come first: a missed slot with misfire=skip is skipped as before.
    task.start_window, task.misfire = "01:00-05:00", "skip"
    assert decide(task, FREE, late, 4).reason.endswith("(misfire=skip)")


def test_a_retry_launches_waits_or_is_dropped():
    due = SLOT + timedelta(minutes=30)
    task = Task(next_run_time=NEXT, retry_at=due, retry_attempt=2)
    assert decide_retry(task, FREE, due, 4) == Launch("retry", None)
    assert decide_retry(task, FREE, due - timedelta(seconds=1), 4).__class__.__name__ == "Gone"
    assert decide_retry(task, ClaimFacts(True, False, 0), due, 4) == Queue("")
    assert decide_retry(Task(device="/dev/nst0", next_run_time=NEXT, retry_at=due,
                             retry_attempt=2), ClaimFacts(False, True, 0), due, 4) == Queue(
        "/dev/nst0")  # fmt: skip
    assert decide_retry(task, ClaimFacts(False, False, 4), due, 4) == Full()
    # The scheduled run is due too (ticks were missed): it goes ahead, the retry is dropped.
    claim = decide_retry(task, FREE, NEXT, 4)
    assert isinstance(claim, Skip) and claim.reason == "the scheduled run comes first"
    # The operator lowered the retries meanwhile.
    task.retries = 0
    assert decide_retry(task, FREE, due, 4).reason == "the task now allows 0 retries"
    task.retries = 3
    # Outside its window: wait for the opening, or drop it if the next run comes first.
    task.start_window = "03:00-04:00"
    assert decide_retry(task, FREE, due, 4) == Wait(SLOT + timedelta(hours=1))
    task.start_window = "05:00-06:00"
    task.next_run_time = SLOT + timedelta(hours=2)
    assert decide_retry(task, FREE, due, 4).reason.startswith("outside its window 05:00-06:00")


def test_a_zone_gone_from_tzdata_is_invalid_input_never_a_crash():
    with pytest.raises(InvalidInput, match="unknown zone"):
        windows.is_open("01:00-05:00", ENDED, "Mars/Olympus")
    with pytest.raises(InvalidInput, match="unknown zone"):
        windows.next_opening("01:00-05:00", ENDED, "Mars/Olympus")
    task = Task(timezone="Mars/Olympus", start_window="01:00-05:00", next_run_time=None)
    # The retry is still recorded (the tick reports the zone when it comes due).
    assert next_retry(task, 1, "schedule", "failed", ENDED) == Retry(
        ENDED + timedelta(minutes=5), 2
    )
    with pytest.raises(InvalidInput):
        decide_retry(
            Task(timezone="Mars/Olympus", start_window="01:00-05:00", retry_at=ENDED,
                 retry_attempt=2, next_run_time=None), FREE, ENDED, 4,
        )  # fmt: skip
