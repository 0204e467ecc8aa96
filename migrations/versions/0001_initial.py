"""The initial schema: assets, findings, weaknesses, runs, events, state, locks, imports.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "assets",
        sa.Column("connector", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("first_observed", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_observed", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("connector", "key", name=op.f("pk_assets")),
    )
    op.create_index(op.f("ix_assets_connector_state"), "assets", ["connector", "state"])
    op.create_index(op.f("ix_assets_connector_url"), "assets", ["connector", "url"])

    op.create_table(
        "connector_state",
        sa.Column("connector", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("connector", "name", name=op.f("pk_connector_state")),
    )
    op.create_table(
        "import_mappings",
        sa.Column("connector", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("connector", "name", name=op.f("pk_import_mappings")),
    )
    op.create_table(
        "sync_locks",
        sa.Column("connector", sa.String(length=100), nullable=False),
        sa.Column("holder", sa.String(length=100), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("connector", name=op.f("pk_sync_locks")),
    )
    op.create_table(
        "sync_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("connector", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("api_calls", sa.Integer(), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_runs")),
    )
    op.create_index(
        op.f("ix_sync_runs_connector_kind_started_at"),
        "sync_runs",
        ["connector", "kind", "started_at"],
    )
    op.create_index(op.f("ix_sync_runs_connector_outcome"), "sync_runs", ["connector", "outcome"])

    op.create_table(
        "weaknesses",
        sa.Column("connector", sa.String(length=100), nullable=False),
        sa.Column("qid", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("known", sa.Boolean(), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("category", sa.Text(), nullable=True),
        sa.Column("severity_level", sa.SmallInteger(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("impact", sa.Text(), nullable=True),
        sa.Column("solution", sa.Text(), nullable=True),
        sa.Column("published_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cves", sa.JSON(), nullable=False),
        sa.Column("cvss_v3_base", sa.Float(), nullable=True),
        sa.Column("cvss_v3_temporal", sa.Float(), nullable=True),
        sa.Column("cvss_v3_vector", sa.String(length=200), nullable=True),
        sa.Column("last_modified", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("connector", "qid", name=op.f("pk_weaknesses")),
    )
    op.create_table(
        "findings",
        sa.Column("connector", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("asset_key", sa.String(length=200), nullable=False),
        sa.Column("unique_id", sa.String(length=64), nullable=True),
        sa.Column("qid", sa.Integer(), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("param", sa.Text(), nullable=True),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("severity_source", sa.String(length=32), nullable=False),
        sa.Column("qualys_severity", sa.SmallInteger(), nullable=True),
        sa.Column("cvss_v3_base", sa.Float(), nullable=True),
        sa.Column("cvss_v3_temporal", sa.Float(), nullable=True),
        sa.Column("attack_vector", sa.String(length=32), nullable=True),
        sa.Column("cwes", sa.JSON(), nullable=False),
        sa.Column("owasp", sa.JSON(), nullable=False),
        sa.Column("wasc", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("qualys_status", sa.String(length=16), nullable=True),
        sa.Column("ignored_reason", sa.String(length=32), nullable=True),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fixed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fixed_reason", sa.Text(), nullable=True),
        sa.Column("ports", sa.JSON(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["connector", "asset_key"],
            ["assets.connector", "assets.key"],
            name=op.f("fk_findings_connector_asset_key_assets"),
        ),
        sa.PrimaryKeyConstraint("connector", "key", name=op.f("pk_findings")),
    )
    op.create_index(
        op.f("ix_findings_connector_asset_key_status"),
        "findings",
        ["connector", "asset_key", "status"],
    )
    op.create_index(op.f("ix_findings_connector_qid"), "findings", ["connector", "qid"])
    op.create_index(op.f("ix_findings_connector_severity"), "findings", ["connector", "severity"])
    op.create_index(op.f("ix_findings_connector_status"), "findings", ["connector", "status"])

    op.create_table(
        "imported_scans",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("connector", sa.String(length=100), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("checksum", sa.String(length=64), nullable=False),
        sa.Column("report_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("asset_key", sa.String(length=200), nullable=True),
        sa.Column("mapping", sa.String(length=100), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["sync_runs.id"], name=op.f("fk_imported_scans_run_id_sync_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_imported_scans")),
    )
    op.create_index(
        op.f("ix_imported_scans_connector_asset_key"), "imported_scans", ["connector", "asset_key"]
    )
    op.create_index(
        op.f("ix_imported_scans_connector_checksum"), "imported_scans", ["connector", "checksum"]
    )

    op.create_table(
        "finding_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("connector", sa.String(length=100), nullable=False),
        sa.Column("finding_key", sa.String(length=200), nullable=False),
        sa.Column("from_status", sa.String(length=8), nullable=True),
        sa.Column("to_status", sa.String(length=8), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["sync_runs.id"], name=op.f("fk_finding_events_run_id_sync_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finding_events")),
    )
    op.create_index(
        op.f("ix_finding_events_connector_finding_key"),
        "finding_events",
        ["connector", "finding_key"],
    )
    op.create_index(op.f("ix_finding_events_run_id"), "finding_events", ["run_id"])


def downgrade() -> None:
    op.drop_table("finding_events")
    op.drop_table("imported_scans")
    op.drop_table("findings")
    op.drop_table("weaknesses")
    op.drop_table("sync_runs")
    op.drop_table("sync_locks")
    op.drop_table("import_mappings")
    op.drop_table("connector_state")
    op.drop_table("assets")
