"""The two layers that keep a restore inside its target: the member check (a pure model
of the target across the chain) and the link shelter (links held aside while tar runs)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tapesched.actions import extract_guard as guard
from tapesched.actions.listing import Entry


def _disk(**kinds: str):  # noqa: ANN202
    """A target holding these paths ('a/b' -> 'dir', 'link' or 'file')."""
    table = {tuple(path.split("__")): kind for path, kind in kinds.items()}
    return lambda parts: table.get(parts)


EMPTY = _disk()


def _check(*archives: list[Entry], disk=EMPTY) -> None:  # noqa: ANN001
    guard.check_chain([(f"{i + 1:06d}.tar", a) for i, a in enumerate(archives)], disk)


def F(name: str) -> Entry:  # noqa: N802
    return Entry("-", name)


def D(name: str) -> Entry:  # noqa: N802
    return Entry("d", name + "/")


def L(name: str, link: str) -> Entry:  # noqa: N802
    return Entry("l", name, link)


def H(name: str, link: str) -> Entry:  # noqa: N802
    return Entry("h", name, link)


@pytest.mark.parametrize(
    "archives",
    [
        # A real chain: folders first, links are content wherever they point.
        [[D("data"), F("data/a"), L("data/out", "/etc"), L("data/up", "../../..")]],
        # A link replaced by a folder in a later archive, then used as a folder.
        [[D("data"), L("data/cfg", "/etc")], [D("data"), D("data/cfg"), F("data/cfg/x")]],
        # A folder replaced by a link, then by a folder again.
        [[D("d"), D("d/s"), F("d/s/f")], [D("d"), L("d/s", "/x")], [D("d"), D("d/s"), F("d/s/g")]],
        # A file replaced by a folder within one archive; a hard link to a member.
        [[F("a"), D("a"), F("a/b"), H("c", "a/b")]],
        # The target itself, './' prefixes and trailing slashes.
        [[Entry("d", "./"), Entry("d", "."), F("./data/x"), D("./data/y")]],
        # Names that only look like '..': '...', '..x'.
        [[F("..."), F("a/..x"), H("h", "a/..x")]],
    ],
)
def test_real_chains_pass(archives: list[list[Entry]]) -> None:
    _check(*archives)


@pytest.mark.parametrize(
    ("archives", "disk", "refused"),
    [
        ([[F("/etc/passwd")]], EMPTY, ("000001.tar", "/etc/passwd", "is an absolute name")),
        ([[F("a/../../x")]], EMPTY, ("000001.tar", "a/../../x", "is a name with a '..' component")),
        ([[F("..")]], EMPTY, ("000001.tar", "..", "is a name with a '..' component")),
        ([[F(".")]], EMPTY, ("000001.tar", ".", "names the target folder itself")),
        (
            [[Entry("?", "x")]],
            EMPTY,
            ("000001.tar", "x", "is of type '?', which a backup never holds"),
        ),
        ([[Entry("M", "x")]], EMPTY, ("000001.tar", "x", "is a multi-volume continuation, which")),
        (
            [[H("h", "/etc/shadow")]],
            EMPTY,
            ("000001.tar", "h", "hard link to '/etc/shadow', an abs"),
        ),
        ([[H("h", "../x")]], EMPTY, ("000001.tar", "h", "hard link to '../x', a name with a '..'")),
        (
            [[H("h", "./")]],
            EMPTY,
            ("000001.tar", "h", "is a hard link to the target folder itself"),
        ),
        (
            [[L("a", "/etc")], [F("a/passwd")]],
            EMPTY,
            (
                "000002.tar",
                "a/passwd",
                "is under 'a', a symbolic link made by 000001.tar (to '/etc')",
            ),
        ),
        (
            [[L("a", "b")], [L("b", "/etc")], [D("a/sub")]],
            EMPTY,
            ("000003.tar", "a/sub/", "is under 'a', a symbolic link made by 000001.tar (to 'b')"),
        ),
        (
            [[D("d"), L("d/l", "/etc")], [D("d"), H("d/h", "d/l/shadow")]],
            EMPTY,
            ("000002.tar", "d/h", "is a hard link to 'd/l/shadow', under 'd/l', a symbolic link"),
        ),
        (
            [[F("data/x")]],
            _disk(data="link"),
            ("000001.tar", "data/x", "is under 'data', a symbolic link already in the target"),
        ),
        (
            [[F("a/b/c")]],
            _disk(a="dir", a__b="link"),
            ("000001.tar", "a/b/c", "is under 'a/b', a symbolic link already in the target"),
        ),
    ],
)
def test_escapes_are_refused_naming_the_archive_member_and_reason(
    archives: list[list[Entry]],
    disk,
    refused: tuple[str, str, str],  # noqa: ANN001
) -> None:
    with pytest.raises(guard.Refused) as caught:
        _check(*archives, disk=disk)
    where, member, words = refused
    assert (caught.value.archive, caught.value.member) == (where, member)
    assert words in caught.value.reason
    assert str(caught.value).startswith(f"refused {where}: member {member!r} ")
    assert str(caught.value).endswith("; nothing was extracted")


def test_a_link_in_the_target_at_a_folder_member_is_replaced_not_followed() -> None:
    disk = _disk(data="dir", data__esc="link")
    _check([D("data/esc"), F("data/esc/x")], disk=disk)  # tar replaces the link by a folder
    with pytest.raises(guard.Refused):
        _check([F("data/esc/x")], disk=disk)


def test_a_folder_kept_from_the_target_is_read_from_the_disk_below() -> None:
    asked: list[tuple[str, ...]] = []

    def disk(parts: tuple[str, ...]) -> str | None:
        asked.append(parts)
        return {("a",): "dir", ("a", "b"): "link"}.get(parts)

    with pytest.raises(guard.Refused, match="already in the target"):
        _check([D("a"), F("a/b/c")], disk=disk)
    assert asked == [("a",), ("a", "b")]
    asked.clear()
    # A folder the chain made afresh (it replaced a link) holds nothing from the disk.
    _check([L("a", "/x")], [D("a"), F("a/b/c")], disk=disk)
    assert asked == [("a",)]


# --------------------------------------------------------------------------- the shelter


def _links(target: Path) -> dict[str, tuple[str, int]]:
    found = {}
    for folder, folders, files in os.walk(target):
        for name in folders + files:
            path = Path(folder, name)
            if path.is_symlink():
                found[str(path.relative_to(target))] = (os.readlink(path), path.lstat().st_mtime_ns)
    return found


def test_shelter_holds_every_link_aside_and_restore_puts_them_back_with_their_times(
    tmp_path: Path,
) -> None:
    target = tmp_path / "t"
    (target / "a" / "b").mkdir(parents=True)
    (target / "top").symlink_to("/etc")
    (target / "a" / "up").symlink_to("../../..")
    (target / "a" / "b" / "rel").symlink_to("x")
    for index, link in enumerate(["top", "a/up", "a/b/rel"]):
        os.utime(target / link, ns=(5, 1_000_000_007 + index), follow_symlinks=False)
    os.utime(target / "a", ns=(9, 2_000_000_009))
    before = _links(target)
    shelter = guard.LinkShelter(target)

    assert shelter.shelter() == 3
    assert _links(target) == {}
    assert all((target / link).is_file() for link in before)
    assert (target / "a").stat().st_mtime_ns == 2_000_000_009
    assert shelter.shelter() == 0  # placeholders are not links

    assert shelter.restore() == []
    assert _links(target) == before
    assert (target / "a").stat().st_mtime_ns == 2_000_000_009


def test_restore_follows_placeholders_moved_and_leaves_what_tar_replaced(tmp_path: Path) -> None:
    target = tmp_path / "t"
    (target / "old").mkdir(parents=True)
    (target / "old" / "moved").symlink_to("/somewhere")
    (target / "replaced").symlink_to("/elsewhere")
    (target / "deleted").symlink_to("/gone")
    shelter = guard.LinkShelter(target)
    shelter.shelter()

    os.rename(target / "old", target / "new")  # a rename an incremental replays
    os.unlink(target / "replaced")
    (target / "replaced").write_bytes(b"x" * 32)  # tar's file, maybe on the placeholder's inode
    os.unlink(target / "deleted")

    assert shelter.restore() == []
    assert _links(target) == {
        "new/moved": ("/somewhere", (target / "new/moved").lstat().st_mtime_ns)
    }
    assert (target / "replaced").read_bytes() == b"x" * 32
    assert not (target / "deleted").exists()


def test_a_hard_link_to_a_placeholder_becomes_a_link_too(tmp_path: Path) -> None:
    target = tmp_path / "t"
    target.mkdir()
    (target / "s").symlink_to("dest")
    shelter = guard.LinkShelter(target)
    shelter.shelter()
    os.link(target / "s", target / "h")

    assert shelter.restore() == []
    assert os.readlink(target / "s") == os.readlink(target / "h") == "dest"


def test_a_missing_target_is_nothing_to_shelter(tmp_path: Path) -> None:
    shelter = guard.LinkShelter(tmp_path / "absent")
    assert shelter.shelter() == 0
    assert shelter.restore() == []
