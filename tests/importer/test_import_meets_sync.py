"""An import and an API sync of the same findings meet on the same rows, whatever their order:
a report finding's Detection ID is the API's finding id, and the newer source wins per field."""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from connector.simulator.records import FindingRecord, WebAppRecord
from connector.store.schema import connector_state
from tests.support import Tenant

from . import layouts
from .conftest import Cli

pytestmark = pytest.mark.shared
BASE = "reports/was_scan_report_many_vuln.xml"


def _qualys_date(value: datetime) -> str:
    return value.strftime("%d %b %Y %I:%M%p GMT")


def _report(
    samples: Path, path: Path, webapp: WebAppRecord, found: list[FindingRecord], scanned: datetime
) -> Path:
    """many_vuln.xml made into a scan of `webapp` listing `found` (Detection ID = the API id),
    each detected a day before the API first saw it, the scan ending at `scanned`."""
    root = layouts.parse(samples / BASE).getroot()
    vulns = root.find("RESULTS/VULNERABILITY_LIST")
    infos = root.find("RESULTS/INFORMATION_GATHERED_LIST")
    glossary = root.find("GLOSSARY/QID_LIST")
    assert vulns is not None and infos is not None and glossary is not None
    template, entry = copy.deepcopy(vulns[0]), copy.deepcopy(glossary[0])
    vulns.clear()
    root.find("RESULTS").remove(infos)  # type: ignore[union-attr]
    for n, finding in enumerate(found):
        record = copy.deepcopy(template)
        for name, value in (
            ("ID", str(90_000_000 + n)),
            ("DETECTION_ID", str(finding.id)),
            ("QID", str(finding.qid)),
            ("URL", finding.url or webapp.url),
            ("DETECTION_DATE", _qualys_date(finding.first_detected - timedelta(days=1))),
        ):
            element = record.find(name)
            assert element is not None
            element.text = value
        vulns.append(record)
        if glossary.find(f"QID[QID='{finding.qid}']") is None:
            item = copy.deepcopy(entry)
            item.find("QID").text = str(finding.qid)  # type: ignore[union-attr]
            item.find("TITLE").text = f"Glossary title {finding.qid}"  # type: ignore[union-attr]
            glossary.append(item)
    for name, value in (("ID", str(webapp.id)), ("NAME", webapp.name), ("URL", webapp.url)):
        element = root.find(f"APPENDIX/WEBAPP/{name}")
        assert element is not None
        element.text = value
    for name in ("START_DATE", "END_DATE"):
        element = root.find(f"APPENDIX/SCAN_LIST/SCAN/{name}")
        assert element is not None
        element.text = _qualys_date(scanned)
    summary = root.find("SUMMARY/GLOBAL_SUMMARY")
    assert summary is not None
    summary.find("VULNERABILITY").text = str(len(found))  # type: ignore[union-attr]
    summary.find("INFORMATION_GATHERED").text = "0"  # type: ignore[union-attr]
    return layouts.write(ET.ElementTree(root), path)


def _pick(tenant: Tenant) -> tuple[WebAppRecord, list[FindingRecord]]:
    webapp = tenant.sim.dataset.webapps()[0]
    found = [
        f
        for f in tenant.sim.dataset.findings()
        if f.webapp_id == webapp.id
        and f.type == "VULNERABILITY"
        and f.status in ("NEW", "ACTIVE", "REOPENED")
    ][:3]
    assert len(found) == 3
    return webapp, found


def _reset(cli: Cli) -> None:
    cli.wipe()
    with cli.engine.begin() as conn:
        conn.execute(sa.delete(connector_state))


def _converged(cli: Cli, keys: list[str]) -> dict[str, dict[str, Any]]:
    shown = ("asset_key", "name", "status", "severity", "first_seen", "last_seen", "source", "qid")
    found = cli.findings()
    return {
        k: {c: found[k][c] for c in shown} | {"evidence": bool(found[k]["evidence"])} for k in keys
    }


def test_import_and_sync_meet_on_the_same_rows_in_either_order(
    cli: Cli, tenant: Tenant, samples: Path, tmp_path: Path
) -> None:
    """Sync-then-import and import-then-sync store the same single row per finding: the API's
    (newer) fields, the report's earlier first sighting and its evidence."""
    webapp, found = _pick(tenant)
    keys = [str(f.id) for f in found]
    scanned = min(f.last_tested for f in found) - timedelta(days=2)  # older than the API's
    report = _report(samples, tmp_path / "scan.xml", webapp, found, scanned)

    tenant.sync()
    synced_total = cli.counts()["findings"]
    first = cli.run("import", str(report))
    assert first.code == 0, first.err
    assert cli.counts()["findings"] == synced_total  # no second copy of anything
    sync_then_import = _converged(cli, keys)
    assert "3 kept" in first.out or "3 updated" in first.out

    _reset(cli)
    assert cli.run("import", str(report)).code == 0
    tenant.sync()
    assert cli.counts()["findings"] == synced_total
    import_then_sync = _converged(cli, keys)

    assert sync_then_import == import_then_sync
    for finding in found:
        row = import_then_sync[str(finding.id)]
        assert row["asset_key"] == str(webapp.id)
        assert row["name"] == finding.name  # the API's record is the newer one
        assert row["source"] == "api+import"
        earlier = finding.first_detected - timedelta(days=1)  # reports print minutes
        assert row["first_seen"] == earlier.replace(second=0, microsecond=0)
        assert row["evidence"]


def test_a_resync_and_a_reimport_after_meeting_write_nothing(
    cli: Cli, tenant: Tenant, samples: Path, tmp_path: Path
) -> None:
    """Once an import and a sync met, another sync writes 0 finding rows and another import of
    the same file changes nothing."""
    webapp, found = _pick(tenant)
    report = _report(samples, tmp_path / "scan.xml", webapp, found, tenant.now)
    tenant.sync()
    assert cli.run("import", str(report)).code == 0
    again = tenant.sync()
    assert (again.counts.findings_created, again.counts.findings_updated) == (0, 0)
    before = cli.findings()
    result = cli.run("import", str(report))
    assert result.code == 0, result.err
    assert cli.findings() == before
    assert "0 created, 0 updated" in result.out


def test_a_newer_report_wins_its_fields_and_the_sync_keeps_them(
    cli: Cli, tenant: Tenant, samples: Path, tmp_path: Path
) -> None:
    """A report scanned after the API's last test wins the fields it has; the next sync (older
    information) does not roll them back, nor does the import ever close what the API lists."""
    webapp, found = _pick(tenant)
    report = _report(samples, tmp_path / "scan.xml", webapp, found, tenant.now + timedelta(days=1))
    tenant.sync()
    assert cli.run("import", str(report)).code == 0
    tenant.sync()
    rows = cli.findings()
    for finding in found:
        assert rows[str(finding.id)]["name"] == f"Glossary title {finding.qid}"
    api_only = [
        f for f in rows.values() if f["asset_key"] == str(webapp.id) and f["source"] == "api"
    ]
    assert api_only  # findings of that web app the report does not list
    assert {f["status"] for f in api_only} == {
        "Fixed" if f.status in ("FIXED", "PROTECTED") else "Active"
        for f in tenant.sim.dataset.findings()
        if str(f.id) in {r["key"] for r in api_only}
    }
