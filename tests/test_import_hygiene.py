"""The core imports neither Textual nor Rich: each core module is imported alone in a fresh
interpreter and `sys.modules` is checked."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

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
        "heavy = ('pydantic', 'yaml', 'sqlite3', 'anyio')\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in heavy\n"
        "    or m.startswith('cowork_tui.core.') and m != 'cowork_tui.core.errors')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
