"""Model records as table rows: their column values, their change digest, and the checks both
dialects share (lengths PostgreSQL enforces and SQLite does not, the connector name).

A row's values are derived from the model's own fields, and its digest from those same values, so
no column can be written without being part of the digest (and a test checks that every model
field is a column of its table).
"""

from __future__ import annotations

import dataclasses
import marshal
from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from functools import cache, lru_cache
from hashlib import blake2b
from operator import attrgetter
from typing import Any, TypeVar, cast, get_origin, get_type_hints

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from connector.errors import StoreWriteError
from connector.store.schema import CONNECTOR
from connector.store.upsert import chunks

HASH_VERSION = b"3"  # bump when what is hashed changes: every row is then rewritten once


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
        return value._value_
    if isinstance(value, dict):
        return dict(sorted(value.items()))
    return value  # tuples stay tuples: they serialise as JSON arrays and are hashable


_FIELDS: dict[type, tuple[tuple[str, ...], attrgetter[Any]]] = {}
_PLAIN = (str, int, float, tuple, type(None))


def _fields(model: type) -> tuple[tuple[str, ...], attrgetter[Any]]:
    found = _FIELDS.get(model)
    if found is None:
        names = tuple(f.name for f in dataclasses.fields(model))
        found = _FIELDS[model] = (names, attrgetter(*names))
    return found


def row_values(record: Any) -> dict[str, Any]:
    """Column name -> value for every field of a model dataclass (enums as their values)."""
    names, get = _fields(type(record))
    return {
        name: value if type(value) in _PLAIN else _column_value(value)
        for name, value in zip(names, get(record), strict=True)
    }


_Model = TypeVar("_Model")


@cache
def _readers(model: Any) -> tuple[tuple[str, Callable[[Any], Any] | None], ...]:
    """Per model field: how a stored column value becomes the field's value (enums, tuples)."""
    hints = get_type_hints(model)
    readers: list[tuple[str, Callable[[Any], Any] | None]] = []
    for f in dataclasses.fields(model):
        hint = hints[f.name]
        if isinstance(hint, type) and issubclass(hint, Enum):
            readers.append((f.name, hint))
        elif get_origin(hint) is tuple:
            readers.append((f.name, tuple))
        elif get_origin(hint) is dict or hint is dict:
            readers.append((f.name, dict))
        else:
            readers.append((f.name, None))
    return tuple(readers)


def model_from_row(model: type[_Model], row: Mapping[Any, Any]) -> _Model:
    """The model record a stored row holds (the inverse of `row_values`)."""
    readers = _readers(cast(Hashable, model))
    values = {
        name: row[name] if read is None or row[name] is None else read(row[name])
        for name, read in readers
    }
    return model(**values)


@lru_cache(maxsize=4096)  # a batch repeats `now` and a report's few scan times
def _isoformat(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


_DIGESTIBLE = (str, int, float, bool, tuple, type(None))


def _digest_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return _isoformat(value)
    if isinstance(value, dict):
        return tuple((k, _digest_value(v)) for k, v in value.items())
    if isinstance(value, tuple):
        return tuple(_digest_value(v) for v in value)
    return value if isinstance(value, _DIGESTIBLE) else repr(value)


@lru_cache(maxsize=64)
def _names(names: tuple[str, ...]) -> bytes:
    return HASH_VERSION + marshal.dumps(names, 2)


def digest(values: Mapping[str, Any]) -> str:
    """A hash of row values (in their column order), to skip rewriting unchanged rows.

    The values are serialised with marshal version 2, which has no back-references, so equal
    values always give equal bytes (and it is several times faster than repr)."""
    parts = tuple(
        value if type(value) in _PLAIN else _digest_value(value) for value in values.values()
    )
    try:
        data = marshal.dumps(parts, 2)
    except ValueError:  # a tuple holding something marshal cannot write
        data = marshal.dumps(tuple(_digest_value(value) for value in parts), 2)
    return blake2b(_names(tuple(values)) + data, digest_size=32).hexdigest()


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
    get = row.get
    if not any(len(v) > limit for name, limit in limits if (v := get(name)) is not None):
        return
    for name, limit in limits:
        value = get(name)
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
