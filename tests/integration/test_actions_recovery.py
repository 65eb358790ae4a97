"""recovery in process, on real archives: partial restores, overwrite, refusals."""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "end_to_end"))
import conftest_actions as support  # noqa: E402


@pytest.fixture
def chain(tmp_path: Path) -> support.Harness:
    """A full and an incremental of tmp_path/data on tmp_path/vtape (task 'full')."""
    harness = support.Harness(tmp_path / "home")
    data = tmp_path / "data"
    support.make_tree(data)
    (data / "outside").symlink_to(tmp_path / "escaped")
    config = {"source_paths": [str(data)], "device": str(tmp_path / "vtape")}
    harness.add("full", "backup", config)
    harness.add("incr", "backup", {**config, "task_type": "incremental"})
    assert harness.run("full").status == "success"
    (data / "deep" / "sub dir" / "plain.txt").write_text("changed in the incremental\n")
    (data / "deep" / "sub dir" / "with space.txt").unlink()
    assert harness.run("incr").status == "success"
    return harness


def _restore(harness: support.Harness, target: Path, **config: object):  # noqa: ANN202
    name = f"restore-{uuid.uuid4().hex[:8]}"
    harness.add(name, "recovery", {"from_task": "incr", "target_path": str(target), **config})
    return harness.run(name)


def test_paths_restores_only_those_paths_up_to_the_point(
    tmp_path: Path, chain: support.Harness
) -> None:
    target = tmp_path / "target"
    wanted = tmp_path / "data" / "deep"

    run = _restore(chain, target, paths=[str(wanted), str(tmp_path / "data" / "plain.txt")])

    assert run.status == "success", run.error_message
    copy = support.restored(target, tmp_path / "data")
    assert sorted(os.listdir(copy)) == ["deep", "plain.txt"]
    assert support.tree_state(copy / "deep") == support.tree_state(wanted)
    assert (copy / "plain.txt").read_bytes() == (tmp_path / "data" / "plain.txt").read_bytes()
    files_in_deep = [kind for kind in support.tree_state(wanted).values() if kind != "dir"]
    assert run.result["files"] == len(files_in_deep) + 1


def test_a_path_not_in_the_backup_fails_before_anything_is_extracted(
    tmp_path: Path, chain: support.Harness
) -> None:
    target = tmp_path / "target"

    run = _restore(chain, target, paths=[str(tmp_path / "data" / "plain.txt"), "/not/there"])

    assert run.status == "failed"
    assert run.error_message == "paths not in the backup up to this point: /not/there"
    assert not target.exists()


def test_overwrite_restores_over_a_non_empty_target(tmp_path: Path, chain: support.Harness) -> None:
    target = tmp_path / "target"
    copy = support.restored(target, tmp_path / "data")
    support.write(copy / "plain.txt", "stale copy")
    support.write(copy / "deep" / "sub dir" / "with space.txt", "deleted since")
    support.write(target / "unrelated.txt", "not part of the backup")

    run = _restore(chain, target, overwrite=True)

    assert run.status == "success", run.error_message
    assert support.tree_state(copy) == support.tree_state(tmp_path / "data")
    assert (target / "unrelated.txt").read_text() == "not part of the backup"


def test_links_are_restored_as_links_and_nothing_lands_outside_the_target(
    tmp_path: Path, chain: support.Harness
) -> None:
    target = tmp_path / "target"

    run = _restore(chain, target)

    assert run.status == "success", run.error_message
    link = support.restored(target, tmp_path / "data") / "outside"
    assert os.readlink(link) == str(tmp_path / "escaped")
    assert not (tmp_path / "escaped").exists()
    assert sorted(os.listdir(tmp_path)) == ["data", "home", "target", "vtape"]


def test_a_missing_archive_fails_the_recovery_before_extracting(
    tmp_path: Path, chain: support.Harness
) -> None:
    (tmp_path / "vtape" / "000002.tar").unlink()
    target = tmp_path / "target"

    run = _restore(chain, target)

    assert run.status == "failed"
    assert "000002.tar" in run.error_message and "missing" in run.error_message
    assert not target.exists()


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ({"from_task": "nope"}, "from_task: no such task: nope"),
        ({"from_task": "restore-x"}, "restore-x is a recovery task, not a backup"),
        ({"point": "0123456789abcdef"}, "point 0123456789abcdef is not a successful backup"),
    ],
)
def test_recovery_refuses_a_bad_reference(
    tmp_path: Path, chain: support.Harness, config: dict, words: str
) -> None:
    chain.add("restore-x", "recovery", {"from_task": "full", "target_path": str(tmp_path / "x")})
    target = tmp_path / "target"

    run = _restore(chain, target, **config)

    assert run.status == "failed"
    assert words in run.error_message
    assert not target.exists()


def test_a_target_that_is_a_file_is_refused(tmp_path: Path, chain: support.Harness) -> None:
    target = tmp_path / "target"
    target.write_text("a file")

    run = _restore(chain, target, overwrite=True)

    assert run.status == "failed"
    assert "exists and is not a directory" in run.error_message
    assert target.read_text() == "a file"
