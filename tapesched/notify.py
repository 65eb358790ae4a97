"""Telling the outside world: Healthchecks-style pings and a notification command.

Neither may ever fail or stop a job: ping, run_notify_command and announce
catch every problem, write one line about it to the job's output log and
return. A ping runs in a worker thread with one deadline for the whole
exchange (name lookup, connection, TLS, redirects, the answer), so a server
that answers slowly, never, or with something that is not HTTP costs at most
the ping timeout.

Pings follow the Healthchecks protocol: `URL/start` when a run starts; `URL`
on success; `URL/<exit code>` (1-255) on a failure that has one; `URL/fail` on
any other failure, a cancellation, a lost or timed-out run. A query string in
the URL stays after the path, and `rid=<execution id>` is merged into it, so
the start and the end of a run pair up. The body is the tail of the job's
output, as `text/plain; charset=utf-8`.

Whoever records a run's outcome (the runner, tick's reconcile, `stop`)
announces it, once: announce() sends the final ping and runs the notify
command.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tapesched import process

PING_TIMEOUT = 10.0
NOTIFY_TIMEOUT = 60.0
TAIL_BYTES = 10_000
PING_SCHEMES = ("http://", "https://")
_MAX_REDIRECTS = 4


def ping_timeout(environ: dict[str, str] | None = None) -> float:
    """Seconds a ping may take in all (TAPESCHED_PING_TIMEOUT, default 10, 0.1-300)."""
    env = os.environ if environ is None else environ
    try:
        value = float(env.get("TAPESCHED_PING_TIMEOUT", PING_TIMEOUT))
    except ValueError:
        return PING_TIMEOUT
    if value != value:  # NaN
        return PING_TIMEOUT
    return min(300.0, max(0.1, value))


def tail(path: str | None, limit: int = TAIL_BYTES) -> bytes:
    """The last `limit` bytes of a log file (empty if there is none)."""
    if not path:
        return b""
    try:
        with open(path, "rb") as log:
            log.seek(0, os.SEEK_END)
            size = log.tell()
            log.seek(max(0, size - limit))
            return log.read()
    except (OSError, ValueError):
        return b""


def exit_code_of(result: Any) -> int | None:
    """The job's exit status from an action's result (`exit_code`), if it has one."""
    if isinstance(result, dict):
        code = result.get("exit_code")
        if isinstance(code, int) and not isinstance(code, bool):
            return code
    return None


def ping_target(
    url: str, event: str, run_id: str | None = None, exit_code: int | None = None
) -> str:
    """Given the task's ping URL, the event (start, success, fail, or log: an attempt that
    will be retried), the run id and the job's exit status, return the URL to ping.

    The suffix goes after the path, before the query: `.../uuid/start?create=1`. A fragment
    is dropped (it is never sent anyway). `rid=RUN_ID` replaces any rid in the query and
    goes last. Failure reports `/<code>` for an exit status of 1-255 and `/fail` otherwise
    (no status, a signal, or 0 when 0 is not a success); success is the URL itself, since
    a task may count a nonzero status as success. Plain string work: never raises.
    """
    address = url.split("#", 1)[0]
    path, _, query = address.partition("?")
    if event in ("start", "log"):
        suffix = f"/{event}"
    elif event == "success":
        suffix = ""
    elif exit_code is not None and 1 <= exit_code <= 255:
        suffix = f"/{exit_code}"
    else:
        suffix = "/fail"
    base = path.rstrip("/") + suffix
    _, found, rest = base.partition("://")
    if found and "/" not in rest:
        base += "/"  # http://host?rid=... would have no path to request
    parts = [part for part in query.split("&") if part and part.split("=", 1)[0] != "rid"]
    if run_id:
        parts.append(f"rid={_quote(run_id)}")
    return base + ("?" + "&".join(parts) if parts else "")


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="", errors="backslashreplace")


def one_line(text: str, limit: int = 500) -> str:
    """Text made safe for one line of a log: control characters escaped, length bounded."""
    shown = "".join(
        char if char.isprintable() else char.encode("unicode_escape").decode("ascii")
        for char in text
    )
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def note(log: IO[str] | None, message: str) -> None:
    """Write one `tapesched: ...` line to the job's output; never raises."""
    if log is None:
        return
    try:
        log.write(f"tapesched: {one_line(message, 1000)}\n")
        log.flush()
    except Exception:  # noqa: BLE001, S110 - a log that cannot be written loses the note only
        pass


def ping(
    url: str,
    event: str,
    body: bytes,
    log: IO[str] | None,
    *,
    run_id: str | None = None,
    exit_code: int | None = None,
    timeout: float | None = None,
) -> bool:
    """POST the body to the event's URL; return whether it was delivered. Any problem
    (a bad URL, no answer within the timeout, an answer that is not HTTP or not 2xx, TLS,
    a reset, a redirect loop, ...) is noted in the log and returns False. Never raises."""
    try:
        target = ping_target(url, event, run_id, exit_code)
        limit = ping_timeout() if timeout is None else timeout
        if not target.lower().startswith(PING_SCHEMES):
            problem: str | None = "not an http:// or https:// URL"
        else:
            problem = _deliver(target, _text(body), limit)
    except Exception as error:  # noqa: BLE001 - a ping must never stop a job
        target, problem = str(url), _describe(error)
    if problem is None:
        return True
    note(log, f"ping {one_line(target, 300)} failed: {problem}")
    return False


def _text(body: bytes) -> bytes:
    """The body as valid UTF-8 (a tail may start inside a character; output may be binary)."""
    return body.decode("utf-8", errors="replace").encode("utf-8")


def _deliver(target: str, body: bytes, timeout: float) -> str | None:
    """Send the ping in a worker thread and wait for it at most `timeout` seconds; return
    None when delivered, else what went wrong."""
    import threading  # here: most runs never ping

    outcome: list[str | None] = []

    def attempt() -> None:
        try:
            _post(target, body, timeout)
            outcome.append(None)
        except BaseException as error:  # noqa: BLE001 - reported by the caller
            # The socket's own timeout may fire just before the wait below ends: the same
            # fact, said the same way.
            timed_out = isinstance(error, TimeoutError) or isinstance(
                getattr(error, "reason", None), TimeoutError
            )
            outcome.append(f"no answer within {timeout:g}s" if timed_out else _describe(error))

    worker = threading.Thread(target=attempt, name="tapesched-ping", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive() or not outcome:
        return f"no answer within {timeout:g}s"
    return outcome[0]


def _post(target: str, body: bytes, timeout: float) -> None:
    import urllib.request  # here: http and ssl cost start-up time, and most runs never ping

    class Redirects(urllib.request.HTTPRedirectHandler):
        """Follow a few redirects, to http(s) only (never file:// or ftp://)."""

        max_redirections = _MAX_REDIRECTS

        def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001, ANN202, PLR0913
            if not str(newurl).lower().startswith(PING_SCHEMES):
                raise ValueError(f"redirect to {newurl!r} refused: not http(s)")
            return super().redirect_request(req, fp, code, msg, headers, newurl)

    opener = urllib.request.build_opener(Redirects)
    request = urllib.request.Request(
        target,
        data=body,
        method="POST",
        headers={"User-Agent": "tapesched", "Content-Type": "text/plain; charset=utf-8"},
    )
    with opener.open(request, timeout=timeout) as response:
        response.read(1024)


def _describe(error: BaseException) -> str:
    """One line for a failed ping or notify command."""
    code, reason = getattr(error, "code", None), getattr(error, "reason", None)
    if isinstance(code, int) and reason is not None:  # urllib's HTTPError: an HTTP answer
        return f"HTTP {code} {reason}".rstrip()
    if type(error).__name__ == "URLError":  # urllib's wrapper: say what it wraps
        if not isinstance(reason, BaseException):
            return str(reason)
        error = reason
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def should_notify(notify_on: str | None, status: str) -> bool:
    if notify_on == "always":
        return True
    return status in ("failed", "lost")


def run_notify_command(
    command: str,
    *,
    task: str,
    execution_id: str,
    status: str,
    error: str | None,
    output: str | None,
    log: IO[str] | None,
    timeout: float = NOTIFY_TIMEOUT,
) -> int | None:
    """Run the notification command with the run's facts in its environment; return its
    exit status, or None if it could not run or overran `timeout`. Never raises."""
    try:
        env = {
            **os.environ,
            "TAPESCHED_TASK": task,
            "TAPESCHED_EXECUTION_ID": execution_id,
            "TAPESCHED_STATUS": status,
            "TAPESCHED_ERROR": error or "",
            "TAPESCHED_OUTPUT": output or "",
        }
        argv = shlex.split(command)
        if not argv:
            raise ValueError("it is empty")
        if log is not None:
            log.flush()
        done = process.run_command(
            argv,
            env=env,
            stdout=log if log is not None else subprocess.DEVNULL,
            stderr=subprocess.STDOUT if log is not None else subprocess.DEVNULL,
            timeout=timeout,
            cwd=Path(output).parent if output and Path(output).parent.is_dir() else None,
        )
    except subprocess.TimeoutExpired:
        note(log, f"notify command failed: still running after {timeout:g}s, killed")
        return None
    except Exception as problem:  # noqa: BLE001 - a notification must never stop a job
        note(log, f"notify command failed: {_describe(problem)}")
        return None
    if done.returncode != 0:
        note(log, f"notify command exited with {done.returncode}")
    return done.returncode


def announce(
    task: Any,
    execution_id: str,
    status: str,
    error: str | None,
    log_path: str | None,
    log: IO[str] | None,
    *,
    exit_code: int | None = None,
    retry: Any = None,
) -> None:
    """After an outcome is recorded, by whoever recorded it: the final ping and the
    notification (per notify_on), their problems noted in `log`. For an attempt that will
    be retried (`retry`: the pending retry, tapesched.retries.Retry) the series is not over: a
    `/log` ping with the attempt's output, no notification. Never raises."""
    if retry is not None:
        note(log, f"attempt failed; {retry.describe()}")
        if getattr(task, "ping_url", None):
            ping(task.ping_url, "log", tail(log_path), log, run_id=execution_id)
        return
    try:
        if getattr(task, "ping_url", None):
            event = "success" if status == "success" else "fail"
            ping(
                task.ping_url,
                event,
                tail(log_path),
                log,
                run_id=execution_id,
                exit_code=exit_code,
            )
    except Exception as problem:  # noqa: BLE001
        note(log, f"ping failed: {_describe(problem)}")
    try:
        if getattr(task, "notify_command", None) and should_notify(task.notify_on, status):
            run_notify_command(
                task.notify_command,
                task=task.task_name,
                execution_id=execution_id,
                status=status,
                error=error,
                output=log_path,
                log=log,
            )
    except Exception as problem:  # noqa: BLE001
        note(log, f"notify command failed: {_describe(problem)}")


@dataclass(frozen=True)
class Ended:
    """A run whose outcome this process recorded (its compare-and-set won), to announce."""

    task: Any  # its TaskRecord
    execution_id: str
    status: str
    error: str | None
    log_path: str | None
    exit_code: int | None = None
    retry: Any = None  # the retry it left pending (tapesched.retries.Retry), or None: final

    def announce(self, recorded_by: str) -> None:
        """announce_to_log() for this run; never raises."""
        announce_to_log(
            self.task,
            self.execution_id,
            self.status,
            self.error,
            self.log_path,
            recorded_by,
            self.exit_code,
            self.retry,
        )


def announce_to_log(
    task: Any,
    execution_id: str,
    status: str,
    error: str | None,
    log_path: str | None,
    recorded_by: str,
    exit_code: int | None = None,
    retry: Any = None,
) -> None:
    """announce() for a run ended outside its runner (tick, `stop`, a runner that could
    not start): a line saying so, then the ping's and the command's notes and output,
    appended to the execution's output log (0600). Never raises."""
    log: IO[str] | None = None
    try:
        if log_path:
            fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
            log = open(fd, "a", encoding="utf-8", errors="replace")  # noqa: SIM115
    except Exception:  # noqa: BLE001 - announce without a log rather than not at all
        log = None
    try:
        note(log, f"finished: {status}" + (f": {error}" if error else "") + f" ({recorded_by})")
        announce(task, execution_id, status, error, log_path, log, exit_code=exit_code, retry=retry)
    finally:
        if log is not None:
            try:
                log.close()
            except Exception:  # noqa: BLE001, S110
                pass
