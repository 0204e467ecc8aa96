"""Fixtures for the fault suite: a small simulated tenant and a clean reference sync."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from connector.config import SyncSettings, config_for_tests
from connector.simulator import NOW, Simulator
from connector.store.database import create_engine_for
from tests.faults.helpers import (
    PASSWORD,
    USERNAME,
    Snapshot,
    Tenant,
    qualys_settings,
    small_dataset,
    snapshot,
)


@pytest.fixture
def tenant(engine: Engine, db_url: str) -> Tenant:
    sim = Simulator(small_dataset(), username=USERNAME, password=PASSWORD)
    config = config_for_tests(
        qualys=qualys_settings("http://qualys.test"),
        database_url=db_url,
        sync=SyncSettings(asset_retention_days=30),
    )
    return Tenant(sim=sim, config=config, engine=engine, now=NOW + timedelta(hours=1))


@pytest.fixture
def reference(tmp_path: Path, _sqlite_template: Path) -> Callable[[Tenant], Snapshot]:
    """What a never-faulted sync of the tenant's current data stores (into a fresh SQLite file)."""

    def clean(tenant: Tenant) -> Snapshot:
        path = tmp_path / "reference.db"
        shutil.copyfile(_sqlite_template, path)
        engine = create_engine_for(f"sqlite:///{path}")
        faults = list(tenant.sim.faults)
        tenant.sim.clear_faults()
        try:
            fresh = Tenant(
                tenant.sim,
                replace(tenant.config, database_url=f"sqlite:///{path}"),
                engine,
                tenant.now,
            )
            fresh.sync()
            return snapshot(engine)
        finally:
            for fault in faults:
                tenant.sim.add_fault(fault)
            engine.dispose()
            path.unlink()

    return clean
