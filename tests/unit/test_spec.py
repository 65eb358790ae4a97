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
     ["", "123", "has space", ".hidden", "a/b", "x" * 65, "tail\n", "a\n", "\na", "a\r", 7,
      None], "task name: "),
    ("description", ["", "nightly", "full backup, Sundays ü", "tab-free\u00a0text"],
     [3, None, ["x"], "two\nlines", "tab\there", "\x1b[31mred", "del\x7f", "c1\x9b"],
     "description: "),
    ("enabled", [True, False], [1, "yes", None], "enabled: "),
    ("timeout", [None, 1, 86400, module.MAX_TIMEOUT],
     [0, -1, 1.5, True, "60", module.MAX_TIMEOUT + 1, 2**63, 10**30], "timeout: "),
    ("misfire", ["run_once", "skip"], ["later", "", None, 1], "misfire: "),
    ("misfire_grace", [None, 0, 300, module.MAX_MISFIRE_GRACE],
     [-1, 2.5, False, "0", module.MAX_MISFIRE_GRACE + 1, 2**64, -(2**63)], "misfire_grace: "),
    ("device_wait", [0, 60, 86400], [-1, None, 1.0, True, 86401, 10**20], "device_wait: "),
    ("ping_url", [None, "https://hc-ping.com/abc", "http://h.example/x",
                  "https://hc-ping.com/uuid?create=1", "http://[::1]:8000/ping"],
     ["ftp://x.example/y", "hc-ping.com/abc", "http://", 5, "https://", "http://a b/c",
      "https://hc ping.com/x", "http://h.example/x\n", "http://h\u00e9.example/x",
      "http://h.example:port/x", "http://h.example:0/x", "http://h.example/x#part",
      "javascript:alert(1)", "http:///path", "http://[::1/x", " https://hc-ping.com/x"],
     "ping_url: "),
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


NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([2**31, 2**63 - 1, 2**63, 86399 * 10**9, 10**18 + 1]),
    st.floats(),
    st.booleans(),
    st.text(max_size=5),
    st.none(),
)


@given(NUMBERS)
def test_number_rules_accept_whole_seconds_only(value) -> None:
    for name in ("timeout", "misfire_grace", "device_wait"):
        try:
            result = module.RULES[name](value)
        except InvalidInput as error:
            assert error.field == name
            assert "\n" not in error.message
            continue
        assert result is None or (type(result) is int and result >= 0)


@given(NUMBERS)
def test_an_accepted_number_fits_sqlite_and_date_arithmetic(value) -> None:
    """Whatever a number rule accepts can be stored (an SQLite integer) and compared as a
    timedelta with the lateness or run time of any instant tapesched computes with
    (clock.EARLIEST-LATEST), so no later step overflows."""
    from datetime import timedelta

    from tapesched.clock import EARLIEST, LATEST

    for name in ("timeout", "misfire_grace", "device_wait"):
        try:
            result = module.RULES[name](value)
        except InvalidInput:
            continue
        if result is None:
            continue
        assert -(2**63) <= result < 2**63
        delta = timedelta(seconds=result)
        assert LATEST - delta >= EARLIEST and EARLIEST + delta <= LATEST
        assert (LATEST - EARLIEST) > delta and (NOW + delta).year < 2100


JSON_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.text(st.characters(codec=None, exclude_categories=()), max_size=4),
    st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=2),
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.text(max_size=3) | JSON_LEAVES.filter(lambda v: isinstance(v, str)),
            inner,
            max_size=3,
        ),
    ),
    max_leaves=12,
)


def nested(depth: int, leaf: object = "x") -> object:
    """`depth` lists inside each other around `leaf`."""
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("field", ["action_config", "schedule_config", "description"])
@given(value=JSON_VALUES, depth=st.integers(min_value=0, max_value=60))
def test_every_field_holds_utf8_text_and_bounded_nesting(field: str, value, depth: int) -> None:
    """Whatever comes in, at any door: either refused with one line naming the field, or
    text that encodes as UTF-8 and nesting at most MAX_DEPTH deep."""
    import json

    item = {"k": nested(depth, value)} if field.endswith("config") else nested(depth, value)
    try:
        module.check_values(TaskChanges(**{field: item}))
    except InvalidInput as error:
        assert error.message.startswith(field), error.message
        assert "\n" not in error.message
        error.message.encode("utf-8")
        return
    json.dumps(item, allow_nan=field != "action_config").encode("utf-8")
    assert depth_of(item) <= module.MAX_DEPTH


def depth_of(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((depth_of(item) for item in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth_of(item) for item in value), default=0)
    return 0


def test_nesting_is_counted_from_the_config_itself() -> None:
    config = {"command": "true", "env": nested(module.MAX_DEPTH - 1)}
    module.check_values(TaskChanges(action_config=config))
    with pytest.raises(InvalidInput, match="^action_config: nested deeper than 32 levels"):
        module.check_values(TaskChanges(action_config={**config, "env": nested(32)}))
    with pytest.raises(InvalidInput, match="^action_config: nested deeper"):
        module.check_values(TaskChanges(action_settings={"exclude": nested(40)}))


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        (TaskChanges(description="\udcff"), "description: '\\xff' is not valid UTF-8"),
        (TaskChanges(task_name="a\ud800"), "task_name: 'a\\ud800' is not valid UTF-8"),
        (TaskChanges(action_config={"env": {"A": "x\udcfe"}}), "action_config.env.A: "),
        (
            TaskChanges(action_config={"env": {"\udcff": "x"}}),
            "action_config.env: key '\\xff' is not valid UTF-8",
        ),
        (
            TaskChanges(action_settings={"source_paths": ["/srv/\udce9"]}),
            "action_config.source_paths[0]: '/srv/\\xe9'",
        ),
        (TaskChanges(schedule_config={"cron": "0 2 * * \udcff"}), "schedule_config.cron: "),
        (TaskChanges(timezone="Europe/\udcff"), "timezone: "),
        (
            TaskChanges(action_config={"min_free_mb": float("inf")}),
            "action_config.min_free_mb: inf is not valid; expected a finite number",
        ),
        (TaskChanges(action_config={"min_free_mb": float("nan")}), "action_config.min_free_mb: "),
        (TaskChanges(action_config={"min_free_mb": 2**63}), "action_config.min_free_mb: 92233"),
    ],
)
def test_values_no_rule_could_store_are_refused_first(changes: TaskChanges, words: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        module.check_values(changes)
    assert caught.value.message.startswith(words), caught.value.message


def test_the_doors_check_values_first() -> None:
    bad = TaskChanges(
        task_name="t",
        description="\udcff",
        schedule_type="daily",
        schedule_config={"time": "02:00"},
        action_type="custom",
        action_config={"command": "true"},
    )
    with pytest.raises(InvalidInput, match="^description: "):
        module.new_spec(bad, "UTC")
    with pytest.raises(InvalidInput, match="^action_config: nested deeper"):
        module.changed_spec(new(), TaskChanges(action_config={"command": nested(50)}))


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
