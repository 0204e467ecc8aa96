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


SOURCE_API = "api"  # written by the API sync only
SOURCE_IMPORT = "import"  # written by scan-report imports only
SOURCE_API_AND_IMPORT = "api+import"  # listed by the API and also seen in an imported report
SOURCE_KB = "kb"  # a weakness from the Knowledge Base (else SOURCE_IMPORT: a report's glossary)


def has_api(source: str | None) -> bool:
    """Whether the API sync has written this record (it then owns its lifecycle)."""
    return source in (SOURCE_API, SOURCE_API_AND_IMPORT)


# Finding types: the two a sync always fetches; information gathered only when configured.
SYNCED_FINDING_TYPES = ("VULNERABILITY", "SENSITIVE_CONTENT")
INFORMATION_GATHERED = "INFORMATION_GATHERED"


class SyncMode(StrEnum):
    FULL = "full"  # every finding's details are read
    INCREMENTAL = "incremental"  # a brief listing, details only of what changed


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
    # A digest of what a brief (non-verbose) listing shows of the finding, retest dates aside:
    # an incremental sync fetches details again only when a listing's digest differs.
    listing_digest: str | None = None
    # The date of the information in this record, which decides which source wins when an import
    # and the API disagree: the report's scan date; for the API its lastTestedDate (None: use
    # last_seen, which the API mapping sets from it).
    as_of: datetime | None = None
    # Imports: a digest of the report row (and everything its mapping read) last merged into
    # this finding; re-importing an identical row skips it (merging it again changes nothing).
    input_digest: str | None = None


@dataclass(frozen=True, slots=True)
class ListedFinding:
    """What a brief (non-verbose) WAS listing tells of one finding: enough to tell whether the
    stored record is current."""

    key: str
    asset_key: str | None
    qid: int | None
    listing_digest: str
    last_seen: datetime | None


# The fixed_reason of a finding the API sync closed because its listing no longer had it.
API_ABSENT_REASON = "absent"


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
    cvss_base: float | None = None  # CVSS v2
    cvss_temporal: float | None = None
    cvss_v3_attack_vector: str | None = None
    cwes: tuple[int, ...] = ()
    owasp: tuple[str, ...] = ()  # names ("Injection"), as API findings carry them
    wasc: tuple[str, ...] = ()
    source: str = SOURCE_KB  # or SOURCE_IMPORT: a scan report's glossary entry
    # When the information holds: the KB fetch time (set by the store), or the report's date.
    as_of: datetime | None = None


@dataclass(frozen=True, slots=True)
class Rejected:
    """A raw record that could not be mapped, with the reason; counted and logged by the caller."""

    kind: str  # "webapp", "finding", "kb", "row"
    ref: str  # the record's id, or a line number
    reason: str
