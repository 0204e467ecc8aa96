"""/: the last sync and its outcome, the next scheduled sync, Active findings by severity, assets
by state, and Active findings by severity across the last runs (an SVG chart)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connector.models import RunKind
from connector.store import assets as store_assets
from connector.store import finding_reads, listings
from connector.store import runs as store_runs
from connector.web.charts import line_chart
from connector.web.pages.common import console_of, reading
from connector.web.templates import SEVERITIES, render

CHART_RUNS = 12


def overview(request: Request) -> Response:
    console = console_of(request)
    name = console.connector
    with reading(request) as conn:
        last_sync = store_runs.last_run(conn, name, RunKind.SYNC)
        last_run = store_runs.last_run(conn, name)
        counts = finding_reads.count_findings(conn, name)
        asset_counts = store_assets.count_assets(conn, name)
        chart = _chart(conn, console.chart_cache, name, last_run)
    active = {s: counts.get(("Active", s), 0) for s in SEVERITIES}
    fixed = sum(n for (status, _), n in counts.items() if status == "Fixed")
    return render(
        request,
        "overview.html",
        last_sync=last_sync,
        next_sync=console.next_sync(),
        scheduler_here=console.scheduler_here,
        schedule=console.config.schedule,
        active=active,
        active_total=sum(active.values()),
        fixed=fixed,
        assets=asset_counts,
        chart=chart,
    )


def _chart(conn: Any, cache: dict[tuple[Any, ...], Any], name: str, last_run: Any) -> Any:
    """The chart, recomputed only when a run started or finished since the last time."""
    if last_run is None:
        return None
    key = (name, last_run.id, last_run.outcome, last_run.finished_at)
    if key in cache:
        return cache[key]
    every = finding_reads.count_findings(conn, name, include_archived=True)
    now_active = {s: every.get(("Active", s), 0) for s in SEVERITIES}
    points = listings.active_after_runs(conn, name, runs=CHART_RUNS, now_active=now_active)
    labels = [f"{p.run['kind']} #{p.run['id']}" for p in points]
    series: dict[str, Sequence[int]] = {s: [p.active.get(s, 0) for p in points] for s in SEVERITIES}
    chart = line_chart(labels, series, SEVERITIES)
    cache.clear()
    cache[key] = chart
    return chart


ROUTES = [Route("/", overview, methods=["GET"])]
