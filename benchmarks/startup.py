"""CLI start-up: `tapesched --help` and `tapesched --version` beside `python -c pass`.

Each command is a fresh process, as when a person or a script calls it. The
commands are run round-robin (interleaved), so they are measured under the same
conditions; the table shows medians. `--help` and `--version` must not import
SQLModel, SQLAlchemy or croniter; the last lines check that too.

    python benchmarks/startup.py [--runs 30]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess

import _bench as b

HEAVY = ("sqlmodel", "sqlalchemy", "croniter", "rich")


def heavy_imports(flag: str, env: dict[str, str]) -> list[str]:
    """Which heavy modules are loaded once `tapesched FLAG` has run (checked in-process)."""
    code = (
        "import sys\n"
        f"sys.argv = ['tapesched', {flag!r}]\n"
        "from tapesched.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print('HEAVY:' + ' '.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [b.PYTHON, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    marker = [line for line in done.stdout.splitlines() if line.startswith("HEAVY:")]
    return marker[-1].removeprefix("HEAVY:").split()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="timed runs of each (default 30)")
    parser.add_argument("--tmpdir", help="where to make the scratch state folder")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    b.require_tapesched()

    root = b.make_root(args.tmpdir)
    try:
        env = b.env_for(root / "home")  # never the user's own state folder
        cli = b.tapesched_argv()
        commands = {
            "python -c pass": ([b.PYTHON, "-c", "pass"], env),
            "tapesched --version": ([*cli, "--version"], env),
            "tapesched --help": ([*cli, "--help"], env),
        }
        b.print_machine("tapesched CLI start-up")
        print(f"tapesched: {' '.join(cli)}")
        print(f"{args.runs} runs of each, interleaved (round-robin), after 2 warm-up rounds\n")
        times = b.interleaved(commands, args.runs)
        base = b.median(times["python -c pass"])
        rows = []
        for label, values in times.items():
            med = b.median(values)
            rows.append([label, f"{med * 1000:.1f}", b.spread(values), f"{med / base:.2f}x"])
        b.print_table(["command", "median ms", "min–max ms", "vs python -c pass"], rows)
        print()
        for flag in ("--help", "--version"):
            loaded = ", ".join(heavy_imports(flag, env)) or "none"
            checked = ", ".join(HEAVY)
            print(f"heavy modules loaded by tapesched {flag}: {loaded} (checked: {checked})")
        b.print_load_at_end()
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
