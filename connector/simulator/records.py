"""The simulator's vocabulary: the records it serves (web apps, findings, KB entries), codes.

Every record is a frozen snapshot; `None` in a field means the element is absent from the XML.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

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
OPEN_STATUSES = frozenset({"NEW", "ACTIVE", "REOPENED"})


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
    """One parsed filter: `field operator values`, values already converted (int for ids and
    numbers, str for names and enums, an aware datetime for dates)."""

    field: str
    operator: str
    values: tuple[int | str | datetime, ...]
