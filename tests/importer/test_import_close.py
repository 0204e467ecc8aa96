"""Closing findings absent from a report: only for a report at least as new as the newest one
imported for its web application, only for the types it holds in full, dated by the report."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from connector.store.schema import finding_events

from .conftest import CSV_SAMPLE, Cli, Transform

pytestmark = pytest.mark.shared
GONE = {"78419248": "2111160", "78419220": "2111104"}  # report ID -> Detection ID
DAY2 = datetime(2019, 4, 25, 2, 47, tzinfo=UTC)


def _summary_totals(rows: list[list[str]]) -> list[list[str]]:
    """The SUMMARY's totals row made to agree with the results the report holds."""
    vulns = sum(1 for r in rows if r[:1] == ["VULNERABILITY"] and r[1] != "ID")
    infos = sum(1 for r in rows if r[:1] == ["INFORMATION_GATHERED"] and r[1] != "ID")
    return [["High", str(vulns), "0", str(infos)] if r[:1] == ["High"] else r for r in rows]


def _rescan(day: str, drop: set[str] = frozenset()) -> Transform:  # type: ignore[assignment]
    """The same web app scanned again on `day`: new per-scan IDs, same Detection IDs."""

    def transform(rows: list[list[str]]) -> list[list[str]]:
        out = []
        for row in rows:
            result = row[:1] in (["VULNERABILITY"], ["INFORMATION_GATHERED"]) and row[1] != "ID"
            if result and row[1] in drop:
                continue
            fresh = [row[0], str(int(row[1]) + 1000), *row[2:]] if result else row
            out.append([cell.replace("24 Apr 2019", day) for cell in fresh])
        return _summary_totals(out)

    return transform


def test_newer_report_closes_absent_findings_as_of_its_date(
    cli: Cli, samples: Path, variant: Callable[[str, Transform], Path]
) -> None:
    """The two findings missing from the next day's rescan are Fixed at its scan date."""
    newer = variant("newer.csv", _rescan("25 Apr 2019", set(GONE)))
    assert cli.run("import", str(samples / CSV_SAMPLE)).code == 0
    result = cli.run("import", str(newer))
    assert result.code == 0, result.err
    found = cli.findings()
    assert len(found) == 92  # one record per detection, across both scans
    assert {k for k, f in found.items() if f["status"] == "Fixed"} == set(GONE.values())
    closed = found["2111104"]
    assert closed["fixed_reason"] == "absent from report newer.csv (2019-04-25 02:47 UTC)"
    assert closed["fixed_at"] == DAY2
    assert "2 marked Fixed" in result.out
    kept = found["2111164"]  # in both scans
    assert kept["first_seen"] == datetime(2019, 4, 24, 1, 41, tzinfo=UTC)
    assert kept["last_seen"] == datetime(2019, 4, 25, 1, 41, tzinfo=UTC)
    with cli.engine.connect() as conn:
        events = conn.execute(
            sa.select(finding_events.c.to_status).where(finding_events.c.finding_key == "2111104")
        ).scalars()
        assert list(events) == ["Active", "Fixed"]


def test_no_close_keeps_absent_findings_active(
    cli: Cli, samples: Path, variant: Callable[[str, Transform], Path]
) -> None:
    """With --no-close the findings missing from the newer report stay Active."""
    newer = variant("newer.csv", _rescan("25 Apr 2019", set(GONE)))
    cli.run("import", str(samples / CSV_SAMPLE))
    result = cli.run("import", str(newer), "--no-close")
    assert result.code == 0, result.err
    assert {f["status"] for f in cli.findings().values()} == {"Active"}
    assert "--no-close" in result.out


def test_older_report_imported_later_changes_nothing(
    cli: Cli, samples: Path, variant: Callable[[str, Transform], Path]
) -> None:
    """After a newer report, an older one neither closes, reopens, nor rolls back anything."""
    newer = variant("newer.csv", _rescan("25 Apr 2019", set(GONE)))
    assert cli.run("import", str(samples / CSV_SAMPLE)).code == 0
    assert cli.run("import", str(newer)).code == 0
    before = cli.rows()
    older = variant("older_subset.csv", _rescan("24 Apr 2019", {"78419250"}))
    result = cli.run("import", str(older))
    assert result.code == 0, result.err
    assert cli.rows() == before
    assert "0 marked Fixed" in result.out
    assert "newer report" in result.out
    assert "91 kept" in result.out


def test_reappearing_finding_becomes_active_again(
    cli: Cli, samples: Path, variant: Callable[[str, Transform], Path]
) -> None:
    """A finding closed as absent is Active again when a still newer report contains it."""
    cli.run("import", str(samples / CSV_SAMPLE))
    cli.run("import", str(variant("newer.csv", _rescan("25 Apr 2019", set(GONE)))))
    result = cli.run("import", str(variant("newest.csv", _rescan("26 Apr 2019"))))
    assert result.code == 0, result.err
    found = cli.findings()["2111104"]
    assert (found["status"], found["fixed_reason"], found["fixed_at"]) == ("Active", None, None)


def test_report_without_information_gathered_closes_only_vulnerabilities(
    cli: Cli, samples: Path, variant: Callable[[str, Transform], Path]
) -> None:
    """A newer report with no information-gathered table leaves those findings as they are."""

    def no_infos(rows: list[list[str]]) -> list[list[str]]:
        rescanned = _rescan("25 Apr 2019", {"78419248"})(rows)
        return _summary_totals([r for r in rescanned if r[:1] != ["INFORMATION_GATHERED"]])

    cli.run("import", str(samples / CSV_SAMPLE))
    result = cli.run("import", str(variant("vulns_only.csv", no_infos)))
    assert result.code == 0, result.err
    found = cli.findings()
    assert {k for k, f in found.items() if f["status"] == "Fixed"} == {"2111160"}
    infos = [f for f in found.values() if f["type"] == "INFORMATION_GATHERED"]
    assert len(infos) == 24
    assert {f["status"] for f in infos} == {"Active"}


def test_trimmed_report_closes_nothing_of_the_short_type(
    cli: Cli, samples: Path, variant: Callable[[str, Transform], Path]
) -> None:
    """A newer report holding fewer vulnerabilities than its SUMMARY declares closes none."""

    def trimmed(rows: list[list[str]]) -> list[list[str]]:
        rescanned = _rescan("25 Apr 2019", set(GONE))(rows)
        return [["High", "68", "0", "24"] if r[:1] == ["High"] else r for r in rescanned]

    cli.run("import", str(samples / CSV_SAMPLE))
    result = cli.run("import", str(variant("trimmed.csv", trimmed)))
    assert result.code == 0, result.err
    assert {f["status"] for f in cli.findings().values()} == {"Active"}
    assert "the SUMMARY declares 68 vulnerability results but the report holds 66" in result.out


def test_filtered_report_closes_nothing(
    cli: Cli, samples: Path, variant: Callable[[str, Transform], Path]
) -> None:
    """A report exported with a narrowing filter (only some severities) closes nothing."""

    def filtered(rows: list[list[str]]) -> list[list[str]]:
        rescanned = _rescan("25 Apr 2019", set(GONE))(rows)
        at = rescanned.index(["FILTERS"]) + 1
        return [*rescanned[:at], ["Severity", "Level 5"], *rescanned[at:]]

    cli.run("import", str(samples / CSV_SAMPLE))
    result = cli.run("import", str(variant("filtered.csv", filtered)))
    assert result.code == 0, result.err
    assert {f["status"] for f in cli.findings().values()} == {"Active"}
    assert "the report was filtered (severity: level 5)" in result.out


def test_skipped_row_keeps_its_finding_open(
    cli: Cli, samples: Path, variant: Callable[[str, Transform], Path]
) -> None:
    """A row skipped with --skip-bad-rows still lists its finding: it is never closed."""

    def bad_port(rows: list[list[str]]) -> list[list[str]]:
        rescanned = _rescan("25 Apr 2019")(rows)
        return [
            [*r[:17], "not a date"] + r[18:] if r[:2] == ["VULNERABILITY", "78420248"] else r
            for r in rescanned
        ]

    cli.run("import", str(samples / CSV_SAMPLE))
    result = cli.run("import", str(variant("bad_row.csv", bad_port)), "--skip-bad-rows")
    assert result.code == 0, result.err
    assert "rows skipped:    1" in result.out
    assert {f["status"] for f in cli.findings().values()} == {"Active"}
