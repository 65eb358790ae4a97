"""The package's seams, checked on its source: SQL only in the store, processes only in
process.py, imports running one way, and no module grown past about 500 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "tapesched"
MODULES = sorted(PACKAGE.rglob("*.py"))


def name_of(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(
        ".__init__"
    )


def imports(path: Path) -> set[str]:
    """Every module the file imports, at any depth (lazy imports included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def calls(path: Path) -> set[str]:
    """`a.b` for every call of an attribute `b` of a name `a` (subprocess.run, os.kill)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if isinstance(owner, ast.Name):
                found.add(f"{owner.id}.{node.func.attr}")
    return found


def test_the_modules_were_found() -> None:
    assert len(MODULES) > 30 and PACKAGE / "store" / "db.py" in MODULES


@pytest.mark.parametrize("path", MODULES, ids=name_of)
def test_sql_lives_in_the_store(path: Path) -> None:
    module = name_of(path)
    database = {"sqlite3", "sqlalchemy", "sqlmodel"}
    used = {name.split(".")[0] for name in imports(path)} & database
    if module.startswith(("tapesched.store", "tapesched.migrations")):
        return  # the queries, and the schema's history (Alembic revisions)
    if module == "tapesched.models":  # the schema's one definition
        assert used == {"sqlalchemy", "sqlmodel"}
        return
    assert not used, f"{module} imports {used}: queries belong in tapesched.store"


@pytest.mark.parametrize("path", MODULES, ids=name_of)
def test_processes_are_spawned_and_signalled_in_process_py_only(path: Path) -> None:
    if name_of(path) == "tapesched.process":
        return
    forbidden = {
        "subprocess.run", "subprocess.Popen", "subprocess.call", "subprocess.check_call",
        "subprocess.check_output", "os.kill", "os.killpg", "os.system", "os.popen",
        "os.fork", "os.execv", "os.execvp",
    }  # fmt: skip
    assert not calls(path) & forbidden, name_of(path)


# Lower layers never import higher ones (the arrows of the README's architecture).
LAYERS = [
    {"tapesched.errors", "tapesched.clock", "tapesched.lifecycle"},
    {"tapesched.dburl", "tapesched.hosts", "tapesched.paths", "tapesched.levels"},
    {"tapesched.schedule_config", "tapesched.process"},
    {
        "tapesched.schedule",
        "tapesched.decisions",
        "tapesched.store",
        "tapesched.migrations",
        "tapesched.windows",
        "tapesched.retries",
    },
    {
        "tapesched.actions",
        "tapesched.media",
        "tapesched.spec",
        "tapesched.field_rules",
        "tapesched.job",
        "tapesched.notify",
    },
    {"tapesched.keeper", "tapesched.hooks"},
    {
        "tapesched.runner",
        "tapesched.control",
        "tapesched.tick",
        "tapesched.reconcile",
        "tapesched.tasks",
    },
    {"tapesched.taskfile", "tapesched.metrics", "tapesched.render", "tapesched.crontab"},
    {"tapesched.cli", "tapesched.entry"},
]


def layer(module: str) -> int | None:
    for index, members in enumerate(LAYERS):
        if any(module == member or module.startswith(member + ".") for member in members):
            return index
    return None


@pytest.mark.parametrize("path", MODULES, ids=name_of)
def test_imports_run_one_way(path: Path) -> None:
    own = layer(name_of(path))
    if own is None:
        return
    for imported in imports(path):
        other = layer(imported)
        assert other is None or other <= own, f"{name_of(path)} imports {imported}"


@pytest.mark.parametrize("path", MODULES, ids=name_of)
def test_no_module_over_about_500_lines(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= 520


def test_test_files_have_unique_names() -> None:
    """pytest imports test files by their base name (rootdir-relative packages are not
    used here): two files with one name stop the whole run at collection."""
    names = [path.name for path in (PACKAGE.parent / "tests").rglob("test_*.py")]
    assert sorted(name for name in set(names) if names.count(name) > 1) == []
