"""The tape drive's command lines and the parsing of what mt and tar print, as data."""

from __future__ import annotations

import os
import stat

import pytest

from tapesched.actions import listing
from tapesched.actions import tape as module


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (module.eod_argv("/dev/nst0"), ["mt", "-f", "/dev/nst0", "eod"]),
        (module.status_argv("/dev/nst1"), ["mt", "-f", "/dev/nst1", "status"]),
        (module.asf_argv("/dev/nst0", 0), ["mt", "-f", "/dev/nst0", "asf", "0"]),
        (module.asf_argv("/dev/nst0", 12), ["mt", "-f", "/dev/nst0", "asf", "12"]),
        (
            module.asf_argv("/dev/tape/by-id/scsi-X-nst", 3),
            ["mt", "-f", "/dev/tape/by-id/scsi-X-nst", "asf", "3"],
        ),
    ],
)
def test_mt_argv_is_built_as_data(argv: list[str], expected: list[str]) -> None:
    assert argv == expected


def test_asf_argv_refuses_a_negative_file_number() -> None:
    with pytest.raises(ValueError, match="negative"):
        module.asf_argv("/dev/nst0", -1)


def test_tar_create_argv_writes_one_archive_with_the_block_size_and_the_snapshot() -> None:
    argv = module.tar_create_argv(
        "/dev/nst0",
        ["data/projects", "-odd name"],
        "/state/snapshots/abc.snar",
        128,
        False,
        ["*.tmp", "cache"],
        "/state/snapshots/.abc.index",
    )
    assert argv == [
        "tar",
        "--create",
        "--file=/dev/nst0",
        "--blocking-factor=128",
        "--format=gnu",
        "--listed-incremental=/state/snapshots/abc.snar",
        "-vv",
        "--index-file=/state/snapshots/.abc.index",
        "--quoting-style=escape",
        "--directory=/",
        "--exclude=*.tmp",
        "--exclude=cache",
        "--",
        "data/projects",
        "-odd name",
    ]


def test_tar_create_argv_adds_gzip_before_the_members() -> None:
    argv = module.tar_create_argv("/v/.000001.tar.gz.partial", ["d"], "/s", 20, True, [], "/i")
    assert argv.index("--gzip") < argv.index("--") < argv.index("d")


@pytest.mark.parametrize(
    ("members", "tail"),
    [
        (None, ["--quoting-style=escape"]),
        (["data/x", "-y"], ["--quoting-style=escape", "--", "data/x", "-y"]),
    ],
)
def test_tar_extract_argv_reads_the_same_block_size_and_replays_deletions(
    members: list[str] | None, tail: list[str]
) -> None:
    argv = module.tar_extract_argv("/dev/nst0", "/restore here", 128, False, "/i", members)
    assert argv[: len(argv) - len(tail)] == [
        "tar",
        "--extract",
        "--file=/dev/nst0",
        "--blocking-factor=128",
        "--listed-incremental=/dev/null",
        "--directory=/restore here",
        "-vv",
        "--index-file=/i",
    ]
    assert argv[len(argv) - len(tail) :] == tail


def test_tar_list_argv_does_not_print_directory_records() -> None:
    argv = module.tar_list_argv("/dev/nst0", 64, True, "/i")
    assert argv[:4] == ["tar", "--list", "--file=/dev/nst0", "--blocking-factor=64"]
    assert "--gzip" in argv
    assert not any(arg.startswith("--listed-incremental") for arg in argv)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SCSI 2 tape drive:\nFile number=0, block number=0, partition=0.\n", 0),
        ("File number=17, block number=0, partition=0.\nGeneral status bits on (81010000):", 17),
        ("File number = 4, block number = 0", 4),
        ("File number=-1, block number=-1, partition=0.", None),
        ("mt: /dev/nst0: No medium found", None),
        ("", None),
    ],
)
def test_parse_file_number(text: str, expected: int | None) -> None:
    assert module.parse_file_number(text) == expected


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (1, "bad operation or device (mt exit 1)"),
        (2, "the operation failed (mt exit 2)"),
        (3, "exited with 3"),
        (-9, "killed by signal 9"),
    ],
)
def test_mt_failure_says_which_failure(code: int, words: str) -> None:
    message = module.mt_failure("eod", "/dev/nst0", code)
    assert message.startswith("mt eod on /dev/nst0: ")
    assert words in message


@pytest.mark.parametrize(
    ("device", "rewinding"),
    [
        ("/dev/st0", True),
        ("/dev/st1l", True),
        ("/dev/nst0", False),
        ("/dev/nst0l", False),
        ("/dev/tape/by-id/scsi-35000-nst", False),
        ("/srv/vtape/st0-archive", False),
    ],
)
def test_is_rewinding(device: str, rewinding: bool) -> None:
    assert module.is_rewinding(device) is rewinding


@pytest.mark.parametrize(
    ("printed", "name"),
    [
        ("plain", "plain"),
        ("new\\nline", "new\nline"),
        ("back\\\\slash", "back\\slash"),
        ("tab\\there", "tab\there"),
        ("gr\\303\\274\\303\\237e", "grüße"),
        ("$(touch x);y", "$(touch x);y"),
        ("trailing\\", "trailing\\"),
    ],
)
def test_unescape_reverses_tar_escape_quoting(printed: str, name: str) -> None:
    assert listing.unescape(printed) == name


def test_parse_listing_counts_members_files_and_bytes() -> None:
    text = "\n".join(
        [
            "drwxr-xr-x root/root        29 2026-11-28 15:17 data/",
            "drwxr-xr-x root/root         0 2026-11-28 15:17 data/sub dir/",
            "-rw-r--r-- root/root      1000 2026-11-28 15:17 data/a file",
            "-rw-r--r-- 0/0              24 2026-11-28 15:17 data/new\\nline",
            "lrwxrwxrwx root/root         0 2026-11-28 15:17 data/link -> a file",
            "hrw-r--r-- root/root         0 2026-11-28 15:17 data/hard link to data/a file",
            "prw-r--r-- root/root         0 2026-11-28 15:17 data/fifo",
            "crw-rw-rw- root/root       1,3 2026-11-28 15:17 data/null",
            "",
        ]
    )
    parsed = listing.parse_listing(text, keep_names=True)
    assert (parsed.members, parsed.files, parsed.bytes) == (8, 6, 1024)
    assert parsed.names == [
        "data",
        "data/sub dir",
        "data/a file",
        "data/new\nline",
        "data/link",
        "data/hard",
        "data/fifo",
        "data/null",
    ]


@pytest.mark.parametrize(
    ("name", "unsafe"),
    [
        ("data/x", False),
        ("data/..hidden", False),
        ("/etc/passwd", True),
        ("data/../../etc", True),
        ("..", True),
    ],
)
def test_unsafe_member(name: str, unsafe: bool) -> None:
    assert listing.unsafe_member(name) is unsafe


@pytest.mark.parametrize(
    ("number", "compress", "final", "partial"),
    [
        (1, False, "000001.tar", ".000001.tar.partial"),
        (42, True, "000042.tar.gz", ".000042.tar.gz.partial"),
        (1234567, False, "1234567.tar", ".1234567.tar.partial"),
    ],
)
def test_archive_names(number: int, compress: bool, final: str, partial: str) -> None:
    assert module.archive_name(number, compress) == final
    assert module.partial_name(number, compress) == partial


# --------------------------------------------------------------------------- issue 9

GNU_TAR_HELP = """\
  -S, --sparse               handle sparse files efficiently
      --sparse-version=MAJOR[.MINOR]
      --acls                 Enable the POSIX ACLs support
      --no-acls              Disable the POSIX ACLs support
      --selinux              Enable the SELinux context support
      --xattrs               Enable extended attributes support
      --xattrs-include=MASK  specify the include pattern for xattr keys
  -H, --format=FORMAT        create archive of the given format
    gnu                      GNU tar 1.13.x format
    posix                    same as pax
      --posix                same as --format=posix
"""


@pytest.mark.parametrize(
    ("text", "kept", "create"),
    [
        (
            GNU_TAR_HELP,
            ["sparse", "xattrs", "acls", "selinux", "nanosecond_times"],
            ["--format=posix", "--sparse", "--xattrs", "--acls", "--selinux"],
        ),
        # A tar built without ACL and SELinux support.
        (
            GNU_TAR_HELP.replace("--acls ", "").replace("--selinux ", ""),
            ["sparse", "xattrs", "nanosecond_times"],
            ["--format=posix", "--sparse", "--xattrs"],
        ),
        # No POSIX format: xattrs cannot be carried even if the option exists.
        (
            "  --sparse   x\n  --xattrs  y\n  --format=FORMAT\n    gnu   GNU\n",
            ["sparse"],
            ["--format=gnu", "--sparse"],
        ),
        # Only options that merely begin like the real ones.
        ("  --sparse-version=N\n  --no-xattrs\n  --xattrs-include=M\n", [], ["--format=gnu"]),
        ("", [], ["--format=gnu"]),
    ],
)
def test_tar_features_come_from_its_help(text: str, kept: list[str], create: list[str]) -> None:
    features = module.TarFeatures.from_help(text)
    assert features.kept() == kept
    assert features.create_options() == create
    assert sorted(features.kept() + features.not_kept()) == sorted(
        ["sparse", "xattrs", "acls", "selinux", "nanosecond_times"]
    )


def test_extract_options_keep_modes_and_every_xattr_namespace_only_for_root() -> None:
    features = module.TarFeatures.from_help(GNU_TAR_HELP)
    assert features.extract_options(root=True) == [
        "--preserve-permissions",
        "--xattrs",
        "--xattrs-include=*",
        "--acls",
        "--selinux",
    ]
    assert features.extract_options(root=False) == [
        "--preserve-permissions",
        "--xattrs",
        "--acls",
        "--selinux",
    ]
    assert module.TarFeatures().extract_options(root=True) == ["--preserve-permissions"]


def test_tar_argv_carry_the_features() -> None:
    features = module.TarFeatures.from_help(GNU_TAR_HELP)
    create = module.tar_create_argv("/a", ["d"], "/s", 20, False, [], "/i", features)
    assert create[4:9] == ["--format=posix", "--sparse", "--xattrs", "--acls", "--selinux"]
    extract = module.tar_extract_argv("/a", "/t", 20, False, "/i", ["d"], ["--xattrs"])
    assert extract.index("--xattrs") < extract.index("--") < extract.index("d")
    listing = module.tar_list_argv("/a", 20, False, "/i")
    assert "--quoting-style=c" in listing and "--absolute-names" in listing


@pytest.mark.parametrize(
    ("program", "message"),
    [
        ("mt", "command not found: mt (install the mt-st package)"),
        ("tar", "command not found: tar (install the tar package)"),
        ("mtx", "command not found: mtx (install the mtx package)"),
        ("frobnicate", "command not found: frobnicate"),
    ],
)
def test_a_missing_tool_names_its_package(program: str, message: str) -> None:
    assert module.missing_tool(program) == message


def test_require_looks_on_the_path_tar_and_mt_run_with(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(module.TapeError, match=r"^command not found: mt \(install the mt-st"):
        module.require("mt", {"PATH": str(tmp_path)})
    tool = tmp_path / "mt"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    assert module.require("mt", {"PATH": str(tmp_path)}) == str(tool)


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077])
def test_private_file_is_0600_whatever_the_umask(tmp_path, umask: int) -> None:  # noqa: ANN001
    source = tmp_path / "source"
    source.write_bytes(b"snapshot bytes")
    source.chmod(0o644)
    old = os.umask(umask)
    try:
        module.private_file(tmp_path / "copy", source)
        module.private_file(tmp_path / "empty")
        (tmp_path / "stale").write_text("left by a killed run")
        module.private_file(tmp_path / "stale")
    finally:
        os.umask(old)
    for name in ("copy", "empty", "stale"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
    assert (tmp_path / "copy").read_bytes() == b"snapshot bytes"
    assert (tmp_path / "empty").read_bytes() == (tmp_path / "stale").read_bytes() == b""


@pytest.mark.parametrize(
    ("line", "entry"),
    [
        (
            'drwxr-xr-x 0/0               0 2026-11-29 04:42 "data/"',
            listing.Entry("d", "data/"),
        ),
        (
            'lrwxrwxrwx 0/0 0 2026-11-29 04:42 "we\\"ird -> x\\n" -> "a -> b"',
            listing.Entry("l", 'we"ird -> x\n', "a -> b"),
        ),
        (
            'hrw-r--r-- 0/0 0 2026-11-29 04:42 "h link to x" link to "/etc/sha\\\\dow"',
            listing.Entry("h", "h link to x", "/etc/sha\\dow"),
        ),
        (
            '-rw-r--r-- 0/0 0 36812-02-20 00:36  "gr\\303\\274\\303\\237e\\377\\001"',
            listing.Entry("-", "grüße\udcff\x01"),
        ),
        (
            'Vrw-r--r-- 0/0 0 1970-01-01 00:00 "label"--Volume Header--',
            listing.Entry("V", "label"),
        ),
        (
            "?rw-r--r-- 0/0 0 1970-01-01 00:00 \"unk\" unknown file type 'Z'",
            listing.Entry("?", "unk"),
        ),
        ('crw-r--r-- 0/0 8,1 1970-01-01 00:00 "dev"', listing.Entry("c", "dev")),
    ],
)
def test_parse_entries_reads_c_quoted_listings(line: str, entry: listing.Entry) -> None:
    assert listing.parse_entries(line + "\n" + "garbage without quotes\n") == [entry]
