"""Healthchecks-style pings to a real HTTP server on 127.0.0.1, and the notify command."""

from __future__ import annotations

import contextlib
import http.server
import socket
import sqlite3
import threading
from pathlib import Path

import hostile_servers
import pytest
from helpers import wait_until
from speed_helpers import build_parser_once


class Recorder(http.server.BaseHTTPRequestHandler):
    hits: list[tuple[str, bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        length = int(self.headers.get("Content-Length") or 0)
        self.hits.append((self.path, self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"OK")

    def log_message(self, *args) -> None:  # noqa: ANN002 - keep test output clean
        pass


@pytest.fixture
def cli(run_cli, monkeypatch):  # noqa: ANN201
    """The CLI in this process (conftest's run_cli, its parser built once per test), to set
    up tasks and read what happened; every run is a real `run --wait` and its runner (sh)."""
    build_parser_once(monkeypatch)
    return run_cli


@pytest.fixture
def server():
    Recorder.hits = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/ping/abc", Recorder.hits
    httpd.shutdown()
    httpd.server_close()


def test_ping_start_then_success_with_output_tail(sh, cli, server):
    url, hits = server
    cli("add", "pinged", "--every", "1d", "--command", "echo backup-done", "--ping-url", url)
    result = sh("run", "pinged", "--wait")
    assert result.code == 0
    rid = result.out.strip()
    wait_until(lambda: len(hits) >= 2, 10)
    assert [path for path, _ in hits] == [f"/ping/abc/start?rid={rid}", f"/ping/abc?rid={rid}"]
    assert b"backup-done" in hits[1][1]


def test_ping_start_then_fail_with_the_exit_status(sh, cli, server):
    url, hits = server
    cli(
        "add", "broken", "--every", "1d", "--command", "sh -c 'echo bad; exit 2'", "--ping-url", url
    )
    result = sh("run", "broken", "--wait")
    assert result.code == 1
    rid = result.out.strip()
    wait_until(lambda: len(hits) >= 2, 10)
    assert [path for path, _ in hits] == [f"/ping/abc/start?rid={rid}", f"/ping/abc/2?rid={rid}"]
    assert b"bad" in hits[1][1]


def test_dead_ping_url_never_fails_the_job(sh, cli):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cli(
        "add",
        "lonely",
        "--every",
        "1d",
        "--command",
        "true",
        "--ping-url",
        f"http://127.0.0.1:{port}/nobody",
    )
    result = sh("run", "lonely", "--wait")
    assert result.code == 0, result.err
    entry = cli("logs", "lonely", "--json").json()["logs"][0]
    assert entry["status"] == "success"
    assert "ping http://127.0.0.1" in cli("output", entry["execution_id"]).out


def test_notify_command_gets_the_run_in_its_environment(sh, cli, tmp_path: Path):
    seen = tmp_path / "notified.txt"
    cli(
        "add",
        "alarm",
        "--every",
        "1d",
        "--command",
        "sh -c 'exit 4'",
        "--notify-command",
        f"sh -c 'env | grep ^TAPESCHED_ | sort > {seen}'",
    )
    result = sh("run", "alarm", "--wait")
    assert result.code == 1
    execution_id = result.out.strip()
    values = dict(line.split("=", 1) for line in seen.read_text().splitlines())
    assert values["TAPESCHED_TASK"] == "alarm"
    assert values["TAPESCHED_EXECUTION_ID"] == execution_id
    assert values["TAPESCHED_STATUS"] == "failed"
    assert values["TAPESCHED_ERROR"] == "command exited with 4"
    assert Path(values["TAPESCHED_OUTPUT"]).name == f"{execution_id}.log"


def test_notify_on_failure_stays_quiet_on_success_unless_always(sh, cli, tmp_path: Path):
    seen = tmp_path / "calls.txt"
    command = f"sh -c 'echo $TAPESCHED_STATUS >> {seen}'"
    cli("add", "fine", "--every", "1d", "--command", "true", "--notify-command", command)
    assert sh("run", "fine", "--wait").code == 0
    assert not seen.exists()
    assert cli("edit", "fine", "--notify-on", "always").code == 0
    assert sh("run", "fine", "--wait").code == 0
    assert seen.read_text() == "success\n"


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("--ping-url", "ftp://x.example/y", "ping_url"),
        ("--notify-on", "sometimes", "notify_on"),
        ("--notify-command", "'unclosed", "notify_command"),
    ],
)
def test_bad_notification_options_refused(run_cli, option, value, words):
    result = run_cli("add", "x", "--daily", "02:00", "--command", "true", option, value)
    assert result.code == 2 and words in result.err


# --------------------------------------------------------------------------- hostile endpoints


def store_ping_url(home: Path, task: str, url: str) -> None:
    """Store a ping URL as it may already be in a database (add/edit would refuse some)."""
    connection = sqlite3.connect(home / "tapesched.db")
    with connection:
        connection.execute("UPDATE tasks SET ping_url = ? WHERE task_name = ?", (url, task))
    connection.close()


@contextlib.contextmanager
def endpoint(kind: str):  # noqa: ANN201 - a ping URL that fails in the named way
    """A URL whose ping fails: a raw server misbehaving, or a URL that cannot work."""
    if kind in hostile_servers.BEHAVIOURS:
        with hostile_servers.raw(kind) as server:
            yield f"http://127.0.0.1:{server.port}/ping/uuid?create=1"
        return
    with hostile_servers.recording() as server:
        port = server.url.split(":")[2].split("/")[0]
        yield {
            "tls_to_plain_http": f"https://127.0.0.1:{port}/ping/uuid",
            "space_in_url": f"http://127.0.0.1:{port}/ping/a uuid",
            "newline_in_url": f"http://127.0.0.1:{port}/ping/uuid\r\nX-Injected: 1",
            "not_http": "file:///etc/passwd",
        }[kind]
        assert server.hits == []  # nothing reached it, not even a half-request


# The in-process tests (tests/integration/test_pings.py) try every kind; here, through a real
# runner, the ones that used to stop it, and the slow ones.
KINDS = [
    "garbage", "reset", "hang_up", "silent", "trickle", "redirect_loop", "redirect_to_file",
    "tls_to_plain_http", "space_in_url", "newline_in_url", "not_http",
]  # fmt: skip
FAST = {"TAPESCHED_PING_TIMEOUT": "1"}


@pytest.mark.parametrize("kind", KINDS)
def test_a_ping_that_cannot_be_sent_never_stops_the_job(sh, cli, home, kind):
    cli("add", "steady", "--every", "1d", "--command", "echo the-job-ran")
    with endpoint(kind) as url:
        store_ping_url(home, "steady", url)
        result = sh("run", "steady", "--wait", env=FAST)
    assert result.code == 0, result.err
    assert result.err == ""
    [entry] = cli("logs", "steady", "--json").json()["logs"]
    assert entry["status"] == "success"
    output = cli("output", entry["execution_id"]).out
    assert "the-job-ran" in output and "Traceback" not in output
    notes = [line for line in output.splitlines() if line.startswith("tapesched: ping ")]
    assert len(notes) == 2, output  # the start and the success ping, one line each
    assert all(" failed: " in line for line in notes)


@pytest.mark.parametrize("kind", ["garbage", "silent"])
def test_a_failing_job_with_a_broken_ping_still_reports_its_failure(sh, cli, home, kind):
    cli("add", "sinking", "--every", "1d", "--command", "sh -c 'echo sinking; exit 6'")
    with endpoint(kind) as url:
        store_ping_url(home, "sinking", url)
        result = sh("run", "sinking", "--wait", env=FAST)
    assert result.code == 1
    assert result.err.startswith("tapesched: failed: command exited with 6\n")
    [entry] = cli("logs", "sinking", "--json").json()["logs"]
    assert entry["status"] == "failed" and entry["result"]["exit_code"] == 6


@pytest.mark.parametrize(
    "command",
    ["'unclosed", "/nonexistent/notifier", "nul\x00byte"],
)
def test_a_notify_command_that_fails_never_changes_the_outcome(sh, cli, home, command):
    cli("add", "noisy", "--every", "1d", "--command", "sh -c 'exit 3'")
    connection = sqlite3.connect(home / "tapesched.db")
    with connection:
        connection.execute(
            "UPDATE tasks SET notify_command = ? WHERE task_name = 'noisy'", (command,)
        )
    connection.close()
    result = sh("run", "noisy", "--wait")
    assert result.code == 1
    assert result.err.startswith("tapesched: failed: command exited with 3\n")
    [entry] = cli("logs", "noisy", "--json").json()["logs"]
    assert entry["status"] == "failed"
    output = cli("output", entry["execution_id"]).out
    assert output.count("tapesched: notify command") == 1, output
    assert "Traceback" not in output


def test_pings_keep_the_query_and_carry_text_plain(sh, cli):
    with hostile_servers.recording("/ping/uuid?create=1") as server:
        cli(
            "add", "query", "--every", "1d", "--command", "echo tail-line", "--ping-url", server.url
        )
        result = sh("run", "query", "--wait")
        assert result.code == 0
        rid = result.out.strip()
        assert server.paths() == [
            f"/ping/uuid/start?create=1&rid={rid}",
            f"/ping/uuid?create=1&rid={rid}",
        ]
    start, end = server.hits
    plain = "text/plain; charset=utf-8"
    assert start.headers["Content-Type"] == end.headers["Content-Type"] == plain
    assert b"tail-line" in end.body and start.body == b""


def test_a_run_that_times_out_in_its_runner_pings_fail(sh, cli):
    with hostile_servers.recording() as server:
        cli("add", "late", "--every", "1d", "--timeout", "1", "--command", "sleep 30")
        store = cli("edit", "late", "--ping-url", server.url)
        assert store.code == 0
        result = sh("run", "late", "--wait")
        assert result.code == 1
        rid = result.out.strip()
        assert server.paths() == [f"/ping/abc/start?rid={rid}", f"/ping/abc/fail?rid={rid}"]
