"""Builders for store tests: records with sensible defaults, and a recorder of executed SQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from connector.models import (
    Asset,
    Finding,
    FindingStatus,
    RunKind,
    Severity,
    SeveritySource,
)
from connector.store import assets as store_assets
from connector.store import findings as store_findings
from connector.store import runs as store_runs

CONNECTOR = "qualys-was"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=1)


def asset(key: str, **overrides: Any) -> Asset:
    values: dict[str, Any] = {
        "key": key,
        "name": f"App {key}",
        "url": f"https://app{key}.example.com/",
        "first_observed": NOW - timedelta(days=100),
        "last_observed": NOW - timedelta(days=1),
        "tags": ("prod", "web"),
        "attributes": {"owner": "team-a"},
    }
    values.update(overrides)
    return Asset(**values)


def finding(key: str, asset_key: str = "1", **overrides: Any) -> Finding:
    values: dict[str, Any] = {
        "key": key,
        "asset_key": asset_key,
        "name": f"Finding {key}",
        "status": FindingStatus.ACTIVE,
        "severity": Severity.HIGH,
        "severity_source": SeveritySource.CVSS_V3,
        "unique_id": f"00000000-0000-0000-0000-{int(key):012d}" if key.isdigit() else None,
        "qid": 150000 + (int(key) % 50 if key.isdigit() else 0),
        "type": "VULNERABILITY",
        "url": f"https://app{asset_key}.example.com/page?id={key}",
        "param": "id",
        "qualys_severity": 4,
        "cvss_v3_base": 7.5,
        "cvss_v3_temporal": 7.1,
        "attack_vector": "Network",
        "cwes": (79,),
        "owasp": ("A03",),
        "wasc": ("WASC-8",),
        "qualys_status": "ACTIVE",
        "first_seen": NOW - timedelta(days=30),
        "last_seen": NOW - timedelta(days=1),
    }
    values.update(overrides)
    return Finding(**values)


def start_run(engine: Engine, kind: RunKind = RunKind.SYNC, now: datetime = NOW) -> int:
    with engine.begin() as conn:
        return store_runs.start_run(conn, CONNECTOR, kind, now=now, host="test-host", pid=4242)


def seed(engine: Engine, assets: list[Asset], findings: list[Finding], run_id: int) -> None:
    """Store assets and findings in one transaction."""
    with engine.begin() as conn:
        store_assets.upsert_assets(conn, CONNECTOR, assets, now=NOW)
        store_findings.upsert_findings(
            conn, CONNECTOR, findings, run_id=run_id, now=NOW, reason="seed"
        )


def rows(engine: Engine, table: sa.Table) -> list[dict[str, Any]]:
    """Every row of a table, ordered by primary key, as plain dicts."""
    with engine.connect() as conn:
        query = sa.select(table).order_by(*table.primary_key.columns)
        return [dict(row) for row in conn.execute(query).mappings()]


@contextmanager
def recorded_sql(engine: Engine) -> Iterator[list[str]]:
    """Collect the SQL text of every statement the engine executes inside the block."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        statements.append(" ".join(statement.split()).upper())

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def writes(statements: list[str]) -> list[str]:
    """The statements that write (INSERT, UPDATE, DELETE)."""
    return [s for s in statements if s.startswith(("INSERT", "UPDATE", "DELETE"))]
