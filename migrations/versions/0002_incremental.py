"""Incremental sync: a finding's listing digest, and which kind of sync a run was.

Revision ID: 0002_incremental
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_incremental"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("findings") as batch:
        batch.add_column(sa.Column("listing_digest", sa.String(length=32), nullable=True))
    with op.batch_alter_table("sync_runs") as batch:
        batch.add_column(sa.Column("mode", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sync_runs") as batch:
        batch.drop_column("mode")
    with op.batch_alter_table("findings") as batch:
        batch.drop_column("listing_digest")
