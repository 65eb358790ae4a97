"""How long `tapesched apply` takes for a large task file, and a re-apply (no-op).

Each repetition uses a fresh state folder per version: apply N new daily tasks
(one transaction), then apply the same file again (every task unchanged).
With an old checkout (`--old`, default /tmp/tapesched-old; `--old none` leaves
it out) the old version's `python -m tapesched apply` runs in the same
repetitions, the order of the versions alternating; the new version runs as
`python -m tapesched apply` too. Prints the machine, medians and new/old.

    python benchmarks/apply_scale.py [--tasks 100000] [--repeat 3]
                                     [--old /tmp/tapesched-old|none]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import time
from pathlib import Path

import _bench as b


def task_file(path: Path, count: int) -> None:
    with path.open("w") as out:
        for index in range(count):
            out.write(
                "[[task]]\n"
                f'task_name = "task-{index:06d}"\n'
                'schedule_type = "daily"\n'
                f'schedule_config = {{ time = "{index % 24:02d}:{index % 60:02d}:00" }}\n'
                'timezone = "UTC"\n'
                'action_type = "custom"\n'
                f'action_config = {{ command = ["echo", "{index}"] }}\n\n'
            )


def timed(command: b.Command) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(
        command.argv, env=command.env, cwd=command.cwd, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command.argv)} failed: {done.stderr.strip()}")
    return elapsed, done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tmpdir", help="where to make the scratch folder")
    b.add_old_argument(parser)
    options = parser.parse_args()
    if options.tasks < 1 or options.repeat < 1:
        parser.error("--tasks and --repeat must be at least 1")
    b.require_tapesched()
    old = b.old_code(options.old)
    codes = [b.new_code(module=True)] + ([old] if old else [])

    b.print_machine("apply: a task file created, then applied again")
    b.describe_codes(codes)
    work = b.make_root(options.tmpdir)
    try:
        file = work / "tasks.toml"
        task_file(file, options.tasks)
        times: dict[tuple[str, str], list[float]] = {}
        summaries: dict[tuple[str, str], str] = {}
        for round_ in range(options.repeat):
            shift = round_ % len(codes)
            for code in codes[shift:] + codes[:shift]:
                home = work / f"{code.label.split()[0]}-{round_}"
                command = code.command(home, "apply", str(file))
                command.env["TZ"] = "UTC"
                for case in ("apply (create all)", "re-apply (all unchanged)"):
                    elapsed, summary = timed(command)
                    times.setdefault((code.label, case), []).append(elapsed)
                    summaries[(code.label, case)] = summary
                shutil.rmtree(home, ignore_errors=True)
        print(f"\ntasks: {options.tasks:,}, repetitions: {options.repeat}\n")
        rows = []
        for (label, case), values in times.items():
            median = b.median(values)
            rows.append(
                [
                    f"{case}, {label}",
                    f"{median:.2f}",
                    f"{min(values):.2f}–{max(values):.2f}",
                    f"{options.tasks / median:.0f}",
                    summaries[(label, case)],
                ]
            )
        b.print_table(["case", "median s", "min–max s", "tasks/s", "last output"], rows)
        if old is not None:
            print()
            for case in ("apply (create all)", "re-apply (all unchanged)"):
                new_med = b.median(times[(codes[0].label, case)])
                old_med = b.median(times[(old.label, case)])
                print(f"{case}: new / old (medians) = {new_med / old_med:.3f}")
        b.print_load_at_end()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
