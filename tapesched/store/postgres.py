"""A catalog shared by several hosts: one PostgreSQL database, through psycopg 3.

The queries of tapesched.store are written once, with `:name` parameters; this
driver turns them into psycopg's `%(name)s`. Write transactions run at READ
COMMITTED (every change of a claimed row is a compare-and-set, and claims take
their rows with FOR UPDATE SKIP LOCKED), reads at REPEATABLE READ, read only,
so that a read sees one consistent catalog as it does on SQLite. A lock held
elsewhere is waited for up to the busy timeout, then reported (exit 5).
"""

from __future__ import annotations

import functools
import re
from typing import Any

from tapesched.dburl import DatabaseURL
from tapesched.errors import StorageUnavailable, printable
from tapesched.store.sqlite import busy_timeout

_PARAMETER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


@functools.lru_cache(maxsize=512)
def translate(sql: str) -> str:
    """`:name` parameters as psycopg's `%(name)s`, and a literal % doubled."""
    return _PARAMETER.sub(r"%(\1)s", sql.replace("%", "%%"))


class Driver:
    """What the generic Database needs to know about PostgreSQL."""

    kind = "postgresql"

    def __init__(self, url: DatabaseURL) -> None:
        import psycopg

        self.url = url
        self.Error = psycopg.Error
        self.IntegrityError = psycopg.IntegrityError
        self._out_of_range = psycopg.errors.NumericValueOutOfRange
        self._idle = psycopg.pq.TransactionStatus.IDLE
        self._failed = psycopg.pq.TransactionStatus.INERROR

    def begin(self, mode: str) -> str:
        if mode == "write":
            return "BEGIN ISOLATION LEVEL READ COMMITTED"
        return "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"

    def translate(self, sql: str) -> str:
        return translate(sql)

    def prepare(self, params: Any) -> Any:
        """Text cannot hold NUL on PostgreSQL: what tapesched records about the world (a
        message quoting a file name, say) keeps it as the four characters \\x00."""
        if isinstance(params, dict):
            return {key: self.prepare(value) for key, value in params.items()}
        if isinstance(params, list | tuple):
            return type(params)(self.prepare(value) for value in params)
        if isinstance(params, str) and "\x00" in params:
            return params.replace("\x00", "\\x00")
        return params

    def in_transaction(self, connection: Any) -> bool:
        return connection.info.transaction_status != self._idle

    def aborted(self, connection: Any) -> bool:
        """Whether a statement failed in the open transaction, which PostgreSQL has ended:
        it runs no more statements, and COMMIT would roll it back."""
        return connection.info.transaction_status == self._failed

    def describe(self, error: BaseException) -> str:
        return describe_error(error, self.url)

    def too_large(self, error: BaseException) -> bool:
        return isinstance(error, OverflowError | self._out_of_range)


# libpq's "connection to server at "HOST" (ADDRESS), port N failed: " (the line says so).
_SERVER_PREFIX = re.compile(
    r'^connection to server (at|on)( socket)? "[^"]*"( \([^)]*\))?(, port \d+)? failed:\s*'
)


def _one_line(error: BaseException) -> str:
    """libpq's message, on one line, without its boilerplate."""
    text = str(error).strip() or type(error).__name__
    lines = []
    for line in text.splitlines():
        line = re.sub(r"^connection failed:\s*", "", line.strip())
        line = _SERVER_PREFIX.sub("", line)
        line = re.sub(r"^(FATAL|ERROR):\s*", "", line)
        if line and not line.startswith(("HINT:", "DETAIL:", "Multiple connection attempts")):
            lines.append(line)
    return printable("; ".join(dict.fromkeys(lines)) or type(error).__name__)


def describe_error(error: BaseException, url: DatabaseURL) -> str:
    """Given a psycopg error, return one line for an operator, naming the database."""
    reason = _one_line(error)
    lowered = reason.lower()
    if "lock timeout" in lowered or "canceling statement due to lock" in lowered:
        return f"database {url} is locked by another process (waited {busy_timeout():g}s)"
    return f"database {url}: {reason}"


def connect(url: DatabaseURL) -> tuple[Any, Driver]:
    """Connect to the database named by `url`; raise StorageUnavailable (exit 5) naming
    host, port and database when the server cannot be reached, refuses the login or has
    no such database."""
    import psycopg

    try:
        connection = psycopg.connect(**url.connect_arguments(), autocommit=True)
    except psycopg.Error as error:
        who = f" as {url.user}" if url.user else ""
        raise StorageUnavailable(
            f"cannot connect to {url.place}{who}: {_one_line(error)}"
        ) from None
    # JSON comes back as its text, as from SQLite, for tapesched.store.db.decode_json to
    # read: psycopg would parse it, and a JSON string would then be read a second time.
    from psycopg.types.string import TextLoader

    connection.adapters.register_loader("json", TextLoader)
    connection.adapters.register_loader("jsonb", TextLoader)
    try:
        milliseconds = int(busy_timeout() * 1000)
        connection.execute(f"SET lock_timeout = {milliseconds}; SET TIME ZONE 'UTC'")
    except psycopg.Error as error:
        connection.close()
        raise StorageUnavailable(describe_error(error, url)) from None
    return connection, Driver(url)
