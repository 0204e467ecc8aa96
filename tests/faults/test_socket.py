"""Faults only a real socket shows: a connection dropped mid-body, and a page slower than the
timeout. The simulator is served on a loopback port; retry waits are recorded, not slept."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from connector.errors import QualysUnreachableError
from connector.models import RunOutcome
from connector.simulator import Fault, RunningServer, serve_in_thread
from tests.support import Snapshot, Tenant, assert_nothing_wrongly_fixed, runs, snapshot

Reference = Callable[[Tenant], Snapshot]


@pytest.fixture
def served(tenant: Tenant) -> Iterator[RunningServer]:
    with serve_in_thread(tenant.sim) as running:
        yield running


def test_connection_reset_mid_body_on_a_real_socket_is_retried(
    tenant: Tenant, served: RunningServer, reference: Reference
) -> None:
    """A server that sends half a findings page and hangs up is retried; the store is complete."""
    remote = tenant.over_socket(served.base_url)
    tenant.sim.add_fault(Fault("finding", "connection_reset", on_call=2))
    report = remote.sync()
    assert report.outcome is RunOutcome.SUCCEEDED
    assert report.retries == 1
    assert len(remote.waits) == 1
    assert snapshot(tenant.engine) == reference(tenant)
    assert_nothing_wrongly_fixed(tenant.engine)


def test_page_slower_than_the_timeout_is_retried(
    tenant: Tenant, served: RunningServer, reference: Reference
) -> None:
    """A page that takes longer than qualys.timeout_seconds times out and is asked for again."""
    remote = tenant.over_socket(served.base_url, timeout_seconds=0.25)
    tenant.sim.add_fault(Fault("finding", "slow", on_call=2, seconds=0.8))
    report = remote.sync()
    assert report.outcome is RunOutcome.SUCCEEDED
    assert report.retries == 1
    assert snapshot(tenant.engine) == reference(tenant)


def test_server_slower_than_the_timeout_every_time_fails_clearly(
    tenant: Tenant, served: RunningServer
) -> None:
    """When every page is too slow the sync fails, saying no answer came within the timeout, and
    a finding stored by an earlier sync is not marked Fixed."""
    tenant.over_socket(served.base_url).sync()
    remote = tenant.over_socket(served.base_url, timeout_seconds=0.25, retry_max_attempts=2)
    tenant.sim.add_fault(Fault("finding", "slow", on_call=2, every=True, seconds=0.6))
    with pytest.raises(QualysUnreachableError, match="within the timeout"):
        remote.sync()
    assert_nothing_wrongly_fixed(tenant.engine)
    assert runs(tenant.engine)[-1]["outcome"] == "failed"
    assert "timeout" in runs(tenant.engine)[-1]["error"]
