"""/findings (filtered, sorted, keyset-paged), its CSV and JSONL downloads, /findings/{id}."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from connector import exports
from connector.store import console as store_console
from connector.store import details
from connector.store.queries import iter_findings
from connector.store.schema import findings as findings_table
from connector.web.pages.common import console_of, multi, not_found, reading
from connector.web.params import SOURCES, TYPES, FindingQuery, encode_cursor, parse_finding_query
from connector.web.templates import render

PAGE_SIZE = 50
COUNT_CAP = 10_000  # exact up to here; beyond it the page says "more than 10,000"
HIDDEN_FIELDS = ("connector", "content_hash")  # not a finding's own data
MEDIA = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}


def _query(request: Request) -> FindingQuery:
    """The parsed parameters with the scan resolved to its run (400 for bad parameters)."""
    parsed = parse_finding_query(multi(request))
    if parsed.problems:
        raise HTTPException(400, "; ".join(parsed.problems))
    if parsed.scan is None:
        return parsed
    with reading(request) as conn:
        scan = details.imported_scan(conn, console_of(request).connector, parsed.scan)
    if scan is None:
        raise HTTPException(400, f"scan {parsed.scan} is not an imported scan of this connector")
    where = dataclasses.replace(parsed.where, run_id=scan["run_id"])
    return dataclasses.replace(parsed, where=where)


def findings_page(request: Request) -> Response:
    console = console_of(request)
    parsed = _query(request)
    with reading(request) as conn:
        matching = store_console.count_and_few(conn, console.connector, parsed.where, cap=COUNT_CAP)
        page = store_console.finding_page(
            conn,
            console.connector,
            parsed.where,
            parsed.sort,
            cursor=parsed.cursor,
            backward=parsed.backward,
            limit=PAGE_SIZE,
            among=matching.few,
        )
    total = matching.total
    has_next = page.more if not parsed.backward else parsed.cursor is not None
    has_prev = parsed.cursor is not None if not parsed.backward else page.more
    next_token = encode_cursor(page.cursors[-1]) if has_next and page.rows else None
    prev_token = encode_cursor(page.cursors[0]) if has_prev and page.rows else None
    return render(
        request,
        "findings.html",
        rows=page.rows,
        total=total,
        capped=total > COUNT_CAP,
        count_cap=COUNT_CAP,
        params=parsed.params,
        sorts=store_console.SORTS,
        sort=parsed.sort,
        next_token=next_token,
        prev_token=prev_token,
        first_page=parsed.cursor is None,
        statuses=("Active", "Fixed"),
        types=TYPES,
        sources=SOURCES,
    )


def download(request: Request) -> Response:
    fmt = request.path_params["fmt"]
    if fmt not in MEDIA:
        raise HTTPException(404, f"findings.{fmt} is not a download (findings.csv or .jsonl)")
    console = console_of(request)
    where = _query(request).where

    def lines() -> Iterator[str]:
        with console.engine.connect() as conn:
            yield from exports.iter_lines(
                "findings", iter_findings(conn, console.connector, where), fmt
            )

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(
        lines(),
        media_type=MEDIA[fmt],
        headers={"content-disposition": f'attachment; filename="findings-{stamp}.{fmt}"'},
    )


def finding_detail(request: Request) -> Response:
    console = console_of(request)
    key = request.path_params["key"]
    with reading(request) as conn:
        row = details.finding(conn, console.connector, key)
        if row is None:
            raise not_found(f"finding {key!r}")
        qid = row["qid"]
        weakness = details.weakness(conn, console.connector, qid) if qid is not None else None
        history = details.finding_history(conn, console.connector, key)
    fields = [(c.name, row[c.name]) for c in findings_table.columns if c.name not in HIDDEN_FIELDS]
    return render(
        request, "finding.html", finding=row, fields=fields, weakness=weakness, history=history
    )


ROUTES = [
    Route("/findings", findings_page, methods=["GET"]),
    Route("/findings.{fmt:str}", download, methods=["GET"]),
    Route("/findings/{key:path}", finding_detail, methods=["GET"]),
]
