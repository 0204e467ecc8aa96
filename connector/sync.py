"""One sync: Qualys WAS web apps, findings and KB entries into the store, then fixed and retention.

The order matters for correctness: findings become Fixed for being absent, and assets are archived,
only after every page arrived. Each page is committed on its own (an interrupted sync leaves valid
rows behind and the next sync carries on); the closing steps and the run's record share one
transaction.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Protocol

from sqlalchemy import Connection, Engine

from connector.config import Config
from connector.errors import (
    ConnectorError,
    QualysAuthError,
    QualysError,
    SyncInterruptedError,
)
from connector.findingpages import MappedPage, PageMapper
from connector.logsetup import log_context
from connector.mapping import (
    INFORMATION_GATHERED,
    derive_severity,
    map_kb_vuln,
    map_webapp,
)
from connector.models import (
    Asset,
    Finding,
    FindingStatus,
    Rejected,
    RunKind,
    RunOutcome,
    SeveritySource,
    Weakness,
)
from connector.prefetch import prefetch
from connector.qualys.client import QualysClient, RawPage
from connector.qualys.requests import Criterion
from connector.store import assets as store_assets
from connector.store import findings as store_findings
from connector.store import rows as store_rows
from connector.store import runs as store_runs
from connector.store import weaknesses as store_weaknesses
from connector.store.lock import ensure_lock_held, sync_lock

log = logging.getLogger(__name__)

FETCHED_TYPES = ("VULNERABILITY", "SENSITIVE_CONTENT")
KB_REFRESHED_AT = "kb_refreshed_at"
KB_REFRESH_INTERVAL = timedelta(hours=24)
ABSENT_REASON = "absent"
REDERIVE_BATCH = 1000
PAGE_WORKERS = 2  # processes decoding and mapping finding pages in a large sync
PAGE_WORKERS_MIN_FINDINGS = 5000


class SyncProgress(Protocol):
    """What a sync reports while it runs; the CLI draws bars, the daemon logs lines."""

    def start(self, phase: str, total: int | None) -> None: ...

    def advance(self, phase: str, amount: int) -> None: ...


class _NoProgress:
    def start(self, phase: str, total: int | None) -> None:
        pass

    def advance(self, phase: str, amount: int) -> None:
        pass


@dataclass
class SyncCounts:
    pages: int = 0
    assets_fetched: int = 0
    assets_created: int = 0
    assets_updated: int = 0
    assets_unchanged: int = 0
    assets_archived: int = 0
    assets_reactivated: int = 0
    findings_fetched: int = 0
    findings_created: int = 0
    findings_updated: int = 0
    findings_unchanged: int = 0
    findings_fixed_by_qualys: int = 0
    findings_fixed_absent: int = 0
    findings_reopened: int = 0
    kb_fetched: int = 0
    kb_unknown: int = 0
    kb_calls: int = 0
    severity_rederived: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    active_by_severity: Counter[str] = field(default_factory=Counter)  # after the sync
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["skipped"] = dict(self.skipped)
        data["active_by_severity"] = dict(self.active_by_severity)
        data["warnings"] = list(self.warnings)
        return data


@dataclass(frozen=True)
class SyncReport:
    run_id: int
    outcome: RunOutcome
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
    clock: Callable[[], datetime] = utc_now,
    stop: threading.Event | None = None,
    progress: SyncProgress | None = None,
    page_workers: int | None = None,
    lock_wait_seconds: float = 0,
) -> SyncReport:
    """Run one complete sync under the connector's sync lock; on failure, record it and raise.

    `page_workers`: processes that decode and map finding pages (0: in this process); by default
    PAGE_WORKERS when there are at least PAGE_WORKERS_MIN_FINDINGS findings and two CPUs.
    `lock_wait_seconds`: how long to wait for another process's sync to finish before raising
    SyncAlreadyRunningError (0: at once).
    """
    wait = lock_wait_seconds > 0
    with sync_lock(engine, config.connector_name, wait=wait, timeout=lock_wait_seconds, stop=stop):
        sync = _Sync(config, engine, client, clock, stop or threading.Event(), progress)
        sync.page_workers = page_workers
        return sync.run()


class _Sync:
    def __init__(
        self,
        config: Config,
        engine: Engine,
        client: QualysClient,
        clock: Callable[[], datetime],
        stop: threading.Event,
        progress: SyncProgress | None,
    ) -> None:
        self.config = config
        self.name = config.connector_name
        self.engine = engine
        self.client = client
        self.clock = clock
        self.stop = stop
        self.progress = progress or _NoProgress()
        self.page_workers: int | None = None
        self.counts = SyncCounts()
        self.known_assets: set[str] = set()
        self.seen_findings = SeenKeys()
        self.seen_qids: set[int] = set()
        self.latest_test: dict[str, datetime] = {}
        self.kb_cvss: dict[int, float | None] = {}
        self.run_id = 0
        self.calls_before = client.stats.api_calls
        self.retries_before = client.stats.retries

    # --- the run --------------------------------------------------------------------------------
    def run(self) -> SyncReport:
        started = self.clock()
        monotonic_start = time.monotonic()
        with self.engine.begin() as conn:
            store_runs.abandon_stale_runs(conn, self.name, now=started)
            self.run_id = store_runs.start_run(
                conn,
                self.name,
                RunKind.SYNC,
                now=started,
                host=socket.gethostname(),
                pid=os.getpid(),
            )
            self.kb_cvss = store_weaknesses.load_weakness_cvss(conn, self.name)
        try:
            with log_context(connector=self.name, run_id=self.run_id):
                log.info("sync %d started", self.run_id)
                self._sync_webapps()
                self._sync_findings()
                self._check_stop()
                if self.config.sync.pull_knowledge_base:
                    self._sync_knowledge_base()
                self._check_stop()
                self._close()
        except BaseException as exc:
            outcome = (
                RunOutcome.INTERRUPTED
                if isinstance(exc, SyncInterruptedError | KeyboardInterrupt)
                else RunOutcome.FAILED
            )
            self._record_end(outcome, error=_one_line(exc))
            raise
        return self._report(RunOutcome.SUCCEEDED, started, time.monotonic() - monotonic_start)

    def _report(self, outcome: RunOutcome, started: datetime, duration: float) -> SyncReport:
        return SyncReport(
            run_id=self.run_id,
            outcome=outcome,
            counts=self.counts,
            api_calls=self.client.stats.api_calls - self.calls_before,
            retries=self.client.stats.retries - self.retries_before,
            started_at=started,
            duration_seconds=duration,
        )

    def _record_end(
        self, outcome: RunOutcome, error: str | None, conn: Connection | None = None
    ) -> None:
        def write(c: Connection) -> None:
            store_runs.finish_run(
                c,
                self.run_id,
                outcome=outcome,
                now=self.clock(),
                counts=self.counts.as_dict(),
                api_calls=self.client.stats.api_calls - self.calls_before,
                retries=self.client.stats.retries - self.retries_before,
                error=error,
            )

        if conn is not None:
            write(conn)
            return
        try:
            with self.engine.begin() as c:
                write(c)
        except ConnectorError:
            log.exception("could not record the end of sync %d", self.run_id)

    def _check_stop(self) -> None:
        """Between pages: stop on a shutdown request, or when the sync lock was lost."""
        if self.stop.is_set():
            raise SyncInterruptedError("sync interrupted by a shutdown request; nothing was closed")
        ensure_lock_held(self.engine, self.name)

    # --- step 2: web apps ----------------------------------------------------------------------
    def _sync_webapps(self) -> None:
        self.progress.start("web apps", None)
        for page in self.client.iter_webapp_pages(verbose=True):
            self._check_stop()
            assets: list[Asset] = []
            for raw in page.records:
                mapped = map_webapp(raw)
                if isinstance(mapped, Rejected):
                    self._reject(mapped)
                else:
                    assets.append(mapped)
            with self.engine.begin() as conn:
                result = store_assets.upsert_assets(conn, self.name, assets, now=self.clock())
            self.known_assets.update(a.key for a in assets)
            self.counts.pages += 1
            self.counts.assets_fetched += len(assets)
            self.counts.assets_created += len(result.created)
            self.counts.assets_updated += len(result.updated)
            self.counts.assets_unchanged += result.unchanged
            self.progress.advance("web apps", len(page.records))

    # --- step 3: findings ------------------------------------------------------------------------
    def _finding_types(self) -> tuple[str, ...]:
        if self.config.sync.pull_informational:
            return (*FETCHED_TYPES, INFORMATION_GATHERED)
        return FETCHED_TYPES

    def _sync_findings(self) -> None:
        type_filter = Criterion("type", "IN", ",".join(self._finding_types()))
        total = self.client.count_findings([type_filter])
        self.progress.start("findings", total)
        fallback = self.config.sync.severity_fallback
        with PageMapper(self._page_workers(total), self.kb_cvss, fallback) as mapper:
            for raw in self._fetch_finding_pages(type_filter):
                self._check_stop()
                mapper.submit(raw)  # decoded and mapped while the fetch threads wait
                for mapped in mapper.ready():
                    self._store_mapped_page(mapped)
            for mapped in mapper.drain():
                self._store_mapped_page(mapped)

    def _page_workers(self, total: int) -> int:
        """Worker processes for decoding and mapping: none for small listings (starting one
        costs about as much as decoding a few pages) or on a single CPU."""
        if self.page_workers is not None:
            return self.page_workers
        if (os.cpu_count() or 1) < 2 or total < PAGE_WORKERS_MIN_FINDINGS:
            return 0
        return PAGE_WORKERS

    def _store_mapped_page(self, mapped: MappedPage) -> None:
        self._check_stop()
        self._store_finding_page(mapped)
        self.progress.advance("findings", mapped.records)

    def _fetch_finding_pages(self, type_filter: Criterion) -> Iterator[RawPage]:
        """Pages from one or more keyset streams, fetched ahead in threads so that decoding,
        mapping and storing overlap the server's time (a thread only reads a page's paging
        before it asks for the next). With concurrency N the web apps are split into N
        groups, each paged on its own (Qualys allows a few concurrent calls)."""
        streams: list[Sequence[Criterion]] = [[type_filter]]
        concurrency = self.config.qualys.concurrency
        if concurrency > 1 and len(self.known_assets) >= concurrency:
            ids = sorted(self.known_assets, key=int)
            groups = [ids[i::concurrency] for i in range(concurrency)]
            # A web app created after the listing is in no group: its findings come next sync.
            streams = [[type_filter, Criterion("webApp.id", "IN", ",".join(g))] for g in groups]
        return prefetch(
            [partial(self.client.iter_finding_raw_pages, s, verbose=True) for s in streams],
            depth=2 * len(streams),
            abort=self.stop,
        )

    def _store_finding_page(self, mapped: MappedPage) -> None:
        for rejected in mapped.rejected:
            self._reject(rejected)
            if rejected.ref.isdigit():  # known id: still listed, so never "absent"
                self.seen_findings.add(rejected.ref)
        findings = mapped.findings
        new_assets = {
            asset.key: asset for key, asset in mapped.assets.items() if key not in self.known_assets
        }
        now = self.clock()
        with self.engine.begin() as conn:
            if new_assets:
                store_assets.upsert_assets(conn, self.name, list(new_assets.values()), now=now)
            result = store_findings.upsert_findings(
                conn, self.name, findings, run_id=self.run_id, now=now, reason="sync"
            )
        self.known_assets.update(new_assets)
        for finding in findings:
            self.seen_findings.add(finding.key)
            if finding.qid is not None:
                self.seen_qids.add(finding.qid)
            if finding.last_seen is not None:
                current = self.latest_test.get(finding.asset_key)
                if current is None or finding.last_seen > current:
                    self.latest_test[finding.asset_key] = finding.last_seen
        self._count_finding_result(result)
        self.counts.pages += 1
        self.counts.findings_fetched += len(findings)

    def _count_finding_result(self, result: store_rows.UpsertResult) -> None:
        self.counts.findings_created += len(result.created)
        self.counts.findings_updated += len(result.updated)
        self.counts.findings_unchanged += result.unchanged
        for _key, before, after in result.status_changes:
            if before is None:
                continue
            if after == "Fixed":
                self.counts.findings_fixed_by_qualys += 1
            elif before == "Fixed":
                self.counts.findings_reopened += 1

    # --- step 4: knowledge base ------------------------------------------------------------------
    def _sync_knowledge_base(self) -> None:
        missing = sorted(self.seen_qids - self.kb_cvss.keys())
        changed: list[Weakness] = []
        try:
            self.progress.start("knowledge base", len(missing))
            if missing:
                result = self.client.kb_lookup(missing)
                self.counts.kb_calls += result.calls
                changed += self._store_kb(result.vulns, result.unknown)
                self.progress.advance("knowledge base", len(missing))
            changed += self._refresh_changed_kb()
        except QualysError as exc:
            # Findings are complete without KB text: warn, keep going, retry next sync.
            warning = f"knowledge base enrichment failed, retried next sync: {_one_line(exc)}"
            if isinstance(exc, QualysAuthError):
                warning += (
                    " (the user may lack a role that reads the KB: grant it, or set "
                    "[sync] pull_knowledge_base = false)"
                )
            log.warning("%s", warning)
            self.counts.warnings.append(warning)
            return
        self._rederive_severity(changed)

    def _store_kb(self, vulns: list[dict[str, Any]], unknown: set[int]) -> list[Weakness]:
        weaknesses: list[Weakness] = []
        for raw in vulns:
            mapped = map_kb_vuln(raw)
            if isinstance(mapped, Rejected):
                self._reject(mapped)
            else:
                weaknesses.append(mapped)
        with self.engine.begin() as conn:
            store_weaknesses.upsert_weaknesses(
                conn, self.name, weaknesses, unknown, now=self.clock()
            )
        self.counts.kb_fetched += len(weaknesses)
        self.counts.kb_unknown += len(unknown)
        if unknown:
            log.info("the KB does not know %d QID(s): %s", len(unknown), sorted(unknown)[:20])
        for weakness in weaknesses:
            self.kb_cvss[weakness.qid] = weakness.cvss_v3_base
        for qid in unknown:
            self.kb_cvss.setdefault(qid, None)
        return weaknesses

    def _refresh_changed_kb(self) -> list[Weakness]:
        """Entries changed in the KB since the last refresh, at most once per interval."""
        now = self.clock()
        with self.engine.connect() as conn:
            last = store_runs.get_state(conn, self.name, KB_REFRESHED_AT)
        last_at = datetime.fromisoformat(last) if last else None
        changed: list[Weakness] = []
        if last_at is not None and now - last_at < KB_REFRESH_INTERVAL:
            return changed
        known = sorted(q for q in self.seen_qids if q in self.kb_cvss)
        if last_at is not None and known:
            before = self.client.stats.api_calls
            vulns = self.client.kb_changed_since(known, last_at)
            self.counts.kb_calls += self.client.stats.api_calls - before
            changed = self._store_kb(vulns, set())
        with self.engine.begin() as conn:
            store_runs.set_state(conn, self.name, KB_REFRESHED_AT, now.isoformat(), now=now)
        return changed

    def _rederive_severity(self, weaknesses: list[Weakness]) -> None:
        """Findings without their own CVSS take the KB's once it is known (or when it changed).

        Walked in keyset pages of REDERIVE_BATCH, each its own transaction, so memory stays flat
        whatever the number of findings."""
        qids = sorted({w.qid for w in weaknesses})
        for start in range(0, len(qids), 500):
            group = qids[start : start + 500]
            for source in (SeveritySource.KB_CVSS_V3, SeveritySource.QUALYS_SEVERITY):
                after: str | None = None
                while True:
                    with self.engine.begin() as conn:
                        batch = store_findings.load_findings(
                            conn,
                            self.name,
                            qids=group,
                            severity_source=source,
                            after_key=after,
                            limit=REDERIVE_BATCH,
                        )
                        if not batch:
                            break
                        after = batch[-1].key
                        updated = [f for f in map(self._with_kb_severity, batch) if f]
                        if updated:
                            store_findings.upsert_findings(
                                conn,
                                self.name,
                                updated,
                                run_id=self.run_id,
                                now=self.clock(),
                                reason="kb",
                            )
                    self.counts.severity_rederived += len(updated)

    def _with_kb_severity(self, finding: Finding) -> Finding | None:
        """The finding with the severity the KB's CVSS now gives it, or None when unchanged."""
        severity, source = derive_severity(
            cvss_v3_base=None,
            kb_cvss_v3_base=self.kb_cvss.get(finding.qid or 0),
            qualys_severity=finding.qualys_severity,
            finding_type=finding.type,
            fallback=self.config.sync.severity_fallback,
        )
        if (severity, source) == (finding.severity, finding.severity_source):
            return None
        return replace(finding, severity=severity, severity_source=source)

    # --- steps 5-7: close ----------------------------------------------------------------------
    def _close(self) -> None:
        now = self.clock()
        cutoff = now - timedelta(days=self.config.sync.asset_retention_days)
        with self.engine.begin() as conn:
            fixed = store_findings.mark_absent_fixed(
                conn,
                self.name,
                self.seen_findings,
                run_id=self.run_id,
                now=now,
                reason=ABSENT_REASON,
                source="api",
                types=self._finding_types(),
            )
            store_assets.raise_last_observed(conn, self.name, self.latest_test)
            archived, reactivated = store_assets.apply_retention(
                conn, self.name, cutoff=cutoff, now=now
            )
            self.counts.findings_fixed_absent = len(fixed)
            self.counts.assets_archived = len(archived)
            self.counts.assets_reactivated = len(reactivated)
            for (status, severity), number in store_findings.count_findings(
                conn, self.name
            ).items():
                if status == FindingStatus.ACTIVE.value:
                    self.counts.active_by_severity[severity] += number
            self._record_end(RunOutcome.SUCCEEDED, error=None, conn=conn)
        log.info(
            "sync %d finished: %d findings fetched, %d created, %d updated, %d fixed, "
            "%d assets archived",
            self.run_id,
            self.counts.findings_fetched,
            self.counts.findings_created,
            self.counts.findings_updated,
            self.counts.findings_fixed_by_qualys + self.counts.findings_fixed_absent,
            self.counts.assets_archived,
        )

    def _reject(self, rejected: Rejected) -> None:
        self.counts.skipped[f"{rejected.kind}: {rejected.reason}"] += 1
        log.warning("skipped %s %s: %s", rejected.kind, rejected.ref, rejected.reason)


class SeenKeys(Collection[str]):
    """The numeric finding keys Qualys listed in this sync, kept as a compact sorted array
    (8 bytes a key instead of a string in a set: 250,000 keys take 2 MB)."""

    def __init__(self) -> None:
        self._ids: array[int] = array("q")
        self._sorted = True

    def add(self, key: str) -> None:
        self._ids.append(int(key))
        self._sorted = False

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str) or not key.isdigit():
            return False
        ids = self._ordered()
        number = int(key)
        at = bisect_left(ids, number)
        return at < len(ids) and ids[at] == number

    def __iter__(self) -> Iterator[str]:
        return (str(number) for number in self._ordered())

    def __len__(self) -> int:
        return len(self._ordered())

    def _ordered(self) -> array[int]:
        if not self._sorted:
            self._ids = array("q", sorted(set(self._ids)))
            self._sorted = True
        return self._ids


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())
