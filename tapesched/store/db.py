"""One open catalog database: its connection, transactions, stored forms and errors.

The catalog is an SQLite file (tapesched.store.sqlite, the embedded default) or
a PostgreSQL database shared by several hosts (tapesched.store.postgres); the
queries are the same plain SQL with `:name` parameters on both. Values are
stored as SQLAlchemy stores them (the schema comes from the Alembic migrations,
which follow the SQLModel tables): instants as naive UTC (text with
microseconds on SQLite), JSON, booleans. The schema's revision is checked at
every open without importing Alembic: a database behind or ahead of this
tapesched is refused with the command to run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tapesched.dburl import DatabaseURL
from tapesched.errors import InvalidInput, StorageUnavailable, printable, undecodable
from tapesched.paths import StatePaths

# The Alembic revision this tapesched's queries are written for (tapesched/migrations).
SCHEMA_REVISION = "0004"
# Every revision, oldest first: a database at an earlier one is upgraded by `db upgrade`.
REVISIONS = ("0001", "0002", "0003", "0004")
# Kept in the meta table too, for a reader that predates Alembic: the revision's number
# (2 from revision 0002 on, 3 from 0003, 4 from 0004). tapesched 0.1.0 itself never
# compares it: see the README on upgrading.
SCHEMA_VERSION = 4
LEGACY_SCHEMA_VERSION = "1"  # what tapesched 0.1.0 recorded: revision 0001
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


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

INTEGER_MAX = 2**63 - 1


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
    """A number past the database's integers: the rules bound what a task holds, so this
    is a number given to a query (an offset, an id) beyond any row."""
    return InvalidInput(
        f"a number is too large; the database holds whole numbers up to {INTEGER_MAX}"
    )


class Duplicate(Exception):
    """A row would break a unique constraint (a task name taken); callers say what it
    means to them."""


class Database:
    """An open catalog: plain SQL over one connection, SQLite or PostgreSQL.

    Use `read()` and `write()` for transactions; a transaction opened inside a
    write transaction joins it. Database errors leave as StorageUnavailable
    (exit 5) naming the database, except a broken unique constraint, which
    leaves as Duplicate for callers to turn into what it means to them.
    """

    def __init__(self, connection: Any, driver: Any, location: Path | DatabaseURL) -> None:
        self.connection = connection
        self.driver = driver
        self.location = location
        self.kind: str = driver.kind  # "sqlite" or "postgresql"
        self._mode: str | None = None

    @property
    def shared(self) -> bool:
        """Whether several hosts may share this catalog (PostgreSQL)."""
        return self.kind == "postgresql"

    @contextmanager
    def read(self) -> Iterator[Database]:
        """A read transaction: one consistent view of the catalog."""
        with self._transaction("read"):
            yield self

    @contextmanager
    def write(self) -> Iterator[Database]:
        """One short write transaction, committed at the end."""
        with self._transaction("write"):
            yield self

    @contextmanager
    def _transaction(self, mode: str) -> Iterator[None]:
        if self._mode == "write" or (self._mode == "read" and mode == "read"):
            yield  # joins the transaction around it
            return
        if self._mode is not None:
            raise RuntimeError("a write transaction cannot be opened inside a read transaction")
        self.execute(self.driver.begin(mode))
        self._mode = mode
        try:
            yield
            if self.driver.aborted(self.connection):
                # PostgreSQL ends a transaction at its first failed statement and answers a
                # COMMIT with a silent ROLLBACK: a failure caught inside the transaction
                # without a savepoint must not pass for a commit.
                raise StorageUnavailable(
                    f"database {self.location}: a statement failed inside the transaction, "
                    "so nothing of it was written"
                )
            self.execute("COMMIT")
        except BaseException:
            # Whatever failed (the work, or COMMIT itself: a lock held past the busy
            # timeout), the transaction is closed, so that a retry can begin a new one.
            try:
                if self.driver.in_transaction(self.connection):
                    self.connection.execute("ROLLBACK")
            except self.driver.Error:
                pass  # the connection's own failure is what is being raised
            raise
        finally:
            self._mode = None

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Statements whose failure the caller handles (a Duplicate it turns into Conflict)
        and whose transaction may go on: on SQLite a failed statement undoes only itself;
        on PostgreSQL it would end the whole transaction, so there they run in a savepoint,
        rolled back on failure. Outside a transaction, nothing to do."""
        if not self.shared or self._mode is None:
            yield
            return
        self.execute("SAVEPOINT tapesched")
        try:
            yield
        except BaseException:
            try:
                self.execute("ROLLBACK TO SAVEPOINT tapesched")
            except StorageUnavailable:
                pass  # the connection's own failure is what is being raised
            raise
        self.execute("RELEASE SAVEPOINT tapesched")

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        """Run one statement; return its cursor. Raise StorageUnavailable for a database
        failure, Duplicate for a unique constraint broken, InvalidInput for a number too
        large."""
        driver = self.driver
        statement = driver.translate(sql)
        with self._errors():
            try:
                return self.connection.execute(statement, driver.prepare(params))
            except UnicodeEncodeError:
                return self.connection.execute(statement, driver.prepare(_storable(params)))

    def execute_many(self, sql: str, rows: list[dict[str, Any]]) -> None:
        driver = self.driver
        statement = driver.translate(sql)
        cursor = self.connection.cursor()
        try:
            with self._errors():
                try:
                    cursor.executemany(statement, [driver.prepare(row) for row in rows])
                except UnicodeEncodeError:
                    cursor.executemany(statement, [driver.prepare(_storable(r)) for r in rows])
        finally:
            cursor.close()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """The driver's errors as tapesched's: Duplicate, InvalidInput (a number too large)
        or StorageUnavailable naming the database."""
        driver = self.driver
        try:
            yield
        except driver.IntegrityError as error:
            if "unique" in str(error).lower():
                raise Duplicate(str(error)) from None
            raise StorageUnavailable(driver.describe(error)) from None
        except driver.Error as error:
            if driver.too_large(error):
                raise _too_large() from None
            raise StorageUnavailable(driver.describe(error)) from None
        except OverflowError:
            raise _too_large() from None

    def rows(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[tuple]:
        cursor = self.execute(sql, params)
        try:
            return cursor.fetchall()
        except self.driver.Error as error:
            raise StorageUnavailable(self.driver.describe(error)) from None

    def first(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> tuple | None:
        found = self.rows(sql, params)
        return found[0] if found else None

    def scalar(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        row = self.first(sql, params)
        return row[0] if row else None

    # ------------------------------------------------------------------ dialect

    @property
    def by_code_point(self) -> str:
        """What an ORDER BY on a text column adds so that both backends order text alike,
        by code point, as Python's sorted() does: on PostgreSQL the "C" collation (a
        database's own may be linguistic: en_US sorts 'B' after 'a'); SQLite compares text
        so already (BINARY)."""
        return ' COLLATE "C"' if self.shared else ""

    @property
    def skip_locked(self) -> str:
        """What a SELECT that claims rows ends with: on PostgreSQL, take them with a row
        lock and pass over rows another transaction holds; on SQLite nothing (a write
        transaction already holds the whole database)."""
        return " FOR UPDATE SKIP LOCKED" if self.shared else ""

    def serialize(self, key: str) -> None:
        """Inside a write transaction, wait until no other transaction holding the same key
        runs (PostgreSQL: a transaction-scoped advisory lock; SQLite's write transactions
        are serial already)."""
        if self.shared:
            self.execute("SELECT pg_advisory_xact_lock(hashtext(:key))", {"key": key})

    def refresh_statistics(self) -> None:
        """After a bulk change of the tasks (apply), give PostgreSQL's planner fresh
        statistics, so that the due query searches its index at once rather than when
        autovacuum (if it runs at all) gets round to it. SQLite's planner needs none."""
        if self.shared:
            self.execute("ANALYZE tasks")

    def server_now(self) -> datetime:
        """The database server's clock (PostgreSQL's now(): the same for every host, so
        clock skew between hosts cannot decide a lease); this host's on SQLite."""
        if self.shared:
            return decode_time(self.scalar("SELECT now()"))
        from tapesched.clock import utcnow

        return utcnow()

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def connect(location: Path | DatabaseURL) -> Database:
    """Open the catalog at `location` (an existing SQLite file or a PostgreSQL URL) with
    tapesched's settings, without checking its schema."""
    if isinstance(location, DatabaseURL):
        from tapesched.store import postgres

        connection, driver = postgres.connect(location)
    else:
        from tapesched.store import sqlite

        connection, driver = sqlite.connect(location)
    return Database(connection, driver, location)


def open_database(paths: StatePaths, create: bool = True, check: bool = True) -> Database:
    """Open the catalog of a state folder, checked at SCHEMA_REVISION.

    SQLite: with `create`, the state folders are made (0700) and a missing database
    file is created whole (tapesched.store.sqlite); without it, a missing file is
    refused with a line saying to run `tapesched init` (exit 5). PostgreSQL: the
    database must exist (an administrator creates it); with `create`, an empty one gets
    tapesched's schema. A database that has no tapesched schema, or one at another
    revision, is refused (exit 5) with what to run; `check=False` (for `db upgrade`
    and `db current`) opens it as it is.
    """
    location = paths.db
    if create:
        paths.ensure()
    if isinstance(location, Path):
        from tapesched.store import sqlite

        sqlite.prepare_file(location, create)
    database = connect(location)
    try:
        found = revision(database) if check or create else None
        if isinstance(location, DatabaseURL) and create and found is None:
            from tapesched.store import schema

            schema.create_postgres(database)
            found = revision(database)
        if check:
            check_revision(database, found)
    except BaseException:
        database.close()
        raise
    if isinstance(location, Path):
        from tapesched.store import sqlite

        sqlite.restrict_files(location)
    return database


def revision(database: Database) -> str | None:
    """Where the database's schema stands: its Alembic revision; `0001` for a database
    made by tapesched 0.1.0 (before Alembic); None if it has no tapesched schema."""
    found = _query_absent_ok(database, "SELECT version_num FROM alembic_version")
    if found is not None:
        return found[0][0] if found else None
    legacy = _query_absent_ok(database, "SELECT value FROM meta WHERE key = 'schema_version'")
    if legacy:
        return "0001" if legacy[0][0] == LEGACY_SCHEMA_VERSION else f"version {legacy[0][0]}"
    return None


def _query_absent_ok(database: Database, sql: str) -> list[tuple] | None:
    """The rows of a query on a table that may not exist (None then)."""
    driver = database.driver
    try:
        if database.shared:
            with database.read():
                table = sql.split(" FROM ")[1].split()[0]
                if database.scalar("SELECT to_regclass(:table)", {"table": table}) is None:
                    return None
                return database.rows(sql)
        return database.connection.execute(sql).fetchall()
    except driver.Error as error:
        if "no such table" in str(error):
            return None
        raise StorageUnavailable(driver.describe(error)) from None


def check_revision(database: Database, found: str | None | object = ...) -> None:
    """Refuse (StorageUnavailable, exit 5) a database whose schema is not this tapesched's
    (at revision `found`, read here when not given), with one line saying what to run."""
    if found is ...:
        found = revision(database)
    where = f"database {database.location}"
    if found == SCHEMA_REVISION:
        return
    if found is None:
        raise StorageUnavailable(
            f"{where} is corrupt or not a tapesched database (it has no tapesched schema); "
            "run 'tapesched init' to create one"
            if database.shared
            else f"{where} is corrupt or not a tapesched database (it has no tapesched schema)"
        )
    if found in REVISIONS:
        raise StorageUnavailable(
            f"{where} has schema revision {found}, older than this tapesched's "
            f"({SCHEMA_REVISION}); run 'tapesched db upgrade'"
        )
    raise StorageUnavailable(
        f"{where} has schema revision {printable(found)}, which this tapesched "
        f"(revision {SCHEMA_REVISION}) does not know: it was upgraded by a newer tapesched; "
        "install that version here"
    )


# --------------------------------------------------------------------------- meta


def get_meta(db: Database, key: str) -> str | None:
    return db.scalar("SELECT value FROM meta WHERE key = :key", {"key": key})


def set_meta(db: Database, key: str, value: str) -> None:
    db.execute(
        "INSERT INTO meta (key, value) VALUES (:key, :value) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        {"key": key, "value": value},
    )


def quick_check(db: Database) -> str:
    """The database's own integrity check: 'ok', or what is wrong (PostgreSQL checks its
    own pages; there, a catalog that answers a query is 'ok')."""
    if db.shared:
        db.scalar("SELECT count(*) FROM tasks")
        return "ok"
    return "; ".join(str(row[0]) for row in db.rows("PRAGMA quick_check"))
