"""Read queries for the web console's finding list: sort orders served by indexes, keyset pages,
and the count behind a filter. The filter itself is `queries.finding_conditions`, shared with the
exports, so a page and its download always agree.

A sort order is a sequence of segments, each a slice of the rows read in index order: "severity"
is one segment per label (Critical first), each by key; "last_seen" is the rows that have one, by
(last_seen, key), then those that have none, by key. A cursor names a segment and the last row's
(value, key) in it, so every page is one or a few index range scans whatever its depth, and NULLs
sort the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from connector.models import Severity
from connector.store.failures import reading
from connector.store.queries import ExportFilter, finding_conditions
from connector.store.schema import FINDING_ASSET, assets, findings
from connector.store.search import ROWID

PAGE_COLUMNS = (
    findings.c.key,
    findings.c.name,
    findings.c.severity,
    findings.c.status,
    findings.c.qualys_status,
    findings.c.qid,
    findings.c.type,
    findings.c.url,
    findings.c.source,
    findings.c.asset_key,
    findings.c.first_seen,
    findings.c.last_seen,
    findings.c.fixed_at,
    assets.c.name.label("asset_name"),
)


@dataclass(frozen=True)
class Segment:
    """Rows matching `where`, read in (column, key) order, or key order when column is None."""

    where: sa.ColumnElement[bool]
    column: sa.ColumnElement[Any] | None = None


@dataclass(frozen=True)
class SortOrder:
    label: str
    segments: tuple[Segment, ...]
    descending: bool


def _with_nulls_last(column: sa.ColumnElement[Any]) -> tuple[Segment, ...]:
    return (Segment(column.is_not(None), column), Segment(column.is_(None)))


SORTS: dict[str, SortOrder] = {
    "severity": SortOrder(
        "severity, highest first",
        tuple(Segment(findings.c.severity == str(s)) for s in list(Severity)[::-1]),
        descending=False,
    ),
    "last_seen": SortOrder(
        "last seen, newest first", _with_nulls_last(findings.c.last_seen), descending=True
    ),
    "first_seen": SortOrder(
        "first seen, newest first", _with_nulls_last(findings.c.first_seen), descending=True
    ),
    "qid": SortOrder("QID", _with_nulls_last(findings.c.qid), descending=False),
}
DEFAULT_SORT = "severity"
FEW = 1000  # on SQLite a filter keeping at most this many findings is paged through their rowids


@dataclass(frozen=True)
class Cursor:
    """Where a page ends: the segment and the (value, key) of its last row there."""

    segment: int
    key: str
    value: Any = None


@dataclass(frozen=True)
class FindingPage:
    """Rows in display order; `more` says whether rows exist beyond them in the paging direction."""

    rows: list[dict[str, Any]]
    cursors: list[Cursor]  # one per row: the cursor that continues after (or before) it
    more: bool


def finding_page(
    conn: Connection,
    connector: str,
    where: ExportFilter,
    sort: str = DEFAULT_SORT,
    *,
    cursor: Cursor | None = None,
    backward: bool = False,
    limit: int = 50,
    among: Sequence[int] | None = None,
) -> FindingPage:
    """One page of findings after `cursor` (before it when `backward`), in `sort` order;
    `among`: the rowids `count_and_few` found, when it found them all ([]: none match). A text
    filter is checked row by row here: with `among` on those rows only, without it (the text is
    in more than `cap` findings) along the order's index, where matches come soon."""
    order = SORTS[sort]
    if among is not None and not among:
        return FindingPage([], [], False)
    base = _matching(conn, connector, where, *PAGE_COLUMNS, among=among, text_index=False)
    descending = order.descending != backward
    indexes = list(range(len(order.segments)))
    if backward:
        indexes.reverse()
    if cursor is not None:
        indexes = [i for i in indexes if (i <= cursor.segment if backward else i >= cursor.segment)]
    found: list[tuple[int, sa.RowMapping]] = []
    with reading("reading a page of findings"):
        for index in indexes:
            segment = order.segments[index]
            query = base.where(segment.where)
            if cursor is not None and index == cursor.segment:
                query = query.where(_beyond(segment, cursor, descending))
            query = query.order_by(*_ordering(segment, descending)).limit(limit + 1 - len(found))
            found.extend((index, row) for row in conn.execute(query).mappings())
            if len(found) > limit:
                break
    more = len(found) > limit
    found = found[:limit]
    if backward:
        found.reverse()
    rows = [dict(row) for _, row in found]
    cursors = [_cursor_of(order.segments[i], i, row) for i, row in found]
    return FindingPage(rows, cursors, more)


def _ordering(segment: Segment, descending: bool) -> list[sa.ColumnElement[Any]]:
    columns: list[sa.ColumnElement[Any]] = [findings.c.key]
    if segment.column is not None:
        columns.insert(0, segment.column)
    return [c.desc() if descending else c.asc() for c in columns]


def _beyond(segment: Segment, cursor: Cursor, descending: bool) -> sa.ColumnElement[bool]:
    if segment.column is None:
        return findings.c.key < cursor.key if descending else findings.c.key > cursor.key
    mine = sa.tuple_(segment.column, findings.c.key)
    theirs = sa.tuple_(sa.literal(cursor.value, segment.column.type), sa.literal(cursor.key))
    return mine < theirs if descending else mine > theirs


def _cursor_of(segment: Segment, index: int, row: sa.RowMapping) -> Cursor:
    value = None
    if segment.column is not None:
        value = row.get(str(segment.column.key))
    return Cursor(index, row["key"], value)


def cursor_fits(sort: str, cursor: Cursor) -> bool:
    """Whether a cursor (from a link, so untrusted) can continue the `sort` order."""
    segments = SORTS[sort].segments
    if not 0 <= cursor.segment < len(segments):
        return False
    column = segments[cursor.segment].column
    if column is None:
        return cursor.value is None
    python_type = getattr(column.type, "impl_instance", column.type).python_type
    return isinstance(cursor.value, python_type) and not isinstance(cursor.value, bool)


def count_matching(
    conn: Connection, connector: str, where: ExportFilter, *, cap: int | None = None
) -> int:
    """How many findings the filter keeps; with `cap`, counting stops at cap + 1 (so a page can
    say "more than 10,000" without counting a quarter of a million rows on every view)."""
    matching = _matching(conn, connector, where, findings.c.key, text_first=True)
    if cap is not None:
        matching = matching.limit(cap + 1)
    query = sa.select(sa.func.count()).select_from(matching.subquery())
    # PostgreSQL prices ILIKE like any cheap operator, so a capped count of a common text looks
    # cheaper as a scan stopping at the cap than through the trigram indexes; it is 4x slower.
    # A discouraged scan is still taken where the indexes are missing.
    steer = conn.dialect.name == "postgresql" and bool(where.text)
    with reading("counting findings"):
        if steer:
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # ends with the transaction
        total = int(conn.execute(query).scalar_one())
        if steer:
            conn.exec_driver_sql("RESET enable_seqscan")
    return total


@dataclass(frozen=True)
class Matching:
    """What a filter keeps: the count (up to cap + 1), and on SQLite the rowids of its findings
    when there are at most `few` of them (of a text filter: `cap`); on PostgreSQL [] when there
    are none; else None."""

    total: int
    few: list[int] | None


def count_and_few(
    conn: Connection, connector: str, where: ExportFilter, *, cap: int, few: int = FEW
) -> Matching:
    """The count behind a page, and (SQLite) the rowids that finding_page's `among` takes.

    Ordered index scans serve broad filters, but SQLite without statistics also walks them for a
    filter that keeps a few rows scattered through the whole order, to its end on every page:
    pages of such a filter read their rows by rowid instead. PostgreSQL's statistics find such
    rows by themselves (a filter that keeps nothing still reads no page). On SQLite the rowids
    are read in place of the count (one query)."""
    if conn.dialect.name != "sqlite":
        total = count_matching(conn, connector, where, cap=cap)
        return Matching(total, [] if total == 0 else None)
    query = _matching(conn, connector, where, ROWID, text_first=True).limit(cap + 1)
    with reading("counting findings"):
        ids: list[int] = list(conn.execute(query).scalars())
    # A text's matches are found through the text index once, here; its pages read them all by
    # rowid (up to cap), since an index walk checking the text row by row may read to its end.
    keep = cap if where.text else few
    return Matching(len(ids), ids if len(ids) <= keep else None)


def _matching(
    conn: Connection,
    connector: str,
    where: ExportFilter,
    *columns: sa.ColumnElement[Any],
    among: Sequence[int] | None = None,
    text_first: bool = False,
    text_index: bool = True,
) -> sa.Select[Any]:
    """The findings the filter keeps (only those of `among`, SQLite rowids, when given); with
    `text_first`, read from the text filter's index when it has one (counts, not pages: those
    walk the index of their order and stop at a page).

    On SQLite, every findings index starts with the connector: a unary + on it keeps them all
    out of the plan. Without statistics SQLite takes "connector = ?" for selective and would walk
    a whole index probing the text index's rows (or `among`) one by one; so a count reads the
    text index first, and a page of `among` reads those rows only (with the plain ILIKE)."""
    text_first = text_first and among is None and bool((where.text or "").strip())
    mine: sa.ColumnElement[bool] = findings.c.connector == connector
    if conn.dialect.name == "sqlite" and (text_first or among):
        mine = sa.literal_column("+findings.connector", findings.c.connector.type) == connector
    query = (
        sa.select(*columns)
        .select_from(findings.join(assets, FINDING_ASSET))
        .where(mine, *finding_conditions(connector, where, text_index=text_index and among is None))
    )
    if among is not None:
        # Integers: written into the SQL, any number of them fits (no bound-parameter limit).
        query = query.where(
            ROWID.in_(sa.bindparam("among", list(among), expanding=True, literal_execute=True))
        )
    return query
