"""Model records as table rows: their column values, their change digest, and the checks both
dialects share (lengths PostgreSQL enforces and SQLite does not, the connector name).

A row's values are derived from the model's own fields, and its digest from those same values, so
no column can be written without being part of the digest (and a test checks that every model
field is a column of its table).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from hashlib import blake2b
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from connector.errors import StoreWriteError
from connector.store.schema import CONNECTOR
from connector.store.upsert import chunks

HASH_VERSION = b"2"  # bump when what is hashed changes: every row is then rewritten once


@dataclass
class UpsertResult:
    """What one upsert call did. `status_changes` mirrors the finding_events rows it wrote
    (key, from, to): `from` is None for a created finding. Always empty for assets."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    status_changes: list[tuple[str, str | None, str]] = field(default_factory=list)


def _column_value(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return dict(sorted(value.items()))
    return value  # tuples stay tuples: they serialise as JSON arrays and are hashable


def row_values(record: Any) -> dict[str, Any]:
    """Column name -> value for every field of a model dataclass (enums as their values)."""
    return {f.name: _column_value(getattr(record, f.name)) for f in dataclasses.fields(record)}


def _digest_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, dict):
        return tuple(value.items())
    return value


def digest(values: Mapping[str, Any]) -> str:
    """A hash of row values (in their column order), to skip rewriting unchanged rows."""
    parts = tuple((name, _digest_value(value)) for name, value in values.items())
    return blake2b(HASH_VERSION + repr(parts).encode(), digest_size=32).hexdigest()


def length_limits(table: sa.Table) -> list[tuple[str, int]]:
    """(column, maximum length) of the table's VARCHAR columns, the connector name excluded."""
    limits = []
    for column in table.columns:
        length = getattr(column.type, "length", None)
        if isinstance(column.type, sa.String) and length and column.name != "connector":
            limits.append((column.name, int(length)))
    return limits


def check_connector(connector: str) -> None:
    if len(connector) > CONNECTOR:
        raise StoreWriteError(
            f"connector name {connector[:40]!r}...: longer than {CONNECTOR} characters"
        )


def check_lengths(label: str, row: Mapping[str, Any], limits: list[tuple[str, int]]) -> None:
    """PostgreSQL enforces VARCHAR lengths and SQLite does not: check here, the same everywhere."""
    for name, limit in limits:
        value = row.get(name)
        if value is not None and len(value) > limit:
            raise StoreWriteError(
                f"{label}: value too long for {name} ({len(value)} > {limit} characters)"
            )


def stored_columns(
    conn: Connection,
    table: sa.Table,
    connector: str,
    keys: Sequence[str],
    *columns: str,
) -> dict[str, sa.Row[Any]]:
    """key -> the requested columns, for those of the given keys that are stored."""
    cols = [table.c.key, *(table.c[name] for name in columns)]
    found: dict[str, sa.Row[Any]] = {}
    for chunk in chunks(keys):
        query = sa.select(*cols).where(table.c.connector == connector, table.c.key.in_(chunk))
        for row in conn.execute(query):
            found[row.key] = row
    return found


def keys_in(conn: Connection, table: sa.Table, connector: str, keys: Collection[str]) -> set[str]:
    """Which of these keys the table holds for the connector."""
    return set(stored_columns(conn, table, connector, sorted(keys)))
