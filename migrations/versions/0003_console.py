"""The web console's sort orders: findings indexes ending in the key, for keyset pagination.

(connector, qid) and (connector, severity) become (connector, qid, key) and
(connector, severity, key), which serve every query the old ones did; last_seen and first_seen
get their own.

Revision ID: 0003_console
Revises: 0002_incremental
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003_console"
down_revision: str | None = "0002_incremental"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW = {
    "ix_findings_connector_qid_key": ["connector", "qid", "key"],
    "ix_findings_connector_severity_key": ["connector", "severity", "key"],
    "ix_findings_connector_last_seen_key": ["connector", "last_seen", "key"],
    "ix_findings_connector_first_seen_key": ["connector", "first_seen", "key"],
}
REPLACED = {
    "ix_findings_connector_qid": ["connector", "qid"],
    "ix_findings_connector_severity": ["connector", "severity"],
}


def upgrade() -> None:
    for name, columns in NEW.items():
        op.create_index(name, "findings", columns)
    for name in REPLACED:
        op.drop_index(name, table_name="findings")


def downgrade() -> None:
    for name, columns in REPLACED.items():
        op.create_index(name, "findings", columns)
    for name in NEW:
        op.drop_index(name, table_name="findings")
