"""Read-side queries for exports: streamed rows of assets, findings and weaknesses with filters."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from connector.store.failures import reading
from connector.store.schema import FINDING_ASSET, assets, findings, weaknesses

STREAM_BATCH = 1000


@dataclass(frozen=True)
class ExportFilter:
    """What an export keeps. Findings of archived assets are left out unless include_archived."""

    statuses: Collection[str] = ()
    severities: Collection[str] = ()
    asset: str | None = None  # an asset key or name
    since: datetime | None = None  # last seen (findings) / last observed (assets) at or after
    include_archived: bool = False


def iter_assets(conn: Connection, connector: str, where: ExportFilter) -> Iterator[dict[str, Any]]:
    query = sa.select(assets).where(assets.c.connector == connector).order_by(assets.c.key)
    if not where.include_archived:
        query = query.where(assets.c.state == "active")
    if where.asset:
        query = query.where(sa.or_(assets.c.key == where.asset, assets.c.name == where.asset))
    if where.since:
        query = query.where(assets.c.last_observed >= where.since)
    yield from _stream(conn, query)


def iter_findings(
    conn: Connection, connector: str, where: ExportFilter
) -> Iterator[dict[str, Any]]:
    joined = findings.join(
        assets,
        FINDING_ASSET,
    ).outerjoin(
        weaknesses,
        sa.and_(weaknesses.c.connector == findings.c.connector, weaknesses.c.qid == findings.c.qid),
    )
    query = (
        sa.select(
            findings,
            assets.c.name.label("asset_name"),
            weaknesses.c.description,
            weaknesses.c.impact,
            weaknesses.c.solution,
            weaknesses.c.published_date,
        )
        .select_from(joined)
        .where(findings.c.connector == connector)
        .order_by(findings.c.key)
    )
    if not where.include_archived:
        query = query.where(assets.c.state == "active")
    if where.statuses:
        query = query.where(findings.c.status.in_(list(where.statuses)))
    if where.severities:
        query = query.where(findings.c.severity.in_(list(where.severities)))
    if where.asset:
        query = query.where(sa.or_(assets.c.key == where.asset, assets.c.name == where.asset))
    if where.since:
        query = query.where(findings.c.last_seen >= where.since)
    yield from _stream(conn, query)


def iter_weaknesses(
    conn: Connection, connector: str, where: ExportFilter
) -> Iterator[dict[str, Any]]:
    """KB entries with their open findings and affected assets (non-archived assets by default)."""
    open_findings = (
        sa.select(
            findings.c.qid,
            sa.func.count().label("open_findings"),
            sa.func.count(sa.distinct(findings.c.asset_key)).label("affected_assets"),
        )
        .select_from(
            findings.join(
                assets,
                FINDING_ASSET,
            )
        )
        .where(findings.c.connector == connector, findings.c.status == "Active")
    )
    if not where.include_archived:
        open_findings = open_findings.where(assets.c.state == "active")
    if where.severities:
        open_findings = open_findings.where(findings.c.severity.in_(list(where.severities)))
    counts = open_findings.group_by(findings.c.qid).subquery()
    query = (
        sa.select(
            weaknesses,
            sa.func.coalesce(counts.c.open_findings, 0).label("open_findings"),
            sa.func.coalesce(counts.c.affected_assets, 0).label("affected_assets"),
        )
        .select_from(weaknesses.outerjoin(counts, counts.c.qid == weaknesses.c.qid))
        .where(weaknesses.c.connector == connector, weaknesses.c.known.is_(True))
        .order_by(weaknesses.c.qid)
    )
    if where.since:
        query = query.where(weaknesses.c.last_modified >= where.since)
    yield from _stream(conn, query)


def _stream(conn: Connection, query: sa.Select[Any]) -> Iterator[dict[str, Any]]:
    with reading("export query failed"):
        result = conn.execution_options(stream_results=True, yield_per=STREAM_BATCH).execute(query)
        for row in result:
            yield dict(row._mapping)


def asset_overview(conn: Connection, connector: str) -> dict[str, tuple[str | None, str]]:
    """Every asset of the connector: key -> (name, state)."""
    query = sa.select(assets.c.key, assets.c.name, assets.c.state).where(
        assets.c.connector == connector
    )
    with reading("reading assets failed"):
        return {row.key: (row.name, row.state) for row in conn.execute(query)}


def active_finding_counts(
    conn: Connection,
    connector: str,
    *,
    types: Collection[str] | None = None,
    qualys_statuses: Collection[str] | None = None,
    active_assets_only: bool = False,
) -> dict[str, int]:
    """Active findings per asset key, optionally only of these types and Qualys statuses, and
    only on active assets (findings of archived assets are left out of counts)."""
    query = (
        sa.select(findings.c.asset_key, sa.func.count())
        .where(findings.c.connector == connector, findings.c.status == "Active")
        .group_by(findings.c.asset_key)
    )
    if active_assets_only:
        query = query.join(
            assets,
            FINDING_ASSET,
        ).where(assets.c.state == "active")
    if types is not None:
        query = query.where(findings.c.type.in_(list(types)))
    if qualys_statuses is not None:
        query = query.where(findings.c.qualys_status.in_(list(qualys_statuses)))
    with reading("counting findings failed"):
        return {str(row[0]): int(row[1]) for row in conn.execute(query)}
