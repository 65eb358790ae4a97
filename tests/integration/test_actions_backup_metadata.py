"""Backups keep what a file server has (issue 9, class 4): sparse files stay sparse,
extended attributes, POSIX ACLs and nanosecond times come back, modes come back
whatever the umask, old GNU-format chains still restore, snapshots are private."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
import struct
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "end_to_end"))
import conftest_actions as support  # noqa: E402

from tapesched.actions import tape as tapes  # noqa: E402

MIB = 1 << 20


class Chain:
    """A full and an incremental task over tmp_path/data on tmp_path/vtape, in process."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.source = tmp_path / "data"
        self.source.mkdir(parents=True, exist_ok=True)
        self.harness = support.Harness(tmp_path / "home")
        config = {"source_paths": [str(self.source)], "device": str(tmp_path / "vtape")}
        self.harness.add("full", "backup", config)
        self.harness.add("incr", "backup", {**config, "task_type": "incremental"})

    def backup(self, name: str = "full"):  # noqa: ANN201
        run = self.harness.run(name)
        assert run.status == "success", run.error_message
        return run

    def restore(self, point: str = "latest") -> Path:
        target = self.tmp / f"target-{uuid.uuid4().hex[:8]}"
        name = f"restore-{target.name}"
        self.harness.add(
            name, "recovery", {"from_task": "full", "target_path": str(target), "point": point}
        )
        run = self.harness.run(name)
        assert run.status == "success", run.error_message
        return support.restored(target, self.source)


@pytest.fixture
def chain(tmp_path: Path) -> Chain:
    return Chain(tmp_path)


def _user_xattrs_work(folder: Path) -> None:
    probe = folder / ".xattr-probe"
    probe.write_text("")
    try:
        os.setxattr(probe, "user.probe", b"1")
    except OSError as error:
        if error.errno in (errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM):
            pytest.skip(f"the filesystem of {folder} refuses user xattrs ({error.strerror})")
        raise
    finally:
        probe.unlink()


def _xattrs(path: Path) -> dict[str, bytes]:
    names = os.listxattr(path, follow_symlinks=False)
    return {name: os.getxattr(path, name, follow_symlinks=False) for name in sorted(names)}


def _sha(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(MIB), b""):
            digest.update(block)
    return digest.hexdigest()


def test_the_result_says_what_this_tar_keeps_and_archives_are_posix(chain: Chain) -> None:
    support.write(chain.source / "a", "a")
    help_text = subprocess.run(["tar", "--help"], capture_output=True, text=True).stdout

    run = chain.backup()

    expected = tapes.TarFeatures.from_help(help_text)
    assert run.result["format"] == "posix"
    assert run.result["kept"] == expected.kept()
    assert set(run.result["kept"]) == {"sparse", "xattrs", "acls", "selinux", "nanosecond_times"}
    assert run.result["not_kept"] == []
    header = Path(run.result["archive_path"]).read_bytes()[:512]
    assert header[257:265] == b"ustar\x0000"  # POSIX; GNU writes "ustar  \0"
    assert "posix format; keeps sparse, xattrs, acls, selinux, nanosecond_times" in (
        chain.harness.output(run)
    )


def test_a_sparse_file_comes_back_sparse_and_byte_for_byte(chain: Chain) -> None:
    sparse = chain.source / "disk.img"
    with open(sparse, "wb") as handle:
        handle.truncate(64 * MIB)
        for offset in (0, 10 * MIB, 63 * MIB):
            handle.seek(offset)
            handle.write(b"data at %d" % offset)
    if sparse.stat().st_blocks * 512 >= MIB:
        pytest.skip(f"the filesystem of {sparse.parent} does not make sparse files")
    chain.backup()
    (chain.source / "other").write_text("changed later\n")
    chain.backup("incr")

    copy = chain.restore() / "disk.img"

    assert copy.stat().st_size == 64 * MIB
    assert copy.stat().st_blocks * 512 < MIB, f"{copy.stat().st_blocks} blocks allocated"
    assert _sha(copy) == _sha(sparse)


def test_user_and_trusted_xattrs_come_back_through_a_chain(chain: Chain) -> None:
    _user_xattrs_work(chain.tmp)
    support.write(chain.source / "file", "x")
    (chain.source / "folder").mkdir()
    values = {"user.plain": b"v", "user.binary": bytes(range(256)), "user.empty": b""}
    for name, value in values.items():
        os.setxattr(chain.source / "file", name, value)
    os.setxattr(chain.source / "folder", "user.on.a.folder", b"folder value")
    root = os.geteuid() == 0
    if root:
        os.setxattr(chain.source / "file", "trusted.admin", b"only root sets this")
    chain.backup()
    support.write(chain.source / "later", "y")
    os.setxattr(chain.source / "later", "user.incremental", b"in the incremental")
    os.setxattr(chain.source / "file", "user.plain", b"changed")
    chain.backup("incr")

    copy = chain.restore()

    for relative in ("file", "folder", "later"):
        assert _xattrs(copy / relative) == _xattrs(chain.source / relative), relative
    assert _xattrs(copy / "file")["user.plain"] == b"changed"
    if root:
        assert _xattrs(copy / "file")["trusted.admin"] == b"only root sets this"


def _acl_blob(entries: list[tuple[int, int, int]]) -> bytes:
    """The kernel's form of a POSIX ACL (what setfacl writes): version 2, then
    (tag, permissions, id) entries."""
    return struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *entry) for entry in entries)


UNDEFINED = 0xFFFFFFFF
ACCESS = _acl_blob(
    [(0x01, 6, UNDEFINED), (0x02, 4, 4242), (0x04, 4, UNDEFINED), (0x10, 6, UNDEFINED)]
    + [(0x08, 2, 4343), (0x20, 0, UNDEFINED)]
)


def test_posix_acls_come_back_written_by_the_kernel_interface(chain: Chain) -> None:
    """No `acl` package needed: the ACL is set and read as the kernel keeps it."""
    support.write(chain.source / "shared", "x")
    (chain.source / "inbox").mkdir()
    entries = sorted([(0x01, 6, UNDEFINED), (0x02, 4, 4242), (0x04, 4, UNDEFINED)])
    entries += [(0x08, 2, 4343), (0x10, 6, UNDEFINED), (0x20, 0, UNDEFINED)]
    access = _acl_blob(entries)
    default = _acl_blob(
        [(0x01, 7, UNDEFINED), (0x02, 5, 4242), (0x04, 5, UNDEFINED)]
        + [(0x10, 5, UNDEFINED), (0x20, 0, UNDEFINED)]
    )
    try:
        os.setxattr(chain.source / "shared", "system.posix_acl_access", access)
        os.setxattr(chain.source / "inbox", "system.posix_acl_default", default)
    except OSError as error:
        pytest.skip(f"the filesystem of {chain.tmp} refuses POSIX ACLs ({error.strerror})")
    chain.backup()

    copy = chain.restore()

    assert os.getxattr(copy / "shared", "system.posix_acl_access") == os.getxattr(
        chain.source / "shared", "system.posix_acl_access"
    )
    assert os.getxattr(copy / "inbox", "system.posix_acl_default") == os.getxattr(
        chain.source / "inbox", "system.posix_acl_default"
    )


@pytest.mark.skipif(
    shutil.which("setfacl") is None or shutil.which("getfacl") is None,
    reason="acl is not installed (setfacl/getfacl)",
)
def test_posix_acls_set_with_setfacl_come_back(chain: Chain) -> None:
    support.write(chain.source / "shared", "x")
    done = subprocess.run(
        ["setfacl", "-m", "u:4242:r,g:4343:rw", str(chain.source / "shared")], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"setfacl refused: {done.stderr.decode(errors='replace').strip()}")
    chain.backup()

    copy = chain.restore()

    def acl(path: Path) -> str:
        shown = subprocess.run(["getfacl", "-cn", str(path)], capture_output=True, text=True)
        return shown.stdout

    assert acl(copy / "shared") == acl(chain.source / "shared")
    assert "user:4242:r--" in acl(copy / "shared")


def test_nanosecond_times_come_back_on_files_folders_and_links(chain: Chain) -> None:
    times = {"file": 1_600_000_000_123_456_789, "dir": 1_500_000_000_000_000_001}
    times["link"] = 1_400_000_000_999_999_999
    support.write(chain.source / "dir" / "file", "x")
    (chain.source / "dir" / "link").symlink_to("file")
    os.utime(chain.source / "dir" / "file", ns=(times["file"], times["file"]))
    os.utime(
        chain.source / "dir" / "link", ns=(times["link"], times["link"]), follow_symlinks=False
    )
    os.utime(chain.source / "dir", ns=(times["dir"], times["dir"]))
    chain.backup()
    support.write(chain.source / "new", "n")
    os.utime(chain.source / "new", ns=(7, 1_650_000_000_000_000_007))
    chain.backup("incr")

    copy = chain.restore()

    for relative in ("dir", "dir/file", "dir/link", "new"):
        got, want = (copy / relative).lstat(), (chain.source / relative).lstat()
        assert got.st_mtime_ns == want.st_mtime_ns, relative
    assert (copy / "dir" / "file").stat().st_mtime_ns == times["file"]


def test_modes_come_back_as_archived_whatever_the_umask(chain: Chain) -> None:
    modes = {"private": 0o600, "shared": 0o664, "script": 0o755, "odd": 0o4750}
    for name, mode in modes.items():
        support.write(chain.source / name, name)
        os.chmod(chain.source / name, mode)
    (chain.source / "group dir").mkdir()
    os.chmod(chain.source / "group dir", 0o2775)
    chain.backup()

    old = os.umask(0o077)
    try:
        copy = chain.restore()
    finally:
        os.umask(old)

    for name, mode in [*modes.items(), ("group dir", 0o2775)]:
        assert stat.S_IMODE((copy / name).stat().st_mode) == mode, name


def test_snapshots_and_their_temporaries_are_private_whatever_the_umask(chain: Chain) -> None:
    support.write(chain.source / "a", "a")
    seen: dict[str, int] = {}

    def watch(context) -> None:  # noqa: ANN001 - a JobContext
        run = context.run

        def run_and_look(argv, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            outcome = run(argv, *args, **kwargs)
            if "--create" in argv:  # the working snapshot and the listing, as tar left them
                for path in chain.harness.paths.snapshots.iterdir():
                    seen[path.name] = stat.S_IMODE(path.stat().st_mode)
            return outcome

        context.run = run_and_look

    old = os.umask(0)
    try:
        for name in ("full", "incr"):
            assert chain.harness.run(name, wrap=watch).status == "success"
    finally:
        os.umask(old)

    assert any(name.endswith(".snar") and name.startswith(".") for name in seen)
    assert any(name.endswith(".index") for name in seen)
    assert set(seen.values()) == {0o600}, seen
    for path in chain.harness.paths.snapshots.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


def test_a_chain_begun_in_the_old_gnu_format_goes_on_in_posix_and_restores(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    support.make_tree(chain.source)
    with monkeypatch.context() as patch:  # the tapesched before issue 9: --format=gnu only
        patch.setattr(tapes, "tar_features", lambda context: tapes.TarFeatures())
        full = chain.backup()
    at_full = support.tree_state(chain.source)
    (chain.source / "plain.txt").write_text("changed after the old full\n")
    (chain.source / "with space.txt").unlink()
    (chain.source / "deep").rename(chain.source / "moved deep")
    incremental = chain.backup("incr")

    assert full.result["format"] == "gnu" and incremental.result["format"] == "posix"
    assert Path(full.result["archive_path"]).read_bytes()[257:265] == b"ustar  \0"
    assert Path(incremental.result["archive_path"]).read_bytes()[257:265] == b"ustar\x0000"
    assert support.tree_state(chain.restore(full.execution_id)) == at_full
    assert support.tree_state(chain.restore()) == support.tree_state(chain.source)


# --------------------------------------------------------------------------- generated trees

TIMES = st.integers(min_value=0, max_value=4_000_000_000 * 10**9)
XATTRS = st.dictionaries(
    st.from_regex(r"user\.[a-z][a-z0-9._-]{0,12}", fullmatch=True),
    st.binary(max_size=64),
    max_size=3,
)
FILES = st.fixed_dictionaries(
    {
        "data": st.binary(max_size=3000),
        "holes": st.lists(st.integers(min_value=1, max_value=8 * MIB), max_size=3),
        "mtime": TIMES,
        "xattrs": XATTRS,
        "mode": st.sampled_from([0o600, 0o640, 0o644, 0o700, 0o755, 0o2755]),
    }
)


def _make(path: Path, spec: dict) -> None:
    with open(path, "wb") as handle:
        handle.write(spec["data"])
        for offset in spec["holes"]:  # data after a hole: a sparse file
            handle.seek(len(spec["data"]) + offset)
            handle.write(b"after a hole")
    for name, value in spec["xattrs"].items():
        os.setxattr(path, name, value)
    os.chmod(path, spec["mode"])
    os.utime(path, ns=(spec["mtime"], spec["mtime"]))


def _metadata(path: Path) -> tuple:
    info = path.stat()
    return (_sha(path), info.st_size, info.st_mtime_ns, stat.S_IMODE(info.st_mode), _xattrs(path))


def test_generated_files_keep_data_holes_times_modes_and_xattrs(tmp_path: Path) -> None:
    _user_xattrs_work(tmp_path)
    tried = []

    @settings(
        max_examples=15,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(first=st.lists(FILES, min_size=1, max_size=4), second=st.lists(FILES, max_size=3))
    def check(first: list[dict], second: list[dict]) -> None:
        chain = Chain(tmp_path / f"example-{len(tried)}")
        tried.append(1)
        for index, spec in enumerate(first):
            _make(chain.source / f"f{index}", spec)
        chain.backup()
        for index, spec in enumerate(second):  # rewritten or new, in the incremental
            target = chain.source / f"f{index}"
            target.unlink(missing_ok=True)
            _make(target, spec)
        chain.backup("incr")

        copy = chain.restore()

        names = sorted(os.listdir(chain.source))
        assert sorted(os.listdir(copy)) == names
        for name in names:
            source, restored = chain.source / name, copy / name
            assert _metadata(restored) == _metadata(source), name
            # Holes stay holes: never more than a few blocks beyond what the source holds.
            assert restored.stat().st_blocks <= source.stat().st_blocks + 64, name

    check()
    assert len(tried) >= 10
