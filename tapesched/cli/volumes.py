"""Commands for volumes: media label, list, show, retire.

Labelling writes tape file 0 (tapesched.media.labels.Label) and erases the rest of the
tape, so it refuses a tape that carries a tapesched label already unless --force, and
even then only a scratch volume, one whose retention has passed, one never written, or
one this catalog does not know.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from tapesched.cli.common import now, open_db, print_json
from tapesched.cli.media import (
    VOLUME_STATES,
    check_library_name,
    complete_library,
    complete_pool_or_scratch,
    complete_state,
    complete_volume,
    device_held,
    device_path,
    find_library,
    human_bytes,
    location,
    media_app,
    open_library,
    stamp_here,
    tool_runner,
    volume_json,
)
from tapesched.cli.options import Full, HelpCommand, JsonOut
from tapesched.errors import Conflict, InvalidInput, NotFound, TapeError, TapeschedError

Label = Annotated[
    str,
    typer.Argument(metavar="LABEL", help="The volume's label.", autocompletion=complete_volume),
]
PoolOption = Annotated[
    str | None,
    typer.Option(
        "--pool",
        metavar="POOL",
        help="Only volumes of this pool, or of the scratch pool (scratch).",
        autocompletion=complete_pool_or_scratch,
    ),
]
LabelDevice = Annotated[
    str | None,
    typer.Option(
        "--device",
        metavar="DEVICE",
        help="The drive holding the cartridge: a tape drive (/dev/nst0) or a folder used "
        "as a virtual drive (its cartridge/ is the loaded cartridge).",
    ),
]


def _check_label(label: str) -> str:
    from tapesched.media.labels import check_label

    return check_label(label)


# --------------------------------------------------------------------------- label


@media_app.command("label", cls=HelpCommand)
def media_label(
    label: Annotated[
        str,
        typer.Argument(
            metavar="LABEL",
            help="1-32 letters, digits, - or _ (in a library, usually its barcode).",
        ),
    ],
    pool: Annotated[
        str,
        typer.Option(
            "--pool",
            metavar="POOL",
            help="A pool, or scratch (unused volumes any pool may take).",
            autocompletion=complete_pool_or_scratch,
        ),
    ],
    library: Annotated[
        str | None,
        typer.Option(
            "--library",
            metavar="LIBRARY",
            help="The library holding the cartridge (with --slot).",
            autocompletion=complete_library,
        ),
    ] = None,
    slot: Annotated[
        int | None, typer.Option("--slot", metavar="N", help="The cartridge's slot.")
    ] = None,
    device: LabelDevice = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Relabel a tape that carries a tapesched label: a scratch volume, one whose "
            "retention has passed, one never written, or one this catalog does not know.",
        ),
    ] = False,
    json_out: JsonOut = False,
) -> None:
    """Label a cartridge: write its label record (tape file 0: label, pool, a new volume
    UUID, when) and add the volume to the catalog. Everything after tape file 0 is erased.

    In a library, the cartridge in --slot is loaded into drive 0 (what the drive holds is
    unloaded first) and put back afterwards; with --device, the cartridge loaded in that
    drive is labelled and stays there. --pool scratch makes a volume any pool may take;
    else the volume is in that pool, ready to be written.
    """
    from tapesched.media.labels import SCRATCH_POOL, check_pool_name
    from tapesched.store import media as catalog

    _check_label(label)
    check_pool_name(pool, allow_scratch=True)
    target = None if pool == SCRATCH_POOL else pool
    if (library is None) == (device is None):
        raise InvalidInput(
            "give --library NAME --slot N (a cartridge in a library) or --device DEVICE "
            "(a cartridge in a drive), one of them"
        )
    if library is not None:
        check_library_name(library)
        if slot is None:
            raise InvalidInput("--slot: required with --library; the slot of the cartridge")
        if slot < 1:
            raise InvalidInput(f"--slot: {slot} is not a slot; slots are numbered from 1")
    else:
        if slot is not None:
            raise InvalidInput("--slot: only with --library")
        device = device_path(device or "", "--device")
    current = now()
    with open_db() as db:
        with db.read():
            if target is not None and catalog.get_pool(db, target) is None:
                raise NotFound(f"no such pool: {target} (see 'tapesched pool add')")
            record = find_library(db, library) if library is not None else None
        job = _Labelling(db, label, target, force, current)
        if record is not None:
            changer = open_library(record)
            with device_held({"library": record.name}, f"library {record.name}"):
                volume = job.in_library(changer, record.name, slot or 0)
        else:
            with device_held({"device": device}, str(device)):
                volume = job.on_device(str(device))
    if json_out:
        print_json(volume_json(volume))
    else:
        sys.stdout.write(
            f"labelled volume {label} into pool {volume.pool or 'scratch'} ({location(volume)})\n"
        )


class _Labelling:
    """Labelling one cartridge: the checks against what it carries and the catalog, the
    label record written, the catalog row added or renewed."""

    def __init__(self, db: Any, label: str, pool: str | None, force: bool, current: Any) -> None:
        self.db, self.label, self.pool, self.force, self.now = db, label, pool, force, current

    def in_library(self, library: Any, name: str, slot: int) -> Any:
        from tapesched.store import media as catalog

        inventory = library.inventory()
        found = next((item for item in inventory.slots if item.number == slot), None)
        if found is None:
            numbers = [item.number for item in inventory.slots]
            known = f" (slots {min(numbers)}-{max(numbers)})" if numbers else ""
            raise InvalidInput(f"--slot: library {name} has no slot {slot}{known}")
        bay = next((item for item in inventory.drives if item.index == 0), None)
        if bay is None:
            raise TapeError(f"library {name} has no drive 0")
        moved = None
        if bay.full and bay.source_slot == slot and not found.full:
            barcode = bay.barcode  # the slot's cartridge is in the drive already
        else:
            if not found.full:
                raise NotFound(f"library {name}: slot {slot} is empty")
            if bay.full:
                back = bay.source_slot or next(
                    (s.number for s in inventory.slots if not s.full and not s.import_export),
                    None,
                )
                if back is None:
                    raise TapeError(f"library {name}: no empty slot to unload drive 0 into")
                library.unload(back, 0)
                moved = (bay.barcode, back)
            library.load(slot, 0)
            barcode = found.barcode
        try:
            where = f"slot {slot} of library {name}"
            self.write(library.drive(0), barcode, where, (name, None, f"{name}:0"), moved)
        except BaseException:
            try:
                library.unload(slot, 0)
            except TapeschedError:
                pass
            raise
        try:
            library.unload(slot, 0)
        except TapeschedError as error:
            raise TapeError(
                f"volume {self.label} is labelled, but unloading it from drive 0 of library "
                f"{name} to slot {slot} failed: {error.message}"
            ) from None
        with self.db.write():
            catalog.place(self.db, self.label, name, slot, None, self.now)
            return catalog.get_volume(self.db, self.label)

    def on_device(self, device: str) -> Any:
        from tapesched.media.drive import VirtualDrive, cartridge_info, drive_for

        drive = drive_for(device, tool_runner())
        barcode = None
        if isinstance(drive, VirtualDrive) and drive.loaded():
            barcode = cartridge_info(drive.cartridge)[0]
        return self.write(drive, barcode, device, (None, None, device), None)

    def write(
        self,
        drive: Any,
        barcode: str | None,
        where: str,
        place: tuple[str | None, int | None, str | None],
        moved: tuple[str | None, int] | None,
    ) -> Any:
        """Check what the drive holds, write the label, record the volume at `place`."""
        from tapesched.media.labels import Label
        from tapesched.store import media as catalog

        held = drive.read_label()
        with self.db.read():
            existing = catalog.get_volume(self.db, self.label)
            known = catalog.get_volume(self.db, held.label) if held is not None else None
            holder = catalog.volume_by_barcode(self.db, barcode) if barcode else None
        if known is not None and held is not None and known.uuid != held.uuid:
            known = None  # another labelling under that name: not this catalog's volume
        self.check_overwrite(held, known, where)
        same = existing is not None and known is not None and existing.label == known.label
        if existing is not None and not same:
            raise Conflict(
                f"volume {self.label} is already in the catalog, another cartridge "
                f"({location(existing)}); choose another label"
            )
        if known is not None and known.label != self.label:
            raise Conflict(
                f"{where} holds volume {known.label} of this catalog; relabel it as "
                f"{known.label}, or give this label to another cartridge"
            )
        if holder is not None and holder.label != self.label and holder.state != "retired":
            raise Conflict(
                f"barcode {barcode} is volume {holder.label}'s in the catalog; label the "
                f"cartridge as {holder.label}, or retire {holder.label} first"
            )
        record = Label.new(self.label, self.pool, self.now)
        drive.write_label(record)
        values: dict[str, Any] = {
            "barcode": barcode,
            "pool": self.pool,
            "state": "scratch" if self.pool is None else "append",
            "uuid": record.uuid,
            "bytes_written": 0,
            "files_written": 0,
            "first_written": None,
            "last_written": None,
            "retained_until": None,
            "labelled_at": self.now,
            "updated_at": self.now,
        }
        with self.db.write():
            if holder is not None and holder.label != self.label:
                catalog.update_volume(self.db, holder.label, {"barcode": None})
            if same:
                # Its data is gone: the backups on it (whole, wherever else they span) stop
                # being restore points.
                catalog.delete_pieces(self.db, catalog.executions_on(self.db, self.label))
                catalog.update_volume(self.db, self.label, values)
            else:
                catalog.add_volume(self.db, {"label": self.label, **values, "created_at": self.now})
            if moved is not None and moved[0]:
                other = catalog.volume_by_barcode(self.db, moved[0]) or catalog.get_volume(
                    self.db, moved[0]
                )
                if other is not None and other.label != self.label:
                    catalog.place(self.db, other.label, place[0], moved[1], None, self.now)
            catalog.place(self.db, self.label, *place, self.now)
            return catalog.get_volume(self.db, self.label)

    def check_overwrite(self, held: Any, known: Any, where: str) -> None:
        """Refuse to overwrite a tapesched label unless --force, and then unless the volume
        is scratch, expired, never written, or unknown to this catalog."""
        from tapesched.media.mount import describe

        if held is None:
            return  # blank, or not tapesched's
        what = describe(known, held)
        if not self.force:
            raise Conflict(
                f"{where} holds {what}; give --force to relabel it (a scratch volume, one "
                "whose retention has passed, or one this catalog does not know)"
            )
        if known is None or known.state == "scratch":
            return
        if known.retained_until is not None and known.retained_until <= self.now:
            return
        if known.retained_until is None and known.files_written == 0:
            return
        until = known.retained_until
        raise Conflict(
            f"{where} holds {what}"
            + (f", retained until {until:%Y-%m-%d %H:%M} UTC" if until else " with backups")
            + "; not relabelled"
        )


# --------------------------------------------------------------------------- list, show


@media_app.command("list", cls=HelpCommand)
def media_list(
    pool: PoolOption = None,
    state: Annotated[
        str | None,
        typer.Option(
            "--state",
            metavar="STATE",
            help="Only volumes in this state: scratch, append, full, error or retired.",
            autocompletion=complete_state,
        ),
    ] = None,
    full: Full = False,
    json_out: JsonOut = False,
) -> None:
    """List the volumes by label: pool, state, what is written, until when it is
    retained, where it is (a library slot or drive, a drive, or the shelf)."""
    from tapesched.media.labels import SCRATCH_POOL, check_pool_name
    from tapesched.render import table
    from tapesched.store import media as catalog

    if pool is not None:
        check_pool_name(pool, allow_scratch=True)
    if state is not None and state not in VOLUME_STATES:
        raise InvalidInput(
            f"--state: '{state}' is not a volume state; expected {', '.join(VOLUME_STATES)}"
        )
    with open_db(create=False) as db, db.read():
        if pool not in (None, SCRATCH_POOL) and catalog.get_pool(db, pool) is None:
            raise NotFound(f"no such pool: {pool}")
        listed = catalog.volumes(db, pool=pool, state=state)
    if json_out:
        print_json([volume_json(volume) for volume in listed])
        return
    if not listed:
        filtered = pool is not None or state is not None
        sys.stdout.write(
            "no volume matches\n"
            if filtered
            else "no volumes; label one with 'tapesched media label'\n"
        )
        return
    rows = [
        [
            volume.label,
            volume.pool or "scratch",
            volume.state,
            human_bytes(volume.bytes_written),
            str(volume.files_written),
            stamp_here(volume.last_written),
            stamp_here(volume.retained_until),
            location(volume),
        ]
        for volume in listed
    ]
    headers = ["LABEL", "POOL", "STATE", "WRITTEN", "FILES", "LAST WRITTEN", "RETAINED UNTIL"]
    table(None, [*headers, "LOCATION"], rows, full)


@media_app.command("show", cls=HelpCommand)
def media_show(label: Label, full: Full = False, json_out: JsonOut = False) -> None:
    """Show a volume and every piece of a backup on it: the execution, its task, when it
    completed, its level, the tape file, its bytes and SHA-256."""
    from tapesched.render import iso, pairs, table
    from tapesched.store import executions
    from tapesched.store import media as catalog
    from tapesched.store import tasks as task_rows

    _check_label(label)
    with open_db(create=False) as db, db.read():
        volume = catalog.find_volume(db, label)
        pieces = catalog.pieces_on(db, label)
        runs = {piece.execution_id: executions.get(db, piece.execution_id) for piece in pieces}
        task_ids = {run.task_id for run in runs.values() if run is not None}
        names = {task_id: getattr(task_rows.get(db, task_id), "task_name", None)
                 for task_id in task_ids}  # fmt: skip

    def about(piece: Any) -> dict[str, Any]:
        run = runs.get(piece.execution_id)
        result = run.result if run is not None and isinstance(run.result, dict) else {}
        return {
            "execution_id": piece.execution_id,
            "task": names.get(run.task_id) if run is not None else None,
            "completed_at": run.completed_at if run is not None else None,
            "level": result.get("level"),
            "seq": piece.seq,
            "file_number": piece.file_number,
            "bytes": piece.bytes,
            "sha256": piece.sha256,
        }

    described = [about(piece) for piece in pieces]
    if json_out:
        print_json(
            {
                "volume": volume_json(volume),
                "pieces": [
                    {**item, "completed_at": iso(item["completed_at"])} for item in described
                ],
            }
        )
        return
    pairs(
        [
            ("Label", volume.label),
            ("Barcode", volume.barcode or "-"),
            ("Pool", volume.pool or "scratch"),
            ("State", volume.state),
            ("UUID", volume.uuid or "-"),
            ("Written", f"{human_bytes(volume.bytes_written)} ({volume.bytes_written} bytes)"),
            ("Files", str(volume.files_written)),
            ("First written", stamp_here(volume.first_written)),
            ("Last written", stamp_here(volume.last_written)),
            ("Retained until", stamp_here(volume.retained_until)),
            ("Labelled", stamp_here(volume.labelled_at)),
            ("Location", location(volume)),
            ("Created", stamp_here(volume.created_at)),
            ("Updated", stamp_here(volume.updated_at)),
        ]
    )
    sys.stdout.write("\n")
    if not described:
        sys.stdout.write("no backup on it\n")
        return
    rows = [
        [
            item["execution_id"],
            item["task"] or "-",
            stamp_here(item["completed_at"]),
            "-" if item["level"] is None else str(item["level"]),
            str(item["file_number"]),
            human_bytes(item["bytes"]),
            item["sha256"],
        ]
        for item in described
    ]
    headers = ["EXECUTION", "TASK", "COMPLETED", "LEVEL", "FILE", "BYTES", "SHA-256"]
    table(None, headers, rows, full)


@media_app.command("retire", cls=HelpCommand)
def media_retire(label: Label, json_out: JsonOut = False) -> None:
    """Retire a volume: nothing is written on it again and it is never recycled; the
    backups on it stay restorable."""
    from tapesched.store import media as catalog

    _check_label(label)
    with open_db(create=False) as db, db.write():
        volume = catalog.find_volume(db, label)
        already = volume.state == "retired"
        if not already:
            volume = catalog.update_volume(db, label, {"state": "retired", "updated_at": now()})
        held = len(catalog.executions_on(db, label))
    if json_out:
        print_json({**volume_json(volume), "backups": held, "changed": not already})
    elif already:
        sys.stdout.write(f"volume {label} is retired already\n")
    else:
        sys.stdout.write(
            f"retired volume {label}: nothing more is written on it; its {held} "
            f"backup{'s' if held != 1 else ''} stay restorable\n"
        )
