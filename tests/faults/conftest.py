"""Fixtures for the fault suite: a small simulated tenant and a clean reference sync."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from connector.store.database import create_engine_for
from tests.support import (
    Snapshot,
    Tenant,
    snapshot,
)


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
