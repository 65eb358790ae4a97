"""Task definitions: one rule per field, and how a change applies to a task."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tapesched import spec as module
from tapesched.errors import InvalidInput
from tapesched.schedule_config import Schedule
from tapesched.spec import UNSET, TaskChanges

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def new(**fields) -> module.TaskSpec:
    changes = TaskChanges(
        task_name="t",
        schedule_type="daily",
        schedule_config={"time": "02:00"},
        action_type="custom",
        action_config={"command": "true"},
    )
    for name, value in fields.items():
        setattr(changes, name, value)
    return module.new_spec(changes, "UTC")[0]


RULES = [
    # (field, accepted values, refused values, words of the refusal)
    ("task_name", ["a", "nightly-db.2", "x" * 64, "1a"],
     ["", "123", "has space", ".hidden", "a/b", "x" * 65, "tail\n", 7, None], "task name: "),
    ("description", ["", "nightly"], [3, None, ["x"]], "description: "),
    ("enabled", [True, False], [1, "yes", None], "enabled: "),
    ("timeout", [None, 1, 86400], [0, -1, 1.5, True, "60"], "timeout: "),
    ("misfire", ["run_once", "skip"], ["later", "", None, 1], "misfire: "),
    ("misfire_grace", [None, 0, 300], [-1, 2.5, False, "0"], "misfire_grace: "),
    ("device_wait", [0, 60], [-1, None, 1.0, True], "device_wait: "),
    ("ping_url", [None, "https://hc-ping.com/abc", "http://h.example/x"],
     ["ftp://x.example/y", "hc-ping.com/abc", "http://", 5], "ping_url: "),
    ("notify_command", [None, "mail -s 'backup failed' root", "/bin/true"],
     ["", "   ", "unclosed 'quote", 3], "notify_command: "),
    ("notify_on", ["failure", "always"], ["sometimes", None, ""], "notify_on: "),
]  # fmt: skip


@pytest.mark.parametrize(("name", "good", "bad", "words"), RULES)
def test_each_field_has_one_rule(name: str, good: list, bad: list, words: str) -> None:
    rule = module.RULES[name]
    for value in good:
        assert rule(value) == value
    for value in bad:
        with pytest.raises(InvalidInput) as caught:
            rule(value)
        assert caught.value.message.startswith(words), caught.value.message
        assert "\n" not in caught.value.message


@given(st.one_of(st.integers(), st.floats(), st.booleans(), st.text(max_size=5), st.none()))
def test_number_rules_accept_whole_seconds_only(value) -> None:
    for name in ("timeout", "misfire_grace", "device_wait"):
        try:
            result = module.RULES[name](value)
        except InvalidInput as error:
            assert error.field == name
            continue
        assert result is None or (type(result) is int and result >= 0)


def test_a_new_spec_takes_the_defaults_of_add() -> None:
    spec = new()
    assert (spec.description, spec.enabled, spec.timeout, spec.misfire) == (
        "",
        True,
        None,
        "run_once",
    )
    assert (spec.misfire_grace, spec.device_wait, spec.notify_on) == (None, 60, "failure")
    assert spec.schedule == Schedule("daily", {"time": "02:00:00"}, "UTC")
    assert list(spec.values()) == list(module.FIELDS)


def test_a_new_spec_needs_a_schedule_and_an_action() -> None:
    with pytest.raises(InvalidInput, match="^schedule: missing"):
        module.new_spec(TaskChanges(task_name="t", action_type="custom"), "UTC")
    with pytest.raises(InvalidInput, match="^action: missing"):
        module.new_spec(
            TaskChanges(task_name="t", schedule_type="daily", schedule_config={"time": "2:00"}),
            "UTC",
        )


def test_an_empty_zone_is_refused_not_replaced_by_the_hosts() -> None:
    with pytest.raises(InvalidInput, match="^timezone: "):
        new(timezone="")


def test_a_type_without_a_config_keeps_the_config_of_the_same_type() -> None:
    current = Schedule("weekly", {"day_of_week": 6, "time": "01:00:00"}, "Europe/Berlin")
    same = module.resolve_schedule("weekly", UNSET, UNSET, current)
    assert same == current
    with pytest.raises(InvalidInput, match="^schedule_config: required with --schedule-type"):
        module.resolve_schedule("daily", UNSET, UNSET, current)
    moved = module.resolve_schedule(UNSET, UNSET, "Asia/Tokyo", current)
    assert moved == Schedule("weekly", current.config, "Asia/Tokyo")


def test_action_settings_merge_into_the_same_action_and_a_config_replaces_it() -> None:
    current = ("backup", {"source_paths": ["/srv/a"], "device": "/srv/vtape"})
    kind, merged, _ = module.resolve_action(UNSET, UNSET, {"task_type": "incremental"}, current)
    assert (kind, merged) == (
        "backup",
        {"source_paths": ["/srv/a"], "device": "/srv/vtape", "task_type": "incremental"},
    )
    kind, replaced, _ = module.resolve_action(
        UNSET, {"source_paths": ["/srv/b"], "device": "/srv/t2"}, {}, current
    )
    assert replaced == {"source_paths": ["/srv/b"], "device": "/srv/t2"}
    kind, other, _ = module.resolve_action("custom", UNSET, {"command": "true"}, current)
    assert (kind, other) == ("custom", {"command": "true"})


def test_a_change_keeps_what_it_does_not_name() -> None:
    current = new(timeout=60, description="nightly")
    changed, _ = module.changed_spec(current, TaskChanges(misfire="skip", timeout=None))
    assert (changed.misfire, changed.timeout, changed.description) == ("skip", None, "nightly")
    assert changed.schedule == current.schedule and changed.action_config == current.action_config


def test_empty_changes() -> None:
    assert TaskChanges().empty()
    assert not TaskChanges(timeout=None).empty()
    assert not TaskChanges(action_settings={"command": "x"}).empty()


@pytest.mark.parametrize(
    ("when", "force", "outcome"),
    [("2030-01-01 00:00", False, False), ("2020-01-01 00:00", True, True)],
)
def test_check_start(when: str, force: bool, outcome: bool) -> None:
    schedule = Schedule("once", {"datetime": when}, "UTC")
    assert module.check_start(schedule, NOW, force) is outcome


def test_a_once_in_the_past_is_refused_without_force() -> None:
    with pytest.raises(InvalidInput) as caught:
        module.new_spec(
            TaskChanges(
                task_name="late",
                schedule_type="once",
                schedule_config={"datetime": "2020-01-01 00:00"},
                action_type="custom",
                action_config={"command": "true"},
            ),
            "UTC",
            NOW,
        )
    assert caught.value.message.startswith(
        "schedule_config.datetime: 2020-01-01 00:00:00 is in the past"
    )
    assert "--force" in caught.value.message
