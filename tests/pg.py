"""Throwaway PostgreSQL databases for the tests (importable as `pg`).

The server is named by TAPESCHED_TEST_PG, a URL such as
postgresql+psycopg://postgres@127.0.0.1:5432/postgres (the database in it is the
one connected to for CREATE/DROP DATABASE). Without it, tests that need a server
skip, saying so; .ci/run sets it so that CI runs them.
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

SKIP_REASON = (
    "no PostgreSQL server for the tests: set TAPESCHED_TEST_PG to a URL such as "
    "postgresql+psycopg://postgres@127.0.0.1:5432/postgres (.ci/run does)"
)


def server_url() -> str | None:
    return os.environ.get("TAPESCHED_TEST_PG") or None


def require_server() -> str:
    """The server's URL; skip the test when there is none."""
    url = server_url()
    if url is None:
        pytest.skip(SKIP_REASON)
    return url


def _admin_connection(url: str):  # noqa: ANN202 - a psycopg connection
    import psycopg

    from tapesched.dburl import parse

    return psycopg.connect(**parse(url).connect_arguments(), autocommit=True)


def url_for(server: str, name: str) -> str:
    """The server's URL with another database name."""
    from tapesched.dburl import parse

    parsed = parse(server)
    return dataclasses.replace(parsed, dbname=name).render(mask=False)


def create_database(
    server: str, template: str | None = None, prefix: str = "ts_test", icu_locale: str | None = None
) -> str:
    """Create a new empty database (or a copy of `template`); return its URL. With
    `icu_locale` (PostgreSQL 15 or later, built with ICU), the new empty database sorts
    text by that locale's rules, as a server set up with a linguistic default (en_US.UTF-8,
    say) does; psycopg.Error where the server cannot."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with _admin_connection(server) as connection:
        if template:
            connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        elif icu_locale:
            connection.execute(
                f'CREATE DATABASE "{name}" TEMPLATE template0 '
                f"LOCALE_PROVIDER icu ICU_LOCALE '{icu_locale}'"
            )
        else:
            connection.execute(f'CREATE DATABASE "{name}"')
    return url_for(server, name)


def drop_database(server: str, url: str) -> None:
    """Drop the database `url` names, ending whatever is still connected to it."""
    from tapesched.dburl import parse

    name = parse(url).dbname
    with _admin_connection(server) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def throwaway_database(server: str, template: str | None = None) -> Iterator[str]:
    """A new database for the duration of the block; its URL."""
    url = create_database(server, template)
    try:
        yield url
    finally:
        drop_database(server, url)
