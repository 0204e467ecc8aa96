"""Phase 4: Knowledge Base entries for the QIDs the listing meets, looked up while it runs.

The listing hands over the QIDs of each page (`want`); QIDs the store has no entry for are looked
up in batches of `kb_batch_size` in a background thread, so KB calls overlap the listing. Results
are stored from the sync's own thread (`collect`, between pages), which keeps one writer. Once a
day, entries modified in the KB since the last refresh are fetched again. Findings whose severity
came from the fallback take the KB's CVSS v3 once it is known (`rederive_severity`).

A KB refusal or outage is a warning, never a failed sync: findings are complete without KB text,
and the next sync asks again.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor, TimeoutError
from dataclasses import replace
from datetime import datetime, timedelta

from connector.errors import QualysAuthError, QualysError
from connector.mapping import derive_severity, map_kb_vuln, split_rejected
from connector.models import Finding, SeveritySource, Weakness
from connector.qualys.client import KbResult
from connector.store import finding_reads
from connector.store import findings as store_findings
from connector.store import runs as store_runs
from connector.store import weaknesses as store_weaknesses
from connector.sync.state import RunState
from connector.sync.tally import SyncCounts, skipped, total, warning

log = logging.getLogger(__name__)

KB_REFRESHED_AT = "kb_refreshed_at"
KB_REFRESH_INTERVAL = timedelta(hours=24)
REDERIVE_BATCH = 1000
REDERIVE_QIDS = 500
KB_WAIT_SECONDS = 10.0  # how long a page waits for the KB entries of its QIDs


class KnowledgeBase:
    """KB lookups for one sync. Use from the sync's thread only (the lookups run in a worker)."""

    def __init__(self, run: RunState) -> None:
        self.run = run
        self.enabled = run.config.sync.pull_knowledge_base
        self.batch = max(1, min(run.config.qualys.kb_batch_size, 300))
        self.seen: set[int] = set()
        self._asked: set[int] = set(run.kb_cvss)  # stored QIDs (known or not) are never asked
        self._pending: list[int] = []
        self._running: deque[Future[KbResult]] = deque()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="kb")
        self._failure: str | None = None
        self._changed: list[Weakness] = []
        self._before: dict[int, float | None] = {}  # QID -> its KB CVSS before this sync
        self._counts: list[SyncCounts] = []
        self._progress_started = False

    def __enter__(self) -> KnowledgeBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def want(self, qids: Iterable[int]) -> None:
        """QIDs the listing met. Those the store lacks are looked up at once when no lookup is
        running (so a page's new QIDs are known by the next page), else once a batch is full."""
        fresh = set(qids) - self.seen
        self.seen |= fresh
        if not self.enabled or self._failure is not None:
            return
        self._pending.extend(sorted(q for q in fresh if q not in self._asked))
        self._asked.update(fresh)
        while self._pending and (not self._running or len(self._pending) >= self.batch):
            self._submit(self._pending[: self.batch])
            del self._pending[: self.batch]

    def ready(self, qids: Iterable[int], *, timeout: float = KB_WAIT_SECONDS) -> None:
        """Wait (at most `timeout`) until the lookups of these QIDs are stored, so that a page's
        findings get the KB's CVSS at once instead of a fallback severity re-derived later."""
        self.want(qids)
        if not any(q not in self.run.kb_cvss for q in qids) or self._failure is not None:
            self.collect()
            return
        deadline = time.monotonic() + timeout
        while self._running and time.monotonic() < deadline:
            try:
                self._running[0].result(timeout=max(deadline - time.monotonic(), 0))
            except TimeoutError:
                break
            except QualysError:
                pass  # collect() records it
            self.collect()
            if self._pending:
                self.want(())

    def collect(self, *, wait: bool = False) -> None:
        """Store the lookups that finished (all of them when `wait`)."""
        while self._running and (wait or self._running[0].done()):
            future = self._running.popleft()
            try:
                result = future.result()
            except QualysError as exc:
                self._fail(exc)
                continue
            self._counts.append(SyncCounts(kb_calls=result.calls))
            self._changed += self._store(result.vulns, result.unknown)
        if self._pending and not self._running and self._failure is None:
            self._submit(self._pending[: self.batch])
            del self._pending[: self.batch]

    def finish(self) -> tuple[dict[int, tuple[float | None, float | None]], SyncCounts]:
        """Look up what is left, refresh entries modified in the KB, shut the worker down.
        Returns, per QID whose entry is new or changed, its CVSS v3 score (before, after), and
        the phase's counts."""
        try:
            if self._pending and self._failure is None:
                self._submit(self._pending)
                self._pending = []
            self.collect(wait=True)
            if self.enabled and self._failure is None:
                try:
                    self._changed += self._refresh_changed()
                except QualysError as exc:
                    self._fail(exc)
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self._failure is not None:
            self._counts.append(warning(self._failure))
            return {}, total(self._counts)
        changed = {w.qid: (self._before.get(w.qid), w.cvss_v3_base) for w in self._changed}
        return changed, total(self._counts)

    def _submit(self, qids: list[int]) -> None:
        if not self._progress_started:
            self.run.progress.start("knowledge base", None)
            self._progress_started = True
        self._running.append(self._pool.submit(self.run.client.kb_lookup, list(qids)))

    def _fail(self, exc: QualysError) -> None:
        if self._failure is not None:
            return
        text = " ".join(str(exc).split())
        self._failure = f"knowledge base enrichment failed, retried next sync: {text}"
        if isinstance(exc, QualysAuthError):
            self._failure += (
                " (the user may lack a role that reads the KB: grant it, or set "
                "[sync] pull_knowledge_base = false)"
            )

    def _store(self, vulns: list[dict[str, object]], unknown: set[int]) -> list[Weakness]:
        weaknesses, rejected = split_rejected(map_kb_vuln(raw) for raw in vulns)
        with self.run.transaction() as conn:
            store_weaknesses.upsert_weaknesses(
                conn, self.run.connector, weaknesses, unknown, now=self.run.clock()
            )
        if unknown:
            log.info("the KB does not know %d QID(s): %s", len(unknown), sorted(unknown)[:20])
        for weakness in weaknesses:
            self._before.setdefault(weakness.qid, self.run.kb_cvss.get(weakness.qid))
            self.run.kb_cvss[weakness.qid] = weakness.cvss_v3_base
        for qid in unknown:
            self.run.kb_cvss.setdefault(qid, None)
        self._counts.append(
            SyncCounts(kb_fetched=len(weaknesses), kb_unknown=len(unknown)) + skipped(rejected)
        )
        if self._progress_started:
            self.run.progress.advance("knowledge base", len(weaknesses) + len(unknown))
        return weaknesses

    def _refresh_changed(self) -> list[Weakness]:
        """Entries changed in the KB since the last refresh, at most once per interval."""
        now = self.run.clock()
        with self.run.transaction() as conn:
            last = store_runs.get_state(conn, self.run.connector, KB_REFRESHED_AT)
        last_at = datetime.fromisoformat(last) if last else None
        if last_at is not None and now - last_at < KB_REFRESH_INTERVAL:
            return []
        known = sorted(q for q in self.seen if q in self.run.kb_cvss)
        changed: list[Weakness] = []
        if last_at is not None and known:
            before = self.run.client.stats.api_calls
            vulns = self.run.client.kb_changed_since(known, last_at)
            self._counts.append(SyncCounts(kb_calls=self.run.client.stats.api_calls - before))
            changed = self._store(vulns, set())
        with self.run.transaction() as conn:
            store_runs.set_state(
                conn, self.run.connector, KB_REFRESHED_AT, now.isoformat(), now=now
            )
        return changed


def rederive_severity(
    run: RunState, scores: dict[int, tuple[float | None, float | None]]
) -> SyncCounts:
    """Findings without their own CVSS take the KB's once it is known, or when it changed.

    Only the findings that can change are read: those on the fallback for QIDs that now have a
    KB score, and those on the KB score for QIDs whose score changed. Walked in keyset pages of
    REDERIVE_BATCH, each its own transaction, so memory stays flat whatever their number."""
    # A finding took the KB's score only if the score was known when it was mapped: findings
    # on the KB score need a look only where a score known before changed.
    work = {
        SeveritySource.QUALYS_SEVERITY: sorted(
            q for q, (old, new) in scores.items() if old is None and new is not None
        ),
        SeveritySource.KB_CVSS_V3: sorted(
            q for q, (old, new) in scores.items() if old is not None and old != new
        ),
    }
    rederived = 0
    for source, qids in work.items():
        for start in range(0, len(qids), REDERIVE_QIDS):
            group = qids[start : start + REDERIVE_QIDS]
            after: str | None = None
            while True:
                with run.transaction() as conn:
                    batch = finding_reads.load_findings(
                        conn,
                        run.connector,
                        qids=group,
                        severity_source=source,
                        after_key=after,
                        limit=REDERIVE_BATCH,
                    )
                    if not batch:
                        break
                    after = batch[-1].key
                    updated = [f for f in (_with_kb_severity(run, f) for f in batch) if f]
                    if updated:
                        store_findings.upsert_findings(
                            conn,
                            run.connector,
                            updated,
                            run_id=run.run_id,
                            now=run.clock(),
                            reason="kb",
                        )
                rederived += len(updated)
    return SyncCounts(severity_rederived=rederived)


def _with_kb_severity(run: RunState, finding: Finding) -> Finding | None:
    """The finding with the severity the KB's CVSS now gives it, or None when unchanged."""
    severity, source = derive_severity(
        cvss_v3_base=None,
        kb_cvss_v3_base=run.kb_cvss.get(finding.qid or 0),
        qualys_severity=finding.qualys_severity,
        finding_type=finding.type,
        fallback=run.config.sync.severity_fallback,
    )
    if (severity, source) == (finding.severity, finding.severity_source):
        return None
    return replace(finding, severity=severity, severity_source=source)
