"""Several hosts on one catalog, with real processes: three state folders with
TAPESCHED_HOST h1, h2 and h3 share one database (PostgreSQL, as a site with several
backup hosts runs it, and an SQLite file, which the same rules hold on).

Every run is a detached runner started by a tick; leases are made short
(TAPESCHED_LEASE=6: renewed every second) so that a host's failure shows in
seconds; the schedule's clock is moved only through `tick --now`.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pg
import pytest
from helpers import end_recorded_processes, group_gone, wait_until
from speed_helpers import reaped

from tapesched.paths import resolve
from tapesched.store.db import connect

HOSTS = ("h1", "h2", "h3")
LEASE = 6


@dataclass
class Done:
    code: int
    out: str
    err: str


class Site:
    """Hosts sharing the database `db` (a path or a URL), each with its state folder."""

    def __init__(self, root: Path, db: str) -> None:
        self.root = root
        self.db = db

    def env(self, host: str, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "TAPESCHED_DB": self.db,
            "TAPESCHED_HOME": str(self.root / host),
            "TAPESCHED_HOST": host,
            "TAPESCHED_LEASE": str(LEASE),
            "TAPESCHED_MAX_CONCURRENT_RUNS": "100",
            "TZ": "UTC",
            **extra,
        }

    def spawn(self, host: str, *args: str, **extra: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "tapesched", *args],
            env=self.env(host, **extra),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def cli(self, host: str, *args: str, **extra: str) -> Done:
        child = self.spawn(host, *args, **extra)
        out, err = child.communicate(timeout=120)
        return Done(child.returncode, out, err)

    def ok(self, host: str, *args: str) -> str:
        done = self.cli(host, *args)
        assert done.code == 0, (args, done.err)
        return done.out

    def rows(self, sql: str, params: dict | None = None) -> list[tuple]:
        with connect(resolve(self.db, {}).db) as db, db.read():
            return db.rows(sql, params or {})

    def executions(self, task: str) -> list[dict]:
        rows = self.rows(
            "SELECT e.execution_id, e.scheduled_for, e.host, e.status, e.pid, e.job_pid, "
            "e.error_message, e.lease_expires, e.completed_at FROM executions e "
            "JOIN tasks t ON t.id = e.task_id WHERE t.task_name = :name ORDER BY e.created_at",
            {"name": task},
        )
        keys = ("id", "slot", "host", "status", "pid", "job_pid", "error", "lease", "completed")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def running(self) -> int:
        return self.rows("SELECT count(*) FROM executions WHERE status = 'running'")[0][0]

    def kill_everything(self) -> None:
        """End every runner and job the runs name (all hosts are this machine)."""
        end_recorded_processes(resolve(self.db, {}).db)


@pytest.fixture(params=["postgresql", "sqlite"])
def site(request, tmp_path: Path):
    """Three hosts' state folders and one database (a throwaway PostgreSQL database, or an
    SQLite file); every process the runs started is ended afterwards."""
    server = url = None
    if request.param == "postgresql":
        server = pg.require_server()
        url = pg.create_database(server)
        place = Site(tmp_path, url)
    else:
        place = Site(tmp_path, str(tmp_path / "catalog.db"))
    try:
        place.ok("h1", "init")
        yield place
    finally:
        place.kill_everything()
        if url is not None:
            pg.drop_database(server, url)


def slot_of(site: Site, task: str) -> datetime:
    (value,) = site.rows("SELECT next_run_time FROM tasks WHERE task_name = :n", {"n": task})[0]
    from tapesched.store.db import decode_time

    return decode_time(value)


def now_arg(instant: datetime) -> str:
    return instant.isoformat()


def task_entry(name: str, extra: str = "") -> str:
    """A task file's entry for what `add NAME --cron '0 * * * *' --command true` adds."""
    return (
        f'[[task]]\ntask_name = "{name}"\nschedule_type = "cron"\n'
        'schedule_config = { cron = "0 * * * *" }\naction_type = "custom"\n'
        f'action_config = {{ command = "true" }}\n{extra}'
    )


def test_three_hosts_ticking_at_once_claim_each_slot_once_and_bound_tasks_only_at_home(site):
    bound = {host: [f"{host}-job{k}" for k in range(3)] for host in HOSTS}
    anywhere = [f"any-job{k}" for k in range(6)]
    # Each host adds its first task (bound to it, as `add` binds a new task) and applies a
    # file with the others (bound to it, as `apply` binds one); h1's file holds the `any`
    # tasks but the first, which `add --host any` adds. Seven processes, not fifteen.
    for host, names in bound.items():
        site.ok(host, "add", names[0], "--cron", "0 * * * *", "--command", "true")
    site.ok("h1", "add", anywhere[0], "--cron", "0 * * * *", "--command", "true", "--host", "any")
    for host, names in bound.items():
        tasks = [task_entry(name) for name in names[1:]]
        if host == "h1":
            tasks += [task_entry(name, 'host = "any"\n') for name in anywhere[1:]]
        file = site.root / f"{host}-tasks.toml"
        file.write_text("".join(tasks))
        site.ok(host, "apply", str(file))
    expected = {name: host for host, names in bound.items() for name in names}
    expected |= dict.fromkeys(anywhere, "any")
    assert dict(site.rows("SELECT task_name, host FROM tasks")) == expected
    first = slot_of(site, "any-job0")
    slots = [first + timedelta(hours=index) for index in range(3)]
    for slot in slots:
        # Three ticks per host, nine at once; those finding their host's tick lock held
        # exit 0 at once ("busy"), the others race across hosts for the same rows.
        ticks = [
            site.spawn(host, "tick", "--now", now_arg(slot + timedelta(seconds=10)))
            for _ in range(3)
            for host in HOSTS
        ]
        for tick in ticks:
            out, err = tick.communicate(timeout=120)
            assert tick.returncode == 0, err
        wait_until(lambda: site.running() == 0, timeout=60)
    expected_slots = {slot.replace(tzinfo=None) for slot in slots}
    hosts_of_any = Counter()
    for host, names in bound.items():
        for name in names:
            runs = site.executions(name)
            assert [run["status"] for run in runs] == ["success"] * 3, (name, runs)
            assert {_naive(run["slot"]) for run in runs} == expected_slots, name
            assert {run["host"] for run in runs} == {host}, (name, runs)
    for name in anywhere:
        runs = site.executions(name)
        assert [run["status"] for run in runs] == ["success"] * 3, (name, runs)
        assert {_naive(run["slot"]) for run in runs} == expected_slots, name
        assert {run["host"] for run in runs} <= set(HOSTS)
        hosts_of_any.update(run["host"] for run in runs)
    # Every run is one of the 3 x (9 + 6) slots: nothing doubled, nothing lost.
    assert site.rows("SELECT count(*) FROM executions")[0][0] == 3 * (9 + 6)
    hosts = site.ok("h1", "hosts", "--json")
    assert {entry["name"] for entry in __import__("json").loads(hosts)} == set(HOSTS)


def _naive(value) -> datetime:  # noqa: ANN001 - text (SQLite) or datetime (PostgreSQL)
    from tapesched.store.db import decode_time

    return decode_time(value).replace(tzinfo=None)


def test_a_dead_hosts_runs_are_lost_after_the_lease_and_its_any_tasks_run_elsewhere(site):
    site.ok("h2", "add", "slow-h2", "--cron", "0 * * * *", "--command", "sleep 300", "--host", "h2")
    site.ok(
        "h2", "add", "slow-any", "--cron", "0 * * * *", "--command", "sleep 300", "--host", "any"
    )
    first = slot_of(site, "slow-any")
    site.ok("h2", "tick", "--now", now_arg(first + timedelta(seconds=10)))

    def started() -> list[dict] | None:
        runs = [site.executions(name)[-1] for name in ("slow-h2", "slow-any")]
        return runs if all(run["pid"] and run["job_pid"] for run in runs) else None

    runs = wait_until(started, timeout=30)
    assert {run["host"] for run in runs} == {"h2"}
    for run in runs:  # host h2 dies: its runners are gone at once, their jobs orphaned
        os.kill(run["pid"], signal.SIGKILL)
    killed_at = time.monotonic()
    # Another host's tick does not judge h2's runs by locks it cannot see: until the
    # lease runs out they stay running.
    site.ok("h1", "tick", "--now", now_arg(first + timedelta(seconds=20)))
    if time.monotonic() - killed_at < LEASE - 2:
        assert [site.executions(n)[-1]["status"] for n in ("slow-h2", "slow-any")] == [
            "running",
            "running",
        ]

    def lost() -> list[dict] | None:
        # A tick that marks a run lost says so, one line each, and exits 1 (cron mails it).
        tick = site.cli("h1", "tick", "--now", now_arg(first + timedelta(seconds=30)))
        assert tick.code == (1 if tick.err else 0), tick.err
        assert all("lost: lease expired" in line for line in tick.err.splitlines())
        latest = [site.executions(name)[-1] for name in ("slow-h2", "slow-any")]
        return latest if all(run["status"] == "lost" for run in latest) else None

    latest = wait_until(lost, timeout=40, poll=0.5)
    assert time.monotonic() - killed_at >= LEASE - 1  # not before the lease expired
    for run in latest:
        assert "lease expired" in run["error"] and "host h2" in run["error"], run["error"]
        assert _naive(run["completed"]) >= _naive(run["lease"])
    # The next slot: h1 and h3 tick; the `any` task runs on one of them, h2's own waits.
    second = first + timedelta(hours=1)
    ticks = [site.spawn(host, "tick", "--now", now_arg(second + timedelta(seconds=10)))
             for host in ("h1", "h3")]  # fmt: skip
    for tick in ticks:
        _, err = tick.communicate(timeout=120)
        assert tick.returncode == 0, err
    moved = site.executions("slow-any")[-1]
    assert _naive(moved["slot"]) == second.replace(tzinfo=None)
    assert moved["host"] in ("h1", "h3") and moved["status"] == "running"
    waiting = site.executions("slow-h2")
    assert len(waiting) == 1 and _naive(slot_of(site, "slow-h2")) == second.replace(tzinfo=None)
    # h2 comes back: its tick claims its own task, and ends the jobs whose runs were
    # declared lost while it was gone, so nothing goes on using its drives for them.
    site.ok("h2", "tick", "--now", now_arg(second + timedelta(seconds=20)))
    back = site.executions("slow-h2")
    assert len(back) == 2 and back[-1]["host"] == "h2"
    assert _naive(back[-1]["slot"]) == second.replace(tzinfo=None)
    for run in latest:
        wait_until(lambda run=run: group_gone(run["job_pid"]), timeout=30)


def test_stop_on_another_host_reaches_the_runner_through_its_lease(site):
    site.ok("h3", "add", "remote", "--cron", "0 * * * *", "--command", "sleep 300", "--host", "h3")
    site.ok("h3", "tick", "--now", now_arg(slot_of(site, "remote") + timedelta(seconds=10)))
    run = wait_until(lambda: (r := site.executions("remote")[-1])["job_pid"] and r, timeout=30)
    stopped = site.cli("h1", "stop", "remote")
    assert stopped.code == 0, stopped.err
    # h1 cannot signal h3's processes; h3's runner sees the outcome at its next renewal.
    wait_until(lambda: group_gone(run["job_pid"]), timeout=3 * LEASE)
    wait_until(lambda: group_gone(run["pid"]), timeout=30)
    final = site.executions("remote")[-1]
    assert final["status"] == "cancelled" and final["error"].startswith("stopped by operator")
    assert "the runner on host h3 stopped its job" in final["error"]
    # Its output is on h3; a task bound to h3 runs on h3 only.
    output = site.cli("h1", "output", "remote")
    assert output.code == 1 and "ran on host h3: its output is there" in output.err
    assert site.cli("h3", "output", "remote").code == 0
    refused = site.cli("h1", "run", "remote")
    assert refused.code == 4 and "runs on host h3, not on this host (h1)" in refused.err
    assert refused.err.count("\n") == 1 and len(site.executions("remote")) == 1


def test_a_runner_that_cannot_renew_its_lease_stops_its_job(tmp_path: Path):
    """The database is out of reach (here: an SQLite file held locked) for longer than the
    lease less two renewals: the runner stops its job and records why, before any other
    host could have declared the run lost."""
    place = Site(tmp_path, str(tmp_path / "catalog.db"))
    place.ok("h1", "init")
    place.ok("h1", "add", "cut-off", "--cron", "0 * * * *", "--command", "sleep 300")
    slot = slot_of(place, "cut-off")
    tick = place.cli(
        "h1", "tick", "--now", now_arg(slot + timedelta(seconds=10)), TAPESCHED_BUSY_TIMEOUT="0.2"
    )
    assert tick.code == 0, tick.err
    try:
        run = wait_until(
            lambda: (r := place.executions("cut-off")[-1])["job_pid"] and r, timeout=30
        )
        holder = sqlite3.connect(tmp_path / "catalog.db", timeout=5)
        holder.execute("BEGIN IMMEDIATE")  # every write (a renewal) waits, then fails
        try:
            wait_until(lambda: group_gone(run["job_pid"]), timeout=3 * LEASE)
        finally:
            holder.rollback()
            holder.close()
        wait_until(lambda: place.executions("cut-off")[-1]["status"] != "running", timeout=30)
        final = place.executions("cut-off")[-1]
        assert final["status"] == "failed"
        assert final["error"].startswith("lease lost: could not renew it for"), final["error"]
    finally:
        place.kill_everything()


def test_a_password_in_the_url_reaches_no_job_and_no_command_line(tmp_path: Path):
    """A URL with a password (the server here trusts, and ignores it): the runner gets it
    from its launcher's environment and drops it before the job starts."""
    server = pg.require_server()
    url = pg.create_database(server)
    secret = "Sekr1t-pw"
    place = Site(tmp_path, url.replace("postgres@", f"postgres:{secret}@", 1))
    try:
        assert place.db != url and secret in place.db
        place.ok("h1", "init")
        place.ok("h1", "add", "env", "--cron", "0 * * * *", "--command", "sh -c 'env; ps -ef'")
        place.ok("h1", "tick", "--now", now_arg(slot_of(place, "env") + timedelta(seconds=10)))
        wait_until(lambda: place.executions("env")[-1]["status"] == "success", timeout=30)
        output = place.ok("h1", "output", "env")
        assert "TAPESCHED_HOME=" in output  # the job's environment, printed
        assert secret not in output
        for path in (tmp_path / "h1").rglob("*"):
            if path.is_file():
                assert secret.encode() not in path.read_bytes(), path
    finally:
        place.kill_everything()
        pg.drop_database(server, url)


def test_a_returning_host_ends_only_its_own_jobs_never_a_process_that_got_their_pid(
    tmp_path: Path,
):
    """A run of h2 declared lost by another host (lease expired) names its job by pid and
    start time: h2's tick ends that job, and leaves alone a process that has the pid but
    another start time (the pid reused, after a reboot, say)."""
    from tapesched import process
    from tapesched.clock import utcnow
    from tapesched.store import executions

    place = Site(tmp_path, str(tmp_path / "catalog.db"))
    place.ok("h1", "init")
    place.ok("h1", "add", "gone", "--cron", "0 * * * *", "--command", "true", "--host", "h2")
    (task_id,) = place.rows("SELECT id FROM tasks WHERE task_name = 'gone'")[0]
    victim = subprocess.Popen(["sleep", "120"], start_new_session=True)
    # Reaped as soon as it exits, as init reaps a job whose runner is gone: a zombie would
    # keep its process group looking alive to the tick that ends it, for the whole grace.
    job = reaped(victim)
    try:
        real_start = process.process_start_time(victim.pid)
        assert real_start is not None
        with connect(resolve(place.db, {}).db) as db, db.write():
            executions.insert(
                db,
                {
                    "execution_id": "0000lost-0000-0000-0000-000000000000",
                    "task_id": task_id,
                    "created_at": utcnow(),
                    "completed_at": utcnow(),
                    "status": "lost",
                    "host": "h2",
                    "job_pid": victim.pid,
                    "job_start": f"{real_start}-not",
                    "error_message": "lease expired at ...: host h2 stopped renewing it",
                },
            )
        place.ok("h2", "tick")
        time.sleep(0.5)
        assert job.alive()  # the pid, but not the job's start time: left alone
        with connect(resolve(place.db, {}).db) as db, db.write():
            db.execute("UPDATE executions SET job_start = :start", {"start": real_start})
        place.ok("h1", "tick")
        time.sleep(0.5)
        assert job.alive()  # another host never signals h2's processes
        place.ok("h2", "tick")
        assert job.exited.wait(timeout=30)  # the job itself, on its host: ended
        assert victim.returncode is not None
    finally:
        job.kill()
