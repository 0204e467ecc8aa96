"""One sync, phase by phase: web apps, the finding listing (full or incremental), details, the
knowledge base, closing. Only a listing proven complete lets the closing phase run; any failure
records the run as failed or interrupted with the counts so far, and closes nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine

from connector.config import Config
from connector.errors import SyncInterruptedError
from connector.logsetup import log_context
from connector.models import RunKind, RunOutcome, SyncMode
from connector.qualys.client import QualysClient
from connector.qualys.requests import Criterion
from connector.recorder import RunRecorder
from connector.store import runs as store_runs
from connector.store import weaknesses as store_weaknesses
from connector.store.failures import writing
from connector.store.lock import sync_lock
from connector.sync.closing import close
from connector.sync.findings import FindingPhase, full_listing, incremental_listing
from connector.sync.knowledge import KnowledgeBase, rederive_severity
from connector.sync.mode import FINGERPRINT_STATE, ModeChoice, choose_mode, settings_fingerprint
from connector.sync.state import NoProgress, RunState, SyncProgress
from connector.sync.tally import SyncCounts, total
from connector.sync.webapps import WebAppsBeside

log = logging.getLogger(__name__)

Sink = Callable[[SyncCounts], None]


@dataclass(frozen=True)
class SyncReport:
    run_id: int
    outcome: RunOutcome
    mode: SyncMode
    mode_reason: str
    counts: SyncCounts
    api_calls: int
    retries: int
    started_at: datetime
    duration_seconds: float
    error: str | None = None


def utc_now() -> datetime:
    return datetime.now(UTC)


def run_sync(
    config: Config,
    engine: Engine,
    client: QualysClient,
    *,
    host: str,
    pid: int,
    clock: Callable[[], datetime] = utc_now,
    stop: threading.Event | None = None,
    progress: SyncProgress | None = None,
    lock_wait_seconds: float = 0,
    full: bool = False,
) -> SyncReport:
    """Run one sync under the connector's sync lock; on failure, record it and raise.

    Incremental unless `full`, or no full sync succeeded within `[sync] full_sync_every_days`.
    `host` and `pid` name this process in the run record and the lock. `lock_wait_seconds`: how
    long to wait for another process's sync before raising SyncAlreadyRunningError (0: at once).
    """
    wait = lock_wait_seconds > 0
    with sync_lock(engine, config.connector_name, wait=wait, timeout=lock_wait_seconds, stop=stop):
        recorder = RunRecorder(
            engine, config.connector_name, RunKind.SYNC, clock=clock, host=host, pid=pid
        )
        return _Sync(config, engine, client, recorder, stop or threading.Event(), progress).run(
            full=full
        )


class _Sync:
    """The wiring of one run: collaborators in, phases called in order, the report out."""

    def __init__(
        self,
        config: Config,
        engine: Engine,
        client: QualysClient,
        recorder: RunRecorder,
        stop: threading.Event,
        progress: SyncProgress | None,
    ) -> None:
        self.config, self.engine, self.client, self.recorder = config, engine, client, recorder
        self.stop, self.progress = stop, progress or NoProgress()
        self.calls_before = (client.stats.api_calls, client.stats.retries)
        self.parts: list[SyncCounts] = []

    def calls(self) -> tuple[int, int]:
        return (
            self.client.stats.api_calls - self.calls_before[0],
            self.client.stats.retries - self.calls_before[1],
        )

    def run(self, *, full: bool) -> SyncReport:
        clock, name = self.recorder.clock, self.config.connector_name
        started, monotonic_start = clock(), time.monotonic()
        with writing("recording the start of the sync"), self.engine.begin() as conn:
            store_runs.abandon_stale_runs(conn, name, now=started)
            choice = choose_mode(
                self.config.sync,
                force_full=full,
                last_full=store_runs.last_success_at(conn, name, mode=SyncMode.FULL.value),
                fingerprint_then=store_runs.get_state(conn, name, FINGERPRINT_STATE),
                now=started,
            )
            run_id = self.recorder.start(conn, mode=choice.mode.value)
            kb_cvss = store_weaknesses.load_weakness_cvss(conn, name)
            last_success = store_runs.last_success_at(conn, name)
        run = RunState(
            config=self.config,
            engine=self.engine,
            client=self.client,
            clock=clock,
            stop=self.stop,
            progress=self.progress,
            run_id=run_id,
            mode=choice.mode,
            kb_cvss=kb_cvss,
            deadline=monotonic_start + 60 * self.config.sync.max_listing_minutes,
        )
        try:
            with log_context(connector=name, run_id=run_id):
                log.info("sync %d started: %s (%s)", run_id, choice.mode.value, choice.reason)
                self._phases(run, choice, last_success)
        except BaseException as exc:
            interrupted = isinstance(exc, SyncInterruptedError | KeyboardInterrupt)
            api_calls, retries = self.calls()
            self.recorder.finish_apart(
                RunOutcome.INTERRUPTED if interrupted else RunOutcome.FAILED,
                self._record(total(self.parts), choice),
                api_calls=api_calls,
                retries=retries,
                error=" ".join((str(exc).strip() or type(exc).__name__).split()),
            )
            raise
        counts = total(self.parts)
        api_calls, retries = self.calls()
        log.info(
            "sync %d finished: %d findings listed, %d details read, %d created, %d updated, "
            "%d fixed, %d assets archived",
            run_id,
            counts.findings_listed,
            counts.findings_fetched,
            counts.findings_created,
            counts.findings_updated,
            counts.findings_fixed_by_qualys + counts.findings_fixed_absent,
            counts.assets_archived,
        )
        return SyncReport(
            run_id=run_id,
            outcome=RunOutcome.SUCCEEDED,
            mode=choice.mode,
            mode_reason=choice.reason,
            counts=counts,
            api_calls=api_calls,
            retries=retries,
            started_at=started,
            duration_seconds=time.monotonic() - monotonic_start,
        )

    def _phases(self, run: RunState, choice: ModeChoice, last_success: datetime | None) -> None:
        types = [Criterion("type", "IN", ",".join(self.config.sync.finding_types))]
        # The first call: a wrong login fails once, before anything runs beside it.
        counted = run.client.count_findings(types)
        known_assets: set[str] = set()
        latest_test: dict[str, datetime] = {}  # asset key -> its findings' latest test
        with WebAppsBeside(run) as webapps, KnowledgeBase(run) as kb:
            phase = FindingPhase(run, kb, self.parts.append, types, counted, webapps.ready)
            try:
                if choice.mode is SyncMode.FULL:
                    listing = full_listing(phase, known_assets, latest_test)
                else:
                    listing = incremental_listing(phase, known_assets, latest_test, last_success)
            finally:
                listed_webapps, counts = webapps.result()
            known_assets |= listed_webapps
            self.parts.append(counts + SyncCounts(findings_listed=len(listing.seen)))
            run.check_stop()
            changed, counts = kb.finish()
        self.parts.append(counts)
        self.parts.append(rederive_severity(run, changed))
        run.check_stop()

        def record_success(conn: Connection, final: SyncCounts) -> None:
            if choice.mode is SyncMode.FULL:
                fingerprint = settings_fingerprint(self.config.sync)
                store_runs.set_state(
                    conn, run.connector, FINGERPRINT_STATE, fingerprint, now=run.clock()
                )
            api_calls, retries = self.calls()
            self.recorder.finish(
                conn,
                RunOutcome.SUCCEEDED,
                self._record(final, choice),
                api_calls=api_calls,
                retries=retries,
            )

        self.parts.append(close(run, listing, latest_test, record_success, total(self.parts)))

    @staticmethod
    def _record(counts: SyncCounts, choice: ModeChoice) -> dict[str, object]:
        return {**counts.as_dict(), "mode": choice.mode.value, "mode_reason": choice.reason}
