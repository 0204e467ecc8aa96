"""Reads of the findings table that the sync, the import and the console need: findings by QID
or by key, (status, severity) counts, and what the incremental sync compares a listing with.

Functions run inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from connector.models import SOURCE_API, SOURCE_API_AND_IMPORT, AssetState, Finding
from connector.store.failures import reading
from connector.store.rows import model_from_row
from connector.store.schema import FINDING_ASSET, assets, findings
from connector.store.upsert import chunks


def _finding_from_row(row: sa.RowMapping) -> Finding:
    return model_from_row(Finding, row)


def load_findings(
    conn: Connection,
    connector: str,
    *,
    qids: Collection[int],
    severity_source: str,
    after_key: str | None = None,
    limit: int | None = None,
) -> list[Finding]:
    """The stored findings of these QIDs whose severity came from `severity_source`, by key.

    With `limit`, one page of at most that many findings with keys after `after_key` (keyset
    paging, so a caller can walk a large set in bounded memory); then at most 900 QIDs."""
    wanted = sorted(qids)
    if limit is not None and len(wanted) > 900:
        raise ValueError("load_findings pages at most 900 QIDs at a time")
    out: list[Finding] = []
    with reading("loading findings"):
        for chunk in chunks(wanted):
            query = (
                sa.select(findings)
                .where(
                    findings.c.connector == connector,
                    findings.c.severity_source == severity_source,
                    findings.c.qid.in_(chunk),
                )
                .order_by(findings.c.key)
            )
            if after_key is not None:
                query = query.where(findings.c.key > after_key)
            if limit is not None:
                query = query.limit(limit)
            out.extend(_finding_from_row(row) for row in conn.execute(query).mappings())
    return out


def count_findings(
    conn: Connection, connector: str, *, include_archived: bool = False
) -> dict[tuple[str, str], int]:
    """(status, severity) -> number of findings; findings of archived assets left out by default."""
    query = sa.select(findings.c.status, findings.c.severity, sa.func.count()).where(
        findings.c.connector == connector
    )
    if not include_archived:
        query = query.join(
            assets,
            FINDING_ASSET,
        ).where(assets.c.state == AssetState.ACTIVE.value)
    query = query.group_by(findings.c.status, findings.c.severity)
    with reading("counting findings"):
        return {(row[0], row[1]): row[2] for row in conn.execute(query)}


def load_findings_by_keys(conn: Connection, connector: str, keys: Collection[str]) -> list[Finding]:
    """The stored findings with these keys (those that exist)."""
    out: list[Finding] = []
    with reading(f"loading {len(keys)} findings"):
        for chunk in chunks(sorted(keys)):
            query = sa.select(findings).where(
                findings.c.connector == connector, findings.c.key.in_(chunk)
            )
            out.extend(_finding_from_row(row) for row in conn.execute(query).mappings())
    return out


def listing_state(
    conn: Connection, connector: str, keys: Sequence[str]
) -> dict[str, tuple[str | None, datetime | None]]:
    """key -> (listing digest, last seen) of those of these findings; the digest only where the
    API sync wrote the row (an import's rows have none, so their details are read again)."""
    query_cols = (
        findings.c.key,
        findings.c.listing_digest,
        findings.c.last_seen,
        findings.c.source,
    )
    found: dict[str, tuple[str | None, datetime | None]] = {}
    with reading(f"reading {len(keys)} stored findings"):
        for chunk in chunks(keys):
            query = sa.select(*query_cols).where(
                findings.c.connector == connector, findings.c.key.in_(chunk)
            )
            for row in conn.execute(query):
                api = row.source in (SOURCE_API, SOURCE_API_AND_IMPORT)
                digest_ = row.listing_digest if api else None
                found[row.key] = (digest_, row.last_seen)
    return found


def listed_ids(conn: Connection, connector: str, *, absent_reason: str) -> list[int]:
    """The ids of the API findings Qualys listed last time (all but those closed as absent)."""
    query = sa.select(findings.c.key).where(
        findings.c.connector == connector,
        findings.c.source.in_([SOURCE_API, SOURCE_API_AND_IMPORT]),
        sa.or_(findings.c.fixed_reason.is_(None), findings.c.fixed_reason != absent_reason),
    )
    with reading("reading the finding ids of the last sync"):
        keys: Iterable[str] = conn.execute(query, execution_options={"yield_per": 10_000}).scalars()
        return [int(key) for key in keys if key.isdigit()]
