"""The findings text filter (`q`: a case-insensitive substring of the name or the URL), served
by an index where the database has one (migration 0005_findings_search).

The filter is `name ILIKE %q% OR url ILIKE %q%` on every backend, so its rows never depend on an
index. On SQLite the FTS5 trigram table `findings_search` narrows the rows first: a quoted FTS5
phrase of q matches every row whose name or URL holds q up to Unicode case folding, a superset of
SQLite's ASCII-only ILIKE, which then decides. A q under 3 characters has no trigram and is a
plain scan. On PostgreSQL the pg_trgm GIN indexes serve the ILIKE itself (PostgreSQL rechecks
their candidates), so the SQL is the same with or without them.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from connector.store.planhints import OnSQLite
from connector.store.schema import SEARCH_TABLE, TRIGRAM_INDEXES, findings

log = logging.getLogger(__name__)

TRIGRAM = 3  # characters in one trigram: the shortest text the FTS index can find


def text_condition(text: str, *, use_index: bool = True) -> sa.ColumnElement[bool]:
    """Findings whose name or URL contains `text`, ignoring case (% and _ are literal);
    without `use_index` the plain ILIKE (for rows already chosen by other means)."""
    pattern = "%" + escape_like(text) + "%"
    plain = sa.or_(
        findings.c.name.ilike(pattern, escape="\\"),
        findings.c.url.ilike(pattern, escape="\\"),
    )
    if not (use_index and indexed(text)):
        return plain
    search = sa.table(SEARCH_TABLE, sa.column("rowid"))
    phrase = '"' + text.replace('"', '""') + '"'  # inside an FTS5 string every character is text
    matching = sa.select(search.c.rowid).where(
        sa.literal_column(SEARCH_TABLE).op("MATCH")(sa.literal(phrase, sa.String))
    )
    narrowed = sa.and_(sa.literal_column("findings.rowid").in_(matching), plain)
    return OnSQLite(narrowed, plain)


def indexed(text: str) -> bool:
    """Whether the SQLite FTS index can serve this text (PostgreSQL's trigrams decide alone)."""
    return len(text) >= TRIGRAM and "\x00" not in text


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
