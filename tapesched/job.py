"""What an action sees while it runs: its output, its processes, its deadline.

Actions run inside the runner. Every external command goes through
JobContext.run, which starts it in its own process group, records its pid so
`stop` can reach it, enforces the execution's timeout and turns a
cancellation into TERM, grace, KILL of the whole group.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from tapesched import process
from tapesched.errors import ActionFailed, Cancelled, JobInterrupted, LeaseLost, TimedOut


@dataclass
class JobContext:
    execution_id: str
    task: Any  # the task's TaskRecord
    paths: Any  # StatePaths
    db: Any  # the open catalog (tapesched.store.db.Database)
    output: IO[str]
    now: Callable[[], datetime]
    timeout: float | None = None
    grace: float = 10.0
    on_spawn: Callable[[int], None] | None = None
    # The run's slot on the schedule (aware UTC; a manual run's: when it was asked for),
    # its trigger, its attempt in a series of retries (1 for the first), and the backup
    # level a manual run asked for (`run --level`), else None.
    scheduled_for: datetime | None = None
    trigger: str = "schedule"
    attempt: int = 1
    level: str | None = None
    started: float = field(default_factory=time.monotonic)
    cancelled: bool = False
    aborted: str | None = None  # why the job must stop now (its lease is lost)
    current_group: int | None = None
    # The job is over (run_after_end): a cancellation or an abort no longer stops commands.
    ended: bool = False

    def log(self, message: str) -> None:
        self.output.write(f"tapesched: {message}\n")
        self.output.flush()

    def remaining(self) -> float | None:
        if self.timeout is None:
            return None
        return self.timeout - (time.monotonic() - self.started)

    def check(self) -> None:
        """Raise Cancelled, LeaseLost or TimedOut if the run must end now (once the job is
        over, only TimedOut: see run_after_end)."""
        if self.cancelled and not self.ended:
            raise Cancelled()
        if self.aborted is not None and not self.ended:
            raise LeaseLost(self.aborted)
        remaining = self.remaining()
        if remaining is not None and remaining <= 0:
            raise TimedOut()

    def cancel(self) -> None:
        """Called from the SIGTERM handler: mark cancelled and TERM the job's group."""
        self.cancelled = True
        if self.current_group is not None and not self.ended:
            process.signal_group(self.current_group, signal.SIGTERM)

    def abort(self, reason: str) -> None:
        """Called from the lease keeper's thread: the run must end now, for `reason`; TERM
        the job's group (the watching loop then ends the whole group and raises)."""
        self.aborted = reason
        group = self.current_group
        if group is not None and not self.ended:
            process.signal_group(group, signal.SIGTERM)

    def run(
        self,
        argv: list[str],
        *,
        cwd: str | Path | None = None,
        env: dict[str, str] | None = None,
        stdin: int | IO[Any] | None = subprocess.DEVNULL,
        stdout: int | IO[Any] | None = None,
        capture: bool = False,
    ) -> tuple[int, str]:
        """Run argv in its own process group; return (exit code, captured stdout).

        Output goes to the execution's log unless captured. Raise Cancelled or
        TimedOut (after stopping the whole group), or ActionFailed if the
        program cannot be started.
        """
        child = self._start(argv, cwd=cwd, env=env, stdin=stdin, stdout=stdout, capture=capture)
        captured: list[str] = []
        try:
            if capture:
                # Small outputs only (mt status): read all, the deadline still applies.
                out, _ = self._communicate(child)
                captured.append(out or "")
            else:
                while child.poll() is None:
                    self._watch(child)
                    time.sleep(0.05)
            self._watch(child)
        finally:
            self.current_group = None
        return child.returncode, "".join(captured)

    def run_after_end(
        self,
        argv: list[str],
        *,
        seconds: float | None,
        grace: float | None = None,
        env: dict[str, str] | None = None,
    ) -> tuple[int, str]:
        """Run argv as `run` does, once the job is over (an after hook): with a deadline of
        its own, `seconds` from now (None: none), and deaf from now on to the run's
        cancellation and abort, which the job has already obeyed (`stop` still reaches it
        through its recorded pid). Raise TimedOut if it overruns, after stopping its group
        with `grace` seconds (default: the context's) from TERM to KILL."""
        saved = self.started, self.timeout, self.grace
        self.ended = True
        self.started, self.timeout = time.monotonic(), seconds
        if grace is not None:
            self.grace = grace
        try:
            return self.run(argv, env=env)
        finally:
            self.started, self.timeout, self.grace = saved

    @contextlib.contextmanager
    def stream(
        self,
        argv: list[str],
        *,
        env: dict[str, str] | None = None,
        stdin: int | IO[Any] | None = subprocess.DEVNULL,
        stdout: int | IO[Any] | None = None,
    ) -> Iterator[subprocess.Popen]:
        """Start argv in its own process group, with a pipe (stdin or stdout=PIPE) that the
        caller pumps, calling check() as it goes; on leaving, wait for it to end as `run`
        does (deadline, cancellation). If the caller raises, the whole group is ended.
        Its exit code is then the child's returncode."""
        child = self._start(argv, env=env, stdin=stdin, stdout=stdout)
        try:
            yield child
            for pipe in (child.stdin, child.stdout):
                if pipe is not None:
                    with contextlib.suppress(OSError):
                        pipe.close()
            while child.poll() is None:
                self._watch(child)
                time.sleep(0.02)
            self._watch(child)
        except BaseException:
            process.terminate_group(child.pid, self.grace)
            child.wait()
            raise
        finally:
            self.current_group = None

    def _start(
        self,
        argv: list[str],
        *,
        cwd: str | Path | None = None,
        env: dict[str, str] | None = None,
        stdin: int | IO[Any] | None = subprocess.DEVNULL,
        stdout: int | IO[Any] | None = None,
        capture: bool = False,
    ) -> subprocess.Popen:
        self.check()
        self.output.flush()
        try:
            child = process.start_in_group(
                argv,
                cwd=cwd,
                env=env,
                stdin=stdin,
                stdout=subprocess.PIPE if capture else (stdout or self.output),
                stderr=self.output,
                text=capture,
            )
        except FileNotFoundError:
            raise ActionFailed(f"command not found: {argv[0]}") from None
        except PermissionError:
            raise ActionFailed(f"command not executable: {argv[0]}") from None
        except NotADirectoryError:
            raise ActionFailed(f"working directory is not a directory: {cwd}") from None
        self.current_group = child.pid
        if self.on_spawn:
            self.on_spawn(child.pid)
        return child

    def _communicate(self, child: subprocess.Popen) -> tuple[str, str]:
        while True:
            try:
                return child.communicate(timeout=0.1)
            except subprocess.TimeoutExpired:
                self._watch(child)

    def _watch(self, child: subprocess.Popen) -> None:
        try:
            self.check()
        except JobInterrupted:
            process.terminate_group(child.pid, self.grace)
            child.wait()
            raise
        if child.returncode is not None and process.group_alive(child.pid):
            # The leader is gone; members it left behind belong to the job and end with it.
            self.log(f"stopping processes the job left behind (process group {child.pid})")
            process.terminate_group(child.pid, min(self.grace, 2.0))
