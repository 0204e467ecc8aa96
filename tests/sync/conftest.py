"""A small simulated Qualys tenant and a config pointing at it, for sync tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from connector.config import Config, Secret, SyncSettings, config_for_tests
from connector.qualys.client import QualysClient
from connector.simulator import NOW, Dataset, Simulator
from connector.sync import SyncReport, run_sync

SYNCED_TYPES = ("VULNERABILITY", "SENSITIVE_CONTENT")


@dataclass
class Tenant:
    """The simulator, the config, and a way to run one sync at a given time."""

    sim: Simulator
    config: Config
    engine: Engine
    now: datetime

    def client(self) -> QualysClient:
        return QualysClient(
            self.config.qualys, transport=httpx.WSGITransport(app=self.sim), sleep=lambda _s: None
        )

    def sync(self, *, at: datetime | None = None, **sync_settings: Any) -> SyncReport:
        config = self.config
        if sync_settings:
            config = replace(config, sync=replace(config.sync, **sync_settings))
        clock: Callable[[], datetime] = lambda: at or self.now  # noqa: E731
        with self.client() as client:
            return run_sync(config, self.engine, client, clock=clock)

    def expected_ids(self, types: tuple[str, ...] = SYNCED_TYPES) -> set[str]:
        return {str(f.id) for f in self.sim.dataset.findings() if f.type in types}


@pytest.fixture
def tenant(engine: Engine, db_url: str) -> Tenant:
    dataset = Dataset.generate(webapps=6, findings=300, seed=7)
    sim = Simulator(dataset, username="sim", password="sim-pass")
    config = config_for_tests(
        qualys={
            "api_url": "http://qualys.test",
            "username": "sim",
            "password": Secret("sim-pass"),
            "page_size": 50,
            "retry_max_attempts": 2,
        },
        database_url=db_url,
        sync=SyncSettings(asset_retention_days=30),
    )
    return Tenant(sim=sim, config=config, engine=engine, now=NOW + timedelta(hours=1))
