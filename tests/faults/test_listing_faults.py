"""Qualys answers that end early, never end, repeat, or leave web apps out: the sync stores what it
got, changes the status of no finding Qualys still lists, and says the listing is incomplete.

Each case runs after a clean first sync, so that a wrongful close would have Active findings to
close; full and incremental syncs both.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from connector.errors import ListingIncompleteError, QualysResponseError
from connector.models import RunOutcome
from connector.simulator import Fault, serve_in_thread
from connector.store import schema
from tests.support import (
    Snapshot,
    Tenant,
    assert_nothing_wrongly_fixed,
    run_cli,
    runs,
    snapshot,
    write_config,
)

Reference = Callable[[Tenant], Snapshot]
MODES = pytest.mark.parametrize("full", [True, False], ids=["full", "incremental"])


def statuses(tenant: Tenant) -> dict[str, str]:
    f = schema.findings
    with tenant.engine.connect() as conn:
        return dict(conn.execute(sa.select(f.c.key, f.c.status)).all())


def assert_no_listed_finding_changed(tenant: Tenant, before: dict[str, str]) -> None:
    """No finding the simulator still lists changed status, and none was closed as absent."""
    after = statuses(tenant)
    listed = tenant.expected_ids()
    changed = {key for key in listed if key in before and after.get(key) != before[key]}
    assert not changed
    assert_nothing_wrongly_fixed(tenant.engine)


def failed_sync(
    tenant: Tenant, *, full: bool, error: type[Exception] = ListingIncompleteError
) -> str:
    with pytest.raises(error) as caught:
        tenant.sync(full=full)
    assert runs(tenant.engine)[-1]["outcome"] == RunOutcome.FAILED.value
    return str(caught.value)


@MODES
def test_a_listing_that_ends_early_closes_nothing(tenant: Tenant, full: bool) -> None:
    """hasMoreRecords=false on every page from the second on: listing on past the end a few
    times does not reach it either, so the sync fails naming the shortfall."""
    tenant.config = tenant.with_qualys(page_size=10)  # more pages than the listing-on rounds
    tenant.sync()
    before = statuses(tenant)
    tenant.sim.add_fault(Fault("finding", "ends_early", on_call=2, every=True))
    message = failed_sync(tenant, full=full)
    assert "Qualys listed" in message
    assert "nothing was closed" in message
    assert_no_listed_finding_changed(tenant, before)


@MODES
def test_one_page_ending_early_is_listed_on_and_the_sync_completes(
    tenant: Tenant, reference: Reference, full: bool
) -> None:
    """A single page cut short: the count shows more past the end, the listing carries on from
    there, and the sync ends exactly as a clean one."""
    tenant.sync()
    tenant.sim.add_fault(Fault("finding", "ends_early", on_call=2))
    report = tenant.sync(full=full)
    assert report.outcome is RunOutcome.SUCCEEDED
    assert snapshot(tenant.engine) == reference(tenant)
    assert_nothing_wrongly_fixed(tenant.engine)


@MODES
def test_an_empty_page_before_the_end_closes_nothing(tenant: Tenant, full: bool) -> None:
    """An empty answer (count 0, no data) in the middle of the listing, every time: incomplete."""
    tenant.sync()
    before = statuses(tenant)
    tenant.sim.add_fault(Fault("finding", "ends_empty", on_call=2, every=True))
    failed_sync(tenant, full=full)
    assert_no_listed_finding_changed(tenant, before)


@MODES
def test_endless_empty_pages_stop_at_the_page_budget(tenant: Tenant, full: bool) -> None:
    """Empty pages that claim more records forever: paging stops within count / page size plus
    a small slack, the sync fails, and nothing is closed."""
    tenant.sync()
    before = statuses(tenant)
    tenant.sim.add_fault(Fault("finding", "endless_empty", on_call=2))
    tenant.sim.reset_stats()
    message = failed_sync(tenant, full=full)
    assert "more than its count allows" in message or "did not end" in message
    pages = len(tenant.expected_ids()) // tenant.config.qualys.page_size + 1
    assert tenant.sim.stats.calls["finding_search"] <= 3 * pages + 20
    assert_no_listed_finding_changed(tenant, before)


@MODES
def test_a_repeated_page_is_a_loop_not_the_end(tenant: Tenant, full: bool) -> None:
    """The previous page again (lastId not advancing): 'loop detected', the sync fails."""
    tenant.sync()
    before = statuses(tenant)
    tenant.sim.add_fault(Fault("finding", "repeat_page", on_call=3))
    message = failed_sync(tenant, full=full, error=QualysResponseError)
    assert "loop detected" in message
    assert_no_listed_finding_changed(tenant, before)


@pytest.mark.parametrize("concurrency", [1, 2])
def test_a_web_app_missing_from_the_listing_keeps_its_findings(
    tenant: Tenant, concurrency: int
) -> None:
    """A web app Qualys leaves out of the web-app listing: its findings are still listed (every
    stream covers an id range, not a list of web apps), stored, and never closed."""
    hidden = tenant.sim.dataset.webapps()[1]
    config = tenant.with_qualys(concurrency=concurrency)
    tenant.sync(config=config)
    tenant.sim.hidden_webapps.add(hidden.id)
    for full in (True, False):
        report = tenant.sync(config=config, full=full)
        assert report.outcome is RunOutcome.SUCCEEDED
        assert report.counts.findings_fixed_absent == 0
    stored = {key for key, _ in statuses(tenant).items()}
    assert tenant.expected_ids() <= stored
    hidden_ids = {
        str(f.id)
        for f in tenant.sim.dataset.findings()
        if f.webapp_id == hidden.id and f.type in ("VULNERABILITY", "SENSITIVE_CONTENT")
    }
    assert hidden_ids
    assert_nothing_wrongly_fixed(tenant.engine)


def test_a_first_sync_with_a_web_app_missing_stores_its_findings(tenant: Tenant) -> None:
    """Even on a first sync (no asset stored), findings of an unlisted web app are stored with a
    minimal asset named by the findings, at concurrency 2."""
    hidden = tenant.sim.dataset.webapps()[0]
    tenant.sim.hidden_webapps.add(hidden.id)
    tenant.sync(config=tenant.with_qualys(concurrency=2))
    assert tenant.expected_ids() <= set(statuses(tenant))
    with tenant.engine.connect() as conn:
        name = conn.execute(
            sa.select(schema.assets.c.name).where(schema.assets.c.key == str(hidden.id))
        ).scalar_one()
    assert name == hidden.name


def test_details_kept_back_fail_an_incremental_sync(tenant: Tenant) -> None:
    """Incremental: findings the brief listing showed as changed whose details never come back,
    although Qualys still counts them, fail the sync; nothing is closed."""
    tenant.sync()
    before = statuses(tenant)
    dataset = tenant.sim.dataset
    changed = [f for f in dataset.findings() if f.status in ("NEW", "ACTIVE")][:30]
    for record in changed:
        dataset.set_finding_status(record.id, "REOPENED", when=tenant.now)
    # the brief listing's pages and the triage page come first: break every details page
    brief_pages = math.ceil(len(tenant.expected_ids()) / tenant.config.qualys.page_size)
    tenant.sim.add_fault(Fault("finding", "ends_empty", on_call=brief_pages + 2, every=True))
    message = failed_sync(tenant, full=False)
    assert "details" in message or "Qualys listed" in message
    assert_no_listed_finding_changed(tenant, before | {str(r.id): "Active" for r in changed})


def test_cli_names_the_shortfall_in_one_line_and_exits_1(
    tenant: Tenant, tmp_path: Path, db_url: str
) -> None:
    """`connector sync` against a listing that ends early: exit 1, one line 'Qualys listed X of Y
    findings; nothing was closed', no traceback."""
    tenant.config = tenant.with_qualys(page_size=10)
    tenant.sync()
    tenant.sim.add_fault(Fault("finding", "ends_early", on_call=2, every=True))
    with serve_in_thread(tenant.sim) as running:
        config = write_config(tmp_path, running.base_url, db_url, page_size=10)
        result = run_cli(["sync", "--no-progress", "--full"], config)
    assert result.code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "Qualys listed" in errors[0] and "nothing was closed" in errors[0]
    assert "Traceback" not in result.stderr
    assert_nothing_wrongly_fixed(tenant.engine)
