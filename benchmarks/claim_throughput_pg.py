"""Claim throughput on PostgreSQL with three hosts ticking at once, beside one host.

Every repetition makes its own scratch database (or SQLite state folder) with N
due tasks (next run 30 s ago, oldest first) and drops it afterwards. A host is
a process with TAPESCHED_HOST=h1, h2 or h3 and a state folder of its own, all
on the one database, as on three machines.

A. Claims alone (default 1,000 tasks, 3 repetitions). Each host is a process
   that imports tapesched, waits at a common start line, then runs tick() with
   the runner launch replaced by a no-op and the cap at N, timing each
   claim_one() call. Configurations, rotated in each repetition:
     - SQLite, one host (as claim_throughput.py A; a baseline);
     - PostgreSQL, one host;
     - the same with synchronous_commit = off for the database (a diagnostic:
       how much of a claim is the WAL flush at COMMIT, which SQLite's WAL
       with synchronous=NORMAL does not wait for);
     - PostgreSQL, three hosts, every task bound to `any` (all three contend
       for every task: SKIP LOCKED and the compare-and-set decide);
     - PostgreSQL, three hosts, each task bound to one of them (a third each).
   claims/s = executions made / time from the common start to the last tick's
   end. Checked: every task has exactly one execution, the claims the ticks
   reported add up to the executions made, and no host ran another host's task.

B. The real thing (default 300 tasks, 2 repetitions). Every task is bound to
   `any`; its job is `/bin/sh -c 'echo "$1" >> MARKER' sh TASK` (a custom
   action: a runner and a shell, nothing else). Configurations, rotated: SQLite
   with one host (`tapesched tick`), PostgreSQL with one host and with three
   hosts at once (`tapesched --db URL tick`, the crontab line `init` prints),
   each tick with TAPESCHED_MAX_CONCURRENT_RUNS=N so the cap never stops a
   claim; then the catalog is polled until every execution is final. Reported:
   the ticks' wall time, claims/s over it (executions / first tick start to
   last tick end) and over the claims' own span (first to last execution
   created_at: a tick makes all its claims before it starts a runner), runs/s
   end to end (successes / ticks' start to last completion), peak live runners
   and peak connections to the database, executions per host. Checked: exactly
   one execution per task, every one `success`, and the marker file names
   every task exactly once (no job ran twice or never).

A sampler thread watches this benchmark's runners (found in /proc by the
scratch database's unique name on their command line), the database's
connections (pg_stat_activity) and MemAvailable; if memory runs low it kills
them. At the end of each repetition any process still naming the database is
killed (by pid) and the database dropped (WITH (FORCE)).

    python benchmarks/claim_throughput_pg.py [--tasks 1000] [--claims-reps 3]
                                             [--e2e-tasks 300] [--reps 2] [--pg URL]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import subprocess
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import _bench as b
import _pg

HOSTS = ("h1", "h2", "h3")

# One host's claims, in a child process with tapesched imported. It says "ready" once
# imported, waits for a line on stdin (the common start), runs tick() with the runner
# launch replaced by a no-op (reported as started: tick drops a claim whose launch
# fails) and prints what it did. Times are CLOCK_MONOTONIC, shared by every process.
CLAIMS_ONLY = r"""
import json, sqlite3, sys, time
from collections import Counter
import psycopg
import tapesched.decisions
import tapesched.store.postgres
from tapesched import paths, tick as ticker
from tapesched.clock import utcnow

home, db, cap = sys.argv[1], sys.argv[2] or None, int(sys.argv[3])
ticker._launch = lambda *args: True
per_claim = []
outcomes = Counter()
claim_one = ticker.claim_one


def timed_claim(*args, **kwargs):
    start = time.perf_counter()
    outcome = claim_one(*args, **kwargs)
    per_claim.append(time.perf_counter() - start)
    outcomes[type(outcome).__name__] += 1
    return outcome


ticker.claim_one = timed_claim
# Count the statements (SQLite's trace callback; psycopg's Connection.execute).
statements = [0]
connect = sqlite3.connect


def traced_connect(*args, **kwargs):
    connection = connect(*args, **kwargs)
    connection.set_trace_callback(lambda _: statements.__setitem__(0, statements[0] + 1))
    return connection


sqlite3.connect = traced_connect
pg_execute = psycopg.Connection.execute


def counted_execute(self, *args, **kwargs):
    statements[0] += 1
    return pg_execute(self, *args, **kwargs)


psycopg.Connection.execute = counted_execute
resolved = paths.resolve(db, environ={"TAPESCHED_HOME": home})
print("ready", flush=True)
sys.stdin.readline()
start = time.monotonic()
report = ticker.tick(resolved, utcnow(), max_concurrent=cap)
end = time.monotonic()
print(json.dumps({"start": start, "end": end, "claimed": len(report.launched),
                  "problems": report.problems, "outcomes": outcomes,
                  "per_claim": per_claim, "statements": statements[0]}), flush=True)
"""

MARKER_SCRIPT = 'echo "$1" >> "$2"'


class Catalog:
    """One repetition's catalog, a scratch PostgreSQL database or an SQLite state folder,
    and its hosts' state folders; the few queries the checks need are written once, with
    `?` parameters."""

    def __init__(self, base: Path, url: str | None, hosts: list[str]) -> None:
        self.base = base
        self.url = url
        self.hosts = hosts
        self.homes = {host: base / host for host in hosts}
        if url is None:  # SQLite: one host; its state folder holds the database
            self.db_path: Path | None = self.homes[hosts[0]] / b.DB_NAME
            self.needle = str(base).encode()
            self.dbname = None
        else:
            self.db_path = None
            self.dbname = _pg.parse_url(url).dbname
            self.needle = self.dbname.encode()

    def rows(self, sql: str, params: list | tuple = ()) -> list[tuple]:
        if self.url is not None:
            with _pg.connect(self.url) as connection:
                return connection.execute(sql.replace("?", "%s"), params).fetchall()
        connection = sqlite3.connect(self.db_path, timeout=30)
        try:
            return connection.execute(sql, params).fetchall()
        finally:
            connection.close()

    def one(self, sql: str, params: list | tuple = ()) -> tuple:
        return self.rows(sql, params)[0]

    def tick_command(self, host: str) -> list[str]:
        """The crontab line's command: with the URL for PostgreSQL, the state folder's
        database (TAPESCHED_HOME) for SQLite."""
        if self.url is None:
            return [*b.tapesched_argv(), "tick"]
        return [*b.tapesched_argv(), "--db", self.url, "tick"]

    def env(self, host: str) -> dict[str, str]:
        env = b.env_for(self.homes[host])
        env["TAPESCHED_HOST"] = host
        return env


def slug(config: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in config).split()).lower()


def make_catalog(
    root: Path,
    scratch: _pg.Scratch,
    name: str,
    config: str,
    tasks: int,
    marker: Path | None = None,
) -> Catalog:
    """A catalog for one configuration ("SQLite, 1 host", "PostgreSQL, 3 hosts, tasks own",
    ...) with `tasks` due tasks (30 s ago, 10 µs apart, oldest first), bound to any host
    or (own) to each host in turn; their job is `true`, or with `marker` the shell
    appending the task's name to that file."""
    base = root / name
    first = b.utcnow() - timedelta(seconds=30)
    step = timedelta(microseconds=10)
    hosts = ["h1"] if "1 host" in config else list(HOSTS)
    if config.startswith("SQLite"):
        catalog = Catalog(base, None, hosts)
        b.make_state(
            catalog.homes["h1"],
            tasks,
            lambda i: first + step * i,
            action_config={"command": ["true"]},
        )
        update = "UPDATE tasks SET host = 'any'"
        if marker is not None:
            update += (
                ", action_config = json_object('command', json_array('/bin/sh', '-c', ?, "
                "'sh', task_name, ?))"
            )
        connection = sqlite3.connect(catalog.db_path)
        try:
            with connection:
                connection.execute(update, [MARKER_SCRIPT, str(marker)] if marker else [])
        finally:
            connection.close()
    else:
        catalog = Catalog(base, scratch.create(), hosts)
        if "synchronous_commit off" in config:  # for this database's new sessions only
            with _pg.connect(scratch.server) as connection:
                connection.execute(
                    f'ALTER DATABASE "{catalog.dbname}" SET synchronous_commit = off'
                )
        bound = hosts if "tasks own" in config else ["any"]
        _pg.make_state(
            catalog.url,
            base / "init",
            tasks,
            first,
            step,
            bound,
            action_config={"command": ["true"]},
            analyze=marker is None,
        )
        if marker is not None:
            with _pg.connect(catalog.url) as connection:
                connection.execute(
                    "UPDATE tasks SET action_config = json_build_object('command', "
                    "json_build_array('/bin/sh', '-c', %s::text, 'sh', task_name, %s::text))",
                    [MARKER_SCRIPT, str(marker)],
                )
                _pg.analyze_tables(connection)
    for home in catalog.homes.values():
        home.mkdir(parents=True, exist_ok=True)
    return catalog


def drop_catalog(catalog: Catalog, scratch: _pg.Scratch) -> int:
    """Kill (by pid) every process still naming the catalog, drop its database, remove its
    folders; return how many processes were killed."""
    left = _pg.pids_naming(catalog.needle)
    _pg.stop_processes(left)
    try:
        if catalog.url is not None:
            scratch.drop(catalog.url)
    finally:
        shutil.rmtree(catalog.base, ignore_errors=True)
    return len(left)


class Sampler(threading.Thread):
    """Samples a catalog's live runners, its connections (PostgreSQL) and MemAvailable;
    kills the runners if memory runs low."""

    def __init__(self, catalog: Catalog, server: str, min_available_kib: int) -> None:
        super().__init__(daemon=True)
        self.catalog = catalog
        self.server = server
        self.min_available_kib = min_available_kib
        self.peak_runners = 0
        self.live_runners = 0
        self.peak_connections: int | None = None
        self.lowest_available_kib: int | None = None
        self.aborted: str | None = None
        self._halt = threading.Event()

    def run(self) -> None:
        connection = _pg.connect(self.server) if self.catalog.url else None
        try:
            while not self._halt.is_set():
                self.sample(connection)
                self._halt.wait(0.2)
        finally:
            if connection is not None:
                connection.close()

    def sample(self, connection) -> None:  # noqa: ANN001 - a psycopg connection or None
        pids = _pg.pids_naming(self.catalog.needle, forks=False)
        runners = [pid for pid in pids if _is_runner(pid)]
        self.live_runners = len(runners)
        self.peak_runners = max(self.peak_runners, len(runners))
        if connection is not None:
            count = connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [self.catalog.dbname]
            ).fetchone()[0]
            self.peak_connections = max(self.peak_connections or 0, count)
        available = b.meminfo("MemAvailable")
        if available is not None:
            if self.lowest_available_kib is None or available < self.lowest_available_kib:
                self.lowest_available_kib = available
            if available < self.min_available_kib and not self.aborted:
                self.aborted = f"MemAvailable fell to {available // 1024} MiB"
                _pg.stop_processes(_pg.pids_naming(self.catalog.needle))

    def stop(self) -> None:
        self._halt.set()
        self.join()


def _is_runner(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return b"\0_run\0" in handle.read()
    except OSError:
        return False


def as_utc(value: object) -> datetime | None:
    """A stored instant (SQLite text or a PostgreSQL naive timestamp) as aware UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC)


# --------------------------------------------------------------------------- checks


def check_catalog(catalog: Catalog) -> dict:
    """Executions per task (none, one, more), per host and by status; executions on a
    host the task is not bound to; tasks whose next run did not move; the claims' span."""
    none, one, more = catalog.one(
        "SELECT count(*) FILTER (WHERE n = 0), count(*) FILTER (WHERE n = 1), "
        "count(*) FILTER (WHERE n > 1) FROM (SELECT t.id, count(e.execution_id) AS n "
        "FROM tasks t LEFT JOIN executions e ON e.task_id = t.id GROUP BY t.id) AS x"
    )
    per_host = dict(
        catalog.rows("SELECT coalesce(host, '-'), count(*) FROM executions GROUP BY 1 ORDER BY 1")
    )
    statuses = dict(catalog.rows("SELECT status, count(*) FROM executions GROUP BY 1"))
    wrong_host = catalog.one(
        "SELECT count(*) FROM executions e JOIN tasks t ON t.id = e.task_id "
        "WHERE t.host <> 'any' AND t.host <> e.host"
    )[0]
    not_moved = catalog.one(
        "SELECT count(*) FROM tasks WHERE next_run_time <= ?", [b.db_time(b.utcnow())]
    )[0]
    first, last = catalog.one("SELECT min(created_at), max(created_at) FROM executions")
    return {
        "tasks_without": none,
        "tasks_once": one,
        "tasks_more": more,
        "per_host": per_host,
        "statuses": statuses,
        "wrong_host": wrong_host,
        "not_moved": not_moved,
        "claims_span": (as_utc(last) - as_utc(first)).total_seconds() if first else None,
    }


def check_lines(check: dict, tasks: int) -> list[str]:
    problems = []
    if check["tasks_once"] != tasks:
        problems.append(
            f"{check['tasks_without']} tasks without an execution, {check['tasks_more']} "
            f"with more than one (of {tasks})"
        )
    if check["wrong_host"]:
        problems.append(f"{check['wrong_host']} executions on a host the task is not bound to")
    if check["not_moved"]:
        problems.append(f"{check['not_moved']} tasks still due (next run not moved)")
    return problems


def print_checks(results: list[dict], tasks: int) -> bool:
    """Print every repetition's problems; return whether there were none."""
    bad = 0
    for r in results:
        lines = check_lines(r["check"], tasks)
        if "reports" in r:
            claimed = sum(report["claimed"] for report in r["reports"].values())
            if claimed != r["made"]:
                lines.append(f"ticks reported {claimed} claims, {r['made']} executions were made")
            for report in r["reports"].values():
                lines += [f"problem: {p}" for p in report["problems"][:3]]
        lines += r.get("notes", [])
        for line in lines:
            print(f"rep {r['rep']} ({r['config']}): {line}")
        bad += bool(lines)
    if not bad:
        print(
            f"checked: in every repetition each of the {tasks:,} tasks has exactly one "
            "execution, no task ran on a host it is not bound to, every task's next run moved"
            + (
                ", the claims the ticks reported equal the executions made"
                if results and "reports" in results[0]
                else ""
            )
        )
    return not bad


# --------------------------------------------------------------------------- A


def claims_only(root: Path, scratch: _pg.Scratch, rep: int, config: str, tasks: int) -> dict:
    """One repetition of one configuration of A: its catalog, its hosts, the check."""
    catalog = make_catalog(root, scratch, f"a-{rep}-{slug(config)}", config, tasks)
    try:
        children = {}
        for host in catalog.hosts:
            children[host] = subprocess.Popen(
                [b.PYTHON, "-c", CLAIMS_ONLY, str(catalog.homes[host]), catalog.url or ""]
                + [str(tasks)],
                env=catalog.env(host),
                cwd=str(b.REPO),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        try:
            for host, child in children.items():
                if child.stdout.readline().strip() != "ready":
                    raise SystemExit(f"claims-only child {host} failed:\n{child.stderr.read()}")
            for child in children.values():  # the common start
                child.stdin.write("go\n")
                child.stdin.flush()
            reports = {}
            for host, child in children.items():
                out, err = child.communicate()
                if child.returncode != 0:
                    raise SystemExit(f"claims-only child {host} exited {child.returncode}:\n{err}")
                reports[host] = json.loads(out)
        finally:
            for child in children.values():
                if child.poll() is None:
                    child.kill()
                    child.wait()
        check = check_catalog(catalog)
    finally:
        drop_catalog(catalog, scratch)
    start = min(r["start"] for r in reports.values())
    end = max(r["end"] for r in reports.values())
    made = sum(check["per_host"].values())
    return {
        "rep": rep,
        "config": config,
        "reports": reports,
        "check": check,
        "seconds": end - start,
        "made": made,
        "rate": made / (end - start),
    }


def print_claims_only(results: list[dict], tasks: int, configs: list[str]) -> None:
    rows = []
    for r in results:
        per = [x for report in r["reports"].values() for x in report["per_claim"]]
        outcomes: Counter = Counter()
        for report in r["reports"].values():
            outcomes.update(report["outcomes"])
        rows.append(
            [
                r["rep"],
                r["config"],
                r["made"],
                " / ".join(str(report["claimed"]) for report in r["reports"].values()),
                f"{r['seconds']:.2f}",
                f"{r['rate']:.0f}",
                " / ".join(
                    f"{report['claimed'] / (report['end'] - report['start']):.0f}"
                    for report in r["reports"].values()
                ),
                f"{b.median(per) * 1000:.2f}" if per else "-",
                f"{sum(report['statements'] for report in r['reports'].values()) / r['made']:.1f}"
                if r["made"]
                else "-",
                ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())),
            ]
        )
    b.print_table(
        [
            "rep",
            "configuration",
            "executions",
            "claims per host",
            "s",
            "claims/s",
            "claims/s per host",
            "claim_one ms",
            "statements / claim",
            "claim_one outcomes",
        ],
        rows,
    )
    print()
    medians = {}
    for config in configs:
        rates = [r["rate"] for r in results if r["config"] == config]
        medians[config] = b.median(rates)
        print(f"median, {config}: {medians[config]:,.0f} claims/s ({tasks:,} tasks)")
    base = medians.get("PostgreSQL, 1 host")
    if base:
        for config in configs:
            if config != "PostgreSQL, 1 host":
                print(f"{config} / PostgreSQL, 1 host: {medians[config] / base:.2f}")
    print(
        "\ns: from the common start to the last tick() end (connect, heartbeat, reconcile, "
        "claims)\nclaims/s: executions made / s; per host: its claims / its own tick() time"
        "\nclaim_one ms: median over every claim_one() call; Gone: a task another host "
        "holds (SKIP LOCKED) or has just claimed\nstatements / claim: statements the ticks "
        "sent (BEGIN and COMMIT included) / executions made"
        "\nsynchronous_commit off (ALTER DATABASE, a diagnostic): a COMMIT does not wait for "
        "its WAL flush, as SQLite's WAL with synchronous=NORMAL does not"
    )
    print_checks(results, tasks)


# --------------------------------------------------------------------------- B


def one_repetition(
    root: Path,
    scratch: _pg.Scratch,
    rep: int,
    config: str,
    tasks: int,
    args: argparse.Namespace,
) -> dict:
    marker = root / f"markers-{rep}-{slug(config)}.txt"
    catalog = make_catalog(root, scratch, f"b-{rep}-{slug(config)}", config, tasks, marker)
    marker.touch()
    sampler = Sampler(catalog, args.pg, args.min_free_mib * 1024)
    result: dict = {"rep": rep, "config": config}
    notes: list[str] = []
    ticks: dict[str, tuple] = {}
    try:
        sampler.start()
        ended: dict[str, float] = {}
        started_wall = b.utcnow()
        for host in catalog.hosts:
            env = catalog.env(host)
            env["TAPESCHED_MAX_CONCURRENT_RUNS"] = str(tasks)
            out = (catalog.base / f"tick-{host}.out").open("wb")
            start = time.monotonic()
            tick = subprocess.Popen(
                catalog.tick_command(host),
                env=env,
                cwd=str(b.REPO),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            ticks[host] = (tick, out, start)

        def wait(host: str) -> None:
            ticks[host][0].wait()
            ended[host] = time.monotonic()

        waiters = [threading.Thread(target=wait, args=(host,)) for host in catalog.hosts]
        for waiter in waiters:
            waiter.start()
        for waiter in waiters:
            waiter.join()
        for host, (tick, out, _) in ticks.items():
            out.close()
            text = (catalog.base / f"tick-{host}.out").read_text(errors="replace").strip()
            if tick.returncode != 0 or text:
                notes.append(f"tick of {host} exited {tick.returncode}: {text[:300]}")
        result["tick_seconds"] = {host: ended[host] - ticks[host][2] for host in catalog.hosts}
        result["window"] = max(ended.values()) - min(start for _, _, start in ticks.values())

        deadline = time.monotonic() + args.timeout
        idle_since = None
        while True:
            running = catalog.one("SELECT count(*) FROM executions WHERE status = 'running'")[0]
            if sampler.aborted or running == 0:
                break
            if sampler.live_runners == 0:
                idle_since = idle_since or time.monotonic()
                if time.monotonic() - idle_since > 3:
                    notes.append(f"{running} executions left running with no runner alive")
                    break
            else:
                idle_since = None
            if time.monotonic() > deadline:
                notes.append(f"{running} executions still running at the timeout")
                break
            time.sleep(0.2)
        last_end = catalog.one("SELECT max(completed_at) FROM executions")[0]
        errors = catalog.rows(
            "SELECT coalesce(error_message, '-'), count(*) FROM executions "
            "WHERE status <> 'success' GROUP BY 1 ORDER BY 2 DESC LIMIT 5"
        )
        if sampler.aborted:
            notes.append(f"ABORTED: {sampler.aborted}")
        for _ in range(50):  # runners may still be closing after recording their outcome
            if not _pg.pids_naming(catalog.needle):
                break
            time.sleep(0.1)
        check = check_catalog(catalog)
    finally:
        for tick, out, _ in ticks.values():  # only after an error are any still running
            if tick.poll() is None:
                tick.kill()
                tick.wait()
            out.close()
        sampler.stop()
        killed = drop_catalog(catalog, scratch)
        if killed:
            notes.append(f"{killed} processes still naming the catalog were killed")
    ran = Counter(marker.read_text().split())
    marker.unlink()
    names = {f"bench-{i:06d}" for i in range(tasks)}
    twice = sum(1 for n in ran.values() if n > 1)
    never = len(names - set(ran))
    if twice or never or set(ran) - names:
        notes.append(f"marker file: {twice} tasks ran more than once, {never} never ran")
    for message, count in errors:
        notes.append(f"{count} x not success: {message[:200]}")
    made = sum(check["per_host"].values())
    success = check["statuses"].get("success", 0)
    end_to_end = (as_utc(last_end) - started_wall).total_seconds() if last_end else None
    result.update(
        check=check,
        made=made,
        notes=notes,
        success=success,
        marker_once=sum(1 for n in ran.values() if n == 1),
        end_to_end=end_to_end,
        peak_runners=sampler.peak_runners,
        peak_connections=sampler.peak_connections,
        lowest_available_mib=(sampler.lowest_available_kib or 0) // 1024,
    )
    return result


def print_end_to_end(results: list[dict], tasks: int, configs: list[str]) -> None:
    rows = []
    for r in results:
        span = r["check"]["claims_span"]
        rows.append(
            [
                r["rep"],
                r["config"],
                " / ".join(f"{s:.2f}" for s in r["tick_seconds"].values()),
                f"{r['window']:.2f}",
                f"{r['made'] / r['window']:.0f}",
                f"{span:.2f}" if span is not None else "-",
                f"{r['made'] / span:.0f}" if span else "-",
                f"{r['end_to_end']:.2f}" if r["end_to_end"] else "-",
                f"{r['success'] / r['end_to_end']:.1f}" if r["end_to_end"] else "-",
                " / ".join(f"{h} {n}" for h, n in r["check"]["per_host"].items()),
                r["peak_runners"],
                r["peak_connections"] if r["peak_connections"] is not None else "-",
                r["marker_once"],
                ", ".join(f"{k} {v}" for k, v in sorted(r["check"]["statuses"].items())),
            ]
        )
    b.print_table(
        [
            "rep",
            "configuration",
            "tick s (each)",
            "ticks s",
            "claims/s",
            "claim span s",
            "claims/s in span",
            "all final s",
            "runs/s",
            "executions per host",
            "peak runners",
            "peak conns",
            "ran once",
            "executions",
        ],
        rows,
    )
    print()
    for config in configs:
        mine = [r for r in results if r["config"] == config]
        if not mine:
            continue
        claims = b.median([r["made"] / r["window"] for r in mine])
        spans = [r["made"] / r["check"]["claims_span"] for r in mine if r["check"]["claims_span"]]
        runs = [r["success"] / r["end_to_end"] for r in mine if r["end_to_end"]]
        print(
            f"median, {config}: {claims:.0f} claims/s over the ticks' wall time, "
            + (f"{b.median(spans):.0f} in the claims' span; " if spans else "")
            + (f"{b.median(runs):.1f} successful runs/s end to end" if runs else "no runs")
        )
    print(
        "\ntick s (each): wall time of each tick process (start-up, claims, runner spawns)\n"
        "ticks s: from the first tick's start to the last tick's exit; claims/s: executions "
        "/ ticks s\n"
        "claim span s: first to last claim (the executions' created_at: a tick makes all its "
        "claims before it starts any runner); claims/s in span: executions / claim span\n"
        "all final s: from the ticks' start to the last completion recorded; runs/s: "
        "successful executions / all final s\n"
        "peak runners, peak conns: most runner processes alive, most connections to the "
        "database (pg_stat_activity), sampled every 0.2 s\n"
        "ran once: tasks the marker file names exactly once"
    )
    ok = print_checks(results, tasks)
    if ok and all(r["success"] == tasks and r["marker_once"] == tasks for r in results):
        print(
            f"checked: every execution succeeded and every job ran exactly once (the marker "
            f"file names each of the {tasks:,} tasks once), in every repetition"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000, help="due tasks for A (default 1000)")
    parser.add_argument("--claims-reps", type=int, default=3, help="repetitions of A (default 3)")
    parser.add_argument("--e2e-tasks", type=int, default=300, help="due tasks for B (default 300)")
    parser.add_argument("--reps", type=int, default=2, help="repetitions of B (default 2)")
    parser.add_argument(
        "--timeout", type=float, default=600, help="give up on a repetition of B after S s"
    )
    parser.add_argument(
        "--min-free-mib",
        type=int,
        default=2048,
        help="kill the runners when MemAvailable falls below this (default 2048)",
    )
    parser.add_argument("--tmpdir", help="where to make the scratch state folders")
    _pg.add_server_argument(parser)
    args = parser.parse_args()
    if min(args.tasks, args.e2e_tasks) < 1 or min(args.reps, args.claims_reps) < 0:
        parser.error("need task counts >= 1 and repetitions >= 0")
    b.require_tapesched()

    root = b.make_root(args.tmpdir)
    try:
        with _pg.scratch(args.pg) as scratch:
            b.print_machine("tapesched claim throughput on PostgreSQL, three hosts")
            print(_pg.server_line(args.pg) + f"; {_pg.driver_version()}")
            b.describe_codes([b.new_code()])
            print()
            if args.claims_reps:
                configs = [
                    "SQLite, 1 host",
                    "PostgreSQL, 1 host",
                    "PostgreSQL, 1 host, synchronous_commit off",
                    "PostgreSQL, 3 hosts, tasks any",
                    "PostgreSQL, 3 hosts, tasks own",
                ]
                print(
                    f"A. claims alone: tick() in one process per host over {args.tasks:,} due "
                    f"tasks, cap {args.tasks}, runner launch disabled, hosts started together; "
                    f"{args.claims_reps} repetitions, configurations rotated\n"
                )
                results = []
                for rep in range(1, args.claims_reps + 1):
                    shift = (rep - 1) % len(configs)
                    for config in configs[shift:] + configs[:shift]:
                        results.append(claims_only(root, scratch, rep, config, args.tasks))
                results.sort(key=lambda r: (configs.index(r["config"]), r["rep"]))
                print_claims_only(results, args.tasks, configs)
                print()
            if args.reps:
                configs = ["SQLite, 1 host", "PostgreSQL, 1 host", "PostgreSQL, 3 hosts"]
                print(
                    f"B. the real thing: {args.e2e_tasks:,} due tasks bound to any (custom "
                    "action: sh appending the task's name to a marker file); the ticks "
                    "(`tapesched --db URL tick` on PostgreSQL, `tapesched tick` on SQLite) of "
                    "the configuration's hosts started together, TAPESCHED_MAX_CONCURRENT_RUNS="
                    f"{args.e2e_tasks}; then wait until every execution is final; "
                    f"{args.reps} repetitions, configurations rotated\n"
                )
                results = []
                for rep in range(1, args.reps + 1):
                    shift = (rep - 1) % len(configs)
                    for config in configs[shift:] + configs[:shift]:
                        results.append(
                            one_repetition(root, scratch, rep, config, args.e2e_tasks, args)
                        )
                        time.sleep(2)  # let the host settle between repetitions
                results.sort(key=lambda r: (configs.index(r["config"]), r["rep"]))
                print_end_to_end(results, args.e2e_tasks, configs)
            b.print_load_at_end()
    finally:
        left = _pg.pids_naming(str(root).encode()) + _pg.pids_naming(_pg.PREFIX.encode() + b"_")
        if left:
            print(f"WARNING: {len(set(left))} processes naming a scratch catalog were left")
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
