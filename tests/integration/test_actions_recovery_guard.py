"""Recovery never writes outside its target, across a whole chain (issue 9, class 3).

Chains are planted as a tamperer with write access to the tape and the database
would plant them: crafted archives on the virtual tape, correct .sha256 sidecars,
successful execution rows of the backup task. Everything the extraction could
reach from the target (up-links, absolute links) lies inside a deep sandbox, whose
every path (kind, mode, owner, link count, mtime, content) is compared before and
after each restore.
"""

from __future__ import annotations

import itertools
import os
import re
import sys
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "end_to_end"))
import conftest_actions as support  # noqa: E402

from tapesched.actions import extract_guard  # noqa: E402

DEPTH = 48  # deeper than any chain of generated up-links can climb


class Bench:
    """A harness, a backup task on a virtual tape, and a sandbox: an `outside` folder
    next to the restore targets, both far below anything else."""

    def __init__(self, tmp_path: Path) -> None:
        self.root = tmp_path
        self.sandbox = tmp_path / "sandbox"
        self.deep = self.sandbox.joinpath(*(f"d{index}" for index in range(DEPTH)))
        self.targets = self.deep / "targets"
        self.outside = self.deep / "outside"
        self.targets.mkdir(parents=True)
        support.write(self.outside / "victim", "precious\n")
        support.write(self.outside / "sub" / "inner", "inner\n")
        (self.outside / "vdir").mkdir()
        self.vtape = tmp_path / "vtape"
        self.harness = support.Harness(tmp_path / "home")
        self.harness.add(
            "backup", "backup", {"source_paths": [str(tmp_path / "src")], "device": str(self.vtape)}
        )
        self.made: list[str] = []
        self.counter = itertools.count()

    def state(self) -> dict:
        return support.file_state(self.sandbox, skip=(self.targets,))

    def target(self) -> Path:
        name = f"t{next(self.counter)}"
        self.made.append(name)
        return self.targets / name

    def archive(self, members: list) -> Path:
        folder = self.root / "crafted"
        folder.mkdir(exist_ok=True)
        return support.craft_archive(folder / f"{uuid.uuid4().hex}.tar", members)

    def restore(self, chain: list[list], target: Path, **config: object):  # noqa: ANN201
        archives = [self.archive(members) for members in chain]
        ids = support.plant_chain(self.harness, "backup", archives)
        name = f"restore-{uuid.uuid4().hex[:8]}"
        self.harness.add(
            name, "recovery", {"from_task": "backup", "target_path": str(target), **config}
        )
        run = self.harness.run(name)
        assert run.result is None or run.result["chain"] == ids
        return run

    def where(self, number: int) -> str:
        return str(self.vtape / f"{number:06d}.tar")

    def assert_contained(self, before: dict) -> None:
        assert self.state() == before, "something outside the targets changed"
        assert set(os.listdir(self.targets)) <= set(self.made)


@pytest.fixture
def bench(tmp_path: Path) -> Bench:
    return Bench(tmp_path)


def test_a_link_left_by_one_archive_is_not_followed_by_the_next(bench: Bench) -> None:
    before = bench.state()
    target = bench.target()
    chain = [
        [("dir", "data", None), ("symlink", "data/esc", str(bench.outside))],
        [("dir", "data", None), ("file", "data/esc/pwned", b"written through the link")],
    ]

    run = bench.restore(chain, target)

    assert run.status == "failed"
    assert run.error_message == (
        f"refused {bench.where(2)}: member 'data/esc/pwned' is under 'data/esc', a symbolic "
        f"link made by {bench.where(1)} (to '{bench.outside}'); a restore never follows a link; "
        "nothing was extracted"
    )
    assert not target.exists()
    bench.assert_contained(before)


def _hostile_cases(outside: Path) -> list[tuple[str, list[list], str]]:
    """(what, chain, words of the refusal); the hostile member is in the last archive."""
    link_out = [("dir", "data", None), ("symlink", "data/esc", str(outside))]
    return [
        ("absolute name", [[("file", f"{outside}/abs", b"x")]], "is an absolute name"),
        ("dot-dot name", [[("file", "data/../../escape", b"x")]], "'..' component"),
        (
            "hard link to an absolute path",
            [[("hardlink", "data/h", f"{outside}/victim")]],
            f"is a hard link to '{outside}/victim', an absolute name",
        ),
        (
            "hard link through dot-dot",
            [[("hardlink", "data/h", "../outside/victim")]],
            "is a hard link to '../outside/victim', a name with a '..' component",
        ),
        (
            "hard link through a link of an earlier archive",
            [link_out, [("dir", "data", None), ("hardlink", "data/h", "data/esc/victim")]],
            "is a hard link to 'data/esc/victim', under 'data/esc', a symbolic link made by",
        ),
        (
            "file under a link of an earlier archive",
            [link_out, [("file", "data/esc/pwned", b"x")]],
            "is under 'data/esc', a symbolic link made by",
        ),
        (
            "folder under a link of an earlier archive",
            [link_out, [("dir", "data/esc/sub", None), ("file", "data/esc/sub/x", b"x")]],
            "is under 'data/esc', a symbolic link made by",
        ),
        (
            "file under a link made earlier in the same archive",
            [[*link_out, ("file", "data/esc/pwned", b"x")]],
            "is under 'data/esc', a symbolic link made by",
        ),
        (
            "a chain of relative and absolute links across three archives",
            [
                [("dir", "data", None), ("symlink", "data/l1", "l2")],
                [("dir", "data", None), ("symlink", "data/l2", str(outside))],
                [("dir", "data", None), ("file", "data/l1/pwned", b"x")],
            ],
            "is under 'data/l1', a symbolic link made by",
        ),
        (
            "an up-link of an earlier archive",
            [
                [("dir", "data", None), ("symlink", "data/up", "../../..")],
                [("file", "data/up/pwned", b"x")],
            ],
            "is under 'data/up', a symbolic link made by",
        ),
    ]


CASES = _hostile_cases(Path("/OUTSIDE"))


@pytest.mark.parametrize("index", range(len(CASES)), ids=[case[0] for case in CASES])
@pytest.mark.parametrize("position", [1, 3])
def test_every_kind_of_escape_is_refused_in_any_archive_of_the_chain(
    bench: Bench, index: int, position: int
) -> None:
    """The hostile archives come first, or after two benign ones (a full and an
    incremental that restore fine on their own)."""
    _, chain, words = _hostile_cases(bench.outside)[index]
    benign = [
        [("dir", "data", None), ("file", "data/ok", b"fine")],
        [("dir", "data", None), ("file", "data/ok2", b"fine too")],
    ]
    chain = benign[: position - 1] + chain
    before = bench.state()
    target = bench.target()

    run = bench.restore(chain, target)

    assert run.status == "failed", run.error_message
    assert run.error_message.startswith(f"refused {bench.where(len(chain))}: member '")
    assert words in run.error_message
    assert run.error_message.endswith("; nothing was extracted")
    assert not target.exists()
    bench.assert_contained(before)


def test_a_member_type_no_backup_holds_is_refused(bench: Bench) -> None:
    archive = bench.archive([("file", "data/x", b"x")])
    data = bytearray(archive.read_bytes())
    data[156:157] = b"V"  # the type flag: a volume label
    checksum = sum(data[:148]) + 8 * 32 + sum(data[156:512])
    data[148:156] = f"{checksum:06o}\0 ".encode()
    archive.write_bytes(bytes(data))
    ids = support.plant_chain(bench.harness, "backup", [archive])
    target = bench.target()
    bench.harness.add("restore", "recovery", {"from_task": "backup", "target_path": str(target)})

    run = bench.harness.run("restore")

    assert ids and run.status == "failed" and not target.exists()
    assert "member 'data/x' is a volume label, which a backup never holds" in run.error_message


def test_a_link_already_in_the_target_is_never_followed(bench: Bench) -> None:
    target = bench.target()
    target.mkdir()
    (target / "data").symlink_to(bench.outside)
    before = bench.state()

    run = bench.restore([[("file", "data/x", b"x")]], target, overwrite=True)

    assert run.status == "failed"
    assert "member 'data/x' is under 'data', a symbolic link already in the target" in (
        run.error_message
    )
    assert os.readlink(target / "data") == str(bench.outside)
    bench.assert_contained(before)


def test_a_folder_in_the_archive_replaces_a_link_in_the_target_instead_of_following_it(
    bench: Bench,
) -> None:
    target = bench.target()
    (target / "data").mkdir(parents=True)
    (target / "data" / "esc").symlink_to(bench.outside)
    (target / "kept link").symlink_to(bench.outside / "victim")
    os.utime(target / "kept link", ns=(1, 123_456_789), follow_symlinks=False)
    before = bench.state()
    chain = [[("dir", "data", None), ("dir", "data/esc", None), ("file", "data/esc/x", b"x")]]

    run = bench.restore(chain, target, overwrite=True)

    assert run.status == "success", run.error_message
    assert (target / "data" / "esc").is_dir() and not (target / "data" / "esc").is_symlink()
    assert (target / "data" / "esc" / "x").read_bytes() == b"x"
    # A link the archive does not touch was held aside while tar ran and put back as it was.
    assert os.readlink(target / "kept link") == str(bench.outside / "victim")
    assert (target / "kept link").lstat().st_mtime_ns == 123_456_789
    bench.assert_contained(before)


def test_a_path_that_was_a_link_and_became_a_folder_restores_from_real_backups(
    bench: Bench, tmp_path: Path
) -> None:
    """No tampering: a source whose `cfg` pointed outside in the full and is a real folder
    in the incremental restores at both points, and nothing is written through the link."""
    source = tmp_path / "source"
    support.make_tree(source)
    (source / "cfg").symlink_to(bench.outside)
    config = {"source_paths": [str(source)], "device": str(tmp_path / "real-vtape")}
    bench.harness.add("full", "backup", config)
    bench.harness.add("incr", "backup", {**config, "task_type": "incremental"})
    full = bench.harness.run("full")
    assert full.status == "success", full.error_message
    states = [support.tree_state(source)]
    (source / "cfg").unlink()
    support.write(source / "cfg" / "victim", "a file named like the one outside\n")
    support.write(source / "cfg" / "sub" / "inner", "new inner\n")
    incremental = bench.harness.run("incr")
    assert incremental.status == "success", incremental.error_message
    states.append(support.tree_state(source))
    before = bench.state()

    for point, expected in ((full.execution_id, states[0]), ("latest", states[1])):
        target = bench.target()
        name = f"restore-{target.name}"
        bench.harness.add(
            name, "recovery", {"from_task": "incr", "target_path": str(target), "point": point}
        )
        run = bench.harness.run(name)
        assert run.status == "success", run.error_message
        assert support.tree_state(support.restored(target, source)) == expected
    bench.assert_contained(before)


# --------------------------------------------------------------------------- the shelter alone


@pytest.fixture
def unchecked(monkeypatch: pytest.MonkeyPatch) -> None:
    """The member check off: what the shelter alone guarantees (defence in depth)."""
    monkeypatch.setattr(extract_guard, "check_chain", lambda archives, disk: None)


def test_without_the_check_tar_still_never_follows_a_link_of_an_earlier_archive(
    bench: Bench, unchecked: None
) -> None:
    before = bench.state()
    target = bench.target()
    chain = [
        [("dir", "data", None), ("symlink", "data/esc", str(bench.outside))],
        [("dir", "data", None), ("file", "data/esc/pwned", b"x")],
    ]

    run = bench.restore(chain, target)

    assert run.status == "failed"  # tar: data/esc/pwned: Not a directory
    assert "tar failed extracting" in run.error_message
    assert os.readlink(target / "data" / "esc") == str(bench.outside)  # put back
    bench.assert_contained(before)


def test_without_the_check_renames_replayed_by_an_incremental_stay_inside(
    bench: Bench, unchecked: None
) -> None:
    before = bench.state()
    target = bench.target()
    records = b"Dsub\0Rdata/esc/vdir\0Tdata/stolen\0Rdata/esc/sub\0Tdata/stolen2\0\0"
    chain = [
        [("dir", "data", None), ("symlink", "data/esc", str(bench.outside))],
        [("dumpdir", "data", records), ("dir", "data/sub", None)],
    ]

    bench.restore(chain, target)

    assert not (target / "data" / "stolen").exists()
    bench.assert_contained(before)


# --------------------------------------------------------------------------- generated chains

COMPONENT = st.sampled_from(["a", "b", "esc", "data"])
BASE = st.lists(COMPONENT, min_size=1, max_size=3).map("/".join)


def _names() -> st.SearchStrategy[str]:
    return st.one_of(
        BASE,
        BASE,
        BASE.map(lambda name: "./" + name),
        BASE.map(lambda name: name + "/"),
        BASE.map(lambda name: "/" + name),
        BASE.map(lambda name: "../" + name),
        st.tuples(BASE, BASE).map(lambda pair: f"{pair[0]}/../../{pair[1]}"),
    )


def _members(outside: str, deep: str) -> st.SearchStrategy[tuple]:
    link_targets = st.one_of(
        st.sampled_from(
            [
                outside,
                outside + "/sub",
                outside + "/vdir",
                deep,
                "/",
                ".",
                "..",
                "../..",
                "../../..",
            ]
        ),
        st.sampled_from(["../../..", "../outside", "../../outside", "esc/..", "a/../.."]),
        BASE,
    )
    hard_targets = st.one_of(
        BASE,
        st.sampled_from([outside + "/victim", "../outside/victim", "esc/victim", "a/victim"]),
    )
    record = st.one_of(
        st.tuples(st.sampled_from("YND"), COMPONENT).map(lambda r: (r[0] + r[1]).encode() + b"\0"),
        st.tuples(_names(), _names()).map(
            lambda pair: b"R" + pair[0].encode() + b"\0T" + pair[1].encode() + b"\0"
        ),
    )
    return st.one_of(
        st.tuples(st.just("file"), _names(), st.just(b"payload")),
        st.tuples(st.just("dir"), _names(), st.none()),
        st.tuples(st.just("symlink"), _names(), link_targets),
        st.tuples(st.just("symlink"), _names(), link_targets),
        st.tuples(st.just("hardlink"), _names(), hard_targets),
        st.tuples(st.just("dumpdir"), _names(), st.lists(record, max_size=4).map(b"".join)),
        st.tuples(st.just("fifo"), _names(), st.none()),
    )


def _chains(bench: Bench) -> st.SearchStrategy[list[list[tuple]]]:
    members = _members(str(bench.outside), str(bench.deep))
    return st.lists(st.lists(members, min_size=1, max_size=5), min_size=1, max_size=3)


PLACEHOLDER = re.compile(rb"[0-9a-f]{32}")
TRIED = {"checked": 0, "refused": 0, "unchecked": 0}


def _no_placeholder_left(target: Path) -> None:
    for folder, _, files in os.walk(target):
        for name in files:
            path = Path(folder, name)
            if path.is_file() and not path.is_symlink() and path.stat().st_size == 32:
                assert not PLACEHOLDER.fullmatch(path.read_bytes()), path


def _generated(bench: Bench, chain: list[list[tuple]], overwrite: bool, key: str) -> None:
    TRIED[key] += 1
    before = bench.state()
    target = bench.target()
    if overwrite:
        # Whatever an earlier restore or a person left in the target: links that point out.
        (target / "esc").mkdir(parents=True)
        (target / "a").symlink_to(bench.outside)
        (target / "esc" / "data").symlink_to("../../../outside")
    run = bench.restore(chain, target, overwrite=overwrite)
    bench.assert_contained(before)
    _no_placeholder_left(target)
    if run.status == "failed" and run.error_message.startswith("refused "):
        TRIED["refused"] += 1
        where, _, rest = run.error_message.partition(": member ")
        assert where.removeprefix("refused ").startswith(str(bench.vtape))
        assert rest.endswith("; nothing was extracted")
        member = rest[1:].split("' ", 1)[0].rstrip("/")
        names = {m[1].rstrip("/") for archive in chain for m in archive}
        assert member in names, run.error_message
    else:
        assert run.status in ("success", "failed"), run.error_message


@pytest.mark.parametrize("overwrite", [False, True], ids=["empty-target", "target-with-links"])
def test_generated_chains_never_write_outside_the_target(tmp_path: Path, overwrite: bool) -> None:
    bench = Bench(tmp_path)

    @settings(
        max_examples=50,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        _generated(bench, data.draw(_chains(bench)), overwrite, "checked")

    check()


def test_generated_chains_without_the_check_never_write_outside_the_target(
    tmp_path: Path, unchecked: None
) -> None:
    bench = Bench(tmp_path)

    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data(), overwrite=st.booleans())
    def check(data: st.DataObject, overwrite: bool) -> None:
        _generated(bench, data.draw(_chains(bench)), overwrite, "unchecked")

    check()
