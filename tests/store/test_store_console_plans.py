"""The console's SQLite plans keep the rows of the plain query: pages read through the rowids of
a filter's few findings equal the pages read along the sort's index, in every order and both
directions, and the count agrees with them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from storefactories import CONNECTOR, NOW, asset, finding, seed, start_run

from connector.models import FindingStatus, Severity
from connector.store.console import (
    SORTS,
    Cursor,
    count_and_few,
    count_matching,
    finding_page,
)
from connector.store.queries import ExportFilter

SEVERITIES = list(Severity)
FILTERS = [
    ExportFilter(),
    ExportFilter(text="Finding 1"),
    ExportFilter(text="ab"),
    ExportFilter(text="%"),
    ExportFilter(since=NOW - timedelta(days=20)),
    ExportFilter(statuses=("Fixed",), severities=("High", "Critical")),
    ExportFilter(sources=("api",), types=("SENSITIVE_CONTENT",), text="page?id"),
    ExportFilter(sources=("import",)),
    ExportFilter(asset="2", include_archived=True),
]


@pytest.fixture
def store(engine: Engine) -> Engine:
    run = start_run(engine)
    stored = [
        finding(
            str(i),
            asset_key=str(1 + i % 2),
            name=f"Finding {i}" + (" ab" if i % 5 == 0 else ""),
            severity=SEVERITIES[i % len(SEVERITIES)],
            status=FindingStatus.FIXED if i % 3 == 0 else FindingStatus.ACTIVE,
            type="SENSITIVE_CONTENT" if i % 4 == 0 else "VULNERABILITY",
            qid=None if i % 11 == 0 else 150000 + i % 6,
            last_seen=None if i % 9 == 0 else NOW - timedelta(days=i % 40),
            first_seen=NOW - timedelta(days=50 + i % 7),
        )
        for i in range(1, 80)
    ]
    seed(engine, [asset("1"), asset("2")], stored, run)
    return engine


def _walk(engine: Engine, where: ExportFilter, sort: str, among: list[int] | None) -> list[str]:
    """Every key, page by page forward, then the first page again by walking back."""
    keys: list[str] = []
    pages: list[list[str]] = []
    cursor: Cursor | None = None
    with engine.connect() as conn:
        while True:
            page = finding_page(conn, CONNECTOR, where, sort, cursor=cursor, limit=7, among=among)
            pages.append([r["key"] for r in page.rows])
            keys += pages[-1]
            if not page.more:
                break
            cursor = page.cursors[-1]
        if len(pages) > 1:  # back from the first row of the last page
            first = page.cursors[0]
            back = finding_page(
                conn, CONNECTOR, where, sort, cursor=first, backward=True, limit=7, among=among
            )
            assert [r["key"] for r in back.rows] == pages[-2]
    return keys


@pytest.mark.parametrize("sort", list(SORTS))
@pytest.mark.parametrize("where", FILTERS, ids=[str(i) for i in range(len(FILTERS))])
def test_pages_through_rowids_equal_pages_along_the_index(
    store: Engine, where: ExportFilter, sort: str
) -> None:
    with store.connect() as conn:
        matching = count_and_few(conn, CONNECTOR, where, cap=10_000)
        total = count_matching(conn, CONNECTOR, where)
    plain = _walk(store, where, sort, None)
    assert len(plain) == len(set(plain)) == total == matching.total
    if store.dialect.name != "sqlite":  # PostgreSQL plans with its statistics
        assert matching.few == ([] if total == 0 else None)
        return
    assert matching.few is not None and len(matching.few) == total
    assert _walk(store, where, sort, matching.few) == plain
    if total:
        with store.connect() as conn:
            capped = count_and_few(conn, CONNECTOR, where, cap=total - 1, few=total - 1)
            over = count_and_few(conn, CONNECTOR, where, cap=10_000, few=total - 1)
        # A text filter's matches are kept up to the cap (its pages read them by rowid).
        kept = matching.few if where.text else None
        assert (capped.total, capped.few, over.total, over.few) == (total, None, total, kept)
