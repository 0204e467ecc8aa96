"""Phase 1: every web application Qualys lists, upserted as an asset page by page."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from connector.mapping import map_webapp, split_rejected
from connector.store import assets as store_assets
from connector.sync.state import RunState
from connector.sync.tally import SyncCounts, skipped, total


def sync_webapps(
    run: RunState, on_page: Callable[[], None] = lambda: None
) -> tuple[set[str], SyncCounts]:
    """(the keys of the listed web apps, the phase's counts); `on_page` after each page stored."""
    run.progress.start("web apps", None)
    known: set[str] = set()
    parts: list[SyncCounts] = []
    for page in run.client.iter_webapp_pages(verbose=True):
        run.check_stop()
        assets, rejected = split_rejected(map_webapp(raw) for raw in page.records)
        with run.transaction() as conn:
            result = store_assets.upsert_assets(conn, run.connector, assets, now=run.clock())
        known.update(a.key for a in assets)
        parts.append(
            SyncCounts(
                pages=1,
                assets_fetched=len(assets),
                assets_created=len(result.created),
                assets_updated=len(result.updated),
                assets_unchanged=result.unchanged,
            )
        )
        parts.append(skipped(rejected))
        run.progress.advance("web apps", len(page.records))
        on_page()
    return known, total(parts)


class WebAppsBeside:
    """The web-app listing in a thread beside the finding listing.

    `ready()` returns once its first page is stored, or raises its error: finding pages are
    written only after that, so a web-app answer that fails at once leaves nothing written,
    while the first finding page is fetched meanwhile."""

    def __init__(self, run: RunState) -> None:
        self._first = threading.Event()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="webapps")
        self._future = self._pool.submit(self._list, run)

    def _list(self, run: RunState) -> tuple[set[str], SyncCounts]:
        try:
            return sync_webapps(run, on_page=self._first.set)
        finally:
            self._first.set()

    def ready(self) -> None:
        self._first.wait()
        if self._future.done():
            self._future.result()  # its error, if it failed

    def result(self) -> tuple[set[str], SyncCounts]:
        return self._future.result()

    def __enter__(self) -> WebAppsBeside:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True)
