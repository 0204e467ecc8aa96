"""The finding phases of a full and of an incremental sync, wired from listing, changes, details
and the knowledge base. Both return the listing proven complete, which alone allows closing."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from connector.qualys.pages import Page
from connector.qualys.requests import Criterion
from connector.store import finding_reads
from connector.sync.changes import ListingDiff
from connector.sync.closing import ABSENT_REASON
from connector.sync.details import FindingWriter, fetch_details
from connector.sync.knowledge import KnowledgeBase
from connector.sync.listing import FindingListing, ListingResult, PageHandler
from connector.sync.seen import SeenKeys
from connector.sync.state import RunState
from connector.sync.tally import SyncCounts

log = logging.getLogger(__name__)

TRIAGE_MARGIN = timedelta(days=1)  # the ignoredDate window reaches this far before the last sync


@dataclass(frozen=True)
class FindingPhase:
    """What the finding phase works with: the run, the KB lookups, where counts go, the
    type filter and what Qualys counted for it, and a gate each written page passes first."""

    run: RunState
    kb: KnowledgeBase
    sink: Callable[[SyncCounts], None]
    types: list[Criterion]
    counted: int
    gate: Callable[[], None]

    def gated(self, handle: PageHandler) -> PageHandler:
        def handled(page: Page) -> list[int]:
            self.gate()
            return list(handle(page))

        return handled


def full_listing(
    phase: FindingPhase, known_assets: set[str], latest_test: dict[str, datetime]
) -> ListingResult:
    """Every finding's details, listed verbose."""
    run, streams = phase.run, phase.run.config.qualys.concurrency
    writer = FindingWriter(run, known_assets, latest_test, phase.sink, phase.kb.ready)
    known = known_ids(phase, streams)
    listing = FindingListing(run, phase.types, verbose=True, known=known, streams=streams)
    return listing.run_through(phase.gated(writer.write), counted=phase.counted)


def incremental_listing(
    phase: FindingPhase,
    known_assets: set[str],
    latest_test: dict[str, datetime],
    last_success: datetime | None,
) -> ListingResult:
    """A brief listing compared with the store; details of what is new or changed, and of what
    was triaged (ignored, or its reason changed) since the last sync."""
    run, streams = phase.run, phase.run.config.qualys.concurrency
    diff = ListingDiff(run, latest_test, phase.sink, phase.kb.want)
    listing = FindingListing(
        run, phase.types, verbose=False, known=known_ids(phase, streams), streams=streams
    )
    result = listing.run_through(phase.gated(diff.compare), counted=phase.counted)
    writer = FindingWriter(run, known_assets, latest_test, phase.sink, phase.kb.ready)
    triaged: set[int] = set()
    if last_success is not None:
        window = Criterion("ignoredDate", "GREATER", last_success - TRIAGE_MARGIN)
        triage = FindingListing(
            run, [*phase.types, window], verbose=True, known=SeenKeys(), streams=1
        )
        triaged = set(triage.run_through(writer.write).seen.ids())
    wanted = [i for i in diff.wanted if i not in triaged]
    fetch_details(run, phase.types, wanted, writer.write, streams=streams)
    return result


def known_ids(phase: FindingPhase, streams: int) -> SeenKeys:
    """Ids to split the listing at: those of the last sync (none needed for one stream; with
    none stored, the listing splits by what its first page shows)."""
    if streams < 2:
        return SeenKeys()
    with phase.run.transaction() as conn:
        ids = finding_reads.listed_ids(conn, phase.run.connector, absent_reason=ABSENT_REASON)
    return SeenKeys(ids)
