"""The shape of the code base: one import package, small modules, no import cycles, one MLflow facade.

These hold the layout the code is organised by (``pipelines/README.md``): the wheel installs
``landmarkgait`` and nothing named ``data``, ``models`` or ``pipelines``; every package folder is
listed in pyproject.toml; no module passes 400 lines; module-level imports form no cycle, and no
two packages import each other, even through imports inside functions; only
``landmarkgait.pipelines.tracking`` imports MLflow, and only
``landmarkgait.pipelines.runtime.ray_internals`` uses a private Ray API.
"""

from __future__ import annotations

import ast
import itertools
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterable, Mapping
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


def imported_names(nodes: Iterable[ast.AST], package: str) -> set[str]:
    """Dotted names the import statements among ``nodes`` import (relative ones resolved in ``package``)."""
    found: set[str] = set()
    for child in nodes:
        if isinstance(child, ast.Import):
            found.update(alias.name for alias in child.names)
        elif isinstance(child, ast.ImportFrom):
            base = child.module or ""
            if child.level:
                base = ".".join([*package.split(".")[: len(package.split(".")) - child.level + 1], base])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in child.names)
    return found


def package_of(name: str, path: Path) -> str:
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def top_level_imports(path: Path, name: str, known: set[str]) -> set[str]:
    """Package modules that ``path`` imports when it is imported (not inside functions or TYPE_CHECKING)."""
    tree = ast.parse(path.read_text())
    nodes = [
        child
        for node in tree.body
        if not (isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test))
        for child in (ast.walk(node) if not isinstance(node, ast.FunctionDef | ast.ClassDef) else ())
    ]
    found = imported_names(nodes, package_of(name, path))
    return {module for module in found if module in known and module != name}


def all_imports(path: Path, name: str, known: set[str]) -> set[str]:
    """Package modules that ``path`` imports anywhere: at module level, in functions, under TYPE_CHECKING."""
    found = imported_names(ast.walk(ast.parse(path.read_text())), package_of(name, path))
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


def first_cycle(graph: Mapping[str, Iterable[str]]) -> list[str] | None:
    """A cycle of ``graph`` (its nodes in order, the first one again at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for neighbour in sorted(graph.get(node, ())):
            if state.get(neighbour) == 1:
                return [*stack[stack.index(neighbour) :], neighbour]
            if neighbour not in state and (cycle := visit(neighbour)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_module_level_imports_form_no_cycle() -> None:
    modules = source_modules()
    graph = {name: top_level_imports(path, name, set(modules)) for name, path in modules.items()}
    # A package's __init__ runs before its submodules: importing a.b.c imports a and a.b first.
    cycle = first_cycle(graph)
    assert cycle is None, f"import cycle: {' -> '.join(cycle)}"


def package_node(name: str, path: Path, parents: set[str]) -> str:
    """What a module counts as in the package graph: its package (``landmarkgait.pipelines.driver``,
    ``landmarkgait.models``), or itself when it sits beside subpackages (``pipelines/config.py``,
    ``pipelines/cli.py``, ``data/format.py``): those are the shared helpers every subpackage may
    use and the entry point that uses every subpackage, not one package."""
    package = package_of(name, path)
    return name if package in parents else package


def test_packages_import_each_other_without_cycle() -> None:
    """No two packages depend on each other, directly or through others: e.g. ``worker`` never
    imports ``driver`` (what both need is in ``plan_types``), ``deploy`` may import ``driver`` but
    not the other way round. Counts every import, also those inside functions and under
    TYPE_CHECKING, since a lazy import is a dependency all the same."""
    modules = source_modules()
    parents = {name.rpartition(".")[0] for name, path in modules.items() if path.name == "__init__.py"}
    edges: dict[str, dict[str, list[str]]] = {}  # package -> package -> the imports that make the edge
    for name, path in modules.items():
        source = package_node(name, path, parents)
        for module in all_imports(path, name, set(modules)):
            target = package_node(module, modules[module], parents)
            if target != source:
                edges.setdefault(source, {}).setdefault(target, []).append(f"{name} imports {module}")
    cycle = first_cycle(edges)
    because = [edges[a][b][0] for a, b in itertools.pairwise(cycle or ())]
    assert cycle is None, f"package cycle: {' -> '.join(cycle)} ({'; '.join(because)})"
    # The graph is the one the layout is organised by: driver and worker are packages of it.
    assert {"landmarkgait.pipelines.driver", "landmarkgait.pipelines.worker"} <= set(edges)


RAY_INTERNALS = "landmarkgait.pipelines.runtime.ray_internals"
# Not part of landmarkgait: a test script that starts a Ray worker node on loopback through
# ``ray._private.node`` as Ray's own test utilities do (no public API does); a Ray change there
# fails the tests that use it, not a user. And this file, which names what it looks for.
RAY_PRIVATE_API_ALLOWED = {REPO / "tests" / "loopback_ray_node.py", Path(__file__).resolve()}


def is_private_ray_name(dotted: str) -> bool:
    """``ray._private.x``, ``ray.train.torch.config._TorchBackend``: a Ray name with a ``_`` part."""
    parts = dotted.split(".")
    return parts[0] == "ray" and any(part.startswith("_") and not part.startswith("__") for part in parts)


def private_ray_uses(tree: ast.AST, private_attributes: set[str]) -> list[str]:
    """Private Ray names ``tree`` imports or reads (``ray._private...`` through ``import ray``), and
    the private attributes of Ray objects that ``ray_internals`` reads (``_base_exc``)."""
    found = [dotted for dotted in imported_names(ast.walk(tree), "") if is_private_ray_name(dotted)]
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and is_private_ray_name(ast.unparse(node)):
            found.append(ast.unparse(node))
        elif isinstance(node, ast.Attribute) and node.attr in private_attributes:
            found.append(f".{node.attr}")
        elif isinstance(node, ast.Constant) and node.value in private_attributes:
            found.append(repr(node.value))
    return found


def test_only_ray_internals_uses_private_ray_apis() -> None:
    """Ray's private APIs behind one module, which names the Ray versions it was checked with (and
    pyproject.toml bounds ``ray`` to them)."""
    modules = source_modules()
    internals = ast.parse(modules[RAY_INTERNALS].read_text())
    private_attributes = {
        node.args[1].value
        for node in ast.walk(internals)
        if isinstance(node, ast.Call)
        and ast.unparse(node.func) == "getattr"
        and len(node.args) > 1
        and isinstance(node.args[1], ast.Constant)
        and str(node.args[1].value).startswith("_")
    }
    assert private_ray_uses(internals, set()), "ray_internals no longer uses a private Ray API: fold it away"
    assert private_attributes == {"_base_exc"}
    paths = [
        *(path for name, path in modules.items() if name != RAY_INTERNALS),
        *(REPO / "benchmarks").rglob("*.py"),
        *(REPO / "tests").rglob("*.py"),
    ]
    users = {
        str(path.relative_to(REPO)): uses
        for path in paths
        if path not in RAY_PRIVATE_API_ALLOWED
        and (uses := private_ray_uses(ast.parse(path.read_text()), private_attributes))
    }
    assert not users, f"private Ray APIs outside {RAY_INTERNALS}: {users}"
    tomllib = pytest.importorskip("tomllib")
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    (ray,) = [spec for spec in dependencies if spec.startswith("ray[")]
    assert "<" in ray, f"{ray}: bound it above by the newest Ray ray_internals was checked with"


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
