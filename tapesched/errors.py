"""One error hierarchy; each error carries the process exit code it maps to.

Exit codes (stable, documented in the README and the man page):
0 done; 1 the job or operation failed; 2 invalid usage or input;
3 no such task or execution; 4 conflict; 5 storage unavailable.

Every error tapesched raises derives from TapeschedError, the failures of a
job (ActionFailed, TapeError) and the ends of a job that are not failures of
its own (Cancelled, TimedOut) included. The command line turns an error into
one line on stderr and its exit code, once, at the edge; the runner records a
job's error as the execution's error_message.
"""

from __future__ import annotations

from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_CONFLICT = 4
EXIT_STORAGE = 5


class TapeschedError(Exception):
    """Base error: its message is one line for stderr, its exit_code the process's.

    `field` names what the error is about (`action_config.device`); the message
    is then "FIELD: DETAIL", and `detail` is the message without the field, for
    a caller that reports it under another name.
    """

    exit_code = EXIT_FAILED

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        message = f"{field}: {detail}" if field else detail
        super().__init__(message)
        self.detail = detail
        self.field = field
        self.message = message

    def within(self, where: str) -> TapeschedError:
        """Return the same error located in `where` (a file and a task, say)."""
        return type(self)(self.message, field=where)


def undecodable(text: str) -> bool:
    """Whether `text` cannot be written as UTF-8: it holds a lone surrogate, which is how
    Python hands over bytes that were not UTF-8 (arguments, the environment and file names
    are decoded with surrogateescape), or what a JSON escape such as "\\udcff" gives.
    Such text can be neither stored, nor printed, nor logged."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def printable(text: str) -> str:
    """`text` on one line, safe for a message: bytes that were not UTF-8 as \\xNN, other
    lone surrogates and control characters (a newline, say) escaped as Python writes them."""
    shown = []
    for char in text:
        if char.isprintable():
            shown.append(char)
        elif "\udc80" <= char <= "\udcff":  # a byte that was not UTF-8 (surrogateescape)
            shown.append(f"\\x{ord(char) - 0xDC00:02x}")
        else:
            shown.append(char.encode("unicode_escape").decode("ascii"))
    return "".join(shown)


def os_error_line(error: OSError, where: object = None) -> str:
    """One line for an OSError that reached the edge: '<path>: <reason>' (the path the
    system names, else `where`, else the reason alone)."""
    reason = error.strerror or str(error) or type(error).__name__
    path = error.filename if error.filename is not None else where
    if path is None:
        return reason
    if isinstance(path, bytes):
        path = path.decode("utf-8", "backslashreplace")
    elif not isinstance(path, str):
        path = str(path)
    second = f" -> {printable(str(error.filename2))}" if error.filename2 is not None else ""
    return f"{printable(path)}{second}: {reason}"


class OperationFailed(TapeschedError):
    exit_code = EXIT_FAILED


class InvalidInput(TapeschedError):
    """Bad usage or input; the message names the field, the value and the accepted form."""

    exit_code = EXIT_USAGE


class NotFound(TapeschedError):
    exit_code = EXIT_NOT_FOUND


class Conflict(TapeschedError):
    exit_code = EXIT_CONFLICT


class StorageUnavailable(TapeschedError):
    exit_code = EXIT_STORAGE


class ActionFailed(TapeschedError):
    """The job failed; message is the execution's error_message, result its result."""

    exit_code = EXIT_FAILED

    def __init__(
        self, detail: str, result: dict[str, Any] | None = None, *, field: str | None = None
    ) -> None:
        super().__init__(detail, field=field)
        self.result = result

    def within(self, where: str) -> ActionFailed:
        return type(self)(self.message, self.result, field=where)


class TapeError(ActionFailed):
    """A tape or archive operation failed; the message is for the operator."""


class JobInterrupted(TapeschedError):
    """The job was ended from outside before it finished."""


class Cancelled(JobInterrupted):
    """The run was cancelled (SIGTERM to the runner, or `stop`)."""

    def __init__(self, detail: str = "cancelled", *, field: str | None = None) -> None:
        super().__init__(detail, field=field)


class LeaseLost(JobInterrupted):
    """The runner could not keep its run's lease (the database was out of reach for too
    long), or another host declared the run over: the job is stopped, so that it never
    goes on after the catalog says it has ended."""


class TimedOut(JobInterrupted):
    """The run passed its timeout."""

    def __init__(self, detail: str = "timed out", *, field: str | None = None) -> None:
        super().__init__(detail, field=field)
