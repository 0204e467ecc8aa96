"""Benchmark: a full Qualys WAS sync against the project's simulator, beside the download floor.

The simulator runs as a separate process (`connector simulate`) so that its XML rendering does not
compete with the connector for the GIL; it sleeps `--page-delay-ms` per search page, the order of
a real verbose page. In one run, side by side:

- floor: a bare loop that makes the same requests as a sync (web app pages, the findings count,
  finding pages, the KB lookup of the QIDs seen) with the same client settings and does nothing
  else, once through QualysClient (HTTP + XML decode) and once with httpx alone (HTTP only, no
  decode), serial and with 2 streams;
- full sync wall time (KB lookups included) into SQLite (a temp file) and PostgreSQL (a fresh
  database, dropped after), with qualys.concurrency 1 and 2;
- a re-sync with no change: finding rows written and KB calls (both should be 0);
- peak RSS of a sync at two sizes, each in a fresh child process;
- API calls per sync against pages + count calls + ceil(new QIDs / KB batch).

Prints a table and writes the same figures as JSON to bench/results/<timestamp>.json.

    .venv/bin/python bench/sync_bench.py                 # N=50,000 over W=500, 200 ms per page
    .venv/bin/python bench/sync_bench.py --quick         # a smoke run in well under a minute
    .venv/bin/python bench/sync_bench.py --parts floor,sqlite --findings 20000
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from connector.config import Config, Secret, SyncSettings, config_for_tests
from connector.qualys.client import KB_PATH, QualysClient
from connector.qualys.requests import Criterion, service_request
from connector.qualys.session import build_http_client
from connector.store.database import create_engine_for, ensure_schema
from connector.store.schema import finding_events, findings
from connector.sync import FETCHED_TYPES, SyncReport, run_sync

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
PARTS = ("floor", "sqlite", "postgres", "concurrency", "resync", "rss", "calls")
USERNAME, PASSWORD = "bench", "bench-password"
PAGE_SIZE = 1000
KB_BATCH = 300
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
SEED = 1

# Targets (issue 7).
SERIAL_TARGET = 1.15  # sync <= 1.15 x the serial floor
CONCURRENT_TARGET = 0.6  # concurrency 2: sync <= 0.6 x the serial floor
RSS_RATIO_TARGET = 1.3
RSS_MAX_MB = 300.0


# --- the simulator, in its own process ---


@dataclass
class SimProcess:
    url: str
    process: subprocess.Popen[bytes]
    started_seconds: float

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def simulator(webapps: int, findings_: int, page_delay_ms: int) -> Iterator[SimProcess]:
    """`connector simulate` in a child process; yields once it accepts connections."""
    port = _free_port()
    started = time.monotonic()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "connector",
            "simulate",
            "--port",
            str(port),
            "--webapps",
            str(webapps),
            "--findings",
            str(findings_),
            "--seed",
            str(SEED),
            "--page-delay-ms",
            str(page_delay_ms),
            "--username",
            USERNAME,
            "--password",
            PASSWORD,
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    sim = SimProcess(f"http://127.0.0.1:{port}", process, 0.0)
    try:
        deadline = time.monotonic() + 300
        while True:
            if process.poll() is not None:
                err = process.stderr.read().decode(errors="replace") if process.stderr else ""
                raise RuntimeError(f"the simulator exited with {process.returncode}: {err}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the simulator did not start within 300 s") from None
                time.sleep(0.1)
        sim.started_seconds = time.monotonic() - started
        yield sim
    finally:
        sim.stop()


def bench_config(
    url: str, *, concurrency: int = 1, database_url: str = "sqlite://", kb_batch_size: int = 300
) -> Config:
    return config_for_tests(
        qualys={
            "api_url": url,
            "username": USERNAME,
            "password": Secret(PASSWORD),
            "page_size": PAGE_SIZE,
            "concurrency": concurrency,
            "kb_batch_size": kb_batch_size,
        },
        database_url=database_url,
        # The simulated tenant's dates are from 2024: keep its assets out of retention.
        sync=SyncSettings(asset_retention_days=36500),
    )


# --- floors ---


def _type_filter() -> Criterion:
    return Criterion("type", "IN", ",".join(FETCHED_TYPES))


def _groups(ids: list[str], streams: int) -> list[list[Criterion]]:
    """The finding streams a sync with `streams` concurrency requests (see sync.py)."""
    if streams <= 1 or len(ids) < streams:
        return [[_type_filter()]]
    ordered = sorted(ids, key=int)
    return [
        [_type_filter(), Criterion("webApp.id", "IN", ",".join(ordered[i::streams]))]
        for i in range(streams)
    ]


def _in_threads(jobs: list[Callable[[], int]]) -> int:
    """Run the jobs in threads (one job runs inline) and sum what they return; errors re-raised."""
    if len(jobs) == 1:
        return jobs[0]()
    results: list[int] = [0] * len(jobs)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            results[i] = jobs[i]()
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return sum(results)


def floor_client(url: str, streams: int) -> dict[str, Any]:
    """Web app pages, the count, finding pages through QualysClient: HTTP + decode, nothing else."""
    config = bench_config(url)
    with QualysClient(config.qualys) as client:
        started = time.monotonic()
        ids: list[str] = []
        for page in client.iter_webapp_pages(verbose=True):
            ids.extend(str(r.get("id")) for r in page.records)
        client.count_findings([_type_filter()])

        qids: set[int] = set()

        def stream(criteria: list[Criterion]) -> Callable[[], int]:
            def run() -> int:
                total = 0
                for page in client.iter_finding_pages(criteria, verbose=True):
                    total += len(page.records)
                    qids.update(int(r["qid"]) for r in page.records if r.get("qid"))
                return total

            return run

        records = _in_threads([stream(c) for c in _groups(ids, streams)])
        client.kb_lookup(sorted(qids))  # a first sync looks up every QID it saw
        wall = time.monotonic() - started
        return {
            "wall_seconds": wall,
            "webapps": len(ids),
            "findings": records,
            "calls_by_endpoint": client.stats.calls_by_endpoint,
        }


_HEAD = re.compile(rb"<hasMoreRecords>\s*(\w+)\s*</hasMoreRecords>\s*(?:<lastId>\s*(\d+))?")
_WEBAPP_ID = re.compile(rb"<WebApp>\s*<id>(\d+)</id>")
_COUNT = re.compile(rb"<count>(\d+)</count>")
_QID = re.compile(rb"<qid>(\d+)</qid>")


def floor_http(url: str, streams: int) -> dict[str, Any]:
    """The same requests with the same httpx settings, reading only hasMoreRecords/lastId."""
    config = bench_config(url)
    calls: dict[str, int] = {}
    lock = threading.Lock()
    with build_http_client(config.qualys) as http:

        def post(path: str, body: bytes) -> bytes:
            response = http.post(path, content=body, headers={"Content-Type": "text/xml"})
            response.raise_for_status()
            with lock:
                calls[path] = calls.get(path, 0) + 1
            return response.content

        def pages(kind: str, criteria: list[Criterion]) -> Iterator[bytes]:
            after: int | None = None
            while True:
                wanted = (
                    criteria if after is None else [*criteria, Criterion("id", "GREATER", after)]
                )
                body = post(
                    f"/qps/rest/3.0/search/was/{kind}",
                    service_request(wanted, verbose=True, limit_results=PAGE_SIZE),
                )
                yield body
                head = _HEAD.search(body, 0, 4096)
                if head is None or head.group(1) != b"true":
                    return
                after = int(head.group(2))

        started = time.monotonic()
        ids: list[str] = []
        for body in pages("webapp", []):
            ids.extend(m.decode() for m in _WEBAPP_ID.findall(body))
        post("/qps/rest/3.0/count/was/finding", service_request([_type_filter()]))

        qids: set[bytes] = set()

        def stream(criteria: list[Criterion]) -> Callable[[], int]:
            def run() -> int:
                total = 0
                for body in pages("finding", criteria):
                    found = _COUNT.search(body, 0, 4096)
                    total += int(found.group(1)) if found else 0
                    qids.update(_QID.findall(body))
                return total

            return run

        records = _in_threads([stream(c) for c in _groups(ids, streams)])
        ordered = sorted(int(q) for q in qids)
        for start in range(0, len(ordered), KB_BATCH):
            batch = ",".join(map(str, ordered[start : start + KB_BATCH]))
            response = http.post(KB_PATH, data={"action": "list", "details": "All", "ids": batch})
            response.raise_for_status()
            calls[KB_PATH] = calls.get(KB_PATH, 0) + 1
        wall = time.monotonic() - started
    return {
        "wall_seconds": wall,
        "webapps": len(ids),
        "findings": records,
        "calls_by_path": calls,
    }


# --- syncs ---


@dataclass
class Database:
    url: str
    label: str
    cleanup: Callable[[], None] = field(default=lambda: None)


@contextmanager
def sqlite_database() -> Iterator[Database]:
    directory = tempfile.mkdtemp(prefix="sync-bench-")
    try:
        yield Database(f"sqlite:///{directory}/bench.db", "SQLite")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def postgres_database(admin_url: str) -> Iterator[Database]:
    name = f"sync_bench_{os.getpid()}_{int(time.time() * 1000) % 10**9}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        target = sa.make_url(admin_url).set(database=name)
        yield Database(target.render_as_string(hide_password=False), "PostgreSQL")
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _store_figures(engine: sa.Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        return {
            "finding_rows": conn.execute(sa.select(sa.func.count()).select_from(findings)).scalar(),
            "max_updated_at": str(
                conn.execute(sa.select(sa.func.max(findings.c.updated_at))).scalar()
            ),
            "event_rows": conn.execute(
                sa.select(sa.func.count()).select_from(finding_events)
            ).scalar(),
        }


def _sync_figures(report: SyncReport, client: QualysClient, wall: float) -> dict[str, Any]:
    counts = report.counts
    return {
        "wall_seconds": wall,
        "outcome": str(report.outcome),
        "findings_fetched": counts.findings_fetched,
        "findings_created": counts.findings_created,
        "findings_updated": counts.findings_updated,
        "findings_unchanged": counts.findings_unchanged,
        "findings_written": counts.findings_created + counts.findings_updated,
        "kb_calls": counts.kb_calls,
        "kb_new_qids": counts.kb_fetched + counts.kb_unknown,
        "pages": counts.pages,
        "api_calls": report.api_calls,
        "calls_by_endpoint": client.stats.calls_by_endpoint,
    }


def sync_once(url: str, db: Database, *, concurrency: int, resync: bool) -> dict[str, Any]:
    """One first sync into an empty store (and optionally a second, unchanged one)."""
    config = bench_config(url, concurrency=concurrency, database_url=db.url)
    engine = create_engine_for(db.url)
    try:
        ensure_schema(engine)
        with QualysClient(config.qualys) as client:
            started = time.monotonic()
            report = run_sync(config, engine, client)
            result = _sync_figures(report, client, time.monotonic() - started)
        result["store"] = _store_figures(engine)
        if resync:
            with QualysClient(config.qualys) as client:
                started = time.monotonic()
                report = run_sync(config, engine, client)
                again = _sync_figures(report, client, time.monotonic() - started)
            again["store"] = _store_figures(engine)
            again["rows_rewritten"] = int(
                again["store"]["max_updated_at"] != result["store"]["max_updated_at"]
            )
            again["events_written"] = again["store"]["event_rows"] - result["store"]["event_rows"]
            result["resync"] = again
        return result
    finally:
        engine.dispose()


# --- peak RSS, one child process per measurement ---


def _status_kb(pid: int | str, field: str) -> int:
    """A `VmRSS`/`VmHWM` figure (kB) from /proc/<pid>/status; 0 when the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


def _tree_rss_kb(pid: int) -> int:
    """The resident memory of a process and all its descendants right now (kB)."""
    total = _status_kb(pid, "VmRSS")
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        total += sum(_tree_rss_kb(int(child)) for child in children)
    return total


class TreePeak:
    """Samples the RSS of this process plus its worker processes every 20 ms; keeps the peak."""

    def __init__(self) -> None:
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreePeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak_kb = max(self.peak_kb, _tree_rss_kb(os.getpid()))


def child_sync(url: str) -> None:
    """Run in a fresh child: one sync into a temp SQLite file; print figures and peak RSS.

    ru_maxrss is not used: Linux carries a parent's high-water mark across fork and exec, so a
    child of a big benchmark process would report the parent's size. VmHWM starts afresh at exec.
    """
    with TreePeak() as tree, sqlite_database() as db:
        result = sync_once(url, db, concurrency=1, resync=False)
    result["peak_rss_kb"] = _status_kb("self", "VmHWM")
    result["tree_peak_rss_kb"] = max(tree.peak_kb, result["peak_rss_kb"])
    print(json.dumps(result, default=str))


def rss_of_sync(webapps: int, findings_: int, page_delay_ms: int) -> dict[str, Any]:
    with simulator(webapps, findings_, page_delay_ms) as sim:
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--child-sync", sim.url],
            cwd=ROOT,
            capture_output=True,
            check=False,
        )
        wall = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"the child sync failed: {done.stderr.decode(errors='replace')[-2000:]}")
    figures = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return {
        "findings": findings_,
        "webapps": webapps,
        "findings_fetched": figures["findings_fetched"],
        "peak_rss_mb": figures["peak_rss_kb"] / 1024,  # the sync process itself (VmHWM)
        "tree_peak_rss_mb": figures["tree_peak_rss_kb"] / 1024,  # with its page workers
        "sync_wall_seconds": figures["wall_seconds"],
        "child_wall_seconds": wall,
    }


# --- expected API calls ---


def expected_calls(floor: dict[str, Any], sync: dict[str, Any], kb_batch: int) -> dict[str, int]:
    """pages (as the floor counted them, same requests) + 1 count + ceil(new QIDs / batch)."""
    pages = floor["calls_by_endpoint"]
    return {
        "search/was/webapp": pages.get("search/was/webapp", 0),
        "count/was/finding": 1,
        "search/was/finding": pages.get("search/was/finding", 0),
        "kb/vuln": math.ceil(sync["kb_new_qids"] / kb_batch),
    }


# --- the run ---


@dataclass
class Options:
    findings: int
    webapps: int
    page_delay_ms: int
    rss_sizes: tuple[int, int]
    rss_page_delay_ms: int
    parts: tuple[str, ...]
    postgres_url: str


def parse(argv: list[str]) -> Options | str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--findings", "-n", type=int, default=None, help="findings N (50000)")
    parser.add_argument("--webapps", "-w", type=int, default=None, help="web apps W (500)")
    parser.add_argument(
        "--page-delay-ms", type=int, default=200, help="simulated server time per page (200)"
    )
    parser.add_argument(
        "--rss-sizes",
        default=None,
        help="the two N for peak RSS, comma-separated (50000,250000; quick: 5000,25000)",
    )
    parser.add_argument(
        "--rss-page-delay-ms",
        type=int,
        default=None,
        help="page delay for the RSS syncs (default: --page-delay-ms)",
    )
    parser.add_argument(
        "--parts",
        default=",".join(PARTS),
        help=f"what to run, comma-separated from {','.join(PARTS)} (all)",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument(
        "--postgres-url",
        default=PG_ADMIN_URL,
        help="admin URL; a fresh database is created next to it and dropped after",
    )
    parser.add_argument("--child-sync", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_sync:
        child_sync(args.child_sync)
        return "child"
    parts = tuple(p.strip() for p in args.parts.split(",") if p.strip())
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts {sorted(unknown)}; choose from {','.join(PARTS)}")
    n = args.findings or (5000 if args.quick else 50_000)
    w = args.webapps or (50 if args.quick else 500)
    if args.rss_sizes:
        small, large = (int(x) for x in args.rss_sizes.split(","))
    else:
        small, large = (5000, 25_000) if args.quick else (50_000, 250_000)
    return Options(
        findings=n,
        webapps=w,
        page_delay_ms=args.page_delay_ms,
        rss_sizes=(small, large),
        rss_page_delay_ms=(
            args.rss_page_delay_ms if args.rss_page_delay_ms is not None else args.page_delay_ms
        ),
        parts=parts,
        postgres_url=args.postgres_url,
    )


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run(opts: Options) -> dict[str, Any]:
    results: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "findings": opts.findings,
        "webapps": opts.webapps,
        "page_delay_ms": opts.page_delay_ms,
        "page_size": PAGE_SIZE,
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "parts": list(opts.parts),
    }
    wants = set(opts.parts)
    needs_sim = wants & {"floor", "sqlite", "postgres", "concurrency", "resync", "calls"}
    if needs_sim:
        with simulator(opts.webapps, opts.findings, opts.page_delay_ms) as sim:
            results["simulator_start_seconds"] = sim.started_seconds
            floors: dict[str, Any] = {}
            results["floor"] = floors
            if wants & {"floor", "calls", "concurrency", "sqlite", "postgres"}:
                log("floor: QualysClient, serial")
                floors["client_1"] = floor_client(sim.url, 1)
                if "floor" in wants:
                    log("floor: httpx only, serial")
                    floors["http_1"] = floor_http(sim.url, 1)
                if "concurrency" in wants:
                    log("floor: QualysClient, 2 streams")
                    floors["client_2"] = floor_client(sim.url, 2)
                    if "floor" in wants:
                        log("floor: httpx only, 2 streams")
                        floors["http_2"] = floor_http(sim.url, 2)
            syncs: dict[str, Any] = {}
            results["sync"] = syncs
            backends: list[tuple[str, Callable[[], Any]]] = []
            if "sqlite" in wants or not wants & {"sqlite", "postgres"}:
                backends.append(("sqlite", sqlite_database))
            if "postgres" in wants:
                backends.append(("postgres", lambda: postgres_database(opts.postgres_url)))
            if wants & {"sqlite", "postgres", "resync", "calls", "concurrency"}:
                for name, make_db in backends:
                    log(
                        f"sync: {name}, concurrency 1" + (" + re-sync" if "resync" in wants else "")
                    )
                    with make_db() as db:
                        syncs[f"{name}_1"] = sync_once(
                            sim.url, db, concurrency=1, resync="resync" in wants
                        )
                    if "concurrency" in wants:
                        log(f"sync: {name}, concurrency 2")
                        with make_db() as db:
                            syncs[f"{name}_2"] = sync_once(sim.url, db, concurrency=2, resync=False)
    if "rss" in wants:
        results["rss"] = []
        for size in opts.rss_sizes:
            webapps = opts.webapps
            log(f"peak RSS: a sync of N={size} over W={webapps} in a child process")
            results["rss"].append(rss_of_sync(webapps, size, opts.rss_page_delay_ms))
        results["rss_page_delay_ms"] = opts.rss_page_delay_ms
    results["targets"] = judge(results)
    return results


def judge(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target: what was measured, the limit, met or not."""
    out: list[dict[str, Any]] = []
    floors = results.get("floor", {})
    syncs = results.get("sync", {})
    serial = floors.get("client_1", {}).get("wall_seconds")
    http = floors.get("http_1", {}).get("wall_seconds")

    def add(name: str, value: float | str | None, limit: str, met: bool | None) -> None:
        out.append({"target": name, "value": value, "limit": limit, "met": met})

    for backend in ("sqlite", "postgres"):
        one = syncs.get(f"{backend}_1")
        two = syncs.get(f"{backend}_2")
        if one and serial:
            ratio = one["wall_seconds"] / serial
            add(
                f"{backend} sync / client floor (c=1)",
                round(ratio, 3),
                "<= 1.15",
                ratio <= SERIAL_TARGET,
            )
        if one and http:
            ratio = one["wall_seconds"] / http
            add(
                f"{backend} sync / HTTP floor (c=1)",
                round(ratio, 3),
                "<= 1.15",
                ratio <= SERIAL_TARGET,
            )
        if two and serial:
            ratio = two["wall_seconds"] / serial
            add(
                f"{backend} sync c=2 / serial client floor",
                round(ratio, 3),
                "<= 0.6",
                ratio <= CONCURRENT_TARGET,
            )
        if two and http:
            ratio = two["wall_seconds"] / http
            add(
                f"{backend} sync c=2 / serial HTTP floor",
                round(ratio, 3),
                "<= 0.6",
                ratio <= CONCURRENT_TARGET,
            )
        if one and "resync" in one:
            again = one["resync"]
            add(
                f"{backend} re-sync: finding rows written",
                again["findings_written"] + again["rows_rewritten"] + again["events_written"],
                "== 0",
                again["findings_written"] == 0
                and again["rows_rewritten"] == 0
                and again["events_written"] == 0,
            )
            add(f"{backend} re-sync: KB calls", again["kb_calls"], "== 0", again["kb_calls"] == 0)
        for label, sync in (("c=1", one), ("c=2", two)):
            floor = floors.get("client_1" if label == "c=1" else "client_2")
            if sync and floor:
                expected = expected_calls(floor, sync, 300)
                actual = {k: sync["calls_by_endpoint"].get(k, 0) for k in expected}
                extra = set(sync["calls_by_endpoint"]) - set(expected)
                met = actual == expected and not extra
                add(
                    f"{backend} API calls {label} (actual/expected)",
                    f"{sum(sync['calls_by_endpoint'].values())}/{sum(expected.values())}",
                    "equal",
                    met,
                )
    rss = results.get("rss") or []
    if len(rss) == 2:
        small, large = rss[0]["peak_rss_mb"], rss[1]["peak_rss_mb"]
        add(
            "peak RSS large / small",
            round(large / small, 3),
            "<= 1.3",
            large / small <= RSS_RATIO_TARGET,
        )
        add("peak RSS large (MB)", round(large, 1), "< 300", large < RSS_MAX_MB)
        tree = rss[1]["tree_peak_rss_mb"]
        add("peak RSS large, with workers (MB)", round(tree, 1), "< 300", tree < RSS_MAX_MB)
    return out


def table(results: dict[str, Any]) -> str:
    lines: list[str] = []
    n, w, delay = results["findings"], results["webapps"], results["page_delay_ms"]
    lines.append(
        f"sync benchmark: N={n:,} findings over W={w:,} web apps, {delay} ms server time per page, "
        f"page size {results['page_size']}, {results['cpus']} CPUs, Python {results['python']}"
    )
    rows: list[tuple[str, str, str]] = []
    floors = results.get("floor", {})
    serial = floors.get("client_1", {}).get("wall_seconds")
    for key, label in (
        ("http_1", "floor: httpx only (no decode), 1 stream"),
        ("client_1", "floor: QualysClient (HTTP + decode), 1 stream"),
        ("http_2", "floor: httpx only (no decode), 2 streams"),
        ("client_2", "floor: QualysClient (HTTP + decode), 2 streams"),
    ):
        if key in floors:
            f = floors[key]
            pages = sum(
                v for k, v in f.get("calls_by_endpoint", f.get("calls_by_path", {})).items()
            )
            rows.append(
                (label, f"{f['wall_seconds']:.2f} s", f"{f['findings']:,} findings, {pages} calls")
            )
    for key, label in (
        ("sqlite_1", "sync SQLite, concurrency 1"),
        ("postgres_1", "sync PostgreSQL, concurrency 1"),
        ("sqlite_2", "sync SQLite, concurrency 2"),
        ("postgres_2", "sync PostgreSQL, concurrency 2"),
    ):
        s = results.get("sync", {}).get(key)
        if not s:
            continue
        note = f"{s['findings_fetched']:,} findings, {s['api_calls']} calls"
        if serial:
            note += f", {s['wall_seconds'] / serial:.2f} x client floor"
        http = floors.get("http_1", {}).get("wall_seconds")
        if http:
            note += f", {s['wall_seconds'] / http:.2f} x HTTP floor"
        rows.append((label, f"{s['wall_seconds']:.2f} s", note))
        if "resync" in s:
            r = s["resync"]
            rows.append(
                (
                    f"  re-sync, no change ({label.split()[1].rstrip(',')})",
                    f"{r['wall_seconds']:.2f} s",
                    f"written {r['findings_written']} (created+updated), "
                    f"events {r['events_written']}, "
                    f"max(updated_at) {'moved' if r['rows_rewritten'] else 'unchanged'}, "
                    f"KB calls {r['kb_calls']}",
                )
            )
    for entry in results.get("rss") or []:
        rows.append(
            (
                f"peak RSS, sync of N={entry['findings']:,} (child process)",
                f"{entry['peak_rss_mb']:.1f} MB",
                f"{entry['findings_fetched']:,} fetched in {entry['sync_wall_seconds']:.1f} s; "
                f"with its page worker processes {entry['tree_peak_rss_mb']:.1f} MB",
            )
        )
    for backend in ("sqlite", "postgres"):
        for c in ("1", "2"):
            s = results.get("sync", {}).get(f"{backend}_{c}")
            if s:
                calls = ", ".join(f"{k} {v}" for k, v in sorted(s["calls_by_endpoint"].items()))
                rows.append((f"API calls, {backend} c={c}", str(s["api_calls"]), calls))
    width = max((len(r[0]) for r in rows), default=10)
    vwidth = max((len(r[1]) for r in rows), default=5)
    lines.append("")
    for label, value, note in rows:
        lines.append(f"{label:<{width}}  {value:>{vwidth}}  {note}")
    if results.get("targets"):
        lines.append("")
        twidth = max(len(t["target"]) for t in results["targets"])
        for t in results["targets"]:
            verdict = "met" if t["met"] else "MISSED"
            lines.append(f"{t['target']:<{twidth}}  {t['value']!s:>10}  {t['limit']:<8}  {verdict}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    opts = parse(sys.argv[1:] if argv is None else argv)
    if opts == "child":
        return 0
    assert isinstance(opts, Options)
    results = run(opts)
    print(table(results))
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"{stamp}.json"
    out.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"\nwritten to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
