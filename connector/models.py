"""The connector's own records: what Qualys data becomes once mapped. Pure data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class FindingStatus(StrEnum):
    """The connector's two finding states (the seed's status mapping targets)."""

    ACTIVE = "Active"
    FIXED = "Fixed"


class Severity(StrEnum):
    """Severity labels, lowest first (the seed's severity mapping targets)."""

    NONE = "None"
    LOW = "Low"
    MEDIUM = "Medium"
    HIGH = "High"
    CRITICAL = "Critical"


class SeveritySource(StrEnum):
    """Which input a finding's severity label was derived from."""

    CVSS_V3 = "cvss_v3"  # Finding.cvssV3.base
    KB_CVSS_V3 = "kb_cvss_v3"  # the Knowledge Base's CVSS_V3 BASE for the QID
    QUALYS_SEVERITY = "qualys_severity"  # Finding.severity 1..5 through the fallback table
    FILE = "file"  # an imported file's severity column through the mapping's value table


class AssetState(StrEnum):
    ACTIVE = "active"
    ARCHIVED = "archived"


class RunKind(StrEnum):
    SYNC = "sync"
    IMPORT = "import"


class RunOutcome(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    ABANDONED = "abandoned"  # found still "running" after its process died


SOURCE_API = "api"


@dataclass(frozen=True, slots=True)
class Asset:
    """A web application. `key` is the Qualys web app id as a string for API assets."""

    key: str
    name: str | None
    url: str | None
    first_observed: datetime | None
    last_observed: datetime | None
    tags: tuple[str, ...] = ()
    attributes: dict[str, str] = field(default_factory=dict)
    source: str = SOURCE_API


@dataclass(frozen=True, slots=True)
class Finding:
    """One finding on one asset. `key` is the Qualys finding id as a string for API findings."""

    key: str
    asset_key: str
    name: str
    status: FindingStatus
    severity: Severity
    severity_source: SeveritySource
    unique_id: str | None = None
    qid: int | None = None
    type: str | None = None
    url: str | None = None
    param: str | None = None
    qualys_severity: int | None = None
    cvss_v3_base: float | None = None
    cvss_v3_temporal: float | None = None
    attack_vector: str | None = None
    cwes: tuple[int, ...] = ()
    owasp: tuple[str, ...] = ()
    wasc: tuple[str, ...] = ()
    qualys_status: str | None = None
    ignored_reason: str | None = None
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    fixed_at: datetime | None = None
    ports: tuple[int, ...] = ()
    evidence: str | None = None
    source: str = SOURCE_API


@dataclass(frozen=True, slots=True)
class Weakness:
    """A Knowledge Base entry for one QID."""

    qid: int
    title: str | None = None
    category: str | None = None
    severity_level: int | None = None
    description: str | None = None  # KB DIAGNOSIS
    impact: str | None = None  # KB CONSEQUENCE
    solution: str | None = None
    published_date: datetime | None = None
    cves: tuple[str, ...] = ()
    cvss_v3_base: float | None = None
    cvss_v3_temporal: float | None = None
    cvss_v3_vector: str | None = None
    last_modified: datetime | None = None


@dataclass(frozen=True, slots=True)
class Rejected:
    """A raw record that could not be mapped, with the reason; counted and logged by the caller."""

    kind: str  # "webapp", "finding", "kb", "row"
    ref: str  # the record's id, or a line number
    reason: str
