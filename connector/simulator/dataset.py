"""The simulator's data: a seeded, generated Qualys tenant (web apps, findings, KB), mutable.

Findings are kept as compact parallel arrays (`columns.FindingColumns`: id, web app, QID, type,
status, ignored reason and six dates); every other field is generated on demand from
`(seed, position)`, so a 250,000-finding set costs ~11 MB and one page of 1,000 findings is built
in milliseconds. Mutations write the columns and a sparse per-finding dict of field overrides;
removed findings and web apps are flagged, never deleted.

Mutations model what really happens to a tenant, each one call (`events.py` has the list and
what every event changes; `day.py` applies a realistic day of them).
"""

from __future__ import annotations

import dataclasses
import threading
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from connector.simulator import events
from connector.simulator.columns import DATE_FIELDS, FindingColumns
from connector.simulator.day import DayChanges, simulate_day
from connector.simulator.derive import generate_record
from connector.simulator.generate import generate_tenant
from connector.simulator.records import (
    FIRST_FINDING_ID,
    FIXED_STATUSES,
    IGNORED_REASONS,
    INFORMATION_GATHERED,
    NOW,
    OPEN_STATUSES,
    STATUSES,
    Criterion,
    FindingRecord,
    HistoryScan,
    KbEntry,
    QidProfile,
    Tag,
    WebAppRecord,
)
from connector.simulator.select import Plan, Tenant, plan_findings
from connector.simulator.webapps import WebAppList


class Dataset:
    """A generated Qualys WAS tenant. Build one with `Dataset.generate(...)`; thread-safe."""

    def __init__(
        self,
        *,
        seed: int,
        webapps: list[WebAppRecord],
        profiles: dict[int, QidProfile],
        kb: dict[int, KbEntry],
        columns: FindingColumns,
        blocks: list[tuple[int, int]],
        now: datetime = NOW,
    ) -> None:
        self.seed = seed
        self.now = now
        """The tenant's clock: the default time of a mutation; `simulate_day` moves it on."""
        self.lock = threading.RLock()
        self.version = 0
        self._apps = WebAppList(webapps)
        self._profiles = profiles
        self._severities = {q: p.severity for q, p in profiles.items()}
        self._kb = kb
        self._cols = columns
        self._blocks = blocks
        self._base_n = len(columns)
        self._removed: set[int] = set()
        self._patches: dict[int, dict[str, Any]] = {}
        self._count_cache: dict[tuple[object, ...], int] = {}
        self._next_scan = 6_000_000

    @classmethod
    def generate(
        cls,
        webapps: int,
        findings: int,
        seed: int,
        qid_pool: int = 300,
        unknown_qids: int = 3,
        informational_share: float = 0.15,
        now: datetime = NOW,
    ) -> Dataset:
        """Build a deterministic data set: same arguments, same web apps, findings and KB.

        Every generated date lies before `now` (default: the fixed NOW tests rely on; the
        `simulate` and `demo` commands pass the current time so retention sees fresh data)."""
        if webapps < 0 or findings < 0:
            raise ValueError("webapps and findings must not be negative")
        if findings and not webapps:
            raise ValueError("findings need at least one web app")
        if qid_pool < 3 + unknown_qids:
            raise ValueError("qid_pool must be at least 3 + unknown_qids")
        if not 0.0 <= informational_share <= 1.0:
            raise ValueError("informational_share must be between 0 and 1")
        tenant = generate_tenant(
            webapps, findings, seed, qid_pool, unknown_qids, informational_share, now
        )
        return cls(
            seed=seed,
            webapps=tenant.webapps,
            profiles=tenant.profiles,
            kb=tenant.kb,
            columns=tenant.columns,
            blocks=tenant.blocks,
            now=now,
        )

    # ------------------------------------------------------------------ reading
    @property
    def unknown_qids(self) -> tuple[int, ...]:
        """QIDs findings use but the KB does not know."""
        return tuple(q for q, p in self._profiles.items() if not p.in_kb)

    @property
    def qid_profiles(self) -> dict[int, QidProfile]:
        return dict(self._profiles)

    def webapps(self) -> list[WebAppRecord]:
        """Every current web app, ascending id."""
        with self.lock:
            return self._apps.listed()

    def webapp(self, webapp_id: int) -> WebAppRecord | None:
        with self.lock:
            return self._apps.get(webapp_id)

    def finding_count(self) -> int:
        """How many findings the tenant currently lists (every type)."""
        return self.count_findings(())

    def finding_ids(
        self, criteria: Sequence[Criterion] = (), *, ignored: bool | None = None
    ) -> list[int]:
        """Current finding ids matching `criteria` (and isIgnored when given), ascending; cheap
        (no record is generated), e.g. `finding_ids([Criterion("status", "IN", ("ACTIVE",))])`."""
        with self.lock:
            plan = self._plan(criteria)
            if ignored is not None:
                column, want = self._cols.ignored, ignored
                plan.filters.append(lambda c: [i for i in c if (column[i] != 0) == want])
            ids = self._cols.ids
            return [ids[i] for chunk in plan.chunks() for i in chunk]

    def finding_counts_by_webapp(self) -> dict[int, int]:
        """Listed findings per web app id (web apps without findings left out)."""
        with self.lock:
            wa = self._cols.wa
            counts = Counter(wa[i] for chunk in self._plan(()).chunks() for i in chunk)
            return {self._apps.records[w].id: n for w, n in sorted(counts.items())}

    def findings(self) -> Iterator[FindingRecord]:
        """Every current finding, ascending id, generated one at a time."""
        for fid in self.finding_ids():
            record = self.finding(fid)
            if record is not None:
                yield record

    def finding(self, finding_id: int) -> FindingRecord | None:
        with self.lock:
            i = self._index_of(finding_id)
            if i is None or not self._visible(i):
                return None
            return self._record(i)

    def kb_entry(self, qid: int) -> KbEntry | None:
        with self.lock:
            return self._kb.get(qid)

    def kb_entries(
        self, qids: Iterable[int] | None = None, modified_since: datetime | None = None
    ) -> list[KbEntry]:
        """KB entries for `qids` (all when None) modified at or after `modified_since`, by QID."""
        with self.lock:
            chosen = self._kb.keys() if qids is None else set(qids) & self._kb.keys()
            entries = [self._kb[q] for q in sorted(chosen)]
        if modified_since is not None:
            entries = [e for e in entries if e.last_modified >= modified_since]
        return entries

    # ------------------------------------------------------------------ searching
    def search_findings(
        self, criteria: Sequence[Criterion], limit: int, skip: int = 0, verbose: bool = True
    ) -> tuple[list[FindingRecord], bool]:
        """Up to `limit` matches by ascending id after skipping `skip`, and whether more match.
        `verbose=False` is quicker and leaves `history` and `payload` empty (unless changed by
        a mutation), as a non-verbose page does not show them."""
        with self.lock:
            hits, more = self._plan(criteria).first(limit, skip)
            return [self._record(i, brief=not verbose) for i in hits], more

    def count_findings(self, criteria: Sequence[Criterion]) -> int:
        with self.lock:
            key = (
                self.version,
                self._cols.version,
                *((c.field, c.operator, c.values) for c in criteria),
            )
            cached = self._count_cache.get(key)
            if cached is None:
                cached = self._plan(criteria).count()
                if len(self._count_cache) > 4096:
                    self._count_cache.clear()
                self._count_cache[key] = cached
            return cached

    def search_webapps(
        self,
        criteria: Sequence[Criterion],
        limit: int,
        skip: int = 0,
        hidden: Iterable[int] = (),
    ) -> tuple[list[WebAppRecord], bool]:
        """Up to `limit` matches by ascending id after skipping `skip`, and whether more match;
        web apps whose id is in `hidden` are left out (their findings are not)."""
        with self.lock:
            matches = self._apps.matching(criteria, hidden)[skip:]
        return matches[:limit], len(matches) > limit

    def count_webapps(self, criteria: Sequence[Criterion], hidden: Iterable[int] = ()) -> int:
        with self.lock:
            return len(self._apps.matching(criteria, hidden))

    # ------------------------------------------------------------------ finding events
    def retest_finding(
        self, finding_id: int, when: datetime | None = None, scan: HistoryScan | None = None
    ) -> FindingRecord:
        """A scan at `when` tests the finding and its status stays as it is (see events.py)."""
        with self.lock:
            i = self._require(finding_id)
            events.scan_result(self, i, self._cols.statuses[i], self._when(when), scan)
            return self._changed(i)

    def fix_finding(self, finding_id: int, when: datetime | None = None) -> FindingRecord:
        """A scan at `when` no longer detects an open finding: FIXED (see events.py)."""
        with self.lock:
            i = self._require(finding_id)
            events.require_status(self, i, OPEN_STATUSES, "fixed")
            events.scan_result(self, i, STATUSES.index("FIXED"), self._when(when))
            return self._changed(i)

    def reopen_finding(self, finding_id: int, when: datetime | None = None) -> FindingRecord:
        """A scan at `when` detects a FIXED (or PROTECTED) finding again: REOPENED."""
        with self.lock:
            i = self._require(finding_id)
            events.require_status(self, i, FIXED_STATUSES, "reopened")
            events.scan_result(self, i, STATUSES.index("REOPENED"), self._when(when))
            return self._changed(i)

    def set_finding_status(
        self, finding_id: int, status: str, when: datetime | None = None
    ) -> FindingRecord:
        """Give a finding the status a rescan at `when` finds (FIXED/PROTECTED: not detected,
        fixedDate set when it was open; any other: detected again, fixedDate cleared)."""
        if status not in STATUSES or status is None:
            raise ValueError(f"unknown status {status!r}")
        with self.lock:
            i = self._require(finding_id)
            if self._cols.types[i] == INFORMATION_GATHERED:
                raise ValueError("information gathered findings have no status")
            events.scan_result(self, i, STATUSES.index(status), self._when(when))
            return self._changed(i)

    def set_finding_ignored(
        self,
        finding_id: int,
        reason: str | None,
        when: datetime | None = None,
        comment: str | None = None,
    ) -> FindingRecord:
        """Triage in the UI at `when`, no scan: ignore (FALSE_POSITIVE, RISK_ACCEPTED,
        NOT_APPLICABLE), change the reason of an ignored finding, or un-ignore (None)."""
        if reason not in IGNORED_REASONS:
            raise ValueError(f"unknown ignored reason {reason!r}")
        with self.lock:
            i = self._require(finding_id)
            events.triage(self, i, reason, self._when(when), comment)
            return self._changed(i)

    def update_finding(self, finding_id: int, **fields: Any) -> FindingRecord:
        """Override other `FindingRecord` fields (e.g. `last_tested`, `cvss=None`, `severity`);
        nothing else changes (use the events for what Qualys does)."""
        unknown = set(fields) - {f.name for f in dataclasses.fields(FindingRecord)}
        blocked = {"id", "qid", "type", "status", "is_ignored", "ignored_reason", "webapp_id"}
        if unknown or blocked & set(fields):
            raise ValueError(f"cannot override {sorted(unknown | (blocked & set(fields)))}")
        with self.lock:
            i = self._require(finding_id)
            patch = self.touch(i)
            for name, value in fields.items():
                if name in DATE_FIELDS:
                    self._cols.set_date(name, i, value)
                else:
                    patch[name] = value
            return self._changed(i)

    def remove_finding(self, finding_id: int) -> None:
        """The finding disappears from every listing (as when Qualys purges it)."""
        with self.lock:
            self._removed.add(self._require(finding_id))
            self.version += 1

    def add_finding(
        self,
        webapp_id: int,
        qid: int | None = None,
        status: str | None = "NEW",
        when: datetime | None = None,
        finding_type: str | None = None,
    ) -> FindingRecord:
        """A scan at `when` detects a new finding (id above every existing one): first, last
        detected and last tested at `when`, timesDetected 1, one history entry. Without `qid`,
        the first QID the KB knows of `finding_type` (default VULNERABILITY); an
        INFORMATION_GATHERED QID makes a finding without status."""
        with self.lock:
            w = self._apps.position(webapp_id)
            if qid is None:
                wanted = finding_type or "VULNERABILITY"
                qid = next(
                    (q for q, p in sorted(self._profiles.items()) if p.in_kb and p.type == wanted),
                    None,
                )
                if qid is None:
                    raise ValueError(f"no QID of type {wanted!r} in the pool")
            profile = self._profiles.get(qid)
            if profile is None:
                raise KeyError(f"QID {qid} is not in the data set's QID pool")
            cols = self._cols
            new_id = (cols.ids[-1] if len(cols) else FIRST_FINDING_ID - 1) + 1
            i = events.append_finding(self, new_id, w, profile, status, self._when(when))
            return self._changed(i)

    # ------------------------------------------------------------------ web app events
    def add_webapp(
        self,
        name: str | None = None,
        url: str | None = None,
        tags: Sequence[Tag] = (),
        attributes: Sequence[tuple[str, str]] = (),
        when: datetime | None = None,
    ) -> WebAppRecord:
        """Append a new, never scanned web app (id above every existing one)."""
        with self.lock:
            record = self._apps.add(name, url, tags, attributes, self._when(when))
            self._blocks.append((0, 0))
            self.version += 1
            return record

    def update_webapp(self, webapp_id: int, **fields: Any) -> WebAppRecord:
        """Replace fields of a web app (name, url, tags, attributes, updated_date, last_scan)."""
        with self.lock:
            record = self._apps.update(webapp_id, **fields)
            self.version += 1
            return record

    def remove_webapp(self, webapp_id: int) -> None:
        """The web app and all its findings disappear from every listing."""
        with self.lock:
            self._apps.remove(webapp_id)
            self.version += 1

    def rescan_webapp(
        self,
        webapp_id: int,
        when: datetime | None = None,
        fixed: Iterable[int] = (),
        reopened: Iterable[int] = (),
    ) -> events.Rescan:
        """One scan at `when` tests every finding of the web app: the `fixed` ids (open ones)
        become FIXED, the `reopened` ids (fixed ones) REOPENED, every other finding is retested
        with its status unchanged; the web app's lastScan becomes this scan."""
        with self.lock:
            result = events.rescan(self, webapp_id, self._when(when), set(fixed), set(reopened))
            self.version += 1
            return result

    def simulate_day(
        self,
        rng_seed: int,
        when: datetime,
        share: float = 0.05,
        *,
        rescans: int = 1,
        removed_webapps: int = 0,
    ) -> DayChanges:
        """A realistic day of changes to about `share` of the findings, ending at `when`: see
        `connector.simulator.day`; returns what changed, by kind."""
        return simulate_day(
            self, rng_seed, when, share, rescans=rescans, removed_webapps=removed_webapps
        )

    # ------------------------------------------------------------------ KB events
    def set_kb_modified(self, qid: int, when: datetime) -> KbEntry:
        """Change a KB entry's LAST_SERVICE_MODIFICATION_DATETIME."""
        return self.update_kb_entry(qid, last_modified=when)

    def update_kb_entry(self, qid: int, **fields: Any) -> KbEntry:
        """Replace fields of a KB entry (title, diagnosis, solution, cvss, last_modified, ...)."""
        with self.lock:
            entry = self._kb.get(qid)
            if entry is None:
                raise KeyError(f"QID {qid} is not in the KB")
            self._kb[qid] = dataclasses.replace(entry, **fields)
            self.version += 1
            return self._kb[qid]

    # ------------------------------------------------------------------ for events.py and day.py
    @property
    def columns(self) -> FindingColumns:
        """The finding columns (read them freely; write only through the events)."""
        return self._cols

    def touch(self, i: int) -> dict[str, Any]:
        """The override dict of position `i`, with its generated history and timesDetected
        pinned first, so that changing its columns leaves them as they were."""
        patch = self._patches.setdefault(i, {})
        if "history" not in patch or "times_detected" not in patch:
            base = self._record(i)
            patch.setdefault("history", base.history)
            patch.setdefault("times_detected", base.times_detected)
        return patch

    def new_scan(self, when: datetime) -> HistoryScan:
        """A scan that ended at `when` (launched 20 minutes before), with a fresh id."""
        self._next_scan += 1
        launched = when - events.SCAN_LENGTH
        reference = f"was/{int(launched.timestamp() * 1000)}.{self._next_scan % 100_000:05d}"
        return HistoryScan(scan_id=self._next_scan, reference=reference, launched=launched)

    def positions_of_webapp(self, webapp_id: int) -> list[int]:
        """Visible positions of one web app's findings, ascending."""
        plan = self._plan((Criterion("webApp.id", "EQUALS", (webapp_id,)),))
        return [i for chunk in plan.chunks() for i in chunk]

    def webapp_position(self, webapp_id: int) -> int:
        """The `wa` column's code of a listed web app; KeyError when there is none."""
        return self._apps.position(webapp_id)

    def webapp_at(self, w: int) -> WebAppRecord:
        return self._apps.records[w]

    def replace_webapp_at(self, w: int, record: WebAppRecord) -> None:
        self._apps.records[w] = record

    def position_of(self, finding_id: int) -> int:
        """The position of a listed finding; KeyError when there is none."""
        return self._require(finding_id)

    # ------------------------------------------------------------------ internals
    def _when(self, when: datetime | None) -> datetime:
        return self.now if when is None else when

    def _plan(self, criteria: Sequence[Criterion]) -> Plan:
        tenant = Tenant(
            wa_index=self._apps.index,
            blocks=self._blocks,
            base_n=self._base_n,
            severities=self._severities,
            removed=self._removed,
            removed_wa=self._apps.removed,
        )
        return plan_findings(self._cols, tenant, criteria)

    def _record(self, i: int, brief: bool = False) -> FindingRecord:
        cols = self._cols
        return generate_record(
            self.seed,
            i,
            cols,
            self._apps.records[cols.wa[i]],
            self._profiles[cols.qids[i]],
            brief,
            self._patches.get(i),
        )

    def _changed(self, i: int) -> FindingRecord:
        self.version += 1
        return self._record(i)

    def _index_of(self, finding_id: int) -> int | None:
        ids = self._cols.ids
        i = bisect_left(ids, finding_id)
        return i if i < len(ids) and ids[i] == finding_id else None

    def _require(self, finding_id: int) -> int:
        i = self._index_of(finding_id)
        if i is None or not self._visible(i):
            raise KeyError(f"no finding {finding_id}")
        return i

    def _visible(self, i: int) -> bool:
        return i not in self._removed and self._cols.wa[i] not in self._apps.removed
