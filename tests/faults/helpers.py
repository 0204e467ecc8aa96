"""Fault-suite helpers: a small simulated tenant with recorded retry waits, and store snapshots."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy import Engine

from connector.config import Config, Secret
from connector.qualys.client import QualysClient
from connector.simulator import Dataset, Simulator
from connector.store import schema
from connector.sync import SyncReport, run_sync

USERNAME = "sim"
PASSWORD = "sim-pass"
PAGE_SIZE = 20


def small_dataset() -> Dataset:
    """Four web apps, 120 findings (about five pages of 20 once informational ones are left out)."""
    return Dataset.generate(webapps=4, findings=120, seed=11)


def qualys_settings(api_url: str, **overrides: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "api_url": api_url,
        "username": USERNAME,
        "password": Secret(PASSWORD),
        "page_size": PAGE_SIZE,
        "retry_max_attempts": 4,
    }
    settings.update(overrides)
    return settings


@dataclass(frozen=True)
class Snapshot:
    """What a user can see in the store, without timestamps: it must equal a clean sync's."""

    findings: tuple[tuple[Any, ...], ...]
    assets: tuple[tuple[Any, ...], ...]
    weaknesses: tuple[tuple[Any, ...], ...]


def snapshot(engine: Engine) -> Snapshot:
    f, a, w = schema.findings, schema.assets, schema.weaknesses
    with engine.connect() as conn:
        findings = conn.execute(
            sa.select(
                f.c.key, f.c.asset_key, f.c.status, f.c.qualys_status, f.c.severity, f.c.qid
            ).order_by(f.c.key)
        )
        assets = conn.execute(sa.select(a.c.key, a.c.name, a.c.state).order_by(a.c.key))
        weaknesses = conn.execute(sa.select(w.c.qid, w.c.known, w.c.title).order_by(w.c.qid))
        return Snapshot(
            tuple(map(tuple, findings)), tuple(map(tuple, assets)), tuple(map(tuple, weaknesses))
        )


def table_rows(engine: Engine, table: sa.Table) -> list[sa.RowMapping]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(table)).mappings())


def assert_nothing_wrongly_fixed(engine: Engine) -> None:
    """No finding is Fixed for being absent, and every key is stored once."""
    f = schema.findings
    with engine.connect() as conn:
        absent = conn.execute(
            sa.select(sa.func.count()).where(f.c.fixed_reason == "absent")
        ).scalar_one()
        total, distinct = conn.execute(
            sa.select(sa.func.count(), sa.func.count(sa.distinct(f.c.key)))
        ).one()
    assert absent == 0
    assert total == distinct


def runs(engine: Engine) -> list[sa.RowMapping]:
    with engine.connect() as conn:
        return list(
            conn.execute(sa.select(schema.sync_runs).order_by(schema.sync_runs.c.id)).mappings()
        )


@dataclass
class Tenant:
    """The simulator, a config pointing at it, and the waits the client asked to sleep."""

    sim: Simulator
    config: Config
    engine: Engine
    now: datetime
    waits: list[float] = field(default_factory=list)

    def client(self, transport: httpx.BaseTransport | None = None) -> QualysClient:
        return QualysClient(
            self.config.qualys,
            transport=transport or httpx.WSGITransport(app=self.sim),
            sleep=self.waits.append,
        )

    def sync(
        self,
        *,
        transport: httpx.BaseTransport | None = None,
        config: Config | None = None,
        **sync_settings: Any,
    ) -> SyncReport:
        config = config or self.config
        if sync_settings:
            config = replace(config, sync=replace(config.sync, **sync_settings))
        clock: Callable[[], datetime] = lambda: self.now  # noqa: E731
        with self.client(transport) as client:
            return run_sync(config, self.engine, client, clock=clock)

    def with_qualys(self, **overrides: Any) -> Config:
        return replace(self.config, qualys=replace(self.config.qualys, **overrides))
