"""The console's pages against the store: filters agree with the store's own counts, keyset pages
cover every finding once, downloads equal the export, a fixed finding's history, escaping and
sanitising of what came from Qualys, security headers, and error pages without tracebacks."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from html import unescape

import pytest
from starlette.testclient import TestClient

from connector import exports
from connector.models import Weakness
from connector.store import finding_reads
from connector.store import weaknesses as store_weaknesses
from connector.store.queries import ExportFilter, iter_findings
from connector.web.app import create_app
from connector.web.pages import findings as findings_page
from connector.web.state import Console
from tests.support import Tenant

from .conftest import Runners, log_in, make_console, web_config

COUNT = re.compile(r'id="match-count"><strong>([\d,]+)</strong>')
ROW_KEY = re.compile(r'<td><a href="/findings/([^"]+)">')
NEXT = re.compile(r'rel="next" href="([^"]+)"')
PREV = re.compile(r'rel="prev" href="([^"]+)"')


def shown_count(html: str) -> int:
    match = COUNT.search(html)
    assert match, "the page shows no count"
    return int(match.group(1).replace(",", ""))


def store_count(console: Console, where: ExportFilter) -> int:
    with console.engine.connect() as conn:
        return sum(1 for _ in iter_findings(conn, console.connector, where))


FILTERS = [
    ("", ExportFilter()),
    ("status=Active", ExportFilter(statuses=("Active",))),
    ("status=Fixed&severity=High&severity=Critical",
     ExportFilter(statuses=("Fixed",), severities=("High", "Critical"))),
    ("type=SENSITIVE_CONTENT", ExportFilter(types=("SENSITIVE_CONTENT",))),
    ("source=api&include_archived=1", ExportFilter(sources=("api",), include_archived=True)),
    ("q=script", ExportFilter(text="script")),
    ("since=2020-01-01", None),
]  # fmt: skip


@pytest.mark.parametrize(("query", "where"), FILTERS)
def test_filters_agree_with_the_store(
    client: TestClient, console: Console, query: str, where: ExportFilter | None
) -> None:
    """Each filter's count on /findings is the number of findings the export query keeps."""
    page = client.get(f"/findings?{query}")
    assert page.status_code == 200
    if where is None:
        assert shown_count(page.text) == store_count(console, ExportFilter())
        return
    assert shown_count(page.text) == store_count(console, where)


def test_severity_counts_match_the_stores_own_counts(client: TestClient, console: Console) -> None:
    """Active findings per severity, on the overview and /findings, equal count_findings."""
    with console.engine.connect() as conn:
        counts = finding_reads.count_findings(conn, console.connector)
    overview = client.get("/").text
    for severity in ("Critical", "High", "Medium", "Low"):
        expected = counts.get(("Active", severity), 0)
        page = client.get(f"/findings?status=Active&severity={severity}")
        assert shown_count(page.text) == expected
        assert f'severity={severity}">{expected:,}</a>' in overview


def test_a_qid_and_an_asset_filter(client: TestClient, console: Console, synced: Tenant) -> None:
    """qid and asset (id or name) keep only that QID's and that asset's findings."""
    finding = next(f for f in synced.sim.dataset.findings() if f.type == "VULNERABILITY")
    webapp = synced.sim.dataset.webapp(finding.webapp_id)
    assert webapp is not None
    by_qid = client.get(f"/findings?qid={finding.qid}")
    assert shown_count(by_qid.text) == store_count(console, ExportFilter(qids=(finding.qid,)))
    for asset in (str(webapp.id), webapp.name):
        page = client.get("/findings", params={"asset": asset})
        assert shown_count(page.text) == store_count(console, ExportFilter(asset=str(webapp.id)))


@pytest.mark.parametrize("sort", ["severity", "last_seen", "first_seen", "qid"])
def test_keyset_pages_cover_every_finding_once(
    client: TestClient, console: Console, monkeypatch: pytest.MonkeyPatch, sort: str
) -> None:
    """Walking Next to the end lists every finding exactly once; Previous walks back the same."""
    monkeypatch.setattr(findings_page, "PAGE_SIZE", 7)
    url = f"/findings?include_archived=1&sort={sort}"
    pages: list[list[str]] = []
    while url:
        html = client.get(url).text
        pages.append(ROW_KEY.findall(html))
        nxt = NEXT.search(html)
        url = "/findings" + unescape(nxt.group(1)) if nxt else ""
        if len(pages) > 100:
            pytest.fail("paging does not end")
    keys = [k for page in pages for k in page]
    assert len(keys) == len(set(keys)) == store_count(console, ExportFilter(include_archived=True))
    html = client.get(
        url
        or "/findings"
        + unescape(
            NEXT.search(client.get(f"/findings?include_archived=1&sort={sort}").text).group(1)
        )
    ).text  # type: ignore[union-attr]
    back = PREV.search(html)
    assert back is not None
    assert ROW_KEY.findall(client.get("/findings" + unescape(back.group(1))).text) == pages[0]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_downloads_equal_the_export(client: TestClient, console: Console, fmt: str) -> None:
    """/findings.csv and .jsonl with the page's filters stream what `connector export` writes."""
    where = ExportFilter(statuses=("Active",), severities=("High",))
    out = io.StringIO(newline="")
    with console.engine.connect() as conn:
        exports.write("findings", iter_findings(conn, console.connector, where), fmt, out)
    response = client.get(f"/findings.{fmt}?status=Active&severity=High")
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    assert response.text == out.getvalue()
    assert response.text.count("\n") > 1


def test_bad_parameters_get_one_clear_message(client: TestClient) -> None:
    """An unknown severity, a bad date or a damaged page link is a 400 naming the problem."""
    page = client.get("/findings?severity=Severe&since=yesterday&after=%%%")
    assert page.status_code == 400
    text = unescape(page.text)
    assert "severity 'Severe' is not one of" in text
    assert "since 'yesterday' is not a date" in text
    assert "Traceback" not in text


def test_a_fixed_findings_detail_and_history(client: TestClient, synced: Tenant) -> None:
    """After a finding is fixed in Qualys and synced again, its page shows every field, the KB
    text, and the history: created Active by sync 1, Active -> Fixed by sync 2, and why."""
    finding = next(
        f
        for f in synced.sim.dataset.findings()
        if f.type == "VULNERABILITY" and f.status in ("NEW", "ACTIVE")
    )
    synced.sim.dataset.set_finding_status(finding.id, "FIXED")
    synced.now += timedelta(days=1)
    synced.sync()
    page = client.get(f"/findings/{finding.id}")
    assert page.status_code == 200
    html = unescape(page.text)
    history = html[html.index("Status history") : html.index("Ports")]
    assert (
        history.index("(new)") < history.index('href="/runs/1"') < history.index('href="/runs/2"')
    )
    assert "status-fixed" in history
    for field in ("unique_id", "qualys_status", "severity_source", "cvss_v3_base", "fixed_at"):
        assert f"<dt>{field}</dt>" in html
    assert "Knowledge Base" in html and "Description" in html


def test_a_web_app_name_is_escaped_everywhere(client: TestClient, synced: Tenant) -> None:
    """A web app named `shop <prod> & co` shows as text on every page, never as markup."""
    webapp = synced.sim.dataset.webapps()[0]
    synced.sim.dataset.update_webapp(webapp.id, name="shop <prod> & co")
    synced.sync()
    for path in ("/assets", f"/assets/{webapp.id}", f"/findings?asset={webapp.id}"):
        html = client.get(path).text
        assert "shop &lt;prod&gt; &amp; co" in html, path
        assert "<prod>" not in html, path


def test_kb_html_is_sanitised(client: TestClient, console: Console, synced: Tenant) -> None:
    """KB HTML keeps its formatting but loses scripts, event handlers and javascript: links."""
    finding = next(f for f in synced.sim.dataset.findings() if f.type == "VULNERABILITY")
    hostile = Weakness(
        qid=finding.qid, title="XSS <b>title</b>",
        description='<p onclick="steal()">Kept <b>bold</b></p><script>alert(1)</script>'
        '<a href="javascript:alert(2)">link</a><img src=x onerror=alert(3)>',
        impact="line one\nline two & more", solution='<a href="https://example.com/fix">fix</a>',
    )  # fmt: skip
    with console.engine.begin() as conn:
        store_weaknesses.upsert_weaknesses(conn, console.connector, [hostile], [], now=synced.now)
    for path in (f"/findings/{finding.id}", f"/weaknesses/{finding.qid}"):
        html = client.get(path).text
        assert "<p>Kept <b>bold</b></p>" in html
        assert "<script" not in html and "onclick" not in html and "onerror" not in html
        assert "javascript:" not in html
        assert "XSS &lt;b&gt;title&lt;/b&gt;" in html
        assert 'href="https://example.com/fix" rel="noopener noreferrer nofollow"' in html
        assert "line one<br>line two &amp; more" in html, "plain text keeps its line breaks"


def test_every_page_sends_the_security_headers(client: TestClient) -> None:
    """A CSP without inline script, no framing, no caching of pages; and no script in any page."""
    for path in ("/", "/findings", "/assets", "/weaknesses", "/runs", "/imports", "/mappings",
                 "/connectivity", "/validate", "/imports/new", "/login"):  # fmt: skip
        response = client.get(path)
        csp = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
        assert "unsafe-inline" not in csp and "script-src" not in csp
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["cache-control"] == "no-store"
        assert "<script" not in response.text and "style=" not in response.text


def test_runs_and_overview_show_the_syncs(client: TestClient, synced: Tenant) -> None:
    """/runs lists both syncs with their outcome; the overview draws the chart after two."""
    synced.sync()
    runs = client.get("/runs").text
    assert 'href="/runs/1"' in runs and 'href="/runs/2"' in runs and "succeeded" in runs
    assert "<polyline" in client.get("/").text
    detail = client.get("/runs/1").text
    assert "Status changes" in detail and "(new)" in detail


def test_connectivity_and_validate_run_on_post(client: TestClient, runners: Runners) -> None:
    """The Connectivity and Validate pages run their checks only on their button's POST."""
    page = client.get("/connectivity")
    assert runners.calls == []
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    result = client.post("/connectivity", data={"csrf_token": token})
    assert "Connectivity OK" in result.text and "Show tests" in result.text
    assert "configuration" in result.text
    result = client.post("/validate", data={"csrf_token": token})
    assert "Counts match" in result.text
    assert runners.calls == ["connectivity", "validate"]


def test_server_errors_show_no_traceback(synced: Tenant, runners: Runners) -> None:
    """An unexpected failure shows a reference, never the exception or a traceback."""

    def broken() -> None:
        raise RuntimeError("internal detail 42")

    console = make_console(synced.engine, web_config(synced.config), runners)
    console.run_validation = broken  # type: ignore[assignment]
    app = create_app(console)
    with TestClient(app, follow_redirects=False, raise_server_exceptions=False) as client:
        log_in(client)
        token = re.search(r'value="([^"]+)"', client.get("/validate").text.split("csrf_token")[1])
        response = client.post("/validate", data={"csrf_token": token.group(1)})  # type: ignore[union-attr]
    assert response.status_code == 500
    assert "reference" in response.text
    assert "internal detail" not in response.text and "Traceback" not in response.text
    assert response.headers["content-security-policy"]
    console.uploads.close()


def test_unknown_records_are_404(client: TestClient) -> None:
    """A finding, asset, QID, run or scan that is not stored is a 404 page."""
    for path in ("/findings/nope", "/assets/nope", "/weaknesses/1", "/runs/999", "/imports/999",
                 "/mappings/nope"):  # fmt: skip
        assert client.get(path).status_code == 404, path
