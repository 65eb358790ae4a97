"""Shared helpers for the action tests: the real CLI, an in-process harness, trees.

Imported explicitly (`import conftest_actions as support`): from end_to_end
tests directly, from integration tests after adding this folder to sys.path.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import os
import subprocess
import sys
import tarfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tapesched import tasks
from tapesched.actions import backup as backup_action
from tapesched.actions import validate_action
from tapesched.errors import ActionFailed, Cancelled, TimedOut
from tapesched.job import JobContext
from tapesched.paths import StatePaths
from tapesched.schedule_config import Schedule
from tapesched.spec import TaskSpec
from tapesched.store import executions
from tapesched.store import tasks as task_rows
from tapesched.store.db import open_database, set_meta
from tapesched.store.executions import ExecutionRecord
from tapesched.store.tasks import TaskRecord

# Names that break shells, quoting and encodings: spaces, ;, $( ), quotes, non-ASCII,
# a leading dash, a newline.
TRICKY_NAMES = [
    "plain.txt",
    "with space.txt",
    "semi;colon.txt",
    "$(touch injected).txt",
    'quote\'s "double".txt',
    "grüße-日本語.txt",
    "-leading-dash.txt",
    "new\nline.txt",
]


# --------------------------------------------------------------------------- CLI


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("TAPESCHED_")}
    env.update({"TAPESCHED_HOME": str(home), "NO_COLOR": "1", **extra})
    return env


def cli(home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run `python -m tapesched ARGS` against the state folder `home`."""
    return subprocess.run(
        [sys.executable, "-m", "tapesched", *args],
        env=env or cli_env(home),
        capture_output=True,
        text=True,
        timeout=120,
    )


def add(home: Path, name: str, action: str, config: dict[str, Any], *schedule: str) -> str:
    """Add a task through the CLI (every day unless a schedule is given); return stderr."""
    done = cli(
        home,
        "add",
        name,
        "--action",
        action,
        "--action-config",
        json.dumps(config),
        *(schedule or ("--every", "1d")),
    )
    assert done.returncode == 0, done.stderr
    return done.stderr


def run(home: Path, name: str) -> tuple[int, dict[str, Any]]:
    """`tapesched run NAME --wait --json`: return the exit code and the execution."""
    done = cli(home, "run", name, "--wait", "--json")
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def logs(home: Path, name: str) -> list[dict[str, Any]]:
    done = cli(home, "logs", name, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["logs"]


# --------------------------------------------------------------------------- trees


def write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)


def make_tree(root: Path) -> None:
    """A source tree with tricky names, binary data, an empty folder and links."""
    for index, name in enumerate(TRICKY_NAMES):
        write(root / name, f"text file {index}: {name}\n")
        write(root / "deep" / "sub dir" / name, f"nested {index}\n" * (index + 1))
    write(root / "binary.bin", bytes(range(256)) * 64 + os.urandom(4096))
    write(root / "zeros.bin", b"\x00" * 100_000)
    (root / "empty dir").mkdir()
    (root / "link to plain").symlink_to("plain.txt")
    (root / "dangling link").symlink_to("/nonexistent/target")


def tree_state(root: Path) -> dict[str, str]:
    """Every path under root (relative) and what it is: a folder, a link and its
    target, or the SHA-256 of a file's bytes."""
    state: dict[str, str] = {}
    for folder, folders, files in os.walk(root):
        for name in folders + files:
            path = Path(folder) / name
            relative = str(path.relative_to(root))
            if path.is_symlink():
                state[relative] = "link:" + os.readlink(path)
            elif path.is_dir():
                state[relative] = "dir"
            else:
                state[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return state


def restored(target: Path, source: Path) -> Path:
    """Where a source folder lands inside a restore target (sources are stored relative
    to /)."""
    return target / str(source).lstrip("/")


# --------------------------------------------------------------------------- in process


class Harness:
    """Runs actions in this process against a real state folder and database, with a
    clock the test sets, and records outcomes the way the runner does."""

    def __init__(self, home: Path, db: Any = None) -> None:
        """`db`: the catalog (a path or a DatabaseURL); the state folder's SQLite file if
        None."""
        self.paths = StatePaths(home=home, db=db if db is not None else home / "tapesched.db")
        self.db = open_database(self.paths)
        self.clock = datetime.now(UTC)
        self.timeout: float | None = None

    def now(self) -> datetime:
        return self.clock

    def add(
        self,
        name: str,
        action_type: str,
        config: dict[str, Any],
        schedule: tuple[str, dict] = ("interval", {"interval": 1, "unit": "days"}),
        enabled: bool = True,
        **options: Any,
    ) -> TaskRecord:
        """Add a task, checked as `add` checks it, due in a day (options: task fields)."""
        spec = TaskSpec(
            task_name=name,
            schedule=Schedule(schedule[0], schedule[1], "UTC"),
            action_type=action_type,
            action_config=validate_action(action_type, config)[0],
            enabled=enabled,
            **options,
        )
        row = tasks.new_row(spec, self.clock)
        row["next_run_time"] = self.clock + timedelta(days=1)
        with self.db.write():
            return task_rows.get(self.db, task_rows.insert(self.db, row))

    def context(self, task: TaskRecord, execution_id: str, output: Any) -> JobContext:
        return JobContext(
            execution_id=execution_id,
            task=task,
            paths=self.paths,
            db=self.db,
            output=output,
            now=self.now,
            timeout=self.timeout,
            grace=1.0,
        )

    def insert_execution(self, **values: Any) -> str:
        """Insert an execution row (an id is made if none is given); return its id."""
        values.setdefault("execution_id", str(uuid.uuid4()))
        with self.db.write():
            executions.insert(self.db, values)
        return values["execution_id"]

    def execution(self, execution_id: str) -> ExecutionRecord | None:
        with self.db.read():
            return executions.get(self.db, execution_id)

    def execution_ids(self) -> set[str]:
        with self.db.read():
            return {row[0] for row in self.db.rows("SELECT execution_id FROM executions")}

    def run(self, name: str, wrap: Any = None) -> ExecutionRecord:
        """Run a task's action now (at self.clock); return the recorded execution.

        `wrap(context)` may adjust the context before the action runs."""
        execution_id = str(uuid.uuid4())
        with self.db.read():
            task = task_rows.find(self.db, name)
        log_path = self.paths.output_log(task.task_name, execution_id)
        self.insert_execution(
            execution_id=execution_id,
            task_id=task.id,
            trigger="manual",
            created_at=self.clock,
            started_at=self.clock,
            status="running",
            device=task.device,
            log_path=str(log_path),
        )
        log_path.parent.mkdir(parents=True, exist_ok=True)
        module = importlib.import_module(f"tapesched.actions.{task.action_type}")
        status, error, result = "failed", None, None
        with open(log_path, "w", encoding="utf-8") as output:
            context = self.context(task, execution_id, output)
            if wrap is not None:
                wrap(context)
            try:
                result = module.run(dict(task.action_config), context)
                status = "success"
            except ActionFailed as failure:
                error, result = failure.message, failure.result
            except Cancelled:
                status, error = "cancelled", "cancelled"
            except TimedOut:
                error = "timed out"
            except Exception as crash:  # noqa: BLE001 - recorded like the runner does
                status, error = "failed", f"{type(crash).__name__}: {crash}"
        with self.db.write():
            executions.finish(self.db, execution_id, status, self.clock, error, result)
        return self.execution(execution_id)

    def output(self, execution: ExecutionRecord) -> str:
        return Path(execution.log_path).read_text(encoding="utf-8")

    def set_meta(self, key: str, value: str) -> None:
        with self.db.write():
            set_meta(self.db, key, value)

    def tick_at(self, when: datetime) -> None:
        """Record this host's tick heartbeat at `when`, as a tick does."""
        from tapesched.hosts import this_host
        from tapesched.store.hosts import heartbeat

        with self.db.write():
            heartbeat(self.db, this_host(), when)


# --------------------------------------------------------------------------- crafted archives


def craft_archive(
    path: Path, members: list[tuple[str, str, Any]], fmt: int = tarfile.GNU_FORMAT
) -> Path:
    """Write a tar archive member by member, as an attacker would, with Python's tarfile
    (nothing sanitised): (kind, name, payload), kind 'file' (payload: bytes), 'dir',
    'symlink' or 'hardlink' (payload: the link target), 'dumpdir' (payload: GNU
    incremental directory records, b"Yname\\0Dsub\\0Rold\\0Tnew\\0"), 'fifo'."""
    with tarfile.open(path, "w", format=fmt) as archive:
        for kind, name, payload in members:
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000
            info.mode = 0o755 if kind in ("dir", "dumpdir") else 0o644
            data = None
            if kind == "file":
                data = payload if isinstance(payload, bytes) else str(payload).encode()
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
            elif kind == "dumpdir":
                info.type, data = b"D", payload
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, payload
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, payload
            elif kind == "fifo":
                info.type = tarfile.FIFOTYPE
            else:
                raise ValueError(kind)
            if data is not None:
                info.size = len(data)
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def plant_chain(harness: Harness, backup_task: str, archives: list[Path]) -> list[str]:
    """As someone with write access to the tape and the database would: put archives on
    the task's virtual tape as a full and its incrementals, with correct .sha256 sidecars
    and successful execution rows of the task; return the execution ids."""
    with harness.db.read():
        task = task_rows.find(harness.db, backup_task)
    config = dict(task.action_config)
    device = Path(config["device"])
    device.mkdir(mode=0o700, parents=True, exist_ok=True)
    chain = backup_action.task_chain(config)
    ids = []
    for level, source in enumerate(archives):
        number = max([0, *(n for n, _ in _vtape_numbers(device))]) + 1
        final = device / f"{number:06d}.tar"
        final.write_bytes(source.read_bytes())
        digest = hashlib.sha256(final.read_bytes()).hexdigest()
        (device / f"{final.name}.sha256").write_text(f"{digest}  {final.name}\n")
        harness.clock += timedelta(seconds=1)
        result = {
            "level": level,
            "ran_as": "full" if level == 0 else "incremental",
            "chain_id": chain,
            "device": str(device),
            "backend": "virtual_tape",
            "tape_file_number": number,
            "archive_path": str(final),
            "sha256": digest,
            "compression": False,
            "block_size": 20,
            "source_paths": backup_action.normalize_sources(config["source_paths"]),
        }
        ids.append(
            harness.insert_execution(
                task_id=task.id,
                trigger="manual",
                created_at=harness.clock,
                started_at=harness.clock,
                completed_at=harness.clock,
                status="success",
                device=str(device),
                result=result,
            )
        )
    return ids


def _vtape_numbers(device: Path) -> list[tuple[int, str]]:
    found = []
    for name in os.listdir(device):
        head = name.split(".", 1)[0]
        if head.isdigit():
            found.append((int(head), name))
    return found


def file_state(root: Path, skip: tuple[Path, ...] = ()) -> dict[str, tuple]:
    """Everything about every path under root that a write could change (kind, mode,
    owner, link count, mtime in ns, content hash or link target), links never followed;
    `skip` subtrees are left out."""
    state: dict[str, tuple] = {}
    for folder, folders, files in os.walk(root):
        folders[:] = [name for name in folders if Path(folder, name) not in skip]
        for name in folders + files:
            path = Path(folder, name)
            if path in skip:
                continue
            info = path.lstat()
            if path.is_symlink():
                what: str = "link:" + os.readlink(path)
            elif path.is_dir():
                what = "dir"
            elif path.is_file():
                what = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                what = "other"
            state[str(path.relative_to(root))] = (
                what,
                info.st_mode,
                info.st_uid,
                info.st_nlink,
                info.st_mtime_ns,
            )
    return state
