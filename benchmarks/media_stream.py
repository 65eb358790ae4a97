"""Media streaming: a backup onto a virtual library and its recovery, beside plain GNU tar.

Issue 11's target ("Checksums while writing, on every kind of device"): a
backup's streaming cost, its time minus the fixed cost of a run, within 1.25x
of `tar -cf` plus fsync; a recovery within 1.35x of `tar -xf`, on the same data
and disk, in one run.

A data set is made under a temporary folder (`--size`, default 1 GiB: a few
large files of random data and a few thousand small ones, 80 % / 20 % of the
bytes), plus a tiny source (one 4 KiB file). Each round then times, one
after the other with the order rotating each round:

  backups     `tapesched run backup --wait --json` (the real CLI and runner) in
              three fresh state folders, each with its own virtual library of
              scratch volumes (made with `tapesched pool add`, `library add`,
              `library inventory` and `media label`): the data on volumes
              larger than the archive (one volume); the tiny source (the fixed
              cost of a run); the data on volumes of about a third of the
              archive (it spans 3 volumes);
              beside `tar -cf ARCHIVE --directory=/ SRC` then `sync ARCHIVE DIR`
              (fsync of the archive and its folder, as the runner fsyncs each
              piece and its cartridge folder);
  recoveries  `tapesched run recovery --wait --json` of each of those backups
              into a folder that does not exist yet, beside `tar -xf ARCHIVE -C
              DIR` (DIR made empty beforehand) of the archive just written.

Streaming cost = backup (or recovery) of the data minus that of the tiny
source, in the same round; the ratios divide it by the tar baseline.

Unless `--no-diagnostics`, each round then also times, for where the time
goes (each archive removed once read, so that these add little memory to
the round): tar with tapesched's own options (`tar_create_argv`, `tar_extract_argv`:
POSIX format, sparse, xattrs/ACLs/SELinux, --listed-incremental, -vv into an
index file, 64 KiB records) on a file; tapesched's pump alone
(tapesched.media.stream's write_stream and read_stream, unchanged) in a child
process of this script, between that tar and a virtual cartridge, its time
split into waiting for tar (`_fill`), SHA-256, writing and the final fsync
(its `hashlib`, `_fill` and the writer and reader wrapped from outside); and
`cat PIECE | tar -x` (a pipe without the pump).

Every variant runs the same way: the data, the archives and the pieces are in
the page cache (RAM permitting: checked) after a sizing backup and `--warmup`
untimed rounds; `sync` runs untimed before every timed command, so no command
pays for writing back what the previous one left dirty. Every state folder
and library is fresh, so every backup writes the same bytes. Medians over
`--reps` rounds; everything made is removed at the end.

    python benchmarks/media_stream.py [--size 1G] [--reps 3] [--warmup 1]
        [--no-diagnostics] [--tmpdir DIR]
    python benchmarks/media_stream.py --quick      # 32 MiB, 2 rounds: a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import _bench as b

MIB = 1 << 20
POOL = "bench"
LIBRARY = "vlib"
TASK_BACKUP = "backup"
TASK_RECOVERY = "recovery"
BLOCKS = 128  # the runner's blocking factor on volumes (64 KiB records)
TARGETS = {"backup": 1.25, "recovery": 1.35}

# Variants (keys) and their labels in the tables.
T_BIG = "tapesched backup"
T_TINY = "tapesched backup, tiny"
T_SPAN = "tapesched backup, spanning"
TAR_C = "tar -cf + fsync"
D_TAR_C = "tar -cf FILE, tapesched's options, + fsync"
D_PUMP_C = "tapesched's tar -cf - | pump"
R_BIG = "tapesched recovery"
R_TINY = "tapesched recovery, tiny"
R_SPAN = "tapesched recovery, spanning"
TAR_X = "tar -xf"
D_TAR_X = "tar -xf FILE, tapesched's options"
D_PUMP_X = "pump | tapesched's tar -x"
D_CAT_X = "cat PIECE | tapesched's tar -x"


def parse_size(text: str) -> int:
    """'1G', '512M', '64K', '1.5G' or a byte count (binary units) -> bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*", text, re.IGNORECASE)
    if match is None:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 1G, 512M)")
    power = " KMGT".index(match.group(2).upper() or " ")
    return int(float(match.group(1)) * (1 << (10 * power)))


def mib(count: float) -> str:
    return f"{count / MIB:,.0f} MiB" if count >= 10 * MIB else f"{count / MIB:.1f} MiB"


# --------------------------------------------------------------------------- data


def make_data(root: Path, size: int, large: int, small: int) -> tuple[int, int]:
    """Write the data set under root: `large` files of random data holding 80 % of `size`
    and `small` files (random sizes, 100 a folder) the rest; return (files, bytes)."""
    rng = random.Random(11)
    small_total = size // 5 if small else 0
    large_each = (size - small_total) // max(large, 1) if large else 0
    files = written = 0
    for index in range(large):
        path = root / "large" / f"large-{index:02d}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as handle:
            left = large_each
            while left:
                chunk = os.urandom(min(left, 8 * MIB))
                handle.write(chunk)
                left -= len(chunk)
        files, written = files + 1, written + large_each
    average = small_total // small if small else 0
    for index in range(small):
        count = rng.randint(1, max(1, 2 * average - 1))
        path = root / "small" / f"d{index // 100:03d}" / f"f{index:05d}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(count))
        files, written = files + 1, written + count
    return files, written


def tree_totals(root: Path) -> tuple[int, int]:
    """(regular files, their bytes) under root."""
    files = total = 0
    for folder, _, names in os.walk(root):
        for name in names:
            info = os.lstat(os.path.join(folder, name))
            files += 1
            total += info.st_size
    return files, total


def relative(path: Path) -> str:
    """A path as tar stores it with --directory=/ (no leading slash)."""
    return os.path.relpath(path, "/")


# --------------------------------------------------------------------------- state folders


def cli(home: Path, *args: str) -> subprocess.CompletedProcess:
    """`tapesched ARGS` (the console script) against the state folder `home`, checked."""
    done = subprocess.run(
        [*b.tapesched_argv(), *args],
        env=b.env_for(home),
        cwd=str(b.REPO),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"tapesched {' '.join(args)} exited {done.returncode}: {done.stderr}")
    return done


def make_home(home: Path, library: Path, slots: int, capacity: int, source: Path, target: Path):
    """A fresh state folder, all through the CLI: `init`, a pool, a virtual library of
    `slots` cartridges of `capacity` bytes, each labelled a scratch volume, a backup task
    of `source` to the pool and a recovery task of it into `target`."""
    cli(home, "init")
    cli(home, "pool", "add", POOL, "--retention-days", "30")
    where = ["--path", str(library), "--slots", str(slots), "--capacity", str(capacity)]
    cli(home, "library", "add", LIBRARY, *where)
    inventory = json.loads(cli(home, "library", "inventory", LIBRARY, "--json").stdout)
    for slot in inventory["slots"]:
        place = ["--library", LIBRARY, "--slot", str(slot["slot"])]
        cli(home, "media", "label", slot["barcode"], "--pool", "scratch", *place)
    backup = {"source_paths": [str(source)], "pool": POOL, "library": LIBRARY}
    recovery = {"from_task": TASK_BACKUP, "target_path": str(target)}
    for name, action, action_config in (
        (TASK_BACKUP, "backup", backup),
        (TASK_RECOVERY, "recovery", recovery),
    ):
        config = json.dumps(action_config)
        cli(home, "add", name, "--every", "1d", "--action", action, "--action-config", config)


def run_task(home: Path, task: str) -> tuple[float, dict[str, Any]]:
    """Time `tapesched run TASK --wait --json`; return (wall seconds, the execution).
    Raise unless it succeeded."""
    os.sync()
    argv = [*b.tapesched_argv(), "run", task, "--wait", "--json"]
    start = time.perf_counter()
    done = subprocess.run(
        argv, env=b.env_for(home), cwd=str(b.REPO), capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - start
    try:
        execution = json.loads(done.stdout)
    except ValueError:
        execution = {}
    if done.returncode != 0 or execution.get("status") != "success":
        log = ""
        if execution.get("log_path"):
            log = Path(execution["log_path"]).read_text(errors="replace")[-3000:]
        raise RuntimeError(
            f"{' '.join(argv)} (home {home}) exited {done.returncode}: "
            f"{execution.get('error_message') or done.stderr.strip()}\n{log}"
        )
    return elapsed, execution


def timed(*argvs: list[str], env: dict[str, str] | None = None) -> float:
    """Wall time of commands run one after the other (after an untimed sync), checked."""
    os.sync()
    start = time.perf_counter()
    for argv in argvs:
        b.run_checked(argv, env=env)
    return time.perf_counter() - start


def timed_pipe(first: list[str], second: list[str], env: dict[str, str]) -> float:
    """Wall time of `first | second` (after an untimed sync), both checked."""
    os.sync()
    start = time.perf_counter()
    head = subprocess.Popen(first, stdout=subprocess.PIPE)
    assert head.stdout is not None
    tail = subprocess.Popen(second, stdin=head.stdout, env=env, stderr=subprocess.PIPE)
    head.stdout.close()
    _, error = tail.communicate()
    codes = head.wait(), tail.returncode
    elapsed = time.perf_counter() - start
    if codes != (0, 0):
        raise RuntimeError(f"{first} | {second} exited {codes}: {error.decode(errors='replace')}")
    return elapsed


# --------------------------------------------------------------------------- the pump alone


class Timers:
    def __init__(self) -> None:
        self.spent: dict[str, float] = {}

    def add(self, key: str, since: float) -> None:
        self.spent[key] = self.spent.get(key, 0.0) + time.perf_counter() - since


def _instrument(stream: Any, timers: Timers) -> None:
    """Time tapesched.media.stream's hashing and pipe reads from outside: its `hashlib`
    is replaced by a shim whose sha256() objects time update(), and _fill (which reads
    tar's output into the pump's buffer: the time spent waiting for tar) is wrapped."""
    import hashlib

    class Digest:
        def __init__(self) -> None:
            self._digest = hashlib.sha256()

        def update(self, data: Any) -> None:
            since = time.perf_counter()
            self._digest.update(data)
            timers.add("sha256", since)

        def hexdigest(self) -> str:
            return self._digest.hexdigest()

    class Shim:
        sha256 = Digest

    stream.hashlib = Shim
    fill = stream._fill

    def timed_fill(fd: int, view: memoryview, check: Callable[[], None]) -> int:
        since = time.perf_counter()
        try:
            return fill(fd, view, check)
        finally:
            timers.add("read pipe (wait for tar)", since)

    stream._fill = timed_fill


class _TimedWriter:
    def __init__(self, writer: Any, timers: Timers) -> None:
        self._writer = writer
        self._timers = timers
        self.file_number = writer.file_number
        self.record_writes = getattr(writer, "record_writes", False)

    def write(self, record: Any) -> None:
        since = time.perf_counter()
        try:
            self._writer.write(record)
        finally:
            self._timers.add("write", since)

    def close(self) -> None:
        since = time.perf_counter()
        try:
            self._writer.close()
        finally:
            self._timers.add("close (fsync)", since)

    def abort(self) -> None:
        self._writer.abort()


class _TimedReader:
    def __init__(self, reader: Any, timers: Timers) -> None:
        self._reader = reader
        self._timers = timers

    def read(self, size: int = -1) -> bytes:
        since = time.perf_counter()
        try:
            return self._reader.read(size)
        finally:
            self._timers.add("read piece", since)

    def close(self) -> None:
        self._reader.close()


def child_pump_write(drive_folder: str, record: int, argv: list[str]) -> None:
    """(In a child process.) Run tar (`argv` writes the archive to stdout) and pump its
    output onto the cartridge of the virtual drive `drive_folder` with tapesched's
    stream.write_stream; print the pieces and the time split as JSON."""
    from tapesched.actions import tape
    from tapesched.media import stream
    from tapesched.media.drive import VirtualDrive

    timers = Timers()
    _instrument(stream, timers)
    drive = VirtualDrive(Path(drive_folder))

    def open_next(previous: Any) -> tuple[str, Any]:
        if previous is not None:
            raise RuntimeError("the diagnostic cartridge is full")
        return "BENCH", _TimedWriter(drive.open_append(), timers)

    start = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, env=tape.tar_env())
    assert child.stdout is not None
    pieces = stream.write_stream(
        child.stdout.fileno(), record, open_next, lambda piece, full: None, lambda: None
    )
    child.stdout.close()
    code = child.wait()
    wall = time.perf_counter() - start
    if code != 0:
        sys.exit(f"tar exited {code}")
    print(json.dumps({"wall": wall, "spent": timers.spent, "pieces": [vars(p) for p in pieces]}))


def child_pump_read(drive_folder: str, pieces_json: str, argv: list[str]) -> None:
    """(In a child process.) Run tar (`argv` reads the archive from stdin) and feed it the
    pieces with stream.read_stream from the virtual drive's cartridge, checking each
    one's SHA-256; print the time split as JSON."""
    from tapesched.actions import tape
    from tapesched.media import stream
    from tapesched.media.drive import VirtualDrive

    timers = Timers()
    _instrument(stream, timers)
    write = stream.Sink.write

    def timed_write(self: Any, data: bytes, check: Callable[[], None]) -> None:
        since = time.perf_counter()
        try:
            write(self, data, check)
        finally:
            timers.add("write pipe (wait for tar)", since)

    stream.Sink.write = timed_write
    drive = VirtualDrive(Path(drive_folder))
    pieces = [stream.Piece(**piece) for piece in json.loads(pieces_json)]
    start = time.perf_counter()
    child = subprocess.Popen(argv, stdin=subprocess.PIPE, env=tape.tar_env())
    assert child.stdin is not None
    try:
        stream.read_stream(
            pieces,
            lambda piece: _TimedReader(drive.open_read(piece.file_number), timers),
            stream.Sink(child.stdin.fileno()),
            lambda: None,
        )
    finally:
        child.stdin.close()
    code = child.wait()
    wall = time.perf_counter() - start
    if code != 0:
        sys.exit(f"tar exited {code}")
    print(json.dumps({"wall": wall, "spent": timers.spent}))


def run_child(*args: str) -> tuple[float, dict[str, Any]]:
    """Time this script in a child mode (after an untimed sync); return (wall, its JSON)."""
    os.sync()
    argv = [b.PYTHON, str(Path(__file__).resolve()), *args]
    start = time.perf_counter()
    done = b.run_checked(argv, stdout=subprocess.PIPE, cwd=str(b.REPO))
    elapsed = time.perf_counter() - start
    return elapsed, json.loads(done.stdout.splitlines()[-1])


def blank_cartridge(folder: Path, capacity: int) -> None:
    """A standalone virtual drive with a labelled cartridge loaded."""
    from tapesched.media.drive import VirtualDrive, create_cartridge
    from tapesched.media.labels import Label

    create_cartridge(folder / "cartridge", "BENCH", capacity)
    VirtualDrive(folder).write_label(Label.new("BENCH", POOL, datetime.now(UTC)))


# --------------------------------------------------------------------------- rounds


class Bench:
    """The data, the baselines' argument lists and every timing, round after round."""

    def __init__(self, root: Path, data: Path, tiny: Path, diagnostics: bool) -> None:
        from tapesched.actions import tape

        self.tape = tape
        self.root = root
        self.data = data
        self.tiny = tiny
        self.diagnostics = diagnostics
        self.data_totals = tree_totals(data)
        help_text = subprocess.run(
            [tape.TAR, "--help"], env=tape.tar_env(), capture_output=True, text=True, check=False
        ).stdout
        self.features = tape.TarFeatures.from_help(help_text)
        self.times: dict[str, list[float]] = {}
        self.durations: dict[str, list[float]] = {}  # the runner's own (started -> completed)
        self.volumes: dict[str, set[int]] = {}
        self.spent: dict[str, list[dict[str, float]]] = {}
        self.archive_bytes: dict[str, int] = {}
        self.capacity = {"big": 0, "tiny": 64 * MIB, "span": 0}
        self.slots = {"big": 2, "tiny": 2, "span": 6}

    def size_archive(self) -> int:
        """One untimed backup of the data (warms the page cache): the archive's size."""
        folder = self.root / "sizing"
        size = self.data_totals[1]
        make_home(
            folder / "home",
            folder / "library",
            1,
            2 * size + 256 * MIB,
            self.data,
            folder / "restore",
        )
        _, execution = run_task(folder / "home", TASK_BACKUP)
        shutil.rmtree(folder)
        archive = int(execution["result"]["archive_bytes"])
        self.capacity["big"] = 2 * archive + 64 * MIB
        self.capacity["span"] = archive // 3 + MIB  # 3 volumes: 2 full, the third nearly
        return archive

    def round(self, number: int, timed_round: bool) -> None:
        folder = self.root / f"round-{number}"
        folder.mkdir()
        homes = {}
        for kind, source in (("big", self.data), ("tiny", self.tiny), ("span", self.data)):
            homes[kind] = folder / f"home-{kind}"
            make_home(
                homes[kind],
                folder / f"library-{kind}",
                self.slots[kind],
                self.capacity[kind],
                source,
                folder / f"restore-{kind}",
            )
        archive = folder / "plain.tar"
        opts_archive = folder / "options.tar"
        pump_drive = folder / "pump-drive"
        pieces: dict[str, Any] = {}
        results: dict[str, tuple[float, dict[str, Any] | None]] = {}

        def backup(kind: str) -> Callable[[], None]:
            def go() -> None:
                elapsed, execution = run_task(homes[kind], TASK_BACKUP)
                result = execution["result"]
                want = self.data_totals[0] if kind != "tiny" else 1
                if result.get("files") != want:
                    raise RuntimeError(f"{kind} backup archived {result.get('files')} files")
                self.archive_bytes[kind] = int(result["archive_bytes"])
                self.volumes.setdefault(kind, set()).add(len(result["volumes"]))
                results[kind] = (elapsed, execution)

            return go

        def tar_create() -> None:
            argv = [self.tape.TAR, "-cf", str(archive), "--directory=/", relative(self.data)]
            results["tar"] = (timed(argv, ["sync", str(archive), str(folder)]), None)
            self.archive_bytes["tar"] = archive.stat().st_size

        def tar_create_options() -> None:
            argv = self.tape.tar_create_argv(
                str(opts_archive),
                [relative(self.data)],
                str(folder / "options.snar"),
                BLOCKS,
                False,
                [],
                str(folder / "options.index"),
                self.features,
            )
            results["opts"] = (timed(argv, ["sync", str(opts_archive), str(folder)]), None)

        def pump_create() -> None:
            blank_cartridge(pump_drive, self.capacity["big"])
            argv = self.tape.tar_create_argv(
                "-",
                [relative(self.data)],
                str(folder / "pump.snar"),
                BLOCKS,
                False,
                [],
                str(folder / "pump.index"),
                self.features,
            )
            elapsed, report = run_child(
                "_pump-write", str(pump_drive), str(BLOCKS * 512), "--", *argv
            )
            results["pump"] = (elapsed, report)
            pieces["pump"] = report["pieces"]

        backups: dict[str, Callable[[], None]] = {
            T_BIG: backup("big"),
            T_TINY: backup("tiny"),
            TAR_C: tar_create,
            T_SPAN: backup("span"),
        }
        restored: dict[str, tuple[float, dict[str, Any] | None]] = {}

        def check_restored(where: Path, source: Path, what: str) -> None:
            found = tree_totals(where / relative(source))
            want = self.data_totals if source == self.data else tree_totals(source)
            if found != want:
                raise RuntimeError(f"{what}: restored {found} (files, bytes), not {want}")

        def recovery(kind: str) -> Callable[[], None]:
            def go() -> None:
                elapsed, execution = run_task(homes[kind], TASK_RECOVERY)
                target = folder / f"restore-{kind}"
                check_restored(target, self.tiny if kind == "tiny" else self.data, kind)
                shutil.rmtree(target)
                restored[kind] = (elapsed, execution)

            return go

        def tar_extract() -> None:
            target = folder / "restore-tar"
            target.mkdir()
            argv = [self.tape.TAR, "-xf", str(archive), "-C", str(target)]
            restored["tar"] = (timed(argv), None)
            check_restored(target, self.data, "tar -xf")
            shutil.rmtree(target)

        def extract_argv(archive_name: str, target: Path, index: str) -> list[str]:
            argv = self.tape.tar_extract_argv(
                archive_name,
                str(target),
                BLOCKS,
                False,
                str(folder / index),
                None,
                self.features.extract_options(root=os.geteuid() == 0),
            )
            argv.insert(2, "--read-full-records")  # as the runner does
            return argv

        def tar_extract_options() -> None:
            target = folder / "restore-options"
            target.mkdir()
            argv = extract_argv(str(opts_archive), target, "x-options.index")
            restored["opts"] = (timed(argv, env=self.tape.tar_env()), None)
            check_restored(target, self.data, "tar -xf, tapesched's options")
            shutil.rmtree(target)

        def pump_extract() -> None:
            target = folder / "restore-pump"
            target.mkdir()
            argv = extract_argv("-", target, "x-pump.index")
            elapsed, report = run_child(
                "_pump-read", str(pump_drive), json.dumps(pieces["pump"]), "--", *argv
            )
            restored["pump"] = (elapsed, report)
            check_restored(target, self.data, "pump | tar -x")
            shutil.rmtree(target)

        def cat_extract() -> None:
            target = folder / "restore-cat"
            target.mkdir()
            argv = extract_argv("-", target, "x-cat.index")
            piece = pump_drive / "cartridge" / f"{pieces['pump'][0]['file_number']:06d}.tape"
            restored["cat"] = (timed_pipe(["cat", str(piece)], argv, self.tape.tar_env()), None)
            check_restored(target, self.data, "cat | tar -x")
            shutil.rmtree(target)

        recoveries: dict[str, Callable[[], None]] = {
            R_BIG: recovery("big"),
            R_TINY: recovery("tiny"),
            TAR_X: tar_extract,
            R_SPAN: recovery("span"),
        }
        for group in (backups, recoveries):
            labels = list(group)
            shift = number % len(labels)
            for label in labels[shift:] + labels[:shift]:
                group[label]()
        if self.diagnostics:
            # After the main variants, each archive removed once read: interleaved with
            # them (3 GiB more page cache alive in a round), they made the 1-volume backup
            # 2-3 s slower in most rounds on a VM, all of it in write()'s copy into new
            # page cache (see "Media streaming" in README.md).
            tar_create_options()
            tar_extract_options()
            opts_archive.unlink()
            pump_create()
            for step in (pump_extract, cat_extract)[:: 1 if number % 2 else -1]:
                step()
            shutil.rmtree(pump_drive)

        if timed_round:
            keys = {
                T_BIG: results["big"],
                T_TINY: results["tiny"],
                T_SPAN: results["span"],
                TAR_C: results["tar"],
                R_BIG: restored["big"],
                R_TINY: restored["tiny"],
                R_SPAN: restored["span"],
                TAR_X: restored["tar"],
            }
            if self.diagnostics:
                keys.update(
                    {
                        D_TAR_C: results["opts"],
                        D_PUMP_C: results["pump"],
                        D_TAR_X: restored["opts"],
                        D_PUMP_X: restored["pump"],
                        D_CAT_X: restored["cat"],
                    }
                )
            for key, (elapsed, extra) in keys.items():
                self.times.setdefault(key, []).append(elapsed)
                if extra is None:
                    continue
                if "duration" in extra:
                    self.durations.setdefault(key, []).append(float(extra["duration"]))
                if "spent" in extra:
                    spent = dict(extra["spent"], wall=extra["wall"])
                    self.spent.setdefault(key, []).append(spent)
        shutil.rmtree(folder)


# --------------------------------------------------------------------------- report


def med(values: list[float]) -> float:
    return statistics.median(values)


def report(bench: Bench, reps: int, quick: bool) -> None:
    files, size = bench.data_totals
    times = bench.times
    print(
        f"data: {files:,} files, {size:,} bytes ({mib(size)}); medians of {reps} rounds; "
        "warm page cache, sync before every timed command"
    )
    print(
        "archives: tapesched "
        f"{bench.archive_bytes.get('big', 0):,} bytes, plain tar "
        f"{bench.archive_bytes.get('tar', 0):,} bytes; volumes used: "
        f"{sorted(bench.volumes.get('big', set()))} (capacity {mib(bench.capacity['big'])}), "
        f"spanning {sorted(bench.volumes.get('span', set()))} "
        f"(capacity {mib(bench.capacity['span'])})"
    )
    print()
    verdicts = []
    for group, fixed, base, rows in (
        ("backup", T_TINY, TAR_C, ((T_BIG, "1 volume"), (T_SPAN, "spanning"))),
        ("recovery", R_TINY, TAR_X, ((R_BIG, "1 volume"), (R_SPAN, "spanning"))),
    ):
        target = TARGETS[group]
        table = []
        for key in (base, fixed):
            runner = f"{med(bench.durations[key]):.2f}" if key in bench.durations else ""
            note = "baseline" if key == base else "fixed cost of a run"
            speed = f"{size / MIB / med(times[key]):.0f}" if key == base else ""
            table.append(
                [
                    key,
                    f"{med(times[key]):.2f}",
                    spread(times[key]),
                    runner,
                    "",
                    "",
                    "",
                    "",
                    speed,
                    note,
                ]
            )
        for key, what in rows:
            cost = med(times[key]) - med(times[fixed])
            ratio = cost / med(times[base])
            paired = med(
                [
                    (run - tiny) / tar
                    for run, tiny, tar in zip(times[key], times[fixed], times[base], strict=True)
                ]
            )
            runner = (med(bench.durations[key]) - med(bench.durations[fixed])) / med(times[base])
            ok = "met" if ratio <= target else "MISSED"
            verdicts.append(f"{group} ({what}): {ratio:.2f} (target <= {target}): {ok}")
            table.append(
                [
                    key,
                    f"{med(times[key]):.2f}",
                    spread(times[key]),
                    f"{med(bench.durations[key]):.2f}",
                    f"{cost:.2f}",
                    f"{ratio:.2f}",
                    f"{paired:.2f}",
                    f"{runner:.2f}",
                    f"{size / MIB / cost:.0f}" if cost > 0 else "-",
                    f"target <= {target}: {ok}",
                ]
            )
        print(f"{group}:")
        b.print_table(
            [
                "variant",
                "median s",
                "min–max s",
                "runner s",
                "minus fixed",
                "/ tar",
                "/ tar paired",
                "/ tar runner",
                "MiB/s",
                "",
            ],
            table,
        )
        print()
    for line in (
        "'runner s': completed_at - started_at as the runner recorded it (no CLI start-up, no",
        "  0.2 s polling by --wait); 'minus fixed': the median minus the tiny run's median;",
        "'/ tar': 'minus fixed' over tar's median (the target); '/ tar paired': the median over",
        "  rounds of (run - tiny) / tar within each round; '/ tar runner': as '/ tar' from the",
        "  'runner s' medians; MiB/s: data bytes over the streaming cost (for tar: its time).",
    ):
        print(line)
    print()
    if quick:
        print("--quick: on this little data the fixed cost dominates; the ratios below mean little")
    for line in verdicts:
        print(line)
    if bench.diagnostics:
        print()
        diagnose(bench)


def spread(values: list[float]) -> str:
    return f"{min(values):.2f}–{max(values):.2f}"


def diagnose(bench: Bench) -> None:
    """Where the time goes: tar's options, the pump alone, and the runner around them."""
    times, size = bench.times, bench.data_totals[1]
    print("where the time goes (diagnostics, same rounds):")
    rows = []
    for key in (TAR_C, D_TAR_C, D_PUMP_C, TAR_X, D_TAR_X, D_CAT_X, D_PUMP_X):
        inside = f"{med([s['wall'] for s in bench.spent[key]]):.2f}" if key in bench.spent else ""
        rows.append(
            [
                key,
                f"{med(times[key]):.2f}",
                spread(times[key]),
                inside,
                f"{size / MIB / med(times[key]):.0f}",
            ]
        )
    b.print_table(["command", "median s", "min–max s", "pump wall s", "MiB/s"], rows)
    print(
        "'pump wall': inside the child, from tar's start to its exit (without the child "
        "interpreter's start-up)."
    )
    for key in (D_PUMP_C, D_PUMP_X):
        spent = bench.spent[key]
        parts = sorted({part for sample in spent for part in sample if part != "wall"})
        wall = med([s["wall"] for s in spent])
        known = {part: med([s.get(part, 0.0) for s in spent]) for part in parts}
        other = wall - sum(known.values())
        text = ", ".join(f"{part} {value:.2f}" for part, value in known.items())
        print(f"  {key}: wall {wall:.2f} s = {text}, other (loop) {other:.2f}")
    fixed_b, fixed_r = med(times[T_TINY]), med(times[R_TINY])
    pump_c = med([s["wall"] for s in bench.spent[D_PUMP_C]])
    pump_x = med([s["wall"] for s in bench.spent[D_PUMP_X]])
    backup_cost, recovery_cost = med(times[T_BIG]) - fixed_b, med(times[R_BIG]) - fixed_r

    def line(text: str, value: float, signed: bool = True) -> None:
        print(f"  {text:<52} {value:+6.2f}" if signed else f"  {text:<52} {value:6.2f}")

    print()
    print("backup, the streaming cost split (medians, s):")
    line("tar -cf + fsync", med(times[TAR_C]), False)
    line("+ tapesched's tar options (file + fsync)", med(times[D_TAR_C]) - med(times[TAR_C]))
    line("+ the pump instead of tar writing the file", pump_c - med(times[D_TAR_C]))
    line("+ the runner around it (backup - tiny - pump)", backup_cost - pump_c)
    line("= tapesched backup - tiny", backup_cost, False)
    print("recovery, the streaming cost split (medians, s):")
    line("tar -xf", med(times[TAR_X]), False)
    line("+ tapesched's tar options (from the file)", med(times[D_TAR_X]) - med(times[TAR_X]))
    line(
        "+ a pipe: cat PIECE | tar instead of tar reading it",
        med(times[D_CAT_X]) - med(times[D_TAR_X]),
    )
    line("+ the pump (SHA-256) instead of cat", pump_x - med(times[D_CAT_X]))
    line("+ the runner around it (recovery - tiny - pump)", recovery_cost - pump_x)
    line("= tapesched recovery - tiny", recovery_cost, False)


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=parse_size, default=None, help="data set size (1G)")
    parser.add_argument("--large-files", type=int, default=None, help="large files (4)")
    parser.add_argument("--small-files", type=int, default=None, help="small files (4000)")
    parser.add_argument("--reps", type=int, default=None, help="timed rounds (3)")
    parser.add_argument(
        "--warmup", type=int, default=None, help="untimed rounds first (1; 0 with --quick)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="32 MiB, 300 small files, 2 rounds, no warm-up round: a smoke run",
    )
    parser.add_argument(
        "--no-diagnostics",
        dest="diagnostics",
        action="store_false",
        help="leave out tar with tapesched's options and the pump alone",
    )
    parser.add_argument("--tmpdir", default=None, help="parent of the temporary folder")
    args = parser.parse_args()
    quick = args.quick
    size = args.size or (32 * MIB if quick else 1 << 30)
    large = args.large_files if args.large_files is not None else (2 if quick else 4)
    small = args.small_files if args.small_files is not None else (300 if quick else 4000)
    reps = args.reps or (2 if quick else 3)
    warmup = args.warmup if args.warmup is not None else (0 if quick else 1)
    if reps < 1 or warmup < 0 or large < 0 or small < 0 or size < MIB:
        parser.error("--reps >= 1, --warmup >= 0, file counts >= 0, --size >= 1M")
    b.require_tapesched()

    root = b.make_root(args.tmpdir)
    try:
        free = shutil.disk_usage(root).free
        need = 8 * size + (1 << 30)
        if free < need:
            sys.exit(
                f"{root}: {mib(free)} free, this run needs about {mib(need)} (8 x --size + 1 GiB)"
            )
        b.print_machine("Media streaming: tapesched backup and recovery beside GNU tar")
        print(f"temporary folder: {root} ({mib(free)} free)")
        available = (b.meminfo("MemAvailable") or 0) * 1024
        if available and available < 4 * size:
            print(
                f"WARNING: {mib(available)} of memory available: the data and the archives "
                "may not stay in the page cache"
            )
        started = time.perf_counter()
        data, tiny = root / "data", root / "tiny"
        files, written = make_data(data, size, large, small)
        tiny.mkdir()
        (tiny / "one.txt").write_bytes(os.urandom(4096))
        print(f"data set: {files:,} files ({large} large, {small} small), {written:,} bytes")
        bench = Bench(root, data, tiny, args.diagnostics)
        archive = bench.size_archive()
        print(
            f"sizing backup: archive {archive:,} bytes; volumes {mib(bench.capacity['big'])} "
            f"(1 volume), spanning {mib(bench.capacity['span'])}"
        )
        for number in range(warmup + reps):
            bench.round(number, timed_round=number >= warmup)
            what = "warm-up" if number < warmup else "timed"
            line = f"round {number + 1} ({what}) done at {time.perf_counter() - started:.0f} s"
            if number >= warmup:
                last = {key: values[-1] for key, values in bench.times.items()}
                line += (
                    f"; backup / spanning / tiny / tar {last[T_BIG]:.2f} / {last[T_SPAN]:.2f} / "
                    f"{last[T_TINY]:.2f} / {last[TAR_C]:.2f} s, recovery {last[R_BIG]:.2f} / "
                    f"{last[R_SPAN]:.2f} / {last[R_TINY]:.2f} / {last[TAR_X]:.2f} s"
                )
            print(line)
        print()
        report(bench, reps, quick)
        print(f"\ntotal time {time.perf_counter() - started:.0f} s")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    b.print_load_at_end()


if __name__ == "__main__":
    if len(sys.argv) > 4 and sys.argv[1] == "_pump-write" and sys.argv[4] == "--":
        child_pump_write(sys.argv[2], int(sys.argv[3]), sys.argv[5:])
    elif len(sys.argv) > 4 and sys.argv[1] == "_pump-read" and sys.argv[4] == "--":
        child_pump_read(sys.argv[2], sys.argv[3], sys.argv[5:])
    else:
        main()
