"""What GNU tar prints about an archive's members, read back as data.

Two forms, both from `tar -vv` in the C locale:

- escape quoting (`--quoting-style=escape`), written by `--create` and `--extract`
  into their index files: counted by parse_listing (members, files, bytes);
- C quoting (`--quoting-style=c`), written by `--list` for recovery: every name and
  link target in double quotes, so a name holding " -> " or " link to " cannot be
  mistaken for a link; parse_entries returns each member's type, name and link.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92, "?": 63}
_C_ESCAPES = {**_ESCAPES, '"': 34, "'": 39}


def unescape(text: str) -> str:
    """Given a name as tar prints it with --quoting-style=escape, return the real name."""
    if "\\" not in text:
        return text
    out = bytearray()
    index = 0
    raw = text.encode("utf-8", "surrogateescape")
    while index < len(raw):
        byte = raw[index]
        if byte == 0x5C and index + 1 < len(raw):
            following = raw[index + 1 : index + 4]
            if re.fullmatch(rb"[0-7]{3}", following):
                out.append(int(following, 8) & 0xFF)
                index += 4
                continue
            letter = chr(raw[index + 1])
            if letter in _ESCAPES:
                out.append(_ESCAPES[letter])
                index += 2
                continue
        out.append(byte)
        index += 1
    return os.fsdecode(bytes(out))


@dataclass
class Listing:
    """What a tar -vv listing says: members, non-directory files and their bytes."""

    members: int = 0
    files: int = 0
    bytes: int = 0
    names: list[str] | None = None


def parse_listing(text: str, keep_names: bool = False) -> Listing:
    """Given tar's -vv listing (escape quoting), count its members, files and bytes.

    A line is `perms owner size date time name[ -> target | link to target]`;
    directories (type d) are members but not files. Bytes are the sizes of the
    files' data, so they mean the same on a drive and on a virtual tape.
    """
    listing = Listing(names=[] if keep_names else None)
    for line in text.splitlines():
        fields = line.split(None, 5)
        if len(fields) < 6 or len(fields[0]) < 10:
            continue
        listing.members += 1
        kind = fields[0][0]
        if kind != "d":
            listing.files += 1
            if fields[2].isdigit():
                listing.bytes += int(fields[2])
        if listing.names is not None:
            name = fields[5]
            if kind == "l" and " -> " in name:
                name = name.split(" -> ", 1)[0]
            elif kind == "h" and " link to " in name:
                name = name.split(" link to ", 1)[0]
            listing.names.append(unescape(name).rstrip("/"))
    return listing


def unsafe_member(name: str) -> bool:
    """Given an archive member name, say whether extracting it could leave the target."""
    return name.startswith("/") or ".." in name.split("/")


@dataclass(frozen=True)
class Entry:
    """One member as `tar --list -vv --quoting-style=c` shows it.

    kind is the first letter of the mode column: '-' file, 'd' directory, 'l'
    symbolic link, 'h' hard link, 'c'/'b' devices, 'p' fifo, and for what a
    backup never holds: 'V' volume label, 'M' continuation, 'N' old GNU name
    list, 'C' contiguous file, '?' an unknown type. name and link are as stored
    (with -P: a leading '/' or '..' is shown, not stripped)."""

    kind: str
    name: str
    link: str | None = None

    @property
    def path(self) -> str:
        """The name without a trailing '/' (directories are listed as `dir/`)."""
        return self.name.rstrip("/") or self.name


def _c_string(raw: bytes, start: int) -> tuple[bytes, int] | None:
    """Given a line and the index of an opening '"', return the unquoted bytes and the
    index after the closing '"', or None if the string does not close."""
    out = bytearray()
    index = start + 1
    while index < len(raw):
        byte = raw[index]
        if byte == 0x22:  # "
            return bytes(out), index + 1
        if byte == 0x5C and index + 1 < len(raw):  # backslash
            digits = re.match(rb"[0-7]{1,3}", raw[index + 1 : index + 4])
            if digits:
                out.append(int(digits.group(), 8) & 0xFF)
                index += 1 + len(digits.group())
                continue
            letter = chr(raw[index + 1])
            out.append(_C_ESCAPES.get(letter, raw[index + 1]))
            index += 2
            continue
        out.append(byte)
        index += 1
    return None


def parse_entries(text: str) -> list[Entry]:
    """Given tar's `--list -vv --quoting-style=c` output, return its members in order.

    A line is `perms owner size date time "name"[ -> "target" | link to "target"]`;
    only the name and the link are quoted (owners are numeric), so the name starts
    at the line's first '"'. Lines without a quoted name are not members."""
    entries = []
    for line in text.splitlines():
        raw = line.encode("utf-8", "surrogateescape")
        quote = raw.find(b'"')
        head = raw[:quote].split() if quote > 0 else []
        if not head:
            continue
        parsed = _c_string(raw, quote)
        if parsed is None:
            continue
        name, after = parsed
        link = None
        rest = raw[after:]
        for marker in (b' -> "', b' link to "'):
            if rest.startswith(marker):
                target = _c_string(rest, len(marker) - 1)
                link = os.fsdecode(target[0]) if target else None
                break
        entries.append(Entry(head[0][:1].decode("ascii", "replace"), os.fsdecode(name), link))
    return entries
