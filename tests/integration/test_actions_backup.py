"""backup in process, on real files and real tar: chains, levels, what a stopped run leaves."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "end_to_end"))
import conftest_actions as support  # noqa: E402


@pytest.fixture
def harness(tmp_path: Path) -> support.Harness:
    return support.Harness(tmp_path / "home")


def _config(tmp_path: Path, **extra: object) -> dict:
    return {"source_paths": [str(tmp_path / "data")], "device": str(tmp_path / "vtape"), **extra}


def test_an_incremental_with_no_full_behind_it_runs_as_full_and_says_so(
    tmp_path: Path, harness: support.Harness
) -> None:
    support.make_tree(tmp_path / "data")
    harness.add("incr", "backup", _config(tmp_path, task_type="incremental"))

    first = harness.run("incr")
    (tmp_path / "data" / "plain.txt").write_text("changed\n")
    second = harness.run("incr")

    assert first.status == "success", first.error_message
    assert "no full backup in this chain yet: running a full backup" in harness.output(first)
    assert first.result["task_type_requested"] == "incremental"
    assert (first.result["ran_as"], first.result["level"]) == ("full", 0)
    assert (second.result["ran_as"], second.result["level"]) == ("incremental", 1)
    assert second.result["files"] == 1  # only the changed file (directories are members)
    assert second.result["bytes"] == len("changed\n")


def test_a_full_task_restarts_the_chain_that_an_incremental_task_continues(
    tmp_path: Path, harness: support.Harness
) -> None:
    support.make_tree(tmp_path / "data")
    harness.add("full", "backup", _config(tmp_path))
    harness.add("incr", "backup", _config(tmp_path, task_type="incremental"))

    runs = [harness.run(name) for name in ("full", "incr", "incr", "full", "incr")]

    assert [run.status for run in runs] == ["success"] * 5
    assert [run.result["level"] for run in runs] == [0, 1, 2, 0, 1]
    assert len({run.result["chain_id"] for run in runs}) == 1
    assert [run.result["tape_file_number"] for run in runs] == [1, 2, 3, 4, 5]
    chain = runs[0].result["chain_id"]
    assert sorted(path.name for path in harness.paths.snapshots.iterdir()) == [
        f"{chain}.full.snar",
        f"{chain}.json",
        f"{chain}.snar",
    ]


def test_archives_are_private_complete_and_checksummed(
    tmp_path: Path, harness: support.Harness
) -> None:
    support.make_tree(tmp_path / "data")
    harness.add("full", "backup", _config(tmp_path, compression_enabled=True, block_size=64))

    run = harness.run("full")

    archive = Path(run.result["archive_path"])
    assert archive == tmp_path / "vtape" / "000001.tar.gz"
    assert stat.S_IMODE((tmp_path / "vtape").stat().st_mode) == 0o700
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    assert (tmp_path / "vtape" / "000001.tar.gz.sha256").read_text() == (
        f"{run.result['sha256']}  000001.tar.gz\n"
    )
    assert run.result["archive_bytes"] == archive.stat().st_size
    assert run.result["block_size"] == 64
    assert run.result["backend"] == "virtual_tape"
    assert run.result["files"] == 2 * len(support.TRICKY_NAMES) + 4


def test_a_run_stopped_after_tar_leaves_no_archive_and_the_chain_unchanged(
    tmp_path: Path, harness: support.Harness
) -> None:
    support.make_tree(tmp_path / "data")
    harness.add("incr", "backup", _config(tmp_path, task_type="incremental"))
    full = harness.run("incr")
    snapshot = harness.paths.snapshots / f"{full.result['chain_id']}.snar"
    before = snapshot.read_bytes()
    (tmp_path / "data" / "plain.txt").write_text("changed\n")

    def stop_when_tar_is_done(context) -> None:  # noqa: ANN001 - a JobContext
        run = context.run

        def run_then_stop(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            outcome = run(*args, **kwargs)
            context.cancelled = True  # as if `tapesched stop` came now
            return outcome

        context.run = run_then_stop

    stopped = harness.run("incr", wrap=stop_when_tar_is_done)

    assert stopped.status == "cancelled"
    assert sorted(path.name for path in (tmp_path / "vtape").iterdir()) == [
        "000001.tar",
        "000001.tar.sha256",
        "tapesched-vtape.json",
    ]
    assert snapshot.read_bytes() == before
    assert not [path for path in harness.paths.snapshots.iterdir() if path.name.startswith(".")]
    after = harness.run("incr")
    assert (after.result["level"], after.result["files"]) == (1, 1)


def test_excluded_files_are_not_archived(tmp_path: Path, harness: support.Harness) -> None:
    support.write(tmp_path / "data" / "keep.txt", "keep")
    support.write(tmp_path / "data" / "cache" / "big.tmp", "skip")
    support.write(tmp_path / "data" / "skip.tmp", "skip")
    harness.add("full", "backup", _config(tmp_path, exclude=["*.tmp"]))

    run = harness.run("full")

    assert run.status == "success", run.error_message
    assert (run.result["files"], run.result["bytes"]) == (1, 4)
