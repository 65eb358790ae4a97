"""One open catalog database: its connection, transactions, stored forms and errors.

SQLite through the standard library: WAL, `synchronous=NORMAL`, foreign keys,
a busy timeout, and `BEGIN IMMEDIATE` for write transactions, so that a writer
waits for the lock up front instead of failing half-way. Values are stored as
SQLAlchemy stores them (the schema comes from the SQLModel tables): instants as
naive UTC text with microseconds, JSON as text, booleans as 0/1.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sqlite3
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tapesched.errors import InvalidInput, StorageUnavailable, printable, undecodable
from tapesched.paths import StatePaths

SCHEMA_VERSION = 1
DEFAULT_BUSY_TIMEOUT = 10.0
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


def busy_timeout() -> float:
    """Seconds a writer waits for a locked database (TAPESCHED_BUSY_TIMEOUT)."""
    try:
        return max(0.0, float(os.environ.get("TAPESCHED_BUSY_TIMEOUT", DEFAULT_BUSY_TIMEOUT)))
    except ValueError:
        return DEFAULT_BUSY_TIMEOUT


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


def configure_sqlite(connection: Any) -> None:
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


# --------------------------------------------------------------------------- stored forms


def encode_time(value: datetime | None) -> str | None:
    """An aware instant as stored: naive UTC text with microseconds (sortable as text)."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    return value.astimezone(UTC).strftime(_TIME_FORMAT)


def decode_time(value: Any) -> datetime | None:
    """A stored instant back as an aware UTC datetime."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def encode_json(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def decode_json(value: Any) -> Any:
    if value is None or not isinstance(value, str | bytes):
        return value
    return json.loads(value)


def decode_bool(value: Any) -> bool:
    return bool(value)


class Table:
    """How the rows of one table are stored: its columns (a record's fields, in order) and
    which of them hold instants, JSON or flags."""

    def __init__(
        self,
        name: str,
        record: type,
        times: frozenset[str] = frozenset(),
        json: frozenset[str] = frozenset(),
        flags: frozenset[str] = frozenset(),
    ) -> None:
        self.name = name
        self.record = record
        self.columns = tuple(field.name for field in fields(record))
        self.select = f"SELECT {', '.join(self.columns)} FROM {name}"
        self._decoders = {
            **{column: decode_time for column in times},
            **{column: decode_json for column in json},
            **{column: decode_bool for column in flags},
        }
        self._encoders = {
            **{column: encode_time for column in times},
            **{column: encode_json for column in json},
            **{column: bool for column in flags},
        }

    def decode(self, row: Sequence[Any]) -> Any:
        """A row of `select` as a record."""
        values = dict(zip(self.columns, row, strict=True))
        for column, decoder in self._decoders.items():
            values[column] = decoder(values[column])
        return self.record(**values)

    def encode(self, values: dict[str, Any]) -> dict[str, Any]:
        """Column values as stored; raise KeyError for a name that is not a column."""
        stored = {}
        for column, value in values.items():
            if column not in self.columns:
                raise KeyError(column)
            encoder = self._encoders.get(column)
            stored[column] = encoder(value) if encoder and value is not None else value
        return stored

    def insert(self, columns: Sequence[str]) -> str:
        """INSERT of the given columns, as named parameters."""
        marks = ", ".join(f":{column}" for column in columns)
        return f"INSERT INTO {self.name} ({', '.join(columns)}) VALUES ({marks})"


# --------------------------------------------------------------------------- the database

SQLITE_INTEGER_MAX = 2**63 - 1


def _storable(params: Any) -> Any:
    """Parameters with text that is not UTF-8 escaped (\\xNN). The doors refuse such text
    in what an operator gives; this keeps what tapesched records about the world (a tar
    message naming a file whose name is not UTF-8, say) from failing the write."""
    if isinstance(params, dict):
        return {key: _storable(value) for key, value in params.items()}
    if isinstance(params, list | tuple):
        return type(params)(_storable(value) for value in params)
    if isinstance(params, str) and undecodable(params):
        return "".join(printable(char) if "\ud800" <= char <= "\udfff" else char for char in params)
    return params


def _too_large() -> InvalidInput:
    """A number past SQLite's integers: the rules bound what a task holds, so this is a
    number given to a query (an offset, an id) beyond any row."""
    return InvalidInput(
        f"a number is too large; the database holds whole numbers up to {SQLITE_INTEGER_MAX}"
    )


class Database:
    """An open catalog: plain SQL over one connection.

    Use `read()` and `write()` for transactions; a transaction opened inside a
    write transaction joins it. Database errors leave as StorageUnavailable
    (exit 5) naming the database, except IntegrityError, which callers turn
    into what it means to them (a name taken).
    """

    def __init__(self, connection: sqlite3.Connection, location: Path) -> None:
        self.connection = connection
        self.location = location
        self._mode: str | None = None

    @contextmanager
    def read(self) -> Iterator[Database]:
        """A read transaction: one consistent view of the catalog."""
        with self._transaction("read"):
            yield self

    @contextmanager
    def write(self) -> Iterator[Database]:
        """One short write transaction (BEGIN IMMEDIATE), committed at the end."""
        with self._transaction("write"):
            yield self

    @contextmanager
    def _transaction(self, mode: str) -> Iterator[None]:
        if self._mode == "write" or (self._mode == "read" and mode == "read"):
            yield  # joins the transaction around it
            return
        if self._mode is not None:
            raise RuntimeError("a write transaction cannot be opened inside a read transaction")
        self.execute("BEGIN IMMEDIATE" if mode == "write" else "BEGIN")
        self._mode = mode
        try:
            yield
            self.execute("COMMIT")
        except BaseException:
            # Whatever failed (the work, or COMMIT itself: a lock held past the busy
            # timeout), the transaction is closed, so that a retry can begin a new one.
            if self.connection.in_transaction:
                try:
                    self.connection.execute("ROLLBACK")
                except sqlite3.Error:
                    pass  # the connection's own failure is what is being raised
            raise
        finally:
            self._mode = None

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Cursor:
        """Run one statement; raise StorageUnavailable for a database failure."""
        try:
            try:
                return self.connection.execute(sql, params)
            except UnicodeEncodeError:
                return self.connection.execute(sql, _storable(params))
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as error:
            raise StorageUnavailable(describe_storage_error(error, self.location)) from None
        except OverflowError:
            raise _too_large() from None

    def execute_many(self, sql: str, rows: list[dict[str, Any]]) -> None:
        try:
            try:
                self.connection.executemany(sql, rows)
            except UnicodeEncodeError:
                self.connection.executemany(sql, [_storable(row) for row in rows])
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as error:
            raise StorageUnavailable(describe_storage_error(error, self.location)) from None
        except OverflowError:
            raise _too_large() from None

    def rows(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[tuple]:
        cursor = self.execute(sql, params)
        try:
            return cursor.fetchall()
        except sqlite3.Error as error:
            raise StorageUnavailable(describe_storage_error(error, self.location)) from None

    def first(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> tuple | None:
        found = self.rows(sql, params)
        return found[0] if found else None

    def scalar(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        row = self.first(sql, params)
        return row[0] if row else None

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def connect(path: Path) -> Database:
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
        configure_sqlite(connection)
    except sqlite3.Error as error:
        raise StorageUnavailable(describe_storage_error(error, path)) from None
    return Database(connection, path)


def _uri(path: Path) -> str:
    """An SQLite URI that opens the file at `path` and never creates one (mode=rw)."""
    escaped = os.path.abspath(path).replace("%", "%25").replace("?", "%3f").replace("#", "%23")
    return f"file://{escaped}?mode=rw"


def open_database(paths: StatePaths, create: bool = True) -> Database:
    """Open the catalog of a state folder, checked at SCHEMA_VERSION.

    With `create`, the state folders are made (0700) and a missing database is created,
    whole: its schema is written in a temporary file beside it, which is then linked into
    place only if there is still no database there, so no process ever sees a half-made
    one (eight ticks starting at once on a new folder all open the same complete file).
    Without `create`, nothing is made: a missing database is refused with a line naming
    where it was looked for and saying to run `tapesched init` (exit 5). A file that is
    empty, not SQLite, or SQLite without tapesched's schema is refused as corrupt (exit
    5) and left as it is, never initialised over.
    """
    if create:
        paths.ensure()
        if _stat(paths.db) is None:
            _create(paths.db)
    elif _stat(paths.db) is None:
        raise StorageUnavailable(
            f"database {paths.db} does not exist; run 'tapesched init' to create it "
            "(or give --db / TAPESCHED_DB)"
        )
    found = _stat(paths.db)
    if found is not None and not stat.S_ISREG(found.st_mode):
        raise StorageUnavailable(f"database {paths.db} is not a file")
    if found is not None and found.st_size == 0:
        raise StorageUnavailable(
            f"database {paths.db} is empty (0 bytes): corrupt or not a tapesched database; "
            "move it away, then run 'tapesched init'"
        )
    database = connect(paths.db)
    try:
        version = schema_version(database)
        if version is None:
            raise StorageUnavailable(
                f"database {paths.db} is corrupt or not a tapesched database "
                "(it has no tapesched schema)"
            )
        if version != str(SCHEMA_VERSION):
            raise StorageUnavailable(
                f"database {paths.db} has schema version {version}; this tapesched "
                f"knows version {SCHEMA_VERSION}"
            )
    except BaseException:
        database.close()
        raise
    restrict_files(paths.db)
    return database


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


def _create(db: Path) -> None:
    """Create the database at `db` whole, unless another process does so first."""
    temporary = db.with_name(f".{db.name}.{os.getpid()}-{os.urandom(4).hex()}.new")
    try:
        _create_schema(temporary, db)
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


_SIDE_FILES = ("-journal", "-wal", "-shm")


def _create_schema(path: Path, shown: Path) -> None:
    from tapesched.store import schema  # SQLAlchemy: only when a database is new

    schema.create(path, shown)


def schema_version(database: Database) -> str | None:
    """The schema version recorded in the meta table; None if there is no schema yet."""
    try:
        row = database.connection.execute(
            "SELECT value FROM meta WHERE key = 'schema_version'"
        ).fetchone()
    except sqlite3.OperationalError as error:
        if "no such table" in str(error):
            return None
        raise StorageUnavailable(describe_storage_error(error, database.location)) from None
    except sqlite3.Error as error:
        raise StorageUnavailable(describe_storage_error(error, database.location)) from None
    return row[0] if row else None


# --------------------------------------------------------------------------- meta


def get_meta(db: Database, key: str) -> str | None:
    return db.scalar("SELECT value FROM meta WHERE key = :key", {"key": key})


def set_meta(db: Database, key: str, value: str) -> None:
    db.execute(
        "INSERT INTO meta (key, value) VALUES (:key, :value) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        {"key": key, "value": value},
    )


def last_tick(db: Database) -> datetime | None:
    """When the last tick wrote its heartbeat."""
    value = get_meta(db, "last_tick_time")
    return datetime.fromisoformat(value) if value else None


def write_heartbeat(db: Database, now: datetime) -> None:
    set_meta(db, "last_tick_time", now.isoformat())


def quick_check(db: Database) -> str:
    """The database's own integrity check: 'ok', or what is wrong."""
    return "; ".join(str(row[0]) for row in db.rows("PRAGMA quick_check"))
