"""One page of findings from raw XML to mapped records, in this process or in worker processes.

Decoding a verbose page of 1000 findings costs ~150 ms of CPU and mapping it ~20 ms; in one
interpreter that work shares the GIL with everything else the sync does. `PageMapper` hands each
raw page to a small process pool (the function below is all a worker imports: decode and the
pure mapping, no store, no HTTP client) and gives the results back in submission order, or maps
in this thread when there is no pool. Workers return compact frozen dataclasses, not dicts.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections import deque
from collections.abc import Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

from connector.mapping import asset_from_finding, map_finding
from connector.models import Asset, Finding, Rejected, Severity
from connector.qualys.client import RawPage, decode_page

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MappedPage:
    """A page of findings mapped: what the sync stores and counts."""

    records: int  # records on the page, rejected ones included
    findings: list[Finding] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    # per asset key on the page: the asset as its last finding names it (for unknown web apps)
    assets: dict[str, Asset] = field(default_factory=dict)


def map_page(
    raw: RawPage, kb_cvss: Mapping[int, float | None], fallback: Mapping[int, Severity]
) -> MappedPage:
    """Decode one page and map its findings (pure apart from the decode; runs in workers)."""
    page = decode_page(raw)
    mapped = MappedPage(records=len(page.records))
    last_raw: dict[str, dict[str, object]] = {}
    for record in page.records:
        result = map_finding(record, kb_cvss=kb_cvss, severity_fallback=fallback)
        if isinstance(result, Rejected):
            mapped.rejected.append(result)
            continue
        mapped.findings.append(result)
        last_raw[result.asset_key] = record
    for key, record in last_raw.items():
        asset = asset_from_finding(record)
        if asset is not None:
            mapped.assets[key] = asset
    return mapped


class PageMapper:
    """Maps raw pages with up to `workers` processes (0: in the calling thread), in order.

    submit() queues a page; ready() yields the mapped pages that are done, oldest first, and
    blocks only while more than `workers` pages are in flight; drain() waits for the rest.
    A worker's exception comes back from ready()/drain() with its own type and message. When the
    pool cannot start or breaks (a worker killed), the remaining pages are mapped in this thread.
    """

    def __init__(
        self, workers: int, kb_cvss: Mapping[int, float | None], fallback: Mapping[int, Severity]
    ) -> None:
        self._kb_cvss = dict(kb_cvss)
        self._fallback = dict(fallback)
        self._pending: deque[tuple[RawPage, Future[MappedPage] | None]] = deque()
        self._workers = workers
        self._pool: ProcessPoolExecutor | None = None
        if workers > 0:
            try:
                self._pool = ProcessPoolExecutor(
                    max_workers=workers,
                    mp_context=multiprocessing.get_context("spawn"),
                )
            except (OSError, ImportError, NotImplementedError) as exc:
                log.warning("decoding pages in this process: no worker processes (%s)", exc)

    def __enter__(self) -> PageMapper:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._pending.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def submit(self, raw: RawPage) -> None:
        future = None
        if self._pool is not None:
            try:
                future = self._pool.submit(map_page, raw, self._kb_cvss, self._fallback)
            except (BrokenProcessPool, RuntimeError) as exc:
                self._lose_pool(exc)
        self._pending.append((raw, future))

    def ready(self) -> list[MappedPage]:
        """The pages done so far, in order; waits while too many are in flight."""
        out: list[MappedPage] = []
        while self._pending and (
            len(self._pending) > self._workers or self._done(self._pending[0][1])
        ):
            out.append(self._next())
        return out

    def drain(self) -> list[MappedPage]:
        out: list[MappedPage] = []
        while self._pending:
            out.append(self._next())
        return out

    @staticmethod
    def _done(future: Future[MappedPage] | None) -> bool:
        return future is None or future.done()

    def _next(self) -> MappedPage:
        raw, future = self._pending.popleft()
        if future is not None:
            try:
                return future.result()
            except BrokenProcessPool as exc:
                self._lose_pool(exc)
        return map_page(raw, self._kb_cvss, self._fallback)

    def _lose_pool(self, exc: BaseException) -> None:
        log.warning("a page worker process failed (%s): decoding in this process instead", exc)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        self._workers = 0
        self._pending = deque((raw, None) for raw, _ in self._pending)
