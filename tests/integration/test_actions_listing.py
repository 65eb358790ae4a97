"""Recovery reads each archive's members from GNU tar's own listing: generated member names
and link targets (quotes, backslashes, " -> ", " link to ", newlines, control bytes,
bytes that are not UTF-8) must come back exactly, so no name can pass for another or
hide a link."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tapesched.actions import tape as tapes
from tapesched.actions.listing import Entry, parse_entries

PIECES = st.sampled_from(
    ["a", "b", " ", '"', "\\", "\n", "\t", " -> ", " link to ", "->", "\x01", "\x7f", "é", "?"]
    + ["??", "'", "/", "./", "../", "\udcff", "\\n", '\\"', "--Volume Header--", "%s"]
)
NAMES = (
    st.lists(PIECES, min_size=1, max_size=8)
    .map("".join)
    .filter(lambda name: name.strip("/") != "" and not name.endswith("/"))
)
MEMBERS = st.lists(
    st.tuples(st.sampled_from(["file", "dir", "symlink", "hardlink"]), NAMES, NAMES),
    min_size=1,
    max_size=6,
)


def _write(path: Path, members: list[tuple[str, str, str]], fmt: int) -> list[Entry]:
    expected = []
    with tarfile.open(path, "w", format=fmt, encoding="utf-8", errors="surrogateescape") as out:
        for kind, name, link in members:
            info = tarfile.TarInfo(name)
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                expected.append(Entry("d", name + "/"))
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, link
                expected.append(Entry("l", name, link))
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, link
                expected.append(Entry("h", name, link))
            else:
                expected.append(Entry("-", name))
            out.addfile(info, None if kind != "file" else io.BytesIO(b""))
    return expected


def test_generated_names_and_links_come_back_exactly(tmp_path: Path) -> None:
    tried = []

    @settings(
        max_examples=80,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(members=MEMBERS, fmt=st.sampled_from([tarfile.GNU_FORMAT, tarfile.PAX_FORMAT]))
    def check(members: list[tuple[str, str, str]], fmt: int) -> None:
        archive = tmp_path / f"{len(tried)}.tar"
        index = tmp_path / f"{len(tried)}.index"
        tried.append(archive)
        expected = _write(archive, members, fmt)
        argv = tapes.tar_list_argv(str(archive), 20, False, str(index))
        done = subprocess.run(argv, env=tapes.tar_env(), capture_output=True)
        assert done.returncode == 0, done.stderr
        text = index.read_text(errors="surrogateescape")

        got = parse_entries(text)

        assert got == expected
        os.unlink(archive)

    check()
    assert len(tried) >= 50
