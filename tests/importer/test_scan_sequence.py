"""Consecutive scans of one web application imported in turn: a report, the next day's rescan
lacking one finding, the older report again, then a report in a layout nobody knows."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path

import pytest

from . import layouts
from .conftest import Cli

pytestmark = pytest.mark.shared
BASE = "reports/was_scan_report_many_vuln.xml"
GONE = "6058986"  # the Path-Based Vulnerability, fixed before the rescan
DAY1_END = datetime(2020, 3, 11, 17, 42, tzinfo=UTC)
DAY2_END = datetime(2020, 3, 12, 17, 42, tzinfo=UTC)


def _rescan(samples: Path, tmp_path: Path) -> Path:
    """The next day's scan: every date a day later, new per-scan IDs, one vulnerability gone."""
    root = layouts.shift_dates(
        layouts.parse(samples / BASE).getroot(), "11 Mar 2020", "12 Mar 2020"
    )
    for record in layouts.records(root):
        scan_id = record.find("ID")
        assert scan_id is not None and scan_id.text
        scan_id.text = str(int(scan_id.text) + 500_000)
    root = layouts.drop_records(root, lambda r: r.findtext("DETECTION_ID") != GONE)
    return layouts.write(root, tmp_path / "day2.xml")


def _unknown_layout(samples: Path, tmp_path: Path) -> Path:
    """A later scan whose results sit where no known layout puts them."""
    root = layouts.shift_dates(
        layouts.parse(samples / BASE).getroot(), "11 Mar 2020", "13 Mar 2020"
    )
    results = root.find("RESULTS")
    assert results is not None
    wrapper = copy.deepcopy(results)
    wrapper.tag = "SCAN_RESULTS"
    for child in list(results):
        results.remove(child)
    results.append(wrapper)
    return layouts.write(root, tmp_path / "day3.xml")


def test_consecutive_scans_keep_one_record_per_detection(
    cli: Cli, samples: Path, tmp_path: Path
) -> None:
    """Exactly one record per Detection ID; the gone one Fixed as of the rescan; the older report
    again and an unreadable one change nothing."""
    day1 = cli.run("import", str(samples / BASE))
    assert day1.code == 0, day1.err
    day2 = cli.run("import", str(_rescan(samples, tmp_path)))
    assert day2.code == 0, day2.err
    assert "0 created, 21 updated, 0 unchanged, 0 kept, 1 marked Fixed" in day2.out
    after_day2 = cli.rows()
    assert len(after_day2) == 22

    again = cli.run("import", str(samples / BASE))
    assert again.code == 0, again.err
    assert "0 created, 0 updated, 0 unchanged, 22 kept, 0 marked Fixed" in again.out
    assert cli.rows() == after_day2  # nothing reopened, re-closed or rolled back

    unknown = cli.run("import", str(_unknown_layout(samples, tmp_path)))
    assert unknown.code == 1
    assert "a layout this importer does not know" in unknown.err
    assert cli.rows() == after_day2

    found = cli.findings()
    assert len(found) == 22
    gone = found[GONE]
    assert (gone["status"], gone["fixed_at"]) == ("Fixed", DAY2_END)
    assert gone["fixed_reason"] == "absent from report day2.xml (2020-03-12 17:42 UTC)"
    assert gone["last_seen"] == datetime(2020, 3, 11, 17, 7, tzinfo=UTC)
    stayed = [f for k, f in found.items() if k != GONE]
    assert {f["status"] for f in stayed} == {"Active"}
    assert {f["first_seen"] for f in stayed} == {datetime(2020, 3, 11, 17, 7, tzinfo=UTC)}
    assert {f["last_seen"] for f in stayed} == {datetime(2020, 3, 12, 17, 7, tzinfo=UTC)}
    assert {f["as_of"] for f in stayed} == {DAY2_END}
    assert "Report result ID: 102007525" in found["6058980"]["evidence"]  # the rescan's own ID
