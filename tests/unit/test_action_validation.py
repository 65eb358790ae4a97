"""Validation of action configs at add and edit: keys, types, ranges, devices, paths."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tapesched.actions import validate_action
from tapesched.errors import InvalidInput

BACKUP = {"source_paths": ["/data"], "device": "/srv/vtape"}


@pytest.mark.parametrize(
    ("action", "config", "words"),
    [
        ("backup", {"device": "/srv/vtape"}, "action_config.source_paths: required"),
        ("backup", {"source_paths": ["/data"]}, "action_config.device: required"),
        ("backup", {**BACKUP, "level": "full"}, "unknown key for backup; accepted: "),
        ("backup", {**BACKUP, "source_paths": "/data"}, "expected a non-empty list"),
        ("backup", {**BACKUP, "source_paths": []}, "expected a non-empty list"),
        ("backup", {**BACKUP, "source_paths": ["data"]}, "'data' is not an absolute path"),
        ("backup", {**BACKUP, "source_paths": ["/a\x00b"]}, "source_paths"),
        ("backup", {**BACKUP, "source_paths": ["/data", "/data/"]}, "/data is given twice"),
        ("backup", {**BACKUP, "source_paths": ["/data", "/data/x"]}, "/data/x is inside /data"),
        ("backup", {**BACKUP, "source_paths": ["/d/x", "/d x", "/d"]}, "/d/x is inside /d"),
        ("backup", {**BACKUP, "source_paths": ["/", "/srv"]}, "/srv is inside /"),
        ("backup", {**BACKUP, "task_type": "weekly"}, "expected full, differential or incremental"),
        ("backup", {**BACKUP, "levels": "1st sun"}, "action_config.levels: '1st sun' is not valid"),
        (
            "backup",
            {**BACKUP, "task_type": "full", "levels": [{"level": "full", "on": "*"}]},
            "takes task_type (one level for every run) or levels (a level by date), not both",
        ),
        (
            "backup",
            {
                **BACKUP,
                "levels": [{"level": "full", "on": "1st sun"}, {"level": "full", "on": "sunday x"}],
            },
            "action_config.levels[1]: rule 'sunday x' (full): 'x' is not a word of a rule",
        ),
        ("backup", {**BACKUP, "compression_enabled": "yes"}, "expected true or false"),
        ("backup", {**BACKUP, "exclude": "*.tmp"}, "tar --exclude patterns"),
        ("backup", {**BACKUP, "block_size": 0}, "1-4096"),
        ("backup", {**BACKUP, "block_size": 4097}, "1-4096"),
        ("backup", {**BACKUP, "block_size": True}, "1-4096"),
        ("backup", {**BACKUP, "device": "vtape"}, "not an absolute path"),
        ("backup", {**BACKUP, "device": "/dev/st0"}, "rewinding tape device"),
        ("backup", {**BACKUP, "device": "/data/vtape"}, "inside the source /data"),
        ("backup", {**BACKUP, "device": "/data"}, "inside the source /data"),
        ("recovery", {"target_path": "/r"}, "action_config.from_task: required"),
        ("recovery", {"from_task": "b"}, "action_config.target_path: required"),
        ("recovery", {"from_task": "b", "target_path": "r"}, "not an absolute path"),
        ("recovery", {"from_task": 0, "target_path": "/r"}, "name or id of a backup task"),
        ("recovery", {"from_task": "b", "target_path": "/r", "point": "yesterday"}, "latest or"),
        ("recovery", {"from_task": "b", "target_path": "/r", "overwrite": 1}, "true or false"),
        ("recovery", {"from_task": "b", "target_path": "/r", "paths": ["/d/../e"]}, "'..'"),
        ("recovery", {"from_task": "b", "target_path": "/r", "paths": ["/"]}, "backed-up path"),
        ("cleanup", {}, "action_config.retention_days: required"),
        ("cleanup", {"retention_days": 0}, "1-36500"),
        ("cleanup", {"retention_days": 10**9}, "1-36500"),
        ("cleanup", {"retention_days": 1.5}, "1-36500"),
        ("cleanup", {"retention_days": 7, "include_archives": "no"}, "true or false"),
        ("cleanup", {"retention_days": 7, "days": 7}, "accepted: retention_days, include_archives"),
        ("health_check", {"min_free_mb": -1}, "0 or more"),
        ("health_check", {"devices": "/dev/nst0"}, "a list of tape drives"),
        ("health_check", {"devices": ["relative"]}, "not an absolute path"),
        ("retention_check", {"max_age_hours": 0}, "above 0"),
        ("retention_check", {"max_age_hours": 10**12}, "at most"),
        ("retention_check", {"tasks": []}, "backup task names or ids"),
        ("retention_check", {"retention_days": 0}, "1-36500"),
        ("nightly", {}, "action_type: 'nightly' is unknown"),
    ],
)
def test_validate_action_refuses(action: str, config: dict, words: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        validate_action(action, config)
    assert words in raised.value.message


def test_the_device_is_normalized_because_it_names_the_lock() -> None:
    config, _ = validate_action("backup", {**BACKUP, "device": "/srv/./vtape/"})
    assert config == {**BACKUP, "device": "/srv/vtape"}


def test_a_regular_file_is_no_device(tmp_path: Path) -> None:
    device = tmp_path / "tape.img"
    device.write_text("")
    with pytest.raises(InvalidInput, match="neither a tape drive"):
        validate_action("backup", {**BACKUP, "device": str(device)})


@pytest.mark.parametrize(
    ("action", "config"),
    [
        ("backup", {**BACKUP, "task_type": "incremental", "compression_enabled": True}),
        ("backup", {**BACKUP, "exclude": [], "block_size": 128, "device": "/dev/nst0"}),
        ("recovery", {"from_task": 3, "target_path": "/r", "point": "0123abcd", "paths": ["/d"]}),
        ("recovery", {"from_task": "b", "target_path": "/r", "point": "latest", "overwrite": True}),
        ("cleanup", {"retention_days": 1, "include_archives": True}),
        ("health_check", {}),
        ("health_check", {"devices": ["/dev/nst0", "/srv/vtape"], "min_free_mb": 0}),
        ("retention_check", {"tasks": ["nightly", 2], "max_age_hours": 0.5, "retention_days": 30}),
    ],
)
def test_validate_action_accepts(action: str, config: dict) -> None:
    assert validate_action(action, config)[0] == config


def test_paths_that_may_appear_later_are_warnings(tmp_path: Path) -> None:
    missing, vtape = tmp_path / "not mounted", tmp_path / "vtape"
    config = {"source_paths": [str(missing)], "device": str(vtape)}
    _, warnings = validate_action("backup", config)
    assert warnings == [
        f"source path {missing} does not exist now; it is checked at run time",
        f"virtual tape {vtape} does not exist now; it is created (mode 0700) at the first backup",
    ]
    vtape.mkdir()
    missing.mkdir()
    assert validate_action("backup", config)[1] == []


def test_a_non_empty_target_is_a_warning_unless_overwrite(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    config = {"from_task": "b", "target_path": str(tmp_path)}
    assert "not empty" in validate_action("recovery", config)[1][0]
    assert validate_action("recovery", {**config, "overwrite": True})[1] == []
    assert os.listdir(tmp_path) == ["file"]
