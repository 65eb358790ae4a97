"""Commands that only look never create a database or a state folder.

On a missing database they say where they looked and to run `tapesched init` (exit 5),
whether the state folder is missing, empty, or named by --db / TAPESCHED_DB.

NOTE (issue 9, until cli/views.py, cli/runs.py and cli/admin.py open the database with
`open_db(create=False)` for these commands): the cases of `list`, `show`, `logs`, `status`,
`preview TASK`, `export`, `metrics` and `output` fail, because those commands still create
what they look at. tapesched.cli.common.open_db(create=False) and
tapesched.store.db.open_database(create=False) already make nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

READ_ONLY = [
    ["list"],
    ["list", "--json"],
    ["show", "nightly"],
    ["show", "1", "--json"],
    ["logs", "nightly"],
    ["status"],
    ["status", "--json"],
    ["preview", "nightly"],
    ["export"],
    ["metrics"],
    ["output", "0123456789abcdef"],
]


def listing(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*"))


def missing(db: Path) -> str:
    return (
        f"tapesched: database {db} does not exist; run 'tapesched init' to create it "
        "(or give --db / TAPESCHED_DB)\n"
    )


@pytest.mark.parametrize("args", READ_ONLY, ids=" ".join)
@pytest.mark.parametrize("where", ["no state folder", "an empty state folder", "--db"])
def test_a_read_only_command_creates_nothing(run_cli, home, tmp_path, args, where):
    db = home / "tapesched.db"
    if where == "an empty state folder":
        home.mkdir(parents=True)
    if where == "--db":
        db = tmp_path / "elsewhere" / "t.db"
        args = ["--db", str(db), *args]
    before = listing(tmp_path)
    result = run_cli(*args)
    assert (result.code, result.err, result.out) == (5, missing(db), "")
    assert listing(tmp_path) == before


def test_through_a_real_process_too(sh, home, tmp_path):
    for args in (["list"], ["status", "--json"], ["export"]):
        result = sh(*args)
        assert (result.code, result.err, result.out) == (5, missing(home / "tapesched.db"), "")
    assert listing(tmp_path) == []


def test_previewing_a_schedule_needs_no_database(run_cli, tmp_path):
    result = run_cli("preview", "--daily", "02:00", "--count", "2", "--json")
    assert result.code == 0 and len(result.json()["runs"]) == 2
    assert listing(tmp_path) == []


def test_after_init_they_read_an_empty_catalog(run_cli, home):
    assert run_cli("init").code == 0
    before = listing(home)
    assert run_cli("list", "--json").json()["total"] == 0
    assert run_cli("export").out == ""
    assert run_cli("show", "nightly").code == 3
    assert listing(home) == before
