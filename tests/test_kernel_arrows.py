"""The arrows point one way: core imports nothing of the project, halo only core, sync never the demo's parts.

Every import statement is read (function-level ones too, which a run may never reach), so a lazy import that
would close a loop fails here as well as one at the top of a module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ("core", "halo", "connectors", "sync", "gui", "demo", "resources", "main", "bench", "installer")


def _imports(package: str) -> list[tuple[str, str]]:
    """(file, imported module) for every import in ``package``'s Python files."""
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            found += [(str(path.relative_to(ROOT)), name) for name in names]
    return found


def _top(module: str) -> str:
    return module.split(".")[0]


@pytest.mark.parametrize(
    ("package", "allowed"),
    [("core", {"core"}), ("halo", {"halo", "core"})],
)
def test_the_kernel_and_halo_import_only_what_is_below_them(package, allowed):
    wrong = [
        (file, name)
        for file, name in _imports(package)
        if _top(name) in PROJECT and _top(name) not in allowed
    ]
    assert wrong == []


def test_the_engine_never_imports_the_sandbox_or_the_demo():
    forbidden = ("halo.sandbox", "demo", "resources.demo")
    wrong = [
        (file, name)
        for file, name in _imports("sync")
        if any(name == prefix or name.startswith(prefix + ".") for prefix in forbidden)
    ]
    assert wrong == []


def test_the_reading_of_imports_sees_a_lazy_one():
    """The check above can fail: the demo's own module imports the sandbox inside a function."""
    assert ("demo/environment.py", "halo.sandbox.server") in _imports("demo")
