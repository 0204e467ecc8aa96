"""Read-side queries for exports (and the console's downloads): streamed rows of assets, findings
and weaknesses with filters. `finding_conditions` is the one definition of what a findings filter
keeps; the console's paged list (store/console.py) uses it too."""

from __future__ import annotations

from collections.abc import Collection, Generator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from connector.store.failures import reading
from connector.store.planhints import usually_true
from connector.store.schema import FINDING_ASSET, assets, finding_events, findings, weaknesses
from connector.store.search import text_condition

STREAM_BATCH = 1000
Rows = Generator[dict[str, Any], None, None]  # a stream of rows; close() ends it early


@dataclass(frozen=True)
class ExportFilter:
    """What an export keeps. Findings of archived assets are left out unless include_archived."""

    statuses: Collection[str] = ()
    severities: Collection[str] = ()
    asset: str | None = None  # an asset key, or its name in any letter case
    since: datetime | None = None  # last seen (findings) / last observed (assets) at or after
    include_archived: bool = False
    # findings only (the console's filters, also for its downloads):
    qids: Collection[int] = ()
    types: Collection[str] = ()
    sources: Collection[str] = ()
    run_id: int | None = None  # findings this run (a sync or an import) created or re-statused
    text: str | None = None  # case-insensitive text in the finding's name or URL


def iter_assets(conn: Connection, connector: str, where: ExportFilter) -> Rows:
    query = sa.select(assets).where(assets.c.connector == connector).order_by(assets.c.key)
    if not where.include_archived:
        query = query.where(assets.c.state == "active")
    if where.asset:
        query = query.where(_is_asset(where.asset))
    if where.since:
        query = query.where(assets.c.last_observed >= where.since)
    yield from _stream(conn, query)


def iter_findings(conn: Connection, connector: str, where: ExportFilter) -> Rows:
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
            assets.c.url.label("asset_url"),
            weaknesses.c.description,
            weaknesses.c.impact,
            weaknesses.c.solution,
            weaknesses.c.published_date,
            weaknesses.c.cves.label("kb_cves"),
            weaknesses.c.cvss_v3_base.label("kb_cvss_v3_base"),
            weaknesses.c.cvss_v3_vector.label("kb_cvss_v3_vector"),
        )
        .select_from(joined)
        .where(findings.c.connector == connector)
        .order_by(findings.c.key)
    )
    yield from _stream(conn, query.where(*finding_conditions(connector, where)))


def finding_conditions(
    connector: str, where: ExportFilter, *, text_index: bool = True
) -> list[sa.ColumnElement[bool]]:
    """The WHERE terms of a findings filter, for a query that joins findings to their assets
    (`text_index`: narrow the text filter through its index, see store/search.py)."""
    terms: list[sa.ColumnElement[bool]] = []
    if not where.include_archived:
        terms.append(assets.c.state == "active")
    if where.statuses:
        terms.append(findings.c.status.in_(list(where.statuses)))
    if where.severities:
        terms.append(findings.c.severity.in_(list(where.severities)))
    if where.asset:
        # As the asset keys it names, so the (connector, asset_key, ...) index can serve it.
        named = sa.select(assets.c.key).where(
            assets.c.connector == connector, _is_asset(where.asset)
        )
        terms.append(findings.c.asset_key.in_(named))
    if where.since:
        terms.append(usually_true(findings.c.last_seen >= where.since))
    if where.qids:
        terms.append(findings.c.qid.in_(list(where.qids)))
    if where.types:
        terms.append(findings.c.type.in_(list(where.types)))
    if where.sources:
        terms.append(findings.c.source.in_(list(where.sources)))
    if where.run_id is not None:
        changed = sa.select(finding_events.c.finding_key).where(
            finding_events.c.connector == connector, finding_events.c.run_id == where.run_id
        )
        terms.append(findings.c.key.in_(changed))
    if where.text:
        terms.append(text_condition(where.text.strip(), use_index=text_index))
    return terms


def iter_weaknesses(conn: Connection, connector: str, where: ExportFilter) -> Rows:
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


def _is_asset(asset: str) -> sa.ColumnElement[bool]:
    """The asset named by its key, or by its name in any letter case."""
    return sa.or_(assets.c.key == asset, sa.func.lower(assets.c.name) == asset.lower())


def _stream(conn: Connection, query: sa.Select[Any]) -> Rows:
    with reading("export query failed"):
        result = conn.execution_options(stream_results=True, yield_per=STREAM_BATCH).execute(query)
        try:
            for row in result:
                yield dict(row._mapping)
        finally:  # also when the reader stops early: PostgreSQL's server-side cursor is closed
            result.close()


class StoredAsset(NamedTuple):
    name: str | None
    state: str  # AssetState
    source: str  # "api" or "import:<mapping>"


def asset_overview(conn: Connection, connector: str) -> dict[str, StoredAsset]:
    """Every asset of the connector by key: its name, state and source."""
    query = sa.select(assets.c.key, assets.c.name, assets.c.state, assets.c.source).where(
        assets.c.connector == connector
    )
    with reading("reading assets failed"):
        return {
            row.key: StoredAsset(row.name, row.state, row.source) for row in conn.execute(query)
        }


def active_finding_counts(
    conn: Connection,
    connector: str,
    *,
    types: Collection[str] | None = None,
    qualys_statuses: Collection[str] | None = None,
    active_assets_only: bool = False,
    source: str | None = None,
) -> dict[str, int]:
    """Active findings per asset key, optionally only of these types and Qualys statuses, only
    on active assets (findings of archived assets are left out of counts), only from `source`."""
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
    if source is not None:
        query = query.where(findings.c.source == source)
    with reading("counting findings failed"):
        return {str(row[0]): int(row[1]) for row in conn.execute(query)}
