"""Volume labels, pool names, sizes and the label record (tape file 0): what is accepted,
what is refused with one line, and that no bytes a tape may hold make decoding raise."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapesched.errors import InvalidInput
from tapesched.media import labels as module
from tapesched.media.labels import MAGIC, RECORD, Label

NOW = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
GOOD_UUID = "0f8fad5b-d9cb-469f-a165-70867728950e"


def _record(fields: object, *, magic: bytes = MAGIC, end: bytes = b"\n") -> bytes:
    """A label record built by hand: magic, JSON, end, NUL padding (not cut to size)."""
    body = json.dumps(fields, separators=(",", ":")).encode()
    return (magic + body + end).ljust(RECORD, b"\0")


def _fields(**changes: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "label": "VLIB001",
        "pool": "weekly",
        "uuid": GOOD_UUID,
        "labelled_at": "2026-03-01T12:30:15+00:00",
    }
    fields.update(changes)
    return fields


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize("value", ["A", "VLIB001", "ABC001L8", "a_b-c", "9" * 32, "x-"])
def test_labels_accepted(value: str) -> None:
    assert module.check_label(value) == value


@pytest.mark.parametrize(
    "value",
    ["", "-A", "_A", "A" * 33, "A B", "A.B", "A/B", "A\n", "\nA", "Ä1", "A:1", "A\x00", None, 7],
)
def test_labels_refused_in_one_line_naming_the_form(value: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        module.check_label(value)  # type: ignore[arg-type]
    assert "expected 1-32 letters, digits, '-' or '_'" in caught.value.message
    assert "\n" not in caught.value.message


def test_a_barcode_is_named_as_such() -> None:
    with pytest.raises(InvalidInput, match=r"^barcode 'A B': expected"):
        module.check_label("A B", "barcode")


def test_a_very_long_label_is_shortened_in_the_message() -> None:
    with pytest.raises(InvalidInput) as caught:
        module.check_label("x" * 10_000)
    assert len(caught.value.message) < 200


@pytest.mark.parametrize("value", ["weekly", "w.1", "Daily_2", "a-b", "p" * 32])
def test_pool_names_accepted(value: str) -> None:
    assert module.check_pool_name(value) == value


@pytest.mark.parametrize("value", ["", ".w", "w" * 33, "w w", "w\n", "w/x", None])
def test_pool_names_refused(value: object) -> None:
    with pytest.raises(InvalidInput, match="expected 1-32 letters, digits, '.', '-' or '_'"):
        module.check_pool_name(value)  # type: ignore[arg-type]


def test_the_scratch_pool_name_is_reserved_unless_allowed() -> None:
    with pytest.raises(InvalidInput, match="'scratch': the name is reserved"):
        module.check_pool_name("scratch")
    assert module.check_pool_name("scratch", allow_scratch=True) == "scratch"


# --------------------------------------------------------------------------- sizes


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("4096", 4096),
        ("1", 1),
        ("64K", 65536),
        ("64k", 65536),
        ("64KiB", 65536),
        ("64kib", 65536),
        ("64KB", 65536),
        ("10M", 10 << 20),
        ("10MiB", 10 << 20),
        ("1.5G", 3 << 29),
        ("2T", 2 << 40),
        ("0.5K", 512),
        (" 8M ", 8 << 20),
        ("4096B", 4096),
        ("4194304T", 1 << 62),
    ],
)
def test_sizes_accepted(text: str, size: int) -> None:
    assert module.parse_size(text) == size


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("0", "0 bytes"),
        ("0K", "0 bytes"),
        ("0.0001K", "0 bytes"),
        ("-1", "expected"),
        ("-5M", "expected"),
        ("", "expected"),
        ("K", "expected"),
        ("1..5G", "expected"),
        ("10 M", "expected"),
        ("10P", "expected"),
        ("1e9", "expected"),
        ("0x10", "expected"),
        ("ten", "expected"),
        ("10MM", "expected"),
        ("4194305T", "more than 4 EiB"),
        ("9" * 20, "more than 4 EiB"),
        ("9" * 5000, "expected"),
        ("1_000", "expected"),
        ("١٢", "expected"),  # Arabic-Indic digits are digits to Python, not here
        (None, "expected"),
        (12, "expected"),
    ],
)
def test_sizes_refused_in_one_line_naming_the_accepted_form(text: object, words: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        module.parse_size(text)  # type: ignore[arg-type]
    message = caught.value.message
    assert message.startswith("size ") and words in message
    assert "(4096, 64K, 10M, 1.5G, 2T; K = 1024)" in message
    assert "\n" not in message and len(message) < 300


# --------------------------------------------------------------------------- the record


def test_a_new_label_encodes_to_one_record_and_decodes_to_itself() -> None:
    label = Label.new("VLIB001", "weekly", NOW)

    data = label.encode()

    assert len(data) == RECORD
    assert data.startswith(b"TAPESCHED-VOLUME 1\n{")
    assert data.rstrip(b"\0").endswith(b"}\n")
    assert Label.decode(data) == label
    assert label.labelled_at == "2026-03-01T12:30:15+00:00"
    assert Label.new("VLIB001", "weekly", NOW).uuid != label.uuid


def test_a_scratch_label_has_no_pool_and_times_are_kept_in_utc() -> None:
    east = datetime(2026, 3, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))

    label = Label.new("S1", None, east)

    assert json.loads(label.encode()[len(MAGIC) :].rstrip(b"\0"))["pool"] is None
    assert label.labelled_at == "2026-03-01T12:00:00+00:00"
    assert Label.decode(label.encode()) == label
    assert Label.new("S1", None, datetime(2026, 3, 1)).labelled_at.endswith("+00:00")


@pytest.mark.parametrize(
    ("label", "pool"), [("bad label", "weekly"), ("OK1", "scratch"), ("OK1", "a b")]
)
def test_a_label_with_bad_fields_is_neither_made_nor_encoded(label: str, pool: str) -> None:
    with pytest.raises(InvalidInput):
        Label.new(label, pool, NOW)
    with pytest.raises(InvalidInput):
        Label(label, pool, GOOD_UUID, "2026-03-01T12:30:15+00:00").encode()


def test_a_label_with_a_bad_uuid_or_time_is_not_encoded() -> None:
    with pytest.raises(InvalidInput, match="not a UUID and an ISO 8601 instant"):
        Label("OK1", None, "not-a-uuid", "2026-03-01T12:30:15+00:00").encode()
    with pytest.raises(InvalidInput, match="not a UUID and an ISO 8601 instant"):
        Label("OK1", None, GOOD_UUID, "yesterday").encode()


def test_a_record_built_by_hand_decodes() -> None:
    assert Label.decode(_record(_fields())) == Label(
        "VLIB001", "weekly", GOOD_UUID, "2026-03-01T12:30:15+00:00"
    )
    assert Label.decode(_record(_fields(pool=None))) is not None
    assert Label.decode(_record(_fields(extra="ignored"))) is not None  # later additions


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\0" * RECORD,
        b"\xff" * RECORD,
        MAGIC,
        MAGIC.ljust(RECORD, b"\0"),
        _record(_fields())[:-1],  # 1023 bytes
        _record(_fields()) + b"\0",  # 1025 bytes
        _record(_fields()) * 2,
        _record(_fields()) * 10_000,  # about 10 MB
        _record(_fields(), magic=b"TAPESCHED-VOLUME 2\n"),
        _record(_fields(), magic=b"tapesched-volume 1\n"),
        _record(_fields(), magic=b"TAPESCHED-VOLUME 1\r\n"),
        _record(_fields(), end=b""),  # no newline after the JSON
        _record(_fields(), end=b"\nX"),  # something after it in the padding
        _record(_fields(), end=b"\n\0\0 "),
        _record(_fields(), end=b"\r\n"),
        _record(["VLIB001", "weekly", GOOD_UUID, "2026-03-01T12:30:15+00:00"]),
        _record("VLIB001"),
        _record(None),
        _record(12),
        _record({}),
        _record({k: v for k, v in _fields().items() if k != "uuid"}),
        _record(_fields(label="bad label")),
        _record(_fields(label="")),
        _record(_fields(label="A" * 33)),
        _record(_fields(label="A\n")),
        _record(_fields(label="VLIB\udcff")),
        _record(_fields(label="VLİB")),
        _record(_fields(label=7)),
        _record(_fields(label=None)),
        _record(_fields(label=["VLIB001"])),
        _record(_fields(pool="scratch")),
        _record(_fields(pool="")),
        _record(_fields(pool=1)),
        _record(_fields(pool=True)),
        _record(_fields(pool={"name": "weekly"})),
        _record(_fields(uuid="0f8fad5bd9cb469fa16570867728950e")),  # not the canonical form
        _record(_fields(uuid="{0f8fad5b-d9cb-469f-a165-70867728950}")),
        _record(_fields(uuid="zf8fad5b-d9cb-469f-a165-70867728950e")),
        _record(_fields(uuid=12345)),
        _record(_fields(labelled_at="2026-03-01T12:30:15")),  # no offset
        _record(_fields(labelled_at="2026-13-01T12:30:15+00:00")),
        _record(_fields(labelled_at="yesterday")),
        _record(_fields(labelled_at=1772368215)),
        _record(_fields(labelled_at="2026-03-01T12:30:15+00:00" * 3)),
        MAGIC + b'{"label":"VLIB001","pool":' + b"[" * 900,  # truncated, deeply nested
        (MAGIC + b"[" * 990 + b"]" * 0 + b"\n").ljust(RECORD, b"\0"),
        (MAGIC + b"{" + b'"a":' * 200 + b"1" + b"}" * 200 + b"\n").ljust(RECORD, b"\0"),
        (MAGIC + b'{"label":"\xc3\x28"}\n').ljust(RECORD, b"\0"),  # not UTF-8
        (MAGIC + b'{"label":"VLIB001","label":1}\n').ljust(RECORD, b"\0"),
        (MAGIC + b"NaN\n").ljust(RECORD, b"\0"),
        (MAGIC + b"1" * 1000 + b"\n").ljust(RECORD, b"\0"),  # a huge number
    ],
    ids=lambda data: f"{len(data)}-bytes",
)
def test_what_is_not_a_tapesched_label_decodes_to_none(data: bytes) -> None:
    assert Label.decode(data) is None


@pytest.mark.parametrize("value", [None, "TAPESCHED-VOLUME 1\n", 1024, [MAGIC], object()])
def test_what_is_not_bytes_decodes_to_none(value: object) -> None:
    assert Label.decode(value) is None  # type: ignore[arg-type]


def test_a_bytearray_or_memoryview_decodes() -> None:
    data = Label.new("L1", "p", NOW).encode()
    assert Label.decode(bytearray(data)) == Label.decode(memoryview(data)) == Label.decode(data)


def _check(data: object) -> None:
    """Decoding never raises; what decodes is a valid label that encodes again."""
    result = Label.decode(data)  # type: ignore[arg-type]
    if result is not None:
        assert isinstance(result, Label)
        assert len(result.encode()) == RECORD


def test_random_bytes_never_make_decoding_raise() -> None:
    rng = random.Random(11)
    for _ in range(3000):
        size = rng.choice([0, 1, 19, 100, 1023, RECORD, RECORD, 1025, rng.randrange(5000)])
        data = rng.randbytes(size)
        if rng.random() < 0.5:
            data = (MAGIC + data)[:size] if size >= len(MAGIC) else data
        assert Label.decode(data) is None or size == RECORD
        _check(data)


def test_mutated_labels_never_make_decoding_raise() -> None:
    rng = random.Random(1107)
    good = Label.new("VLIB001", "weekly", NOW).encode()
    decoded = 0
    alphabet = b'{}[]":,\n\0\\ -_.0123456789aeflnrstuAZ\x80\xff'
    for _ in range(5000):
        data = bytearray(good)
        kind = rng.randrange(4)
        if kind == 0:  # change a few bytes
            for _ in range(rng.randint(1, 4)):
                data[rng.randrange(RECORD)] = rng.randrange(256)
        elif kind == 1:  # change bytes of the JSON to JSON-ish ones
            end = good.index(b"\n", len(MAGIC))
            for _ in range(rng.randint(1, 3)):
                data[rng.randrange(len(MAGIC), end + 1)] = rng.choice(alphabet)
        elif kind == 2:  # truncated, then padded back (or not)
            cut = rng.randrange(RECORD)
            data = data[:cut] + (b"\0" * (RECORD - cut) if rng.random() < 0.5 else b"")
        else:  # a slice of the JSON moved elsewhere
            start = rng.randrange(len(MAGIC), 200)
            piece = data[start : start + rng.randrange(1, 30)]
            at = rng.randrange(len(MAGIC), 200)
            data = (data[:at] + piece + data[at:])[:RECORD]
        _check(bytes(data))
        decoded += Label.decode(bytes(data)) is not None
    assert 0 < decoded < 5000  # some mutations (a hex digit of the UUID) stay valid


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    label=st.one_of(json_values, st.from_regex(module.LABEL_RE, fullmatch=True)),
    pool=st.one_of(json_values, st.sampled_from(["weekly", "scratch", None])),
    volume_uuid=st.one_of(json_values, st.uuids().map(str)),
    labelled_at=st.one_of(json_values, st.datetimes(timezones=st.just(UTC)).map(str)),
)
def test_records_with_fields_of_any_json_type_decode_or_are_refused(
    label: object, pool: object, volume_uuid: object, labelled_at: object
) -> None:
    fields = {"label": label, "pool": pool, "uuid": volume_uuid, "labelled_at": labelled_at}
    result = Label.decode(_record(fields)[:RECORD])
    if result is not None:
        assert (result.label, result.pool, result.uuid) == (label, pool, volume_uuid)
        assert Label.decode(result.encode()) == result


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2 * RECORD))
def test_any_bytes_after_the_magic_never_make_decoding_raise(tail: bytes) -> None:
    _check((MAGIC + tail)[:RECORD].ljust(RECORD, b"\0"))
    _check(tail)
