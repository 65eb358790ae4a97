"""Commands for tape libraries: library add (a changer driven by mtx, or a virtual
library in a folder), list and inventory (what is in each slot and drive, into the
catalog)."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from tapesched.cli.common import now, open_db, print_json
from tapesched.cli.media import (
    LibraryName,
    NewName,
    check_library_name,
    device_held,
    device_path,
    find_library,
    human_bytes,
    library_app,
    open_library,
)
from tapesched.cli.options import Full, HelpCommand, JsonOut
from tapesched.errors import Conflict, InvalidInput

Changer = Annotated[
    str | None,
    typer.Option("--changer", metavar="DEVICE", help="A changer's device (/dev/sg3), run by mtx."),
]
Drives = Annotated[
    list[str] | None,
    typer.Option(
        "--drive",
        metavar="DEVICE",
        help="With --changer: its drives (/dev/nst0), in mtx's order (repeat for more).",
    ),
]
LibraryPath = Annotated[
    str | None,
    typer.Option("--path", metavar="DIR", help="A virtual library: the folder that holds it."),
]
Slots = Annotated[
    int | None, typer.Option("--slots", metavar="N", help="With --path: its slots, 1-999.")
]
Capacity = Annotated[
    str | None,
    typer.Option(
        "--capacity",
        metavar="SIZE",
        help="With --path: each cartridge's capacity: 64M, 1G, 1.5T (default 1G).",
    ),
]
DriveCount = Annotated[
    int | None, typer.Option("--drives", metavar="N", help="With --path: its drives (default 1).")
]
BarcodePrefix = Annotated[
    str | None,
    typer.Option(
        "--barcode-prefix",
        metavar="PREFIX",
        help="With --path: the cartridges' barcodes are PREFIX001, PREFIX002, ... "
        "(default: the name in capitals, letters and digits, at most 6).",
    ),
]


@library_app.command("add", cls=HelpCommand)
def library_add(
    name: NewName,
    changer: Changer = None,
    drive: Drives = None,
    path: LibraryPath = None,
    slots: Slots = None,
    capacity: Capacity = None,
    drives: DriveCount = None,
    barcode_prefix: BarcodePrefix = None,
    json_out: JsonOut = False,
) -> None:
    """Add a library on this host: a real one (--changer DEVICE --drive DEVICE ...) or a
    virtual one (--path DIR --slots N), a folder with a cartridge folder per slot and
    drive folders that "load" them, each cartridge full at its capacity.

    A virtual library's folder is created (or an existing one with the same layout
    adopted). Then run 'tapesched library inventory NAME' and label the cartridges
    with 'tapesched media label'.
    """
    from tapesched.actions.tape import is_rewinding
    from tapesched.hosts import this_host
    from tapesched.media.labels import parse_size
    from tapesched.media.library import MAX_DRIVES, MAX_SLOTS, VirtualLibrary
    from tapesched.store import media as catalog

    check_library_name(name)
    virtual_options = [
        option
        for option, value in (
            ("--slots", slots),
            ("--capacity", capacity),
            ("--drives", drives),
            ("--barcode-prefix", barcode_prefix),
        )
        if value is not None
    ]
    if (changer is None) == (path is None):
        raise InvalidInput(
            "give --changer DEVICE --drive DEVICE (a real library) or --path DIR --slots N "
            "(a virtual one), one of them"
        )
    if changer is not None:
        if virtual_options:
            raise InvalidInput(f"{virtual_options[0]}: only with --path (a virtual library)")
        if not drive:
            raise InvalidInput("--drive: required with --changer; give each of its drives")
        kind = "changer"
        config: dict[str, Any] = {
            "changer": device_path(changer, "--changer"),
            "drives": [device_path(item, "--drive") for item in drive],
        }
        for item in config["drives"]:
            if is_rewinding(item):
                raise InvalidInput(
                    f"--drive: {item} is a rewinding tape device; give the non-rewinding node "
                    "(/dev/nst0)"
                )
        if len(set(config["drives"])) != len(config["drives"]):
            raise InvalidInput("--drive: a drive is given twice")
        described = f"changer {config['changer']}, drives {', '.join(config['drives'])}"
    else:
        if drive:
            raise InvalidInput("--drive: only with --changer (a virtual library takes --drives N)")
        if slots is None:
            raise InvalidInput("--slots: required with --path; the number of slots, 1-999")
        if not 1 <= slots <= MAX_SLOTS:
            raise InvalidInput(f"--slots: {slots} is out of range; expected 1-{MAX_SLOTS}")
        if drives is not None and not 1 <= drives <= MAX_DRIVES:
            raise InvalidInput(f"--drives: {drives} is out of range; expected 1-{MAX_DRIVES}")
        size = parse_size(capacity) if capacity is not None else 1 << 30
        kind = "virtual"
        config = {
            "path": device_path(path or "", "--path"),
            "slots": slots,
            "drives": 1 if drives is None else drives,
            "capacity": size,
        }
        described = (
            f"virtual, {slots} slots of {human_bytes(size)}, {config['drives']} "
            f"drive{'s' if config['drives'] != 1 else ''}, in {config['path']}"
        )
    current = now()
    with open_db() as db, db.write():
        if catalog.get_library(db, name) is not None:
            raise Conflict(f"library {name} exists")
        for other in catalog.all_libraries(db):
            taken = _shared_device(config, other.config)
            if taken:
                raise Conflict(f"{taken} is library {other.name}'s already")
        if kind == "virtual":
            from pathlib import Path

            VirtualLibrary.create(
                name,
                Path(config["path"]),
                config["slots"],
                config["capacity"],
                config["drives"],
                barcode_prefix,
            )
        record = catalog.add_library(db, name, kind, config, this_host(), current)
    if json_out:
        print_json(_library_json(record, 0))
    else:
        sys.stdout.write(
            f"added library {name} ({described}); "
            f"run 'tapesched library inventory {name}' to read its slots\n"
        )


def _shared_device(config: dict[str, Any], other: dict[str, Any]) -> str | None:
    """A device or folder of `config` that another library's config uses, if any."""

    def devices(entry: dict[str, Any]) -> set[str]:
        drives = entry.get("drives")
        found = {entry.get("path"), entry.get("changer")}
        found |= set(drives) if isinstance(drives, list) else set()
        return {item for item in found if isinstance(item, str)}

    shared = sorted(devices(config) & devices(other if isinstance(other, dict) else {}))
    return shared[0] if shared else None


def _library_json(record: Any, volumes: int) -> dict[str, Any]:
    from tapesched.render import iso

    return {
        "name": record.name,
        "kind": record.kind,
        "config": record.config,
        "host": record.host,
        "created_at": iso(record.created_at),
        "volumes": volumes,
    }


@library_app.command("list", cls=HelpCommand)
def library_list(full: Full = False, json_out: JsonOut = False) -> None:
    """List the libraries: kind, where they are, their drives, the volumes placed in them."""
    from tapesched.render import table
    from tapesched.store import media as catalog

    with open_db(create=False) as db, db.read():
        records = catalog.all_libraries(db)
        placed = {record.name: len(catalog.volumes(db, library=record.name)) for record in records}
    if json_out:
        print_json([_library_json(record, placed[record.name]) for record in records])
        return
    if not records:
        sys.stdout.write(
            "no libraries; add one with 'tapesched library add NAME --changer DEVICE --drive "
            "DEVICE' or '... --path DIR --slots N'\n"
        )
        return
    rows = []
    for record in records:
        config = record.config if isinstance(record.config, dict) else {}
        if record.kind == "virtual":
            where = f"{config.get('path')} ({config.get('slots')} slots)"
            drives = str(config.get("drives"))
        else:
            where = str(config.get("changer"))
            drives = ", ".join(str(item) for item in config.get("drives") or [])
        rows.append(
            [record.name, record.kind, where, drives, str(placed[record.name]), record.host]
        )
    table(None, ["LIBRARY", "KIND", "WHERE", "DRIVES", "VOLUMES", "HOST"], rows, full)


@library_app.command("inventory", cls=HelpCommand)
def library_inventory(name: LibraryName, full: Full = False, json_out: JsonOut = False) -> None:
    """Read a library's slots and drives (mtx status, or the folders of a virtual one) and
    record where each volume is: the catalog's volumes are found by barcode (else by a
    label equal to the barcode); those recorded in this library but no longer found there
    go to the shelf. Cartridges no volume matches are shown 'not labelled'."""
    from tapesched.render import table
    from tapesched.store import media as catalog

    check_library_name(name)
    current = now()
    with open_db(create=False) as db:
        with db.read():
            record = find_library(db, name)
        library = open_library(record)
        with device_held({"library": name}, f"library {name}"):
            inventory = library.inventory()
            with db.write():
                found, shelved = _record_inventory(db, name, inventory, current)
                known = {volume.label: volume for volume in catalog.volumes(db, library=name)}
    entries = _inventory_entries(inventory, found, known)
    if json_out:
        print_json({"library": name, **entries, "shelved": shelved})
        return
    rows = [
        [
            item["place"],
            item["barcode"] or ("-" if not item["full"] else "(no barcode)"),
            item["volume"] or ("not labelled" if item["barcode"] else "-"),
            item["pool"] or "-",
            item["state"] or ("empty" if not item["full"] else "-"),
        ]
        for item in [*entries["drives"], *entries["slots"]]
    ]
    full_slots = sum(1 for slot in inventory.slots if slot.full)
    footer = f"{len(inventory.slots)} slots, {full_slots} full; {len(found)} volumes placed" + (
        f"; moved to the shelf: {', '.join(shelved)}" if shelved else ""
    )
    table(None, ["SLOT", "BARCODE", "VOLUME", "POOL", "STATE"], rows, full, footer)


def _record_inventory(
    db: Any, name: str, inventory: Any, current: Any
) -> tuple[dict[str, str], list[str]]:
    """Place every volume found (in its slot or drive), clear what was found empty, shelve
    this library's volumes found nowhere; return ({place: label}, shelved labels)."""
    from tapesched.store import media as catalog

    def volume_of(barcode: str | None) -> Any:
        if not barcode:
            return None
        return catalog.volume_by_barcode(db, barcode) or catalog.get_volume(db, barcode)

    recorded = catalog.volumes(db, library=name)
    found: dict[str, str] = {}
    unread: set[tuple[int | None, str | None]] = set()  # full, but no barcode to tell
    for bay in inventory.drives:
        drive = f"{name}:{bay.index}"
        volume = volume_of(bay.barcode) if bay.full else None
        if not bay.full:
            catalog.clear_drive(db, drive, current)
        elif volume is not None:
            if (volume.library, volume.slot, volume.drive) != (name, None, drive):
                catalog.place(db, volume.label, name, None, drive, current)
            found[f"drive {bay.index}"] = volume.label
        elif not bay.barcode:
            unread.add((None, drive))
    for slot in inventory.slots:
        volume = volume_of(slot.barcode) if slot.full else None
        if not slot.full:
            catalog.clear_slot(db, name, slot.number, current)
        elif volume is not None:
            if (volume.library, volume.slot, volume.drive) != (name, slot.number, None):
                catalog.place(db, volume.label, name, slot.number, None, current)
            found[str(slot.number)] = volume.label
        elif not slot.barcode:
            unread.add((slot.number, None))
    shelved = []
    for volume in recorded:
        if volume.label in found.values() or (volume.slot, volume.drive) in unread:
            continue  # found, or maybe the cartridge without a barcode there
        catalog.place(db, volume.label, None, None, None, current)
        shelved.append(volume.label)
    return found, shelved


def _inventory_entries(inventory: Any, found: dict[str, str], known: dict[str, Any]) -> dict:
    """The slots and drives as inventory prints them, with the volume each holds."""

    def entry(key: str, place: str, full: bool, barcode: str | None, **extra: Any) -> dict:
        label = found.get(key)
        volume = known.get(label) if label else None
        return {
            "place": place,
            "full": full,
            "barcode": barcode,
            **extra,
            "volume": label,
            "pool": (volume.pool or "scratch") if volume else None,
            "state": volume.state if volume else None,
        }

    drives = [
        entry(f"drive {bay.index}", f"drive {bay.index}", bay.full, bay.barcode,
              drive=bay.index, source_slot=bay.source_slot)
        for bay in inventory.drives
    ]  # fmt: skip
    slots = [
        entry(str(slot.number), f"{slot.number}" + (" (i/e)" if slot.import_export else ""),
              slot.full, slot.barcode, slot=slot.number, import_export=slot.import_export)
        for slot in inventory.slots
    ]  # fmt: skip
    return {"drives": drives, "slots": slots}
