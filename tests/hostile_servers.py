"""Real servers on 127.0.0.1 that a ping may meet: one that records Healthchecks pings, and
raw TCP servers that misbehave (bytes that are not HTTP, a reset, silence, a trickle, a
redirect loop, ...). Importable as `hostile_servers` (pytest's pythonpath has tests/)."""

from __future__ import annotations

import contextlib
import http.server
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field


@dataclass
class Hit:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Recording:
    """A Healthchecks-like endpoint: answers 200 "OK" and keeps every request."""

    url: str
    hits: list[Hit] = field(default_factory=list)

    def paths(self) -> list[str]:
        return [hit.path for hit in self.hits]


@contextlib.contextmanager
def recording(path: str = "/ping/abc", status: int = 200) -> Iterator[Recording]:
    """An HTTP server that records each request and answers `status`."""
    record = Recording("")

    class Handler(http.server.BaseHTTPRequestHandler):
        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            record.hits.append(Hit(self.command, self.path, dict(self.headers.items()), body))
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"OK")

        do_POST = do_GET = do_HEAD = _any  # noqa: N815 - http.server's names

        def log_message(self, *args) -> None:  # noqa: ANN002 - keep test output clean
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    record.url = f"http://127.0.0.1:{httpd.server_address[1]}{path}"
    try:
        yield record
    finally:
        httpd.shutdown()
        httpd.server_close()


class RawServer:
    """A TCP server on 127.0.0.1 that hands each connection to `behave(conn, stop)`."""

    def __init__(self, behave: Callable[[socket.socket, threading.Event], None]) -> None:
        self.behave = behave
        self.stop = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self._open: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            self._open.append(conn)
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            self.behave(conn, self.stop)
        except OSError:
            pass

    def close(self) -> None:
        self.stop.set()
        self._thread.join(5)
        self.listener.close()
        for conn in self._open:
            with contextlib.suppress(OSError):
                conn.close()


def read_request(conn: socket.socket) -> bytes:
    """Read until the end of the request's headers (or 64 kB, or a pause)."""
    conn.settimeout(2)
    data = b""
    with contextlib.suppress(OSError):
        while b"\r\n\r\n" not in data and len(data) < 65536:
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
    return data


def _garbage(conn: socket.socket, stop: threading.Event) -> None:
    read_request(conn)
    conn.sendall(b"\x00\xff\xfeSSH-2.0-OpenSSH_9.0 not http at all\r\n\r\n")
    conn.close()


def _reset(conn: socket.socket, stop: threading.Event) -> None:
    read_request(conn)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()  # RST instead of FIN


def _hang_up(conn: socket.socket, stop: threading.Event) -> None:
    read_request(conn)
    conn.close()  # no answer at all: RemoteDisconnected


def _silent(conn: socket.socket, stop: threading.Event) -> None:
    read_request(conn)
    stop.wait(60)  # never answers


def _trickle(conn: socket.socket, stop: threading.Event) -> None:
    """A status line, then a header one byte at a time, forever: every read succeeds
    within any per-read timeout, so only a deadline on the whole exchange ends it."""
    read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
    while not stop.wait(0.05):
        conn.sendall(b"a")


def _endless_headers(conn: socket.socket, stop: threading.Event) -> None:
    read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\n" + b"X-Many: yes\r\n" * 500 + b"\r\nOK")
    conn.close()


def _huge_line(conn: socket.socket, stop: threading.Event) -> None:
    read_request(conn)
    conn.sendall(b"HTTP/1.1 200 " + b"O" * 100_000 + b"\r\n\r\n")
    conn.close()


def _redirect_loop(conn: socket.socket, stop: threading.Event) -> None:
    request = read_request(conn)
    path = request.split(b" ", 2)[1] if request.count(b" ") >= 2 else b"/"
    other = b"/b" if path.startswith(b"/a") else b"/a"
    conn.sendall(
        b"HTTP/1.1 302 Found\r\nLocation: " + other + b"\r\nContent-Length: 0\r\n"
        b"Connection: close\r\n\r\n"
    )
    conn.close()


def _redirect_to_file(conn: socket.socket, stop: threading.Event) -> None:
    read_request(conn)
    conn.sendall(
        b"HTTP/1.1 302 Found\r\nLocation: file:///etc/passwd\r\nContent-Length: 0\r\n"
        b"Connection: close\r\n\r\n"
    )
    conn.close()


def _server_error(conn: socket.socket, stop: threading.Event) -> None:
    read_request(conn)
    conn.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n")
    conn.close()


BEHAVIOURS: dict[str, Callable[[socket.socket, threading.Event], None]] = {
    "garbage": _garbage,
    "reset": _reset,
    "hang_up": _hang_up,
    "silent": _silent,
    "trickle": _trickle,
    "endless_headers": _endless_headers,
    "huge_line": _huge_line,
    "redirect_loop": _redirect_loop,
    "redirect_to_file": _redirect_to_file,
    "server_error": _server_error,
}
SLOW = {"silent", "trickle"}  # these need the ping timeout to end them


@contextlib.contextmanager
def raw(kind: str) -> Iterator[RawServer]:
    server = RawServer(BEHAVIOURS[kind])
    try:
        yield server
    finally:
        server.close()


def free_port() -> int:
    """A port nothing listens on (connections are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
