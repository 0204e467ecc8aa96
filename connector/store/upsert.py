"""Batched `INSERT ... ON CONFLICT` for SQLite and PostgreSQL, and key-list chunking.

Each batch is one executemany of one statement (psycopg pipelines it, sqlite3 loops in C), never a
statement per row built in Python.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.sql.expression import ColumnElement

from connector.errors import StoreError

T = TypeVar("T")

ROWS_PER_EXECUTE = 1000  # rows handed to one executemany call
KEYS_PER_IN = 900  # values in one `IN (...)` list: below SQLite's historical 999-variable limit

# Given the `excluded` pseudo-row, returns extra `SET column = <expression>` clauses.
SetExtra = Callable[[Any], Mapping[str, ColumnElement[Any]]]


def chunks(items: Sequence[T], size: int = KEYS_PER_IN) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most `size` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _dialect_insert(conn: Connection, table: Table) -> Any:
    name = conn.dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise StoreError(f"unsupported database dialect {name!r}: use SQLite or PostgreSQL")


def upsert(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    conflict: Sequence[str],
    update: Sequence[str],
    set_extra: SetExtra | None = None,
) -> None:
    """Insert `rows`; where `conflict` columns collide, set `update` columns from the new row.

    Every row must have the same keys. `set_extra` adds computed SET clauses (e.g. keep the larger
    of the stored and the new value). With nothing to update, conflicting rows are left alone.
    """
    if not rows:
        return
    stmt = _dialect_insert(conn, table)
    set_: dict[str, Any] = {name: stmt.excluded[name] for name in update}
    if set_extra is not None:
        set_.update(set_extra(stmt.excluded))
    if set_:
        stmt = stmt.on_conflict_do_update(index_elements=list(conflict), set_=set_)
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(conflict))
    for batch in chunks(rows, ROWS_PER_EXECUTE):
        conn.execute(stmt, list(batch))
