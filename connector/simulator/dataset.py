"""The simulator's data: a seeded, generated Qualys tenant (web apps, findings, KB), mutable.

Findings are kept as compact parallel arrays (id, web app, QID, type, status, ignored reason); every
other field is generated on demand from `(seed, index)`, so a 250,000-finding set costs a few MB and
one page of 1,000 findings is rendered in milliseconds. Mutations are a sparse layer on top: changed
array cells, a per-finding dict of field overrides, appended findings and removed indices.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import random
import struct
import threading
import uuid
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

NOW = datetime(2024, 6, 1, tzinfo=UTC)
"""The generated data set's clock: every generated date lies before it."""

FIRST_WEBAPP_ID = 238483924
FIRST_FINDING_ID = 6816386
OWNER_ID = 17729931

FINDING_TYPES = ("VULNERABILITY", "SENSITIVE_CONTENT", "INFORMATION_GATHERED")
VULNERABILITY, SENSITIVE_CONTENT, INFORMATION_GATHERED = range(3)
STATUSES = (None, "NEW", "ACTIVE", "REOPENED", "FIXED", "PROTECTED")
"""Index 0 is "no status" (information gathered findings have none)."""
IGNORED_REASONS = (None, "FALSE_POSITIVE", "RISK_ACCEPTED", "NOT_APPLICABLE")
FIXED_STATUSES = frozenset({"FIXED", "PROTECTED"})

_STATUS_WEIGHTS = ((1, 0.18), (2, 0.47), (3, 0.08), (4, 0.22), (5, 0.05))
_ATTACK_VECTORS = (("Network", "N"), ("Adjacent Network", "A"), ("Local", "L"), ("Physical", "P"))
_BOUNDARY_SCORES = (0.0, 0.1, 3.9, 4.0, 6.9, 7.0, 8.9, 9.0, 10.0)
_SEVERITY_CVSS = {1: (0.1, 3.9), 2: (2.0, 5.5), 3: (4.0, 6.9), 4: (7.0, 8.9), 5: (9.0, 10.0)}

_VULN_TITLES = (
    ("Cross-Site Scripting (XSS)", 79),
    ("SQL Injection", 89),
    ("Blind SQL Injection", 89),
    ("Path Traversal", 22),
    ("OS Command Injection", 78),
    ("Clickjacking - Framable Page", 1021),
    ("Cross-Site Request Forgery", 352),
    ("Open Redirect", 601),
    ("Server-Side Request Forgery", 918),
    ("XML External Entity Injection", 611),
    ("Insecure Deserialization", 502),
    ("Session Cookie Without Secure Flag", 614),
    ("Cookie Without HttpOnly Flag", 1004),
    ("Path-relative stylesheet import (PRSSI) vulnerability", 20),
    ("Vulnerable JavaScript Library", 1104),
    ("HTTP Strict Transport Security Not Enabled", 523),
    ("Content Security Policy Not Implemented", 693),
    ("Directory Listing Enabled", 548),
    ("Weak TLS Cipher Suites", 326),
    ("Server Version Disclosure", 200),
)
_SENSITIVE_TITLES = (
    ("Credit Card Number Disclosed", 359),
    ("Social Security Number Disclosed", 359),
    ("Email Address Disclosed", 200),
    ("Private Key Disclosed", 321),
    ("Internal IP Address Disclosed", 200),
)
_INFO_TITLES = (
    "Information Disclosure via Response Header",
    "In-scope JavaScript Libraries Detected",
    "Missing header: Referrer-Policy",
    "Email Addresses Collected",
    "Web Server and Technologies Detected",
    "Links Rejected By Crawl Scope or Exclusion List",
    "Scan Diagnostics",
    "Forms Crawled",
    "Links With High Resource Consumption",
    "Host Scan Time - Scanner",
)
_OWASP = (
    ("Broken Access Control", "https://owasp.org/Top10/A01_2021-Broken_Access_Control/", "1"),
    ("Cryptographic Failures", "https://owasp.org/Top10/A02_2021-Cryptographic_Failures/", "2"),
    ("Injection", "https://owasp.org/Top10/A03_2021-Injection/", "3"),
    ("Insecure Design", "https://owasp.org/Top10/A04_2021-Insecure_Design/", "4"),
    (
        "Security Misconfiguration",
        "https://owasp.org/Top10/A05_2021-Security_Misconfiguration/",
        "5",
    ),
    ("Vulnerable and Outdated Components", "https://owasp.org/Top10/A06_2021/", "6"),
)
_WASC = (
    ("Cross-site Scripting", "http://projects.webappsec.org/Cross-Site-Scripting", "8"),
    ("SQL Injection", "http://projects.webappsec.org/SQL-Injection", "19"),
    ("Path Traversal", "http://projects.webappsec.org/Path-Traversal", "33"),
    ("Information Leakage", "http://projects.webappsec.org/Information-Leakage", "13"),
    (
        "Application Misconfiguration",
        "http://projects.webappsec.org/Application-Misconfiguration",
        "15",
    ),
)
_TAGS = ("Production", "Staging", "Internal", "PCI", "Team Payments", "Team Web", "Critical", "EU")
_ATTRIBUTES = (
    ("Business Unit", ("Finance", "Retail", "HR", "Engineering")),
    ("Owner", ("alice@example.com", "bob@example.com", "carol@example.com")),
    ("Criticality", ("High", "Medium", "Low")),
    ("Environment", ("prod", "test")),
)
_HOSTS = ("shop", "portal", "api", "intranet", "blog", "payments", "auth", "docs", "crm", "hr")
_PATHS = (
    "/",
    "/login",
    "/search",
    "/cart/add",
    "/api/v1/items",
    "/profile/edit",
    "/docs/",
    "/admin",
)
_PARAMS = ("q", "id", "redirect", "user", "page", "file", "token", "callback")
_IGNORED_COMMENTS = (
    "Accepted by the application owner",
    "Verified manually",
    "Compensating control",
)


@dataclass(frozen=True, slots=True)
class Tag:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class LastScan:
    id: int
    name: str
    date: datetime


@dataclass(frozen=True, slots=True)
class WebAppRecord:
    id: int
    name: str
    url: str
    tags: tuple[Tag, ...]
    attributes: tuple[tuple[str, str], ...]
    created_date: datetime
    updated_date: datetime
    last_scan: LastScan | None
    owner_id: int = OWNER_ID


@dataclass(frozen=True, slots=True)
class Reference:
    """An OWASP or WASC classification."""

    name: str
    url: str
    code: str


@dataclass(frozen=True, slots=True)
class Cvss3:
    base: float
    temporal: float
    attack_vector: str
    vector_string: str


@dataclass(frozen=True, slots=True)
class QidProfile:
    """What every finding of one QID shares (name, type, severity, classifications, CVSS)."""

    qid: int
    type: str
    name: str
    severity: int
    cwe: tuple[int, ...]
    owasp: tuple[Reference, ...]
    wasc: tuple[Reference, ...]
    cvss: Cvss3 | None
    in_kb: bool


@dataclass(frozen=True, slots=True)
class KbEntry:
    qid: int
    vuln_type: str
    severity: int
    title: str
    category: str
    published: datetime
    last_modified: datetime
    cves: tuple[str, ...]
    diagnosis: str
    consequence: str
    solution: str
    cvss: Cvss3 | None


@dataclass(frozen=True, slots=True)
class HistoryScan:
    scan_id: int
    reference: str
    launched: datetime


@dataclass(frozen=True, slots=True)
class FindingRecord:
    """One finding as the simulator serves it; `None` means the element is absent."""

    id: int
    unique_id: str
    qid: int
    name: str
    type: str
    severity: int
    potential: bool
    url: str | None
    param: str | None
    status: str | None
    is_ignored: bool | None
    ignored_reason: str | None
    ignored_date: datetime | None
    ignored_comment: str | None
    cvss: Cvss3 | None
    cwe: tuple[int, ...]
    owasp: tuple[Reference, ...]
    wasc: tuple[Reference, ...]
    first_detected: datetime
    last_detected: datetime
    last_tested: datetime
    times_detected: int | None
    fixed_date: datetime | None
    updated_date: datetime
    history: tuple[HistoryScan, ...]
    webapp_id: int
    webapp_name: str
    webapp_url: str
    payload: str


@dataclass(frozen=True, slots=True)
class Criterion:
    """One parsed filter: `field operator values`, values already converted to int or str."""

    field: str
    operator: str
    values: tuple[int | str, ...]


Predicate = Callable[[int], bool]
_OPS: dict[str, Callable[[Any, tuple[Any, ...]], bool]] = {
    "EQUALS": lambda v, a: v == a[0],
    "NOT EQUALS": lambda v, a: v != a[0],
    "GREATER": lambda v, a: v is not None and v > a[0],
    "LESSER": lambda v, a: v is not None and v < a[0],
    "IN": lambda v, a: v in a,
    "CONTAINS": lambda v, a: v is not None and str(a[0]).lower() in str(v).lower(),
}


class Dataset:
    """A generated Qualys WAS tenant. Build one with `Dataset.generate(...)`; thread-safe."""

    def __init__(
        self,
        *,
        seed: int,
        webapps: list[WebAppRecord],
        profiles: dict[int, QidProfile],
        kb: dict[int, KbEntry],
        ids: array[int],
        wa: array[int],
        qids: array[int],
        types: array[int],
        statuses: array[int],
        ignored: array[int],
        blocks: list[tuple[int, int]],
        now: datetime = NOW,
    ) -> None:
        self.seed = seed
        self.now = now
        self.lock = threading.RLock()
        self.version = 0
        self._webapps = webapps
        self._wa_index = {w.id: i for i, w in enumerate(webapps)}
        self._removed_webapps: set[int] = set()
        self._profiles = profiles
        self._kb = kb
        self._ids = ids
        self._wa = wa
        self._qids = qids
        self._types = types
        self._statuses = statuses
        self._ignored = ignored
        self._blocks = blocks
        self._base_n = len(ids)
        self._removed: set[int] = set()
        self._patches: dict[int, dict[str, Any]] = {}
        self._count_cache: dict[tuple[object, ...], int] = {}

    # ------------------------------------------------------------------ generation
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
        rng = random.Random(seed)  # noqa: S311 - seeded test data, not secrets
        profiles, kb, by_type, unknown = _generate_qids(rng, qid_pool, unknown_qids, now)
        apps = _generate_webapps(rng, webapps, now)
        scanned = [i for i, w in enumerate(apps) if w.last_scan is not None]
        counts = _split(rng, findings, len(apps), scanned)

        ids: array[int] = array("q")
        wa: array[int] = array("l")
        qids: array[int] = array("l")
        types: array[int] = array("b")
        statuses: array[int] = array("b")
        ignored: array[int] = array("b")
        blocks: list[tuple[int, int]] = []
        next_id = FIRST_FINDING_ID
        rand, choice = rng.random, rng.choice
        vuln_pool, sc_pool, ig_pool = by_type
        status_codes = [c for c, _ in _STATUS_WEIGHTS]
        status_cum = list(_cumulative(w for _, w in _STATUS_WEIGHTS))
        for w_index, count in enumerate(counts):
            start = len(ids)
            for _ in range(count):
                ids.append(next_id)
                next_id += 1 + int(rand() * 3)
                wa.append(w_index)
                if rand() < informational_share:
                    types.append(INFORMATION_GATHERED)
                    qids.append(choice(ig_pool))
                    statuses.append(0)
                    ignored.append(0)
                    continue
                kind = SENSITIVE_CONTENT if rand() < 0.12 else VULNERABILITY
                types.append(kind)
                qids.append(choice(sc_pool if kind == SENSITIVE_CONTENT else vuln_pool))
                statuses.append(status_codes[bisect_right(status_cum, rand() * status_cum[-1])])
                ignored.append(1 + int(rand() * 3) if rand() < 0.03 else 0)
            blocks.append((start, len(ids)))
        # Make sure every QID the KB does not know is used by at least one finding.
        for k, qid in enumerate(unknown):
            for i in range((k + 1) * len(ids) // (len(unknown) + 1), len(ids)):
                if types[i] == VULNERABILITY:
                    qids[i] = qid
                    break
        return cls(
            seed=seed,
            webapps=apps,
            profiles=profiles,
            kb=kb,
            ids=ids,
            wa=wa,
            qids=qids,
            types=types,
            statuses=statuses,
            ignored=ignored,
            blocks=blocks,
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
            return [w for i, w in enumerate(self._webapps) if i not in self._removed_webapps]

    def webapp(self, webapp_id: int) -> WebAppRecord | None:
        with self.lock:
            i = self._wa_index.get(webapp_id)
            if i is None or i in self._removed_webapps:
                return None
            return self._webapps[i]

    def finding_count(self) -> int:
        """How many findings the tenant currently lists (every type)."""
        return self.count_findings(())

    def finding_ids(self) -> list[int]:
        """Every current finding id, ascending."""
        with self.lock:
            return [self._ids[i] for i in self._scan(((0, len(self._ids)),), [])]

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
        self, criteria: Sequence[Criterion], limit: int, skip: int = 0
    ) -> tuple[list[FindingRecord], bool]:
        """Up to `limit` matches by ascending id after skipping `skip`, and whether more match."""
        with self.lock:
            ranges, preds = self._finding_plan(criteria)
            hits: list[int] = []
            for i in self._scan(ranges, preds):
                if skip:
                    skip -= 1
                    continue
                hits.append(i)
                if len(hits) > limit:
                    break
            return [self._record(i) for i in hits[:limit]], len(hits) > limit

    def count_findings(self, criteria: Sequence[Criterion]) -> int:
        with self.lock:
            key = (self.version, *((c.field, c.operator, c.values) for c in criteria))
            cached = self._count_cache.get(key)
            if cached is None:
                ranges, preds = self._finding_plan(criteria)
                cached = sum(1 for _ in self._scan(ranges, preds))
                if len(self._count_cache) > 4096:
                    self._count_cache.clear()
                self._count_cache[key] = cached
            return cached

    def search_webapps(
        self, criteria: Sequence[Criterion], limit: int, skip: int = 0
    ) -> tuple[list[WebAppRecord], bool]:
        """Up to `limit` matches by ascending id after skipping `skip`, and whether more match."""
        matches = self._matching_webapps(criteria)[skip:]
        return matches[:limit], len(matches) > limit

    def count_webapps(self, criteria: Sequence[Criterion]) -> int:
        return len(self._matching_webapps(criteria))

    # ------------------------------------------------------------------ mutations
    def set_finding_status(
        self, finding_id: int, status: str, when: datetime | None = None
    ) -> FindingRecord:
        """Give a finding a new Qualys status as a rescan at `when` would (FIXED sets fixedDate)."""
        if status not in STATUSES or status is None:
            raise ValueError(f"unknown status {status!r}")
        when = when or self.now
        with self.lock:
            i = self._require(finding_id)
            if self._types[i] == INFORMATION_GATHERED:
                raise ValueError("information gathered findings have no status")
            self._statuses[i] = STATUSES.index(status)
            patch = self._patches.setdefault(i, {})
            patch.update(last_tested=when, updated_date=when)
            if status in FIXED_STATUSES:
                patch["fixed_date"] = when
            else:
                patch.update(fixed_date=None, last_detected=when)
            return self._changed(i)

    def set_finding_ignored(
        self, finding_id: int, reason: str | None, when: datetime | None = None
    ) -> FindingRecord:
        """Ignore a finding (FALSE_POSITIVE, RISK_ACCEPTED, NOT_APPLICABLE), or un-ignore (None)."""
        if reason not in IGNORED_REASONS:
            raise ValueError(f"unknown ignored reason {reason!r}")
        with self.lock:
            i = self._require(finding_id)
            if self._types[i] == INFORMATION_GATHERED:
                raise ValueError("information gathered findings cannot be ignored")
            self._ignored[i] = IGNORED_REASONS.index(reason)
            self._patches.setdefault(i, {}).update(
                ignored_date=(when or self.now) if reason else None, updated_date=when or self.now
            )
            return self._changed(i)

    def update_finding(self, finding_id: int, **fields: Any) -> FindingRecord:
        """Override other `FindingRecord` fields (e.g. `last_tested`, `cvss=None`, `severity`)."""
        unknown = set(fields) - {f.name for f in dataclasses.fields(FindingRecord)}
        blocked = {"id", "qid", "type", "status", "is_ignored", "ignored_reason", "webapp_id"}
        if unknown or blocked & set(fields):
            raise ValueError(f"cannot override {sorted(unknown | (blocked & set(fields)))}")
        with self.lock:
            i = self._require(finding_id)
            self._patches.setdefault(i, {}).update(fields)
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
    ) -> FindingRecord:
        """Append a new finding (id above every existing one) detected at `when`."""
        when = when or self.now
        with self.lock:
            w = self._wa_index.get(webapp_id)
            if w is None or w in self._removed_webapps:
                raise KeyError(f"no web app {webapp_id}")
            if qid is None:
                qid = next(q for q, p in sorted(self._profiles.items()) if p.in_kb)
            profile = self._profiles.get(qid)
            if profile is None:
                raise KeyError(f"QID {qid} is not in the data set's QID pool")
            kind = FINDING_TYPES.index(profile.type)
            if kind == INFORMATION_GATHERED:
                status = None
            elif status is None or status not in STATUSES:
                raise ValueError(f"a {profile.type} finding needs a status, got {status!r}")
            i = len(self._ids)
            self._ids.append((self._ids[-1] if self._ids else FIRST_FINDING_ID) + 1)
            self._wa.append(w)
            self._qids.append(qid)
            self._types.append(kind)
            self._statuses.append(STATUSES.index(status))
            self._ignored.append(0)
            self._patches[i] = {
                "first_detected": when,
                "last_detected": when,
                "last_tested": when,
                "updated_date": when,
                "fixed_date": when if status in FIXED_STATUSES else None,
                "times_detected": None if kind == INFORMATION_GATHERED else 1,
                "history": (HistoryScan(5_000_000 + i, f"was/{i}", when - timedelta(minutes=20)),),
            }
            return self._changed(i)

    def add_webapp(
        self,
        name: str | None = None,
        url: str | None = None,
        tags: Sequence[Tag] = (),
        attributes: Sequence[tuple[str, str]] = (),
        when: datetime | None = None,
    ) -> WebAppRecord:
        """Append a new, never scanned web app (id above every existing one)."""
        when = when or self.now
        with self.lock:
            new_id = (self._webapps[-1].id if self._webapps else FIRST_WEBAPP_ID - 1) + 1
            n = len(self._webapps)
            record = WebAppRecord(
                id=new_id,
                name=name or f"New application {n + 1}",
                url=url or f"https://new{n + 1}.example.com/",
                tags=tuple(tags),
                attributes=tuple(attributes),
                created_date=when,
                updated_date=when,
                last_scan=None,
            )
            self._webapps.append(record)
            self._wa_index[new_id] = n
            self._blocks.append((0, 0))
            self.version += 1
            return record

    def update_webapp(self, webapp_id: int, **fields: Any) -> WebAppRecord:
        """Replace fields of a web app (name, url, tags, attributes, updated_date, last_scan)."""
        if "id" in fields:
            raise ValueError("a web app's id cannot change")
        with self.lock:
            w = self._wa_index.get(webapp_id)
            if w is None or w in self._removed_webapps:
                raise KeyError(f"no web app {webapp_id}")
            self._webapps[w] = dataclasses.replace(self._webapps[w], **fields)
            self.version += 1
            return self._webapps[w]

    def remove_webapp(self, webapp_id: int) -> None:
        """The web app and all its findings disappear from every listing."""
        with self.lock:
            w = self._wa_index.get(webapp_id)
            if w is None:
                raise KeyError(f"no web app {webapp_id}")
            self._removed_webapps.add(w)
            self.version += 1

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

    # ------------------------------------------------------------------ internals
    def _changed(self, i: int) -> FindingRecord:
        self.version += 1
        return self._record(i)

    def _index_of(self, finding_id: int) -> int | None:
        i = bisect_left(self._ids, finding_id)
        return i if i < len(self._ids) and self._ids[i] == finding_id else None

    def _require(self, finding_id: int) -> int:
        i = self._index_of(finding_id)
        if i is None or not self._visible(i):
            raise KeyError(f"no finding {finding_id}")
        return i

    def _visible(self, i: int) -> bool:
        return i not in self._removed and self._wa[i] not in self._removed_webapps

    def _scan(self, ranges: Iterable[tuple[int, int]], preds: list[Predicate]) -> Iterator[int]:
        removed, removed_wa, wa = self._removed, self._removed_webapps, self._wa
        for start, end in ranges:
            for i in range(start, end):
                if removed and i in removed:
                    continue
                if removed_wa and wa[i] in removed_wa:
                    continue
                if all(p(i) for p in preds):
                    yield i

    def _finding_plan(
        self, criteria: Sequence[Criterion]
    ) -> tuple[list[tuple[int, int]], list[Predicate]]:
        """Turn criteria into index ranges to visit (ascending id) and per-index predicates."""
        n = len(self._ids)
        lo, hi = 0, n
        ranges: list[tuple[int, int]] | None = None
        preds: list[Predicate] = []
        for c in criteria:
            op, vals = c.operator, c.values
            if c.field == "id" and op == "GREATER":
                lo = max(lo, bisect_right(self._ids, vals[0]))
            elif c.field == "id" and op == "LESSER":
                hi = min(hi, bisect_left(self._ids, vals[0]))
            elif c.field == "id" and op in ("EQUALS", "IN"):
                found = sorted({i for v in vals if (i := self._index_of(int(v))) is not None})
                ranges = _intersect(ranges, [(i, i + 1) for i in found])
            elif c.field == "webApp.id" and op in ("EQUALS", "IN"):
                ws = sorted({w for v in vals if (w := self._wa_index.get(int(v))) is not None})
                blocks = [self._blocks[w] for w in ws if self._blocks[w][1] > self._blocks[w][0]]
                blocks.append((self._base_n, n))
                ranges = _intersect(ranges, blocks)
                preds.append(_pred(self._wa, frozenset(ws), "IN"))
            else:
                preds.append(self._finding_predicate(c))
        visit = ranges if ranges is not None else [(0, n)]
        return [(max(s, lo), min(e, hi)) for s, e in visit if max(s, lo) < min(e, hi)], preds

    def _finding_predicate(self, c: Criterion) -> Predicate:
        op, vals = c.operator, c.values
        if c.field == "id":
            return _pred(self._ids, vals, op)
        if c.field == "qid":
            return _pred(self._qids, vals, op)
        if c.field == "webApp.id":
            codes = tuple(self._wa_index.get(int(v), -1) for v in vals)
            return _pred(self._wa, codes, op)
        if c.field == "type":
            return _pred(self._types, tuple(FINDING_TYPES.index(str(v)) for v in vals), op)
        if c.field == "status":
            return _pred(self._statuses, tuple(STATUSES.index(str(v)) for v in vals), op)
        if c.field == "severity":
            profiles, qids = self._profiles, self._qids

            def severity(i: int) -> bool:
                return _OPS[op](profiles[qids[i]].severity, vals)

            return severity
        raise ValueError(f"unsupported finding criterion {c.field}")

    def _matching_webapps(self, criteria: Sequence[Criterion]) -> list[WebAppRecord]:
        with self.lock:
            apps = [w for i, w in enumerate(self._webapps) if i not in self._removed_webapps]
        for c in criteria:
            getter: Callable[[WebAppRecord], object] = {
                "id": lambda w: w.id,
                "name": lambda w: w.name,
                "url": lambda w: w.url,
            }[c.field]
            test = _OPS[c.operator]
            apps = [w for w in apps if test(getter(w), c.values)]
        return apps

    def _record(self, i: int) -> FindingRecord:
        record = self._generate_record(i)
        patch = self._patches.get(i)
        return dataclasses.replace(record, **patch) if patch else record

    def _generate_record(self, i: int) -> FindingRecord:
        r = _Draws(self.seed, i)
        app = self._webapps[self._wa[i]]
        profile = self._profiles[self._qids[i]]
        kind = self._types[i]
        status = STATUSES[self._statuses[i]]
        ignored_reason = IGNORED_REASONS[self._ignored[i]]
        unique_id = str(uuid.UUID(int=r.bits128(), version=4))
        scan_date = app.last_scan.date if app.last_scan else self.now - timedelta(days=1)
        if status == "NEW":
            first = scan_date - timedelta(seconds=r.randint(0, 3600))
        else:
            first = scan_date - timedelta(seconds=r.randint(3600, 400 * 86400))
        last_detected = scan_date
        fixed_date = None
        if status in FIXED_STATUSES:
            last_detected = first + timedelta(
                seconds=int((scan_date - first).total_seconds() * 0.9 * r.random())
            )
            fixed_date = scan_date
        history: tuple[HistoryScan, ...] = ()
        if r.random() < 0.85:
            span = int((scan_date - first).total_seconds())
            launches = [first - timedelta(seconds=r.randint(60, 1800))]
            launches += sorted(
                first + timedelta(seconds=r.randint(0, span)) for _ in range(r.randint(0, 2))
            )
            history = tuple(
                HistoryScan(
                    scan_id=3_000_000 + r.randint(0, 999_999),
                    reference=f"was/{int(d.timestamp() * 1000)}.{r.randint(10_000, 99_999)}",
                    launched=d,
                )
                for d in launches
            )
        informational = kind == INFORMATION_GATHERED
        base_url = app.url.rstrip("/")
        url = None if informational else base_url + r.choice(_PATHS)
        param = r.choice(_PARAMS) if kind == VULNERABILITY and r.random() < 0.6 else None
        cvss = profile.cvss if profile.cvss is not None and r.random() < 0.85 else None
        if informational:
            payload = (
                f"Detected on {base_url}/ during the crawl.\n{profile.name}: {r.randint(1, 99)}"
            )
        else:
            raw = f"HTTP/1.1 200 OK\r\nServer: nginx\r\n\r\n<html>{'x' * r.randint(40, 160)}</html>"
            payload = base64.b64encode(raw.encode()).decode()
        return FindingRecord(
            id=self._ids[i],
            unique_id=unique_id,
            qid=profile.qid,
            name=profile.name,
            type=profile.type,
            severity=profile.severity,
            potential=(not informational) and r.random() < 0.05,
            url=url,
            param=param,
            status=status,
            is_ignored=None if informational else ignored_reason is not None,
            ignored_reason=ignored_reason,
            ignored_date=first + timedelta(days=1) if ignored_reason else None,
            ignored_comment=r.choice(_IGNORED_COMMENTS) if ignored_reason else None,
            cvss=cvss,
            cwe=profile.cwe,
            owasp=profile.owasp,
            wasc=profile.wasc,
            first_detected=first,
            last_detected=last_detected,
            last_tested=scan_date,
            times_detected=None if informational else (1 if status == "NEW" else r.randint(2, 40)),
            fixed_date=fixed_date,
            updated_date=scan_date,
            history=history,
            webapp_id=app.id,
            webapp_name=app.name,
            webapp_url=app.url,
            payload=payload,
        )


class _Draws:
    """Cheap deterministic random draws for one finding, from a hash of (seed, index).

    Seeding a `random.Random` per finding costs more than everything else a finding needs.
    """

    __slots__ = ("_key", "_pos", "_round", "_values")

    def __init__(self, seed: int, index: int) -> None:
        self._key = f"{seed}:{index}".encode()
        self._round = 0
        self._refill()

    def _refill(self) -> None:
        digest = hashlib.blake2b(self._key + bytes([self._round]), digest_size=64).digest()
        self._values: tuple[int, ...] = struct.unpack("<16I", digest)
        self._pos = 0
        self._round += 1

    def random(self) -> float:
        if self._pos == 16:
            self._refill()
        value = self._values[self._pos]
        self._pos += 1
        return value / 4294967296.0

    def randint(self, low: int, high: int) -> int:
        return low + int(self.random() * (high - low + 1))

    def choice(self, options: Sequence[str]) -> str:
        return options[int(self.random() * len(options))]

    def bits128(self) -> int:
        value = 0
        for _ in range(4):
            value = (value << 32) | int(self.random() * 4294967296.0)
        return value


# ---------------------------------------------------------------------- helpers
def _pred(column: Sequence[int], vals: tuple[Any, ...] | frozenset[int], op: str) -> Predicate:
    if op == "IN":
        wanted = frozenset(vals)
        return lambda i: column[i] in wanted
    values = tuple(vals)
    test = _OPS[op]
    return lambda i: test(column[i], values)


def _intersect(
    current: list[tuple[int, int]] | None, new: list[tuple[int, int]]
) -> list[tuple[int, int]]:
    new = sorted(new)
    if current is None:
        return new
    out = []
    for s1, e1 in current:
        for s2, e2 in new:
            s, e = max(s1, s2), min(e1, e2)
            if s < e:
                out.append((s, e))
    return sorted(out)


def _cumulative(weights: Iterable[float]) -> Iterator[float]:
    total = 0.0
    for w in weights:
        total += w
        yield total


def _date(rng: random.Random, newest: datetime, max_days_back: float) -> datetime:
    return (newest - timedelta(seconds=rng.uniform(0, max_days_back * 86400))).replace(
        microsecond=0
    )


def _cvss(rng: random.Random, severity: int) -> Cvss3:
    if rng.random() < 0.12:
        base = rng.choice(_BOUNDARY_SCORES)
    else:
        low, high = _SEVERITY_CVSS[severity]
        base = round(rng.uniform(low, high), 1)
    name, letter = _ATTACK_VECTORS[0] if rng.random() < 0.85 else rng.choice(_ATTACK_VECTORS)
    vector = f"CVSS:3.1/AV:{letter}/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N"
    return Cvss3(base, round(base * rng.uniform(0.88, 0.98), 1), name, vector)


def _references(
    rng: random.Random, table: tuple[tuple[str, str, str], ...], most: int
) -> tuple[Reference, ...]:
    return tuple(Reference(*row) for row in rng.sample(table, rng.randint(0, most)))


def _generate_qids(
    rng: random.Random, pool: int, unknown: int, now: datetime
) -> tuple[dict[int, QidProfile], dict[int, KbEntry], tuple[list[int], ...], list[int]]:
    numbers = sorted(rng.sample(range(150000, 150000 + max(2000, pool * 4)), pool))
    order = numbers[:]
    rng.shuffle(order)
    n_info, n_sens = max(1, pool // 5), max(1, pool // 10)
    kinds = {q: INFORMATION_GATHERED for q in order[:n_info]}
    kinds.update({q: SENSITIVE_CONTENT for q in order[n_info : n_info + n_sens]})
    kinds.update({q: VULNERABILITY for q in order[n_info + n_sens :]})
    vuln = [q for q in numbers if kinds[q] == VULNERABILITY]
    unknown_set = set(rng.sample(vuln, unknown))
    profiles: dict[int, QidProfile] = {}
    kb: dict[int, KbEntry] = {}
    seen: dict[str, int] = {}
    tricky_done = False
    for q in numbers:
        kind = kinds[q]
        if kind == INFORMATION_GATHERED:
            title, cwe = rng.choice(_INFO_TITLES), 0
            severity = rng.choice((1, 1, 1, 2, 3))
        else:
            title, cwe = rng.choice(
                _SENSITIVE_TITLES if kind == SENSITIVE_CONTENT else _VULN_TITLES
            )
            severity = rng.randint(1, 5)
        seen[title] = seen.get(title, 0) + 1
        name = title if seen[title] == 1 else f"{title} ({seen[title]})"
        cvss = (
            _cvss(rng, severity) if kind != INFORMATION_GATHERED and rng.random() < 0.85 else None
        )
        profiles[q] = QidProfile(
            qid=q,
            type=FINDING_TYPES[kind],
            name=name,
            severity=severity,
            cwe=(cwe,) if cwe else (),
            owasp=() if kind == INFORMATION_GATHERED else _references(rng, _OWASP, 2),
            wasc=() if kind == INFORMATION_GATHERED else _references(rng, _WASC, 2),
            cvss=cvss,
            in_kb=q not in unknown_set,
        )
        if q in unknown_set:
            continue
        published = _date(rng, now - timedelta(days=30), 3000)
        modified = _date(rng, now - timedelta(days=1), (now - published).days - 1)
        diagnosis = (
            f"<P>{name} was detected. The application does not validate "
            f"&quot;untrusted&quot; input before it reaches a sensitive sink.</P>"
        )
        if not tricky_done and kind == VULNERABILITY:
            diagnosis += (
                "<P>A payload such as <CODE>]]&gt;</CODE> or ]]> may end a CDATA section.</P>"
            )
            tricky_done = True
        kb[q] = KbEntry(
            qid=q,
            vuln_type=(
                "Information Gathered"
                if kind == INFORMATION_GATHERED
                else "Potential Vulnerability"
            )
            if kind == INFORMATION_GATHERED or rng.random() < 0.2
            else "Vulnerability",
            severity=severity,
            title=name,
            category="Information gathering" if kind == INFORMATION_GATHERED else "Web Application",
            published=published,
            last_modified=max(modified, published),
            cves=tuple(
                f"CVE-{rng.randint(2015, 2024)}-{rng.randint(1000, 49999)}"
                for _ in range(rng.randint(1, 3) if kind != INFORMATION_GATHERED else 0)
                if rng.random() < 0.4
            ),
            diagnosis=diagnosis,
            consequence=f"<P>An attacker may exploit {name.lower()} to read or change data.</P>",
            solution=(
                "<P>Validate input and encode output. See "
                f'<A HREF="https://owasp.org/" TARGET="_blank">OWASP</A> for QID {q}.</P>'
            ),
            cvss=cvss
            if cvss is not None
            else (_cvss(rng, severity) if rng.random() < 0.3 else None),
        )
    by_type = tuple([q for q in numbers if kinds[q] == k] for k in range(3))
    return profiles, kb, by_type, sorted(unknown_set)


def _generate_webapps(rng: random.Random, count: int, now: datetime) -> list[WebAppRecord]:
    apps: list[WebAppRecord] = []
    next_id = FIRST_WEBAPP_ID
    tag_ids = {name: 9_100_000 + k * 17 for k, name in enumerate(_TAGS)}
    for k in range(count):
        host = f"{_HOSTS[k % len(_HOSTS)]}{k // len(_HOSTS) or ''}"
        url = f"https://{host}.example.com/"
        created = _date(rng, now - timedelta(days=40), 900)
        updated = created + (now - timedelta(days=30) - created) * rng.random()
        last_scan = None
        if k == 0 or rng.random() < 0.95:
            scan_date = _date(rng, now - timedelta(hours=12), 20)
            last_scan = LastScan(
                id=4_000_000 + k * 13,
                name=f"Web Application Vulnerability Scan - {host} - {scan_date:%Y-%m-%d}",
                date=scan_date,
            )
        tags = tuple(
            Tag(tag_ids[name], name) for name in sorted(rng.sample(_TAGS, rng.randint(0, 3)))
        )
        attributes = tuple(
            (name, rng.choice(values))
            for name, values in rng.sample(_ATTRIBUTES, rng.randint(0, 3))
        )
        apps.append(
            WebAppRecord(
                id=next_id,
                name=f"{host.capitalize()} ({url})" if rng.random() < 0.5 else url,
                url=url,
                tags=tags,
                attributes=attributes,
                created_date=created,
                updated_date=updated.replace(microsecond=0),
                last_scan=last_scan,
            )
        )
        next_id += 1 + int(rng.random() * 40)
    return apps


def _split(rng: random.Random, total: int, slots: int, eligible: list[int]) -> list[int]:
    """Split `total` findings over the eligible web apps with uneven (Pareto) weights."""
    counts = [0] * slots
    if not total or not eligible:
        return counts
    weights = {i: rng.paretovariate(1.2) for i in eligible}
    scale = total / sum(weights.values())
    exact = {i: w * scale for i, w in weights.items()}
    for i, x in exact.items():
        counts[i] = int(x)
    rest = total - sum(counts)
    for i in sorted(exact, key=lambda i: exact[i] - int(exact[i]), reverse=True)[:rest]:
        counts[i] += 1
    return counts
