"""Benchmark: the console's /findings with every filter over a store of 250,000 findings.

Fills a store through the store's own upsert functions (assets, findings with their events, a
second run that fixes some findings and is recorded as an imported scan), then requests
/findings in process with each filter, each sort and a deep page, and prints the server time
(the app's Server-Timing figure: routing, queries and rendering) per request: median and max of
--repeat runs. Target: every row under 200 ms.

    .venv/bin/python bench/web_bench.py                      # SQLite, 250,000 findings
    .venv/bin/python bench/web_bench.py --database postgresql+psycopg://postgres@127.0.0.1/bench
    .venv/bin/python bench/web_bench.py --findings 20000     # a quick run
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path

import sqlalchemy as sa
from starlette.testclient import TestClient

from connector.config import Secret, WebSettings, config_for_tests
from connector.models import (
    Asset,
    Finding,
    FindingStatus,
    RunKind,
    RunOutcome,
    Severity,
    SeveritySource,
)
from connector.store import assets as store_assets
from connector.store import findings as store_findings
from connector.store import imports as store_imports
from connector.store import runs as store_runs
from connector.store.database import create_engine_for, upgrade
from connector.store.schema import metadata
from connector.validate import ValidationReport
from connector.web.app import create_app
from connector.web.state import Console

CONNECTOR = "qualys-was"
NOW = datetime(2026, 11, 1, tzinfo=UTC)
NAMES = (
    "Cross-Site Scripting", "SQL Injection", "Path Traversal", "Open Redirect",
    "Clickjacking", "Cookie Without Secure Flag", "Weak TLS Cipher", "CSRF",
    "Server Version Disclosure", "Directory Listing",
)  # fmt: skip
TYPES = ("VULNERABILITY", "VULNERABILITY", "VULNERABILITY", "SENSITIVE_CONTENT")
SEVERITIES = (Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.MEDIUM, Severity.LOW)
NEXT = re.compile(r'rel="next" href="([^"]+)"')
TIMING = re.compile(r"app;dur=([\d.]+)")


def fill(url: str, n: int, webapps: int, seed: int = 3) -> dict[str, object]:
    """Write `webapps` assets and `n` findings; returns ids the requests use."""
    rng = random.Random(seed)
    engine = create_engine_for(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            metadata.drop_all(conn)
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    upgrade(engine)
    assets = [
        Asset(str(10_000 + i), f"app-{i:04d}", f"https://app{i}.example.com", NOW, NOW)
        for i in range(webapps)
    ]
    with engine.begin() as conn:
        run = store_runs.start_run(conn, CONNECTOR, RunKind.SYNC, now=NOW, host="bench", pid=1)
        store_assets.upsert_assets(conn, CONNECTOR, assets, now=NOW)
    batch: list[Finding] = []
    for i in range(n):
        seen = NOW - timedelta(minutes=rng.randint(0, 400 * 24 * 60))
        status = FindingStatus.ACTIVE if rng.random() < 0.85 else FindingStatus.FIXED
        severity = Severity.NONE if rng.random() < 0.002 else rng.choice(SEVERITIES)
        qid = 150_000 + rng.randint(0, 299)
        batch.append(
            Finding(
                key=str(1_000_000 + i),
                asset_key=assets[rng.randrange(webapps)].key,
                name=f"{rng.choice(NAMES)} ({i % 97})",
                status=status,
                severity=severity,
                severity_source=SeveritySource.CVSS_V3,
                qid=qid,
                type=rng.choice(TYPES),
                url=f"https://app.example.com/p/{i % 5000}",
                first_seen=seen - timedelta(days=rng.randint(0, 300)),
                last_seen=seen,
                qualys_status="ACTIVE" if status is FindingStatus.ACTIVE else "FIXED",
                ports=(443,),
            )
        )
        if len(batch) == 1000:
            _write(engine, batch, run)
            batch = []
    _write(engine, batch, run)
    later = NOW + timedelta(days=1)
    with engine.begin() as conn:
        store_runs.finish_run(
            conn, run, outcome=RunOutcome.SUCCEEDED, now=NOW, counts={}, api_calls=0,
            retries=0, error=None,
        )  # fmt: skip
        second = store_runs.start_run(conn, CONNECTOR, RunKind.IMPORT, now=later, host="b", pid=1)
        # An "import" that changed 300 findings' status, for the scan filter (events only).
        keys = [str(1_000_000 + i) for i in rng.sample(range(n), min(300, n))]
        conn.execute(
            sa.text(
                "INSERT INTO finding_events (connector, finding_key, from_status, to_status, at, "
                "run_id, reason) VALUES (:c, :k, 'Active', 'Fixed', :at, :r, 'bench import')"
            ),
            [{"c": CONNECTOR, "k": k, "at": later, "r": second} for k in keys],
        )
        scan = store_imports.record_imported_scan(
            conn, CONNECTOR, run_id=second, file_name="bench.csv", checksum="0" * 64,
            report_date=later, asset_key=None, mapping="bench", counts={}, now=later,
        )  # fmt: skip
        store_runs.finish_run(
            conn, second, outcome=RunOutcome.SUCCEEDED, now=later, counts={}, api_calls=0,
            retries=0, error=None,
        )  # fmt: skip
    engine.dispose()
    return {"asset": assets[7].key, "asset_name": assets[7].name, "scan": scan, "qid": 150_123}


def _write(engine: sa.Engine, batch: list[Finding], run: int) -> None:
    if not batch:
        return
    with engine.begin() as conn:
        store_findings.upsert_findings(conn, CONNECTOR, batch, run_id=run, now=NOW, reason="bench")


def requests(ids: dict[str, object]) -> list[tuple[str, str]]:
    return [
        ("no filter (severity sort)", ""),
        ("status=Active", "status=Active"),
        ("status=Fixed", "status=Fixed"),
        ("severity=Critical", "severity=Critical"),
        ("severity=None (rare)", "severity=None"),
        ("status=Fixed&severity=Critical", "status=Fixed&severity=Critical"),
        ("asset=<id>", f"asset={ids['asset']}"),
        ("asset=<name>", f"asset={ids['asset_name']}"),
        ("since=<30 days>", f"since={(NOW - timedelta(days=30)).date()}"),
        ("include_archived=1", "include_archived=1"),
        ("qid=<one>", f"qid={ids['qid']}"),
        ("type=SENSITIVE_CONTENT", "type=SENSITIVE_CONTENT"),
        ("source=import (none)", "source=import"),
        ("scan=<imported scan>", f"scan={ids['scan']}"),
        ("q=<common word>", "q=Scripting"),
        ("q=<rare text>", "q=nowhere-to-be-found"),
        ("sort=last_seen", "sort=last_seen"),
        ("sort=first_seen", "sort=first_seen"),
        ("sort=qid", "sort=qid"),
        ("status=Fixed&sort=last_seen", "status=Fixed&sort=last_seen"),
        ("severity=None&sort=last_seen", "severity=None&sort=last_seen"),
        ("everything at once", f"status=Active&severity=High&type=VULNERABILITY&source=api"
         f"&asset={ids['asset']}&since=2025-06-01&q=Cross&sort=last_seen"),
    ]  # fmt: skip


def measure(url: str, ids: dict[str, object], repeat: int) -> list[dict[str, object]]:
    engine = create_engine_for(url)
    config = replace(
        config_for_tests(database_url=url),
        web=WebSettings(username="bench", password=Secret("bench-password")),
    )
    console = Console(
        engine=engine, config=config, check_connectivity=list, run_validation=ValidationReport
    )
    results: list[dict[str, object]] = []
    with TestClient(create_app(console), follow_redirects=False) as client:
        page = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        client.post("/login", data={"username": "bench", "password": "bench-password",
                                    "csrf_token": token})  # fmt: skip
        cases = requests(ids)
        deep = "/findings?status=Active"
        for _ in range(20):  # 20 pages in: keyset pages cost the same at any depth
            html = client.get(deep).text
            deep = "/findings" + unescape(NEXT.search(html).group(1))  # type: ignore[union-attr]
        cases.append(("status=Active, page 21", deep.split("?", 1)[1]))
        for label, query in cases:
            path = f"/findings?{query}" if query else "/findings"
            server, wall = [], []
            for _ in range(repeat):
                started = time.perf_counter()
                response = client.get(path)
                wall.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    raise SystemExit(f"{path}: HTTP {response.status_code}")
                server.append(float(TIMING.search(response.headers["server-timing"]).group(1)))  # type: ignore[union-attr]
            count = re.search(r"<strong>([\d,]+)</strong> finding", response.text)
            results.append({
                "filter": label, "matches": count.group(1) if count else "?",
                "server_ms_median": round(statistics.median(server), 1),
                "server_ms_max": round(max(server), 1),
                "wall_ms_median": round(statistics.median(wall), 1),
            })  # fmt: skip
    console.uploads.close()
    engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--findings", type=int, default=250_000)
    parser.add_argument("--webapps", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database", help="a database URL (default: a new SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database or f"sqlite:///{Path(tmp) / 'bench.db'}"
        started = time.perf_counter()
        ids = fill(url, args.findings, args.webapps)
        print(f"filled {args.findings:,} findings over {args.webapps} web apps in "
              f"{time.perf_counter() - started:.1f} s ({url.split(':')[0]})")  # fmt: skip
        results = measure(url, ids, args.repeat)
    width = max(len(str(r["filter"])) for r in results)
    print(f"{'filter':<{width}}  {'matches':>9}  {'server ms (median / max)':>25}  wall ms")
    for r in results:
        timing = f"{r['server_ms_median']:>12} / {r['server_ms_max']:<10}"
        print(f"{r['filter']!s:<{width}}  {r['matches']!s:>9}  {timing}  {r['wall_ms_median']}")
    worst = max(float(str(r["server_ms_max"])) for r in results)
    print(f"slowest request: {worst:.1f} ms server time (target < 200 ms)")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (out / f"web-{stamp}.json").write_text(
        json.dumps({"findings": args.findings, "database": url.split(":")[0], "results": results},
                   indent=2),
        encoding="utf-8",
    )  # fmt: skip


if __name__ == "__main__":
    main()
