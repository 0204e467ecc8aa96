"""Read queries for one record and what hangs off it, for the console's detail pages: a finding with
its asset, KB entry and status history; an asset with its findings by severity; a weakness with the
assets it affects; a run with its status changes; an imported scan."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from connector.models import FindingStatus
from connector.store.failures import reading
from connector.store.schema import (
    FINDING_ASSET,
    assets,
    finding_events,
    findings,
    imported_scans,
    sync_runs,
    weaknesses,
)

_ACTIVE = FindingStatus.ACTIVE.value


def finding(conn: Connection, connector: str, key: str) -> dict[str, Any] | None:
    """Every stored column of the finding, plus its asset's name, URL and state."""
    query = (
        sa.select(
            findings,
            assets.c.name.label("asset_name"),
            assets.c.url.label("asset_url"),
            assets.c.state.label("asset_state"),
        )
        .select_from(findings.join(assets, FINDING_ASSET))
        .where(findings.c.connector == connector, findings.c.key == key)
    )
    with reading(f"reading finding {key}"):
        row = conn.execute(query).mappings().first()
    return None if row is None else dict(row)


def weakness(conn: Connection, connector: str, qid: int) -> dict[str, Any] | None:
    query = sa.select(weaknesses).where(
        weaknesses.c.connector == connector, weaknesses.c.qid == qid
    )
    with reading(f"reading QID {qid}"):
        row = conn.execute(query).mappings().first()
    return None if row is None else dict(row)


def finding_history(conn: Connection, connector: str, key: str) -> list[dict[str, Any]]:
    """Every finding_events row of the finding, oldest first, with its run's kind and, for an
    import, the imported scan's id and file name."""
    query = (
        sa.select(
            finding_events.c.from_status,
            finding_events.c.to_status,
            finding_events.c.at,
            finding_events.c.run_id,
            finding_events.c.reason,
            sync_runs.c.kind,
            imported_scans.c.id.label("scan_id"),
            imported_scans.c.file_name,
        )
        .select_from(
            finding_events.join(sync_runs, sync_runs.c.id == finding_events.c.run_id).outerjoin(
                imported_scans, imported_scans.c.run_id == finding_events.c.run_id
            )
        )
        .where(finding_events.c.connector == connector, finding_events.c.finding_key == key)
        .order_by(finding_events.c.at, finding_events.c.id)
    )
    with reading(f"reading the history of finding {key}"):
        return [dict(row) for row in conn.execute(query).mappings()]


def asset(conn: Connection, connector: str, key: str) -> dict[str, Any] | None:
    query = sa.select(assets).where(assets.c.connector == connector, assets.c.key == key)
    with reading(f"reading asset {key}"):
        row = conn.execute(query).mappings().first()
    return None if row is None else dict(row)


def asset_finding_counts(conn: Connection, connector: str, key: str) -> dict[tuple[str, str], int]:
    """(status, severity) -> findings of this asset."""
    query = (
        sa.select(findings.c.status, findings.c.severity, sa.func.count())
        .where(findings.c.connector == connector, findings.c.asset_key == key)
        .group_by(findings.c.status, findings.c.severity)
    )
    with reading(f"counting the findings of asset {key}"):
        return {(row[0], row[1]): int(row[2]) for row in conn.execute(query)}


def weakness_assets(conn: Connection, connector: str, qid: int) -> list[dict[str, Any]]:
    """The assets with Active findings of this QID, most findings first."""
    count = sa.func.count().label("open_findings")
    query = (
        sa.select(assets.c.key, assets.c.name, assets.c.url, assets.c.state, count)
        .select_from(findings.join(assets, FINDING_ASSET))
        .where(
            findings.c.connector == connector,
            findings.c.qid == qid,
            findings.c.status == _ACTIVE,
        )
        .group_by(assets.c.key, assets.c.name, assets.c.url, assets.c.state)
        .order_by(count.desc(), assets.c.key)
    )
    with reading(f"reading the assets of QID {qid}"):
        return [dict(row) for row in conn.execute(query).mappings()]


def run(conn: Connection, connector: str, run_id: int) -> dict[str, Any] | None:
    """The sync_runs row, with the imported scan it recorded (for an import)."""
    query = (
        sa.select(
            sync_runs,
            imported_scans.c.id.label("scan_id"),
            imported_scans.c.file_name,
        )
        .select_from(sync_runs.outerjoin(imported_scans, imported_scans.c.run_id == sync_runs.c.id))
        .where(sync_runs.c.connector == connector, sync_runs.c.id == run_id)
    )
    with reading(f"reading run {run_id}"):
        row = conn.execute(query).mappings().first()
    return None if row is None else dict(row)


def run_changes(
    conn: Connection, connector: str, run_id: int, *, limit: int
) -> tuple[dict[tuple[str | None, str], int], list[dict[str, Any]]]:
    """(from, to) -> how many status changes the run made, and the first `limit` of them."""
    events = finding_events
    totals_query = (
        sa.select(events.c.from_status, events.c.to_status, sa.func.count())
        .where(events.c.connector == connector, events.c.run_id == run_id)
        .group_by(events.c.from_status, events.c.to_status)
    )
    sample_query = (
        sa.select(
            events.c.finding_key,
            events.c.from_status,
            events.c.to_status,
            events.c.reason,
            findings.c.name,
            findings.c.severity,
        )
        .select_from(
            events.outerjoin(
                findings,
                sa.and_(
                    findings.c.connector == events.c.connector,
                    findings.c.key == events.c.finding_key,
                ),
            )
        )
        .where(events.c.connector == connector, events.c.run_id == run_id)
        .order_by(events.c.id)
        .limit(limit)
    )
    with reading(f"reading the changes of run {run_id}"):
        totals = {(r[0], r[1]): int(r[2]) for r in conn.execute(totals_query)}
        sample = [dict(r) for r in conn.execute(sample_query).mappings()]
    return totals, sample


def imported_scan(conn: Connection, connector: str, scan_id: int) -> dict[str, Any] | None:
    """The imported_scans row with its asset's name and URL."""
    query = (
        sa.select(
            imported_scans,
            assets.c.name.label("asset_name"),
            assets.c.url.label("asset_url"),
        )
        .select_from(
            imported_scans.outerjoin(
                assets,
                sa.and_(
                    assets.c.connector == imported_scans.c.connector,
                    assets.c.key == imported_scans.c.asset_key,
                ),
            )
        )
        .where(imported_scans.c.connector == connector, imported_scans.c.id == scan_id)
    )
    with reading(f"reading imported scan {scan_id}"):
        row = conn.execute(query).mappings().first()
    return None if row is None else dict(row)
