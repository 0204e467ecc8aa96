"""Phase 2: the finding listing, in one or more keyset streams, proven complete before anything
may be closed.

Streams cover adjacent id ranges (`id GREATER a`, `id LESSER b`), split at the median of the ids
known from the last sync, so every web app is covered, listed or not. A stream that runs dry takes
the upper half of the busiest stream's remaining range, so both stay busy to the end. Pages are
fetched in threads (`prefetch`) and handled, in arrival order, by the caller's page handler in
this thread.

The proof of completeness, after the streams end: nothing lies beyond the highest id received
(else the listing carries on from there, a few times at most: findings created meanwhile), and
Qualys counts no more findings up to that id than were received. Paging is bounded by the count
taken at the start (pages <= count / page size + a small slack) and by `max_listing_minutes`.
Whatever fails the proof raises ListingIncompleteError("Qualys listed X of Y findings ...").
"""

from __future__ import annotations

import itertools
import logging
import math
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

from connector.errors import ListingIncompleteError
from connector.qualys.pages import Page, RawPage, decode_page
from connector.qualys.paging import KeysetPager
from connector.qualys.requests import Criterion
from connector.sync.prefetch import prefetch
from connector.sync.seen import SeenKeys
from connector.sync.state import RunState

log = logging.getLogger(__name__)

TAIL_ROUNDS = 3  # listings resumed past the highest id before new findings count as a fault
SLACK_PAGES = 10  # pages allowed beyond what the count implies (ranges split mid-page, retries)
NOTHING_CLOSED = "nothing was closed"

PageHandler = Callable[[Page], Iterable[int]]  # handles one page; returns the ids it held


@dataclass(frozen=True)
class ListingResult:
    seen: SeenKeys  # every id the listing returned
    counted: int  # what Qualys counted at the start


class PageBudget:
    """Pages a listing may still request: unbounded until the count arrives, then bounded by it."""

    def __init__(self, page_size: int) -> None:
        self._page_size = page_size
        self._lock = threading.Lock()
        self._spent = 0
        self._limit: int | None = None
        self._ranges = 1

    def bound_by(self, counted: int, ranges: int) -> None:
        with self._lock:
            self._ranges = max(self._ranges, ranges)
            self._limit = math.ceil(counted / self._page_size) + 2 * self._ranges + SLACK_PAGES

    def add_range(self) -> None:
        """A range split off: one more partial page may follow."""
        with self._lock:
            self._ranges += 1
            if self._limit is not None:
                self._limit += 2

    def spend(self) -> None:
        with self._lock:
            if self._limit is not None and self._spent >= self._limit:
                raise _BudgetSpentError(self._spent)
            self._spent += 1


class _BudgetSpentError(Exception):
    def __init__(self, pages: int) -> None:
        super().__init__(pages)
        self.pages = pages


class _Streams:
    """The pagers of one listing, one per stream, covering the whole id space between them."""

    def __init__(
        self,
        base: Sequence[Criterion],
        known: SeenKeys,
        streams: int,
        page_size: int,
        budget: PageBudget,
        counted: int = 0,
    ) -> None:
        self._base = list(base)
        self._known = known
        self._page_size = page_size
        self._budget = budget
        self._counted = counted
        self._lock = threading.Lock()
        points = _split_points(known, streams)
        bounds: list[int | None] = [None, *points, None]
        self.pagers = [
            KeysetPager(base, what="findings", after=None if lo is None else lo - 1, upper=hi)
            for lo, hi in itertools.pairwise(bounds)
        ]
        # No ids known to split at (a first sync): stream 0 starts alone, and the ids of its
        # first page tell where the others start (`learn`); until then they wait.
        self._estimating: threading.Event | None = None
        if streams > 1 and len(self.pagers) == 1:
            self._estimating = threading.Event()
            for _ in range(streams - 1):
                idle = KeysetPager(base, what="findings")
                idle.done = True
                self.pagers.append(idle)

    def next_criteria(self, stream: int) -> list[Criterion] | None:
        """The next page's criteria for `stream`, or None when it (and every range it could
        take over) is done."""
        if stream and self._estimating is not None:
            self._estimating.wait()
        with self._lock:
            if self.pagers[stream].done and not self._take_over(stream):
                return None
            return self.pagers[stream].criteria()

    def advance(self, stream: int, raw: RawPage) -> None:
        with self._lock:
            self.pagers[stream].advance(has_more=raw.has_more, last_id=raw.last_id)

    def learn(self, ids: Sequence[int]) -> None:
        """The ids of the first page, when no ids were known: split the rest of the id space
        evenly by the density they show (ids as dense further on as on the first page)."""
        if self._estimating is None or self._estimating.is_set():
            return
        with self._lock:
            first = self.pagers[0]
            low, high = (min(ids), max(ids)) if ids else (0, 0)
            if not first.done and len(ids) > 1 and high > low:
                density = (len(ids) - 1) / (high - low)
                start = max(high, first.last_id or 0)
                span = max(self._counted - len(ids), 0) / density
                streams = len(self.pagers)
                points = [int(start + span * i / streams) for i in range(1, streams)]
                if span > 2 * self._page_size / density and points[0] > start + 1:
                    first.narrow(points[0])
                    uppers: list[int | None] = [*points[1:], None]
                    for i, (lo, hi) in enumerate(zip(points, uppers, strict=True), start=1):
                        self.pagers[i] = KeysetPager(
                            self._base, what="findings", after=lo - 1, upper=hi
                        )
                        self._budget.add_range()
                    log.debug("splitting a first listing at ids %s", points)
        self._estimating.set()

    def finished(self, stream: int) -> None:
        """A stream's producer ended: streams waiting for a split need not wait any longer."""
        if stream == 0 and self._estimating is not None:
            self._estimating.set()

    def _take_over(self, stream: int) -> bool:
        """Give `stream` the upper half of the range with the most known ids left, if worth it."""
        best, left = None, 2 * self._page_size
        for other, pager in enumerate(self.pagers):
            if other == stream or pager.done:
                continue
            remaining = self._known.count_between(pager.last_id, pager.upper)
            if remaining > left:
                best, left = other, remaining
        if best is None:
            return False
        victim = self.pagers[best]
        middle = self._known.median_between(victim.last_id, victim.upper)
        if middle is None:
            return False
        upper = victim.upper
        victim.narrow(middle)
        self.pagers[stream] = KeysetPager(
            self._base, what="findings", after=middle - 1, upper=upper
        )
        self._budget.add_range()
        log.debug("stream %d takes over ids from %d (%d known ids left)", stream, middle, left)
        return True


def _split_points(known: SeenKeys, streams: int) -> list[int]:
    """Ids at the quantiles of the known ids: stream i lists [point i-1, point i)."""
    ids = known.ids()
    if streams < 2 or len(ids) < streams:
        return []
    points = sorted({ids[len(ids) * i // streams] for i in range(1, streams)})
    return [p for p in points if p > ids[0]]


class FindingListing:
    """One listing of the findings matching `base` (the type filter), verbose or brief."""

    def __init__(
        self,
        run: RunState,
        base: Sequence[Criterion],
        *,
        verbose: bool,
        known: SeenKeys,
        streams: int,
    ) -> None:
        self.run = run
        self.base = list(base)
        self.verbose = verbose
        self.known = known
        self.streams = max(1, streams)
        self.page_size = run.config.qualys.page_size
        self.budget = PageBudget(self.page_size)

    def run_through(self, handle: PageHandler, *, counted: int | None = None) -> ListingResult:
        """List everything, hand each page to `handle`, prove the listing complete.

        `counted`: what Qualys counts for `base` now, when the caller already asked."""
        if counted is None:
            counted = self.run.client.count_findings(self.base)
        seen = SeenKeys()
        streams = _Streams(
            self.base, self.known, self.streams, self.page_size, self.budget, counted
        )
        self.budget.bound_by(counted, len(streams.pagers))
        self.run.progress.start("findings", counted)
        producers = [partial(self._pages, streams, i) for i in range(len(streams.pagers))]
        try:
            for raw in prefetch(producers, depth=2 * len(producers), abort=self.run.stop):
                self.run.check_stop()
                ids = list(handle(decode_page(raw)))
                seen.add_ids(ids)
                streams.learn(ids)
        except _BudgetSpentError as exc:
            why = f"Qualys sent {exc.pages} pages, more than its count allows"
            raise self._incomplete(seen, counted, why) from None
        except _DeadlineError:
            why = f"the listing took longer than {self.run.config.sync.max_listing_minutes} minutes"
            raise self._incomplete(seen, counted, why) from None
        self._prove_complete(seen, counted, handle)
        return ListingResult(seen=seen, counted=counted)

    # --- fetching ------------------------------------------------------------------------------
    def _pages(self, streams: _Streams, stream: int) -> Iterator[RawPage]:
        try:
            while True:
                criteria = streams.next_criteria(stream)
                if criteria is None:
                    return
                raw = self._request(criteria)
                streams.advance(stream, raw)
                yield raw
        finally:
            streams.finished(stream)

    def _request(self, criteria: list[Criterion]) -> RawPage:
        self.budget.spend()
        if self.run.past_deadline():
            raise _DeadlineError
        return self.run.client.search_page(
            "finding", criteria, verbose=self.verbose, page_size=self.page_size
        )

    # --- the proof -----------------------------------------------------------------------------
    def _prove_complete(self, seen: SeenKeys, counted: int, handle: PageHandler) -> None:
        for round_ in range(TAIL_ROUNDS + 1):
            highest = seen.max()
            beyond, up_to = self._count_around(highest)
            if beyond == 0:
                break
            if round_ == TAIL_ROUNDS:
                raise self._incomplete(seen, counted, "new findings kept appearing past the end")
            log.info("Qualys counts %d findings past id %s: listing on from there", beyond, highest)
            tail = KeysetPager(self.base, what="findings", after=highest)
            try:
                while not tail.done:
                    self.run.check_stop()
                    raw = self._request(tail.criteria())
                    tail.advance(has_more=raw.has_more, last_id=raw.last_id)
                    seen.add_ids(handle(decode_page(raw)))
            except (_BudgetSpentError, _DeadlineError):
                raise self._incomplete(seen, counted, "the listing did not end") from None
            if seen.max() == highest:
                raise self._incomplete(
                    seen,
                    counted + beyond,
                    f"the listing ends at id {highest} but Qualys counts {beyond} findings "
                    "after it",
                )
        if up_to > len(seen):
            raise self._incomplete(seen, max(counted, up_to), "pages were missing")

    def _count_around(self, highest: int | None) -> tuple[int, int]:
        """(findings after `highest`, findings up to it), counted by Qualys at the same time."""
        count = self.run.client.count_findings
        if highest is None:
            return count(self.base), 0
        with ThreadPoolExecutor(1, thread_name_prefix="count") as pool:
            beyond = pool.submit(count, [*self.base, Criterion("id", "GREATER", highest)])
            up_to = count([*self.base, Criterion("id", "LESSER", highest + 1)])
            return beyond.result(), up_to

    def _incomplete(self, seen: SeenKeys, expected: int, why: str) -> ListingIncompleteError:
        return ListingIncompleteError(
            f"the finding listing is incomplete ({why}): Qualys listed {len(seen):,} of "
            f"{max(expected, len(seen)):,} findings; {NOTHING_CLOSED}"
        )


class _DeadlineError(Exception):
    pass
