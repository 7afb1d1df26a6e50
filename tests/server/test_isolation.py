"""The embedded target is its own room: it imports none of the suite's checks."""

from __future__ import annotations

import ast
from pathlib import Path

import tagocheck.server

TARGET = Path(tagocheck.server.__file__).parent
CHECK_MODULES = {
    "tagocheck.spec.schemas",
    "tagocheck.spec.routes",
    "tagocheck.spec.permissions",
    "tagocheck.spec.ratelimits",
    "tagocheck.spec.examples",
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_no_target_module_imports_a_check():
    for path in sorted(TARGET.glob("*.py")):
        imports = imported_modules(path)
        leaks = {m for m in imports if m in CHECK_MODULES or m == "tagocheck"}
        assert not leaks, f"{path.name} imports {sorted(leaks)}"


def test_the_target_reads_nothing_from_schemas():
    for path in sorted(TARGET.glob("*.py")):
        assert "schemas/" not in path.read_text(), path.name
