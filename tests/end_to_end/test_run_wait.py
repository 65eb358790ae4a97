"""`run --wait` as an operator meets it (issue 9, class 7): a failure shows the end of the
job's output, Ctrl-C leaves the job running and says how to follow it, and `delete`
without a terminal needs --yes. Real processes, a real pseudo-terminal."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import subprocess
import sys
import termios
import time

from helpers import dump, wait_until


def add(sh, name: str, *options: str) -> None:
    result = sh("add", name, *options)
    assert result.code == 0, result.err


def running_job(sh, task: str) -> dict:
    def started():
        entries = sh("logs", task, "--json").json()["logs"]
        entries = [e for e in entries if e["status"] == "running" and e["job_pid"]]
        return entries[0] if entries else None

    return wait_until(started)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_failed_run_prints_the_last_lines_of_its_output(sh):
    job = (
        "sh -c 'for i in $(seq 1 30); do echo line $i; done; "
        'printf "\\033]0;pwned\\007\\033[2Jred\\n"; echo "tab\there"; exit 3\''
    )
    add(sh, "noisy", "--every", "1d", "--command", job)
    result = sh("run", "noisy", "--wait")
    assert result.code == 1
    execution_id = result.out.strip()
    error, header, *tail = result.err.splitlines()
    assert error == "tapesched: failed: command exited with 3"
    assert header == (
        f"tapesched: the last 10 lines of its output (all of it: tapesched output {execution_id}):"
    )
    assert len(tail) == 10 and all(line.startswith("    ") for line in tail)
    assert "    line 30" in tail and "    line 20" not in tail
    assert "\x1b" not in result.err and "\x07" not in result.err  # no terminal control
    assert any("red" in line for line in tail) and "    tab here" in tail
    assert "line 30" in sh("output", "noisy").out  # the whole of it, by task


def test_a_quick_failure_shows_what_little_there_is(sh):
    add(sh, "quick", "--every", "1d", "--command", "false")
    result = sh("run", "quick", "--wait")
    assert result.code == 1
    lines = result.err.splitlines()
    assert lines[0] == "tapesched: failed: command exited with 1"
    assert lines[1].startswith("tapesched: the last ") and len(lines) <= 12
    assert sh("run", "quick", "--wait", "--json").err == ""  # --json: the JSON says it


def read_until(fd: int, marker: bytes, timeout: float = 30) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while marker not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"{marker!r} not seen in {seen!r}"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    return seen


def drain(fd: int) -> bytes:
    seen = b""
    while select.select([fd], [], [], 0.5)[0]:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    return seen


def test_ctrl_c_on_the_terminal_leaves_the_job_running(sh, home):
    add(sh, "slow", "--every", "1d", "--command", "sleep 60")
    controller, terminal = pty.openpty()

    def own_the_terminal() -> None:  # in the child, a session leader: make it its terminal
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    waiting = subprocess.Popen(
        [sys.executable, "-m", "tapesched", "run", "slow", "--wait"],
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=terminal,
        start_new_session=True,
        preexec_fn=own_the_terminal,  # noqa: PLW1509 - a test, no threads here
    )
    os.close(terminal)
    try:
        execution_id = waiting.stdout.readline().decode().strip()
        seen = read_until(controller, b"running: ")  # the live line: the runner has started
        os.write(controller, b"\x03")  # Ctrl-C: SIGINT to the terminal's foreground group
        waiting.wait(timeout=30)
        seen += drain(controller)
    finally:
        if waiting.poll() is None:
            waiting.kill()
        os.close(controller)
    text = seen.decode(errors="replace").replace("\r\n", "\n")
    assert waiting.returncode == 130
    line = (
        f"tapesched: interrupted; the job goes on (execution {execution_id}); "
        f"follow it with 'tapesched output {execution_id} --follow'\n"
    )
    assert line in text and "Traceback" not in text
    job = running_job(sh, "slow")  # the job goes on
    assert job["execution_id"] == execution_id and alive(job["job_pid"])
    stopped = sh("stop", "slow", "--grace", "1")
    assert stopped.code == 0, stopped.err


def test_sigint_without_a_terminal_says_the_same(sh, home):
    add(sh, "slow", "--every", "1d", "--command", "sleep 60")
    waiting = subprocess.Popen(
        [sys.executable, "-m", "tapesched", "run", "slow", "--wait"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        execution_id = waiting.stdout.readline().decode().strip()
        job = running_job(sh, "slow")
        waiting.send_signal(signal.SIGINT)
        _, err = waiting.communicate(timeout=30)
    finally:
        if waiting.poll() is None:
            waiting.kill()
    assert waiting.returncode == 130
    assert err.decode() == (
        f"tapesched: interrupted; the job goes on (execution {execution_id}); "
        f"follow it with 'tapesched output {execution_id} --follow'\n"
    )
    assert alive(job["job_pid"])
    assert sh("stop", "slow", "--grace", "1").code == 0


def test_delete_in_a_real_process_without_a_terminal_needs_yes(sh, home):
    add(sh, "precious", "--daily", "02:00", "--command", "true")
    before = dump(home / "tapesched.db")
    done = subprocess.run(
        [sys.executable, "-m", "tapesched", "delete", "precious"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("tapesched: delete: ")
    assert "--yes" in done.stderr and done.stdout == ""
    assert dump(home / "tapesched.db") == before
    assert sh("delete", "precious", "--yes").code == 0
