"""/assets (by name, keyset-paged, with Active findings by severity) and /assets/{id}."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connector.store import details, listings
from connector.store.console import Cursor
from connector.web.pages.common import console_of, not_found, reading
from connector.web.params import decode_cursor, encode_cursor
from connector.web.templates import SEVERITIES, render

PAGE_SIZE = 50
STATES = ("active", "archived")


def assets_page(request: Request) -> Response:
    console = console_of(request)
    params = request.query_params
    state = params.get("state", "active")
    if state not in (*STATES, "all"):
        raise HTTPException(400, f"state {state!r} is not one of active, archived, all")
    text = (params.get("q") or "").strip()[:200] or None
    after = None
    if params.get("after"):
        problems: list[str] = []
        cursor = decode_cursor(params["after"], problems)
        if cursor is None or not isinstance(cursor.value, str):
            raise HTTPException(400, "the page link is damaged: start again from the first page")
        after = (cursor.value, cursor.key)
    with reading(request) as conn:
        rows, more = listings.asset_page(
            conn,
            console.connector,
            state=None if state == "all" else state,
            text=text,
            after=after,
            limit=PAGE_SIZE,
        )
        counts = listings.active_counts_by_asset(conn, console.connector, [r["key"] for r in rows])
    next_token = (
        encode_cursor(Cursor(0, rows[-1]["key"], rows[-1]["sort_name"])) if more and rows else None
    )
    return render(
        request,
        "assets.html",
        rows=rows,
        counts=counts,
        state=state,
        q=text or "",
        next_token=next_token,
        first_page=after is None,
        states=(*STATES, "all"),
    )


def asset_detail(request: Request) -> Response:
    console = console_of(request)
    key = request.path_params["key"]
    with reading(request) as conn:
        row = details.asset(conn, console.connector, key)
        if row is None:
            raise not_found(f"asset {key!r}")
        counts = details.asset_finding_counts(conn, console.connector, key)
    by_severity = [
        (s, counts.get(("Active", s), 0), counts.get(("Fixed", s), 0)) for s in SEVERITIES
    ]
    return render(request, "asset.html", asset=row, by_severity=by_severity)


ROUTES = [
    Route("/assets", assets_page, methods=["GET"]),
    Route("/assets/{key:path}", asset_detail, methods=["GET"]),
]
