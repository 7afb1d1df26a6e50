"""What users and CI rely on: the README's two commands, the layout, and the packaged schemas."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import tagocheck

ROOT = Path(__file__).resolve().parents[1]
PIP_WHEEL = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]


def test_readme_gives_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme


def test_ci_runs_the_readme_test_command():
    script = (ROOT / ".ci" / "run").read_text()
    assert "make test" in script


def test_makefile_targets_exist():
    makefile = (ROOT / "Makefile").read_text()
    assert "\ndemo:" in makefile and "\ntest:" in makefile
    assert "ruff check" in makefile and "ruff format --check" in makefile


def test_every_top_level_folder_has_a_readme():
    for folder in ("schemas", "contract", "loadtests", "reports", "bench"):
        assert (ROOT / folder / "README.md").is_file(), folder


def test_generated_reports_stay_out_of_git():
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert "reports/*" in ignored and "!reports/README.md" in ignored


def test_an_installed_wheel_carries_and_reads_the_schemas(tmp_path):
    subprocess.run(
        [*PIP_WHEEL, "-w", str(tmp_path / "dist"), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("tagocheck-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        assert "tagocheck/_schemas/envelope.schema.json" in names
        assert "tagocheck/_schemas/examples/envelope.json" in names
        assert "tagocheck/_loadtests/capacity.py" in names  # tagocheck capacity runs it
        assert "tagocheck/report/templates/report.html.j2" in names
        archive.extractall(tmp_path / "site")
    probe = (
        "import tagocheck, tagocheck.spec.schemas as s, tagocheck.job.run as r;"
        "print(s.schema_dir());"
        "print(len(tagocheck.route_table()), len(tagocheck.permission_matrix()));"
        "r.ROOT = r.Path('/nonexistent'); print(r.locustfile('capacity'))"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    where, counts, locustfile = done.stdout.splitlines()
    assert where == str(tmp_path / "site" / "tagocheck" / "_schemas")
    # the wheel reads the same contract as the checkout
    assert counts == f"{len(tagocheck.route_table())} {len(tagocheck.permission_matrix())}"
    assert locustfile == str(tmp_path / "site" / "tagocheck" / "_loadtests" / "capacity.py")


def test_architecture_names_every_package_and_top_level_folder():
    """ARCHITECTURE.md's code map is kept true: a new package or top-level folder shows up in
    it, and it names none that is gone."""
    page = (ROOT / "ARCHITECTURE.md").read_text()
    mapped = set(re.findall(r"^\| `([\w/]+?)/?`", page, re.M))
    packages = {str(p.parent.relative_to(ROOT)) for p in (ROOT / "tagocheck").glob("*/__init__.py")}
    folders = {"schemas", "contract", "loadtests", "tests", "bench"}
    assert packages | folders <= mapped, sorted((packages | folders) - mapped)
    named = {m.split(" ")[0] for m in mapped} - {"tagocheck"}
    assert all((ROOT / name).exists() for name in named), named


def test_the_package_root_keeps_only_entry_points_and_a_few_utilities():
    """The contract as data (spec/), its application (judge/) and talking to a target (wire/)
    live in sub-packages whose names say which is which; the root keeps at most six modules."""
    root = {p.stem for p in (ROOT / "tagocheck").glob("*.py")} - {"__init__", "__main__"}
    assert len(root) <= 6, sorted(root)


def test_no_module_imports_itself_back():
    """No import cycles among tagocheck's modules (the fleet model's shared errors and limits
    live below the modules that use them). `from package import module` depends on the module."""
    modules: dict[str, set[str]] = {}
    for path in (ROOT / "tagocheck").rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        modules[name] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tagocheck"):
                for alias in node.names:
                    inner = f"{node.module}.{alias.name}"
                    modules[name].add(inner if _is_module(inner) else node.module)
            elif isinstance(node, ast.Import):
                modules[name] |= {a.name for a in node.names if a.name.startswith("tagocheck")}
    cycles = []

    def visit(module: str, path: list[str], done: set[str]) -> None:
        for needed in modules.get(module, ()):
            if needed in path:
                cycles.append(path[path.index(needed) :])
            elif needed not in done:
                done.add(needed)
                visit(needed, [*path, needed], done)

    for module in modules:
        visit(module, [module], set())
    assert not cycles, cycles[:5]


def _is_module(dotted: str) -> bool:
    base = ROOT.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def test_modules_and_classes_stay_small():
    """No module over 500 lines and no class over 300 in tagocheck/: past that a module holds
    more than one job (issue 28 split the coordinator, the target's API, the verdict, the
    options, the command line and the charts when they had grown so)."""
    long_modules, long_classes = [], []
    for path in (ROOT / "tagocheck").rglob("*.py"):
        text = path.read_text()
        if text.count("\n") > 500:
            long_modules.append(str(path.relative_to(ROOT)))
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef) and node.end_lineno - node.lineno + 1 > 300:
                long_classes.append(f"{path.relative_to(ROOT)}:{node.name}")
    assert long_modules == [] and long_classes == [], (long_modules, long_classes)
