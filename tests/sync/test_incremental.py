"""An incremental sync leaves the store exactly as a full sync would: a week of simulated changes
(retests, fixes by rescans, triage in the UI, new and purged findings, reopened findings,
information gathered findings appearing, a web app removed) synced both ways, compared daily."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from connector.config import SyncSettings
from connector.models import SyncMode
from connector.simulator import Dataset
from connector.store import schema
from connector.store.database import create_engine_for
from tests.support import Tenant, make_tenant

# Everything a user can see of a finding, asset or KB entry (timestamps of the writes aside).
FINDING_COLUMNS = [
    c.name
    for c in schema.findings.columns
    if c.name not in ("content_hash", "created_at", "updated_at")
]
ASSET_COLUMNS = [c.name for c in schema.assets.columns if c.name not in ("content_hash",)]


def visible(engine: Engine) -> dict[str, Any]:
    f, a, w = schema.findings, schema.assets, schema.weaknesses
    with engine.connect() as conn:
        findings = conn.execute(sa.select(*(f.c[n] for n in FINDING_COLUMNS)).order_by(f.c.key))
        assets = conn.execute(sa.select(*(a.c[n] for n in ASSET_COLUMNS)).order_by(a.c.key))
        weaknesses = conn.execute(sa.select(w.c.qid, w.c.known, w.c.cvss_v3_base).order_by(w.c.qid))
        return {
            "findings": [tuple(r) for r in findings],
            "assets": [tuple(r) for r in assets],
            "weaknesses": [tuple(r) for r in weaknesses],
        }


@pytest.fixture
def pair(
    engine: Engine, db_url: str, tmp_path: Path, _sqlite_template: Path
) -> Iterator[tuple[Tenant, Tenant]]:
    """Two stores of one simulated tenant: `engine` synced incrementally, a SQLite file always full."""
    dataset = Dataset.generate(webapps=8, findings=500, seed=21)
    incremental = make_tenant(engine, db_url, dataset, page_size=50)
    incremental = replace(
        incremental,
        config=replace(
            incremental.config,
            sync=SyncSettings(
                asset_retention_days=30, pull_informational=True, full_sync_every_days=30
            ),
        ),
    )
    path = tmp_path / "full.db"
    shutil.copyfile(_sqlite_template, path)
    full_engine = create_engine_for(f"sqlite:///{path}")
    full = replace(
        incremental,
        engine=full_engine,
        config=replace(incremental.config, database_url=f"sqlite:///{path}"),
    )
    yield incremental, full
    full_engine.dispose()


def test_a_week_of_incremental_syncs_equals_full_syncs(pair: tuple[Tenant, Tenant]) -> None:
    """Every day, after that day's changes, the incremental store equals the full one."""
    incremental, full = pair
    dataset = incremental.sim.dataset
    now = incremental.now
    assert incremental.sync(at=now).mode is SyncMode.FULL  # the first sync is always full
    full.sync(at=now, full=True)
    assert visible(incremental.engine) == visible(full.engine)
    kinds: set[str] = set()
    for day in range(1, 8):
        when = now + timedelta(days=day)
        changes = dataset.simulate_day(
            day, when - timedelta(hours=1), share=0.06, removed_webapps=1 if day == 4 else 0
        )
        kinds |= {k for k, v in changes.as_dict().items() if v and k not in ("when", "at")}
        report = incremental.sync(at=when)
        assert report.mode is SyncMode.INCREMENTAL, report.mode_reason
        full.sync(at=when, full=True)
        assert visible(incremental.engine) == visible(full.engine), f"day {day}"
        assert report.counts.findings_fetched < len(changes.changed) + 60  # details of changes only
    assert kinds >= {"retested", "fixed", "ignored", "added", "removed", "removed_webapps"}


def test_triage_without_a_rescan_is_caught(pair: tuple[Tenant, Tenant]) -> None:
    """Risk accepted in the UI (no scan, no listing field but the ignored flag) and a changed
    reason of an already ignored finding (only ignoredDate moves) reach the incremental store."""
    incremental, full = pair
    dataset = incremental.sim.dataset
    incremental.sync()
    full.sync(full=True)
    open_ = [f for f in dataset.findings() if f.status in ("NEW", "ACTIVE") and not f.is_ignored]
    dataset.set_finding_ignored(open_[0].id, "RISK_ACCEPTED", when=incremental.now)
    dataset.set_finding_ignored(open_[1].id, "FALSE_POSITIVE", when=incremental.now)
    later = incremental.now + timedelta(hours=5)
    incremental.sync(at=later)
    full.sync(at=later, full=True)
    dataset.set_finding_ignored(open_[1].id, "NOT_APPLICABLE", when=later)
    incremental.sync(at=later + timedelta(hours=1))
    full.sync(at=later + timedelta(hours=1), full=True)
    assert visible(incremental.engine) == visible(full.engine)
    with incremental.engine.connect() as conn:
        reasons = dict(
            conn.execute(
                sa.select(schema.findings.c.key, schema.findings.c.ignored_reason).where(
                    schema.findings.c.key.in_([str(open_[0].id), str(open_[1].id)])
                )
            ).all()
        )
    assert reasons == {str(open_[0].id): "RISK_ACCEPTED", str(open_[1].id): "NOT_APPLICABLE"}


def test_a_resync_without_change_writes_nothing_even_the_first_time(
    pair: tuple[Tenant, Tenant],
) -> None:
    """The first re-sync after the initial one (KB entries arrived mid-listing) writes no finding
    row and calls no KB, in both modes."""
    incremental, _full = pair
    incremental.sync()
    with incremental.engine.connect() as conn:
        before = conn.execute(sa.select(schema.findings.c.key, schema.findings.c.updated_at)).all()
    for full in (False, True):
        report = incremental.sync(at=incremental.now + timedelta(hours=2), full=full)
        assert report.counts.findings_created == report.counts.findings_updated == 0
        assert report.counts.kb_calls == 0
        with incremental.engine.connect() as conn:
            after = conn.execute(
                sa.select(schema.findings.c.key, schema.findings.c.updated_at)
            ).all()
        assert after == before


def test_changed_settings_force_a_full_sync(pair: tuple[Tenant, Tenant]) -> None:
    """After the finding types or the severity fallback change, the next sync is full, and says why."""
    incremental, _full = pair
    incremental.sync()
    report = incremental.sync(pull_informational=False)
    assert report.mode is SyncMode.FULL
    assert "changed since the last full sync" in report.mode_reason
