"""Names and the label record: what tapesched accepts as a volume label, a pool name or a
size, and tape file 0 of every volume.

The label record is exactly RECORD (1024) bytes:

    b"TAPESCHED-VOLUME 1\\n" + JSON {"label", "pool", "uuid", "labelled_at"} + b"\\n"

padded with NUL bytes. `pool` is null for a volume in the scratch pool; `labelled_at`
is ISO 8601 in UTC. Whatever a tape holds at file 0, Label.decode answers a Label or
None ("not a tapesched label"); it never raises.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from tapesched.errors import InvalidInput, printable

# \Z, not $: "$" also matches before a final newline.
LABEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}\Z")
POOL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}\Z")
SCRATCH_POOL = "scratch"
RECORD = 1024
MAGIC = b"TAPESCHED-VOLUME 1\n"
_KEYS = ("label", "pool", "uuid", "labelled_at")

_SIZE_RE = re.compile(r"^([0-9]{1,20}(?:\.[0-9]{1,9})?)([KMGT]?)(?:I?B)?\Z")  # ASCII digits
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
MAX_SIZE = 1 << 62


def check_label(value: str, what: str = "label") -> str:
    """Given a volume label (or barcode: `what`), return it; raise InvalidInput naming the
    accepted form if it is not 1-32 letters, digits, '-' or '_' starting with a letter or
    digit."""
    if not isinstance(value, str) or not LABEL_RE.match(value):
        raise InvalidInput(
            f"{what} {_shown(value)}: expected 1-32 letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )
    return value


def check_pool_name(value: str, allow_scratch: bool = False) -> str:
    """Given a pool name, return it; raise InvalidInput if it is not 1-32 letters, digits,
    '.', '-' or '_' starting with a letter or digit, or if it is the reserved name
    'scratch' (unless allow_scratch)."""
    if not isinstance(value, str) or not POOL_RE.match(value):
        raise InvalidInput(
            f"pool {_shown(value)}: expected 1-32 letters, digits, '.', '-' or '_', "
            "starting with a letter or digit"
        )
    if value == SCRATCH_POOL and not allow_scratch:
        raise InvalidInput(
            f"pool {value!r}: the name is reserved for unused volumes; choose another name"
        )
    return value


def _shown(value: object) -> str:
    if not isinstance(value, str):
        return f"of type {type(value).__name__}"
    text = value if len(value) <= 64 else value[:64] + "..."
    return repr(printable(text))


@dataclass(frozen=True)
class Label:
    """A volume's label record: its label, its pool (None: the scratch pool), the volume's
    UUID and when it was labelled (ISO 8601, UTC)."""

    label: str
    pool: str | None
    uuid: str
    labelled_at: str

    @classmethod
    def new(cls, label: str, pool: str | None, now: datetime) -> Label:
        """Given a label, a pool (None: scratch) and the time, return a fresh label record
        with a new UUID; raise InvalidInput for a bad label or pool name."""
        check_label(label)
        if pool is not None:
            check_pool_name(pool)
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        stamp = now.astimezone(UTC).isoformat(timespec="seconds")
        return cls(label=label, pool=pool, uuid=str(uuid.uuid4()), labelled_at=stamp)

    def encode(self) -> bytes:
        """Return the RECORD-byte label record; raise InvalidInput if a field is invalid."""
        if not _valid(self.label, self.pool, self.uuid, self.labelled_at):
            check_label(self.label)
            if self.pool is not None:
                check_pool_name(self.pool)
            raise InvalidInput(
                f"label {self.label}: uuid {_shown(self.uuid)} or labelled_at "
                f"{_shown(self.labelled_at)} is not a UUID and an ISO 8601 instant"
            )
        body = json.dumps({key: getattr(self, key) for key in _KEYS}, separators=(",", ":"))
        data = MAGIC + body.encode("ascii") + b"\n"
        return data.ljust(RECORD, b"\0")

    @classmethod
    def decode(cls, data: bytes) -> Label | None:
        """Given what a volume holds at tape file 0, return its label record, or None if it
        is not a tapesched label (any other data, however malformed). Never raises."""
        try:
            return cls._decode(data)
        except (ValueError, TypeError, RecursionError, OverflowError, AttributeError):
            return None

    @classmethod
    def _decode(cls, data: bytes) -> Label | None:
        if not isinstance(data, bytes | bytearray | memoryview):
            return None
        if len(data) != RECORD:
            return None
        data = bytes(data)
        if not data.startswith(MAGIC):
            return None
        end = data.find(b"\n", len(MAGIC))
        if end < 0 or data[end + 1 :].strip(b"\0"):
            return None
        body = data[len(MAGIC) : end]
        if not (body.startswith(b"{") and body.endswith(b"}")):
            return None
        fields = json.loads(body.decode("ascii"))
        if not isinstance(fields, dict) or not all(key in fields for key in _KEYS):
            return None
        values = [fields[key] for key in _KEYS]
        if not _valid(*values):
            return None
        return cls(*values)


def _valid(label: object, pool: object, volume_uuid: object, labelled_at: object) -> bool:
    """Whether these are a label record's fields: a label, a pool name or None (never
    'scratch'), a UUID in its canonical form and an ISO 8601 instant with an offset."""
    if not isinstance(label, str) or not LABEL_RE.match(label):
        return False
    if pool is not None and (
        not isinstance(pool, str) or not POOL_RE.match(pool) or pool == SCRATCH_POOL
    ):
        return False
    if not isinstance(volume_uuid, str) or len(volume_uuid) != 36:
        return False
    if not isinstance(labelled_at, str) or not 10 <= len(labelled_at) <= 40:
        return False
    try:
        if str(uuid.UUID(volume_uuid)) != volume_uuid.lower():
            return False
        when = datetime.fromisoformat(labelled_at)
    except ValueError:
        return False
    return when.tzinfo is not None


def parse_size(text: str) -> int:
    """Given a size ('4096', '64K', '10M', '1.5G', '2T', '64KiB'; binary units, K = 1024,
    any case), return it in bytes; raise InvalidInput for anything else, for 0 and for
    more than 4 EiB."""
    accepted = (
        "expected a positive number of bytes with an optional binary unit K, M, G or T "
        "(4096, 64K, 10M, 1.5G, 2T; K = 1024)"
    )
    cleaned = text.strip().upper() if isinstance(text, str) else ""
    match = _SIZE_RE.match(cleaned)
    if match is None:
        raise InvalidInput(f"size {_shown(text)}: {accepted}")
    try:
        size = int(Decimal(match.group(1)) * _UNITS[match.group(2)])
    except (InvalidOperation, ValueError):  # pragma: no cover - the pattern allows neither
        raise InvalidInput(f"size {_shown(text)}: {accepted}") from None
    if size <= 0:
        raise InvalidInput(f"size {_shown(text)}: a size of 0 bytes; {accepted}")
    if size > MAX_SIZE:
        raise InvalidInput(f"size {_shown(text)}: more than 4 EiB; {accepted}")
    return size
