"""Read queries for the console's other lists, keyset-paged: assets (by name), weaknesses (by QID),
runs (newest first); per-page finding counts; and Active findings by severity after each recent run
(the overview's chart)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from connector.models import FindingStatus
from connector.store.failures import reading
from connector.store.schema import FINDING_ASSET, assets, finding_events, findings, sync_runs
from connector.store.schema import weaknesses as weakness_table
from connector.store.search import escape_like
from connector.store.upsert import chunks

_ACTIVE = FindingStatus.ACTIVE.value


def _like(text: str) -> str:
    return f"%{escape_like(text.strip())}%"


def asset_page(
    conn: Connection,
    connector: str,
    *,
    state: str | None,
    text: str | None,
    after: tuple[str, str] | None,
    limit: int,
) -> tuple[list[dict[str, Any]], bool]:
    """Assets by (name, key) after `after`; `state` None for every state. Returns rows, more."""
    name = sa.func.coalesce(assets.c.name, "")
    query = sa.select(assets, name.label("sort_name")).where(assets.c.connector == connector)
    if state:
        query = query.where(assets.c.state == state)
    if text:
        pattern = _like(text)
        query = query.where(
            sa.or_(
                assets.c.name.ilike(pattern, escape="\\"), assets.c.url.ilike(pattern, escape="\\")
            )
        )
    if after is not None:
        query = query.where(sa.tuple_(name, assets.c.key) > sa.tuple_(*after))
    query = query.order_by(name, assets.c.key).limit(limit + 1)
    with reading("reading a page of assets"):
        rows = [dict(r) for r in conn.execute(query).mappings()]
    return rows[:limit], len(rows) > limit


def active_counts_by_asset(
    conn: Connection, connector: str, keys: Collection[str]
) -> dict[str, dict[str, int]]:
    """asset key -> severity -> Active findings, for these assets only."""
    out: dict[str, dict[str, int]] = {}
    with reading("counting findings per asset"):
        for chunk in chunks(sorted(keys)):
            query = (
                sa.select(findings.c.asset_key, findings.c.severity, sa.func.count())
                .where(
                    findings.c.connector == connector,
                    findings.c.status == _ACTIVE,
                    findings.c.asset_key.in_(chunk),
                )
                .group_by(findings.c.asset_key, findings.c.severity)
            )
            rows: list[Any] = list(conn.execute(query))
            for key, severity, n in rows:
                out.setdefault(key, {})[severity] = int(n)
    return out


def weakness_page(
    conn: Connection,
    connector: str,
    *,
    text: str | None,
    after: int | None,
    limit: int,
) -> tuple[list[dict[str, Any]], bool]:
    """Known KB entries by QID after `after`. Returns rows, more."""
    w = weakness_table
    query = sa.select(
        w.c.qid, w.c.title, w.c.category, w.c.severity_level, w.c.cvss_v3_base, w.c.cves
    ).where(w.c.connector == connector, w.c.known.is_(True))
    if text:
        pattern = _like(text)
        query = query.where(
            sa.or_(w.c.title.ilike(pattern, escape="\\"), w.c.category.ilike(pattern, escape="\\"))
        )
    if after is not None:
        query = query.where(w.c.qid > after)
    query = query.order_by(w.c.qid).limit(limit + 1)
    with reading("reading a page of weaknesses"):
        rows = [dict(r) for r in conn.execute(query).mappings()]
    return rows[:limit], len(rows) > limit


def open_counts_by_qid(
    conn: Connection, connector: str, qids: Collection[int]
) -> dict[int, tuple[int, int]]:
    """QID -> (Active findings, affected assets) on assets that are not archived."""
    out: dict[int, tuple[int, int]] = {}
    with reading("counting findings per QID"):
        for chunk in chunks(sorted(qids)):
            query = (
                sa.select(
                    findings.c.qid,
                    sa.func.count(),
                    sa.func.count(sa.distinct(findings.c.asset_key)),
                )
                .select_from(findings.join(assets, FINDING_ASSET))
                .where(
                    findings.c.connector == connector,
                    findings.c.status == _ACTIVE,
                    assets.c.state == "active",
                    findings.c.qid.in_(chunk),
                )
                .group_by(findings.c.qid)
            )
            found: list[Any] = list(conn.execute(query))
            for qid, n, affected in found:
                out[int(qid)] = (int(n), int(affected))
    return out


def run_page(
    conn: Connection,
    connector: str,
    *,
    kind: str | None,
    before_id: int | None,
    limit: int,
) -> tuple[list[dict[str, Any]], bool]:
    """Runs newest first (by id) before `before_id`. Returns rows, more."""
    query = sa.select(sync_runs).where(sync_runs.c.connector == connector)
    if kind:
        query = query.where(sync_runs.c.kind == kind)
    if before_id is not None:
        query = query.where(sync_runs.c.id < before_id)
    query = query.order_by(sync_runs.c.id.desc()).limit(limit + 1)
    with reading("reading a page of runs"):
        rows = [dict(r) for r in conn.execute(query).mappings()]
    return rows[:limit], len(rows) > limit


@dataclass(frozen=True)
class RunPoint:
    """Active findings by severity right after one run."""

    run: dict[str, Any]
    active: dict[str, int]


def active_after_runs(
    conn: Connection, connector: str, *, runs: int, now_active: dict[str, int]
) -> list[RunPoint]:
    """Active findings (all assets, by each finding's current severity) after each of the last
    `runs` runs, oldest first: today's counts minus the status changes of the runs since.

    `now_active` is severity -> Active findings now."""
    with reading("reading recent runs"):
        recent = [
            dict(r)
            for r in conn.execute(
                sa.select(sync_runs)
                .where(sync_runs.c.connector == connector)
                .order_by(sync_runs.c.id.desc())
                .limit(runs)
            ).mappings()
        ]
    if not recent:
        return []
    oldest = recent[-1]["id"]
    e = finding_events
    query = (
        sa.select(e.c.run_id, findings.c.severity, e.c.from_status, e.c.to_status, sa.func.count())
        .select_from(
            e.join(
                findings,
                sa.and_(findings.c.connector == e.c.connector, findings.c.key == e.c.finding_key),
            )
        )
        .where(e.c.connector == connector, e.c.run_id >= oldest)
        .group_by(e.c.run_id, findings.c.severity, e.c.from_status, e.c.to_status)
    )
    deltas: dict[int, dict[str, int]] = {}
    with reading("reading the status changes of recent runs"):
        changes: list[Any] = list(conn.execute(query))
        for run_id, severity, before, after, n in changes:
            change = int(after == _ACTIVE) - int(before == _ACTIVE)
            if change:
                per = deltas.setdefault(int(run_id), {})
                per[severity] = per.get(severity, 0) + change * int(n)
    points: list[RunPoint] = []
    active = dict(now_active)
    for run in recent:  # newest first: undo each run's changes to get the state before it
        points.append(RunPoint(run, dict(active)))
        for severity, change in deltas.get(run["id"], {}).items():
            active[severity] = active.get(severity, 0) - change
    points.reverse()
    return points
