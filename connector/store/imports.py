"""Persistence for scan-file imports: saved import mappings and the imported_scans record.

Mappings are stored as their JSON definition (`{"format", "columns", "severity_values"}`); the
importer turns them into its own dataclass, so the store knows nothing of the importer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from connector.store.failures import reading, writing
from connector.store.schema import assets, import_mappings, imported_scans


@dataclass(frozen=True, slots=True)
class StoredMapping:
    name: str
    definition: dict[str, Any]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ImportedScan:
    id: int
    run_id: int
    file_name: str
    checksum: str
    report_date: datetime | None
    asset_key: str | None
    mapping: str
    counts: dict[str, Any]
    imported_at: datetime


# --- import_mappings -----------------------------------------------------------------------------
def save_mapping(
    conn: Connection, connector: str, name: str, definition: Mapping[str, Any], *, now: datetime
) -> bool:
    """Create or replace the mapping `name`; returns True when it was created."""
    table = import_mappings
    where = sa.and_(table.c.connector == connector, table.c.name == name)
    with writing(f"saving import mapping {name!r}"):
        exists = conn.execute(sa.select(table.c.name).where(where)).first() is not None
        if exists:
            conn.execute(
                sa.update(table).where(where).values(definition=dict(definition), updated_at=now)
            )
        else:
            conn.execute(
                sa.insert(table).values(
                    connector=connector,
                    name=name,
                    definition=dict(definition),
                    created_at=now,
                    updated_at=now,
                )
            )
    return not exists


def load_mapping(conn: Connection, connector: str, name: str) -> StoredMapping | None:
    table = import_mappings
    with reading(f"reading import mapping {name!r}"):
        row = (
            conn.execute(
                sa.select(table).where(table.c.connector == connector, table.c.name == name)
            )
            .mappings()
            .first()
        )
    return None if row is None else _mapping(row)


def list_mappings(conn: Connection, connector: str) -> list[StoredMapping]:
    table = import_mappings
    with reading("listing import mappings"):
        rows = conn.execute(
            sa.select(table).where(table.c.connector == connector).order_by(table.c.name)
        ).mappings()
        return [_mapping(row) for row in rows]


def delete_mapping(conn: Connection, connector: str, name: str) -> bool:
    """Delete the mapping; returns False when there was none of that name."""
    table = import_mappings
    with writing(f"deleting import mapping {name!r}"):
        result = conn.execute(
            sa.delete(table).where(table.c.connector == connector, table.c.name == name)
        )
    return bool(result.rowcount)


def _mapping(row: sa.RowMapping) -> StoredMapping:
    return StoredMapping(
        name=row["name"],
        definition=dict(row["definition"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


# --- imported_scans ------------------------------------------------------------------------------
def record_imported_scan(
    conn: Connection,
    connector: str,
    *,
    run_id: int,
    file_name: str,
    checksum: str,
    report_date: datetime | None,
    asset_key: str | None,
    mapping: str,
    counts: Mapping[str, Any],
    now: datetime,
) -> int:
    """Insert an imported_scans row; returns its id."""
    with writing(f"recording the import of {file_name}"):
        result = conn.execute(
            sa.insert(imported_scans)
            .values(
                connector=connector,
                run_id=run_id,
                file_name=file_name,
                checksum=checksum,
                report_date=report_date,
                asset_key=asset_key,
                mapping=mapping,
                counts=dict(counts),
                imported_at=now,
            )
            .returning(imported_scans.c.id)
        )
        return int(result.scalar_one())


def list_imported_scans(
    conn: Connection, connector: str, *, limit: int | None = None
) -> list[ImportedScan]:
    """Newest first."""
    table = imported_scans
    query = (
        sa.select(table)
        .where(table.c.connector == connector)
        .order_by(table.c.imported_at.desc(), table.c.id.desc())
    )
    if limit is not None:
        query = query.limit(limit)
    with reading("listing imported scans"):
        return [_scan(row) for row in conn.execute(query).mappings()]


def find_imported_scan(conn: Connection, connector: str, checksum: str) -> ImportedScan | None:
    """The earliest import of a file with this checksum, if any."""
    table = imported_scans
    query = (
        sa.select(table)
        .where(table.c.connector == connector, table.c.checksum == checksum)
        .order_by(table.c.id)
        .limit(1)
    )
    with reading("looking up earlier imports"):
        row = conn.execute(query).mappings().first()
    return None if row is None else _scan(row)


def latest_report_date(conn: Connection, connector: str, asset_key: str) -> datetime | None:
    """The newest report date of the imports recorded for this asset."""
    table = imported_scans
    query = (
        sa.select(table.c.report_date)
        .where(
            table.c.connector == connector,
            table.c.asset_key == asset_key,
            table.c.report_date.is_not(None),
        )
        .order_by(table.c.report_date.desc())
        .limit(1)
    )
    with reading(f"reading the last import of asset {asset_key}"):
        value: datetime | None = conn.execute(query).scalar()
    return value


def api_asset_urls(conn: Connection, connector: str, *, source: str = "api") -> dict[str, str]:
    """url -> key of every asset of `source` that has a URL (for attaching imports to them)."""
    query = sa.select(assets.c.url, assets.c.key).where(
        assets.c.connector == connector, assets.c.source == source, assets.c.url.is_not(None)
    )
    with reading("reading the web applications' URLs"):
        return {row.url: row.key for row in conn.execute(query)}


def _scan(row: sa.RowMapping) -> ImportedScan:
    return ImportedScan(
        id=row["id"],
        run_id=row["run_id"],
        file_name=row["file_name"],
        checksum=row["checksum"],
        report_date=row["report_date"],
        asset_key=row["asset_key"],
        mapping=row["mapping"],
        counts=dict(row["counts"]),
        imported_at=row["imported_at"],
    )
