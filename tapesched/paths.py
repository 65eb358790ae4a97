"""Where tapesched keeps its state (SPEC §6). Cheap: no heavy imports here."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from tapesched.dburl import DatabaseURL, is_url, parse
from tapesched.errors import InvalidInput, StorageUnavailable, printable, undecodable

DB_NAME = "tapesched.db"


def default_home(environ: dict[str, str] | None = None, euid: int | None = None) -> Path:
    """Given the environment and effective uid, return the default state folder.

    TAPESCHED_HOME wins; root uses /var/lib/tapesched; anyone else
    $XDG_STATE_HOME/tapesched or ~/.local/state/tapesched. Never /tmp.
    """
    env = os.environ if environ is None else environ
    if env.get("TAPESCHED_HOME"):
        return Path(env["TAPESCHED_HOME"])
    uid = os.geteuid() if euid is None else euid
    if uid == 0:
        return Path("/var/lib/tapesched")
    xdg = env.get("XDG_STATE_HOME")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "tapesched"
    return Path(env.get("HOME") or os.path.expanduser("~")) / ".local" / "state" / "tapesched"


@dataclass(frozen=True)
class StatePaths:
    """The state folder and what it holds, and the catalog: an SQLite file (a Path) or
    a PostgreSQL database shared by several hosts (a DatabaseURL)."""

    home: Path
    db: Path | DatabaseURL

    @property
    def shared(self) -> bool:
        """Whether the catalog is a PostgreSQL database (several hosts may share it)."""
        return isinstance(self.db, DatabaseURL)

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def locks(self) -> Path:
        return self.home / "locks"

    @property
    def snapshots(self) -> Path:
        return self.home / "snapshots"

    @property
    def tick_lock(self) -> Path:
        return self.locks / "tick.lock"

    def exec_lock(self, execution_id: str) -> Path:
        # An id is a UUID; one given to the hidden runner by hand stays inside locks/ too.
        return self.locks / f"exec-{safe_name(execution_id)}.lock"

    def device_lock(self, device: str) -> Path:
        return self.locks / f"device-{safe_name(device)}.lock"

    def output_log(self, task_name: str, execution_id: str) -> Path:
        return self.logs / safe_name(task_name) / f"{execution_id}.log"

    @property
    def results(self) -> Path:
        """Where a run's result is written, as JSON, for its after hook (made when needed)."""
        return self.home / "results"

    def result_file(self, execution_id: str) -> Path:
        return self.results / f"{safe_name(execution_id)}.json"

    def ensure(self) -> None:
        """Create the state folder and its subfolders (mode 0700) and check that each can be
        written; raise StorageUnavailable naming the folder that cannot (a file where a
        folder should be, no permission, a read-only file system), before anything is
        claimed or written there."""
        folders = [self.home, self.logs, self.locks, self.snapshots]
        if isinstance(self.db, Path):
            folders.append(self.db.parent)
        for folder in folders:
            try:
                if not folder.is_dir():
                    if os.path.lexists(folder):
                        raise StorageUnavailable(f"{folder}: not a folder; expected one")
                    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            except OSError as error:
                where = error.filename or folder
                raise StorageUnavailable(
                    f"{where}: cannot create the folder ({error.strerror or error})"
                ) from None
            if not os.access(folder, os.W_OK | os.X_OK):
                raise StorageUnavailable(f"{folder}: folder cannot be written (permission denied)")


def resolve(db: str | None = None, environ: dict[str, str] | None = None) -> StatePaths:
    """Given --db (or None), return the state paths.

    The database is --db, else TAPESCHED_DB, else <home>/tapesched.db: a path (SQLite)
    or a postgresql+psycopg:// URL. The state folder is TAPESCHED_HOME when set; else,
    when an SQLite file was named explicitly, the folder that holds it (so logs and
    locks live beside it); else the default home (each host keeps its own).
    """
    env = os.environ if environ is None else environ
    named = db or env.get("TAPESCHED_DB")
    url = parse(named) if named and is_url(named) else None
    if env.get("TAPESCHED_HOME"):
        home = Path(env["TAPESCHED_HOME"]).absolute()
    elif named and url is None:
        home = Path(named).absolute().parent
    else:
        home = default_home(env).absolute()
    db_path: Path | DatabaseURL
    if url is not None:
        db_path = url
    else:
        db_path = Path(named).absolute() if named else home / DB_NAME
    for what, path in (("state folder", str(home)), ("database", str(db_path))):
        if undecodable(path):
            raise InvalidInput(
                f"{what} {printable(path)}: the path is not valid UTF-8; "
                "give a UTF-8 path (TAPESCHED_HOME, --db or TAPESCHED_DB)"
            )
    return StatePaths(home=home, db=db_path)


def safe_name(text: str) -> str:
    """Given any text, return a string safe as one path component."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "_"
    return cleaned[:120]
