"""The lease keeper: the runner's thread that keeps its run's lease alive.

A runner's exec lock proves it alive only on its own host. So the runner also
renews a lease on its execution row, every sixth of the lease period, on a
connection of its own; a tick on any host marks the run lost once the lease has
expired by the database server's clock. Two things stop the job:

- the row is no longer `running` (another host marked it lost, or `stop` on
  another host cancelled it): the job is stopped at once;
- no renewal has succeeded for the lease period less two renewals (the
  database is out of reach): the job is stopped before any other host may
  declare the run lost, so that a run never goes on after the catalog says it
  has ended.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta

from tapesched.decisions import Lease
from tapesched.errors import StorageUnavailable
from tapesched.paths import StatePaths
from tapesched.store import executions
from tapesched.store.db import Database, open_database

_GONE = "gone"  # the execution's row no longer exists


class LeaseKeeper(threading.Thread):
    """Renews one execution's lease until stopped; calls `abort(reason)` once if the run
    must end."""

    def __init__(
        self,
        paths: StatePaths,
        execution_id: str,
        lease: Lease,
        abort: Callable[[str], None],
        log: Callable[[str], None],
    ) -> None:
        super().__init__(name=f"lease-{execution_id[:8]}", daemon=True)
        self.paths = paths
        self.execution_id = execution_id
        self.lease = lease
        self.abort = abort
        self.log = log
        self.ended_by: str | None = None  # the status someone else recorded, if any
        self._stop_event = threading.Event()
        self._db: Database | None = None
        self._failing_since: float | None = None

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=self.lease.renew_every + 15)

    def run(self) -> None:
        last_renewed = time.monotonic()
        try:
            while not self._stop_event.wait(self.lease.renew_every):
                attempt = time.monotonic()
                status = self._renew()
                if status == _GONE:  # its task was deleted meanwhile (from another host)
                    self.ended_by = "deleted"
                    self.abort("the run's task was deleted; job stopped")
                    return
                if status == "running":
                    last_renewed = attempt
                    if self._failing_since is not None:
                        self.log("lease renewed again; the database answers")
                        self._failing_since = None
                    continue
                if status is not None:  # someone recorded an outcome: the run is over
                    self.ended_by = status
                    self.abort(f"the run was recorded {status} elsewhere; job stopped")
                    return
                if time.monotonic() - last_renewed >= self.lease.give_up_after:
                    waited = int(time.monotonic() - last_renewed)
                    self.abort(
                        f"lease lost: could not renew it for {waited}s (the database was out "
                        "of reach); job stopped before another host could declare it lost"
                    )
                    return
        finally:
            if self._db is not None:
                self._db.close()

    def _renew(self) -> str | None:
        """Renew the lease; return the execution's status (_GONE if its row is gone), or
        None if the database could not be reached."""
        try:
            if self._db is None:
                self._db = open_database(self.paths, create=False)
            with self._db.write():
                status = executions.renew_lease(
                    self._db, self.execution_id, timedelta(seconds=self.lease.period)
                )
            return _GONE if status is None else status
        except StorageUnavailable as problem:
            if self._failing_since is None:
                self._failing_since = time.monotonic()
                self.log(f"could not renew the run's lease: {problem.message}")
            if self._db is not None:
                self._db.close()
                self._db = None
            return None
