"""`connector validate`: Qualys' counts against the store, each mismatch with its likely cause."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from connector.simulator import RunningServer, serve_in_thread
from connector.store import schema
from connector.validate import ValidationReport, validate
from tests.support import (
    Tenant,
    run_cli,
    write_config,
)


@pytest.fixture
def served(tenant: Tenant) -> Iterator[RunningServer]:
    with serve_in_thread(tenant.sim) as running:
        yield running


def check(tenant: Tenant) -> ValidationReport:
    with tenant.client() as client:
        return validate(tenant.config, tenant.engine, client)


def open_finding(tenant: Tenant) -> tuple[int, int]:
    """(finding id, web app id) of an open vulnerability."""
    for f in tenant.sim.dataset.findings():
        if f.type == "VULNERABILITY" and f.status in ("NEW", "ACTIVE", "REOPENED"):
            return f.id, f.webapp_id
    raise AssertionError("no open vulnerability in the data set")


def add_open_finding(tenant: Tenant, webapp_id: int) -> None:
    """A NEW vulnerability on the web app, detected now."""
    qid = next(
        q for q, p in sorted(tenant.sim.dataset.qid_profiles.items()) if p.type == "VULNERABILITY"
    )
    tenant.sim.dataset.add_finding(webapp_id, qid=qid, status="NEW", when=tenant.now)


def test_counts_match_after_a_sync(tenant: Tenant) -> None:
    """Right after a sync every web app's open findings and the web app count match."""
    tenant.sync()
    report = check(tenant)
    assert report.ok
    assert report.webapps_qualys == report.assets_active == 4
    assert report.webapps_checked == 4
    assert report.mismatches == []


def test_finding_added_since_the_sync_is_not_yet_synced(tenant: Tenant) -> None:
    """A finding Qualys gained since the sync shows as one more in Qualys, 'not yet synced'."""
    tenant.sync()
    webapp = tenant.sim.dataset.webapps()[0]
    add_open_finding(tenant, webapp.id)
    report = check(tenant)
    assert not report.ok
    [mismatch] = report.mismatches
    assert mismatch.scope == f"web app {webapp.id}"
    assert mismatch.name == webapp.name
    assert mismatch.qualys == mismatch.stored + 1
    assert "not yet synced" in mismatch.cause


def test_finding_fixed_since_the_sync(tenant: Tenant) -> None:
    """A finding Qualys fixed since the sync shows as one fewer in Qualys, 'fixed since'."""
    tenant.sync()
    finding_id, webapp_id = open_finding(tenant)
    tenant.sim.dataset.set_finding_status(finding_id, "FIXED", when=tenant.now)
    [mismatch] = check(tenant).mismatches
    assert mismatch.scope == f"web app {webapp_id}"
    assert mismatch.qualys == mismatch.stored - 1
    assert "fixed since" in mismatch.cause


def test_web_app_archived_by_retention_is_a_note_not_a_mismatch(tenant: Tenant) -> None:
    """A web app archived by retention, still listed in Qualys, is neither a web app count
    mismatch nor a findings mismatch: the report notes it and the counts match."""
    tenant.sync()
    tenant.archive_one_webapp()
    report = check(tenant)
    assert report.ok, report.mismatches
    assert report.webapps_qualys == 4
    assert report.assets_active == 3
    assert report.webapps_checked == 3
    assert any("1 web app(s) archived by retention" in note for note in report.notes)


def test_imported_findings_are_a_note_not_a_mismatch(tenant: Tenant) -> None:
    """An Active finding imported from a file onto a synced web app is not counted against
    Qualys' open findings of that web app; the report notes it."""
    tenant.sync()
    webapp = tenant.sim.dataset.webapps()[0]
    with tenant.engine.begin() as conn:
        conn.execute(
            sa.insert(schema.findings).values(
                connector="qualys-was", key="import:file-1", asset_key=str(webapp.id),
                name="Imported XSS", severity="High", severity_source="file", cwes=[79],
                owasp=[], wasc=[], status="Active", qualys_status="NEW", type="VULNERABILITY",
                ports=[443], source="import:qualys-was-csv", created_at=tenant.now,
                updated_at=tenant.now,
            )
        )  # fmt: skip
    report = check(tenant)
    assert report.ok, report.mismatches
    assert any("1 Active finding(s) imported from scan files" in note for note in report.notes)


def test_new_web_app_not_yet_synced(tenant: Tenant) -> None:
    """A web app created in Qualys since the sync is missing from the store: 'not yet synced'."""
    tenant.sync()
    new = tenant.sim.dataset.add_webapp(name="Brand new", when=tenant.now)
    add_open_finding(tenant, new.id)
    report = check(tenant)
    by_scope = {m.scope: m for m in report.mismatches}
    assert (by_scope["web apps"].qualys, by_scope["web apps"].stored) == (5, 4)
    assert "not yet synced" in by_scope["web apps"].cause
    own = by_scope[f"web app {new.id}"]
    assert (own.qualys, own.stored, own.name) == (1, 0, None)
    assert "not in the store" in own.cause


def test_cli_validate_exits_0_when_counts_match(
    tenant: Tenant, served: RunningServer, tmp_path: Path, db_url: str
) -> None:
    """`connector validate` prints 'counts match' and exits 0 after a sync."""
    tenant.sync()
    result = run_cli(["validate"], write_config(tmp_path, served.base_url, db_url))
    assert result.code == 0, result.stderr
    assert "counts match" in result.stdout
    assert "web apps in Qualys: 4, active assets stored: 4" in result.stdout


def test_cli_validate_prints_mismatches_and_exits_5(
    tenant: Tenant, served: RunningServer, tmp_path: Path, db_url: str
) -> None:
    """A mismatch is printed as a table row with its cause, and the exit code is 5."""
    tenant.sync()
    webapp = tenant.sim.dataset.webapps()[1]
    add_open_finding(tenant, webapp.id)
    result = run_cli(["validate"], write_config(tmp_path, served.base_url, db_url))
    assert result.code == 5
    assert "1 mismatch(es)" in result.stdout
    assert f"web app {webapp.id}" in result.stdout
    assert "not yet synced" in result.stdout


def test_cli_validate_json(
    tenant: Tenant, served: RunningServer, tmp_path: Path, db_url: str
) -> None:
    """--json prints one JSON document with the counts, every mismatch and ok; exit 5 on mismatch."""
    tenant.sync()
    finding_id, webapp_id = open_finding(tenant)
    tenant.sim.dataset.set_finding_status(finding_id, "FIXED", when=tenant.now)
    result = run_cli(["validate", "--json"], write_config(tmp_path, served.base_url, db_url))
    assert result.code == 5
    document = json.loads(result.stdout)
    assert set(document) == {
        "webapps_qualys",
        "assets_active",
        "webapps_checked",
        "mismatches",
        "notes",
        "ok",
    }
    assert document["ok"] is False
    assert (document["webapps_qualys"], document["assets_active"]) == (4, 4)
    [mismatch] = document["mismatches"]
    assert set(mismatch) == {"scope", "name", "qualys", "stored", "cause"}
    assert mismatch["scope"] == f"web app {webapp_id}"
    assert mismatch["qualys"] == mismatch["stored"] - 1


def test_cli_validate_json_when_counts_match(
    tenant: Tenant, served: RunningServer, tmp_path: Path, db_url: str
) -> None:
    """--json after a clean sync says ok with no mismatches, and exits 0."""
    tenant.sync()
    result = run_cli(["validate", "--json"], write_config(tmp_path, served.base_url, db_url))
    assert result.code == 0
    document = json.loads(result.stdout)
    assert (document["ok"], document["mismatches"]) == (True, [])


def test_informational_findings_left_from_the_toggle_are_noted_not_compared(tenant: Tenant) -> None:
    """Informational findings stored while pull_informational was on are a note, not a mismatch."""
    tenant.sync(pull_informational=True)
    report = check(tenant)
    assert report.ok
    assert any("informational toggle" in note for note in report.notes)
