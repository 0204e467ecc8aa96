"""Refusals: Qualys says INVALID_CREDENTIALS with HTTP 200 (never retried, exit 3, nothing
written), and the KB refuses while the findings calls work (the sync completes with a warning and
the KB is asked again next time)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from connector.errors import QualysAuthError
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
    table_rows,
    write_config,
)

Reference = Callable[[Tenant], Snapshot]


def test_cli_sync_exits_3_when_qualys_answers_invalid_credentials_with_200(
    tenant: Tenant, tmp_path: Path, db_url: str
) -> None:
    """`connector sync` against a server answering HTTP 200 INVALID_CREDENTIALS exits 3 with one
    line saying the credentials were refused, makes that one call only, and writes no finding."""
    tenant.sim.add_fault(Fault("any", "invalid_credentials_200", every=True))
    with serve_in_thread(tenant.sim) as running:
        result = run_cli(
            ["sync", "--no-progress"], write_config(tmp_path, running.base_url, db_url)
        )
    assert result.code == 3
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "rejected the credentials for user sim" in errors[0]
    assert "Traceback" not in result.stderr
    assert tenant.sim.stats.total_calls == 1  # never retried: accounts get locked
    assert table_rows(tenant.engine, schema.findings) == []
    assert table_rows(tenant.engine, schema.assets) == []
    assert [r["outcome"] for r in runs(tenant.engine)] == ["failed"]


def test_cli_sync_with_a_wrong_password_exits_3(
    tenant: Tenant, tmp_path: Path, db_url: str
) -> None:
    """A wrong password is refused by the simulator's own login check: exit 3, nothing stored."""
    with serve_in_thread(tenant.sim) as running:
        config = write_config(tmp_path, running.base_url, db_url)
        result = run_cli(["sync", "--no-progress"], config, password="not-the-password")
    assert result.code == 3
    assert "rejected the credentials" in result.stderr
    assert table_rows(tenant.engine, schema.findings) == []


def test_invalid_credentials_mid_sync_is_not_retried_and_fixes_nothing(tenant: Tenant) -> None:
    """A login refused on findings page 3 stops the sync at once; earlier findings stay Active."""
    tenant.sync()
    before = snapshot(tenant.engine)
    tenant.sim.add_fault(Fault("finding", "invalid_credentials_200", on_call=3))
    calls = tenant.sim.stats.calls["finding_search"]
    with pytest.raises(QualysAuthError, match="rejected the credentials"):
        tenant.sync()
    assert tenant.sim.stats.calls["finding_search"] == calls + 3
    assert tenant.waits == []
    assert snapshot(tenant.engine) == before
    assert_nothing_wrongly_fixed(tenant.engine)


def test_kb_refused_while_findings_work_completes_with_a_warning(
    tenant: Tenant, reference: Reference
) -> None:
    """A KB that refuses (SIMPLE_RETURN 1905, HTTP 400) does not fail the sync: findings are stored,
    the run records a warning, and the next sync fetches the KB entries."""
    tenant.sim.add_fault(Fault("kb", "kb_refused", every=True, code=1905))
    report = tenant.sync()
    assert report.outcome is RunOutcome.SUCCEEDED
    clean = reference(tenant)
    # Severity may differ until the KB's CVSS is known; identity and status may not.
    assert [f[:4] for f in snapshot(tenant.engine).findings] == [f[:4] for f in clean.findings]
    assert table_rows(tenant.engine, schema.weaknesses) == []
    assert len(report.counts.warnings) == 1
    assert "knowledge base" in report.counts.warnings[0]
    recorded = runs(tenant.engine)[-1]
    assert recorded["outcome"] == "succeeded"
    assert recorded["counts"]["warnings"] == list(report.counts.warnings)
    tenant.sim.clear_faults()
    again = tenant.sync()
    assert again.counts.kb_calls >= 1
    assert not again.counts.warnings
    assert snapshot(tenant.engine) == clean  # severities re-derived from the KB's CVSS


def test_kb_refused_as_expired_account_while_findings_work_completes(tenant: Tenant) -> None:
    """A KB answering 2001 (the simulator's default KB refusal) while WAS calls work does not fail
    the sync: findings are stored and a warning is recorded."""
    tenant.sim.add_fault(Fault("kb", "kb_refused", every=True))
    report = tenant.sync()
    assert report.outcome is RunOutcome.SUCCEEDED
    assert report.counts.warnings
    with tenant.engine.connect() as conn:
        stored = conn.execute(sa.select(sa.func.count()).select_from(schema.findings)).scalar()
    assert stored == report.counts.findings_created > 0
