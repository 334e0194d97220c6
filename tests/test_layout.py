"""The package's layers: imports run from the entry points down to `domain/`, never back up."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "mock_server"
# Highest first. Each module may import its own layer and those below it, and the shared modules.
LAYERS = ["entry", "handlers", "control", "http", "data", "domain"]
ENTRY = {"app", "cli", "__main__", "client", "interception", "inprocess"}
# Entry points the package's face hands out on first use (`mock_server.intercept`), imported only then.
FACE_EXPORTS = {"interception"}
# Leaves every layer may use: the package's face, the settings and the error types.
SHARED = {"", "settings", "errors"}


def layer_of(module: str) -> str:
    """`module` is dotted below mock_server ("" for the package itself)."""
    head = module.split(".")[0]
    if module in SHARED:
        return "shared"
    if head in ENTRY:
        return "entry"
    assert head in LAYERS, f"mock_server.{module} belongs to no layer: add it to one"
    return head


def imports_of(path: Path) -> list[str]:
    """Modules of mock_server imported by the file at `path`, as dotted names below the package."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            if node.module == "mock_server":
                names = [alias.name for alias in node.names if (PACKAGE / alias.name).exists()
                         or (PACKAGE / f"{alias.name}.py").exists()] or ["mock_server"]  # fmt: skip
                names = [f"mock_server.{name}" if name != "mock_server" else name for name in names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found += [name.removeprefix("mock_server").lstrip(".") for name in names if name.split(".")[0] == "mock_server"]
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(PACKAGE)))
def test_no_module_imports_a_layer_above_its_own(path: Path) -> None:
    module = ".".join(path.relative_to(PACKAGE).with_suffix("").parts).removesuffix("__init__").rstrip(".")
    own = layer_of(module)
    for imported in imports_of(path):
        theirs = layer_of(imported)
        if module == "" and imported in FACE_EXPORTS:
            continue
        if own == "shared":
            assert theirs == "shared", f"{module} is shared by every layer and may not import {imported}"
        elif theirs != "shared":
            assert LAYERS.index(theirs) >= LAYERS.index(own), f"{module} ({own}) imports {imported} ({theirs})"


def test_every_package_says_what_lives_there() -> None:
    for init in PACKAGE.rglob("__init__.py"):
        docstring = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert docstring, f"{init.parent.name}/__init__.py has no docstring saying what lives there"
