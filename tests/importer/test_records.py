"""Pure pieces of the import mapping: URLs, evidence caps, report dates, WAS severity."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connector.importer.dates import parse_report_date
from connector.importer.evidence import cap_evidence
from connector.importer.mapping import BUILTIN_MAPPINGS, ImportFormat, mapping_from_flags
from connector.importer.records import MappedRow, RowMapper, RowRejected
from connector.importer.report import Payload, ReportRow
from connector.importer.urls import BadUrlError, normalise_url, url_origin
from connector.models import Asset, Severity, SeveritySource, Weakness

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
    asset = Asset("url:http://app.example.com", "App", "http://app.example.com/", None, NOW)
    values: dict[str, object] = {
        "weaknesses": {
            "150001": Weakness(150001, title="XSS", severity_level=5),
            "150002": Weakness(150002, title="SQLi", severity_level=4, cvss_v3_base=9.8),
        },
        "kb_cvss": {},
        "report_assets": {None: (asset, False)},
        "api_assets": {},
        "report_date": NOW,
        "evidence_max_bytes": 1000,
    }
    values.update(overrides)
    mapping = values.pop("mapping", BUILTIN_MAPPINGS["qualys-was-csv"])
    return RowMapper(mapping, **values)  # type: ignore[arg-type]


def _row(qid: str, table: str = "VULNERABILITY", **cells: str) -> ReportRow:
    return ReportRow(
        line_no=7,
        table=table,
        cells={
            "ID": "1" + qid,
            "Detection ID": "2" + qid,
            "QID": qid,
            "Url": "http://app.example.com/x",
            **cells,
        },
        payloads=(
            Payload(1, payload="p", method="POST", url="http://app.example.com/x", body="a=1"),
        ),
    )


def test_was_row_severity_from_finding_cvss_then_glossary_cvss_then_level() -> None:
    """The seed's order: the finding's CVSS v3, else the glossary's, else the level (5: Critical)."""
    xss = _mapper().map(_row("150001"))
    sqli = _mapper().map(_row("150002"))
    own = _mapper().map(_row("150001", **{"CVSS V3 Base": "5.0"}))
    assert isinstance(xss, MappedRow)
    assert isinstance(sqli, MappedRow)
    assert isinstance(own, MappedRow)
    assert (xss.finding.severity, xss.finding.severity_source) == (
        Severity.CRITICAL,
        SeveritySource.QUALYS_SEVERITY,
    )
    assert (sqli.finding.severity, sqli.finding.severity_source) == (
        Severity.CRITICAL,
        SeveritySource.KB_CVSS_V3,
    )
    assert (own.finding.severity, own.finding.severity_source) == (
        Severity.MEDIUM,
        SeveritySource.CVSS_V3,
    )
    assert xss.finding.key == "2150001"  # the Detection ID, not the per-scan ID
    evidence = xss.finding.evidence or ""
    assert "Report result ID: 1150001" in evidence
    assert "Request: POST http://app.example.com/x" in evidence
    assert "Request body:\na=1" in evidence


def test_was_row_without_detection_id_is_keyed_on_its_report_id() -> None:
    """A report without Detection IDs falls back to a prefixed per-scan ID as the key."""
    row = _row("150001")
    row = ReportRow(7, "VULNERABILITY", {k: v for k, v in row.cells.items() if k != "Detection ID"})
    mapped = _mapper().map(row)
    assert isinstance(mapped, MappedRow)
    assert mapped.finding.key == "report-id:1150001"


def test_was_row_ignored_and_fixed_status_kept() -> None:
    """A fixed row is Fixed with its status text; an ignored row stays Active with its reason."""
    fixed = _mapper().map(_row("150001", Status="FIXED"))
    ignored = _mapper().map(_row("150001", Ignored="Yes", **{"Ignore Reason": "False Positive"}))
    assert isinstance(fixed, MappedRow)
    assert isinstance(ignored, MappedRow)
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
    assert isinstance(mapped, MappedRow)
    assert mapped.finding.severity is Severity.HIGH


@pytest.mark.parametrize(
    ("cells", "reason"),
    [
        ({"Port": "http"}, "column 'Port': 'http' is not a port number"),
        ({"Port": "99999"}, "column 'Port': '99999' is not a port number"),
        ({"CVSS V3 Base": "11"}, "column 'CVSS V3 Base': score 11 is outside 0.0-10.0"),
        ({"QID": "1" * 30}, "column 'QID': '" + "1" * 30 + "' is not a QID"),
        ({"QID": str(2**31)}, f"column 'QID': '{2**31}' is not a QID"),
        ({"Detection Date": "01 Jan 0001 12:00AM GMT"}, "is outside 1990-2199"),
        ({"Detection Date": "31 Dec 9999 11:59PM GMT-0500"}, "is not a date"),
        ({"Detection Date": "32 Apr 2019"}, "'32 Apr 2019' is not a date"),
    ],
)
def test_unmappable_rows_come_back_rejected_with_line_and_column(
    cells: dict[str, str], reason: str
) -> None:
    """A bad port, score, QID or date is a rejection naming the row's line and the column."""
    row = _row("150001", **cells)
    bad = _mapper().map(row)
    assert isinstance(bad, RowRejected)
    assert bad.line_no == 7
    assert reason in bad.reason


def test_last_seen_before_first_seen_is_rejected() -> None:
    """A row last detected before it was first detected is inconsistent, not stored."""
    row = _row(
        "150001",
        **{"First Time Detected": "24 Apr 2019", "Last Time Detected": "23 Apr 2019"},
    )
    bad = _mapper().map(row)
    assert isinstance(bad, RowRejected)
    assert "last detected (2019-04-23 00:00) before first detected" in bad.reason


@pytest.mark.parametrize(
    "url", ["http://app.example.com:99999/", "http://[::1/", "http://app.example.com:port/"]
)
def test_bad_port_or_ipv6_literal_is_a_bad_url(url: str) -> None:
    """A web app URL with a bad port or a broken IPv6 literal is a clear error, not a crash."""
    with pytest.raises(BadUrlError, match="is not a URL this importer can read"):
        normalise_url(url)


def test_ipv6_urls_normalise() -> None:
    """A bracketed IPv6 host keeps its brackets once normalised."""
    assert normalise_url("HTTP://[::1]:8080/a/") == "http://[::1]:8080/a"
