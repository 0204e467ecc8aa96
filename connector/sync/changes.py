"""Incremental sync: a brief listing page compared with the store.

A listed finding is new (not stored by the API sync), changed (its listing digest differs: status,
ignored flag, severity, name, URL, ...) or current. Only new and changed ones need their details
read. A current finding whose retest dates moved has its last seen updated here, exactly as its
details would have updated it (a retest changes nothing else the connector stores).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime

from connector.mapping import map_listed_finding, split_rejected
from connector.qualys.pages import Page
from connector.store import finding_reads
from connector.store import findings as store_findings
from connector.sync.details import SYNC_REASON, latest
from connector.sync.state import RunState
from connector.sync.tally import SyncCounts, skipped


class ListingDiff:
    """Compares brief listing pages with the store; collects the ids whose details are needed."""

    def __init__(
        self,
        run: RunState,
        latest_test: dict[str, datetime],
        sink: Callable[[SyncCounts], None],
        kb_want: Callable[[set[int]], None],
    ) -> None:
        self.run = run
        self.latest_test = latest_test
        self.sink = sink
        self.kb_want = kb_want
        self.wanted: list[int] = []  # new or changed: details to read

    def compare(self, page: Page) -> list[int]:
        """Handle one brief page; returns the ids it held."""
        listed, rejected = split_rejected(map_listed_finding(r) for r in page.records)
        with self.run.transaction() as conn:
            stored = finding_reads.listing_state(conn, self.run.connector, [f.key for f in listed])
        retested: dict[str, datetime | None] = {}
        current = 0
        self.kb_want({f.qid for f in listed if f.qid is not None})
        for finding in listed:
            latest(self.latest_test, finding.asset_key, finding.last_seen)
            digest, last_seen = stored.get(finding.key, (None, None))
            if digest != finding.listing_digest:
                self.wanted.append(int(finding.key))
            elif last_seen != finding.last_seen:
                retested[finding.key] = finding.last_seen
            else:
                current += 1
        counts = SyncCounts(pages=1, findings_unchanged=current) + skipped(rejected)
        if retested:
            counts += self._update_last_seen(retested)
        self.sink(counts)
        self.run.progress.advance("findings", len(page.records))
        return [int(f.key) for f in listed] + [int(r.ref) for r in rejected if r.ref.isdigit()]

    def _update_last_seen(self, retested: dict[str, datetime | None]) -> SyncCounts:
        now = self.run.clock()
        with self.run.transaction() as conn:
            stored = finding_reads.load_findings_by_keys(conn, self.run.connector, list(retested))
            moved = [dataclasses.replace(f, last_seen=retested[f.key]) for f in stored]
            result = store_findings.upsert_findings(
                conn, self.run.connector, moved, run_id=self.run.run_id, now=now, reason=SYNC_REASON
            )
        return SyncCounts(findings_retested=len(moved), findings_updated=len(result.updated))
