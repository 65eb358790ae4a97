"""CLI start-up: `tapesched --help` and `tapesched --version` beside `python -c pass`.

Each command is a fresh process, as when a person or a script calls it. The
commands are run round-robin (interleaved), so they are measured under the same
conditions; the table shows medians. With an old checkout (`--old`, default
/tmp/tapesched-old), the old version's `python -m tapesched --help` and
`--version` are in the same round-robin, beside the new version's, started the
same way.

Last, which heavy modules each command really imports (PYTHONPROFILEIMPORTTIME
on the real process): `--help` and `--version` must not import SQLModel,
SQLAlchemy, croniter or rich, and `tapesched tick` with nothing due (the fast
path cron takes every minute) none of typer, click, rich, sqlalchemy, sqlmodel
or croniter.

    python benchmarks/startup.py [--runs 30] [--old /tmp/tapesched-old|none]
"""

from __future__ import annotations

import argparse
import shutil

import _bench as b

HEAVY_HELP = ("sqlmodel", "sqlalchemy", "croniter", "rich")
HEAVY_TICK = ("typer", "click", "rich", "sqlalchemy", "sqlmodel", "croniter")


def loaded(command: b.Command, heavy: tuple[str, ...]) -> str:
    modules = b.imported_modules(command)
    return ", ".join(m for m in heavy if m in modules) or "none"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="timed runs of each (default 30)")
    parser.add_argument("--tmpdir", help="where to make the scratch state folder")
    b.add_old_argument(parser)
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    b.require_tapesched()
    old = b.old_code(args.old)

    root = b.make_root(args.tmpdir)
    try:
        new = b.new_code()
        new_m = b.new_code(module=True)
        home = root / "home"  # never the user's own state folder
        commands = {
            "python -c pass": b.Command([b.PYTHON, "-c", "pass"], b.env_for(home)),
            "tapesched --version (new)": new.command(home, "--version"),
            "tapesched --help (new)": new.command(home, "--help"),
            "python -m tapesched --version (new)": new_m.command(home, "--version"),
            "python -m tapesched --help (new)": new_m.command(home, "--help"),
        }
        if old is not None:
            commands[f"python -m tapesched --version ({old.label})"] = old.command(
                home, "--version"
            )
            commands[f"python -m tapesched --help ({old.label})"] = old.command(home, "--help")
        b.print_machine("tapesched CLI start-up")
        b.describe_codes([new, new_m] + ([old] if old else []))
        print(f"{args.runs} runs of each, interleaved (round-robin), after 2 warm-up rounds\n")
        times = b.interleaved(commands, args.runs)
        base = b.median(times["python -c pass"])
        rows = []
        for label, values in times.items():
            med = b.median(values)
            rows.append([label, f"{med * 1000:.1f}", b.spread(values), f"{med / base:.2f}x"])
        b.print_table(["command", "median ms", "min–max ms", "vs python -c pass"], rows)
        if old is not None:
            print()
            for flag in ("--help", "--version"):
                new_med = b.median(times[f"python -m tapesched {flag} (new)"])
                old_med = b.median(times[f"python -m tapesched {flag} ({old.label})"])
                print(f"python -m tapesched {flag}: new / old (medians) = {new_med / old_med:.2f}")

        # What the real processes import.
        print()
        for flag in ("--help", "--version"):
            checked = ", ".join(HEAVY_HELP)
            found = loaded(new.command(home, flag), HEAVY_HELP)
            print(f"heavy modules loaded by tapesched {flag}: {found} (checked: {checked})")
        ticks = {"new": (new, root / "tick-new")}
        if old is not None:
            ticks[old.label] = (old, root / "tick-old")
        for label, (code, tick_home) in ticks.items():
            b.make_state(tick_home, 1, b.far_future, code=code)  # one task, not due
            found = loaded(code.command(tick_home, "tick"), HEAVY_TICK)
            how = "tapesched tick" if code is new else "python -m tapesched tick"
            print(
                f"heavy modules loaded by {how} ({label}), nothing due: {found} "
                f"(checked: {', '.join(HEAVY_TICK)})"
            )
        b.print_load_at_end()
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
