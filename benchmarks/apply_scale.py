"""How long `tapesched apply` takes for a large task file, and a re-apply (no-op).

    python benchmarks/apply_scale.py [--tasks 100000] [--repeat 3]

Each repetition uses a fresh state folder: apply N new daily tasks (one
transaction), then apply the same file again (every task unchanged). Prints
medians and the machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
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


def timed(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {done.stderr.strip()}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tapesched-apply-"))
    try:
        file = work / "tasks.toml"
        task_file(file, options.tasks)
        first, again = [], []
        for round_ in range(options.repeat):
            home = work / f"home{round_}"
            env = {**os.environ, "TAPESCHED_HOME": str(home), "TZ": "UTC"}
            command = [sys.executable, "-m", "tapesched", "apply", str(file)]
            first.append(timed(command, env))
            again.append(timed(command, env))
        b.print_machine("apply: a task file created, then applied again")
        print(f"tasks: {options.tasks}, repetitions: {options.repeat}")
        print(f"{'case':<28}{'median s':>10}{'tasks/s':>12}")
        for name, values in (("apply (create all)", first), ("re-apply (all unchanged)", again)):
            median = statistics.median(values)
            print(f"{name:<28}{median:>10.2f}{options.tasks / median:>12.0f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
