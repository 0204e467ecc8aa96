"""/runs (syncs and imports, newest first: outcome, counts, duration, error) and /runs/{id}."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connector.models import RunKind
from connector.store import details, listings
from connector.web.pages.common import console_of, int_param, not_found, reading
from connector.web.templates import render

PAGE_SIZE = 50
CHANGES_SHOWN = 100


def runs_page(request: Request) -> Response:
    console = console_of(request)
    params = request.query_params
    kind = params.get("kind") or None
    if kind is not None and kind not in [k.value for k in RunKind]:
        raise HTTPException(400, f"kind {kind!r} is not one of sync, import")
    before_text = params.get("before")
    if before_text is not None and not (before_text.isdigit() and len(before_text) < 12):
        raise HTTPException(400, "the page link is damaged: start again from the first page")
    before = int(before_text) if before_text else None
    with reading(request) as conn:
        rows, more = listings.run_page(
            conn, console.connector, kind=kind, before_id=before, limit=PAGE_SIZE
        )
    return render(
        request,
        "runs.html",
        rows=rows,
        kind=kind or "",
        next_before=rows[-1]["id"] if more and rows else None,
        first_page=before is None,
    )


def run_detail(request: Request) -> Response:
    console = console_of(request)
    run_id = int_param(request.path_params["run_id"], "this run")
    with reading(request) as conn:
        run = details.run(conn, console.connector, run_id)
        if run is None:
            raise not_found(f"run {run_id}")
        totals, changes = details.run_changes(conn, console.connector, run_id, limit=CHANGES_SHOWN)
    counts = run["counts"] or {}
    simple = [(k, v) for k, v in counts.items() if not isinstance(v, dict | list)]
    nested = [(k, v) for k, v in counts.items() if isinstance(v, dict | list)]
    return render(
        request,
        "run.html",
        run=run,
        simple_counts=simple,
        nested_counts=nested,
        totals=sorted(totals.items(), key=lambda kv: (str(kv[0][0]), kv[0][1])),
        changes=changes,
        changes_total=sum(totals.values()),
    )


ROUTES = [
    Route("/runs", runs_page, methods=["GET"]),
    Route("/runs/{run_id}", run_detail, methods=["GET"]),
]
