"""cleanup in process, with a clock the test sets: history goes, what a chain needs stays."""

from __future__ import annotations

import os
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "end_to_end"))
import conftest_actions as support  # noqa: E402

from tapesched.store.executions import ExecutionRecord as Execution  # noqa: E402


class History:
    """Backups and other runs spread over the last 40 days."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.harness = support.Harness(tmp_path / "home")
        self.now = self.harness.clock
        self.data = tmp_path / "data"
        support.make_tree(self.data)
        config = {"source_paths": [str(self.data)], "device": str(tmp_path / "vtape")}
        self.harness.add("full", "backup", config)
        self.harness.add("incr", "backup", {**config, "task_type": "incremental"})
        self.harness.add("echo", "custom", {"command": ["true"]})
        self.runs: dict[str, Execution] = {}
        self.states: dict[str, dict] = {}
        for label, name, days_ago in [
            ("full-40", "full", 40),
            ("incr-39", "incr", 39),
            ("echo-30", "echo", 30),
            ("full-20", "full", 20),
            ("incr-19", "incr", 19),
            ("incr-5", "incr", 5),
            ("echo-2", "echo", 2),
        ]:
            support.write(self.data / f"added {label}.txt", label)
            self.run(label, name, days_ago)
            assert self.runs[label].status == "success", self.runs[label].error_message
            self.states[label] = support.tree_state(self.data)

    def run(self, label: str, name: str, days_ago: float) -> None:
        self.harness.clock = self.now - timedelta(days=days_ago)
        self.runs[label] = self.harness.run(name)
        self.harness.clock = self.now

    def archive(self, label: str) -> Path:
        return Path(self.runs[label].result["archive_path"])

    def remaining(self) -> set[str]:
        ids = self.harness.execution_ids()
        return {label for label, run in self.runs.items() if run.execution_id in ids}


@pytest.fixture
def history(tmp_path: Path) -> History:
    return History(tmp_path)


def test_cleanup_removes_old_history_but_never_a_kept_backup_record(history: History) -> None:
    history.harness.add("cleanup", "cleanup", {"retention_days": 10})

    run = history.harness.run("cleanup")

    assert run.status == "success", run.error_message
    assert history.remaining() == set(history.runs) - {"echo-30"}
    assert run.result["executions_removed"] == [history.runs["echo-30"].execution_id]
    assert run.result["logs_removed"] == [history.runs["echo-30"].log_path]
    assert not Path(history.runs["echo-30"].log_path).exists()
    assert run.result["archives_removed"] == []
    assert all(history.archive(label).exists() for label in ("full-40", "incr-39"))


def test_cleanup_with_archives_keeps_what_a_kept_incremental_needs(
    tmp_path: Path, history: History
) -> None:
    history.harness.add("cleanup", "cleanup", {"retention_days": 10, "include_archives": True})

    run = history.harness.run("cleanup")

    assert run.status == "success", run.error_message
    gone = ["full-40", "incr-39"]
    needed = ["full-20", "incr-19"]  # expired, but incr-5 builds on them
    assert run.result["archives_removed"] == [str(history.archive(label)) for label in gone]
    assert run.result["archives_kept_for_chains"] == [
        str(history.archive(label)) for label in needed
    ]
    for label in gone:
        assert not history.archive(label).exists()
        assert not Path(f"{history.archive(label)}.sha256").exists()
    assert history.remaining() == {"full-20", "incr-19", "incr-5", "echo-2"}
    # Every point still kept restores byte for byte.
    for label in ("incr-19", "incr-5"):
        target = tmp_path / f"restore-{label}"
        history.harness.add(
            f"restore-{label}",
            "recovery",
            {
                "from_task": "full",
                "target_path": str(target),
                "point": history.runs[label].execution_id,
            },
        )
        restore = history.harness.run(f"restore-{label}")
        assert restore.status == "success", restore.error_message
        assert support.tree_state(support.restored(target, history.data)) == history.states[label]


def test_cleanup_keeps_the_newest_backup_of_a_chain_even_when_expired(
    history: History,
) -> None:
    history.harness.add("cleanup", "cleanup", {"retention_days": 1, "include_archives": True})

    run = history.harness.run("cleanup")

    assert run.status == "success", run.error_message
    assert history.remaining() == {"full-20", "incr-19", "incr-5"}
    assert all(history.archive(label).exists() for label in ("full-20", "incr-19", "incr-5"))


def test_cleanup_spares_runs_in_progress_and_removes_orphan_logs_and_stale_partials(
    tmp_path: Path, history: History
) -> None:
    harness = history.harness
    running_id = str(uuid.uuid4())
    harness.insert_execution(
        execution_id=running_id,
        task_id=1,
        created_at=history.now - timedelta(days=30),
        status="running",
        log_path=str(harness.paths.logs / "full" / f"{running_id}.log"),
    )
    old = (history.now - timedelta(days=30)).timestamp()
    orphan = harness.paths.logs / "deleted task" / "0000.log"
    support.write(orphan, "from a task deleted long ago")
    os.utime(orphan, (old, old))
    stale = tmp_path / "vtape" / ".000099.tar.partial"
    fresh = tmp_path / "vtape" / ".000100.tar.partial"
    support.write(stale, "left by a killed run")
    support.write(fresh, "being written now")
    os.utime(stale, (old, old))
    leftover = harness.paths.snapshots / ".0123456789abcdef.dead-run.snar"
    support.write(leftover, "a working copy a killed run left")
    os.utime(leftover, (old, old))
    harness.add("cleanup", "cleanup", {"retention_days": 10, "include_archives": True})

    run = harness.run("cleanup")

    assert run.status == "success", run.error_message
    assert harness.execution(running_id).status == "running"
    assert str(orphan) in run.result["logs_removed"] and not orphan.exists()
    assert run.result["partial_archives_removed"] == [str(stale)]
    assert fresh.exists()
    assert run.result["temporary_files_removed"] == [str(leftover)]
    assert sorted(path.name for path in harness.paths.snapshots.iterdir() if path.is_file()) == [
        f"{history.runs['full-40'].result['chain_id']}.full.snar",
        f"{history.runs['full-40'].result['chain_id']}.json",
        f"{history.runs['full-40'].result['chain_id']}.snar",
    ]
