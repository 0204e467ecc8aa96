"""The layering STYLE.md asks for, checked by walking every module's imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "connector"

# module prefix -> packages it must never import
FORBIDDEN = {
    "connector.qualys": ("connector.store", "sqlalchemy", "connector.sync", "connector.commands"),
    "connector.store": (
        "connector.qualys",
        "httpx",
        "connector.sync",
        "connector.commands",
        "connector.web",
    ),
    "connector.mapping": ("connector.qualys", "connector.store", "httpx", "sqlalchemy"),
    "connector.models": ("connector.qualys", "connector.store", "httpx", "sqlalchemy"),
    "connector.errors": ("connector.qualys", "connector.store", "httpx", "sqlalchemy"),
    "connector.config": ("connector.qualys", "connector.store", "httpx", "sqlalchemy"),
    "connector.urlcheck": ("connector.qualys", "connector.store", "httpx", "sqlalchemy"),
    "connector.simulator": ("connector.qualys", "connector.store", "sqlalchemy"),
    # An edge beside the CLI: it reads through the store's query layer and imports through the
    # importer; Qualys only through the connectivity checks and runners its caller hands it.
    "connector.web": (
        "connector.qualys",
        "connector.sync",
        "connector.commands",
        "connector.service",
        "connector.simulator",
        "httpx",
    ),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_layers_do_not_import_across(path: Path) -> None:
    """Adapters never import each other; the pure core imports no adapter, httpx or SQLAlchemy."""
    name = module_name(path)
    rules = [
        bad for prefix, bad in FORBIDDEN.items() if name == prefix or name.startswith(prefix + ".")
    ]
    imported = imports_of(path)
    for forbidden in (b for bad in rules for b in bad):
        offenders = [i for i in imported if i == forbidden or i.startswith(forbidden + ".")]
        assert not offenders, f"{name} imports {offenders}, which its layer must not"


def test_the_walk_sees_the_package() -> None:
    """The walk above covers the real package (guards against an empty parametrization)."""
    names = {module_name(p) for p in MODULES}
    assert {"connector.mapping", "connector.sync", "connector.config", "connector.web.app"} <= names
