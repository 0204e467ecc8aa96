"""SQL that differs on SQLite only to steer its query planner, which has no statistics here (the
store never runs ANALYZE on SQLite: its per-index averages would hide rare values, the filters
that most need an index). PostgreSQL keeps statistics and gets the plain SQL."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal, _TraverseInternalsType


class OnSQLite(sa.ColumnElement[bool]):
    """A condition written as `sqlite` on SQLite and as `other` elsewhere (same rows)."""

    inherit_cache = True
    _traverse_internals: _TraverseInternalsType = [  # noqa: RUF012 - SQLAlchemy's own protocol
        ("sqlite", InternalTraversal.dp_clauseelement),
        ("other", InternalTraversal.dp_clauseelement),
    ]
    type = sa.Boolean()

    def __init__(self, sqlite: sa.ColumnElement[bool], other: sa.ColumnElement[bool]) -> None:
        self.sqlite = sqlite
        self.other = other

    def self_group(self, against: Any = None) -> OnSQLite:
        # Compiled in parentheses already; a Boolean element would otherwise become "(...) = 1"
        # on SQLite, which hides the condition from the planner.
        return self


@compiles(OnSQLite)
def _compile_other(element: OnSQLite, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.other.self_group(), **kw)


@compiles(OnSQLite, "sqlite")
def _compile_sqlite(element: OnSQLite, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.sqlite.self_group(), **kw)


def usually_true(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[bool]:
    """`condition`, which SQLite is told keeps most rows (likelihood 0.9).

    Without statistics SQLite takes a range for four times as selective as an equality, and would
    read a whole `last_seen >= ?` range and sort it rather than walk the index of a page's order
    (a filter that keeps few rows is paged by row id, see console.count_and_few)."""
    return OnSQLite(sa.func.likelihood(condition, sa.literal_column("0.9")), condition)
