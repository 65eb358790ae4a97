"""How a ping's URL is built (the Healthchecks protocol), as a table and with hypothesis over
generated URLs; the small pure helpers of tapesched.notify."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapesched import notify

RID = "6f1c2a8e-0000-4000-8000-000000000001"
HC = "https://hc-ping.com/0c1e5d7c-1a2b-4c3d-9e8f-0123456789ab"

URL_TABLE = [
    # (url, event, exit code, expected)
    (HC, "start", None, f"{HC}/start?rid={RID}"),
    (HC, "success", None, f"{HC}?rid={RID}"),
    (HC, "success", 0, f"{HC}?rid={RID}"),
    (HC, "success", 1, f"{HC}?rid={RID}"),  # success_exit_codes [0, 1]: still a success
    (HC, "fail", None, f"{HC}/fail?rid={RID}"),
    (HC, "fail", 3, f"{HC}/3?rid={RID}"),
    (HC, "fail", 1, f"{HC}/1?rid={RID}"),
    (HC, "fail", 255, f"{HC}/255?rid={RID}"),
    (HC, "fail", 256, f"{HC}/fail?rid={RID}"),  # not an exit status Healthchecks takes
    (HC, "fail", 0, f"{HC}/fail?rid={RID}"),  # 0 would read as success
    (HC, "fail", -9, f"{HC}/fail?rid={RID}"),  # killed by a signal
    (HC + "/", "start", None, f"{HC}/start?rid={RID}"),
    (HC + "///", "fail", None, f"{HC}/fail?rid={RID}"),
    (HC + "?create=1", "start", None, f"{HC}/start?create=1&rid={RID}"),
    (HC + "/?create=1", "fail", 2, f"{HC}/2?create=1&rid={RID}"),
    (HC + "?create=1", "success", None, f"{HC}?create=1&rid={RID}"),
    (HC + "?rid=stale&create=1", "start", None, f"{HC}/start?create=1&rid={RID}"),
    (HC + "?a=1&&b=2&", "start", None, f"{HC}/start?a=1&b=2&rid={RID}"),
    (HC + "?", "start", None, f"{HC}/start?rid={RID}"),
    (HC + "?next=/x/y", "start", None, f"{HC}/start?next=/x/y&rid={RID}"),
    (HC + "#section", "success", None, f"{HC}?rid={RID}"),
    (HC + "?x=1#frag?y=2/z", "fail", None, f"{HC}/fail?x=1&rid={RID}"),
    ("https://hc-ping.com/KEY/db-backup", "start", None,
     f"https://hc-ping.com/KEY/db-backup/start?rid={RID}"),  # slug form
    ("http://127.0.0.1:8000", "success", None, f"http://127.0.0.1:8000/?rid={RID}"),
    ("http://127.0.0.1:8000/", "success", None, f"http://127.0.0.1:8000/?rid={RID}"),
    ("http://127.0.0.1:8000", "start", None, f"http://127.0.0.1:8000/start?rid={RID}"),
    # An attempt that will be retried: its output, not an outcome.
    (HC, "log", 3, f"{HC}/log?rid={RID}"),
    (HC + "?create=1", "log", None, f"{HC}/log?create=1&rid={RID}"),
]  # fmt: skip


@pytest.mark.parametrize(("url", "event", "code", "expected"), URL_TABLE)
def test_ping_target_table(url, event, code, expected) -> None:
    assert notify.ping_target(url, event, RID, code) == expected


def test_ping_target_without_a_run_id_adds_no_query() -> None:
    assert notify.ping_target(HC, "start") == f"{HC}/start"
    assert notify.ping_target(HC + "?create=1", "fail", None, 4) == f"{HC}/4?create=1"


def test_run_id_is_percent_encoded() -> None:
    assert notify.ping_target(HC, "start", "a b&c=d#e") == f"{HC}/start?rid=a%20b%26c%3Dd%23e"


# --------------------------------------------------------------------------- generated URLs

SAFE = st.characters(
    blacklist_characters="/?#\t\r\n", blacklist_categories=("Cs", "Cc")
)  # urlsplit (the oracle) drops tabs and newlines; the builder's own test below takes them
SEGMENT = st.text(SAFE, max_size=12)
QUERY_TEXT = st.text(
    st.characters(blacklist_characters="&=#\t\r\n", blacklist_categories=("Cs", "Cc")),
    max_size=8,
)
PIECE = st.one_of(
    st.tuples(st.sampled_from(["rid", "create", "x"]) | QUERY_TEXT, QUERY_TEXT).map(
        lambda pair: f"{pair[0]}={pair[1]}"
    ),
    QUERY_TEXT,  # a piece without "=" (or empty)
)


@st.composite
def urls(draw) -> tuple[str, str, list[str] | None]:  # noqa: ANN001
    """(url, path part, query pieces or None) for an http(s) URL with a generated path,
    trailing slashes, query and fragment."""
    scheme = draw(st.sampled_from(["http", "https", "HTTPS"]))
    host = draw(st.sampled_from(["hc-ping.com", "127.0.0.1:8000", "[::1]:80", "u:p@h.example"]))
    path = "".join("/" + segment for segment in draw(st.lists(SEGMENT, max_size=4)))
    path += "/" * draw(st.integers(0, 3))
    url = f"{scheme}://{host}{path}"
    pieces = draw(st.none() | st.lists(PIECE, max_size=5))
    if pieces is not None:
        url += "?" + "&".join(pieces)
    if draw(st.booleans()):
        url += "#" + draw(st.text(st.characters(blacklist_categories=("Cs",)), max_size=10))
    return url, f"{scheme}://{host}{path}", pieces


EVENTS = st.sampled_from(["start", "success", "fail"])
CODES = st.none() | st.integers(-300, 300)


@settings(max_examples=400, deadline=None)
@given(urls(), EVENTS, CODES, st.uuids().map(str))
def test_generated_urls_keep_scheme_host_and_query(generated, event, code, rid) -> None:
    url, base, pieces = generated
    built = notify.ping_target(url, event, rid, code)
    given_parts, built_parts = urlsplit(url), urlsplit(built)
    assert "#" not in built
    assert built_parts.scheme == given_parts.scheme
    assert built_parts.netloc == given_parts.netloc
    if event == "start":
        suffix = "/start"
    elif event == "success":
        suffix = ""
    else:
        suffix = f"/{code}" if code is not None and 1 <= code <= 255 else "/fail"
    path = given_parts.path.rstrip("/") + suffix
    assert built_parts.path == (path or "/")
    assert built.startswith(base.rstrip("/") + suffix)
    kept = [p for p in (pieces or []) if p and p.split("=", 1)[0] != "rid"]
    assert built_parts.query.split("&") == [*kept, f"rid={rid}"]


@settings(max_examples=300, deadline=None)
@given(urls(), EVENTS, CODES, st.uuids().map(str), st.uuids().map(str))
def test_a_second_run_id_replaces_the_first(generated, event, code, first, second) -> None:
    url = generated[0]
    once = notify.ping_target(url, "success", first)
    again = notify.ping_target(once, event, second, code)
    assert again == notify.ping_target(url, event, second, code)
    assert again.count("rid=") == 1


ANY_TEXT = st.text(st.characters(codec=None, blacklist_categories=()))  # lone surrogates too


@settings(max_examples=400, deadline=None)
@given(ANY_TEXT, EVENTS, CODES, st.none() | ANY_TEXT)
def test_any_text_builds_a_url_without_raising(url, event, code, rid) -> None:
    built = notify.ping_target(url, event, rid, code)
    assert isinstance(built, str) and "#" not in built
    if rid:
        assert built.rsplit("rid=", 1)[1] == notify._quote(rid)


# --------------------------------------------------------------------------- small helpers


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        ({"exit_code": 3, "command": ["x"]}, 3),
        ({"exit_code": 0}, 0),
        ({"exit_code": -9}, -9),
        ({"exit_code": True}, None),
        ({"exit_code": "3"}, None),
        ({"exit_code": 3.0}, None),
        ({"files": 10}, None),
        (None, None),
        ([3], None),
    ],
)
def test_exit_code_of(result, expected) -> None:
    assert notify.exit_code_of(result) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, 10.0),
        ("1", 1.0),
        ("0.5", 0.5),
        ("0", 0.1),
        ("-5", 0.1),
        ("1e9", 300.0),
        ("nan", 10.0),
        ("inf", 300.0),
        ("ten", 10.0),
        ("", 10.0),
    ],
)
def test_ping_timeout_from_the_environment(value, expected) -> None:
    environ = {} if value is None else {"TAPESCHED_PING_TIMEOUT": value}
    assert notify.ping_timeout(environ) == expected


@settings(max_examples=200, deadline=None)
@given(ANY_TEXT)
def test_one_line_is_one_printable_line(text) -> None:
    shown = notify.one_line(text)
    assert "\n" not in shown and "\r" not in shown and len(shown) <= 500
    assert all(char.isprintable() for char in shown)


@pytest.mark.parametrize(
    ("notify_on", "status", "expected"),
    [
        ("failure", "failed", True),
        ("failure", "lost", True),
        ("failure", "success", False),
        ("failure", "cancelled", False),
        ("always", "success", True),
        ("always", "cancelled", True),
        (None, "failed", True),
    ],
)
def test_should_notify(notify_on, status, expected) -> None:
    assert notify.should_notify(notify_on, status) is expected
