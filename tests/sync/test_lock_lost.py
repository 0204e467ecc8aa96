"""A sync that loses its single-flight lock part-way stops, and marks nothing Fixed."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
import sqlalchemy as sa

from connector.errors import SyncLockLostError
from connector.store import schema
from tests.support import Tenant


class ActOnPage(httpx.BaseTransport):
    """Passes calls to the simulator, running `action` just before the n-th finding page."""

    def __init__(self, inner: httpx.BaseTransport, page: int, action: Callable[[], None]) -> None:
        self.inner = inner
        self.page = page
        self.action = action
        self.pages = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/search/was/finding"):
            self.pages += 1
            if self.pages == self.page:
                self.action()
        return self.inner.handle_request(request)


def lose_the_lock(tenant: Tenant) -> None:
    """What another process (or a database restart) does to our lock."""
    with tenant.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks "
                    "WHERE locktype = 'advisory' AND pid <> pg_backend_pid()"
                )
            )
        else:
            conn.execute(sa.delete(schema.sync_locks))


def test_sync_stops_when_its_lock_is_lost(tenant: Tenant) -> None:
    """Losing the lock mid-sync raises SyncLockLostError, fixes nothing, and the next sync recovers."""
    tenant.sync()
    gone = next(iter(sorted(tenant.expected_ids())))
    tenant.sim.dataset.remove_finding(int(gone))
    transport = ActOnPage(httpx.WSGITransport(app=tenant.sim), 2, lambda: lose_the_lock(tenant))
    with pytest.raises(SyncLockLostError, match="lost the sync lock"):
        tenant.sync(transport=transport)
    with tenant.engine.connect() as conn:
        status = conn.execute(
            sa.select(schema.findings.c.status).where(schema.findings.c.key == gone)
        ).scalar_one()
    assert status == "Active"
    tenant.sync()
    with tenant.engine.connect() as conn:
        status = conn.execute(
            sa.select(schema.findings.c.status).where(schema.findings.c.key == gone)
        ).scalar_one()
    assert status == "Fixed"
