"""The hosts table: each host that ticks on this catalog and when its tick last ran."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tapesched.store.db import Database, decode_time, encode_time


@dataclass(frozen=True, slots=True)
class HostRecord:
    """A host as `hosts` and `status` show it."""

    name: str
    last_tick: datetime | None
    running: int  # executions running on it
    tasks: int  # tasks bound to it (not counting `any`)


def heartbeat(db: Database, host: str, now: datetime) -> None:
    """Record that this host's tick ran at `now`."""
    db.execute(
        "INSERT INTO hosts (name, last_tick) VALUES (:name, :now) "
        "ON CONFLICT (name) DO UPDATE SET last_tick = excluded.last_tick",
        {"name": host, "now": encode_time(now)},
    )


def last_tick(db: Database, host: str) -> datetime | None:
    """When the host's tick last ran."""
    return decode_time(db.scalar("SELECT last_tick FROM hosts WHERE name = :name", {"name": host}))


def all_hosts(db: Database) -> list[HostRecord]:
    """Every host that has ticked, has a task bound to it or has a run going, by name."""
    rows = db.rows(
        "SELECT n.name, h.last_tick, "
        "(SELECT count(*) FROM executions e WHERE e.status = 'running' AND e.host = n.name), "
        "(SELECT count(*) FROM tasks t WHERE t.host = n.name) "
        "FROM (SELECT name FROM hosts UNION SELECT host FROM tasks WHERE host != 'any' "
        "UNION SELECT host FROM executions WHERE status = 'running' AND host IS NOT NULL) n "
        f"LEFT JOIN hosts h ON h.name = n.name ORDER BY n.name{db.by_code_point}"
    )
    return [
        HostRecord(name, decode_time(tick), running, tasks) for name, tick, running, tasks in rows
    ]
