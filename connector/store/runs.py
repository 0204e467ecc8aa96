"""The sync_runs table: every sync and import, from start to outcome, and the connector's state
values (connector_state: e.g. when the KB was last refreshed)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from connector.errors import StoreError, StoreWriteError
from connector.models import RunKind, RunOutcome
from connector.store.failures import reading, writing
from connector.store.rows import check_connector, check_lengths, length_limits
from connector.store.schema import connector_state, sync_runs
from connector.store.upsert import upsert


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One sync_runs row."""

    id: int
    connector: str
    kind: RunKind
    mode: str | None
    started_at: datetime
    finished_at: datetime | None
    outcome: RunOutcome
    counts: dict[str, Any]
    api_calls: int
    retries: int
    error: str | None
    host: str | None
    pid: int | None


def start_run(
    conn: Connection,
    connector: str,
    kind: RunKind,
    *,
    now: datetime,
    host: str,
    pid: int,
    mode: str | None = None,
) -> int:
    """Record a run as running; returns its id (for findings events and finish_run)."""
    check_connector(connector)
    stmt = sa.insert(sync_runs).values(
        connector=connector,
        kind=str(kind),
        mode=mode,
        started_at=now,
        outcome=RunOutcome.RUNNING.value,
        counts={},
        api_calls=0,
        retries=0,
        host=host[:255],
        pid=pid,
    )
    with writing(f"starting a {kind} run"):
        return int(conn.execute(stmt.returning(sync_runs.c.id)).scalar_one())


def finish_run(
    conn: Connection,
    run_id: int,
    *,
    outcome: RunOutcome,
    now: datetime,
    counts: Mapping[str, Any],
    api_calls: int,
    retries: int,
    error: str | None,
) -> None:
    """Record how a run ended."""
    stmt = (
        sa.update(sync_runs)
        .where(sync_runs.c.id == run_id)
        .values(
            outcome=str(outcome),
            finished_at=now,
            counts=dict(counts),
            api_calls=api_calls,
            retries=retries,
            error=error,
        )
    )
    with writing(f"finishing run {run_id}"):
        if conn.execute(stmt).rowcount != 1:
            raise StoreWriteError(f"finishing run {run_id}: no such run")


def abandon_stale_runs(conn: Connection, connector: str, *, now: datetime) -> int:
    """Runs still "running" become "abandoned" (their process died). Call holding the sync lock."""
    stmt = (
        sa.update(sync_runs)
        .where(
            sync_runs.c.connector == connector,
            sync_runs.c.outcome == RunOutcome.RUNNING.value,
        )
        .values(
            outcome=RunOutcome.ABANDONED.value,
            finished_at=now,
            error=sa.func.coalesce(sync_runs.c.error, "the process ended before the run finished"),
        )
    )
    with writing("abandoning stale runs"):
        return int(conn.execute(stmt).rowcount)


def _run_from_row(row: sa.RowMapping) -> RunRecord:
    return RunRecord(
        id=row["id"],
        connector=row["connector"],
        kind=RunKind(row["kind"]),
        mode=row["mode"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        outcome=RunOutcome(row["outcome"]),
        counts=dict(row["counts"]),
        api_calls=row["api_calls"],
        retries=row["retries"],
        error=row["error"],
        host=row["host"],
        pid=row["pid"],
    )


def last_run(conn: Connection, connector: str, kind: RunKind | None = None) -> RunRecord | None:
    """The most recently started run (of `kind` when given), or None."""
    query = sa.select(sync_runs).where(sync_runs.c.connector == connector)
    if kind is not None:
        query = query.where(sync_runs.c.kind == str(kind))
    query = query.order_by(sync_runs.c.started_at.desc(), sync_runs.c.id.desc()).limit(1)
    with reading("reading the last run"):
        row = conn.execute(query).mappings().first()
    return None if row is None else _run_from_row(row)


def recent_runs(
    conn: Connection,
    connector: str,
    *,
    limit: int,
    kind: RunKind | None = None,
    outcome: RunOutcome | None = None,
) -> list[RunRecord]:
    """The most recently started runs, newest first (of `kind` and `outcome` when given)."""
    query = sa.select(sync_runs).where(sync_runs.c.connector == connector)
    if kind is not None:
        query = query.where(sync_runs.c.kind == str(kind))
    if outcome is not None:
        query = query.where(sync_runs.c.outcome == str(outcome))
    query = query.order_by(sync_runs.c.started_at.desc(), sync_runs.c.id.desc()).limit(limit)
    with reading("reading the runs"):
        return [_run_from_row(row) for row in conn.execute(query).mappings()]


def last_success_at(
    conn: Connection, connector: str, kind: RunKind = RunKind.SYNC, *, mode: str | None = None
) -> datetime | None:
    """When the last succeeded run of `kind` (and `mode`, when given) finished, or None."""
    query = sa.select(sa.func.max(sync_runs.c.finished_at)).where(
        sync_runs.c.connector == connector,
        sync_runs.c.kind == str(kind),
        sync_runs.c.outcome == RunOutcome.SUCCEEDED.value,
    )
    if mode is not None:
        query = query.where(sync_runs.c.mode == mode)
    with reading("reading the last successful run"):
        value = conn.execute(query).scalar_one_or_none()
    return _as_utc(value)


def _as_utc(value: Any) -> datetime | None:
    """Aggregates lose the column type on SQLite (a string comes back): restore a UTC datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise StoreError(f"unexpected timestamp {value!r} in the database")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def get_state(conn: Connection, connector: str, name: str) -> str | None:
    """A stored connector state value (e.g. "kb_refreshed_at"), or None."""
    query = sa.select(connector_state.c.value).where(
        connector_state.c.connector == connector, connector_state.c.name == name
    )
    with reading(f"reading state {name}"):
        return conn.execute(query).scalar_one_or_none()


def set_state(conn: Connection, connector: str, name: str, value: str, *, now: datetime) -> None:
    """Store a connector state value, replacing any previous one."""
    row = {"connector": connector, "name": name, "value": value, "updated_at": now}
    check_connector(connector)
    check_lengths(f"state {name}", row, length_limits(connector_state))
    with writing(f"writing state {name}"):
        upsert(
            conn,
            connector_state,
            [row],
            conflict=("connector", "name"),
            update=("value", "updated_at"),
        )
