"""The tick's decisions with an injected clock: no database, no process, no sleep."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest

from tapesched import decisions as module
from tapesched.decisions import ClaimFacts, Full, Gone, Launch, Queue, Skip, Verdict
from tapesched.errors import InvalidInput

SLOT = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
NEXT = SLOT + timedelta(days=1)


@dataclass(frozen=True)
class Task:
    enabled: bool = True
    next_run_time: datetime | None = SLOT
    created_at: datetime = datetime(2026, 1, 1, tzinfo=UTC)
    schedule_type: str = "daily"
    schedule_config: dict = field(default_factory=lambda: {"time": "02:00:00"})
    timezone: str = "UTC"
    misfire: str = "run_once"
    misfire_grace: int | None = None
    device: str | None = None
    start_window: str | None = None


FREE = ClaimFacts(previous_running=False, device_busy=False, running=0)


def at(seconds: float) -> datetime:
    return SLOT + timedelta(seconds=seconds)


DECIDE_TABLE = [
    # (case, task, facts, now, cap, expected)
    ("on time", Task(), FREE, at(5), 4, Launch("schedule", NEXT)),
    ("just under catch-up", Task(), FREE, at(89), 4, Launch("schedule", NEXT)),
    ("catch-up at 90 s", Task(), FREE, at(90), 4, Launch("catch_up", NEXT)),
    (
        "days late: one catch-up, then the schedule resumes from now",
        Task(),
        FREE,
        at(3 * 86400 + 3600),
        4,
        Launch("catch_up", SLOT + timedelta(days=4)),
    ),
    ("not due yet", Task(), FREE, at(-1), 4, Gone()),
    ("disabled", Task(enabled=False), FREE, at(5), 4, Gone()),
    ("no next run", Task(next_run_time=None), FREE, at(5), 4, Gone()),
    (
        "previous run still going",
        Task(),
        replace(FREE, previous_running=True),
        at(5),
        4,
        Skip("schedule", NEXT, "the previous run was still running"),
    ),
    (
        "misfire=skip drops a missed slot",
        Task(misfire="skip"),
        FREE,
        at(600),
        4,
        Skip("catch_up", NEXT, "missed by 600s (misfire=skip)"),
    ),
    ("misfire=skip runs an on-time slot", Task(misfire="skip"), FREE, at(30), 4,
     Launch("schedule", NEXT)),
    (
        "past the grace",
        Task(misfire_grace=300),
        FREE,
        at(301),
        4,
        Skip("catch_up", NEXT, "missed by 301s, past misfire_grace 300s"),
    ),
    ("within the grace", Task(misfire_grace=300), FREE, at(300), 4, Launch("catch_up", NEXT)),
    ("grace 0, one second late", Task(misfire_grace=0), FREE, at(1), 4,
     Skip("schedule", NEXT, "missed by 1s, past misfire_grace 0s")),
    ("drive busy", Task(device="/dev/nst0"), replace(FREE, device_busy=True), at(5), 4,
     Queue("/dev/nst0")),
    ("a busy flag without a device", Task(), replace(FREE, device_busy=True), at(5), 4,
     Launch("schedule", NEXT)),
    ("cap reached", Task(), replace(FREE, running=4), at(5), 4, Full()),
    ("one slot left", Task(), replace(FREE, running=3), at(5), 4, Launch("schedule", NEXT)),
    (
        "a skip needs no slot",
        Task(),
        ClaimFacts(previous_running=True, device_busy=False, running=4),
        at(5),
        4,
        Skip("schedule", NEXT, "the previous run was still running"),
    ),
    (
        "queued before full",
        Task(device="/srv/vtape"),
        ClaimFacts(previous_running=False, device_busy=True, running=9),
        at(5),
        4,
        Queue("/srv/vtape"),
    ),
    (
        "a once task has no next run",
        Task(schedule_type="once", schedule_config={"datetime": "2026-12-01 02:00:00"}),
        FREE,
        at(5),
        4,
        Launch("schedule", None),
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("task", "facts", "now", "cap", "expected"),
    [case[1:] for case in DECIDE_TABLE],
    ids=[case[0] for case in DECIDE_TABLE],
)
def test_decide(task: Task, facts: ClaimFacts, now: datetime, cap: int, expected) -> None:
    assert module.decide(task, facts, now, cap) == expected


def test_decide_reports_a_schedule_that_no_longer_computes() -> None:
    with pytest.raises(InvalidInput, match="Mars/Olympus"):
        module.decide(Task(timezone="Mars/Olympus"), FREE, at(5), 4)


def test_an_interval_moves_on_from_the_slot_not_from_now() -> None:
    task = Task(schedule_type="interval", schedule_config={"interval": 30, "unit": "minutes"})
    claim = module.decide(task, FREE, at(60), 4)
    assert claim == Launch("schedule", SLOT + timedelta(minutes=30))


@dataclass(frozen=True)
class Running:
    created_at: datetime
    pid: int | None = None
    started_at: datetime | None = None


NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


CLASSIFY_TABLE = [
    # (case, execution, lock held, timeout, verdict, reason)
    ("claimed, runner starting", Running(ago(1)), False, None, Verdict.STARTING, None),
    ("claimed 4.9 s ago", Running(ago(4.9)), False, None, Verdict.STARTING, None),
    ("claimed 5 s ago, no runner", Running(ago(5)), False, None, Verdict.RELAUNCH, None),
    ("claimed 9 min ago, no runner", Running(ago(540)), False, None, Verdict.RELAUNCH, None),
    ("runner holds the lock, pid not yet recorded", Running(ago(700)), True, None,
     Verdict.STARTING, None),
    ("claimed 10 min 1 s ago, no runner", Running(ago(601)), False, None, Verdict.LOST,
     "runner never started"),
    ("runner gone", Running(ago(60), 4242, ago(59)), False, None, Verdict.LOST,
     "runner (pid 4242) vanished without recording a result"),
    ("runner alive", Running(ago(60), 4242, ago(59)), True, None, Verdict.ALIVE, None),
    ("within timeout and margin", Running(ago(200), 4242, ago(90)), True, 60, Verdict.ALIVE,
     None),
    ("past timeout and margin", Running(ago(200), 4242, ago(91)), True, 60, Verdict.TIMED_OUT,
     "timed out after 60s (stopped by tick)"),
    ("timed out but gone: lost wins", Running(ago(200), 4242, ago(150)), False, 60, Verdict.LOST,
     "runner (pid 4242) vanished without recording a result"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("execution", "held", "timeout", "verdict", "reason"),
    [case[1:] for case in CLASSIFY_TABLE],
    ids=[case[0] for case in CLASSIFY_TABLE],
)
def test_classify(execution: Running, held: bool, timeout, verdict: Verdict, reason) -> None:
    judged = module.classify(execution, held, NOW, timeout)
    assert (judged.verdict, judged.reason) == (verdict, reason)


@pytest.mark.parametrize(
    ("late", "trigger"),
    [(0, "schedule"), (89.999, "schedule"), (90, "catch_up"), (86400, "catch_up")],
)
def test_trigger_for(late: float, trigger: str) -> None:
    assert module.trigger_for(SLOT, at(late)) == trigger
