"""Healthchecks-style pings to a real HTTP server on 127.0.0.1, and the notify command."""

from __future__ import annotations

import http.server
import socket
import threading
from pathlib import Path

import pytest
from helpers import wait_until


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
def server():
    Recorder.hits = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/ping/abc", Recorder.hits
    httpd.shutdown()
    httpd.server_close()


def test_ping_start_then_success_with_output_tail(sh, server):
    url, hits = server
    sh("add", "pinged", "--every", "1d", "--command", "echo backup-done", "--ping-url", url)
    assert sh("run", "pinged", "--wait").code == 0
    wait_until(lambda: len(hits) >= 2, 10)
    assert [path for path, _ in hits] == ["/ping/abc/start", "/ping/abc"]
    assert b"backup-done" in hits[1][1]


def test_ping_start_then_fail(sh, server):
    url, hits = server
    sh("add", "broken", "--every", "1d", "--command", "sh -c 'echo bad; exit 2'", "--ping-url", url)
    assert sh("run", "broken", "--wait").code == 1
    wait_until(lambda: len(hits) >= 2, 10)
    assert [path for path, _ in hits] == ["/ping/abc/start", "/ping/abc/fail"]
    assert b"bad" in hits[1][1]


def test_dead_ping_url_never_fails_the_job(sh):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sh(
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
    entry = sh("logs", "lonely", "--json").json()["logs"][0]
    assert entry["status"] == "success"
    assert "ping http://127.0.0.1" in sh("output", entry["execution_id"]).out


def test_notify_command_gets_the_run_in_its_environment(sh, tmp_path: Path):
    seen = tmp_path / "notified.txt"
    sh(
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


def test_notify_on_failure_stays_quiet_on_success_unless_always(sh, tmp_path: Path):
    seen = tmp_path / "calls.txt"
    command = f"sh -c 'echo $TAPESCHED_STATUS >> {seen}'"
    sh("add", "fine", "--every", "1d", "--command", "true", "--notify-command", command)
    assert sh("run", "fine", "--wait").code == 0
    assert not seen.exists()
    assert sh("edit", "fine", "--notify-on", "always").code == 0
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
