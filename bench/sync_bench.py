"""Benchmark: syncs against the project's simulator (in its own process), beside their floors.

Each figure is a ratio measured in one run:

- scale: a full sync with one stream at 2,000 .. 250,000 findings on a 200 ms-per-page server,
  against the floor: the very requests the sync made (web app pages, counts, finding pages, KB
  lookups), sent again one after another by a bare httpx client that only reads the answers.
  Target <= 1.10 at every scale.
- concurrency: a full sync with two streams (first sync, and forced full on a populated store)
  against the serial floor of its own requests. Target <= 0.60.
- incremental: ~5% of findings changed by a simulated day (retests, rescans, fixes, triage, new,
  purged); an incremental sync and a forced full sync of copies of the same store, on a server
  that charges time per record (more for verbose records), compared in time and bytes
  downloaded, and their stores compared equal. Target <= 0.40 in both.
- resync: rows written and KB calls of re-syncs with no change (first and second, incremental
  and full). Target 0 and 0.
- rss: peak RSS of a whole sync process tree at 250,000 findings. Target <= 150 MB.

    .venv/bin/python bench/sync_bench.py                      # everything (about 20 minutes)
    .venv/bin/python bench/sync_bench.py --quick              # small sizes, a smoke run
    .venv/bin/python bench/sync_bench.py --parts scale --scales 2000,20000
    .venv/bin/python bench/sync_bench.py --database postgresql

Prints a table and writes the figures as JSON to bench/results/<timestamp>.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from benchkit import (
    Recording,
    bench_config,
    copy_sqlite,
    database,
    log,
    peak_rss_mb,
    replay,
    simulator,
    vmhwm_kb,
)

from connector.qualys.client import QualysClient
from connector.store import schema
from connector.sync import SyncReport, run_sync

RESULTS = Path(__file__).resolve().parent / "results"
PAGE_DELAY_MS = 200.0
COUNT_DELAY_MS = 50.0
# The incremental part's server: per-record costs, a verbose record ~7.5x a brief one.
COSTS_MS = {
    "page_delay": 20.0,
    "verbose_record_delay": 0.15,
    "brief_record_delay": 0.02,
    "count_delay": 20.0,
}
TARGETS = {"scale": 1.10, "concurrency": 0.60, "incremental": 0.40, "rss_mb": 150.0}


def webapps_for(findings: int) -> int:
    return max(10, min(findings // 100, 2500))


def timed_sync(
    url: str,
    engine: sa.Engine,
    *,
    concurrency: int = 1,
    full: bool = False,
    clock: Callable[[], datetime] | None = None,
) -> tuple[SyncReport, float, Recording]:
    """One sync through a recording transport: (report, wall seconds, what it requested)."""
    config = bench_config(url, str(engine.url), concurrency=concurrency)
    recording = Recording()
    extra: dict[str, Any] = {} if clock is None else {"clock": clock}
    with QualysClient(config.qualys, transport=recording) as client:
        started = time.perf_counter()
        report = run_sync(config, engine, client, host="bench", pid=0, full=full, **extra)
        return report, time.perf_counter() - started, recording


def rows_written_since(engine: sa.Engine, since: datetime) -> int:
    f = schema.findings
    with engine.connect() as conn:
        return int(
            conn.execute(sa.select(sa.func.count()).where(f.c.updated_at > since)).scalar_one()
        )


def visible(engine: sa.Engine) -> list[Any]:
    """What a user sees of findings and assets (write timestamps and digests aside)."""
    hidden = {"content_hash", "created_at", "updated_at"}
    out: list[Any] = []
    for table in (schema.findings, schema.assets):
        cols = [c for c in table.columns if c.name not in hidden]
        with engine.connect() as conn:
            out.append([tuple(r) for r in conn.execute(sa.select(*cols).order_by(table.c.key))])
    return out


# --- the parts --------------------------------------------------------------------------------
def part_scale(scales: list[int], db: str) -> list[dict[str, Any]]:
    rows = []
    for n in scales:
        log(f"scale: {n:,} findings, full sync, 1 stream")
        with (
            simulator(
                n, webapps_for(n), page_delay=PAGE_DELAY_MS, count_delay=COUNT_DELAY_MS
            ) as sim,
            database(db) as engine,
        ):
            report, wall, recording = timed_sync(sim.url, engine, full=True)
            floor = replay(recording.requests)
            rows.append(
                {
                    "findings": n,
                    "listed": report.counts.findings_listed,
                    "sync_s": wall,
                    "floor_s": floor,
                    "ratio": wall / floor,
                    "requests": len(recording.requests),
                }
            )
            log(f"  sync {wall:.2f}s, floor {floor:.2f}s, ratio {wall / floor:.3f}")
    return rows


def part_concurrency(n: int, db: str) -> list[dict[str, Any]]:
    rows = []
    with (
        simulator(n, webapps_for(n), page_delay=PAGE_DELAY_MS, count_delay=COUNT_DELAY_MS) as sim,
        database(db) as engine,
    ):
        for label in ("first sync", "forced full, store populated"):
            log(f"concurrency 2: {label}, {n:,} findings")
            report, wall, recording = timed_sync(sim.url, engine, concurrency=2, full=True)
            floor = replay(recording.requests)
            rows.append(
                {
                    "case": label,
                    "findings": n,
                    "sync_s": wall,
                    "serial_floor_s": floor,
                    "ratio": wall / floor,
                    "requests": len(recording.requests),
                }
            )
            log(f"  sync {wall:.2f}s, serial floor {floor:.2f}s, ratio {wall / floor:.3f}")
    return rows


def part_incremental(n: int) -> dict[str, Any]:
    log(f"incremental: {n:,} findings, 5% changed, per-record server costs {COSTS_MS}")
    with (
        simulator(n, webapps_for(n), **COSTS_MS) as sim,
        database("sqlite") as engine,
        tempfile.TemporaryDirectory() as folder,
    ):
        timed_sync(sim.url, engine, full=True)
        day = sim.control("day", seed=7, share=0.05)
        changed = sum(len(v) for k, v in day.items() if isinstance(v, list))
        at = datetime.now(UTC)
        figures: dict[str, Any] = {"findings": n, "changed": changed}
        stores = {}
        for label, full in (("incremental", False), ("full", True)):
            copy = copy_sqlite(engine, Path(folder), f"{label}.db")
            before = sim.control("stats")
            report, wall, _ = timed_sync(sim.url, copy, full=full, clock=lambda: at)
            after = sim.control("stats")
            figures[label] = {
                "mode": str(report.mode),
                "seconds": wall,
                "bytes": after["total_bytes"] - before["total_bytes"],
                "details_read": report.counts.findings_fetched,
                "api_calls": report.api_calls,
            }
            stores[label] = visible(copy)
            copy.dispose()
            log(f"  {label}: {wall:.2f}s, {figures[label]['bytes'] / 1e6:.1f} MB")
        figures["time_ratio"] = figures["incremental"]["seconds"] / figures["full"]["seconds"]
        figures["bytes_ratio"] = figures["incremental"]["bytes"] / figures["full"]["bytes"]
        figures["stores_equal"] = stores["incremental"] == stores["full"]
        return figures


def part_resync(n: int, db: str) -> list[dict[str, Any]]:
    rows = []
    with simulator(n, webapps_for(n)) as sim, database(db) as engine:
        timed_sync(sim.url, engine, full=True)
        for label, full in (("first re-sync", False), ("second re-sync", False), ("full", True)):
            since = datetime.now(UTC)
            report, _, _ = timed_sync(sim.url, engine, full=full)
            rows.append(
                {
                    "case": label,
                    "mode": str(report.mode),
                    "rows_written": rows_written_since(engine, since),
                    "kb_calls": report.counts.kb_calls,
                }
            )
    return rows


def part_rss(n: int) -> dict[str, Any]:
    log(f"rss: a sync of {n:,} findings in a child process")
    with simulator(n, webapps_for(n), page_delay=5) as sim:
        peak, figures = peak_rss_mb([str(Path(__file__).resolve()), "--child", sim.url])
    return {"findings": n, "tree_peak_mb": peak, "listed": figures["listed"]}


def child(url: str) -> None:
    """In a fresh process: one full sync into a temporary SQLite file; print JSON figures."""
    with database("sqlite") as engine:
        report, wall, _ = timed_sync(url, engine, full=True)
    print(
        json.dumps(
            {"vmhwm_kb": vmhwm_kb(), "listed": report.counts.findings_listed, "seconds": wall}
        )
    )


# --- the run ----------------------------------------------------------------------------------
def judge(results: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    """(figure, measured, target, met)."""
    out = []
    for row in results.get("scale", []):
        out.append(
            (
                f"full, 1 stream, {row['findings']:,} / floor",
                f"{row['ratio']:.3f}",
                f"<= {TARGETS['scale']}",
                row["ratio"] <= TARGETS["scale"],
            )
        )
    for row in results.get("concurrency", []):
        out.append(
            (
                f"full, 2 streams ({row['case']}) / serial floor",
                f"{row['ratio']:.3f}",
                f"<= {TARGETS['concurrency']}",
                row["ratio"] <= TARGETS["concurrency"],
            )
        )
    inc = results.get("incremental")
    if inc:
        for what in ("time", "bytes"):
            ratio = inc[f"{what}_ratio"]
            out.append(
                (
                    f"incremental / full, {what} ({inc['changed']:,} changed)",
                    f"{ratio:.3f}",
                    f"<= {TARGETS['incremental']}",
                    ratio <= TARGETS["incremental"],
                )
            )
        out.append(
            (
                "incremental store == full store",
                str(inc["stores_equal"]),
                "True",
                bool(inc["stores_equal"]),
            )
        )
    for row in results.get("resync", []):
        ok = row["rows_written"] == 0 and row["kb_calls"] == 0
        out.append(
            (
                f"re-sync, no change ({row['case']}, {row['mode']}): rows, KB calls",
                f"{row['rows_written']}, {row['kb_calls']}",
                "0, 0",
                ok,
            )
        )
    rss = results.get("rss")
    if rss:
        out.append(
            (
                f"peak RSS, process tree, {rss['findings']:,} findings",
                f"{rss['tree_peak_mb']:.1f} MB",
                f"<= {TARGETS['rss_mb']} MB",
                rss["tree_peak_mb"] <= TARGETS["rss_mb"],
            )
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parts", default="scale,concurrency,incremental,resync,rss")
    parser.add_argument("--scales", default="2000,20000,50000,250000")
    parser.add_argument("--findings", type=int, default=50_000, help="size of the other parts")
    parser.add_argument("--rss-findings", type=int, default=250_000)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--quick", action="store_true", help="small sizes")
    parser.add_argument("--child", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child)
        return 0
    if args.quick:
        args.scales, args.findings, args.rss_findings = "2000,5000", 5000, 20_000
    parts = set(args.parts.split(","))
    scales = [int(s) for s in args.scales.split(",")]
    results: dict[str, Any] = {"database": args.database, "started": datetime.now(UTC).isoformat()}
    if "scale" in parts:
        results["scale"] = part_scale(scales, args.database)
    if "concurrency" in parts:
        results["concurrency"] = part_concurrency(args.findings, args.database)
    if "incremental" in parts:
        results["incremental"] = part_incremental(args.findings)
    if "resync" in parts:
        results["resync"] = part_resync(min(args.findings, 20_000), args.database)
    if "rss" in parts:
        results["rss"] = part_rss(args.rss_findings)
    verdicts = judge(results)
    results["verdicts"] = [
        dict(zip(("figure", "measured", "target", "met"), v, strict=True)) for v in verdicts
    ]
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    width = max(len(v[0]) for v in verdicts) if verdicts else 10
    print(f"{'figure':<{width}}  {'measured':>12}  {'target':>10}  met")
    for figure, measured, target, met in verdicts:
        print(f"{figure:<{width}}  {measured:>12}  {target:>10}  {'yes' if met else 'NO'}")
    print(f"figures written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
