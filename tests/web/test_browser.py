"""End to end in a real browser: Debian's Chromium driven by Playwright against the console served
by uvicorn on a loopback port, over a store synced twice from the simulator (a finding fixed in
between, a web app named `shop <prod> & co`). One browser for the session; skipped when
/usr/bin/chromium is absent."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from connector.store.console import count_matching
from connector.store.database import create_engine_for
from connector.store.queries import ExportFilter
from connector.web.app import create_app
from connector.web.server import ConsoleServer
from connector.web.state import Console
from tests.support import make_tenant

from .conftest import WEB_PASSWORD, WEB_USER, Runners, make_console, web_config
from .test_web_imports import FLAT

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
ODD_NAME = "shop <prod> & co"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"{CHROMIUM} is absent: apt-get install -y chromium"
)


@dataclass
class Site:
    url: str
    console: Console
    fixed_id: int
    odd_webapp_id: int


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, _sqlite_template: Path) -> Iterator[Site]:
    """The console over a store synced twice: a finding fixed and a web app renamed in between."""
    path = tmp_path_factory.mktemp("browser") / "console.db"
    shutil.copyfile(_sqlite_template, path)
    url = f"sqlite:///{path}"
    engine = create_engine_for(url)
    tenant = make_tenant(engine, url)
    tenant.sync()
    dataset = tenant.sim.dataset
    fixed = next(
        f for f in dataset.findings() if f.type == "VULNERABILITY" and f.status in ("NEW", "ACTIVE")
    )
    dataset.set_finding_status(fixed.id, "FIXED")
    odd = dataset.webapps()[1]
    dataset.update_webapp(odd.id, name=ODD_NAME)
    tenant.now += timedelta(days=1)
    tenant.sync()
    console = make_console(engine, web_config(tenant.config), Runners())
    server = ConsoleServer(create_app(console), "127.0.0.1", 0)
    server.start()
    try:
        yield Site(server.url, console, fixed.id, odd.id)
    finally:
        server.stop()
        console.uploads.close()
        engine.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, site: Site) -> Iterator[Any]:
    """A fresh browser context (no cookies) on the site, logged in."""
    context = browser.new_context(base_url=site.url)
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    tab.goto("/login")
    tab.fill("#username", WEB_USER)
    tab.fill("#password", WEB_PASSWORD)
    tab.click("button[type=submit]")
    tab.wait_for_url(f"{site.url}/")
    yield tab
    context.close()


def test_login_refusal_and_the_wall(browser: Any, site: Site) -> None:
    """Without a session every page lands on /login; a wrong password is refused on the page,
    the right one opens the page first asked for."""
    context = browser.new_context(base_url=site.url)
    tab = context.new_page()
    tab.goto("/findings?status=Active")
    assert tab.url.startswith(f"{site.url}/login?next=")
    tab.fill("#username", WEB_USER)
    tab.fill("#password", "wrong")
    tab.click("button[type=submit]")
    assert "wrong username or password" in tab.inner_text(".alert")
    tab.fill("#password", WEB_PASSWORD)
    tab.click("button[type=submit]")
    tab.wait_for_url(re.compile(r".*/findings\?status=Active$"))
    assert tab.locator("h1").inner_text() == "Findings"
    context.close()


def test_filters_agree_with_the_store(page: Any, site: Site) -> None:
    """Ticking Active and Critical in the form shows the store's own count for that filter."""
    page.goto("/findings")
    page.check("input[name=status][value=Active]")
    page.check("input[name=severity][value=Critical]")
    page.click("button:has-text('Apply')")
    page.wait_for_url(re.compile(r".*status=Active.*severity=Critical"))
    with site.console.engine.connect() as conn:
        expected = count_matching(
            conn,
            site.console.connector,
            ExportFilter(statuses=("Active",), severities=("Critical",)),
        )
    assert (
        page.inner_text("#match-count")
        == f"{expected:,} finding{'' if expected == 1 else 's'} match."
    )
    assert page.locator("table.findings tbody tr").count() == min(expected, 50)


def test_a_fixed_findings_detail_and_history(page: Any, site: Site) -> None:
    """The fixed finding's page shows it Fixed, with its history: created, then fixed by sync 2."""
    page.goto(f"/findings/{site.fixed_id}")
    assert "Fixed" in page.inner_text(".badges")
    rows = page.locator("table.list").first.locator("tbody tr")
    assert rows.count() == 2
    assert "(new)" in rows.nth(0).inner_text() and "sync #1" in rows.nth(0).inner_text()
    second = rows.nth(1).inner_text()
    assert "Active" in second and "Fixed" in second and "sync #2" in second


def test_a_strange_web_app_name_shows_as_text(page: Any, site: Site) -> None:
    """`shop <prod> & co` is shown literally as the asset's title, not parsed as a tag."""
    page.goto(f"/assets/{site.odd_webapp_id}")
    assert page.locator("h1").inner_text() == ODD_NAME
    assert page.locator("prod").count() == 0


def test_the_whole_import_flow(page: Any, site: Site, tmp_path: Path) -> None:
    """Upload a CSV, Create New Mapping, map fields, map severity values adding one the file
    lacks, import, View Summary: the summary lists the findings."""
    file = tmp_path / "browser-scan.csv"
    file.write_text(FLAT, encoding="utf-8")
    page.goto("/imports/new")
    page.set_input_files("#file", str(file))
    page.click("button:has-text('Upload')")
    page.click("text=Create New Mapping")
    page.fill("#name", "browser-mapping")
    for field, column in (("title", "Name"), ("url", "URL"), ("source_id", "QID"),
                          ("port", "Port"), ("severity", "Risk")):  # fmt: skip
        page.select_option(f"#col_{field}", column)
    page.click("button:has-text('Next')")
    page.click("button:has-text('Add another value')")
    for i, label in enumerate(("Critical", "Medium", "Low")):
        page.select_option(f"select[name=label_{i}]", label)
    page.fill("input[name=value_3]", "P4")
    page.select_option("select[name=label_3]", "Low")
    page.click("button:has-text('Save mapping and import')")
    assert "Scan imported" in page.inner_text("#imported")
    page.click("text=View Summary")
    summary = page.inner_text("main")
    assert "browser-scan.csv" in summary and "browser-mapping" in summary
    page.goto("/mappings/browser-mapping")
    assert page.input_value("input[name=value_3]") == "P4"


def test_a_post_without_the_token_is_refused(page: Any) -> None:
    """A POST from the logged-in browser without the form's CSRF token gets 403."""
    response = page.request.post("/logout", form={"x": "1"})
    assert response.status == 403
    page.goto("/")
    assert page.locator("h1").inner_text() == "Overview", "still logged in"
