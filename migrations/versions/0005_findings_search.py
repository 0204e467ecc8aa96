"""Indexed text search over findings' name and URL (the console's `q` filter), and indexes for
the source and type filters (a rare value must not scan every finding).

- SQLite: `findings_search`, an FTS5 table with the trigram tokenizer over findings.name and
  findings.url. It has external content (it stores only the index, the text stays in findings)
  and is kept in step by triggers; existing findings are indexed by a 'rebuild'.
- PostgreSQL: pg_trgm GIN indexes on findings.name and findings.url, which serve ILIKE. Where
  the extension cannot be created (not installed, or a role without the privilege), the migration
  still succeeds without them, search stays a scan, and one log line says how to enable it.

Note for later migrations: rebuilding findings on SQLite (batch mode copies it into a new table)
drops these triggers and renumbers rowids; such a migration must recreate the triggers and
rebuild the search table.

Revision ID: 0005_findings_search
Revises: 0004_import_identity
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Connection

revision: str = "0005_findings_search"
down_revision: str | None = "0004_import_identity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("connector.store.search")

SQLITE_UP = (
    # columnsize=0: no per-row sizes (only ranking needs them), one write less per finding.
    "CREATE VIRTUAL TABLE findings_search USING fts5(name, url, content='findings', "
    "content_rowid='rowid', tokenize='trigram', columnsize=0)",
    "CREATE TRIGGER findings_search_insert AFTER INSERT ON findings BEGIN "
    "INSERT INTO findings_search (rowid, name, url) VALUES (new.rowid, new.name, new.url); END",
    "CREATE TRIGGER findings_search_delete AFTER DELETE ON findings BEGIN "
    "INSERT INTO findings_search (findings_search, rowid, name, url) "
    "VALUES ('delete', old.rowid, old.name, old.url); END",
    # A sync rewrites many rows with the same name and URL: those leave the index alone.
    "CREATE TRIGGER findings_search_update AFTER UPDATE OF name, url ON findings "
    "WHEN old.name IS NOT new.name OR old.url IS NOT new.url BEGIN "
    "INSERT INTO findings_search (findings_search, rowid, name, url) "
    "VALUES ('delete', old.rowid, old.name, old.url); "
    "INSERT INTO findings_search (rowid, name, url) VALUES (new.rowid, new.name, new.url); END",
    "INSERT INTO findings_search (findings_search) VALUES ('rebuild')",
)
SQLITE_DOWN = (
    "DROP TRIGGER IF EXISTS findings_search_update",
    "DROP TRIGGER IF EXISTS findings_search_delete",
    "DROP TRIGGER IF EXISTS findings_search_insert",
    "DROP TABLE IF EXISTS findings_search",
)
TRIGRAM_INDEXES = {"ix_findings_name_trgm": "name", "ix_findings_url_trgm": "url"}
_INDEX_SQL = "; ".join(
    f"CREATE INDEX {name} ON findings USING gin ({column} gin_trgm_ops)"
    for name, column in TRIGRAM_INDEXES.items()
)
UNINDEXED = (
    "text search of findings is unindexed (a scan of every finding): the pg_trgm extension %s; "
    "to index it, have a superuser run CREATE EXTENSION pg_trgm in this database, then %s"
)


FILTER_INDEXES = {
    "ix_findings_connector_source_key": ["connector", "source", "key"],
    "ix_findings_connector_type_key": ["connector", "type", "key"],
}


def upgrade() -> None:
    for name, columns in FILTER_INDEXES.items():
        op.create_index(name, "findings", columns)
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for statement in SQLITE_UP:
            bind.exec_driver_sql(statement)
    elif bind.dialect.name == "postgresql" and _trigram_extension(bind):
        for name, column in TRIGRAM_INDEXES.items():
            op.create_index(
                name,
                "findings",
                [column],
                postgresql_using="gin",
                postgresql_ops={column: "gin_trgm_ops"},
            )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for statement in SQLITE_DOWN:
            bind.exec_driver_sql(statement)
    elif bind.dialect.name == "postgresql":
        # The extension stays: other schemas may use it, and dropping it needs its owner.
        for name in TRIGRAM_INDEXES:
            bind.exec_driver_sql(f'DROP INDEX IF EXISTS "{name}"')
    for name in FILTER_INDEXES:
        op.drop_index(name, table_name="findings")


def _trigram_extension(bind: Connection) -> bool:
    """Whether pg_trgm is there or could be created; a refusal must not fail the migration."""
    installed = "SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'"
    if bind.execute(sa.text(installed)).first() is not None:
        return True
    available = "SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'"
    if bind.execute(sa.text(available)).first() is None:
        log.warning(UNINDEXED, "is not available on the server", _INDEX_SQL)
        return False
    try:
        with bind.begin_nested():  # a savepoint: the refusal rolls back only this statement
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except sa.exc.DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        log.warning(UNINDEXED, f"could not be created ({reason})", _INDEX_SQL)
        return False
    return True
