"""Operations on tasks: create, change, enable or disable, delete, apply a task file.

Every door (`add`, `edit`, `enable`, `disable`, `delete`, `apply`) calls one
of these with a validated spec or changes (tapesched.spec) and `now`; each
runs in one write transaction and returns what the command line renders.
What becomes of a task's status is tapesched.lifecycle's call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from tapesched import lifecycle
from tapesched.errors import Conflict, InvalidInput
from tapesched.hosts import this_host
from tapesched.schedule import is_past_once, next_run
from tapesched.spec import (
    SCHEDULE_FIELDS,
    TaskChanges,
    TaskSpec,
    changed_spec,
    check_start,
    spec_of,
)
from tapesched.store import executions
from tapesched.store import tasks as task_rows
from tapesched.store.db import Database
from tapesched.store.tasks import TaskRecord

STOP_GRACE = 10.0
BULK = 1000  # changed tasks past which apply refreshes the planner's statistics


def first_run(
    spec: TaskSpec, now: datetime, created_at: datetime, past: str = "refuse"
) -> datetime | None:
    """The next run of a task whose schedule or enabling is new, counted from now.

    A once schedule in the past is refused (`past="refuse"`, InvalidInput), runs at
    the next tick as a catch-up (`"run"`: `--force`), or never runs (`"drop"`: a
    once task that is enabled again after its time).
    """
    if not spec.enabled:
        return None
    schedule = spec.schedule
    if past == "drop" and is_past_once(schedule, now):
        return None
    if check_start(schedule, now, force=past == "run"):
        return next_run(schedule, datetime(1970, 1, 1, tzinfo=UTC))
    return next_run(schedule, now, None, created_at)


def _past(force: bool) -> str:
    return "run" if force else "refuse"


def new_row(spec: TaskSpec, now: datetime, force: bool = False) -> dict[str, Any]:
    """The stored row of a new task."""
    return {
        **spec.values(),
        "host": spec.host or this_host(),
        "status": "active" if spec.enabled else "inactive",
        "device": spec.device,
        "next_run_time": first_run(spec, now, now, _past(force)),
        "total_runs": 0,
        "success_runs": 0,
        "failure_runs": 0,
        "created_at": now,
        "updated_at": now,
    }


def row_changes(
    task: TaskRecord, spec: TaskSpec, now: datetime, force: bool = False, reschedule: bool = False
) -> dict[str, Any]:
    """The columns that change when a task's spec becomes `spec`: the fields that differ;
    its device; its next run, from now, when its schedule, zone or `enabled` changed (or
    `reschedule`); its status when `enabled` changed."""
    changes = {
        name: value
        for name, value in spec.values().items()
        if getattr(task, name) != value and not (name == "host" and value is None)
    }
    if not changes and not reschedule:
        return {}
    if spec.device != task.device:
        changes["device"] = spec.device
    if set(changes) & set(SCHEDULE_FIELDS):
        changes["next_run_time"] = first_run(spec, now, task.created_at, _past(force))
    elif reschedule or "enabled" in changes:
        changes["next_run_time"] = first_run(spec, now, task.created_at, "drop")
    if reschedule or "enabled" in changes:
        changes["status"] = lifecycle.status_after_enabling(spec.enabled, task.status)
        if task.retry_at is not None:  # a retry pending from before is not run any more
            changes.update(retry_at=None, retry_attempt=0)
    changes["updated_at"] = now
    return changes


def get_task(db: Database, ref: str) -> TaskRecord:
    """The task named by name or id; raise NotFound."""
    with db.read():
        return task_rows.find(db, ref)


def _states(db: Database, tasks: list[TaskRecord], now: datetime) -> dict[int, str]:
    running = executions.running(db)
    running_tasks = {execution.task_id for execution in running}
    busy = {execution.device for execution in running if execution.device}
    return {
        task.id: lifecycle.displayed_state(
            task.status,
            task.enabled,
            running=task.id in running_tasks,
            due=task.next_run_time is not None and task.next_run_time <= now,
            device_busy=task.device in busy,
            window_closed=_window_closed(task, now),
        )
        for task in tasks
    }


def _window_closed(task: TaskRecord, now: datetime) -> bool:
    if not task.start_window:
        return False
    from tapesched.errors import InvalidInput
    from tapesched.windows import is_open

    try:
        return not is_open(task.start_window, now, task.timezone)
    except InvalidInput:  # a zone gone from tzdata: `list` still lists it
        return False


def list_tasks(
    db: Database, now: datetime, enabled_only: bool = False
) -> list[tuple[TaskRecord, str]]:
    """Every task (or the enabled ones) with what `list` calls it (lifecycle.displayed_state)."""
    with db.read():
        tasks = task_rows.all_tasks(db, enabled_only)
        states = _states(db, tasks, now)
    return [(task, states[task.id]) for task in tasks]


def show_task(db: Database, ref: str, now: datetime) -> tuple[TaskRecord, str, str | None]:
    """One task, what `show` calls it, and the id of its run in progress (or None)."""
    with db.read():
        task = task_rows.find(db, ref)
        state = _states(db, [task], now)[task.id]
        running = executions.running_for_task(db, task.id)
    return task, state, running.execution_id if running else None


def create_task(db: Database, spec: TaskSpec, now: datetime, force: bool = False) -> TaskRecord:
    """Create a task; raise Conflict if its name is taken, InvalidInput for a once schedule
    in the past without `force`."""
    row = new_row(spec, now, force)
    with db.write():
        task_id = task_rows.insert(db, row)
        return task_rows.get(db, task_id)


def change_task(
    db: Database, ref: str, changes: TaskChanges, now: datetime, force: bool = False
) -> tuple[TaskRecord, list[str]]:
    """Change a task; return it and the warnings of its action check. Raise InvalidInput
    when nothing would change, NotFound, or Conflict for a taken name."""
    if changes.empty():
        raise InvalidInput(
            "nothing to change; give an option to change (see 'tapesched edit --help')"
        )
    with db.write():
        task = task_rows.find(db, ref)
        spec, warnings = changed_spec(spec_of(task), changes)
        recoveries = [
            (other.task_name, other.id, other.action_config.get("from_task"))
            for other in task_rows.all_tasks(db, action_type="recovery")
            if other.id != task.id
        ]
        check_readers(task, spec, recoveries)
        task_rows.update(db, task.id, row_changes(task, spec, now, force))
        if spec.task_name != task.task_name:
            warnings += _follow_rename(db, task, spec.task_name, now)
        return task_rows.get(db, task.id), warnings


def _reads_from(reference: Any, task: TaskRecord) -> bool:
    """Whether a recovery's from_task (a name, an id, or an id as text) names `task`."""
    if isinstance(reference, bool):
        return False
    if isinstance(reference, int):
        return reference == task.id
    if isinstance(reference, str):
        return reference == task.task_name or (
            reference.isdigit() and len(reference) < 19 and int(reference) == task.id
        )
    return False


def check_readers(
    task: TaskRecord, spec: TaskSpec, recoveries: list[tuple[str, int | None, Any]]
) -> None:
    """Refuse (Conflict) a change that would have recovery tasks restore something else:
    a backup task that a recovery task reads from (`from_task`, by name or id) may not stop
    being a backup or change its chain (its sources or its device). Its level, compression,
    excludes and block size may change: the recoveries restore the same chain. `recoveries`
    are (name, id, from_task) of the recovery tasks as they will be."""
    if task.action_type != "backup":
        return
    from tapesched.actions.backup import task_chain

    if spec.action_type == "backup" and task_chain(spec.action_config) == task_chain(
        task.action_config
    ):
        return
    readers = sorted(
        name for name, other_id, reference in recoveries
        if other_id != task.id and name != task.task_name and _reads_from(reference, task)
    )  # fmt: skip
    if not readers:
        return
    one = len(readers) == 1
    who = f"recovery task{'' if one else 's'} {', '.join(readers)}"
    them = "it" if one else "them"
    if spec.action_type != "backup":
        change, outcome = "its action type", f"leave {them} no backup to restore"
    else:
        change, outcome = "its sources or device", f"make {them} restore another chain"
    raise Conflict(
        f"{who} read{'s' if one else ''} from {task.task_name} (from_task); changing {change} "
        f"would {outcome}; point {them} at another backup task first, or add a new backup task",
        field="action",
    )


def _follow_rename(db: Database, task: TaskRecord, new_name: str, now: datetime) -> list[str]:
    """Recovery tasks that name a renamed backup task by its name follow it to the new name
    (those naming it by id need nothing); return a warning line for each."""
    warnings = []
    for other in task_rows.all_tasks(db, action_type="recovery"):
        reference = other.action_config.get("from_task")
        if isinstance(reference, str) and reference == task.task_name and other.id != task.id:
            config = {**other.action_config, "from_task": new_name}
            task_rows.update(db, other.id, {"action_config": config, "updated_at": now})
            warnings.append(
                f"recovery task {other.task_name} now reads from {new_name} "
                f"(its from_task was {task.task_name})"
            )
    return warnings


def set_enabled(db: Database, ref: str, enabled: bool, now: datetime) -> TaskRecord:
    """Enable a task (its next run counted from now) or disable it (it never runs)."""
    with db.write():
        task = task_rows.find(db, ref)
        spec = replace(spec_of(task), enabled=enabled)
        task_rows.update(db, task.id, row_changes(task, spec, now, reschedule=True))
        return task_rows.get(db, task.id)


def delete_task(
    db: Database, ref: str, clock: Callable[[], datetime], grace: float = STOP_GRACE
) -> TaskRecord:
    """Delete a task and its history; a run in progress is stopped first."""
    from tapesched import control

    with db.read():
        task = task_rows.find(db, ref)
        running = executions.running_for_task(db, task.id)
    if running is not None:
        control.stop_execution(db, running.execution_id, grace, clock)
    with db.write():
        task = task_rows.find(db, str(task.id))
        task_rows.delete(db, task.id)
    return task


@dataclass
class ApplyPlan:
    """What `apply` does (or would do): task names, and the fields each update changes."""

    created: list[str] = field(default_factory=list)
    updated: list[tuple[str, list[str]]] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


def apply_specs(
    db: Database,
    specs: list[TaskSpec],
    now: datetime,
    clock: Callable[[], datetime],
    prune: bool = False,
    dry_run: bool = False,
    force: bool = False,
    source: str = "",
) -> ApplyPlan:
    """Create or update tasks by name to match `specs` (and, with `prune`, delete the
    others, stopping their runs first), all in one transaction. With `dry_run`, plan the
    same way, check every change, and change nothing. An error names the task (in
    `source`, the file)."""
    from tapesched import control

    names = {spec.task_name for spec in specs}
    if prune and not dry_run:
        with db.read():
            doomed = [
                execution.execution_id
                for execution in executions.running(db)
                if (task := task_rows.get(db, execution.task_id)) and task.task_name not in names
            ]
        for execution_id in doomed:
            control.stop_execution(db, execution_id, STOP_GRACE, clock)
    plan = ApplyPlan()
    with db.write():
        existing = {task.task_name: task for task in task_rows.all_tasks(db)}
        old_tasks = dict(existing)
        rows: list[dict[str, Any]] = []
        updates: list[tuple[int, dict[str, Any]]] = []
        for spec in specs:
            task = existing.pop(spec.task_name, None)
            try:
                if task is None:
                    rows.append(new_row(spec, now, force))
                    plan.created.append(spec.task_name)
                    continue
                changes = row_changes(task, spec, now, force)
            except InvalidInput as error:
                where = f"{source}: task {spec.task_name}" if source else f"task {spec.task_name}"
                raise error.within(where) from None
            fields_changed = [name for name in spec.values() if name in changes]
            if fields_changed:
                updates.append((task.id, changes))
                plan.updated.append((spec.task_name, fields_changed))
            else:
                plan.unchanged.append(spec.task_name)
        doomed_tasks = sorted(existing.values(), key=lambda task: task.task_name) if prune else []
        plan.deleted = [task.task_name for task in doomed_tasks]
        _check_apply_readers(specs, existing if not prune else {}, old_tasks, source)
        if dry_run:
            return plan
        task_rows.insert_many(db, rows)
        for task_id, changes in updates:
            task_rows.update(db, task_id, changes)
        for task in doomed_tasks:
            task_rows.delete(db, task.id)
    if len(rows) + len(updates) + len(doomed_tasks) >= BULK:
        db.refresh_statistics()
    return plan


def _check_apply_readers(
    specs: list[TaskSpec],
    kept: dict[str, TaskRecord],
    old_tasks: dict[str, TaskRecord],
    source: str,
) -> None:
    """check_readers for every task a file changes, against the recovery tasks as they
    will be after the file is applied (those in the file, and those it keeps)."""
    recoveries: list[tuple[str, int | None, Any]] = [
        (spec.task_name, None, spec.action_config.get("from_task"))
        for spec in specs
        if spec.action_type == "recovery"
    ]
    recoveries += [
        (task.task_name, task.id, task.action_config.get("from_task"))
        for task in kept.values()
        if task.action_type == "recovery"
    ]
    for spec in specs:
        task = old_tasks.get(spec.task_name)
        if task is None:
            continue
        try:
            check_readers(task, spec, recoveries)
        except Conflict as error:
            where = f"{source}: task {spec.task_name}" if source else f"task {spec.task_name}"
            raise error.within(where) from None
