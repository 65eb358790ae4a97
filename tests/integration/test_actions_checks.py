"""health_check and retention_check in process, with a clock the test sets."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "end_to_end"))
import conftest_actions as support  # noqa: E402

from tapesched.store.executions import ExecutionRecord as Execution  # noqa: E402


@pytest.fixture
def harness(tmp_path: Path) -> support.Harness:
    harness = support.Harness(tmp_path / "home")
    harness.tick_at(harness.clock)
    return harness


def _checks(run: Execution) -> dict[str, dict]:
    return {check["name"]: check for check in run.result["checks"]}


def test_health_check_passes_and_lists_every_device_enabled_tasks_use(
    tmp_path: Path, harness: support.Harness
) -> None:
    used, unused = tmp_path / "vtape", tmp_path / "disabled-vtape"
    used.mkdir()
    harness.add("b1", "backup", {"source_paths": ["/data"], "device": str(used)})
    harness.add("b2", "backup", {"source_paths": ["/data"], "device": str(tmp_path / "later")})
    harness.add("off", "backup", {"source_paths": ["/data"], "device": str(unused)}, enabled=False)
    harness.add("health", "health_check", {"min_free_mb": 1})

    run = harness.run("health")

    assert run.status == "success", run.error_message
    checks = _checks(run)
    assert list(checks) == [
        "state_folder",
        "database",
        f"device {tmp_path / 'later'}",
        f"device {used}",
        "tick",
        "lost_runs",
    ]
    assert checks["database"]["detail"] == "quick_check: ok"
    assert "created at first use" in checks[f"device {tmp_path / 'later'}"]["detail"]


@pytest.mark.parametrize(
    ("lost_hours_ago", "tick_minutes_ago", "failing"),
    [
        (2, 1, {"lost_runs"}),
        (30, 1, set()),
        (None, 6, {"tick"}),
        (1, 10, {"lost_runs", "tick"}),
    ],
)
def test_health_check_fails_on_a_recent_lost_run_or_a_stale_tick(
    harness: support.Harness,
    lost_hours_ago: float | None,
    tick_minutes_ago: float,
    failing: set[str],
) -> None:
    task = harness.add("backup", "custom", {"command": ["true"]})
    if lost_hours_ago is not None:
        harness.insert_execution(
            task_id=task.id,
            created_at=harness.clock - timedelta(hours=lost_hours_ago + 1),
            completed_at=harness.clock - timedelta(hours=lost_hours_ago),
            status="lost",
        )
    harness.tick_at(harness.clock - timedelta(minutes=tick_minutes_ago))
    harness.add("health", "health_check", {"devices": [], "min_free_mb": 0})

    run = harness.run("health")

    assert {name for name, check in _checks(run).items() if not check["ok"]} == failing
    assert run.status == ("failed" if failing else "success")
    for name in failing:
        assert name in run.error_message


def test_health_check_fails_without_room_in_the_state_folder(harness: support.Harness) -> None:
    harness.add("health", "health_check", {"devices": [], "min_free_mb": 10**12})

    run = harness.run("health")

    assert run.status == "failed"
    assert not _checks(run)["state_folder"]["ok"]
    assert "below 1000000000000 MiB" in run.error_message


@pytest.fixture
def nightly(tmp_path: Path, harness: support.Harness) -> support.Harness:
    """A daily backup task created 10 days ago that last succeeded 30 hours ago."""
    now = harness.clock
    (tmp_path / "data").mkdir()
    harness.clock = now - timedelta(days=10)
    harness.add(
        "nightly",
        "backup",
        {"source_paths": [str(tmp_path / "data")], "device": str(tmp_path / "vtape")},
        schedule=("daily", {"time": "02:00:00"}),
    )
    for days_ago in (10, 3, 1.25):
        harness.clock = now - timedelta(days=days_ago)
        assert harness.run("nightly").status == "success"
    harness.clock = now
    return harness


@pytest.mark.parametrize(
    ("hours_later", "config", "overdue"),
    [
        (0, {}, []),  # 30 h since the last success, window 2 x 24 h
        (17, {}, []),
        (19, {}, ["nightly"]),  # 49 h
        (0, {"max_age_hours": 24}, ["nightly"]),
        (0, {"tasks": ["nightly"], "max_age_hours": 31}, []),
    ],
)
def test_retention_check_fails_when_a_backup_is_overdue(
    nightly: support.Harness, hours_later: float, config: dict, overdue: list[str]
) -> None:
    nightly.add("retention", "retention_check", config)
    nightly.clock += timedelta(hours=hours_later)

    run = nightly.run("retention")

    assert run.result["overdue"] == overdue
    assert run.status == ("failed" if overdue else "success")
    if overdue:
        assert run.error_message.startswith("backups overdue: nightly (overdue: last success")


def test_retention_check_lists_archives_past_retention_without_failing(
    nightly: support.Harness,
) -> None:
    nightly.add("retention", "retention_check", {"retention_days": 2})

    run = nightly.run("retention")

    assert run.status == "success", run.error_message
    assert [Path(item["archive_path"]).name for item in run.result["expired_archives"]] == [
        "000001.tar",
        "000002.tar",
    ]


def test_retention_check_ignores_disabled_tasks_unless_named(
    tmp_path: Path, harness: support.Harness
) -> None:
    harness.clock -= timedelta(days=10)
    harness.add("off", "backup", {"source_paths": ["/data"], "device": "/srv/v"}, enabled=False)
    harness.clock += timedelta(days=10)
    harness.add("all", "retention_check", {})
    harness.add("named", "retention_check", {"tasks": ["off"]})

    assert harness.run("all").result["tasks"] == []
    named = harness.run("named")
    assert named.status == "failed"
    assert named.result["overdue"] == ["off"]


@pytest.mark.parametrize(
    ("tasks", "words"),
    [(["missing"], "tasks: no such task: missing"), (["health"], "health is a health_check")],
)
def test_retention_check_refuses_a_task_that_is_no_backup(
    harness: support.Harness, tasks: list, words: str
) -> None:
    harness.add("health", "health_check", {})
    harness.add("retention", "retention_check", {"tasks": tasks})

    run = harness.run("retention")

    assert run.status == "failed"
    assert words in run.error_message
