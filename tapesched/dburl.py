"""Database URLs: `postgresql+psycopg://USER@HOST:PORT/DBNAME` for a shared catalog.

`--db` and TAPESCHED_DB take a path (an SQLite file, the embedded default) or
such a URL. Passwords belong in libpq's usual places (PGPASSFILE, ~/.pgpass,
PGPASSWORD), not on a crontab line; a URL that carries one anyway is accepted,
and shown everywhere with the password masked. Cheap: standard library only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

from tapesched.errors import InvalidInput, printable

SCHEMES = ("postgresql+psycopg", "postgresql", "postgres")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
# How long a connection attempt waits for the server before it is refused (seconds).
DEFAULT_CONNECT_TIMEOUT = 10
# libpq keywords a URL may add as ?key=value (everything else is refused, naming it).
_QUERY_KEYS = frozenset(
    {
        "sslmode",
        "sslrootcert",
        "sslcert",
        "sslkey",
        "sslcrl",
        "connect_timeout",
        "application_name",
        "target_session_attrs",
        "options",
        "passfile",
        "service",
        "gssencmode",
        "channel_binding",
        "keepalives",
        "keepalives_idle",
    }
)


@dataclass(frozen=True)
class DatabaseURL:
    """A PostgreSQL catalog named by a URL. str() is its display form, password masked."""

    host: str | None
    port: int | None
    dbname: str
    user: str | None = None
    password: str | None = field(default=None, repr=False, compare=False)
    options: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        return self.render(mask=True)

    def render(self, mask: bool = True, password: bool = True) -> str:
        """The URL; its password shown as *** (mask) or left out (password=False)."""
        who = self.user or ""
        if self.password is not None and password:
            who += ":***" if mask else f":{self.password}"
        where = self.host or ""
        if self.port is not None:
            where += f":{self.port}"
        query = "&".join(f"{key}={value}" for key, value in self.options)
        return f"postgresql+psycopg://{who}{'@' if who else ''}{where}/{self.dbname}" + (
            f"?{query}" if query else ""
        )

    @property
    def without_password(self) -> str:
        """The URL without its password (for a runner's command line)."""
        return self.render(mask=False, password=False)

    @property
    def place(self) -> str:
        """host, port and database, for error lines."""
        host = self.host or "local socket"
        port = self.port or 5432
        return f"PostgreSQL server {host} port {port}, database {self.dbname}"

    def connect_arguments(self) -> dict[str, str | int]:
        """Keyword arguments for psycopg.connect."""
        arguments: dict[str, str | int] = {"dbname": self.dbname}
        if self.host:
            arguments["host"] = self.host
        if self.port is not None:
            arguments["port"] = self.port
        if self.user:
            arguments["user"] = self.user
        if self.password is not None:
            arguments["password"] = self.password
        arguments["connect_timeout"] = DEFAULT_CONNECT_TIMEOUT
        arguments.update(dict(self.options))
        return arguments


def is_url(text: str) -> bool:
    """Whether --db names a URL (scheme://...) rather than a path."""
    return bool(_SCHEME.match(text))


def parse(text: str) -> DatabaseURL:
    """Given a database URL, return it parsed; raise InvalidInput (exit 2) naming what is
    wrong, with any password masked."""
    scheme = _SCHEME.match(text).group(1).lower() if _SCHEME.match(text) else ""
    shown = mask(text)
    if scheme not in SCHEMES:
        raise InvalidInput(
            f"database URL {shown}: unsupported scheme {printable(scheme)!r}; give a path "
            "(SQLite) or postgresql+psycopg://USER@HOST:PORT/DBNAME"
        )
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as error:
        raise InvalidInput(f"database URL {shown}: {error}") from None
    dbname = unquote(parts.path.lstrip("/"))
    if not dbname or "/" in dbname:
        raise InvalidInput(
            f"database URL {shown}: name one database, as in "
            "postgresql+psycopg://USER@HOST:PORT/DBNAME"
        )
    if parts.fragment:
        raise InvalidInput(f"database URL {shown}: a URL fragment (#...) is not allowed")
    options = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key not in _QUERY_KEYS:
            raise InvalidInput(
                f"database URL {shown}: unknown connection option {printable(key)!r}"
            )
        options.append((key, value))
    for value in (dbname, parts.username, parts.password, parts.hostname):
        if value is not None and ("\x00" in unquote(value) or not unquote(value).isprintable()):
            raise InvalidInput(f"database URL {shown}: control characters are not allowed")
    return DatabaseURL(
        host=unquote(parts.hostname) if parts.hostname else None,
        port=port,
        dbname=dbname,
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        options=tuple(options),
    )


def mask(text: str) -> str:
    """The text of a URL with any password replaced by ***, printable."""
    masked = re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://[^:/@?#]*):[^@/?#]*@", r"\1:***@", text)
    return printable(masked)
