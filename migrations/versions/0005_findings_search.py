"""Indexed text search over findings' name and URL (the console's `q` filter), and indexes for
the source and type filters (a rare value must not scan every finding).

- SQLite: `ix_findings_text`, an index on (connector, key, name, url). A substring search cannot
  seek in it, but it holds every name and URL in a few MB, so the search reads it instead of the
  findings rows (evidence and all): a tenth of the time. Its rows arrive in key order, as the
  sync writes them, so it costs a sync a few microseconds a finding (an FTS5 trigram table, tried
  first, was 100+ microseconds a finding and made a first sync a third slower).
- PostgreSQL: pg_trgm GIN indexes on findings.name and findings.url, which serve ILIKE. Where
  the extension cannot be created (not installed, or a role without the privilege), the migration
  still succeeds without them, search stays a scan, and one log line says how to enable it.

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

TEXT_INDEX = {"ix_findings_text": ["connector", "key", "name", "url"]}
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
        for name, columns in TEXT_INDEX.items():
            op.create_index(name, "findings", columns)
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
        for name in TEXT_INDEX:
            op.drop_index(name, table_name="findings")
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
