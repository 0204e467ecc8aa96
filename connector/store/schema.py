"""The database schema (SQLAlchemy Core tables). Alembic migrations in `migrations/` must match it.

Natural keys: every table starts with the connector name, so one database can hold several
connectors. `key` is the Qualys id as a string for API records, or an import-derived key.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    and_,
)
from sqlalchemy.engine import Dialect


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every dialect (SQLite has no time zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given to the store; use UTC-aware values")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

CONNECTOR = 100  # length of connector names
KEY = 200  # length of record keys

assets = Table(
    "assets",
    metadata,
    Column("connector", String(CONNECTOR), primary_key=True),
    Column("key", String(KEY), primary_key=True),
    Column("name", Text),
    Column("url", Text),
    Column("first_observed", UTCDateTime),
    Column("last_observed", UTCDateTime),
    Column("tags", JSON, nullable=False),
    Column("attributes", JSON, nullable=False),
    Column("state", String(16), nullable=False),  # AssetState
    Column("archived_at", UTCDateTime),
    Column("first_seen_at", UTCDateTime, nullable=False),  # when the connector first saw it
    Column("last_seen_at", UTCDateTime, nullable=False),  # when the connector last saw it
    Column("source", String(KEY), nullable=False),  # "api" or "import:<mapping>"
    Column("content_hash", String(64)),
    # No index on url: PostgreSQL cannot index a value over ~2,700 bytes and a report may carry a
    # 10 KB URL; nothing looks assets up by URL in SQL (imports match URLs in Python).
    Index(None, "connector", "state"),
)

findings = Table(
    "findings",
    metadata,
    Column("connector", String(CONNECTOR), primary_key=True),
    Column("key", String(KEY), primary_key=True),
    Column("asset_key", String(KEY), nullable=False),
    Column("unique_id", String(64)),
    Column("qid", Integer),
    Column("name", Text, nullable=False),
    Column("type", String(32)),
    Column("url", Text),
    Column("param", Text),
    Column("severity", String(16), nullable=False),  # Severity
    Column("severity_source", String(32), nullable=False),  # SeveritySource
    Column("qualys_severity", SmallInteger),
    Column("cvss_v3_base", Float),
    Column("cvss_v3_temporal", Float),
    Column("attack_vector", String(32)),
    Column("cwes", JSON, nullable=False),
    Column("owasp", JSON, nullable=False),
    Column("wasc", JSON, nullable=False),
    Column("status", String(8), nullable=False),  # FindingStatus
    Column("qualys_status", String(16)),
    Column("ignored_reason", String(32)),
    Column("first_seen", UTCDateTime),
    Column("last_seen", UTCDateTime),
    Column("fixed_at", UTCDateTime),
    Column("fixed_reason", Text),
    Column("ports", JSON, nullable=False),
    Column("evidence", Text),
    Column("source", String(KEY), nullable=False),  # api, import or api+import
    Column("listing_digest", String(32)),  # models.Finding.listing_digest (API findings)
    Column("content_hash", String(64)),  # NULL forces the next upsert to rewrite the row
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("as_of", UTCDateTime),  # the date of the information the row holds (see models)
    Column("input_digest", String(64)),  # imports: the report row last merged (see models)
    ForeignKeyConstraint(["connector", "asset_key"], ["assets.connector", "assets.key"]),
    Index(None, "connector", "status"),
    Index(None, "connector", "asset_key", "status"),
    # The console's sort orders, each ending in the key for keyset pagination (0002_console).
    Index(None, "connector", "qid", "key"),
    Index(None, "connector", "severity", "key"),
    Index(None, "connector", "last_seen", "key"),
    Index(None, "connector", "first_seen", "key"),
    # Filters on a few distinct values, where a rare one (imports, a type) must not scan
    # (0005_findings_search).
    Index(None, "connector", "source", "key"),
    Index(None, "connector", "type", "key"),
)
# Text search of name and url (migration 0005_findings_search; store/search.py). SQLite: an index
# holding every name and URL, which a substring search reads instead of the findings rows.
# PostgreSQL: pg_trgm GIN indexes, absent where the extension could not be created
# (migrations/env.py then leaves them out of the comparison).
TEXT_INDEX = "ix_findings_text"
Index(TEXT_INDEX, findings.c.connector, findings.c.key, findings.c.name, findings.c.url).ddl_if(
    dialect="sqlite"
)
TRIGRAM_INDEXES = {"ix_findings_name_trgm": "name", "ix_findings_url_trgm": "url"}
for _name, _column in TRIGRAM_INDEXES.items():
    Index(
        _name,
        findings.c[_column],
        postgresql_using="gin",
        postgresql_ops={_column: "gin_trgm_ops"},
        info={"trigram": True},
    ).ddl_if(dialect="postgresql")

# How a finding reaches its asset (the composite foreign key above), for joins.
FINDING_ASSET = and_(
    assets.c.connector == findings.c.connector, assets.c.key == findings.c.asset_key
)

weaknesses = Table(
    "weaknesses",
    metadata,
    Column("connector", String(CONNECTOR), primary_key=True),
    Column("qid", Integer, primary_key=True, autoincrement=False),
    Column("known", Boolean, nullable=False),  # False: the KB does not know this QID
    Column("title", Text),
    Column("category", Text),
    Column("severity_level", SmallInteger),
    Column("description", Text),
    Column("impact", Text),
    Column("solution", Text),
    Column("published_date", UTCDateTime),
    Column("cves", JSON, nullable=False),
    Column("cvss_v3_base", Float),
    Column("cvss_v3_temporal", Float),
    Column("cvss_v3_vector", String(200)),
    Column("last_modified", UTCDateTime),
    Column("fetched_at", UTCDateTime, nullable=False),
    Column("cvss_base", Float),
    Column("cvss_temporal", Float),
    Column("cvss_v3_attack_vector", String(32)),
    Column("cwes", JSON, nullable=False, server_default="[]"),
    Column("owasp", JSON, nullable=False, server_default="[]"),
    Column("wasc", JSON, nullable=False, server_default="[]"),
    Column("source", String(16), nullable=False, server_default="kb"),  # kb, or import: a glossary
    Column("as_of", UTCDateTime),  # when the entry holds: KB fetch time, or the report's date
)

sync_runs = Table(
    "sync_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("connector", String(CONNECTOR), nullable=False),
    Column("kind", String(16), nullable=False),  # RunKind
    Column("mode", String(16)),  # syncs: SyncMode (full or incremental); NULL for imports
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("outcome", String(16), nullable=False),  # RunOutcome
    Column("counts", JSON, nullable=False),
    Column("api_calls", Integer, nullable=False, default=0),
    Column("retries", Integer, nullable=False, default=0),
    Column("error", Text),
    Column("host", String(255)),
    Column("pid", Integer),
    Index(None, "connector", "kind", "started_at"),
    Index(None, "connector", "outcome"),
)

finding_events = Table(
    "finding_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("connector", String(CONNECTOR), nullable=False),
    Column("finding_key", String(KEY), nullable=False),
    Column("from_status", String(8)),  # NULL when the finding was created
    Column("to_status", String(8), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("run_id", Integer, nullable=False),
    Column("reason", Text, nullable=False),
    # No foreign key to findings: events are written only with their finding, in the same call,
    # and on PostgreSQL that check's plan, cached while findings was empty, made every event
    # insert scan the whole table (a first 50k sync slowed down quadratically).
    ForeignKeyConstraint(["run_id"], ["sync_runs.id"]),
    Index(None, "connector", "finding_key"),
    Index(None, "run_id"),
)

connector_state = Table(
    "connector_state",
    metadata,
    Column("connector", String(CONNECTOR), primary_key=True),
    Column("name", String(100), primary_key=True),  # e.g. "kb_refreshed_at"
    Column("value", Text, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

sync_locks = Table(
    "sync_locks",
    metadata,
    Column("connector", String(CONNECTOR), primary_key=True),
    Column("holder", String(100), nullable=False),  # a random token per holder
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("acquired_at", UTCDateTime, nullable=False),
    Column("heartbeat_at", UTCDateTime, nullable=False),  # stale after a timeout: crash-safe
)

import_mappings = Table(
    "import_mappings",
    metadata,
    Column("connector", String(CONNECTOR), primary_key=True),
    Column("name", String(100), primary_key=True),
    Column("definition", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

imported_scans = Table(
    "imported_scans",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("connector", String(CONNECTOR), nullable=False),
    Column("run_id", Integer, nullable=False),
    Column("file_name", Text, nullable=False),
    Column("checksum", String(64), nullable=False),  # sha256 of the file
    Column("report_date", UTCDateTime),
    Column("asset_key", String(KEY)),
    Column("mapping", String(100), nullable=False),
    Column("counts", JSON, nullable=False),
    Column("imported_at", UTCDateTime, nullable=False),
    ForeignKeyConstraint(["run_id"], ["sync_runs.id"]),
    Index(None, "connector", "checksum"),
    Index(None, "connector", "asset_key"),
)

# Every web application an import's report covered (a report can hold several), with the
# report's date: closing absent findings needs the newest report imported per web application.
imported_scan_assets = Table(
    "imported_scan_assets",
    metadata,
    Column("scan_id", Integer, primary_key=True, autoincrement=False),
    Column("asset_key", String(KEY), primary_key=True),
    Column("connector", String(CONNECTOR), nullable=False),
    Column("report_date", UTCDateTime),
    ForeignKeyConstraint(["scan_id"], ["imported_scans.id"]),
    Index(None, "connector", "asset_key", "report_date"),
)
