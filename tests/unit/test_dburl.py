"""Database URLs and host names: what --db, TAPESCHED_DB, TAPESCHED_HOST and --host accept."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tapesched import dburl, hosts
from tapesched.errors import InvalidInput
from tapesched.paths import resolve


def test_a_url_names_host_port_database_and_user() -> None:
    url = dburl.parse("postgresql+psycopg://backup@db.example:6543/tapes?sslmode=require")
    assert (url.host, url.port, url.dbname, url.user) == ("db.example", 6543, "tapes", "backup")
    assert url.connect_arguments() == {
        "dbname": "tapes",
        "host": "db.example",
        "port": 6543,
        "user": "backup",
        "connect_timeout": dburl.DEFAULT_CONNECT_TIMEOUT,
        "sslmode": "require",
    }
    assert url.place == "PostgreSQL server db.example port 6543, database tapes"
    assert str(url) == "postgresql+psycopg://backup@db.example:6543/tapes?sslmode=require"


def test_a_password_is_accepted_but_never_shown() -> None:
    url = dburl.parse("postgresql+psycopg://backup:s3cr%40t@db:5432/tapes")
    assert url.password == "s3cr@t"
    for shown in (str(url), repr(url), url.without_password, url.place):
        assert "s3cr" not in shown
    assert str(url) == "postgresql+psycopg://backup:***@db:5432/tapes"
    assert url.without_password == "postgresql+psycopg://backup@db:5432/tapes"
    assert url == dburl.parse("postgresql+psycopg://backup@db:5432/tapes")  # same catalog
    with pytest.raises(InvalidInput) as caught:
        dburl.parse("postgresql+psycopg://backup:s3cret@db:5432/")
    assert "s3cret" not in caught.value.message and "***" in caught.value.message


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("mysql://db/tapes", "unsupported scheme 'mysql'"),
        ("postgresql+psycopg://db", "name one database"),
        ("postgresql+psycopg://db/a/b", "name one database"),
        ("postgresql+psycopg://db:99999/tapes", "Port out of range"),
        ("postgresql+psycopg://db:port/tapes", "database URL"),
        ("postgresql+psycopg://db/tapes?password=x", "unknown connection option 'password'"),
        ("postgresql+psycopg://db/tapes#frag", "fragment"),
        ("postgresql+psycopg://db/ta%00pes", "control characters"),
    ],
)
def test_a_bad_url_is_one_line_naming_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        dburl.parse(text)
    assert says in caught.value.message and "\n" not in caught.value.message


def test_paths_stay_paths_and_urls_keep_the_state_folder_local(tmp_path: Path) -> None:
    by_path = resolve(str(tmp_path / "x.db"), {})
    assert by_path.db == tmp_path / "x.db" and by_path.home == tmp_path and not by_path.shared
    env = {"TAPESCHED_HOME": str(tmp_path / "home")}
    by_url = resolve("postgresql+psycopg://postgres@127.0.0.1:5432/tapes", env)
    assert by_url.shared and by_url.home == tmp_path / "home"
    assert by_url.db.dbname == "tapes"
    # A colon in a file name is no scheme.
    assert resolve(str(tmp_path / "a:b.db"), {}).db == tmp_path / "a:b.db"


@given(st.text(max_size=80))
def test_any_text_after_the_scheme_parses_or_is_refused_in_one_printable_line(rest: str) -> None:
    text = "postgresql+psycopg://" + rest
    try:
        url = dburl.parse(text)
    except InvalidInput as error:
        assert "\n" not in error.message and error.message.isprintable()
        return
    assert url.dbname and str(url).isprintable()
    assert dburl.parse(url.render(mask=False)) == url


@pytest.mark.parametrize("name", ["h1", "backup-02.example.org", "a" * 64, "any"])
def test_host_names_and_any(name: str) -> None:
    assert hosts.check_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "-h", ".h", "a b", "h\x00", "h\n", "a" * 65, "hôte", "h/../x", "h;rm"]
)
def test_bad_host_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        hosts.check_name(name)
    assert "\n" not in caught.value.message


def test_this_host_is_tapesched_host_or_the_machines_name() -> None:
    assert hosts.this_host({"TAPESCHED_HOST": "h7"}) == "h7"
    machine = hosts.this_host({})
    assert machine and hosts.check_name(machine, allow_any=False) == machine
    for bad in ("any", "two words", ""):
        with pytest.raises(InvalidInput):
            hosts.this_host({"TAPESCHED_HOST": bad})
