"""End to end: the simulator, the real client, the real store (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from connector.errors import QualysUnreachableError
from connector.mapping import severity_from_cvss
from connector.models import RunOutcome
from connector.simulator import Fault
from connector.store import schema
from tests.support import Tenant


def rows(tenant: Tenant, query: sa.Select) -> list[sa.Row]:  # type: ignore[type-arg]
    with tenant.engine.connect() as conn:
        return list(conn.execute(query))


def finding_row(tenant: Tenant, key: str) -> sa.Row:  # type: ignore[type-arg]
    found = rows(tenant, sa.select(schema.findings).where(schema.findings.c.key == key))
    assert len(found) == 1
    return found[0]


def some_active_finding(tenant: Tenant) -> str:
    for f in tenant.sim.dataset.findings():
        if f.type == "VULNERABILITY" and f.status in ("NEW", "ACTIVE", "REOPENED"):
            return str(f.id)
    raise AssertionError("the data set has no open vulnerability")


def test_first_sync_stores_every_web_app_finding_and_kb_entry(tenant: Tenant) -> None:
    """A first sync stores each web app, each non-informational finding, and the KB entries they use."""
    report = tenant.sync()
    assert report.outcome is RunOutcome.SUCCEEDED
    stored = {r.key for r in rows(tenant, sa.select(schema.findings.c.key))}
    assert stored == tenant.expected_ids()
    assets = {r.key for r in rows(tenant, sa.select(schema.assets.c.key))}
    assert assets == {str(w.id) for w in tenant.sim.dataset.webapps()}
    assert report.counts.findings_created == len(stored)
    qids = {r.qid for r in rows(tenant, sa.select(schema.findings.c.qid))}
    kb = {r.qid: r.known for r in rows(tenant, sa.select(schema.weaknesses))}
    assert qids <= set(kb)
    events = rows(tenant, sa.select(schema.finding_events))
    assert len(events) == len(stored)
    assert all(e.from_status is None for e in events)
    run = rows(tenant, sa.select(schema.sync_runs))[0]
    assert (run.outcome, run.api_calls) == ("succeeded", report.api_calls)


def test_resync_without_change_writes_no_finding_rows_and_calls_no_kb(tenant: Tenant) -> None:
    """A re-sync of unchanged data rewrites no finding, adds no event and makes no KB call."""
    tenant.sync()
    before = rows(tenant, sa.select(schema.findings.c.key, schema.findings.c.updated_at))
    events_before = len(rows(tenant, sa.select(schema.finding_events)))
    sim_kb_calls = tenant.sim.stats.calls["kb"]
    report = tenant.sync(at=tenant.now + timedelta(hours=2))
    assert report.counts.findings_created == report.counts.findings_updated == 0
    assert report.counts.findings_unchanged == len(before)
    assert rows(tenant, sa.select(schema.findings.c.key, schema.findings.c.updated_at)) == before
    assert len(rows(tenant, sa.select(schema.finding_events))) == events_before
    assert tenant.sim.stats.calls["kb"] == sim_kb_calls
    assert report.counts.kb_calls == 0


def test_finding_fixed_in_qualys_becomes_fixed_with_event(tenant: Tenant) -> None:
    """A finding Qualys marks FIXED is Fixed after the next sync, with a status event."""
    tenant.sync()
    key = some_active_finding(tenant)
    tenant.sim.dataset.set_finding_status(int(key), "FIXED", when=tenant.now)
    report = tenant.sync()
    row = finding_row(tenant, key)
    assert (row.status, row.qualys_status) == ("Fixed", "FIXED")
    assert row.fixed_at is not None
    assert report.counts.findings_fixed_by_qualys == 1
    events = rows(
        tenant,
        sa.select(schema.finding_events).where(schema.finding_events.c.finding_key == key),
    )
    assert [(e.from_status, e.to_status) for e in events] == [(None, "Active"), ("Active", "Fixed")]


def test_finding_that_disappears_becomes_fixed_as_absent(tenant: Tenant) -> None:
    """A finding Qualys no longer lists becomes Fixed with reason 'absent' once the sync completes."""
    tenant.sync()
    key = some_active_finding(tenant)
    tenant.sim.dataset.remove_finding(int(key))
    report = tenant.sync()
    row = finding_row(tenant, key)
    assert (row.status, row.fixed_reason) == ("Fixed", "absent")
    assert report.counts.findings_fixed_absent == 1


def test_failure_on_page_three_of_five_marks_nothing_fixed(tenant: Tenant) -> None:
    """A sync failing on page 3 of 5 records a failed run and fixes nothing, though a finding vanished."""
    tenant.sync()
    assert len(tenant.expected_ids()) > 200  # five pages of 50
    key = some_active_finding(tenant)
    tenant.sim.dataset.remove_finding(int(key))
    tenant.sim.add_fault(Fault("finding", "http_503", on_call=3, times=100))
    with pytest.raises(QualysUnreachableError):
        tenant.sync()
    assert finding_row(tenant, key).status == "Active"
    fixed = rows(tenant, sa.select(schema.findings).where(schema.findings.c.status == "Fixed"))
    assert all(r.fixed_reason != "absent" for r in fixed)
    last = rows(tenant, sa.select(schema.sync_runs).order_by(schema.sync_runs.c.id.desc()))[0]
    assert last.outcome == "failed"
    assert "503" in (last.error or "") or "unavailable" in (last.error or "").lower()
    tenant.sim.clear_faults()
    tenant.sync()
    assert finding_row(tenant, key).status == "Fixed"


def test_informational_toggle(tenant: Tenant) -> None:
    """Informational findings come only with pull_informational, and switching it off fixes none of them."""
    tenant.sync(pull_informational=True)
    info = tenant.expected_ids(("INFORMATION_GATHERED",))
    assert info
    stored = {r.key for r in rows(tenant, sa.select(schema.findings.c.key))}
    assert info <= stored
    tenant.sync(pull_informational=False)
    still = rows(
        tenant,
        sa.select(schema.findings.c.status).where(schema.findings.c.key.in_(sorted(info))),
    )
    assert {r.status for r in still} == {"Active"}


def test_kb_enrichment_with_unknown_qid(tenant: Tenant) -> None:
    """KB text fills weaknesses; a QID the KB does not know is stored as unknown and counted."""
    unknown_qid = tenant.sim.dataset.unknown_qids[0]
    webapp = tenant.sim.dataset.webapps()[0].id
    added = tenant.sim.dataset.add_finding(webapp, qid=unknown_qid, status="NEW")
    report = tenant.sync()
    assert report.counts.kb_unknown >= 1
    weakness = rows(
        tenant, sa.select(schema.weaknesses).where(schema.weaknesses.c.qid == unknown_qid)
    )[0]
    assert weakness.known is False
    assert weakness.description is None
    assert finding_row(tenant, str(added.id)).qid == unknown_qid
    known = rows(tenant, sa.select(schema.weaknesses).where(schema.weaknesses.c.known.is_(True)))
    assert known
    assert all(w.description for w in known)


def test_severity_from_kb_when_finding_has_no_cvss(tenant: Tenant) -> None:
    """A finding without its own CVSS takes the KB's CVSS v3 band, and says so; a re-sync keeps it."""
    dataset = tenant.sim.dataset
    target = next(
        f
        for f in dataset.findings()
        if f.type == "VULNERABILITY"
        and (entry := dataset.kb_entry(f.qid)) is not None
        and entry.cvss is not None
    )
    kb_entry = dataset.kb_entry(target.qid)
    assert kb_entry is not None
    assert kb_entry.cvss is not None
    dataset.update_finding(target.id, cvss=None)
    tenant.sync()
    row = finding_row(tenant, str(target.id))
    assert (row.severity_source, row.cvss_v3_base) == ("kb_cvss_v3", None)
    assert row.severity == severity_from_cvss(kb_entry.cvss.base).value
    report = tenant.sync()
    assert report.counts.findings_updated == 0
    assert finding_row(tenant, str(target.id)).severity_source == "kb_cvss_v3"


def test_retention_archives_and_reactivates(tenant: Tenant) -> None:
    """Assets not observed within the retention window are archived; a newer observation reactivates."""
    tenant.sync()
    later = tenant.now + timedelta(days=400)
    report = tenant.sync(at=later)
    assert report.counts.assets_archived == len(tenant.sim.dataset.webapps())
    states = {r.state for r in rows(tenant, sa.select(schema.assets.c.state))}
    assert states == {"archived"}
    webapp = tenant.sim.dataset.webapps()[0]
    tenant.sim.dataset.update_webapp(webapp.id, updated_date=later)
    report = tenant.sync(at=later + timedelta(hours=1))
    assert report.counts.assets_reactivated == 1
    row = rows(tenant, sa.select(schema.assets).where(schema.assets.c.key == str(webapp.id)))[0]
    assert (row.state, row.archived_at) == ("active", None)
