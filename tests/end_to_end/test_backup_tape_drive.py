"""A real tape drive, opt-in: TAPESCHED_TEST_TAPE=/dev/nst0 pytest -m tape.

It appends archives at the end of the data of the loaded tape (never rewinds
to write) and restores them: use a scratch tape.
"""

from __future__ import annotations

import os
from pathlib import Path

import conftest_actions as support
import pytest

DRIVE = os.environ.get("TAPESCHED_TEST_TAPE")

pytestmark = [
    pytest.mark.tape,
    pytest.mark.skipif(
        not DRIVE, reason="needs a tape drive: set TAPESCHED_TEST_TAPE=/dev/nst0 (a scratch tape)"
    ),
]


def test_full_and_incremental_on_a_real_drive_restore_byte_for_byte(tmp_path: Path) -> None:
    home, source = tmp_path / "home", tmp_path / "data"
    support.make_tree(source)
    config = {"source_paths": [str(source)], "device": DRIVE, "block_size": 128}
    support.add(home, "full", "backup", config)
    support.add(home, "incr", "backup", {**config, "task_type": "incremental"})

    code, full = support.run(home, "full")
    assert code == 0, full["error_message"]
    (source / "plain.txt").write_text("changed on tape\n")
    (source / "with space.txt").unlink()
    code, incr = support.run(home, "incr")
    assert code == 0, incr["error_message"]
    assert incr["result"]["tape_file_number"] == full["result"]["tape_file_number"] + 1

    target = tmp_path / "target"
    support.add(home, "restore", "recovery", {"from_task": "incr", "target_path": str(target)})
    code, restore = support.run(home, "restore")
    assert code == 0, restore["error_message"]
    assert support.tree_state(support.restored(target, source)) == support.tree_state(source)
