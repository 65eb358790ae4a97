"""A task's hooks: its before and after commands, run by its runner around the job.

The before hook (`--before CMD`) runs before the job, before the device lock is
taken. If it fails (a non-zero exit, a signal, a program that cannot start), the
run fails with "before hook failed (exit N): LAST LINE OF ITS OUTPUT" and the job
is not started. The after hook (`--after CMD`) runs after every outcome the runner
reaches (success, failed, timed out, cancelled), once the device lock is released
and before the outcome is recorded. Its failure is noted in the log and in the
result (`after_hook`) and never changes the outcome; a runner that was killed (a
lost run) runs no after hook.

Neither runs through a shell: a hook is an argument list, or a string split like a
shell would (argv_of). Both run through JobContext (their own process group, their
pid recorded so `stop` reaches them), their output in the run's log, and both count
inside the task's timeout: the before hook shares it with the job, the after hook
gets what is left, at least AFTER_ALLOWANCE seconds; after a timeout or a
cancellation it gets AFTER_ALLOWANCE at most, so that it always ends before the
tick would find the runner past its timeout (decisions.TIMEOUT_MARGIN) and stop it.

Their environment is the runner's, plus the notify command's TAPESCHED_* variables
(TASK, EXECUTION_ID, STATUS, ERROR, OUTPUT) and TAPESCHED_HOOK, TAPESCHED_TRIGGER,
TAPESCHED_ATTEMPT; the after hook's also TAPESCHED_DURATION and TAPESCHED_RESULT
(the path of the run's result as JSON, StatePaths.result_file).
"""

from __future__ import annotations

import os
import shlex
import signal
from datetime import datetime
from typing import Any

from tapesched.decisions import TIMEOUT_MARGIN
from tapesched.errors import ActionFailed, TapeschedError, TimedOut
from tapesched.job import JobContext
from tapesched.notify import one_line

# An after hook's time after a timeout or a cancellation (and its least otherwise), and
# the seconds from TERM to KILL when it overruns. With SLACK, it ends before the tick's
# margin past the timeout: AFTER_ALLOWANCE < TIMEOUT_MARGIN - AFTER_GRACE - SLACK.
AFTER_ALLOWANCE = 20.0
AFTER_GRACE = 2.0
SLACK = 5.0
LAST_LINE_LIMIT = 300
_TAIL_BYTES = 8192
_AFTER_ONLY = ("TAPESCHED_DURATION", "TAPESCHED_RESULT")


def argv_of(value: str | list[str] | None) -> list[str]:
    """A hook's program and arguments: a string split like a shell would, a list as it is;
    [] when there is no hook. Raise ValueError for a string with unbalanced quotes (the
    task's rules refuse those before they are stored)."""
    if value is None:
        return []
    if isinstance(value, str):
        return shlex.split(value)
    return [str(item) for item in value]


def run_before(context: JobContext, task: Any, log_path: str | None = None) -> None:
    """Run the task's before hook, if it has one. Raise ActionFailed ("before hook failed
    (exit N): LAST LINE") if it fails or cannot start, with the result
    {"before_hook": {"exit_code": N, "error": ...}}; TimedOut or Cancelled if the run's
    timeout or a cancellation ends it (its process group stopped first)."""
    argv = argv_of(task.hook_before)
    if not argv:
        return
    log_path = log_path or _default_log(context, task)
    env = _environment(context, task, "before", "running", None, log_path)
    for name in _AFTER_ONLY:
        env.pop(name, None)
    context.log(f"before hook: {_shown(argv)}")
    mark = _size(log_path)
    try:
        code, _ = context.run(argv, env=env)
    except ActionFailed as failure:  # it cannot start
        context.log(f"before hook could not start: {failure.message}")
        raise ActionFailed(
            f"before hook failed: {failure.message}",
            {"before_hook": {"exit_code": None, "error": failure.message}},
        ) from None
    except TapeschedError as stopped:  # the timeout, a cancellation, a lost lease
        context.log(f"before hook stopped: {stopped.message}")
        raise
    last = _last_line(log_path, mark) if code != 0 else ""
    context.log(f"before hook {_ended(code)}")
    if code != 0:
        message = f"before hook failed ({_status(code)})" + (f": {last}" if last else "")
        raise ActionFailed(message, {"before_hook": {"exit_code": _code(code), "error": message}})


def run_after(
    context: JobContext,
    task: Any,
    status: str,
    error: str | None,
    result: Any,
    started: datetime | None,
    log_path: str | None = None,
) -> Any:
    """Run the task's after hook, if it has one, once the job is over and before the
    outcome (status, error, result) is recorded; `started` is when the run started. Return
    the result to record: the same, or, if the hook failed, with
    result["after_hook"] = {"exit_code": N or None, "error": ...}. Never raises: the
    outcome stands whatever the hook does."""
    try:
        argv = argv_of(task.hook_after)
    except ValueError as problem:
        context.log(f"after hook not run: {problem}")
        return result
    if not argv:
        return result
    try:
        return _after(context, task, argv, status, error, result, started, log_path)
    except Exception as crash:  # noqa: BLE001 - a hook never changes the outcome
        context.log(f"after hook failed: {type(crash).__name__}: {crash}")
        return _noted(result, {"exit_code": None, "error": f"{type(crash).__name__}: {crash}"})


def after_budget(remaining: float | None, status: str) -> float | None:
    """Given what is left of the task's timeout (None: no timeout; <= 0 after a timeout)
    and the run's status, the seconds its after hook may run (None: no limit): what is
    left, at least AFTER_ALLOWANCE; AFTER_ALLOWANCE after a cancellation. With a timeout,
    never past TIMEOUT_MARGIN - AFTER_GRACE - SLACK beyond it (at least 1 s)."""
    if remaining is None:
        return AFTER_ALLOWANCE if status == "cancelled" else None
    budget = AFTER_ALLOWANCE if status == "cancelled" else max(remaining, AFTER_ALLOWANCE)
    latest = remaining + TIMEOUT_MARGIN.total_seconds() - AFTER_GRACE - SLACK
    return max(1.0, min(budget, latest))


def _after(
    context: JobContext,
    task: Any,
    argv: list[str],
    status: str,
    error: str | None,
    result: Any,
    started: datetime | None,
    log_path: str | None,
) -> Any:
    status, error = _final(context, status, error)
    budget = after_budget(context.remaining(), status)
    log_path = log_path or _default_log(context, task)
    env = _environment(context, task, "after", status, error, log_path)
    env["TAPESCHED_DURATION"] = f"{_duration(context, started):.3f}"
    env["TAPESCHED_RESULT"] = _write_result(context, result)
    context.log(f"after hook: {_shown(argv)}")
    mark = _size(log_path)
    try:
        code, _ = context.run_after_end(argv, seconds=budget, grace=AFTER_GRACE, env=env)
    except ActionFailed as failure:  # it cannot start
        problem = {"exit_code": None, "error": f"could not start: {failure.message}"}
    except TimedOut:
        problem = {"exit_code": None, "error": f"still running after {budget:.0f}s, stopped"}
    else:
        last = _last_line(log_path, mark) if code != 0 else ""
        context.log(f"after hook {_ended(code)}")
        if code == 0:
            return result
        problem = {"exit_code": _code(code), "error": _status(code) + (f": {last}" if last else "")}
    context.log(f"after hook failed ({problem['error']}); the outcome stands: {status}")
    return _noted(result, problem)


def _final(context: JobContext, status: str, error: str | None) -> tuple[str, str | None]:
    """The outcome the hook is told: the runner's, unless the catalog already holds another
    (`stop` recorded the run cancelled, another host recorded it)."""
    from tapesched.store import executions

    try:
        with context.db.read():
            record = executions.get(context.db, context.execution_id)
    except Exception:  # noqa: BLE001 - the hook runs anyway, told the runner's outcome
        return status, error
    if record is not None and record.status != "running":
        return record.status, record.error_message
    return status, error


def _environment(
    context: JobContext, task: Any, hook: str, status: str, error: str | None, log_path: str
) -> dict[str, str]:
    return {
        **os.environ,
        "TAPESCHED_TASK": task.task_name,
        "TAPESCHED_EXECUTION_ID": context.execution_id,
        "TAPESCHED_STATUS": status,
        "TAPESCHED_ERROR": error or "",
        "TAPESCHED_OUTPUT": log_path,
        "TAPESCHED_HOOK": hook,
        "TAPESCHED_TRIGGER": context.trigger,
        "TAPESCHED_ATTEMPT": str(context.attempt),
    }


def _default_log(context: JobContext, task: Any) -> str:
    return str(context.paths.output_log(task.task_name, context.execution_id))


def _duration(context: JobContext, started: datetime | None) -> float:
    """Seconds since the run started (by the catalog's start time, else the context's)."""
    if started is not None:
        try:
            return max(0.0, (context.now() - started).total_seconds())
        except TypeError:  # a naive time beside an aware one: use the context's clock
            pass
    import time

    return max(0.0, time.monotonic() - context.started)


def _write_result(context: JobContext, result: Any) -> str:
    """Write the run's result as JSON (mode 0600) for the after hook; return its path, or
    "" (noted in the log) if it cannot be written."""
    import json

    path = context.paths.result_file(context.execution_id)
    try:
        text = json.dumps(result, default=str, ensure_ascii=False)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW
        fd = os.open(path, flags, 0o600)
        with open(fd, "w", encoding="utf-8") as out:
            os.fchmod(fd, 0o600)
            out.write(text + "\n")
    except (OSError, ValueError, TypeError) as problem:
        context.log(f"after hook: could not write the result to {path}: {problem}")
        return ""
    return str(path)


def _noted(result: Any, problem: dict[str, Any]) -> Any:
    """The result with the after hook's failure in it (a result that is not a table as it
    was: the log has the note)."""
    if result is None:
        return {"after_hook": problem}
    if isinstance(result, dict):
        return {**result, "after_hook": problem}
    return result


def _shown(argv: list[str]) -> str:
    return one_line(shlex.join(argv), 1000)


def _status(code: int) -> str:
    """A hook's exit status, short: `exit 3`, `killed by SIGKILL`."""
    if code >= 0:
        return f"exit {code}"
    try:
        return f"killed by {signal.Signals(-code).name}"
    except ValueError:
        return f"killed by signal {-code}"


def _code(code: int) -> int | None:
    """The exit status for a result: None when a signal ended the hook (its error says
    which)."""
    return code if code >= 0 else None


def _ended(code: int) -> str:
    """How a hook ended, for the line after its output: `exited with 0`, `was killed by
    SIGKILL`."""
    return f"exited with {code}" if code >= 0 else f"was {_status(code)}"


def _size(log_path: str) -> int | None:
    try:
        return os.stat(log_path).st_size
    except OSError:
        return None


def _last_line(log_path: str, mark: int | None) -> str:
    """The last non-blank line the hook wrote to the log (after `mark`), bounded and made
    safe for one line; tapesched's own lines are passed over."""
    if mark is None:
        return ""
    try:
        with open(log_path, "rb") as log:
            end = log.seek(0, os.SEEK_END)
            start = max(mark, end - _TAIL_BYTES)
            log.seek(start)
            data = log.read(max(0, end - start))
    except OSError:
        return ""
    for line in reversed(data.decode("utf-8", errors="replace").splitlines()):
        text = line.strip()
        if text and not text.startswith("tapesched: "):
            return one_line(text, LAST_LINE_LIMIT)
    return ""
