"""Issue 9 through the real CLI and detached runners: a tampered chain is refused and
writes nothing outside its target; a file server's metadata survives a chain."""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path

import conftest_actions as support
import pytest


def test_a_tampered_chain_is_refused_and_nothing_is_written_through_its_links(
    tmp_path: Path,
) -> None:
    home, outside = tmp_path / "home", tmp_path / "outside"
    support.write(outside / "victim", "precious\n")
    before = support.file_state(outside)
    support.add(
        home,
        "nightly",
        "backup",
        {"source_paths": [str(tmp_path / "data")], "device": str(tmp_path / "vtape")},
    )
    crafted = tmp_path / "crafted"
    crafted.mkdir()
    first = support.craft_archive(
        crafted / "1.tar", [("dir", "data", None), ("symlink", "data/esc", str(outside))]
    )
    second = support.craft_archive(
        crafted / "2.tar", [("dir", "data", None), ("file", "data/esc/victim", b"overwritten")]
    )
    harness = support.Harness(home)  # the tamperer's write access to the database
    support.plant_chain(harness, "nightly", [first, second])
    target = tmp_path / "target"
    support.add(home, "restore", "recovery", {"from_task": "nightly", "target_path": str(target)})

    code, execution = support.run(home, "restore")

    assert code == 1
    assert execution["error_message"] == (
        f"refused {tmp_path / 'vtape' / '000002.tar'}: member 'data/esc/victim' is under "
        f"'data/esc', a symbolic link made by {tmp_path / 'vtape' / '000001.tar'} "
        f"(to '{outside}'); a restore never follows a link; nothing was extracted"
    )
    assert support.file_state(outside) == before
    assert not target.exists()


def test_sparse_files_xattrs_and_nanosecond_times_survive_a_chain(tmp_path: Path) -> None:
    home, source = tmp_path / "home", tmp_path / "data"
    support.make_tree(source)
    image = source / "disk.img"
    with open(image, "wb") as handle:
        handle.truncate(64 << 20)
        handle.seek(32 << 20)
        handle.write(b"middle")
    try:
        os.setxattr(source / "plain.txt", "user.origin", b"file server")
    except OSError as error:
        if error.errno not in (errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
        pytest.skip(f"the filesystem of {tmp_path} refuses user xattrs")
    os.utime(source / "plain.txt", ns=(1, 1_600_000_000_123_456_789))
    config = {"source_paths": [str(source)], "device": str(tmp_path / "vtape")}
    support.add(home, "full", "backup", config)
    support.add(home, "incr", "backup", {**config, "task_type": "incremental"})
    code, full = support.run(home, "full")
    assert code == 0, full["error_message"]
    os.setxattr(source / "binary.bin", "user.added", b"in the incremental")
    os.utime(source / "binary.bin", ns=(2, 1_700_000_000_000_000_001))
    code, incremental = support.run(home, "incr")
    assert code == 0, incremental["error_message"]
    target = tmp_path / "target"
    support.add(home, "restore", "recovery", {"from_task": "incr", "target_path": str(target)})

    code, restore = support.run(home, "restore")

    assert code == 0, restore["error_message"]
    assert full["result"]["format"] == "posix"
    assert "sparse" in full["result"]["kept"] and "xattrs" in full["result"]["kept"]
    copy = support.restored(target, source)
    assert support.tree_state(copy) == support.tree_state(source)
    assert (copy / "disk.img").stat().st_blocks * 512 < 1 << 20
    digest = hashlib.sha256((copy / "disk.img").read_bytes()).hexdigest()
    assert digest == hashlib.sha256(image.read_bytes()).hexdigest()
    assert os.getxattr(copy / "plain.txt", "user.origin") == b"file server"
    assert os.getxattr(copy / "binary.bin", "user.added") == b"in the incremental"
    for name in ("plain.txt", "binary.bin", "link to plain"):
        assert (copy / name).lstat().st_mtime_ns == (source / name).lstat().st_mtime_ns
