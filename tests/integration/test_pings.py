"""ping, run_notify_command and announce against real servers and real commands: whatever
the other end does, they return, note the problem in one line of the job's output, and
never raise."""

from __future__ import annotations

import io
import time
from pathlib import Path
from types import SimpleNamespace

import hostile_servers
import pytest
from hostile_servers import free_port, raw, recording
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tapesched import notify

RID = "6f1c2a8e-0000-4000-8000-000000000001"
TIMEOUT = 1.0


def one_note(log: io.StringIO) -> str:
    """The one line a failed ping leaves in the log."""
    lines = log.getvalue().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("tapesched: ping ") and " failed: " in lines[0]
    return lines[0]


def test_a_delivered_ping_is_a_text_plain_post_with_the_run_id() -> None:
    with recording("/ping/abc?create=1") as server:
        log = io.StringIO()
        body = b"\xe2\x82" + b"tail of the output \xff\n"  # starts inside a character
        assert notify.ping(server.url, "fail", body, log, run_id=RID, exit_code=4)
    assert log.getvalue() == ""
    [hit] = server.hits
    assert hit.method == "POST"
    assert hit.path == f"/ping/abc/4?create=1&rid={RID}"
    assert hit.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert hit.headers["User-Agent"] == "tapesched"
    assert hit.body.decode("utf-8").endswith("tail of the output \ufffd\n")


@pytest.mark.parametrize("kind", sorted(hostile_servers.BEHAVIOURS))
def test_a_misbehaving_server_costs_one_line_and_at_most_the_timeout(kind) -> None:
    with raw(kind) as server:
        log = io.StringIO()
        started = time.monotonic()
        url = f"http://127.0.0.1:{server.port}/a/uuid"
        assert notify.ping(url, "start", b"", log, run_id=RID, timeout=TIMEOUT) is False
        elapsed = time.monotonic() - started
    assert server.connections >= 1
    assert elapsed < TIMEOUT + 1.5
    line = one_note(log)
    if kind in hostile_servers.SLOW:
        assert f"no answer within {TIMEOUT:g}s" in line


def test_the_redirect_loop_and_the_redirect_to_a_file_are_refused() -> None:
    for kind, words in (("redirect_loop", "redirect"), ("redirect_to_file", "file:///etc/passwd")):
        with raw(kind) as server:
            log = io.StringIO()
            url = f"http://127.0.0.1:{server.port}/a"
            assert not notify.ping(url, "fail", b"x", log, timeout=5)
        assert words in one_note(log)


HOSTILE_URLS = [
    "http://127.0.0.1:{port}/with space/uuid",
    "http://127.0.0.1:{port}/new\nline",
    "http://127.0.0.1:{port}/nul\x00byte",
    "http://127.0.0.1:{port}/tab\there",
    "http://127.0.0.1:{port}/é-unicode",
    "http://127.0.0.1:99999/port-too-large",
    "http://127.0.0.1:port/not-a-number",
    "http://[::1/unclosed-bracket",
    "http://",
    "https://127.0.0.1:{port}/tls-to-plain-http",
    "http://127.0.0.1:{refused}/refused",
    "file:///etc/passwd",
    "ftp://127.0.0.1:{port}/x",
    "javascript:alert(1)",
    "",
    " http://127.0.0.1:{port}/leading-space",
    "http://127.0.0.1:{port}/" + "x" * 70_000,
    "http://user:pa ss@127.0.0.1:{port}/credentials",
    "http://127.0.0.1:{port}/%zz%/bad-escapes",
    "http://127.0.0.1:{port}/\u202eright-to-left",
]


@pytest.mark.parametrize("template", HOSTILE_URLS)
def test_a_hostile_url_never_raises(template) -> None:
    with recording() as server:
        port = server.url.split(":")[2].split("/")[0]
        url = template.format(port=port, refused=free_port())
        log = io.StringIO()
        delivered = notify.ping(url, "start", b"body", log, run_id=RID, timeout=TIMEOUT)
    if delivered:
        assert server.hits and log.getvalue() == ""
    else:
        line = one_note(log)
        assert "\n" not in line[:-1] and len(line) < 1100


PATH_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@pytest.fixture(scope="module")
def shared_server():  # noqa: ANN201 - one server for every generated example
    with recording() as server:
        yield server


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(path=PATH_TEXT, kind=st.sampled_from(["start", "success", "fail"]), body=st.binary())
def test_generated_urls_to_a_real_server_never_raise(shared_server, path, kind, body) -> None:
    shared_server.hits.clear()
    url = shared_server.url.rsplit("/", 2)[0] + "/" + path
    log = io.StringIO()
    delivered = notify.ping(url, kind, body, log, run_id=RID, timeout=TIMEOUT)
    assert isinstance(delivered, bool)
    event("delivered" if delivered else "refused, noted")
    if delivered:
        assert len(shared_server.hits) == 1 and log.getvalue() == ""
        assert shared_server.hits[0].headers["Content-Type"].startswith("text/plain")
        assert shared_server.hits[0].path.endswith(f"rid={RID}")
    else:
        one_note(log)


@settings(max_examples=150, deadline=None)
@given(
    st.text(st.characters(codec=None, blacklist_categories=()), max_size=60)
    # Ports no server can have: never a stray POST to another test's server on this host.
    | st.builds("http://127.0.0.1:{}/{}".format, st.sampled_from([0, 65536, 99999]), PATH_TEXT)
)
def test_any_stored_text_as_a_ping_url_never_raises(url) -> None:
    log = io.StringIO()
    assert isinstance(notify.ping(url, "fail", b"", log, timeout=TIMEOUT), bool)


class BrokenLog(io.StringIO):
    """A log that cannot be written (a full disk, a closed file)."""

    def write(self, text: str) -> int:
        raise OSError(28, "No space left on device")


def test_a_log_that_cannot_be_written_loses_only_the_note() -> None:
    url = f"http://127.0.0.1:{free_port()}/x"
    assert notify.ping(url, "start", b"", BrokenLog(), timeout=TIMEOUT) is False
    closed = io.StringIO()
    closed.close()
    assert notify.ping(url, "start", b"", closed, timeout=TIMEOUT) is False


# --------------------------------------------------------------------------- notify command


def facts(log: io.StringIO | None = None, output: str | None = None) -> dict:
    return {
        "task": "t",
        "execution_id": RID,
        "status": "failed",
        "error": "e",
        "output": output,
        "log": log,
    }


HOSTILE_COMMANDS = [
    "",
    "   ",
    "'unclosed",
    'sh -c "unclosed',
    "/nonexistent/notifier --now",
    "/etc/passwd",  # not executable
    "/tmp",  # a folder
    "nul\x00byte",
    "sh -c 'exit 7'",
    "sh -c 'kill -9 $$'",
    "sh -c 'echo to stdout; echo to stderr >&2'",
    "sh -c 'sleep 30'",  # outlives the timeout
]


@pytest.mark.parametrize("command", HOSTILE_COMMANDS)
def test_a_hostile_notify_command_never_raises(command, tmp_path: Path) -> None:
    log_path = tmp_path / "run.log"
    with open(log_path, "w") as log:
        code = notify.run_notify_command(command, **facts(log, str(log_path)), timeout=1.0)
    text = log_path.read_text()
    if code == 0:
        assert "notify command" not in text
    else:
        notes = [line for line in text.splitlines() if line.startswith("tapesched: notify")]
        assert len(notes) == 1, text


@settings(max_examples=120, deadline=None)
@given(
    st.lists(
        st.sampled_from(["'", '"', "\\", " ", "\x00", "é", "$HOME", ";", "|", "&", "*"])
        | st.text(max_size=5),
        max_size=6,
    ).map("".join)
)
def test_generated_notify_commands_never_raise(tail) -> None:
    # Under a folder that does not exist, so nothing generated can run anything.
    log = io.StringIO()
    code = notify.run_notify_command(
        "/nonexistent-tapesched-test/notify " + tail, **facts(None), timeout=1.0
    )
    assert code is None or isinstance(code, int)
    code = notify.run_notify_command("/nonexistent-tapesched-test/" + tail, **facts(log))
    assert code is None and log.getvalue().count("\n") <= 1


def test_announce_never_raises_and_notes_both_problems(tmp_path: Path) -> None:
    task = SimpleNamespace(
        task_name="t",
        ping_url=f"http://127.0.0.1:{free_port()}/x",
        notify_command="'unclosed",
        notify_on="always",
    )
    log = io.StringIO()
    notify.announce(task, RID, "success", None, None, log)
    lines = log.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("tapesched: ping ") and lines[1].startswith("tapesched: notify")
    # A task record missing its fields, a log that cannot be written: still nothing raised.
    notify.announce(SimpleNamespace(), RID, "failed", None, "/nonexistent/log", BrokenLog())
    notify.announce_to_log(task, RID, "lost", "gone", "/nonexistent/dir/x.log", "by tick")
