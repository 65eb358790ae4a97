"""Getting the right volume into a drive for a job, and proving it is the right one.

A job finds its volumes either in a library (it loads and unloads them itself)
or in a standalone drive (an operator inserts them: the job waits up to the
task's device_wait, saying which labels would do). Whatever is loaded, its
label record is read and checked against the catalog before a byte is read
or written: an unlabelled tape, a volume the catalog does not know, one of
another pool or one still retained is refused in one line naming what is
loaded and what is wanted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tapesched.errors import NotFound, TapeError
from tapesched.media.drive import Drive, NoCartridge, Runner, drive_for
from tapesched.media.labels import Label
from tapesched.media.library import Library, open_library
from tapesched.store import media as catalog
from tapesched.store.db import Database
from tapesched.store.media import PoolRecord, VolumeRecord

_POLL = 2.0  # seconds between looks at a standalone drive while waiting for an operator


@dataclass
class Where:
    """Where a job finds its volumes: a library and one of its drives, or a drive alone."""

    drive: Drive
    drive_name: str  # as the catalog records a loaded volume: the device, or LIBRARY:INDEX
    library: Library | None = None
    library_name: str | None = None
    index: int = 0


def where_for(db: Database, config: dict[str, Any], run: Runner) -> Where:
    """Given an action's config ("library" [+ "drive"] or "device"), return where its
    volumes are; raise TapeError for a library the catalog does not know."""
    name = config.get("library")
    if name:
        with db.read():
            record = catalog.get_library(db, name)
        if record is None:
            raise TapeError(f"library {name} is not in the catalog (see 'tapesched library add')")
        library = open_library(record.name, record.kind, record.config, run)
        index = int(config.get("drive", 0))
        return Where(library.drive(index), f"{name}:{index}", library, name, index)
    device = str(config["device"])
    return Where(drive_for(device, run), device)


def describe(volume: VolumeRecord | None, label: Label | None) -> str:
    """What a loaded tape is, for a message."""
    if label is None:
        return "an unlabelled tape (no tapesched label)"
    if volume is None:
        return f"volume {label.label}, which this catalog does not know"
    pool = volume.pool or "scratch"
    return f"volume {label.label} (pool {pool}, {volume.state})"


class Mounter:
    """Mounts volumes for one job and keeps the catalog's idea of where they are."""

    def __init__(
        self,
        db: Database,
        where: Where,
        log: Callable[[str], None],
        check: Callable[[], None],
        wait: float,
        now: Callable[[], datetime],
    ) -> None:
        self.db = db
        self.where = where
        self.log = log
        self.check = check
        self.wait = wait
        self.now = now
        self.mounted: str | None = None
        self.loaded = False  # this job loaded a tape into a library's drive

    # ------------------------------------------------------------------ reading

    def mount(self, label: str) -> VolumeRecord:
        """Get volume `label` into the drive and check its label; return its record."""
        with self.db.read():
            volume = catalog.get_volume(self.db, label)
        if volume is None:
            raise TapeError(f"volume {label} is not in the catalog")
        if self.where.library is not None:
            self._load(volume)
            found = self._read_label()
            self._check_is(found, volume)
        else:
            self._await(lambda found: self._is(found, volume), f"volume {label}")
            self._place(label, None, self.where.drive_name)
        self.mounted = label
        return volume

    # ------------------------------------------------------------------ writing

    def mount_for_write(self, pool: PoolRecord, exclude: set[str]) -> VolumeRecord:
        """Get a volume the pool may write on into the drive (an append volume of the pool,
        else a scratch one, labelled into the pool); return its record."""
        if self.where.library is not None:
            with self.db.read():
                choices = [
                    volume
                    for volume in catalog.candidates(self.db, pool.name, self.where.library_name)
                    if volume.label not in exclude
                ]
            if not choices:
                raise TapeError(
                    f"no volume of pool {pool.name} (append or scratch) in library "
                    f"{self.where.library_name}"
                    + (f" besides {', '.join(sorted(exclude))}" if exclude else "")
                    + "; label more with 'tapesched media label'"
                )
            volume = choices[0]
            self._load(volume)
            found = self._read_label()
            self._check_is(found, volume)
        else:
            if self.mounted is not None and self.mounted in exclude:
                self.where.drive.eject()  # the volume this run filled: out it goes
            wanted = self._wanted(pool, exclude)
            volume = self._await(lambda found: self._writable(found, pool, exclude), wanted)
            self._place(volume.label, None, self.where.drive_name)
        self.mounted = volume.label
        if volume.state == "scratch":
            volume = self._relabel(volume, pool)
        return volume

    def _wanted(self, pool: PoolRecord, exclude: set[str]) -> str:
        with self.db.read():
            labels = [
                volume.label
                for volume in catalog.candidates(self.db, pool.name)
                if volume.label not in exclude
            ]
        named = ", ".join(labels[:8]) + (", ..." if len(labels) > 8 else "")
        return f"an append or scratch volume of pool {pool.name}" + (
            f" ({named})" if named else " (none is labelled: see 'tapesched media label')"
        )

    def _writable(self, found: Label | None, pool: PoolRecord, exclude: set[str]) -> VolumeRecord:
        volume = self._known(found)
        if volume.label in exclude:
            raise _Refused(f"{describe(volume, found)} was filled by this run")
        if volume.state == "append" and volume.pool == pool.name:
            return volume
        if volume.state == "scratch" and volume.pool in (None, pool.name):
            return volume
        if volume.retained_until is not None and volume.retained_until > self.now():
            raise _Refused(
                f"{describe(volume, found)} is retained until {volume.retained_until:%Y-%m-%d}"
            )
        raise _Refused(describe(volume, found))

    def _relabel(self, volume: VolumeRecord, pool: PoolRecord) -> VolumeRecord:
        with self.db.read():
            holding = catalog.executions_on(self.db, volume.label)
        if holding:
            raise TapeError(
                f"volume {volume.label} is scratch but the catalog still has {len(holding)} "
                "backups on it; refusing to overwrite it"
            )
        now = self.now()
        # The same uuid: the cartridge stays the one this catalog labelled, so a crash
        # between the tape's label and the catalog's row leaves a volume still accepted
        # (a scratch volume's pool on tape is not held against it) and relabelled again.
        fresh = Label.new(volume.label, pool.name, now)
        label = Label(volume.label, pool.name, volume.uuid or fresh.uuid, fresh.labelled_at)
        self.log(f"labelling scratch volume {volume.label} into pool {pool.name}")
        self.where.drive.write_label(label)
        changes = {
            "pool": pool.name,
            "state": "append",
            "uuid": label.uuid,
            "labelled_at": now,
            "bytes_written": 0,
            "files_written": 0,
            "first_written": None,
            "last_written": None,
            "retained_until": None,
            "updated_at": now,
        }
        with self.db.write():
            catalog.update_volume(self.db, volume.label, changes)
            return catalog.get_volume(self.db, volume.label)

    # ------------------------------------------------------------------ the drive

    def _read_label(self) -> Label | None:
        try:
            return self.where.drive.read_label()
        except NoCartridge:
            return None

    def _known(self, found: Label | None) -> VolumeRecord:
        if found is None:
            raise _Refused(describe(None, None))
        with self.db.read():
            volume = catalog.get_volume(self.db, found.label)
        if volume is None or volume.uuid != found.uuid:
            if volume is not None:
                raise _Refused(
                    f"a tape labelled {found.label} that is not the volume {found.label} of "
                    "this catalog (another labelling)"
                )
            raise _Refused(describe(None, found))
        if (found.pool or None) != (volume.pool or None) and volume.state != "scratch":
            raise _Refused(f"volume {found.label} labelled for pool {found.pool or 'scratch'}")
        return volume

    def _is(self, found: Label | None, volume: VolumeRecord) -> VolumeRecord:
        known = self._known(found)
        if known.label != volume.label:
            raise _Refused(describe(known, found))
        return known

    def _check_is(self, found: Label | None, volume: VolumeRecord) -> None:
        try:
            self._is(found, volume)
        except _Refused as refused:
            raise TapeError(
                f"{self.where.drive_name} holds {refused}; wanted volume {volume.label}"
            ) from None

    def _await(self, accept: Callable[[Label | None], VolumeRecord], wanted: str) -> VolumeRecord:
        """A standalone drive: take what is loaded if `accept` takes it; else wait up to
        `wait` seconds for an operator to insert it, then fail naming both."""
        deadline = time.monotonic() + max(0.0, self.wait)
        said = None
        while True:
            found = self._read_label()
            try:
                return accept(found)
            except _Refused as refused:
                loaded = str(refused) if self.where.drive.loaded() else "no tape"
            if time.monotonic() >= deadline:
                raise TapeError(f"{self.where.drive_name} holds {loaded}; wanted {wanted}")
            if said != loaded:
                self.log(
                    f"{self.where.drive_name} holds {loaded}; waiting up to {self.wait:g}s "
                    f"for an operator to insert {wanted}"
                )
                said = loaded
            self.check()
            time.sleep(min(_POLL, max(0.0, deadline - time.monotonic())))

    def _load(self, volume: VolumeRecord) -> None:
        """Library: put `volume` into the job's drive (unloading what is there)."""
        library = self.where.library
        assert library is not None
        tag = volume.barcode or volume.label
        inventory = library.inventory()
        bay = next((bay for bay in inventory.drives if bay.index == self.where.index), None)
        if bay is None:
            raise TapeError(f"library {library.name} has no drive {self.where.index}")
        if bay.full and bay.barcode == tag:
            self.loaded = True
            self._place(volume.label, None, self.where.drive_name)
            return
        if bay.full:
            slot = bay.source_slot or _first_empty(inventory)
            if slot is None:
                raise TapeError(f"library {library.name}: no empty slot to unload the drive into")
            self.log(f"unloading {bay.barcode or 'a tape'} from drive {bay.index} to slot {slot}")
            library.unload(slot, self.where.index)
            if bay.barcode:
                self._place_tag(bay.barcode, slot)
        slot = next(
            (item.number for item in inventory.slots if item.full and item.barcode == tag), None
        )
        if slot is None:
            raise TapeError(
                f"volume {volume.label} is not in library {library.name} "
                "(run 'tapesched library inventory' after moving tapes)"
            )
        self.log(f"loading volume {volume.label} from slot {slot} into drive {self.where.index}")
        library.load(slot, self.where.index)
        self.loaded = True
        self._place(volume.label, None, self.where.drive_name)

    def release(self) -> None:
        """At the end of a job: a library's drive goes back to its slot (whatever the job
        loaded, the right volume or not); a standalone drive keeps its tape."""
        library = self.where.library
        if library is None or not self.loaded:
            return
        inventory = library.inventory()
        bay = next((bay for bay in inventory.drives if bay.index == self.where.index), None)
        if bay is None or not bay.full:
            return
        slot = bay.source_slot or _first_empty(inventory)
        if slot is None:
            return
        library.unload(slot, self.where.index)
        if bay.barcode:
            self._place_tag(bay.barcode, slot)
        elif self.mounted is not None:
            self._place(self.mounted, slot, None)
        self.mounted = None
        self.loaded = False

    def _place(self, label: str, slot: int | None, drive: str | None) -> None:
        with self.db.write():
            catalog.place(self.db, label, self.where.library_name, slot, drive)

    def _place_tag(self, barcode: str, slot: int) -> None:
        with self.db.write():
            volume = catalog.volume_by_barcode(self.db, barcode) or catalog.get_volume(
                self.db, barcode
            )
            if volume is not None:
                catalog.place(self.db, volume.label, self.where.library_name, slot, None)


class _Refused(Exception):
    """What is loaded is not what the job wants (the message says what it is)."""


def _first_empty(inventory: Any) -> int | None:
    return next(
        (slot.number for slot in inventory.slots if not slot.full and not slot.import_export),
        None,
    )


def pool_of(db: Database, name: str) -> PoolRecord:
    with db.read():
        pool = catalog.get_pool(db, name)
    if pool is None:
        raise NotFound(f"pool {name} is not in the catalog (see 'tapesched pool add')")
    return pool
