"""The virtual tape's layout: numbering, complete archives, checksums."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest

from tapesched.actions import tape as module


def _touch(folder: Path, *names: str) -> None:
    for name in names:
        (folder / name).write_bytes(b"x")


@pytest.mark.parametrize(
    ("names", "label", "expected"),
    [
        ([], None, 1),
        (["000001.tar", "000001.tar.sha256"], None, 2),
        (["000001.tar", "000007.tar.gz", "notes.txt"], None, 8),
        # a partial left by a killed run, or a checksum without its archive: skipped over
        ([".000004.tar.partial"], None, 5),
        (["000002.tar.gz.sha256"], None, 3),
        # cleanup removed the newest archives: the label keeps numbers from repeating
        (["000001.tar"], 9, 10),
    ],
)
def test_next_file_number(
    tmp_path: Path, names: list[str], label: int | None, expected: int
) -> None:
    _touch(tmp_path, *names)
    if label is not None:
        module.write_label(tmp_path, label)
    assert module.next_file_number(tmp_path) == expected


def test_a_damaged_label_is_ignored(tmp_path: Path) -> None:
    _touch(tmp_path, "000003.tar")
    (tmp_path / module.LABEL).write_text('{"last_file_number": "x"}')
    assert module.next_file_number(tmp_path) == 4
    module.write_label(tmp_path, 3)
    module.write_label(tmp_path, 2)  # a late writer never lowers it
    assert module.read_label(tmp_path)["last_file_number"] == 3


def test_next_file_number_of_a_folder_not_created_yet(tmp_path: Path) -> None:
    assert module.next_file_number(tmp_path / "new") == 1


def test_archives_lists_only_complete_archives_in_order(tmp_path: Path) -> None:
    _touch(
        tmp_path,
        "000010.tar",
        "000002.tar.gz",
        "000002.tar.gz.sha256",
        ".000011.tar.partial",
        "000003.tar.bak",
        module.LABEL,
    )
    (tmp_path / "000004.tar").mkdir()
    assert module.archives(tmp_path) == [
        (2, tmp_path / "000002.tar.gz"),
        (10, tmp_path / "000010.tar"),
    ]


def test_prepare_directory_creates_it_private(tmp_path: Path) -> None:
    folder = tmp_path / "a" / "vtape"
    module.prepare_directory(folder)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_prepare_directory_refuses_a_regular_file(tmp_path: Path) -> None:
    _touch(tmp_path, "file")
    with pytest.raises(module.TapeError, match="not a directory"):
        module.prepare_directory(tmp_path / "file")


def test_write_atomically_leaves_a_private_file_and_no_temporary(tmp_path: Path) -> None:
    module.write_atomically(tmp_path / "x.json", "{}\n")
    assert (tmp_path / "x.json").read_text() == "{}\n"
    assert stat.S_IMODE((tmp_path / "x.json").stat().st_mode) == 0o600
    assert [path.name for path in tmp_path.iterdir()] == ["x.json"]


def test_sha256_and_sidecar_match_sha256sum(tmp_path: Path) -> None:
    archive = tmp_path / "000001.tar"
    archive.write_bytes(b"a" * 3_000_000)
    digest = module.sha256_file(archive, check=lambda: None)
    assert digest == hashlib.sha256(b"a" * 3_000_000).hexdigest()
    assert module.sidecar_path(archive) == tmp_path / "000001.tar.sha256"
    assert module.sidecar_text(archive, digest) == f"{digest}  000001.tar\n"
