"""Mutations of the data set show up in the next responses."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from connector.simulator import Dataset, Tag

from .helpers import FINDING_COUNT, FINDING_SEARCH, WEBAPP_SEARCH, count, page_through, parse

WHEN = datetime(2024, 7, 1, 12, 0, tzinfo=UTC)


def finding_by_id(client: httpx.Client, finding_id: int) -> dict[str, object] | None:
    records, _ = page_through(client, FINDING_SEARCH, ("id", "EQUALS", str(finding_id)))
    return records[0] if records else None


def an_active(dataset: Dataset) -> int:
    return next(f.id for f in dataset.findings() if f.status == "ACTIVE")


def test_fixing_a_finding(client: httpx.Client, dataset: Dataset) -> None:
    """set_finding_status FIXED changes status, sets fixedDate and lastTestedDate."""
    fid = an_active(dataset)
    dataset.set_finding_status(fid, "FIXED", when=WHEN)
    rendered = finding_by_id(client, fid)
    assert rendered is not None
    assert rendered["status"] == "FIXED"
    assert rendered["fixedDate"] == "2024-07-01T12:00:00Z"
    assert rendered["lastTestedDate"] == "2024-07-01T12:00:00Z"
    active = count(client, FINDING_COUNT, ("status", "EQUALS", "ACTIVE"))
    assert active == sum(1 for f in dataset.findings() if f.status == "ACTIVE")


def test_reopening_clears_fixed_date(client: httpx.Client, dataset: Dataset) -> None:
    """A fixed finding set to REOPENED loses fixedDate and is detected at `when`."""
    fid = next(f.id for f in dataset.findings() if f.status == "FIXED")
    dataset.set_finding_status(fid, "REOPENED", when=WHEN)
    rendered = finding_by_id(client, fid)
    assert rendered is not None
    assert rendered["status"] == "REOPENED"
    assert "fixedDate" not in rendered
    assert rendered["lastDetectedDate"] == "2024-07-01T12:00:00Z"


def test_removed_finding_disappears_everywhere(client: httpx.Client, dataset: Dataset) -> None:
    """remove_finding drops it from searches, counts and keyset paging."""
    before = count(client, FINDING_COUNT)
    fid = dataset.finding_ids()[10]
    dataset.remove_finding(fid)
    assert finding_by_id(client, fid) is None
    assert count(client, FINDING_COUNT) == before - 1
    records, _ = page_through(client, FINDING_SEARCH, limit=7)
    assert fid not in {int(r["id"]) for r in records}
    assert len(records) == before - 1


def test_added_finding_comes_last_and_is_counted(client: httpx.Client, dataset: Dataset) -> None:
    """add_finding appends a NEW finding with the highest id, visible to per-web-app filters."""
    app = dataset.webapps()[-1]
    before = count(client, FINDING_COUNT, ("webApp.id", "EQUALS", str(app.id)))
    added = dataset.add_finding(app.id, when=WHEN)
    assert added.id == max(dataset.finding_ids())
    records, _ = page_through(client, FINDING_SEARCH, ("webApp.id", "EQUALS", str(app.id)))
    assert int(records[-1]["id"]) == added.id
    assert records[-1]["status"] == "NEW"
    assert records[-1]["firstDetectedDate"] == "2024-07-01T12:00:00Z"
    assert count(client, FINDING_COUNT, ("webApp.id", "EQUALS", str(app.id))) == before + 1


def test_added_finding_can_use_an_unknown_qid(dataset: Dataset) -> None:
    """add_finding accepts any pool QID, including ones the KB does not know."""
    qid = dataset.unknown_qids[0]
    added = dataset.add_finding(dataset.webapps()[0].id, qid=qid, status="ACTIVE")
    assert added.qid == qid
    assert added.status == "ACTIVE"
    assert dataset.kb_entry(qid) is None


def test_added_webapp_is_listed(client: httpx.Client, dataset: Dataset) -> None:
    """add_webapp appends a never-scanned web app with the given tags and attributes."""
    app = dataset.add_webapp(
        name="Demo",
        url="https://demo.example.com/",
        tags=[Tag(1, "New")],
        attributes=[("Owner", "dave")],
        when=WHEN,
    )
    records, _ = page_through(client, WEBAPP_SEARCH)
    last = records[-1]
    assert int(last["id"]) == app.id
    assert last["name"] == "Demo"
    assert "lastScan" not in last
    dataset.add_finding(app.id, when=WHEN)
    assert count(client, FINDING_COUNT, ("webApp.id", "EQUALS", str(app.id))) == 1


def test_removed_webapp_takes_its_findings(client: httpx.Client, dataset: Dataset) -> None:
    """remove_webapp hides the web app and every finding of it."""
    app = dataset.webapps()[0]
    mine = sum(1 for f in dataset.findings() if f.webapp_id == app.id)
    before = count(client, FINDING_COUNT)
    dataset.remove_webapp(app.id)
    assert count(client, FINDING_COUNT) == before - mine
    records, _ = page_through(client, WEBAPP_SEARCH)
    assert app.id not in {int(r["id"]) for r in records}


def test_updated_webapp_fields_show_in_findings(client: httpx.Client, dataset: Dataset) -> None:
    """update_webapp renames the web app in its own record and in its findings' webApp."""
    app = dataset.webapps()[1]
    dataset.update_webapp(app.id, name="Renamed", updated_date=WHEN)
    body = parse(client.get(f"/qps/rest/3.0/get/was/webapp/{app.id}").content)
    assert body["ServiceResponse"]["data"]["WebApp"][0]["name"] == "Renamed"
    fid = next(f.id for f in dataset.findings() if f.webapp_id == app.id)
    rendered = finding_by_id(client, fid)
    assert rendered is not None
    assert rendered["webApp"]["name"] == "Renamed"  # type: ignore[index]


def test_ignoring_and_overriding_fields(client: httpx.Client, dataset: Dataset) -> None:
    """set_finding_ignored and update_finding change the rendered finding."""
    fid = an_active(dataset)
    dataset.set_finding_ignored(fid, "RISK_ACCEPTED", when=WHEN)
    dataset.update_finding(fid, cvss=None)
    rendered = finding_by_id(client, fid)
    assert rendered is not None
    assert rendered["isIgnored"] == "true"
    assert rendered["ignoredReason"] == "RISK_ACCEPTED"
    assert "cvssV3" not in rendered


def test_kb_entry_changes(dataset: Dataset) -> None:
    """set_kb_modified and update_kb_entry replace the KB entry."""
    qid = dataset.kb_entries()[0].qid
    dataset.set_kb_modified(qid, WHEN)
    dataset.update_kb_entry(qid, title="New title")
    entry = dataset.kb_entry(qid)
    assert entry is not None
    assert (entry.last_modified, entry.title) == (WHEN, "New title")


def test_bad_mutations_are_refused(dataset: Dataset) -> None:
    """Unknown ids, statuses on informational findings and blocked fields raise errors."""
    with pytest.raises(KeyError):
        dataset.set_finding_status(1, "FIXED")
    info = next(f.id for f in dataset.findings() if f.type == "INFORMATION_GATHERED")
    with pytest.raises(ValueError, match="no status"):
        dataset.set_finding_status(info, "FIXED")
    with pytest.raises(ValueError, match="cannot override"):
        dataset.update_finding(info, status="NEW")
    with pytest.raises(KeyError):
        dataset.set_kb_modified(dataset.unknown_qids[0], WHEN)
