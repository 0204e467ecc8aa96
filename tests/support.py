"""Test support shared by the sync, fault, validate, export and secrets tests: a simulated
Qualys tenant (recording the retry waits the client asked for), store snapshots, CLI runs."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy import Engine

from connector.cli import main
from connector.config import Config, Secret, SyncSettings, config_for_tests
from connector.qualys.client import QualysClient
from connector.simulator import NOW, Dataset, Simulator, WebAppRecord
from connector.store import schema
from connector.sync import SyncReport, run_sync

USERNAME = "sim"
PASSWORD = "sim-pass"
PAGE_SIZE = 20
SYNCED_TYPES = ("VULNERABILITY", "SENSITIVE_CONTENT")


def small_dataset() -> Dataset:
    """Four web apps, 120 findings (about five pages of 20 once informational ones are left out)."""
    return Dataset.generate(webapps=4, findings=120, seed=11)


def make_tenant(
    engine: Engine, db_url: str, dataset: Dataset | None = None, **qualys: Any
) -> Tenant:
    """A tenant over `dataset` (default: small_dataset()) whose sync writes to `engine`."""
    sim = Simulator(dataset or small_dataset(), username=USERNAME, password=PASSWORD)
    config = config_for_tests(
        qualys=qualys_settings("http://qualys.test", **qualys),
        database_url=db_url,
        sync=SyncSettings(asset_retention_days=30),
    )
    return Tenant(sim=sim, config=config, engine=engine, now=NOW + timedelta(hours=1))


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
    """The simulator, a config pointing at it, and the waits the client asked to sleep.

    In process (httpx.WSGITransport) by default; `over_socket(url)` talks to the same simulator
    served on a real loopback port instead.
    """

    sim: Simulator
    config: Config
    engine: Engine
    now: datetime
    waits: list[float] = field(default_factory=list)
    real_socket: bool = False

    def client(
        self, transport: httpx.BaseTransport | None = None, config: Config | None = None
    ) -> QualysClient:
        if transport is None and not self.real_socket:
            transport = httpx.WSGITransport(app=self.sim)
        return QualysClient(
            (config or self.config).qualys, transport=transport, sleep=self.waits.append
        )

    def sync(
        self,
        *,
        at: datetime | None = None,
        transport: httpx.BaseTransport | None = None,
        config: Config | None = None,
        full: bool = False,
        **sync_settings: Any,
    ) -> SyncReport:
        """One sync with the clock at `at` (default: the tenant's now); `full` forces a full one."""
        config = config or self.config
        if sync_settings:
            config = replace(config, sync=replace(config.sync, **sync_settings))
        clock: Callable[[], datetime] = lambda: at or self.now  # noqa: E731
        with self.client(transport, config) as client:
            return run_sync(
                config, self.engine, client, host="test-host", pid=4242, clock=clock, full=full
            )

    def expected_ids(self, types: tuple[str, ...] = SYNCED_TYPES) -> set[str]:
        """The ids of the simulated findings a sync of these types stores."""
        return {str(f.id) for f in self.sim.dataset.findings() if f.type in types}

    def archive_one_webapp(self) -> WebAppRecord:
        """Move the clock 400 days on with every web app but the first observed again, and sync:
        retention archives exactly that first one, which is returned."""
        later = self.now + timedelta(days=400)
        archived, *kept = self.sim.dataset.webapps()
        for webapp in kept:
            self.sim.dataset.update_webapp(webapp.id, updated_date=later)
        self.now = later
        assert self.sync().counts.assets_archived == 1
        return archived

    def with_qualys(self, **overrides: Any) -> Config:
        return replace(self.config, qualys=replace(self.config.qualys, **overrides))

    def over_socket(self, base_url: str, **qualys: Any) -> Tenant:
        """The same tenant reached through a real socket at `base_url`."""
        config = self.with_qualys(api_url=base_url, **qualys)
        return replace(self, config=config, real_socket=True)


def write_config(
    tmp_path: Path, api_url: str, db_url: str, extra: str = "", *, page_size: int = PAGE_SIZE
) -> Path:
    """A config file for the CLI; the password comes from QUALYS_PASSWORD."""
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[qualys]
api_url = "{api_url}"
username = "{USERNAME}"
page_size = {page_size}
retry_max_attempts = 2
retry_max_wait_seconds = 5
[database]
url = "{db_url}"
[sync]
asset_retention_days = 30
{extra}
""",
        encoding="utf-8",
    )
    path.chmod(0o600)
    return path


@dataclass(frozen=True)
class CliResult:
    code: int
    stdout: str
    stderr: str


def run_cli(argv: list[str], config: Path, password: str = PASSWORD) -> CliResult:
    """`connector --config <config> argv...` in process, with QUALYS_PASSWORD set."""
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["--config", str(config), *argv],
        environ={"QUALYS_PASSWORD": password},
        stdout=out,
        stderr=err,
    )
    return CliResult(code, out.getvalue(), err.getvalue())
