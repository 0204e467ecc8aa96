"""Pure mapping from decoded Qualys records to the connector's models (the seed's tables).

Input is what the Qualys adapter's decode step returns: dicts from xmltodict with every repeated
element already a list. Output is a model, or a `Rejected` value the caller counts and logs.
Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from hashlib import blake2b
from typing import Any, TypeVar

from connector.models import (
    INFORMATION_GATHERED,
    Asset,
    Finding,
    FindingStatus,
    ListedFinding,
    Rejected,
    Severity,
    SeveritySource,
    Weakness,
)

_Mapped = TypeVar("_Mapped")

# --- Finding Status Mapping (seed): Qualys WAS status -> connector status. ---------------------
# Ignored findings (risk accepted, false positive, not applicable) keep their Qualys status and are
# Active unless that status is itself a fixed one. A finding without a status (information
# gathered) or with a status this table does not know is Active while Qualys lists it.
STATUS_MAP: Mapping[str, FindingStatus] = {
    "NEW": FindingStatus.ACTIVE,
    "ACTIVE": FindingStatus.ACTIVE,
    "REOPENED": FindingStatus.ACTIVE,
    "RETESTING": FindingStatus.ACTIVE,
    "PROTECTED": FindingStatus.FIXED,
    "FIXED": FindingStatus.FIXED,
}
IGNORED_REASONS = ("RISK_ACCEPTED", "FALSE_POSITIVE", "NOT_APPLICABLE")

# --- Finding Severity Mapping (seed): CVSS v3 base score bands, highest first. -----------------
CVSS_BANDS: tuple[tuple[float, Severity], ...] = (
    (9.0, Severity.CRITICAL),
    (7.0, Severity.HIGH),
    (4.0, Severity.MEDIUM),
    (0.1, Severity.LOW),
    (0.0, Severity.NONE),
)

# What a brief (non-verbose) finding listing shows, minus what a mere retest changes
# (lastTestedDate, lastDetectedDate, timesDetected): the fields of the listing digest. A verbose
# record carries the same fields, so both give the same digest for an unchanged finding.
LISTING_FIELDS = (
    "id", "uniqueId", "qid", "name", "type", "potential", "findingType", "severity", "url",
    "param", "status", "isIgnored", "firstDetectedDate",
)  # fmt: skip


def split_rejected(results: Iterable[_Mapped | Rejected]) -> tuple[list[_Mapped], list[Rejected]]:
    """Mapped records apart from the ones that could not be mapped (for the caller to count)."""
    mapped: list[_Mapped] = []
    rejected: list[Rejected] = []
    for result in results:
        if isinstance(result, Rejected):
            rejected.append(result)
        else:
            mapped.append(result)
    return mapped, rejected


def severity_from_cvss(score: float) -> Severity:
    """The seed's CVSS band for a base score (0.0-10.0)."""
    for lower, label in CVSS_BANDS:
        if score >= lower:
            return label
    return Severity.NONE


def derive_severity(
    *,
    cvss_v3_base: float | None,
    kb_cvss_v3_base: float | None,
    qualys_severity: int | None,
    finding_type: str | None,
    fallback: Mapping[int, Severity],
) -> tuple[Severity, SeveritySource]:
    """Finding CVSS v3, else the KB's CVSS v3, else the Qualys level through the fallback table."""
    if cvss_v3_base is not None:
        return severity_from_cvss(cvss_v3_base), SeveritySource.CVSS_V3
    if kb_cvss_v3_base is not None:
        return severity_from_cvss(kb_cvss_v3_base), SeveritySource.KB_CVSS_V3
    if finding_type == INFORMATION_GATHERED or qualys_severity is None:
        return Severity.NONE, SeveritySource.QUALYS_SEVERITY
    return fallback.get(qualys_severity, Severity.NONE), SeveritySource.QUALYS_SEVERITY


# --- Web Application Mapping (seed) -------------------------------------------------------------
def map_webapp(raw: Mapping[str, Any]) -> Asset | Rejected:
    """WebApp -> Asset: id, name, url, createdDate, latest of updatedDate and last scan, tags."""
    key = _int_text(raw.get("id"))
    if key is None:
        return Rejected("webapp", _text(raw.get("id")) or "?", "web app without a numeric id")
    updated = parse_datetime(_text(raw.get("updatedDate")))
    last_scan = parse_datetime(_text(_path(raw, "lastScan", "date")))
    attributes = {
        name: _text(attr.get("value")) or ""
        for attr in _items(raw, "attributes", "list", "Attribute")
        if (name := _text(attr.get("name")))
    }
    if updated is not None:
        attributes["updated_date"] = format_datetime(updated)
    return Asset(
        key=key,
        name=_text(raw.get("name")),
        url=_text(raw.get("url")),
        first_observed=parse_datetime(_text(raw.get("createdDate"))),
        last_observed=_latest(updated, last_scan),
        tags=tuple(
            name for tag in _items(raw, "tags", "list", "Tag") if (name := _text(tag.get("name")))
        ),
        attributes=attributes,
    )


def asset_from_finding(raw: Mapping[str, Any]) -> Asset | None:
    """The minimal asset a finding names (its webApp id, name, url), for web apps not listed."""
    web_app = raw.get("webApp")
    if not isinstance(web_app, Mapping):
        return None
    key = _int_text(web_app.get("id"))
    if key is None:
        return None
    return Asset(
        key=key,
        name=_text(web_app.get("name")),
        url=_text(web_app.get("url")),
        first_observed=None,
        last_observed=None,
    )


# --- Finding Mapping (seed) ---------------------------------------------------------------------
def map_finding(
    raw: Mapping[str, Any],
    *,
    kb_cvss: Mapping[int, float | None],
    severity_fallback: Mapping[int, Severity],
) -> Finding | Rejected:
    """Finding -> Finding per the seed's field, status and severity tables."""
    key = _int_text(raw.get("id"))
    if key is None:
        return Rejected("finding", _text(raw.get("id")) or "?", "finding without a numeric id")
    asset_key = _int_text(_path(raw, "webApp", "id"))
    if asset_key is None:
        return Rejected("finding", key, "finding without a web application id")
    name = _text(raw.get("name"))
    qid = _int(raw.get("qid"))
    if not name:
        return Rejected("finding", key, "finding without a name")

    qualys_status = (_text(raw.get("status")) or "").upper() or None
    status = STATUS_MAP.get(qualys_status or "", FindingStatus.ACTIVE)
    ignored_reason = (_text(raw.get("ignoredReason")) or "").upper() or None
    if ignored_reason is None and _text(raw.get("isIgnored")) == "true":
        ignored_reason = "IGNORED"

    finding_type = _text(raw.get("type"))
    qualys_severity = _int(raw.get("severity"))
    cvss_base = _float(_path(raw, "cvssV3", "base"))
    severity, source = derive_severity(
        cvss_v3_base=cvss_base,
        kb_cvss_v3_base=kb_cvss.get(qid) if qid is not None else None,
        qualys_severity=qualys_severity,
        finding_type=finding_type,
        fallback=severity_fallback,
    )
    launches = [
        launched
        for entry in _items(raw, "history", "set", "WebAppFindingHistory")
        if (launched := parse_datetime(_text(_path(entry, "scanData", "launchedDate"))))
    ]
    # First seen (seed): the history's first scan; never later than firstDetectedDate (a history
    # may be cut to its latest entries, or hold only the scans since a retest).
    first_detected = parse_datetime(_text(raw.get("firstDetectedDate")))
    first_seen = min([*launches, first_detected] if first_detected else launches, default=None)
    last_seen = _last_seen(raw)
    fixed_at = (
        parse_datetime(_text(raw.get("fixedDate"))) if status is FindingStatus.FIXED else None
    )
    return Finding(
        listing_digest=listing_digest(raw),
        key=key,
        asset_key=asset_key,
        name=name,
        status=status,
        severity=severity,
        severity_source=source,
        unique_id=_text(raw.get("uniqueId")),
        qid=qid,
        type=finding_type,
        url=_text(raw.get("url")),
        param=_text(raw.get("param")),
        qualys_severity=qualys_severity,
        cvss_v3_base=cvss_base,
        cvss_v3_temporal=_float(_path(raw, "cvssV3", "temporal")),
        attack_vector=_text(_path(raw, "cvssV3", "attackVector")),
        cwes=tuple(
            cwe for item in _items(raw, "cwe", "list", "long") if (cwe := _int(item)) is not None
        ),
        owasp=_names(raw, "owasp", "OWASP"),
        wasc=_names(raw, "wasc", "WASC"),
        qualys_status=qualys_status,
        ignored_reason=ignored_reason,
        first_seen=first_seen,
        last_seen=last_seen,
        fixed_at=fixed_at,
    )


def _last_seen(raw: Mapping[str, Any]) -> datetime | None:
    """Last seen (seed): lastTestedDate, else lastDetectedDate."""
    return parse_datetime(_text(raw.get("lastTestedDate"))) or parse_datetime(
        _text(raw.get("lastDetectedDate"))
    )


def listing_digest(raw: Mapping[str, Any]) -> str:
    """A digest of the record's LISTING_FIELDS and web app id (brief and verbose alike)."""
    values = [_text(raw.get(name)) or "" for name in LISTING_FIELDS]
    values.append(_text(_path(raw, "webApp", "id")) or "")
    return blake2b("\x1f".join(values).encode(), digest_size=16).hexdigest()


def map_listed_finding(raw: Mapping[str, Any]) -> ListedFinding | Rejected:
    """A brief listing record -> what an incremental sync compares with the store."""
    key = _int_text(raw.get("id"))
    if key is None:
        return Rejected("finding", _text(raw.get("id")) or "?", "finding without a numeric id")
    return ListedFinding(
        key=key,
        asset_key=_int_text(_path(raw, "webApp", "id")),
        qid=_int(raw.get("qid")),
        listing_digest=listing_digest(raw),
        last_seen=_last_seen(raw),
    )


# --- Knowledge Base (KNOWLEDGE_BASE_VULN_LIST_OUTPUT.RESPONSE.VULN_LIST.VULN) -----------------
def map_kb_vuln(raw: Mapping[str, Any]) -> Weakness | Rejected:
    """VULN -> Weakness: DIAGNOSIS is the description, CONSEQUENCE the impact."""
    qid = _int(raw.get("QID"))
    if qid is None:
        return Rejected("kb", _text(raw.get("QID")) or "?", "KB entry without a numeric QID")
    return Weakness(
        qid=qid,
        title=_text(raw.get("TITLE")) or None,
        category=_text(raw.get("CATEGORY")),
        severity_level=_int(raw.get("SEVERITY_LEVEL")),
        description=_text(raw.get("DIAGNOSIS")),
        impact=_text(raw.get("CONSEQUENCE")),
        solution=_text(raw.get("SOLUTION")),
        published_date=parse_datetime(_text(raw.get("PUBLISHED_DATETIME"))),
        cves=tuple(
            cve for item in _items(raw, "CVE_LIST", "CVE") if (cve := _text(item.get("ID")))
        ),
        cvss_v3_base=_float(_path(raw, "CVSS_V3", "BASE")),
        cvss_v3_temporal=_float(_path(raw, "CVSS_V3", "TEMPORAL")),
        cvss_v3_vector=_text(_path(raw, "CVSS_V3", "VECTOR_STRING")),
        last_modified=parse_datetime(_text(raw.get("LAST_SERVICE_MODIFICATION_DATETIME"))),
    )


# --- small readers for decoded XML --------------------------------------------------------------
@lru_cache(maxsize=8192)  # a scan's findings share their dates
def parse_datetime(text: str | None) -> datetime | None:
    """Qualys timestamps (`2022-04-12T21:15:33Z`) as UTC datetimes; None if absent or bad."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value if value.tzinfo is UTC else value.astimezone(UTC)


def format_datetime(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _latest(*values: datetime | None) -> datetime | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if type(value) is str:  # the common case first: mapping runs once per finding of a sync
        return value.strip()
    if isinstance(value, dict):  # an element with attributes: {"@attr": ..., "#text": ...}
        value = value.get("#text")
        if value is None:
            return None
    if isinstance(value, list):
        return _text(value[0]) if value else None
    return str(value).strip()


def _int(value: Any) -> int | None:
    text = _text(value)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _int_text(value: Any) -> str | None:
    number = _int(value)
    return str(number) if number is not None else None


def _float(value: Any) -> float | None:
    text = _text(value)
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _path(raw: Any, *keys: str) -> Any:
    for key in keys:
        if type(raw) is list:
            raw = raw[0] if raw else None
        if not isinstance(raw, dict):
            return None
        raw = raw.get(key)
    return raw


def _items(raw: Any, *keys: str) -> list[Any]:
    value = _path(raw, *keys)
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _names(raw: Mapping[str, Any], container: str, element: str) -> tuple[str, ...]:
    return tuple(
        name
        for item in _items(raw, container, "list", element)
        if (name := _text(item.get("name")))
    )
