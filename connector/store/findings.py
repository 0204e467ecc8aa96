"""The findings table and its finding_events: upserts that record every status change, closing
findings that are no longer listed, and the reads the sync and import need.

Functions run inside the caller's transaction and never commit. Rows whose content did not change
are not rewritten: each stored finding carries a digest of the values it was written from.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from connector.errors import StoreWriteError
from connector.models import AssetState, Finding, FindingStatus, Severity, SeveritySource
from connector.store.failures import reading, writing
from connector.store.rows import (
    UpsertResult,
    check_connector,
    check_lengths,
    digest,
    length_limits,
    row_values,
    stored_columns,
)
from connector.store.schema import FINDING_ASSET, assets, finding_events, findings, sync_runs
from connector.store.upsert import analyze_if_stale, chunks, insert_many, upsert

_ACTIVE = FindingStatus.ACTIVE.value
_FIXED = FindingStatus.FIXED.value
_FINDING_LIMITS = length_limits(findings)

_FINDING_UPDATE = tuple(
    c.name for c in findings.columns if c.name not in ("connector", "key", "created_at")
)


def _label(f: Finding) -> str:
    return f"finding {f.key} of asset {f.asset_key}"


def _describe_finding_row(row: Mapping[str, Any]) -> str:
    return f"finding {row['key']} of asset {row['asset_key']}"


def _describe_event_row(row: Mapping[str, Any]) -> str:
    return f"event of finding {row['finding_key']}"


def _check_assets_exist(conn: Connection, connector: str, batch: Mapping[str, Finding]) -> None:
    wanted = sorted({f.asset_key for f in batch.values()})
    with reading(f"reading {len(wanted)} assets of a findings batch"):
        present = stored_columns(conn, assets, connector, wanted)
    missing = set(wanted) - set(present)
    if missing:
        first = next(f for f in batch.values() if f.asset_key in missing)
        raise StoreWriteError(
            f"{_label(first)}: asset {first.asset_key} is not in the store "
            f"({len(missing)} asset(s) of this batch are missing; write assets before findings)"
        )


def _check_run_exists(conn: Connection, run_id: int) -> None:
    with reading(f"reading run {run_id}"):
        found = conn.execute(sa.select(sync_runs.c.id).where(sync_runs.c.id == run_id)).first()
    if found is None:
        raise StoreWriteError(f"run {run_id} does not exist: start_run() before writing findings")


def upsert_findings(
    conn: Connection,
    connector: str,
    findings_: Sequence[Finding],
    *,
    run_id: int,
    now: datetime,
    reason: str,
) -> UpsertResult:
    """Write new and changed findings in one set-based upsert; unchanged ones are not written.

    Creations and status changes each get a finding_events row with `reason`. A finding that
    becomes Fixed gets fixed_at (its own, else `now`) and fixed_reason; one that becomes Active
    again has both cleared.
    """
    result = UpsertResult()
    batch = {f.key: f for f in findings_}  # a key given twice: the later record wins
    if not batch:
        return result
    check_connector(connector)
    keys = list(batch)
    with reading(f"reading {len(keys)} stored findings"):
        stored = stored_columns(
            conn, findings, connector, keys, "content_hash", "status", "fixed_at", "fixed_reason"
        )
    rows: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for key, finding in batch.items():
        values = row_values(finding)
        row_digest = digest(values)
        old = stored.get(key)
        status = values["status"]
        if old is not None and old.content_hash == row_digest and old.status == status:
            result.unchanged += 1
            continue
        check_lengths(_label(finding), values, _FINDING_LIMITS)
        old_status = None if old is None else old.status
        if status == _FIXED:
            if old is not None and old_status == _FIXED:  # still fixed: keep when and why
                values["fixed_at"] = finding.fixed_at or old.fixed_at
                values["fixed_reason"] = old.fixed_reason
            else:
                values["fixed_at"] = finding.fixed_at or now
                values["fixed_reason"] = reason
        else:
            values["fixed_at"] = None
            values["fixed_reason"] = None
        values.update(connector=connector, content_hash=row_digest, created_at=now, updated_at=now)
        rows.append(values)
        (result.updated if old is not None else result.created).append(key)
        if old_status != status:
            result.status_changes.append((key, old_status, status))
            events.append(
                {
                    "connector": connector,
                    "finding_key": key,
                    "from_status": old_status,
                    "to_status": status,
                    "at": now,
                    "run_id": run_id,
                    "reason": reason,
                }
            )
    if not rows:
        return result
    _check_assets_exist(conn, connector, {r["key"]: batch[r["key"]] for r in rows})
    if events:
        _check_run_exists(conn, run_id)
    with writing(f"writing {len(rows)} findings (first: {_label(batch[rows[0]['key']])})"):
        upsert(
            conn,
            findings,
            rows,
            conflict=("connector", "key"),
            update=_FINDING_UPDATE,
            describe=_describe_finding_row,
        )
        insert_many(conn, finding_events, events, describe=_describe_event_row)
        analyze_if_stale(conn, findings, len(result.created))
    return result


def mark_absent_fixed(
    conn: Connection,
    connector: str,
    seen_keys: Collection[str],
    *,
    run_id: int,
    now: datetime,
    reason: str,
    source: str | None = "api",
    asset_keys: Collection[str] | None = None,
    types: Collection[str] | None = None,
) -> list[str]:
    """Every Active finding (of `source`, of `asset_keys` and `types` when given) not in
    `seen_keys` becomes Fixed with an event; their content hash is cleared so a reappearance is
    rewritten. `types` keeps findings of types that were not fetched out of it.
    Returns the keys fixed. Active keys are streamed and diffed in Python, updates are batched."""
    # Sets and set-like collections (the sync's compact key set) are used as they are.
    seen = set(seen_keys) if isinstance(seen_keys, list | tuple) else seen_keys
    base = sa.select(findings.c.key).where(
        findings.c.connector == connector, findings.c.status == _ACTIVE
    )
    if source is not None:
        base = base.where(findings.c.source == source)
    if types is not None:
        base = base.where(findings.c.type.in_(list(types)))
    if asset_keys is None:
        queries = [base]
    else:
        queries = [base.where(findings.c.asset_key.in_(c)) for c in chunks(sorted(asset_keys))]
    absent: list[str] = []
    with reading("reading active findings"):
        for query in queries:
            active: Iterable[str] = conn.execute(
                query, execution_options={"yield_per": 10_000}
            ).scalars()
            absent.extend(key for key in active if key not in seen)
    if not absent:
        return absent
    _check_run_exists(conn, run_id)
    with writing(f"marking {len(absent)} absent findings fixed (first: finding {absent[0]})"):
        for chunk in chunks(absent):
            conn.execute(
                sa.update(findings)
                .where(findings.c.connector == connector, findings.c.key.in_(chunk))
                .values(
                    status=_FIXED,
                    fixed_at=now,
                    fixed_reason=reason,
                    content_hash=None,
                    updated_at=now,
                )
            )
        events = [
            {
                "connector": connector,
                "finding_key": key,
                "from_status": _ACTIVE,
                "to_status": _FIXED,
                "at": now,
                "run_id": run_id,
                "reason": reason,
            }
            for key in absent
        ]
        insert_many(conn, finding_events, events, describe=_describe_event_row)
    return absent


def load_findings(
    conn: Connection,
    connector: str,
    *,
    qids: Collection[int],
    severity_source: str,
    after_key: str | None = None,
    limit: int | None = None,
) -> list[Finding]:
    """The stored findings of these QIDs whose severity came from `severity_source`, by key.

    With `limit`, one page of at most that many findings with keys after `after_key` (keyset
    paging, so a caller can walk a large set in bounded memory); then at most 900 QIDs."""
    wanted = sorted(qids)
    if limit is not None and len(wanted) > 900:
        raise ValueError("load_findings pages at most 900 QIDs at a time")
    out: list[Finding] = []
    with reading("loading findings"):
        for chunk in chunks(wanted):
            query = (
                sa.select(findings)
                .where(
                    findings.c.connector == connector,
                    findings.c.severity_source == severity_source,
                    findings.c.qid.in_(chunk),
                )
                .order_by(findings.c.key)
            )
            if after_key is not None:
                query = query.where(findings.c.key > after_key)
            if limit is not None:
                query = query.limit(limit)
            out.extend(_finding_from_row(row) for row in conn.execute(query).mappings())
    return out


def keys_from_source(
    conn: Connection, connector: str, keys: Collection[str], *, source: str
) -> set[str]:
    """Which of these finding keys are stored with this source."""
    found: set[str] = set()
    with reading("reading finding sources"):
        for chunk in chunks(sorted(keys)):
            query = sa.select(findings.c.key).where(
                findings.c.connector == connector,
                findings.c.source == source,
                findings.c.key.in_(chunk),
            )
            found.update(conn.execute(query).scalars())
    return found


def _finding_from_row(row: sa.RowMapping) -> Finding:
    return Finding(
        key=row["key"],
        asset_key=row["asset_key"],
        name=row["name"],
        status=FindingStatus(row["status"]),
        severity=Severity(row["severity"]),
        severity_source=SeveritySource(row["severity_source"]),
        unique_id=row["unique_id"],
        qid=row["qid"],
        type=row["type"],
        url=row["url"],
        param=row["param"],
        qualys_severity=row["qualys_severity"],
        cvss_v3_base=row["cvss_v3_base"],
        cvss_v3_temporal=row["cvss_v3_temporal"],
        attack_vector=row["attack_vector"],
        cwes=tuple(row["cwes"]),
        owasp=tuple(row["owasp"]),
        wasc=tuple(row["wasc"]),
        qualys_status=row["qualys_status"],
        ignored_reason=row["ignored_reason"],
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        fixed_at=row["fixed_at"],
        ports=tuple(row["ports"]),
        evidence=row["evidence"],
        source=row["source"],
    )


def count_findings(
    conn: Connection, connector: str, *, include_archived: bool = False
) -> dict[tuple[str, str], int]:
    """(status, severity) -> number of findings; findings of archived assets left out by default."""
    query = sa.select(findings.c.status, findings.c.severity, sa.func.count()).where(
        findings.c.connector == connector
    )
    if not include_archived:
        query = query.join(
            assets,
            FINDING_ASSET,
        ).where(assets.c.state == AssetState.ACTIVE.value)
    query = query.group_by(findings.c.status, findings.c.severity)
    with reading("counting findings"):
        return {(row[0], row[1]): row[2] for row in conn.execute(query)}
