"""Transient Qualys faults mid-sync: retried to success with the waits the server named, or a
clear failure that fixes nothing; either way a later sync stores what a clean sync stores."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from connector.errors import QualysResponseError, QualysUnreachableError
from connector.models import RunOutcome
from connector.simulator import Fault
from tests.support import (
    Snapshot,
    Tenant,
    assert_nothing_wrongly_fixed,
    runs,
    snapshot,
)

Reference = Callable[[Tenant], Snapshot]


def test_409_1960_concurrency_limit_is_retried_with_backoff(
    tenant: Tenant, reference: Reference
) -> None:
    """409/1960 (too many concurrent calls, no wait named) is retried after a short backoff."""
    tenant.sim.add_fault(Fault("finding", "http_409_1960", on_call=2))
    report = tenant.sync()
    assert report.outcome is RunOutcome.SUCCEEDED
    assert report.retries == 1
    assert len(tenant.waits) == 1
    assert 0.5 <= tenant.waits[0] <= 3.0  # exponential backoff's first step, with jitter
    assert snapshot(tenant.engine) == reference(tenant)
    assert_nothing_wrongly_fixed(tenant.engine)


def test_409_1965_rate_limit_waits_the_seconds_qualys_names(
    tenant: Tenant, reference: Reference
) -> None:
    """409/1965 is retried after exactly SECONDS_TO_WAIT / X-RateLimit-ToWait-Sec, twice."""
    tenant.sim.add_fault(Fault("finding", "http_409_1965", on_call=3, times=2, seconds=37))
    report = tenant.sync()
    assert report.outcome is RunOutcome.SUCCEEDED
    assert tenant.waits == [37.0, 37.0]
    assert report.retries == 2
    assert runs(tenant.engine)[-1]["retries"] == 2
    assert snapshot(tenant.engine) == reference(tenant)


def test_429_waits_retry_after(tenant: Tenant, reference: Reference) -> None:
    """429 with Retry-After is retried after the Retry-After seconds."""
    tenant.sim.add_fault(Fault("webapp", "http_429", on_call=1, seconds=12))
    report = tenant.sync()
    assert report.outcome is RunOutcome.SUCCEEDED
    assert tenant.waits == [12.0]
    assert snapshot(tenant.engine) == reference(tenant)


def test_503_is_retried_to_success(tenant: Tenant, reference: Reference) -> None:
    """A 503 on the KB and on a findings page is retried; the sync stores a clean sync's data."""
    tenant.sim.add_fault(Fault("finding", "http_503", on_call=2))
    tenant.sim.add_fault(Fault("kb", "http_503", on_call=1))
    report = tenant.sync()
    assert report.outcome is RunOutcome.SUCCEEDED
    assert report.retries == 2
    assert not report.counts.warnings
    assert snapshot(tenant.engine) == reference(tenant)


def test_503_until_retries_run_out_fails_cleanly_then_recovers(
    tenant: Tenant, reference: Reference
) -> None:
    """Persistent 503s on page 3 fail the sync after the capped attempts; nothing becomes Fixed,
    though a finding vanished; the next clean sync equals a never-faulted one."""
    tenant.sync()
    gone = next(f.id for f in tenant.sim.dataset.findings() if f.type == "VULNERABILITY")
    tenant.sim.dataset.remove_finding(gone)
    tenant.sim.add_fault(Fault("finding", "http_503", on_call=3, every=True))
    with pytest.raises(QualysUnreachableError, match=r"failed 4 time\(s\)"):
        tenant.sync()
    assert len(tenant.waits) == 3  # retry_max_attempts = 4
    assert_nothing_wrongly_fixed(tenant.engine)
    assert runs(tenant.engine)[-1]["outcome"] == "failed"
    tenant.sim.clear_faults()
    tenant.sync()
    after, clean = snapshot(tenant.engine), reference(tenant)
    assert [f for f in after.findings if f[0] != str(gone)] == list(clean.findings)
    assert [f[2] for f in after.findings if f[0] == str(gone)] == ["Fixed"]
    assert after.assets == clean.assets


def test_connection_reset_mid_body_is_retried(tenant: Tenant, reference: Reference) -> None:
    """A connection dropped half-way through a findings page is retried; no duplicate, nothing lost."""
    tenant.sim.add_fault(Fault("finding", "connection_reset", on_call=2))
    report = tenant.sync()
    assert report.outcome is RunOutcome.SUCCEEDED
    assert report.retries == 1
    assert snapshot(tenant.engine) == reference(tenant)
    assert_nothing_wrongly_fixed(tenant.engine)


def test_truncated_xml_page_is_retried(tenant: Tenant, reference: Reference) -> None:
    """A 200 page cut mid-element is not taken as the last page: it is asked for again."""
    tenant.sim.add_fault(Fault("finding", "truncated_xml", on_call=2, times=2))
    report = tenant.sync()
    assert report.outcome is RunOutcome.SUCCEEDED
    assert report.retries == 2
    assert snapshot(tenant.engine) == reference(tenant)


def test_truncated_xml_every_time_fails_as_unusable_answer(tenant: Tenant) -> None:
    """A page that is always truncated ends the sync with a response error; nothing is Fixed."""
    tenant.sync()
    tenant.sim.add_fault(Fault("finding", "truncated_xml", on_call=2, every=True))
    with pytest.raises(QualysResponseError, match="not usable XML"):
        tenant.sync()
    assert_nothing_wrongly_fixed(tenant.engine)


@pytest.mark.parametrize("status", [200, 503])
def test_html_maintenance_page_is_retried(
    tenant: Tenant, reference: Reference, status: int
) -> None:
    """An HTML maintenance page (even with HTTP 200) is never parsed as data; it is retried."""
    tenant.sim.add_fault(Fault("finding", "html_maintenance", on_call=1, status=status))
    report = tenant.sync()
    assert report.outcome is RunOutcome.SUCCEEDED
    assert report.retries == 1
    assert snapshot(tenant.engine) == reference(tenant)


def test_html_maintenance_throughout_fails_with_a_clear_reason(tenant: Tenant) -> None:
    """A maintenance window that outlasts the retries fails the sync naming the HTML page."""
    tenant.sim.add_fault(Fault("any", "html_maintenance", every=True, status=200))
    with pytest.raises(QualysUnreachableError, match="maintenance"):
        tenant.sync()
    assert snapshot(tenant.engine).findings == ()
