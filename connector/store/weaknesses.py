"""The weaknesses table: Knowledge Base entries per QID, the QIDs the KB does not know, and the
entries of imported reports' glossaries (a glossary is the KB as of the report's date)."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from connector.models import SOURCE_IMPORT, SOURCE_KB, Weakness
from connector.store.failures import reading, writing
from connector.store.rows import check_connector, check_lengths, length_limits, row_values
from connector.store.schema import weaknesses
from connector.store.upsert import chunks, upsert

_WEAKNESS_LIMITS = length_limits(weaknesses)


_UPDATED = tuple(c.name for c in weaknesses.columns if c.name not in ("connector", "qid"))


def _upsert_entries(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Write whole entries: a QID already stored is replaced in every column."""
    upsert(
        conn,
        weaknesses,
        rows,
        conflict=("connector", "qid"),
        update=_UPDATED,
        describe=lambda row: f"weakness QID {row['qid']}",
    )


def load_weakness_cvss(conn: Connection, connector: str) -> dict[int, float | None]:
    """qid -> the KB's CVSS v3 base score, for every weakness the KB was asked about (known or
    not). Entries only a report's glossary gave are left out, so the sync still asks the KB."""
    query = sa.select(weaknesses.c.qid, weaknesses.c.cvss_v3_base).where(
        weaknesses.c.connector == connector, weaknesses.c.source == SOURCE_KB
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
        values = row_values(w)
        values.update(source=SOURCE_KB, as_of=now)
        row = {"connector": connector, "known": True, **values, "fetched_at": now}
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
        {
            "connector": connector,
            "qid": qid,
            "known": False,
            "cves": [],
            "fetched_at": now,
            "source": SOURCE_KB,
            "as_of": now,
        }
        for qid in unknown
    ]
    first = rows[0]["qid"] if rows else (unknown[0] if unknown else "-")
    with writing(f"writing {len(rows) + len(blanks)} weaknesses (first: QID {first})"):
        _upsert_entries(conn, rows)
        upsert(conn, weaknesses, blanks, conflict=("connector", "qid"), update=())
    return len(rows) + len(blanks)


def _empty(value: Any) -> bool:
    return value is None or value in ((), "")


def upsert_glossary(
    conn: Connection,
    connector: str,
    entries: Sequence[Weakness],
    *,
    now: datetime,
) -> list[int]:
    """Store a report's glossary entries (each with `as_of`, the report's date) as weaknesses.

    A stored entry at least as new (the KB fetched since the report, or a newer report's
    glossary) is kept; an older report only fills its empty fields. An entry that changes
    nothing is not written. Returns the QIDs written."""
    check_connector(connector)
    batch = {w.qid: w for w in entries}
    if not batch:
        return []
    fields = [f.name for f in dataclasses.fields(Weakness)]
    stored: dict[int, dict[str, Any]] = {}
    with reading(f"reading {len(batch)} stored weaknesses"):
        for chunk in chunks(sorted(batch)):
            query = sa.select(weaknesses).where(
                weaknesses.c.connector == connector, weaknesses.c.qid.in_(chunk)
            )
            for row in conn.execute(query).mappings():
                stored[row["qid"]] = dict(row)
    rows: list[dict[str, Any]] = []
    for qid, entry in batch.items():
        new = row_values(dataclasses.replace(entry, source=SOURCE_IMPORT))
        old = stored.get(qid)
        if old is not None and old["known"]:
            old_date = old["as_of"] or old["fetched_at"]
            newer = entry.as_of is not None and (old_date is None or entry.as_of > old_date)
            merged = {
                name: (
                    new[name]
                    if (newer and not _empty(new[name])) or _empty(_stored_value(old, name))
                    else _stored_value(old, name)
                )
                for name in fields
            }
            merged["source"] = SOURCE_IMPORT if newer else old["source"]
            merged["as_of"] = entry.as_of if newer else old["as_of"]
            if all(merged[name] == _stored_value(old, name) for name in fields):
                continue
            values: dict[str, Any] = merged
        else:
            values = dict(new)
        record = {"connector": connector, "known": True, **values, "fetched_at": now}
        check_lengths(f"weakness QID {qid}", record, _WEAKNESS_LIMITS)
        rows.append(record)
    if not rows:
        return []
    with writing(f"writing {len(rows)} glossary weaknesses (first: QID {rows[0]['qid']})"):
        _upsert_entries(conn, rows)
    return [row["qid"] for row in rows]


def _stored_value(row: dict[str, Any], name: str) -> Any:
    value = row[name]
    return tuple(value) if isinstance(value, list) else value
