"""The pump between tar and the volumes: pieces, checksums, ends of medium, mismatches."""

from __future__ import annotations

import hashlib
import io
import os
import random
import threading

import pytest

from tapesched.errors import TapeError
from tapesched.media import stream
from tapesched.media.drive import EndOfMedium


class Cartridge:
    """A writer with a capacity, keeping what it was given (whole writes or none)."""

    def __init__(self, label: str, capacity: int, file_number: int = 1) -> None:
        self.label = label
        self.capacity = capacity
        self.file_number = file_number
        self.data = bytearray()
        self.closed = self.aborted = False

    def write(self, record: bytes) -> None:
        if len(self.data) + len(record) > self.capacity:
            raise EndOfMedium()
        self.data += record

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True


def feed(data: bytes, chunks: list[int]) -> int:
    """A pipe whose write end a thread fills with `data` in writes of the given sizes."""
    read_end, write_end = os.pipe()

    def writer() -> None:
        view, index = memoryview(data), 0
        try:
            while view:
                size = chunks[index % len(chunks)]
                index += 1
                os.write(write_end, view[:size])
                view = view[size:]
        except BrokenPipeError:
            pass  # the reader stopped (a test of a failure)
        finally:
            os.close(write_end)

    threading.Thread(target=writer, daemon=True).start()
    return read_end


def pump(data: bytes, record: int, capacities: list[int], chunks: list[int]) -> tuple:
    cartridges: list[Cartridge] = []
    told: list[tuple[stream.Piece, bool]] = []

    def open_next(previous: stream.Piece | None) -> tuple[str, Cartridge]:
        assert (previous is None) == (not cartridges)
        cartridge = Cartridge(f"V{len(cartridges) + 1}", capacities[len(cartridges)])
        cartridges.append(cartridge)
        return cartridge.label, cartridge

    fd = feed(data, chunks)
    try:
        pieces = stream.write_stream(
            fd, record, open_next, lambda p, full: told.append((p, full)), lambda: None
        )
    finally:
        os.close(fd)
    return pieces, cartridges, told


@pytest.mark.parametrize("seed", range(12))
def test_pieces_join_to_the_stream_with_their_checksums_whatever_the_pipe_delivers(
    seed: int,
) -> None:
    rng = random.Random(seed)
    record = rng.choice([512, 10240, 65536])
    data = rng.randbytes(record * rng.randint(1, 60))
    capacities = [record * rng.randint(1, 12) + rng.randint(0, record - 1) for _ in range(80)]
    chunks = [rng.randint(1, 3 * record) for _ in range(7)]
    pieces, cartridges, told = pump(data, record, capacities, chunks)

    assert b"".join(bytes(c.data) for c in cartridges[: len(pieces)]) == data
    for piece, cartridge in zip(pieces, cartridges, strict=False):
        assert piece.volume == cartridge.label and cartridge.closed
        assert piece.bytes == len(cartridge.data) and piece.bytes % record == 0
        assert piece.sha256 == hashlib.sha256(cartridge.data).hexdigest()
        assert len(cartridge.data) + record > cartridge.capacity or piece is pieces[-1]
    assert [p for p, _ in told] == pieces
    assert [full for _, full in told] == [True] * (len(pieces) - 1) + [False]


def test_a_volume_that_cannot_take_one_record_fails_the_run() -> None:
    with pytest.raises(TapeError, match="V2 cannot take one record of 512 bytes"):
        pump(b"x" * 2048, 512, [1024, 100, 4096], [4096])


def test_an_empty_stream_is_one_empty_piece() -> None:
    pieces, _, told = pump(b"", 512, [4096], [1])
    assert [(p.bytes, p.sha256) for p in pieces] == [(0, hashlib.sha256().hexdigest())]
    assert told == [(pieces[0], False)]


def test_a_failure_while_writing_aborts_the_piece_being_written() -> None:
    cartridge = Cartridge("V1", 16 << 20)

    def check() -> None:
        if cartridge.data:
            raise RuntimeError("stop")

    fd = feed(b"y" * (3 * stream.CHUNK), [65536])
    with pytest.raises(RuntimeError):
        stream.write_stream(fd, 1024, lambda _: ("V1", cartridge), lambda *_: None, check)
    os.close(fd)
    assert cartridge.aborted and not cartridge.closed


def _pieces(parts: list[bytes]) -> list[stream.Piece]:
    return [
        stream.Piece(f"V{n}", 1, len(part), hashlib.sha256(part).hexdigest())
        for n, part in enumerate(parts)
    ]


def test_reading_back_checks_every_piece_and_names_the_first_that_differs() -> None:
    parts = [os.urandom(3000), os.urandom(5000), os.urandom(10)]
    pieces = _pieces(parts)
    read_end, write_end = os.pipe()
    checked: list[stream.Piece] = []
    stream.read_stream(
        pieces, lambda p: io.BytesIO(parts[int(p.volume[1:])]), stream.Sink(write_end),
        lambda: None, checked.append,
    )  # fmt: skip
    os.close(write_end)
    assert os.read(read_end, 1 << 20) == b"".join(parts) and checked == pieces
    os.close(read_end)

    corrupt = list(parts)
    corrupt[1] = corrupt[1][:100] + bytes([corrupt[1][100] ^ 1]) + corrupt[1][101:]
    with pytest.raises(stream.Mismatch, match=r"piece 2 of 3 \(volume V1, tape file 1\)"):
        stream.read_stream(
            pieces, lambda p: io.BytesIO(corrupt[int(p.volume[1:])]), stream.Sink(None),
            lambda: None,
        )  # fmt: skip
    short = [parts[0], parts[1][:-1], parts[2]]
    with pytest.raises(stream.Mismatch, match="read .* for 4999 bytes"):
        stream.read_stream(
            pieces, lambda p: io.BytesIO(short[int(p.volume[1:])]), stream.Sink(None),
            lambda: None,
        )  # fmt: skip


def test_a_reader_that_stops_early_still_gets_every_piece_checked() -> None:
    """tar stops reading after its end-of-archive blocks: the rest is still checked."""
    parts = [os.urandom(200_000), os.urandom(200_000)]
    read_end, write_end = os.pipe()
    os.close(read_end)
    checked: list[stream.Piece] = []
    stream.read_stream(
        _pieces(parts), lambda p: io.BytesIO(parts[int(p.volume[1:])]), stream.Sink(write_end),
        lambda: None, checked.append,
    )  # fmt: skip
    os.close(write_end)
    assert len(checked) == 2


def test_a_drive_is_given_one_record_per_write() -> None:
    """On a drive each write() is one block on the tape: tar and a restore must find the
    blocks the backup's record size makes."""

    class Drive(Cartridge):
        record_writes = True
        sizes: list[int] = []

        def write(self, record: bytes) -> None:
            self.sizes.append(len(record))
            super().write(record)

    drive = Drive("V1", 64 << 20)
    data = os.urandom(10240 * 300 + 700)  # a compressed stream ends in a shorter record
    fd = feed(data, [70_000])
    pieces = stream.write_stream(fd, 10240, lambda _: ("V1", drive), lambda *_: None, lambda: None)
    os.close(fd)
    assert drive.sizes == [10240] * 300 + [700]
    assert bytes(drive.data) == data and pieces[0].bytes == len(data)
