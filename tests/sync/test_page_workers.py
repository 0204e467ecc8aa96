"""Finding pages decoded and mapped in worker processes give the same store as in-process."""

from __future__ import annotations

import sqlalchemy as sa

from connector.models import RunOutcome
from connector.store import schema
from connector.sync import run_sync
from tests.support import Tenant


def _stored(tenant: Tenant) -> set[tuple[object, ...]]:
    query = sa.select(
        schema.findings.c.key,
        schema.findings.c.asset_key,
        schema.findings.c.status,
        schema.findings.c.severity,
        schema.findings.c.content_hash,
    )
    with tenant.engine.connect() as conn:
        return {tuple(row) for row in conn.execute(query)}


def test_worker_processes_store_exactly_what_the_in_process_path_stores(tenant: Tenant) -> None:
    """A sync with two page workers creates every finding; a re-sync in-process rewrites none."""
    clock = lambda: tenant.now  # noqa: E731
    with tenant.client() as client:
        first = run_sync(tenant.config, tenant.engine, client, clock=clock, page_workers=2)
    assert first.outcome is RunOutcome.SUCCEEDED
    assert {key for key, *_ in _stored(tenant)} == tenant.expected_ids()
    assert first.counts.findings_created == len(tenant.expected_ids())
    before = _stored(tenant)
    with tenant.client() as client:
        again = run_sync(tenant.config, tenant.engine, client, clock=clock, page_workers=0)
    assert again.counts.findings_created + again.counts.findings_updated == 0
    assert again.counts.findings_unchanged == len(tenant.expected_ids())
    assert _stored(tenant) == before
