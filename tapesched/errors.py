"""One error hierarchy; each error carries the process exit code it maps to.

Exit codes (stable, documented in the README and the man page):
0 done; 1 the job or operation failed; 2 invalid usage or input;
3 no such task or execution; 4 conflict; 5 storage unavailable.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_CONFLICT = 4
EXIT_STORAGE = 5


class TapeschedError(Exception):
    """Base error: its message is one line for stderr, its exit_code the process's."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


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
