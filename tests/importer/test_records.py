"""Pure pieces of the import mapping: URLs, evidence caps, report dates, WAS severity."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connector.importer.dates import parse_report_date
from connector.importer.mapping import BUILTIN_MAPPINGS, ImportFormat, mapping_from_flags
from connector.importer.records import (
    RowMapper,
    cap_evidence,
    normalise_url,
    report_asset,
    url_origin,
)
from connector.importer.report import Payload, ReportRow
from connector.models import Rejected, Severity, SeveritySource

NOW = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://TestSparker.com/", "http://testsparker.com"),
        ("HTTPS://shop.example.com:443/app/?q=1#x", "https://shop.example.com/app"),
        ("http://h.example.com:8080", "http://h.example.com:8080"),
    ],
)
def test_normalise_url(url: str, expected: str) -> None:
    """URLs compare equal whatever their case, default port, query or trailing slash."""
    assert normalise_url(url) == expected


def test_url_origin_drops_the_path() -> None:
    """A flat CSV row's page URL names its asset by scheme, host and port only."""
    assert url_origin("https://Shop.example.com:8443/a/b?c") == "https://shop.example.com:8443"


def test_cap_evidence_truncates_with_a_marker() -> None:
    """Evidence over the cap keeps at most the cap in bytes and says how much was cut."""
    capped = cap_evidence("é" * 1000, 300)
    assert capped is not None
    assert len(capped.encode()) <= 300
    assert capped.endswith("[... evidence truncated: 300 of 2000 bytes kept]")
    assert cap_evidence("short", 300) == "short"
    assert cap_evidence("anything", 0) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("24 Apr 2019 01:33AM GMT", datetime(2019, 4, 24, 1, 33, tzinfo=UTC)),
        ("12 Mar 2020 04:42PM GMT-0400", datetime(2020, 3, 12, 20, 42, tzinfo=UTC)),
        ("24 Apr 2019", datetime(2019, 4, 24, tzinfo=UTC)),
        ("2024-05-01T10:00:00Z", datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("", None),
        ("soon", None),
    ],
)
def test_parse_report_date(text: str, expected: datetime | None) -> None:
    """Qualys report dates (with AM/PM and GMT offsets) and ISO dates become aware UTC."""
    assert parse_report_date(text) == expected


def _mapper(**overrides: object) -> RowMapper:
    asset, from_api = report_asset("App", "http://app.example.com/", api_assets={}, report_date=NOW)
    values: dict[str, object] = {
        "glossary": {
            "150001": {"Title": "XSS", "Severity Level": "5", "CVSS V3 Base": ""},
            "150002": {"Title": "SQLi", "Severity Level": "4", "CVSS V3 Base": "9.8"},
        },
        "report_asset": asset,
        "report_asset_from_api": from_api,
        "api_assets": {},
        "report_date": NOW,
        "evidence_max_bytes": 1000,
        "now": NOW,
    }
    values.update(overrides)
    mapping = values.pop("mapping", BUILTIN_MAPPINGS["qualys-was-csv"])
    return RowMapper(mapping, **values)  # type: ignore[arg-type]


def _row(qid: str, table: str = "VULNERABILITY", **cells: str) -> ReportRow:
    return ReportRow(
        line_no=7,
        table=table,
        cells={"ID": "1" + qid, "QID": qid, "Url": "http://app.example.com/x", **cells},
        payloads=(Payload(1, payload="p", method="GET", url="http://app.example.com/x"),),
    )


def test_was_row_severity_from_level_or_cvss_v3() -> None:
    """Level 5 maps to Critical from the file; a CVSS v3 base uses the seed's bands instead."""
    xss = _mapper().map(_row("150001"))
    sqli = _mapper().map(_row("150002"))
    assert not isinstance(xss, Rejected)
    assert not isinstance(sqli, Rejected)
    assert (xss.finding.severity, xss.finding.severity_source) == (
        Severity.CRITICAL,
        SeveritySource.FILE,
    )
    assert (sqli.finding.severity, sqli.finding.severity_source) == (
        Severity.CRITICAL,
        SeveritySource.CVSS_V3,
    )
    assert sqli.finding.cvss_v3_base == 9.8
    assert xss.finding.key == "1150001"
    assert "Request: GET http://app.example.com/x" in (xss.finding.evidence or "")


def test_was_row_ignored_and_fixed_status_kept() -> None:
    """A fixed row is Fixed with its status text; an ignored row stays Active with its reason."""
    fixed = _mapper().map(_row("150001", Status="FIXED"))
    ignored = _mapper().map(_row("150001", Ignored="Yes", **{"Ignore Reason": "False Positive"}))
    assert not isinstance(fixed, Rejected)
    assert not isinstance(ignored, Rejected)
    assert (fixed.finding.status.value, fixed.finding.qualys_status) == ("Fixed", "FIXED")
    assert fixed.finding.fixed_at == NOW
    assert (ignored.finding.status.value, ignored.finding.ignored_reason) == (
        "Active",
        "FALSE_POSITIVE",
    )


def test_custom_was_mapping_overrides_builtin_values_only() -> None:
    """A WAS mapping made of one severity value keeps the built-in columns and other values."""
    custom = mapping_from_flags(
        "was-strict", format_name="qualys_was_csv", columns=[], severities=["5=High"]
    )
    assert custom.format is ImportFormat.QUALYS_WAS_CSV
    assert custom.columns["title"] == "Title"
    assert custom.severity_for("4") is Severity.HIGH
    mapped = _mapper(mapping=custom).map(_row("150001"))
    assert not isinstance(mapped, Rejected)
    assert mapped.finding.severity is Severity.HIGH


def test_unmappable_rows_come_back_rejected_with_column() -> None:
    """A bad port or CVSS score is a Rejected naming the line and the column."""
    bad = _mapper().map(_row("150001", Port="http"))
    assert bad == Rejected("row", "line 7", "column 'Port': 'http' is not a port number")
    out_of_range = _mapper().map(_row("150001", **{"CVSS V3 Base": "11"}))
    assert isinstance(out_of_range, Rejected)
    assert "column 'CVSS V3 Base': score 11 is outside 0.0-10.0" in out_of_range.reason
