"""The shape of the code base: one import package, small modules, no import cycles, one MLflow facade.

These hold the layout the code is organised by (``pipelines/README.md``): the wheel installs
``landmarkgait`` and nothing named ``data``, ``models`` or ``pipelines``; every package folder is
listed in pyproject.toml; no module passes 400 lines; module-level imports form no cycle; only
``landmarkgait.pipelines.tracking`` imports MLflow.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE_ROOTS = ("data", "models", "pipelines")
MAX_MODULE_LINES = 400
BUILD_IGNORED = (".git", ".venv", "build", "*.egg-info", "__pycache__", ".pytest_cache", ".ruff_cache")


def source_modules() -> dict[str, Path]:
    """Dotted name (``landmarkgait.x.y``) -> file of every module of the package."""
    modules = {"landmarkgait": REPO / "__init__.py"}
    for root in PACKAGE_ROOTS:
        for path in sorted((REPO / root).rglob("*.py")):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(["landmarkgait", *parts])] = path
    return modules


def top_level_imports(path: Path, name: str, known: set[str]) -> set[str]:
    """Package modules that ``path`` imports when it is imported (not inside functions or TYPE_CHECKING)."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for child in ast.walk(node) if not isinstance(node, ast.FunctionDef | ast.ClassDef) else ():
            if isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    base = ".".join([*package.split(".")[: len(package.split(".")) - child.level + 1], base])
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in child.names)
    return {module for module in found if module in known and module != name}


def test_pyproject_lists_every_package_folder() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11, as on CI
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    folders = {
        ".".join(["landmarkgait", *init.parent.relative_to(REPO).parts])
        for root in PACKAGE_ROOTS
        for init in (REPO / root).rglob("__init__.py")
    }
    assert listed == folders | {"landmarkgait"}


def test_no_module_is_over_400_lines() -> None:
    long = {
        str(path.relative_to(REPO)): count
        for path in source_modules().values()
        if (count := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long, f"modules over {MAX_MODULE_LINES} lines: {long}"


def test_module_level_imports_form_no_cycle() -> None:
    modules = source_modules()
    graph = {name: top_level_imports(path, name, set(modules)) for name, path in modules.items()}
    # A package's __init__ runs before its submodules: importing a.b.c imports a and a.b first.
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for neighbour in sorted(graph[node]):
            if state.get(neighbour) == 1:
                cycle = [*stack[stack.index(neighbour) :], neighbour]
                pytest.fail(f"import cycle: {' -> '.join(cycle)}")
            if neighbour not in state:
                visit(neighbour)
        stack.pop()
        state[node] = 2

    for name in graph:
        if name not in state:
            visit(name)


def test_only_the_tracking_package_imports_mlflow() -> None:
    importers = []
    for name, path in source_modules().items():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(module.split(".")[0] == "mlflow" for module in names):
                importers.append(name)
    assert importers and all(name.startswith("landmarkgait.pipelines.tracking") for name in importers), (
        importers
    )


def test_the_wheel_installs_one_top_level_package(tmp_path: Path) -> None:
    """Nothing called data, models or pipelines lands at the top of site-packages."""
    # Built from a copy: setuptools leaves a build/ folder in the tree it builds.
    source = tmp_path / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(*BUILD_IGNORED))
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    subprocess.run([*command, "-w", tmp_path, source], check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("landmarkgait-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        tops = {name.split("/")[0] for name in archive.namelist()}
        names = set(archive.namelist())
    assert {top for top in tops if not top.endswith(".dist-info")} == {"landmarkgait"}
    assert "landmarkgait/models/registry.py" in names
    assert "landmarkgait/pipelines/tracking/__init__.py" in names
    assert not any(name.startswith("landmarkgait/tests/") for name in names)
