"""The seed's mapping tables, row by row: web app fields, finding fields, status, severity."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from connector.config import DEFAULT_SEVERITY_FALLBACK
from connector.mapping import (
    derive_severity,
    map_finding,
    map_kb_vuln,
    map_webapp,
    severity_from_cvss,
)
from connector.models import FindingStatus, Rejected, Severity, SeveritySource


def webapp(**extra: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "id": "238483924",
        "name": "Shop",
        "url": "https://shop.example.com/",
        "createdDate": "2022-04-12T21:12:52Z",
        "updatedDate": "2022-04-12T21:39:40Z",
        "tags": {
            "count": "2",
            "list": {"Tag": [{"id": "1", "name": "prod"}, {"id": "2", "name": "pci"}]},
        },
        "attributes": {
            "count": "1",
            "list": {
                "Attribute": [
                    {"name": "site id", "value": "42"},
                    {"name": "site name", "value": "EU"},
                ]
            },
        },
        "lastScan": {"id": "9", "name": "weekly", "date": "2022-05-01T00:00:00Z"},
    }
    raw.update(extra)
    return raw


def finding(**extra: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "id": "16592714",
        "uniqueId": "9782a632-debd-4974-a1b0-74ac4d5d0afb",
        "qid": "150246",
        "name": "Path-relative stylesheet import (PRSSI) vulnerability",
        "type": "VULNERABILITY",
        "severity": "3",
        "url": "http://rest.vulnweb.com/docs/",
        "param": "q",
        "status": "NEW",
        "firstDetectedDate": "2022-04-12T21:15:33Z",
        "lastDetectedDate": "2022-04-13T21:15:33Z",
        "lastTestedDate": "2022-04-14T21:15:33Z",
        "webApp": {"id": "238483924", "name": "Shop", "url": "http://rest.vulnweb.com/"},
        "cwe": {"count": "2", "list": {"long": ["79", "80"]}},
        "owasp": {"list": {"OWASP": [{"name": "Injection", "code": "3", "url": "u"}]}},
        "wasc": {"list": {"WASC": [{"name": "Cross-site Scripting", "code": "8"}]}},
        "cvssV3": {"base": "6.1", "temporal": "5.5", "attackVector": "Network"},
        "history": {
            "set": {
                "WebAppFindingHistory": [
                    {"scanData": {"launchedDate": "2022-04-10T10:00:00Z"}},
                    {"scanData": {"launchedDate": "2022-04-01T10:00:00Z"}},
                ]
            }
        },
    }
    raw.update(extra)
    return raw


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def mapped(raw: dict[str, Any], kb_cvss: dict[int, float | None] | None = None) -> Any:
    return map_finding(raw, kb_cvss=kb_cvss or {}, severity_fallback=DEFAULT_SEVERITY_FALLBACK)


def test_webapp_mapping_table() -> None:
    """Web app: id, name, url, created -> first observed, latest update/scan -> last observed, tags, attributes + updated date."""
    asset = map_webapp(webapp())
    assert not isinstance(asset, Rejected)
    assert asset.key == "238483924"
    assert asset.name == "Shop"
    assert asset.url == "https://shop.example.com/"
    assert asset.first_observed == utc("2022-04-12T21:12:52")
    assert asset.last_observed == utc(
        "2022-05-01T00:00:00"
    )  # the last scan is later than updatedDate
    assert asset.tags == ("prod", "pci")
    assert asset.attributes == {
        "site id": "42",
        "site name": "EU",
        "updated_date": "2022-04-12T21:39:40Z",
    }


def test_webapp_without_optional_fields_maps() -> None:
    """A default (non-verbose) web app without tags, attributes or last scan still maps."""
    asset = map_webapp(
        {"id": "5", "name": "x", "url": "u", "tags": {"count": "0"}, "updatedDate": None}
    )
    assert not isinstance(asset, Rejected)
    assert asset.tags == () and asset.attributes == {} and asset.last_observed is None


def test_webapp_without_id_is_rejected() -> None:
    """A web app without a numeric id becomes a Rejected value naming the reason."""
    rejected = map_webapp({"name": "no id"})
    assert isinstance(rejected, Rejected) and "id" in rejected.reason


def test_finding_mapping_table() -> None:
    """Finding: id identity, uniqueId kept, name, CWEs, first seen from history, last seen from lastTested, attributes."""
    f = mapped(finding())
    assert not isinstance(f, Rejected)
    assert f.key == "16592714"
    assert f.unique_id == "9782a632-debd-4974-a1b0-74ac4d5d0afb"
    assert f.asset_key == "238483924"
    assert f.name.startswith("Path-relative")
    assert f.cwes == (79, 80)
    assert f.first_seen == utc("2022-04-01T10:00:00")  # the earliest history launch
    assert f.last_seen == utc("2022-04-14T21:15:33")
    assert (f.qid, f.type, f.qualys_severity) == (150246, "VULNERABILITY", 3)
    assert (f.cvss_v3_base, f.cvss_v3_temporal, f.attack_vector) == (6.1, 5.5, "Network")
    assert f.owasp == ("Injection",) and f.wasc == ("Cross-site Scripting",)
    assert (f.url, f.param) == ("http://rest.vulnweb.com/docs/", "q")


def test_finding_dates_fall_back() -> None:
    """Without history, first seen is firstDetectedDate; without lastTestedDate, last seen is lastDetectedDate."""
    f = mapped(finding(history=None, lastTestedDate=None))
    assert f.first_seen == utc("2022-04-12T21:15:33")
    assert f.last_seen == utc("2022-04-13T21:15:33")


@pytest.mark.parametrize(
    ("qualys_status", "expected"),
    [
        ("NEW", FindingStatus.ACTIVE),
        ("ACTIVE", FindingStatus.ACTIVE),
        ("REOPENED", FindingStatus.ACTIVE),
        ("RETESTING", FindingStatus.ACTIVE),
        ("PROTECTED", FindingStatus.FIXED),
        ("FIXED", FindingStatus.FIXED),
        (None, FindingStatus.ACTIVE),
    ],
)
def test_status_mapping_table(qualys_status: str | None, expected: FindingStatus) -> None:
    """Each Qualys status maps per the seed; no status (information gathered) is Active."""
    f = mapped(finding(status=qualys_status))
    assert f.status is expected
    assert f.qualys_status == qualys_status


@pytest.mark.parametrize("reason", ["RISK_ACCEPTED", "FALSE_POSITIVE", "NOT_APPLICABLE"])
def test_ignored_findings_are_active_and_keep_reason(reason: str) -> None:
    """Risk accepted, false positive and not applicable findings are Active, with the reason kept."""
    f = mapped(finding(status="ACTIVE", isIgnored="true", ignoredReason=reason))
    assert f.status is FindingStatus.ACTIVE
    assert f.ignored_reason == reason


def test_fixed_finding_keeps_fixed_date() -> None:
    """A FIXED finding carries Qualys' fixedDate."""
    f = mapped(finding(status="FIXED", fixedDate="2022-06-01T00:00:00Z"))
    assert f.fixed_at == utc("2022-06-01T00:00:00")


@pytest.mark.parametrize(
    ("score", "label"),
    [
        (10.0, Severity.CRITICAL),
        (9.0, Severity.CRITICAL),
        (8.9, Severity.HIGH),
        (7.0, Severity.HIGH),
        (6.9, Severity.MEDIUM),
        (4.0, Severity.MEDIUM),
        (3.9, Severity.LOW),
        (0.1, Severity.LOW),
        (0.0, Severity.NONE),
    ],
)
def test_cvss_severity_bands(score: float, label: Severity) -> None:
    """The seed's CVSS v3 bands, at every boundary."""
    assert severity_from_cvss(score) is label


def test_severity_prefers_finding_cvss_then_kb_then_level() -> None:
    """Finding cvssV3 wins; without it the KB's CVSS_V3; without either the Qualys level."""
    assert mapped(finding(), {150246: 9.8}).severity_source is SeveritySource.CVSS_V3
    f = mapped(finding(cvssV3=None), {150246: 9.8})
    assert (f.severity, f.severity_source) == (Severity.CRITICAL, SeveritySource.KB_CVSS_V3)
    f = mapped(finding(cvssV3=None, severity="4"), {150246: None})
    assert (f.severity, f.severity_source) == (Severity.HIGH, SeveritySource.QUALYS_SEVERITY)


@pytest.mark.parametrize(
    ("level", "label"),
    [
        (5, Severity.CRITICAL),
        (4, Severity.HIGH),
        (3, Severity.MEDIUM),
        (2, Severity.LOW),
        (1, Severity.LOW),
    ],
)
def test_severity_fallback_table(level: int, label: Severity) -> None:
    """The Qualys severity level fallback: 5 Critical, 4 High, 3 Medium, 2 Low, 1 Low."""
    severity, source = derive_severity(
        cvss_v3_base=None,
        kb_cvss_v3_base=None,
        qualys_severity=level,
        finding_type="VULNERABILITY",
        fallback=DEFAULT_SEVERITY_FALLBACK,
    )
    assert (severity, source) == (label, SeveritySource.QUALYS_SEVERITY)


def test_information_gathered_without_cvss_is_none() -> None:
    """INFORMATION_GATHERED findings without a CVSS score are severity None."""
    f = mapped(finding(type="INFORMATION_GATHERED", status=None, cvssV3=None, severity="3"))
    assert f.severity is Severity.NONE


def test_configured_fallback_table_is_used() -> None:
    """The fallback table is configurable (e.g. level 1 -> None)."""
    table = {**DEFAULT_SEVERITY_FALLBACK, 1: Severity.NONE}
    f = map_finding(finding(cvssV3=None, severity="1"), kb_cvss={}, severity_fallback=table)
    assert not isinstance(f, Rejected) and f.severity is Severity.NONE


@pytest.mark.parametrize(
    ("change", "reason"),
    [({"id": None}, "id"), ({"webApp": None}, "web application"), ({"name": None}, "name")],
)
def test_bad_findings_are_rejected_with_reason(change: dict[str, Any], reason: str) -> None:
    """A finding missing its id, web app or name becomes a Rejected value, not an exception."""
    result = mapped(finding(**change))
    assert isinstance(result, Rejected) and reason in result.reason


def test_kb_vuln_mapping() -> None:
    """KB VULN: DIAGNOSIS -> description, CONSEQUENCE -> impact, solution, published date, CVEs, CVSS v3."""
    weakness = map_kb_vuln(
        {
            "QID": "150246",
            "TITLE": "PRSSI",
            "CATEGORY": "Web Application",
            "SEVERITY_LEVEL": "1",
            "DIAGNOSIS": "<p>diag</p>",
            "CONSEQUENCE": "<p>impact</p>",
            "SOLUTION": "<p>fix</p>",
            "PUBLISHED_DATETIME": "2021-01-21T12:51:22Z",
            "LAST_SERVICE_MODIFICATION_DATETIME": "2023-12-19T12:02:30Z",
            "CVE_LIST": {"CVE": [{"ID": "CVE-2020-1"}, {"ID": "CVE-2020-2"}]},
            "CVSS_V3": {
                "BASE": {"@source": "service", "#text": "5.3"},
                "TEMPORAL": "4.8",
                "VECTOR_STRING": "CVSS:3.1/AV:N",
            },
        }
    )
    assert not isinstance(weakness, Rejected)
    assert (weakness.description, weakness.impact, weakness.solution) == (
        "<p>diag</p>",
        "<p>impact</p>",
        "<p>fix</p>",
    )
    assert weakness.published_date == utc("2021-01-21T12:51:22")
    assert weakness.cves == ("CVE-2020-1", "CVE-2020-2")
    assert (weakness.cvss_v3_base, weakness.cvss_v3_temporal) == (5.3, 4.8)
