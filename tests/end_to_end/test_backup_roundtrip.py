"""Backup and restore through the real CLI and detached runners, on a virtual tape.

The standard: a backup reported successful restores byte for byte, and nothing
is overwritten silently.
"""

from __future__ import annotations

import os
from pathlib import Path

import conftest_actions as support


def _change_first(source: Path) -> None:
    """Files changed, added, deleted and renamed (a file and a folder), binary data."""
    (source / "plain.txt").write_text("changed content, longer than before\n")
    support.write(source / "new file ü.txt", "added after the full backup\n")
    support.write(source / "added dir" / "x;y $(z).bin", os.urandom(10_000))
    (source / "semi;colon.txt").unlink()
    (source / "with space.txt").rename(source / "renamed with space.txt")
    (source / "deep" / "sub dir").rename(source / "deep" / "moved $(dir)")
    with open(source / "binary.bin", "r+b") as handle:
        handle.seek(100)
        handle.write(os.urandom(500))


def _change_second(source: Path) -> None:
    """More of the same, and a same-size rewrite with the old mtime put back."""
    (source / "empty dir").rmdir()
    (source / "grüße-日本語.txt").rename(source / "renamed-ñ;.txt")
    (source / "deep" / "moved $(dir)" / "plain.txt").write_text("edited in a renamed folder\n")
    (source / "link to plain").unlink()
    (source / "new link").symlink_to("binary.bin")
    with open(source / "zeros.bin", "ab") as handle:
        handle.write(b"\x01" * 1000)
    same_size = source / 'quote\'s "double".txt'
    before = same_size.stat()
    same_size.write_bytes(bytes(reversed(same_size.read_bytes())))
    os.utime(same_size, ns=(before.st_atime_ns, before.st_mtime_ns))


def _everything_under(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*")}


def test_full_and_two_incrementals_restore_byte_for_byte_at_every_point(tmp_path: Path) -> None:
    home, source, vtape = tmp_path / "home", tmp_path / "data", tmp_path / "vtape"
    support.make_tree(source)
    # A weekly full task and a daily incremental task over the same sources and device: one chain.
    support.add(
        home,
        "weekly-full",
        "backup",
        {"source_paths": [str(source)], "device": str(vtape), "task_type": "full"},
        "--weekly",
        "sun",
        "--at",
        "01:00",
    )
    support.add(
        home,
        "daily-incr",
        "backup",
        {
            "source_paths": [str(source) + "/"],
            "device": str(vtape),
            "task_type": "incremental",
            "compression_enabled": True,
        },
        "--daily",
        "02:00",
    )
    states, executions = [], []
    for name, change in (
        ("weekly-full", None),
        ("daily-incr", _change_first),
        ("daily-incr", _change_second),
    ):
        if change:
            change(source)
        states.append(support.tree_state(source))
        code, execution = support.run(home, name)
        assert code == 0, execution["error_message"]
        executions.append(execution)

    assert states[0] != states[1] != states[2] != states[0]
    results = [execution["result"] for execution in executions]
    assert [r["level"] for r in results] == [0, 1, 2]
    assert [r["ran_as"] for r in results] == ["full", "incremental", "incremental"]
    assert len({r["chain_id"] for r in results}) == 1
    assert [r["tape_file_number"] for r in results] == [1, 2, 3]
    assert [Path(r["archive_path"]).name for r in results] == [
        "000001.tar",
        "000002.tar.gz",
        "000003.tar.gz",
    ]
    assert all(Path(r["archive_path"]).is_file() and len(r["sha256"]) == 64 for r in results)
    assert not [name for name in os.listdir(vtape) if name.endswith(".partial")]

    for index, execution in enumerate(executions):
        target = tmp_path / f"restore-{index}"
        support.add(
            home,
            f"restore-{index}",
            "recovery",
            {
                "from_task": "weekly-full" if index % 2 else "daily-incr",
                "point": execution["execution_id"] if index < 2 else "latest",
                "target_path": str(target),
            },
        )
        code, recovery = support.run(home, f"restore-{index}")
        assert code == 0, recovery["error_message"]
        assert recovery["result"]["chain"] == [e["execution_id"] for e in executions[: index + 1]]
        copy = support.restored(target, source)
        assert support.tree_state(copy) == states[index]
        # Nothing but the source's own path was written into the target.
        parents = {str(Path(*copy.relative_to(target).parts[:n])) for n in range(1, 99)}
        assert _everything_under(target) - parents == {
            str(copy.relative_to(target) / relative) for relative in states[index]
        }
    assert not (tmp_path / "injected").exists()


def _backed_up_chain(tmp_path: Path) -> tuple[Path, Path, list[dict]]:
    home, source = tmp_path / "home", tmp_path / "data"
    support.make_tree(source)
    config = {"source_paths": [str(source)], "device": str(tmp_path / "vtape")}
    support.add(home, "full", "backup", config)
    support.add(home, "incr", "backup", {**config, "task_type": "incremental"})
    executions = []
    for name in ("full", "incr"):
        code, execution = support.run(home, name)
        assert code == 0, execution["error_message"]
        executions.append(execution)
        (source / "plain.txt").write_text("changed\n")
    return home, source, executions


def test_recovery_refuses_a_non_empty_target_and_leaves_it_unchanged(tmp_path: Path) -> None:
    home, _, _ = _backed_up_chain(tmp_path)
    target = tmp_path / "busy target"
    support.write(target / "keep me.txt", "precious\n")
    (target / "sub").mkdir()
    before = support.tree_state(target)
    support.add(home, "restore", "recovery", {"from_task": "full", "target_path": str(target)})

    code, execution = support.run(home, "restore")

    assert code == 1
    assert execution["status"] == "failed"
    assert "not empty" in execution["error_message"]
    assert "overwrite" in execution["error_message"]
    assert support.tree_state(target) == before


def test_a_corrupted_archive_fails_the_recovery_and_nothing_is_extracted(tmp_path: Path) -> None:
    home, _, executions = _backed_up_chain(tmp_path)
    damaged = Path(executions[1]["result"]["archive_path"])
    data = bytearray(damaged.read_bytes())
    data[600] ^= 0xFF
    damaged.write_bytes(bytes(data))
    target = tmp_path / "target"
    support.add(home, "restore", "recovery", {"from_task": "incr", "target_path": str(target)})

    code, execution = support.run(home, "restore")

    assert code == 1
    assert "checksum mismatch" in execution["error_message"]
    assert str(damaged) in execution["error_message"]
    # The full's archive was sound, yet nothing was extracted from it either.
    assert not target.exists() or not os.listdir(target)
