"""Persistence for scan-file imports: saved import mappings, the imported_scans record, and
the reads of the store an import makes (assets to attach to, the findings it wrote before).

Mappings are stored as their JSON definition (`{"format", "columns", "severity_values"}`); the
importer turns them into its own dataclass, so the store knows nothing of the importer.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from connector.models import Asset, FindingStatus
from connector.store.failures import reading, writing
from connector.store.schema import (
    assets,
    findings,
    import_mappings,
    imported_scan_assets,
    imported_scans,
)
from connector.store.upsert import chunks, insert_many


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
    asset_keys: Sequence[str] = (),
) -> int:
    """Insert an imported_scans row, and one imported_scan_assets row per web application the
    report covered (`asset_keys`, all dated `report_date`); returns the scan's id."""
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
        scan_id = int(result.scalar_one())
        rows = [
            {
                "scan_id": scan_id,
                "asset_key": key,
                "connector": connector,
                "report_date": report_date,
            }
            for key in dict.fromkeys(asset_keys)
        ]
        insert_many(conn, imported_scan_assets, rows, describe=lambda r: f"asset {r['asset_key']}")
        return scan_id


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


def get_imported_scan(conn: Connection, connector: str, scan_id: int) -> ImportedScan | None:
    table = imported_scans
    query = sa.select(table).where(table.c.connector == connector, table.c.id == scan_id)
    with reading(f"reading import #{scan_id}"):
        row = conn.execute(query).mappings().first()
    return None if row is None else _scan(row)


def latest_report_dates(
    conn: Connection, connector: str, asset_keys: Collection[str]
) -> dict[str, datetime]:
    """asset key -> the newest report date of the imports recorded for it (dated ones only)."""
    table = imported_scan_assets
    found: dict[str, datetime] = {}
    with reading("reading the last imports of the report's web applications"):
        for chunk in chunks(sorted(asset_keys)):
            query = (
                sa.select(table.c.asset_key, sa.func.max(table.c.report_date))
                .where(
                    table.c.connector == connector,
                    table.c.asset_key.in_(chunk),
                    table.c.report_date.is_not(None),
                )
                .group_by(table.c.asset_key)
            )
            for key, value in conn.execute(query):
                if value is not None:
                    found[str(key)] = _aware(value)
    return found


def _aware(value: Any) -> datetime:
    """max() of a datetime column comes back as text on SQLite."""
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class StoredAsset:
    asset: Asset
    content_hash: str | None


def api_asset_index(conn: Connection, connector: str) -> tuple[dict[str, str], set[str]]:
    """(url -> key, keys) of the API's web applications, for attaching imports to them."""
    query = sa.select(assets.c.url, assets.c.key).where(
        assets.c.connector == connector, assets.c.source == "api"
    )
    urls: dict[str, str] = {}
    keys: set[str] = set()
    with reading("reading the web applications' URLs"):
        for row in conn.execute(query):
            keys.add(row.key)
            if row.url:
                urls[row.url] = row.key
    return urls, keys


def stored_assets(
    conn: Connection, connector: str, keys: Collection[str]
) -> dict[str, StoredAsset]:
    """The stored assets of these keys, as models with their content hash."""
    found: dict[str, StoredAsset] = {}
    with reading(f"reading {len(keys)} stored assets"):
        for chunk in chunks(sorted(keys)):
            query = sa.select(assets).where(
                assets.c.connector == connector, assets.c.key.in_(chunk)
            )
            for row in conn.execute(query).mappings():
                asset = Asset(
                    key=row["key"],
                    name=row["name"],
                    url=row["url"],
                    first_observed=row["first_observed"],
                    last_observed=row["last_observed"],
                    tags=tuple(row["tags"]),
                    attributes=dict(row["attributes"]),
                    source=row["source"],
                )
                found[row["key"]] = StoredAsset(asset, row["content_hash"])
    return found


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


# --- what imports read of the findings they wrote ----------------------------------------------
class StoredDigest(NamedTuple):
    """A finding an import wrote, by the input digest of the report row last merged into it
    (a tuple: an import of 200,000 rows holds one per row)."""

    key: str
    severity: str
    as_of: datetime | None


def input_digests(
    conn: Connection, connector: str, asset_keys: Collection[str]
) -> dict[str, StoredDigest]:
    """input digest -> the finding, for the findings of these assets that imports wrote."""
    f = findings.c
    query = sa.select(f.input_digest, f.key, f.severity, f.as_of).where(
        f.connector == connector, f.input_digest.is_not(None)
    )
    found: dict[str, StoredDigest] = {}
    shared: dict[Any, Any] = {}  # one object per distinct severity and date
    with reading("reading the findings earlier imports wrote"):
        for chunk in chunks(sorted(asset_keys)):
            rows = conn.execute(query.where(f.asset_key.in_(chunk)))
            for digest_, key, severity, as_of in rows:
                found[str(digest_)] = StoredDigest(
                    str(key),
                    shared.setdefault(severity, str(severity)),
                    shared.setdefault(as_of, _as_utc(as_of)),
                )
    return found


@dataclass(frozen=True, slots=True)
class ActiveFinding:
    """What deciding to close an absent finding needs to know about it."""

    key: str
    asset_key: str
    type: str | None
    as_of: datetime | None
    ignored: bool


def iter_active(
    conn: Connection,
    connector: str,
    *,
    sources: Collection[str],
    asset_keys: Collection[str],
    types: Collection[str] | None = None,
) -> Iterator[ActiveFinding]:
    """The Active findings of these sources on these assets (of these types), streamed."""
    f = findings.c
    base = sa.select(
        f.key, f.asset_key, f.type, sa.func.coalesce(f.as_of, f.last_seen), f.ignored_reason
    ).where(
        f.connector == connector,
        f.status == FindingStatus.ACTIVE.value,
        f.source.in_(list(sources)),
    )
    if types is not None:
        base = base.where(f.type.in_(list(types)))
    with reading("reading active findings"):
        for chunk in chunks(sorted(asset_keys)):
            rows = conn.execute(
                base.where(f.asset_key.in_(chunk)), execution_options={"yield_per": 10_000}
            )
            for key, asset_key, type_, as_of, ignored in rows:
                yield ActiveFinding(
                    str(key),
                    str(asset_key),
                    None if type_ is None else str(type_),
                    _as_utc(as_of),
                    ignored is not None,
                )


def _as_utc(value: Any) -> datetime | None:
    """A coalesce() of two datetime columns comes back untyped on SQLite: parse it there."""
    if value is None or isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value
    parsed = datetime.fromisoformat(str(value))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
