"""The findings text filter (`q`: a case-insensitive substring of the name or the URL), served
by an index where the database has one (migration 0005_findings_search).

The filter is `name ILIKE %q% OR url ILIKE %q%` on every backend, so its rows never depend on an
index. On SQLite the rowids are first read from the index `ix_findings_text`, which holds every
name and URL: no index can seek a substring, but scanning that index reads a few MB where the
findings rows hold tens (evidence and all), and SQLite's planner takes it by itself as the one
index that covers both columns (a test checks the plan). Its LIKE folds ASCII case exactly as
SQLite's ILIKE (lower() LIKE lower()) does. On PostgreSQL the pg_trgm GIN indexes serve the
ILIKE itself (PostgreSQL rechecks their candidates), so the SQL is the same with or without them.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from connector.store.planhints import OnSQLite
from connector.store.schema import TRIGRAM_INDEXES, findings

log = logging.getLogger(__name__)
ROWID = sa.literal_column("findings.rowid", sa.Integer)  # SQLite's row id of a finding


def text_condition(text: str, *, use_index: bool = True) -> sa.ColumnElement[bool]:
    """Findings whose name or URL contains `text`, ignoring case (% and _ are literal);
    without `use_index` the plain ILIKE (for rows already chosen by other means)."""
    pattern = "%" + escape_like(text) + "%"
    plain = sa.or_(
        findings.c.name.ilike(pattern, escape="\\"),
        findings.c.url.ilike(pattern, escape="\\"),
    )
    if not (use_index and text):  # an empty text keeps every row with a name or URL: no index
        return plain
    scan = findings.alias("text_scan")
    matching: sa.Select[Any] = (
        sa.select(sa.literal_column("text_scan.rowid"))
        .select_from(scan)
        .where(
            sa.or_(scan.c.name.like(pattern, escape="\\"), scan.c.url.like(pattern, escape="\\"))
        )
    )
    # SQLite's LIKE and lower() both fold ASCII only, so this LIKE keeps exactly the ILIKE's rows
    # (a test holds it to that on hostile texts): no recheck of the findings rows is needed.
    narrowed = ROWID.in_(matching)
    return OnSQLite(narrowed, plain)


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def warn_if_unindexed(conn: Connection) -> bool:
    """Log one line when PostgreSQL has no trigram indexes for the text filter; True if indexed."""
    if conn.dialect.name != "postgresql":
        return True
    pg_indexes = sa.table("pg_indexes", sa.column("tablename"), sa.column("indexname"))
    query = sa.select(sa.func.count()).where(
        pg_indexes.c.tablename == findings.name, pg_indexes.c.indexname.in_(list(TRIGRAM_INDEXES))
    )
    found = conn.execute(query).scalar_one()
    if found == len(TRIGRAM_INDEXES):
        return True
    log.warning(
        "text search of findings (the console's q filter) is unindexed: a scan of every "
        "finding; to index it, have a superuser run CREATE EXTENSION pg_trgm in this database, "
        "then %s (see the README, 'Text search')",
        "; ".join(
            f"CREATE INDEX {name} ON findings USING gin ({column} gin_trgm_ops)"
            for name, column in TRIGRAM_INDEXES.items()
        ),
    )
    return False
