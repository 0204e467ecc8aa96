"""The store is an adapter: it never imports the Qualys adapter, orchestration or the edges."""

from __future__ import annotations

import ast
from pathlib import Path

import connector.store

FORBIDDEN = (
    "connector.qualys",
    "connector.sync",
    "connector.importer",
    "connector.service",
    "connector.commands",
    "connector.cli",
)


def test_store_imports_no_other_adapter_or_higher_layer() -> None:
    """No module under connector/store imports connector.qualys, sync, importer, service or the CLI."""
    offenders = []
    for path in Path(connector.store.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.startswith(FORBIDDEN)]
    assert offenders == []
