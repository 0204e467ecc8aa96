"""Phase 5, after a listing proven complete: absent findings Fixed, assets' last observation
raised, retention applied, and the run recorded as succeeded, all in one transaction."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from types import MappingProxyType

from sqlalchemy import Connection

from connector.models import API_ABSENT_REASON, FindingStatus
from connector.store import assets as store_assets
from connector.store import finding_reads
from connector.store import findings as store_findings
from connector.sync.listing import ListingResult
from connector.sync.state import RunState
from connector.sync.tally import SyncCounts

log = logging.getLogger(__name__)

ABSENT_REASON = API_ABSENT_REASON  # one constant: the store recognises the sync's closes by it


def close(
    run: RunState,
    listing: ListingResult,
    latest_test: Mapping[str, datetime],
    record_success: Callable[[Connection, SyncCounts], None],
    counted_so_far: SyncCounts,
) -> SyncCounts:
    """Close what the complete listing no longer shows; `record_success` writes the run's end
    (with the final counts) in the same transaction. Returns this phase's counts."""
    now = run.clock()
    cutoff = now - timedelta(days=run.config.sync.asset_retention_days)
    with run.transaction() as conn:
        fixed = store_findings.mark_absent_fixed(
            conn,
            run.connector,
            listing.seen,
            run_id=run.run_id,
            now=now,
            reason=ABSENT_REASON,
            source="api",
            types=run.config.sync.finding_types,
        )
        store_assets.raise_last_observed(conn, run.connector, latest_test)
        archived, reactivated = store_assets.apply_retention(
            conn, run.connector, cutoff=cutoff, now=now
        )
        active: Counter[str] = Counter()
        for (status, severity), number in finding_reads.count_findings(conn, run.connector).items():
            if status == FindingStatus.ACTIVE.value:
                active[severity] += number
        counts = SyncCounts(
            findings_fixed_absent=len(fixed),
            assets_archived=len(archived),
            assets_archived_imported=store_assets.count_imported(conn, run.connector, archived),
            assets_reactivated=len(reactivated),
            active_by_severity=MappingProxyType(dict(active)),
        )
        record_success(conn, counted_so_far + counts)
    if counts.assets_archived:
        log.info(
            "archived %d assets, %d of them imported, not seen for %d days",
            counts.assets_archived,
            counts.assets_archived_imported,
            run.config.sync.asset_retention_days,
        )
    return counts
