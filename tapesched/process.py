"""The one place that spawns, signals and checks processes, and takes file locks."""

from __future__ import annotations

import errno
import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


class FileLock:
    """An flock(2) on a file, held until release() or process exit (even SIGKILL)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = None

    def acquire(self, wait: float = 0.0, poll: float = 0.1) -> bool:
        """Try to take the lock, retrying for up to `wait` seconds; return whether held."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self.fd = fd
                return True
            except OSError as error:
                if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise
            if time.monotonic() >= deadline:
                os.close(fd)
                return False
            time.sleep(min(poll, max(0.0, deadline - time.monotonic())))

    def release(self, unlink: bool = False) -> None:
        if self.fd is None:
            return
        if unlink:
            try:
                self.path.unlink()
            except OSError:
                pass
        os.close(self.fd)
        self.fd = None


def check_lock_file(path: Path) -> bool:
    """Make sure a lock file can be taken at `path` (its folder made 0700, the file opened
    read-write, created 0600); return whether this call created it. Raise OSError, with
    the path that failed, if it cannot (a folder that is a file, a lock that is a
    folder, no permission, a full disk)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        created = True
    except FileExistsError:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        created = False
    os.close(fd)
    return created


def lock_is_held(path: Path) -> bool:
    """Whether some process holds the lock at `path` (a missing file is free). Raise
    OSError if the path cannot be opened as a lock (a folder in its place, say)."""
    if not path.exists():
        return False
    probe = FileLock(path)
    if probe.acquire():
        probe.release()
        return False
    return True


def process_start_time(pid: int) -> str | None:
    """The start time of `pid` in clock ticks since boot (from /proc), or None."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: split after the last ')'.
    fields = raw.rsplit(")", 1)[1].split()
    if not fields or fields[0] in ("Z", "X"):  # a zombie has finished
        return None
    return fields[19] if len(fields) > 19 else None


def is_same_process(pid: int | None, start_time: str | None) -> bool:
    """Whether `pid` is alive and is the process that started at `start_time`."""
    if not pid:
        return False
    current = process_start_time(pid)
    if current is None:
        return False
    return start_time is None or current == start_time


def spawn_detached(argv: list[str], log_path: Path, env: dict[str, str] | None = None) -> int:
    """Start argv in a new session, stdin from /dev/null, stdout and stderr to log_path (0600).

    The caller does not wait: the child outlives it. Children started earlier that
    have exited are reaped first, so a tick launching many runners holds no zombies.
    """
    _reap()
    log_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    try:
        child = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=fd,
            stderr=fd,
            start_new_session=True,
            close_fds=True,
            env=env,
        )
    finally:
        os.close(fd)
    track(child)
    return child.pid


_children: list[subprocess.Popen] = []


def track(child: subprocess.Popen) -> None:
    """Reap this child while waiting on process groups: a zombie leader still counts as
    a member of its group, and would make a stopped group look alive."""
    _children.append(child)


def runner_argv(db: str, execution_id: str) -> list[str]:
    """The runner's command line: this interpreter, this package, the same database."""
    return [sys.executable, "-m", "tapesched", "--db", str(db), "_run", execution_id]


def start_in_group(
    argv: list[str],
    *,
    cwd: str | Path | None = None,
    env: dict[str, str] | None = None,
    stdin: Any = subprocess.DEVNULL,
    stdout: Any = None,
    stderr: Any = None,
    text: bool = False,
) -> subprocess.Popen:
    """Start argv as the leader of a new process group (its pid is the group id), tracked
    for reaping. Raise OSError (FileNotFoundError, PermissionError, ...) if it cannot start."""
    child = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        start_new_session=True,
        close_fds=True,
        text=text,
    )
    track(child)
    return child


def run_command(
    argv: list[str],
    *,
    env: dict[str, str] | None = None,
    cwd: str | Path | None = None,
    input: str | None = None,
    stdout: Any = subprocess.PIPE,
    stderr: Any = subprocess.PIPE,
    timeout: float | None = None,
) -> subprocess.CompletedProcess:
    """Run a short command to its end (stdin closed unless `input` is given); return its
    exit code and output. Raise OSError if it cannot start, subprocess.TimeoutExpired
    (after killing it) if it overruns `timeout`."""
    return subprocess.run(
        argv,
        env=env,
        cwd=cwd,
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
        timeout=timeout,
        text=True,
        close_fds=True,
    )


def signal_process(pid: int, signum: int) -> bool:
    """Send signum to one process; False if it no longer exists."""
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        return False
    return True


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def signal_group(pgid: int, signum: int) -> bool:
    """Send signum to a process group; False if it no longer exists."""
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    return True


def terminate_group(pgid: int, grace: float, poll: float = 0.05) -> bool:
    """SIGTERM the group, SIGKILL it after `grace` seconds if any member is left.

    Return True if SIGKILL was needed.
    """
    if not signal_group(pgid, signal.SIGTERM):
        return False
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        _reap()
        if not group_alive(pgid):
            return False
        time.sleep(poll)
    signal_group(pgid, signal.SIGKILL)
    end = time.monotonic() + 5
    while group_alive(pgid) and time.monotonic() < end:
        _reap()
        time.sleep(poll)
    return True


def _reap() -> None:
    for child in list(_children):
        if child.poll() is not None:
            _children.remove(child)


def wait_gone(pid: int, start_time: str | None, timeout: float, poll: float = 0.05) -> bool:
    """Wait until the process is gone; return whether it is."""
    deadline = time.monotonic() + timeout
    while is_same_process(pid, start_time):
        _reap()
        if time.monotonic() >= deadline:
            return False
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(poll)
    return True
