"""Phase 3: finding details (verbose records) mapped and written, and, for an incremental sync,
the details of the findings a brief listing showed as new or changed, fetched by id.

Each page is written in its own transaction, with the assets of web apps the web-app listing did
not show (a finding names its web app) written first.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from connector.errors import ListingIncompleteError
from connector.mapping import asset_from_finding, map_finding
from connector.models import Asset, Finding, FindingStatus, Rejected
from connector.qualys.pages import Page, decode_page
from connector.qualys.paging import KeysetPager
from connector.qualys.requests import Criterion
from connector.store import assets as store_assets
from connector.store import findings as store_findings
from connector.store.rows import UpsertResult
from connector.sync.listing import NOTHING_CLOSED, SLACK_PAGES
from connector.sync.prefetch import prefetch
from connector.sync.state import RunState
from connector.sync.tally import SyncCounts, skipped

log = logging.getLogger(__name__)

SYNC_REASON = "sync"


def latest(into: dict[str, datetime], key: str | None, when: datetime | None) -> None:
    """Keep, per asset key, the latest of the times given."""
    if key is not None and when is not None:
        current = into.get(key)
        if current is None or when > current:
            into[key] = when


def status_counts(result: UpsertResult) -> SyncCounts:
    """Created, updated and unchanged findings, and the status changes Qualys made."""
    fixed = reopened = 0
    for _key, before, after in result.status_changes:
        if before is None:
            continue
        if after == FindingStatus.FIXED.value:
            fixed += 1
        elif before == FindingStatus.FIXED.value:
            reopened += 1
    return SyncCounts(
        findings_created=len(result.created),
        findings_updated=len(result.updated),
        findings_unchanged=result.unchanged,
        findings_fixed_by_qualys=fixed,
        findings_reopened=reopened,
    )


class FindingWriter:
    """Maps verbose finding records and writes them, one transaction per page."""

    def __init__(
        self,
        run: RunState,
        known_assets: set[str],
        latest_test: dict[str, datetime],
        sink: Callable[[SyncCounts], None],
        kb_ready: Callable[[set[int]], None],
    ) -> None:
        """`latest_test` collects each asset's latest finding test; `kb_ready(qids)` returns once
        the KB entries of a page's QIDs are known (or not soon to be)."""
        self.run = run
        self.kb_ready = kb_ready
        self.known_assets = known_assets
        self.latest_test = latest_test
        self.sink = sink
        self.fallback = run.config.sync.severity_fallback

    def write(self, page: Page) -> list[int]:
        """Write one page; returns the ids it held (rejected records with an id included)."""
        texts = {r.get("qid") for r in page.records}  # a few hundred distinct QIDs at most
        self.kb_ready({int(t) for t in texts if isinstance(t, str) and t.isdigit()})
        findings: list[Finding] = []
        rejected: list[Rejected] = []
        ids: list[int] = []
        new_assets: dict[str, Asset] = {}
        for record in page.records:
            mapped = map_finding(record, kb_cvss=self.run.kb_cvss, severity_fallback=self.fallback)
            if isinstance(mapped, Rejected):
                rejected.append(mapped)
                if mapped.ref.isdigit():  # a known id: still listed, so never "absent"
                    ids.append(int(mapped.ref))
                continue
            findings.append(mapped)
            ids.append(int(mapped.key))
            if mapped.asset_key not in self.known_assets:
                asset = asset_from_finding(record)
                if asset is not None:
                    new_assets[asset.key] = asset
        now = self.run.clock()
        with self.run.transaction() as conn:
            if new_assets:
                store_assets.insert_missing(
                    conn, self.run.connector, list(new_assets.values()), now=now
                )
            result = store_findings.upsert_findings(
                conn,
                self.run.connector,
                findings,
                run_id=self.run.run_id,
                now=now,
                reason=SYNC_REASON,
            )
        self.known_assets.update(new_assets)
        for finding in findings:
            latest(self.latest_test, finding.asset_key, finding.last_seen)
        self.sink(
            status_counts(result)
            + skipped(rejected)
            + SyncCounts(pages=1, findings_fetched=len(findings))
        )
        self.run.progress.advance("findings", len(page.records))
        return ids


def fetch_details(
    run: RunState,
    base: Sequence[Criterion],
    wanted: Sequence[int],
    write: Callable[[Page], list[int]],
    *,
    streams: int,
) -> None:
    """The details of the `wanted` finding ids, in `id IN` batches of a page each spread over
    `streams`, each page written as it arrives. Raises ListingIncompleteError when Qualys keeps
    back details of findings it still counts."""
    size = run.config.qualys.page_size
    batches: queue.SimpleQueue[tuple[int, ...]] = queue.SimpleQueue()
    for start in range(0, len(wanted), size):
        batches.put(tuple(wanted[start : start + size]))
    allowed = [len(wanted) // size + SLACK_PAGES + len(wanted) // (10 * size)]
    run.progress.start("details", len(wanted))
    producers = [partial(_batch_pages, run, base, batches, allowed) for _ in range(streams)]
    received: set[int] = set()
    for raw in prefetch(producers, depth=2 * streams, abort=run.stop):
        run.check_stop()
        received.update(write(decode_page(raw)))
        run.progress.advance("details", len(received))
    missing = sorted(set(wanted) - received)
    if missing:
        _check_gone(run, base, missing, len(wanted))


def _batch_pages(
    run: RunState,
    base: Sequence[Criterion],
    batches: queue.SimpleQueue[tuple[int, ...]],
    allowed: list[int],
) -> Iterator[Any]:
    while True:
        try:
            batch = batches.get_nowait()
        except queue.Empty:
            return
        pager = KeysetPager([*base, Criterion("id", "IN", batch)], what="finding details")
        while not pager.done:
            allowed[0] -= 1  # one counter shared by the streams; an exact count is not needed
            if allowed[0] < 0 or run.past_deadline():
                raise ListingIncompleteError(
                    f"Qualys kept sending pages of finding details (more than {len(batch)} "
                    f"findings need); {NOTHING_CLOSED}"
                )
            raw = run.client.search_page(
                "finding", pager.criteria(), verbose=True, page_size=run.config.qualys.page_size
            )
            pager.advance(has_more=raw.has_more, last_id=raw.last_id)
            yield raw


def _check_gone(run: RunState, base: Sequence[Criterion], missing: list[int], wanted: int) -> None:
    """Findings whose details did not come back must have gone since the listing."""
    size = run.config.qualys.page_size
    still = 0
    for start in range(0, len(missing), size):
        batch = tuple(missing[start : start + size])
        still += run.client.count_findings([*base, Criterion("id", "IN", batch)])
    if still:
        raise ListingIncompleteError(
            f"the finding details are incomplete: Qualys sent details of {wanted - still:,} of "
            f"{wanted:,} changed findings; {NOTHING_CLOSED}"
        )
    log.info("%d listed findings were gone before their details were read", len(missing))
