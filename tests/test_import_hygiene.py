"""The core imports neither Textual nor Rich: each core module is imported alone in a fresh
interpreter and `sys.modules` is checked. Every module imports without the optional extras. No
module of cowork_tui imports itself back through others (an import circle), lazily or only for
type checking included."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import cowork_tui
import cowork_tui.core

CORE_MODULES = sorted(
    m.name for m in pkgutil.walk_packages(cowork_tui.core.__path__, "cowork_tui.core.")
)


def test_core_modules_found() -> None:
    assert "cowork_tui.core.engine" in CORE_MODULES
    assert "cowork_tui.core.models" in CORE_MODULES


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_module_imports_no_tui(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"{module} pulls in {out.stdout.strip()}"


def test_tui_first_frame_loads_no_core() -> None:
    """`cowork-tui` draws its first frame before the core (pydantic, the archive) loads."""
    code = (
        "import sys, cowork_tui.cli, cowork_tui.ui.app\n"
        "LIGHT = ('cowork_tui.core.errors', 'cowork_tui.core.clock')\n"
        "heavy = ('pydantic', 'yaml', 'sqlite3', 'anyio')\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in heavy\n"
        "    or m.startswith('cowork_tui.core.') and m not in LIGHT)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_every_module_imports_without_the_optional_extras() -> None:
    """Without temporalio and the Claude SDK (the extras), every module still imports: they load
    only when the Temporal engine or the Claude backend is used."""
    code = (
        "import importlib, pkgutil, sys\n"
        "sys.modules['temporalio'] = sys.modules['claude_agent_sdk'] = None  # cannot import\n"
        "import cowork_tui\n"
        "modules = [m.name for m in pkgutil.walk_packages(cowork_tui.__path__, 'cowork_tui.')]\n"
        "for name in modules:\n"
        "    if not name.endswith('.__main__'):  # it runs the command\n"
        "        importlib.import_module(name)\n"
        "print(len(modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) > len(CORE_MODULES)  # the CLI and the UI too


def imports_of(path: Path, module: str) -> set[str]:
    """The cowork_tui modules `module` (in `path`) imports, wherever the import statement is."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return {name for name in found if name.startswith("cowork_tui")}


def import_graph() -> dict[str, set[str]]:
    root = Path(cowork_tui.__file__).parent
    modules = {
        ".".join(("cowork_tui", *path.relative_to(root).with_suffix("").parts)).removesuffix(
            ".__init__"
        ): path
        for path in root.rglob("*.py")
    }
    return {name: imports_of(path, name) & set(modules) - {name} for name, path in modules.items()}


def test_no_import_circles() -> None:
    graph = import_graph()
    assert "cowork_tui.ui.app" in graph["cowork_tui.cli"]  # the graph sees lazy imports
    circles = []
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> None:
        if node in path:
            circles.append(" → ".join([*path[path.index(node) :], node]))
            return
        if node in done:
            return
        for child in sorted(graph[node]):
            visit(child, [*path, node])
        done.add(node)

    for module in sorted(graph):
        visit(module, [])
    assert circles == []


def test_no_screen_or_widget_imports_the_app() -> None:
    graph = import_graph()
    reaching = [m for m, deps in graph.items() if ".ui." in m and "cowork_tui.ui.app" in deps]
    assert reaching == []
