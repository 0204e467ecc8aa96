"""Scan-report imports meet the API sync: finding as_of, glossary weaknesses, per-app imports.

- findings.as_of: the date of the information a row holds (decides which source wins), and
  findings.input_digest: the report row last merged into it (an identical re-import skips it);
- weaknesses: CVSS v2, CVSS v3 attack vector, CWE/OWASP/WASC, source (kb or import) and as_of,
  so a report's glossary is stored as a Knowledge Base entry;
- imported_scan_assets: every web application an imported report covered, with its date;
- the (connector, url) index on assets is dropped: PostgreSQL cannot index a 10 KB URL, and no
  query looks assets up by URL.

Revision ID: 0004_import_identity
Revises: 0003_console
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_import_identity"
down_revision: str | None = "0003_console"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("findings", sa.Column("as_of", sa.DateTime(timezone=True), nullable=True))
    op.add_column("findings", sa.Column("input_digest", sa.String(length=64), nullable=True))
    with op.batch_alter_table("weaknesses") as batch:
        batch.add_column(sa.Column("cvss_base", sa.Float(), nullable=True))
        batch.add_column(sa.Column("cvss_temporal", sa.Float(), nullable=True))
        batch.add_column(sa.Column("cvss_v3_attack_vector", sa.String(length=32), nullable=True))
        for name in ("cwes", "owasp", "wasc"):
            batch.add_column(sa.Column(name, sa.JSON(), server_default="[]", nullable=False))
        batch.add_column(
            sa.Column("source", sa.String(length=16), server_default="kb", nullable=False)
        )
        batch.add_column(sa.Column("as_of", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "imported_scan_assets",
        sa.Column("scan_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("asset_key", sa.String(length=200), nullable=False),
        sa.Column("connector", sa.String(length=100), nullable=False),
        sa.Column("report_date", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["scan_id"],
            ["imported_scans.id"],
            name=op.f("fk_imported_scan_assets_scan_id_imported_scans"),
        ),
        sa.PrimaryKeyConstraint("scan_id", "asset_key", name=op.f("pk_imported_scan_assets")),
    )
    op.create_index(
        op.f("ix_imported_scan_assets_connector_asset_key_report_date"),
        "imported_scan_assets",
        ["connector", "asset_key", "report_date"],
    )
    op.drop_index(op.f("ix_assets_connector_url"), table_name="assets")


def downgrade() -> None:
    op.create_index(op.f("ix_assets_connector_url"), "assets", ["connector", "url"])
    op.drop_index(
        op.f("ix_imported_scan_assets_connector_asset_key_report_date"),
        table_name="imported_scan_assets",
    )
    op.drop_table("imported_scan_assets")
    with op.batch_alter_table("weaknesses") as batch:
        for name in (
            "as_of", "source", "wasc", "owasp", "cwes", "cvss_v3_attack_vector",
            "cvss_temporal", "cvss_base",
        ):  # fmt: skip
            batch.drop_column(name)
    op.drop_column("findings", "input_digest")
    op.drop_column("findings", "as_of")
