"""Fixtures for the console's route tests: a console over the per-dialect test store (a synced
simulated tenant), an in-process client, and a logged-in one."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from starlette.testclient import TestClient

from connector.config import Config, Secret, WebSettings
from connector.connectivity import CheckResult
from connector.validate import ValidationReport
from connector.web.app import create_app
from connector.web.state import Console
from tests.support import Tenant

WEB_USER = "analyst"
WEB_PASSWORD = "console-pass-6f1c"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Runners:
    """Fakes for the Qualys-calling runners, recording calls; and the login delays asked for."""

    checks: list[CheckResult] = field(
        default_factory=lambda: [CheckResult("configuration", True, "fine")]
    )
    report: ValidationReport = field(default_factory=ValidationReport)
    calls: list[str] = field(default_factory=list)
    waits: list[float] = field(default_factory=list)

    def check(self) -> list[CheckResult]:
        self.calls.append("connectivity")
        return self.checks

    def validate(self) -> ValidationReport:
        self.calls.append("validate")
        return self.report

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)


def web_config(config: Config, **web: object) -> Config:
    settings = replace(WebSettings(), username=WEB_USER, password=Secret(WEB_PASSWORD), **web)
    return replace(config, web=settings)


def make_console(engine: Engine, config: Config, runners: Runners) -> Console:
    return Console(
        engine=engine,
        config=config,
        check_connectivity=runners.check,
        run_validation=runners.validate,
        sleep=runners.sleep,
    )


def csrf_token(html: str) -> str:
    match = TOKEN.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def log_in(client: TestClient, password: str = WEB_PASSWORD, user: str = WEB_USER) -> int:
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"username": user, "password": password, "csrf_token": csrf_token(page.text)},
    )
    return response.status_code


@pytest.fixture
def sqlite_url(tmp_path: Path, _sqlite_template: Path) -> str:
    """A migrated SQLite store, for tests that are not about SQL (override db_url with it)."""
    path = tmp_path / "console.db"
    shutil.copyfile(_sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def runners() -> Runners:
    return Runners()


@pytest.fixture
def synced(tenant: Tenant) -> Tenant:
    """The small tenant synced once into the test store."""
    tenant.sync()
    return tenant


@pytest.fixture
def console(synced: Tenant, runners: Runners) -> Iterator[Console]:
    made = make_console(synced.engine, web_config(synced.config), runners)
    yield made
    made.uploads.close()


@pytest.fixture
def anon(console: Console) -> Iterator[TestClient]:
    """A client without a session."""
    with TestClient(create_app(console), follow_redirects=False) as client:
        yield client


@pytest.fixture
def client(anon: TestClient) -> TestClient:
    """A logged-in client."""
    assert log_in(anon) == 303
    return anon
