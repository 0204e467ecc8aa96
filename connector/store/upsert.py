"""Batched `INSERT ... ON CONFLICT` for SQLite and PostgreSQL, and key-list chunking.

A batch is one executemany of one statement: psycopg pipelines it and sqlite3 loops in C. The
statement is compiled once per shape, and rows are converted to driver values here (UTC datetimes,
JSON text) in one pass, instead of SQLAlchemy's per-value type processing: on a 1000-row findings
page that per-value work cost more than the database itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from operator import itemgetter
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.sql.expression import ColumnElement

from connector.errors import StoreError, StoreWriteError
from connector.store.schema import UTCDateTime

T = TypeVar("T")

ROWS_PER_EXECUTE = 1000  # rows handed to one executemany call
KEYS_PER_IN = 900  # values in one `IN (...)` list: below SQLite's historical 999-variable limit

# Given the `excluded` pseudo-row, returns extra `SET column = <expression>` clauses.
SetExtra = Callable[[Any], Mapping[str, ColumnElement[Any]]]
# Names the record a row came from, for error messages ("finding 1 of asset 2").
Describe = Callable[[Mapping[str, Any]], str]
Convert = Callable[[Any], Any]


def chunks(items: Sequence[T], size: int = KEYS_PER_IN) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most `size` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _aware_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r} given to the store; use UTC-aware values")
    return value.astimezone(UTC)


@lru_cache(maxsize=4096)  # a page repeats `now` and many scan times
def _sqlite_datetime(value: datetime | None) -> str | None:
    """The text SQLAlchemy's SQLite DATETIME stores (and parses back): naive UTC, microseconds."""
    if value is None:
        return None
    return _aware_utc(value).replace(tzinfo=None).isoformat(" ", "microseconds")


def _postgres_datetime(value: datetime | None) -> datetime | None:
    return None if value is None else _aware_utc(value)


@lru_cache(maxsize=4096)  # CWE, OWASP and WASC lists repeat across a page
def _json_hashable(value: Any) -> str:
    return json.dumps(value)


def _json(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, tuple):
        return _json_hashable(value)
    return json.dumps(value)


def _converter(column: sa.Column[Any], dialect: str) -> Convert | None:
    if isinstance(column.type, UTCDateTime):
        return _sqlite_datetime if dialect == "sqlite" else _postgres_datetime
    if isinstance(column.type, sa.JSON):
        return _json
    return None  # str, int, float, bool and None go to the driver as they are


def _dialect_insert(dialect: str, table: sa.Table) -> Any:
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise StoreError(f"unsupported database dialect {dialect!r}: use SQLite or PostgreSQL")


_Plan = tuple[str, tuple[str, ...], tuple[tuple[str, Convert | None], ...], bool]
_plans: dict[tuple[Any, ...], _Plan] = {}


def _plan(
    conn: Connection,
    table: sa.Table,
    names: tuple[str, ...],
    conflict: Sequence[str] | None,
    update: Sequence[str],
    set_extra: SetExtra | None,
) -> _Plan:
    """Compiled SQL, its parameter order, per-column converters, and whether it is positional."""
    dialect = conn.dialect
    cache_key = (
        dialect.name,
        dialect.paramstyle,
        table.name,
        names,
        conflict,
        tuple(update),
        set_extra,
    )
    plan = _plans.get(cache_key)
    if plan is not None:
        return plan
    stmt = _dialect_insert(dialect.name, table)
    if conflict is not None:
        set_: dict[str, Any] = {name: stmt.excluded[name] for name in update}
        if set_extra is not None:
            set_.update(set_extra(stmt.excluded))
        if set_:
            stmt = stmt.on_conflict_do_update(index_elements=list(conflict), set_=set_)
        else:
            stmt = stmt.on_conflict_do_nothing(index_elements=list(conflict))
    compiled = stmt.compile(dialect=dialect, column_keys=list(names))
    positional = compiled.positiontup is not None
    order = tuple(compiled.positiontup) if compiled.positiontup is not None else names
    unknown = set(order) - set(names)
    if unknown:  # pragma: no cover - a programming error in a SET expression
        raise StoreError(f"statement on {table.name} needs parameters {sorted(unknown)}")
    converters = tuple((name, _converter(table.c[name], dialect.name)) for name in order)
    plan = (str(compiled), order, converters, positional)
    _plans[cache_key] = plan
    return plan


def _driver_rows(
    rows: Sequence[Mapping[str, Any]],
    converters: tuple[tuple[str, Convert | None], ...],
    positional: bool,
    describe: Describe,
) -> list[Any]:
    names = [n for n, _ in converters]
    get = itemgetter(*names)
    convert = [(i, c) for i, (_n, c) in enumerate(converters) if c is not None]
    out: list[Any] = []
    for row in rows:
        values = list(get(row)) if len(names) > 1 else [row[names[0]]]
        try:
            for i, c in convert:
                values[i] = c(values[i])
        except (ValueError, TypeError) as exc:
            raise StoreWriteError(f"{describe(row)}: {exc}") from exc
        out.append(tuple(values) if positional else dict(zip(names, values, strict=True)))
    return out


def _default_describe(row: Mapping[str, Any]) -> str:
    return f"record {row.get('key', '?')}"


def upsert(
    conn: Connection,
    table: sa.Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    conflict: Sequence[str],
    update: Sequence[str],
    set_extra: SetExtra | None = None,
    describe: Describe = _default_describe,
) -> None:
    """Insert `rows`; where `conflict` columns collide, set `update` columns from the new row.

    Every row must have the same keys. `set_extra` adds computed SET clauses (e.g. keep the larger
    of the stored and the new value). With nothing to update, conflicting rows are left alone.
    A value that cannot be converted (a naive datetime) raises StoreWriteError naming the record.
    """
    _execute_many(conn, table, rows, tuple(conflict), update, set_extra, describe)


def insert_many(
    conn: Connection,
    table: sa.Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    describe: Describe = _default_describe,
) -> None:
    """Plain batched INSERT of rows that all have the same keys."""
    _execute_many(conn, table, rows, None, (), None, describe)


def _execute_many(
    conn: Connection,
    table: sa.Table,
    rows: Sequence[Mapping[str, Any]],
    conflict: tuple[str, ...] | None,
    update: Sequence[str],
    set_extra: SetExtra | None,
    describe: Describe,
) -> None:
    if not rows:
        return
    names = tuple(rows[0])
    sql, _order, converters, positional = _plan(conn, table, names, conflict, update, set_extra)
    for batch in chunks(rows, ROWS_PER_EXECUTE):
        conn.exec_driver_sql(sql, _driver_rows(batch, converters, positional, describe))


def analyze_if_stale(conn: Connection, table: sa.Table, written: int) -> None:
    """PostgreSQL: refresh the planner statistics of `table` when they predate most of its rows:
    never taken, or taken before the table more than doubled in size.

    A first sync fills empty tables faster than autovacuum analyses them (and autovacuum may be
    off); without statistics the planner picks a scan of the (connector, ...) indexes over the
    primary key, and each 1000-key lookup degrades with the table's size; with statistics of the
    first page only, the console's filters pick nested loops over every asset instead of their
    indexes. Doubling keeps the ANALYZEs of a first sync to a handful (each samples at most
    30,000 rows); once the table stops growing, none.
    """
    if conn.dialect.name != "postgresql" or written == 0:
        return
    stats = conn.execute(
        sa.text(
            "SELECT reltuples, relpages, "
            "pg_relation_size(oid) / current_setting('block_size')::int AS pages "
            "FROM pg_class WHERE oid = to_regclass(:name)"
        ),
        {"name": table.name},
    ).first()
    if stats is None:
        return
    if stats.reltuples < written or stats.pages > 2 * max(stats.relpages, 1):
        conn.exec_driver_sql(f"ANALYZE {conn.dialect.identifier_preparer.quote(table.name)}")
