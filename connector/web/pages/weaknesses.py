"""/weaknesses (KB entries by QID, with open findings and affected assets) and /weaknesses/{qid}."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connector.models import FindingStatus
from connector.store import console as store_console
from connector.store import details, listings
from connector.store.queries import ExportFilter
from connector.web.pages.common import console_of, int_param, not_found, reading
from connector.web.templates import render

PAGE_SIZE = 50
OPEN_SHOWN = 50


def weaknesses_page(request: Request) -> Response:
    console = console_of(request)
    params = request.query_params
    text = (params.get("q") or "").strip()[:200] or None
    after_text = params.get("after")
    if after_text is not None and not (after_text.isdigit() and len(after_text) < 10):
        raise HTTPException(400, "the page link is damaged: start again from the first page")
    after = int(after_text) if after_text else None
    with reading(request) as conn:
        rows, more = listings.weakness_page(
            conn, console.connector, text=text, after=after, limit=PAGE_SIZE
        )
        counts = listings.open_counts_by_qid(conn, console.connector, [r["qid"] for r in rows])
    return render(
        request,
        "weaknesses.html",
        rows=rows,
        counts=counts,
        q=text or "",
        next_after=rows[-1]["qid"] if more and rows else None,
        first_page=after is None,
    )


def weakness_detail(request: Request) -> Response:
    console = console_of(request)
    qid = int_param(request.path_params["qid"], "this QID")
    with reading(request) as conn:
        entry = details.weakness(conn, console.connector, qid)
        affected = details.weakness_assets(conn, console.connector, qid)
        if entry is None and not affected:
            raise not_found(f"QID {qid}")
        where = ExportFilter(statuses=(FindingStatus.ACTIVE.value,), qids=(qid,))
        page = store_console.finding_page(conn, console.connector, where, limit=OPEN_SHOWN)
        open_total = store_console.count_matching(conn, console.connector, where)
    return render(
        request,
        "weakness.html",
        qid=qid,
        entry=entry,
        affected=affected,
        open_rows=page.rows,
        open_total=open_total,
    )


ROUTES = [
    Route("/weaknesses", weaknesses_page, methods=["GET"]),
    Route("/weaknesses/{qid}", weakness_detail, methods=["GET"]),
]
