"""The embedded catalog: one SQLite file, through the standard library's sqlite3.

WAL, `synchronous=NORMAL`, foreign keys, a busy timeout, and `BEGIN IMMEDIATE`
for write transactions, so that a writer waits for the lock up front instead
of failing half-way. A new database is created whole: its schema is written in
a temporary file beside it (by tapesched.store.schema, through Alembic), which
is then linked into place only if there is still no database there.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import stat
from pathlib import Path
from typing import Any

from tapesched.errors import StorageUnavailable

DEFAULT_BUSY_TIMEOUT = 10.0


def busy_timeout() -> float:
    """Seconds a writer waits for a locked database (TAPESCHED_BUSY_TIMEOUT)."""
    try:
        return max(0.0, float(os.environ.get("TAPESCHED_BUSY_TIMEOUT", DEFAULT_BUSY_TIMEOUT)))
    except ValueError:
        return DEFAULT_BUSY_TIMEOUT


class Driver:
    """What the generic Database needs to know about SQLite."""

    kind = "sqlite"
    Error = sqlite3.Error
    IntegrityError = sqlite3.IntegrityError

    def __init__(self, path: Path) -> None:
        self.path = path

    def begin(self, mode: str) -> str:
        return "BEGIN IMMEDIATE" if mode == "write" else "BEGIN"

    def translate(self, sql: str) -> str:
        return sql

    def prepare(self, params: Any) -> Any:
        return params

    def in_transaction(self, connection: sqlite3.Connection) -> bool:
        return connection.in_transaction

    def aborted(self, connection: sqlite3.Connection) -> bool:
        """A failed statement never ends an SQLite transaction (it undoes only itself)."""
        return False

    def describe(self, error: BaseException) -> str:
        return describe_storage_error(error, self.path)

    def too_large(self, error: BaseException) -> bool:
        return isinstance(error, OverflowError)


def describe_storage_error(error: BaseException, db: Path | str) -> str:
    """Given a database error, return one line for an operator."""
    text = str(getattr(error, "orig", error)) or type(error).__name__
    lowered = text.lower()
    if "locked" in lowered or "busy" in lowered:
        return f"database {db} is locked by another process (waited {busy_timeout():g}s)"
    if "not a database" in lowered or "malformed" in lowered or "corrupt" in lowered:
        return f"database {db} is corrupt or not a tapesched database ({text})"
    if "readonly" in lowered or "read-only" in lowered or "unable to open" in lowered:
        return f"database {db} cannot be written ({text})"
    return f"database {db}: {text}"


def configure(connection: Any) -> None:
    """Per-connection settings; BEGIN is issued by the transactions themselves."""
    connection.isolation_level = None
    cursor = connection.cursor()
    try:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except sqlite3.DatabaseError:
            pass  # a read-only or corrupt file surfaces at the first query, with its reason
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def restrict_files(db: Path) -> None:
    """Make the database and its WAL files 0600 (a umask may have made them readable)."""
    for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        try:
            if path.exists() and path.stat().st_mode & 0o077 and path.owner():
                path.chmod(0o600)
        except (OSError, KeyError):
            pass


def connect(path: Path) -> tuple[sqlite3.Connection, Driver]:
    """Open the SQLite file at `path` with tapesched's settings. It must exist: the file
    is opened read-write (read-only where the system refuses writing), never created."""
    try:
        connection = sqlite3.connect(
            _uri(path),
            uri=True,
            timeout=busy_timeout(),
            isolation_level=None,
            check_same_thread=False,
        )
        configure(connection)
    except sqlite3.Error as error:
        raise StorageUnavailable(describe_storage_error(error, path)) from None
    return connection, Driver(path)


def _uri(path: Path) -> str:
    """An SQLite URI that opens the file at `path` and never creates one (mode=rw)."""
    escaped = os.path.abspath(path).replace("%", "%25").replace("?", "%3f").replace("#", "%23")
    return f"file://{escaped}?mode=rw"


def prepare_file(db: Path, create: bool) -> None:
    """Before opening the file at `db`: create it whole if it is missing and `create`;
    refuse (StorageUnavailable, exit 5) a missing one without `create`, a folder, or an
    empty file, naming it and what to do."""
    if create and _stat(db) is None:
        _create(db)
    found = _stat(db)
    if found is None:
        raise StorageUnavailable(
            f"database {db} does not exist; run 'tapesched init' to create it "
            "(or give --db / TAPESCHED_DB)"
        )
    if not stat.S_ISREG(found.st_mode):
        raise StorageUnavailable(f"database {db} is not a file")
    if found.st_size == 0:
        raise StorageUnavailable(
            f"database {db} is empty (0 bytes): corrupt or not a tapesched database; "
            "move it away, then run 'tapesched init'"
        )


def exists(db: Path) -> bool:
    return _stat(db) is not None


def _stat(path: Path) -> os.stat_result | None:
    """The file's status, None if there is none; a folder that cannot be searched is
    StorageUnavailable naming the database."""
    try:
        return os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as error:
        raise StorageUnavailable(f"database {path}: {error.strerror}") from None


# Where a file system has no hard links, a new database is renamed into place instead.
_NO_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.ENOSYS}
_SIDE_FILES = ("-journal", "-wal", "-shm")


def _create(db: Path) -> None:
    """Create the database at `db` whole, unless another process does so first."""
    from tapesched.store import schema  # Alembic and SQLAlchemy: only when a database is new

    temporary = db.with_name(f".{db.name}.{os.getpid()}-{os.urandom(4).hex()}.new")
    try:
        schema.create_sqlite(temporary, db)
        os.chmod(temporary, 0o600)
        try:
            os.link(temporary, db)  # atomic, and never replaces a database made meanwhile
        except FileExistsError:
            pass  # another process made it first; it is just as complete
        except OSError as error:
            if error.errno not in _NO_LINKS:
                raise
            if _stat(db) is None:
                os.rename(temporary, db)
    except OSError as error:
        raise StorageUnavailable(
            f"database {db}: cannot create it ({error.strerror or error})"
        ) from None
    finally:
        for leftover in (temporary, *(Path(f"{temporary}{end}") for end in _SIDE_FILES)):
            with contextlib.suppress(OSError):
                leftover.unlink()


def backup_copy(db: Path, suffix: str) -> Path:
    """Copy the database (consistently, through SQLite's backup API) to a file beside it
    named <db>.<suffix>; return its path."""
    target = db.with_name(f"{db.name}.{suffix}")
    source = sqlite3.connect(_uri(db), uri=True, timeout=busy_timeout())
    try:
        copy = sqlite3.connect(str(target))
        try:
            source.backup(copy)
        finally:
            copy.close()
    except sqlite3.Error as error:
        raise StorageUnavailable(describe_storage_error(error, db)) from None
    finally:
        source.close()
    os.chmod(target, 0o600)
    return target
