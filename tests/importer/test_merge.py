"""The pure merge of a stored finding and a new record of it (store.merge): the newer source wins
per field, dates only widen, and the order in which two records arrive does not matter."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from connector.models import Finding, FindingStatus, Severity, SeveritySource
from connector.store.merge import merge_finding


def _day(n: int) -> datetime:
    return datetime(2024, 5, n, tzinfo=UTC)


API = Finding(
    key="6816386",
    asset_key="238483924",
    name="API name",
    status=FindingStatus.ACTIVE,
    severity=Severity.HIGH,
    severity_source=SeveritySource.CVSS_V3,
    qid=150001,
    cvss_v3_base=7.5,
    qualys_status="ACTIVE",
    first_seen=_day(5),
    last_seen=_day(10),  # lastTestedDate: the API record's date
    source="api",
)
REPORT = Finding(
    key="6816386",
    asset_key="url:https://app.example.com",
    name="Glossary title",
    status=FindingStatus.ACTIVE,
    severity=Severity.MEDIUM,
    severity_source=SeveritySource.QUALYS_SEVERITY,
    qid=150001,
    ports=(443,),
    evidence="Payload #1: x",
    first_seen=_day(3),
    last_seen=_day(3),
    source="import",
    as_of=_day(4),  # the report's scan date
)


def test_an_older_report_fills_only_what_the_api_does_not_carry() -> None:
    """The API's newer record keeps its fields (its nulls too); the report adds evidence, ports
    and its earlier first sighting; the finding stays on the API's web application."""
    merged = merge_finding(API, REPORT)
    assert (merged.name, merged.severity, merged.cvss_v3_base) == ("API name", Severity.HIGH, 7.5)
    assert (merged.evidence, merged.ports) == ("Payload #1: x", (443,))
    assert (merged.first_seen, merged.last_seen) == (_day(3), _day(10))
    assert merged.asset_key == "238483924"
    assert merged.source == "api+import"


@pytest.mark.parametrize("report_day", [4, 12])
def test_the_order_of_arrival_does_not_matter(report_day: int) -> None:
    """Import-then-sync and sync-then-import give the same row, for an older and a newer report."""
    report = dataclasses.replace(REPORT, as_of=_day(report_day), last_seen=_day(report_day))
    assert merge_finding(API, report) == merge_finding(report, API)


def test_a_newer_report_wins_the_fields_it_has() -> None:
    """A report scanned after the API's last test wins its name and severity, keeps the API's
    CVSS (which it lacks) and the API's web application."""
    newer = dataclasses.replace(REPORT, as_of=_day(12), last_seen=_day(12))
    merged = merge_finding(API, newer)
    assert (merged.name, merged.severity) == ("Glossary title", Severity.MEDIUM)
    assert merged.cvss_v3_base == 7.5
    assert merged.asset_key == "238483924"
    assert merged.last_seen == _day(12)


def test_an_older_report_never_reopens() -> None:
    """A finding Fixed by newer information stays Fixed when an older report lists it."""
    fixed = dataclasses.replace(
        REPORT, status=FindingStatus.FIXED, fixed_at=_day(8), as_of=_day(8), last_seen=_day(7)
    )
    merged = merge_finding(fixed, REPORT)
    assert (merged.status, merged.fixed_at) == (FindingStatus.FIXED, _day(8))


def test_the_api_reopens_what_its_own_listing_closed() -> None:
    """A finding the sync closed as absent is the API's to reopen, whatever the dates say."""
    closed = dataclasses.replace(
        merge_finding(API, REPORT), status=FindingStatus.FIXED, fixed_at=_day(20), as_of=_day(20)
    )
    merged = merge_finding(closed, API, closed_by_api=True)
    assert merged.status is FindingStatus.ACTIVE
    assert merged.fixed_at is None
    assert merge_finding(closed, API).status is FindingStatus.FIXED  # an import closed it


def test_merging_the_same_record_twice_changes_nothing() -> None:
    """Merging is idempotent: re-importing a report (or re-syncing) leaves the row as it is."""
    once = merge_finding(API, REPORT)
    assert merge_finding(once, REPORT) == once
    assert merge_finding(once, API) == once


def test_rows_of_one_report_add_up_their_ports() -> None:
    """Two records of the same date (rows of one report, on two ports) keep both ports."""
    other_port = dataclasses.replace(REPORT, ports=(8443,))
    assert merge_finding(REPORT, other_port).ports == (443, 8443)
    later = dataclasses.replace(REPORT, ports=(80,), as_of=_day(6))
    assert merge_finding(REPORT, later).ports == (80,)
