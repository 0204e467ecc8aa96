"""Generating a tenant: QIDs and their KB entries, web apps, and the findings' columns.

Deterministic: the same arguments give the same tenant. Findings are generated as columns (id,
web app, QID, type, status, ignored reason, dates); `derive.generate_record` derives every other
field of one finding from a hash of `(seed, position)`, on demand.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from connector.simulator.columns import NO_DATE, FindingColumns, encode_date
from connector.simulator.records import (
    FINDING_TYPES,
    FIRST_FINDING_ID,
    FIRST_WEBAPP_ID,
    FIXED_STATUSES,
    INFORMATION_GATHERED,
    SENSITIVE_CONTENT,
    STATUSES,
    VULNERABILITY,
    Cvss3,
    KbEntry,
    LastScan,
    QidProfile,
    Reference,
    Tag,
    WebAppRecord,
)
from connector.simulator.vocabulary import (
    ATTACK_VECTORS,
    ATTRIBUTES,
    BOUNDARY_SCORES,
    HOSTS,
    INFO_TITLES,
    OWASP,
    SENSITIVE_TITLES,
    SEVERITY_CVSS,
    STATUS_WEIGHTS,
    TAGS,
    VULN_TITLES,
    WASC,
)


@dataclass
class GeneratedTenant:
    webapps: list[WebAppRecord]
    profiles: dict[int, QidProfile]
    kb: dict[int, KbEntry]
    columns: FindingColumns
    blocks: list[tuple[int, int]]
    """Per web app position, the [start, end) positions of its generated findings."""


def generate_tenant(
    webapps: int,
    findings: int,
    seed: int,
    qid_pool: int,
    unknown_qids: int,
    informational_share: float,
    now: datetime,
) -> GeneratedTenant:
    """Web apps, QIDs, KB and finding columns for `Dataset.generate` (arguments checked there)."""
    rng = random.Random(seed)  # noqa: S311 - seeded test data, not secrets
    profiles, kb, by_type, unknown = _generate_qids(rng, qid_pool, unknown_qids, now)
    apps = _generate_webapps(rng, webapps, now)
    scanned = [i for i, w in enumerate(apps) if w.last_scan is not None]
    counts = _split(rng, findings, len(apps), scanned)

    cols = FindingColumns()
    ids, wa, qids, types = cols.ids, cols.wa, cols.qids, cols.types
    statuses, ignored = cols.statuses, cols.ignored
    blocks: list[tuple[int, int]] = []
    next_id = FIRST_FINDING_ID
    rand, choice = rng.random, rng.choice
    vuln_pool, sc_pool, ig_pool = by_type
    status_codes = [c for c, _ in STATUS_WEIGHTS]
    status_cum = list(_cumulative(w for _, w in STATUS_WEIGHTS))
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
    _generate_dates(random.Random(seed * 7919 + 17), cols, apps, now)  # noqa: S311 - test data
    return GeneratedTenant(apps, profiles, kb, cols, blocks)


def _generate_dates(
    rng: random.Random, cols: FindingColumns, apps: list[WebAppRecord], now: datetime
) -> None:
    """Fill the date columns: every finding was last tested by its web app's last scan.

    A separate random stream, so the other columns keep the draws they had before dates were
    columns. Fixed findings were last detected some time before that scan; ignored ones were
    triaged between first detection and `now` (updatedDate is the later of test and triage)."""
    rand = rng.random
    now_cell = encode_date(now)
    scan_cells = [
        encode_date(w.last_scan.date if w.last_scan else now - timedelta(days=1)) for w in apps
    ]
    fixed_codes = frozenset(STATUSES.index(s) for s in FIXED_STATUSES)
    new_code = STATUSES.index("NEW")
    first_col, last_col, tested_col = (
        cols.dates[k] for k in ("first_detected", "last_detected", "last_tested")
    )
    fixed_col, ignored_col, updated_col = (
        cols.dates[k] for k in ("fixed_date", "ignored_date", "updated_date")
    )
    for i in range(len(cols)):
        scan = scan_cells[cols.wa[i]]
        status = cols.statuses[i]
        if status == new_code:
            first = scan - int(rand() * 3600)
        else:
            first = scan - 3600 - int(rand() * 399 * 86400)
        last = scan
        fixed = NO_DATE
        if status in fixed_codes:
            last = first + int((scan - first) * 0.9 * rand())
            fixed = scan
        ignored = NO_DATE
        if cols.ignored[i]:
            ignored = first + int((now_cell - first) * rand())
        first_col.append(first)
        last_col.append(last)
        tested_col.append(scan)
        fixed_col.append(fixed)
        ignored_col.append(ignored)
        updated_col.append(max(scan, ignored))


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
        base = rng.choice(BOUNDARY_SCORES)
    else:
        low, high = SEVERITY_CVSS[severity]
        base = round(rng.uniform(low, high), 1)
    name, letter = ATTACK_VECTORS[0] if rng.random() < 0.85 else rng.choice(ATTACK_VECTORS)
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
            title, cwe = rng.choice(INFO_TITLES), 0
            severity = rng.choice((1, 1, 1, 2, 3))
        else:
            title, cwe = rng.choice(SENSITIVE_TITLES if kind == SENSITIVE_CONTENT else VULN_TITLES)
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
            owasp=() if kind == INFORMATION_GATHERED else _references(rng, OWASP, 2),
            wasc=() if kind == INFORMATION_GATHERED else _references(rng, WASC, 2),
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
    tag_ids = {name: 9_100_000 + k * 17 for k, name in enumerate(TAGS)}
    for k in range(count):
        host = f"{HOSTS[k % len(HOSTS)]}{k // len(HOSTS) or ''}"
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
            Tag(tag_ids[name], name) for name in sorted(rng.sample(TAGS, rng.randint(0, 3)))
        )
        attributes = tuple(
            (name, rng.choice(values)) for name, values in rng.sample(ATTRIBUTES, rng.randint(0, 3))
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
