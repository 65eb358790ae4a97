"""tapesched.hooks and JobContext.run_after_end: how a hook is read, how long an after hook
may run, and what a hook's failure becomes (small real commands: sh, true, sleep)."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from tapesched import hooks
from tapesched.clock import utcnow
from tapesched.decisions import TIMEOUT_MARGIN
from tapesched.errors import ActionFailed, TimedOut
from tapesched.job import JobContext
from tapesched.paths import StatePaths
from tapesched.runner import STOP_GRACE


@pytest.mark.parametrize(
    ("value", "argv"),
    [
        (None, []),
        ("pg_dump --all", ["pg_dump", "--all"]),
        ("echo 'a b' \"c;d\" $(x) ;", ["echo", "a b", "c;d", "$(x)", ";"]),
        (["prog", "a b", "$(x)"], ["prog", "a b", "$(x)"]),
    ],
)
def test_a_hook_is_a_list_or_a_string_split_like_a_shell_would(value, argv) -> None:
    assert hooks.argv_of(value) == argv


def test_the_after_hook_allowance_stays_inside_the_ticks_margin() -> None:
    margin = TIMEOUT_MARGIN.total_seconds()
    assert hooks.AFTER_ALLOWANCE <= 20 < margin
    assert hooks.AFTER_ALLOWANCE + hooks.AFTER_GRACE + hooks.SLACK <= margin
    # However late the job ended (its TERM, grace, KILL included), the hook is gone (its
    # TERM, grace, KILL included) before the tick would stop the runner.
    for tenths in range(-10 * int(STOP_GRACE + 5), 1000):
        remaining = tenths / 10
        for status in ("success", "failed", "cancelled"):
            budget = hooks.after_budget(remaining, status)
            assert budget is not None and budget >= 1
            assert -remaining + budget + hooks.AFTER_GRACE <= margin - hooks.SLACK


@pytest.mark.parametrize(
    ("remaining", "status", "budget"),
    [
        (None, "success", None),  # no timeout: no limit
        (None, "cancelled", hooks.AFTER_ALLOWANCE),
        (600.0, "success", 600.0),  # what is left
        (600.0, "cancelled", hooks.AFTER_ALLOWANCE),
        (3.0, "failed", hooks.AFTER_ALLOWANCE),  # at least the allowance
        (-STOP_GRACE, "failed", 30 - STOP_GRACE - hooks.AFTER_GRACE - hooks.SLACK),
    ],
)
def test_after_budget(remaining, status, budget) -> None:
    assert hooks.after_budget(remaining, status) == budget


@pytest.fixture
def context(tmp_path: Path):  # noqa: ANN201
    log_path = tmp_path / "run.log"
    with open(log_path, "a", encoding="utf-8") as log:
        yield JobContext(
            execution_id="e-1",
            task=None,
            paths=StatePaths(home=tmp_path / "home", db=tmp_path / "home" / "tapesched.db"),
            db=None,
            output=log,
            now=utcnow,
            timeout=60.0,
            grace=1.0,
            trigger="retry",
            attempt=2,
        )


def task(before=None, after=None) -> SimpleNamespace:  # noqa: ANN001
    return SimpleNamespace(task_name="t", hook_before=before, hook_after=after)


def test_run_after_end_ignores_a_cancellation_and_has_a_deadline_of_its_own(context) -> None:
    context.cancel()
    context.abort("lease lost")
    context.started -= 120  # the run's own timeout has passed
    started, timeout = context.started, context.timeout
    assert context.run_after_end(["true"], seconds=5) == (0, "")
    clock = time.monotonic()
    with pytest.raises(TimedOut):
        context.run_after_end(["sleep", "30"], seconds=0.3, grace=0.5)
    assert time.monotonic() - clock < 5
    assert (context.started, context.timeout, context.grace) == (started, timeout, 1.0)


def test_a_failing_before_hook_names_its_status_and_last_line(context, tmp_path) -> None:
    hook = "sh -c 'echo one; echo two >&2; echo; exit 3'"
    with pytest.raises(ActionFailed) as failed:
        hooks.run_before(context, task(before=hook), str(tmp_path / "run.log"))
    assert failed.value.message == "before hook failed (exit 3): two"
    assert failed.value.result == {"before_hook": {"exit_code": 3, "error": failed.value.message}}
    log = (tmp_path / "run.log").read_text()
    assert (
        log == f"tapesched: before hook: {hook}\none\ntwo\n\ntapesched: before hook exited with 3\n"
    )


def test_the_after_hook_writes_the_result_and_notes_its_failure(context, tmp_path) -> None:
    hook = ["sh", "-c", 'cat "$TAPESCHED_RESULT"; echo "$TAPESCHED_DURATION" >&2; exit 7']
    started = utcnow() - timedelta(seconds=2)
    result = hooks.run_after(
        context, task(after=hook), "success", None, {"bytes": 5}, started, str(tmp_path / "run.log")
    )
    assert result["bytes"] == 5
    assert result["after_hook"]["exit_code"] == 7
    assert result["after_hook"]["error"].startswith("exit 7: 2.")
    written = context.paths.result_file("e-1")
    assert json.loads(written.read_text()) == {"bytes": 5}
    assert written.stat().st_mode & 0o777 == 0o600
    log = (tmp_path / "run.log").read_text()
    assert '{"bytes": 5}\n' in log
    assert "the outcome stands: success\n" in log


def test_an_after_hook_on_a_run_without_a_result(context) -> None:
    assert hooks.run_after(context, task(after=["true"]), "failed", "x", None, None) is None
    noted = hooks.run_after(context, task(after=["false"]), "failed", "x", None, None)
    assert noted == {"after_hook": {"exit_code": 1, "error": "exit 1"}}
    assert hooks.run_after(context, task(), "failed", "x", [1], None) == [1]
