"""The weaknesses table: Knowledge Base entries per QID, and the QIDs the KB does not know."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from connector.models import Weakness
from connector.store.failures import reading, writing
from connector.store.rows import check_connector, check_lengths, length_limits, row_values
from connector.store.schema import weaknesses
from connector.store.upsert import chunks, upsert

_WEAKNESS_LIMITS = length_limits(weaknesses)


def load_weakness_cvss(conn: Connection, connector: str) -> dict[int, float | None]:
    """qid -> the KB's CVSS v3 base score, for every stored weakness (known or not)."""
    query = sa.select(weaknesses.c.qid, weaknesses.c.cvss_v3_base).where(
        weaknesses.c.connector == connector
    )
    with reading("loading weakness scores"):
        return dict(conn.execute(query).all())


def upsert_weaknesses(
    conn: Connection,
    connector: str,
    weaknesses_: Sequence[Weakness],
    unknown_qids: Collection[int],
    *,
    now: datetime,
) -> int:
    """Write KB entries in full; record `unknown_qids` the KB did not return as known=False rows.

    An unknown QID never overwrites a stored known entry (a KB miss is not a reason to forget it).
    Returns the number of rows written.
    """
    check_connector(connector)
    rows: list[dict[str, Any]] = []
    for w in {w.qid: w for w in weaknesses_}.values():
        row = {"connector": connector, "known": True, **row_values(w), "fetched_at": now}
        check_lengths(f"weakness QID {w.qid}", row, _WEAKNESS_LIMITS)
        rows.append(row)
    known = {row["qid"] for row in rows}
    unknown = sorted(set(unknown_qids) - known)
    if unknown:
        with reading("reading stored weaknesses"):
            stored: set[int] = set()
            for chunk in chunks(unknown):
                query = sa.select(weaknesses.c.qid).where(
                    weaknesses.c.connector == connector, weaknesses.c.qid.in_(chunk)
                )
                stored.update(conn.execute(query).scalars())
        unknown = [qid for qid in unknown if qid not in stored]
    blanks = [
        {"connector": connector, "qid": qid, "known": False, "cves": [], "fetched_at": now}
        for qid in unknown
    ]
    first = rows[0]["qid"] if rows else (unknown[0] if unknown else "-")
    with writing(f"writing {len(rows) + len(blanks)} weaknesses (first: QID {first})"):
        update = [c.name for c in weaknesses.columns if c.name not in ("connector", "qid")]
        upsert(
            conn,
            weaknesses,
            rows,
            conflict=("connector", "qid"),
            update=update,
            describe=lambda row: f"weakness QID {row['qid']}",
        )
        upsert(conn, weaknesses, blanks, conflict=("connector", "qid"), update=())
    return len(rows) + len(blanks)
