"""The findings table and its finding_events: upserts that merge every record into what is stored
(store.merge) and record every status change, and closing findings that are no longer listed.
The reads the sync and the console need are in finding_reads.

Functions run inside the caller's transaction and never commit. Rows whose content did not change
are not rewritten: each stored finding carries a digest of the values it was written from.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from connector.errors import StoreWriteError
from connector.models import (
    API_ABSENT_REASON,
    SOURCE_API,
    SOURCE_API_AND_IMPORT,
    Finding,
    FindingStatus,
)
from connector.store.failures import reading, writing
from connector.store.merge import is_newer, merge_finding
from connector.store.rows import (
    UpsertResult,
    check_connector,
    check_lengths,
    digest,
    length_limits,
    model_from_row,
    row_values,
    stored_columns,
)
from connector.store.schema import assets, finding_events, findings, sync_runs
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


def _check_assets_exist(
    conn: Connection, connector: str, rows: Sequence[Mapping[str, Any]]
) -> None:
    wanted = sorted({r["asset_key"] for r in rows})
    with reading(f"reading {len(wanted)} assets of a findings batch"):
        present = stored_columns(conn, assets, connector, wanted)
    missing = set(wanted) - set(present)
    if missing:
        first = next(r for r in rows if r["asset_key"] in missing)
        raise StoreWriteError(
            f"{_describe_finding_row(first)}: asset {first['asset_key']} is not in the store "
            f"({len(missing)} asset(s) of this batch are missing; write assets before findings)"
        )


def _check_run_exists(conn: Connection, run_id: int) -> None:
    with reading(f"reading run {run_id}"):
        found = conn.execute(sa.select(sync_runs.c.id).where(sync_runs.c.id == run_id)).first()
    if found is None:
        raise StoreWriteError(f"run {run_id} does not exist: start_run() before writing findings")


@dataclass
class FindingPlan:
    """What writing a batch of findings will do, decided before anything is written.

    `rows` are the merged rows to write (new or changed), `events` their status changes;
    `outcomes` says per key what happens: created, updated, unchanged, or kept (the store holds
    newer information: the record changed nothing)."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    outcomes: dict[str, str] = field(default_factory=dict)
    result: UpsertResult = field(default_factory=UpsertResult)
    labels: dict[str, str] = field(default_factory=dict)


CREATED, UPDATED, UNCHANGED, KEPT = "created", "updated", "unchanged", "kept"


@dataclass(frozen=True, slots=True)
class PreparedRow:
    """A finding's row values and digest, computed ahead of the write (pure: see prepare_row)."""

    values: Mapping[str, Any]
    digest: str


def prepare_row(finding: Finding) -> PreparedRow:
    """The row a new finding is written as, and its digest (what plan_findings would compute)."""
    values = row_values(finding)
    return PreparedRow(values, digest(values))


def _finding_from_row(row: sa.RowMapping) -> Finding:
    return model_from_row(Finding, row)


def _full_rows(conn: Connection, connector: str, keys: Sequence[str]) -> dict[str, Finding]:
    found: dict[str, Finding] = {}
    for chunk in chunks(keys):
        query = sa.select(findings).where(
            findings.c.connector == connector, findings.c.key.in_(chunk)
        )
        for row in conn.execute(query).mappings():
            found[row["key"]] = _finding_from_row(row)
    return found


def plan_findings(
    conn: Connection,
    connector: str,
    findings_: Sequence[Finding],
    *,
    now: datetime,
    reason: str,
    prepared: Mapping[str, PreparedRow] | None = None,
) -> FindingPlan:
    """Read what is stored for these findings and merge each record into it (see store.merge).

    Rows only the API wrote and that an API record updates are replaced as they are (the sync's
    fast path: no full row is read); every other stored row is read in full and merged.
    `prepared`: rows and digests a caller computed ahead (`prepare_row`, e.g. in a worker
    process), used for findings that are not stored yet."""
    plan = FindingPlan()
    batch = {f.key: f for f in findings_}  # a key given twice: the later record wins
    if not batch:
        return plan
    check_connector(connector)
    keys = list(batch)
    with reading(f"reading {len(keys)} stored findings"):
        stored = stored_columns(
            conn,
            findings,
            connector,
            keys,
            "content_hash",
            "status",
            "fixed_at",
            "fixed_reason",
            "source",
        )
        to_merge = [
            k
            for k, old in stored.items()
            if not (batch[k].source == SOURCE_API and old.source == SOURCE_API)
        ]
        full = _full_rows(conn, connector, to_merge) if to_merge else {}
    for key, incoming in batch.items():
        old = stored.get(key)
        closed_by_api = old is not None and old.fixed_reason == API_ABSENT_REASON
        ready = prepared.get(key) if prepared is not None and key not in full else None
        if ready is not None:
            merged, values, row_digest = incoming, dict(ready.values), ready.digest
        else:
            merged = (
                merge_finding(full[key], incoming, closed_by_api=closed_by_api)
                if key in full
                else incoming
            )
            values = row_values(merged)
            row_digest = digest(values)
        status = values["status"]
        same = old is not None and old.content_hash == row_digest and old.status == status
        if old is not None and old.content_hash is None and key in full:
            same = row_values(full[key]) == values  # closed as absent: compare the values
        if same:
            plan.result.unchanged += 1
            newer = key not in full or is_newer(incoming, full[key], closed_by_api=closed_by_api)
            plan.outcomes[key] = UNCHANGED if newer else KEPT
            continue
        label = _label(merged)
        check_lengths(label, values, _FINDING_LIMITS)
        old_status = None if old is None else old.status
        if status == _FIXED:
            if old is not None and old_status == _FIXED:  # still fixed: keep when and why
                values["fixed_at"] = merged.fixed_at or old.fixed_at
                values["fixed_reason"] = old.fixed_reason
            else:
                values["fixed_at"] = merged.fixed_at or now
                values["fixed_reason"] = reason
        else:
            values["fixed_at"] = None
            values["fixed_reason"] = None
        values.update(connector=connector, content_hash=row_digest, created_at=now, updated_at=now)
        plan.rows.append(values)
        plan.labels[key] = label
        (plan.result.updated if old is not None else plan.result.created).append(key)
        plan.outcomes[key] = CREATED if old is None else UPDATED
        if old_status != status:
            plan.result.status_changes.append((key, old_status, status))
            plan.events.append(
                {
                    "connector": connector,
                    "finding_key": key,
                    "from_status": old_status,
                    "to_status": status,
                    "at": now,
                    "run_id": 0,  # set by apply_findings
                    "reason": reason,
                }
            )
    return plan


def apply_findings(
    conn: Connection, connector: str, plan: FindingPlan, *, run_id: int
) -> UpsertResult:
    """Write a plan's rows and events in one set-based upsert (inside the caller's transaction)."""
    rows = plan.rows
    if not rows:
        return plan.result
    _check_assets_exist(conn, connector, rows)
    events = [{**e, "run_id": run_id} for e in plan.events]
    if events:
        _check_run_exists(conn, run_id)
    with writing(f"writing {len(rows)} findings (first: {plan.labels[rows[0]['key']]})"):
        upsert(
            conn,
            findings,
            rows,
            conflict=("connector", "key"),
            update=_FINDING_UPDATE,
            describe=_describe_finding_row,
        )
        insert_many(conn, finding_events, events, describe=_describe_event_row)
        analyze_if_stale(conn, findings, len(plan.result.created))
    return plan.result


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

    Each record is merged into what is stored (store.merge: the newer source wins). Creations and
    status changes each get a finding_events row with `reason`. A finding that becomes Fixed
    gets fixed_at (its own, else `now`) and fixed_reason; one that becomes Active again has both
    cleared.
    """
    plan = plan_findings(conn, connector, findings_, now=now, reason=reason)
    return apply_findings(conn, connector, plan, run_id=run_id)


def close_findings(
    conn: Connection,
    connector: str,
    keys: Sequence[str],
    *,
    run_id: int,
    now: datetime,
    reason: str,
    fixed_at: datetime | None = None,
) -> None:
    """Mark these Active findings Fixed (fixed_at: `fixed_at`, else `now`) with an event each;
    their content hash is cleared so a reappearance is rewritten. Their `as_of` moves up to
    that date: the absence is information of that date, which an older report cannot undo."""
    if not keys:
        return
    _check_run_exists(conn, run_id)
    when = fixed_at or now
    later = sa.or_(findings.c.as_of.is_(None), findings.c.as_of < when)
    with writing(f"marking {len(keys)} absent findings fixed (first: finding {keys[0]})"):
        for chunk in chunks(keys):
            conn.execute(
                sa.update(findings)
                .where(findings.c.connector == connector, findings.c.key.in_(chunk))
                .values(
                    status=_FIXED,
                    fixed_at=when,
                    fixed_reason=reason,
                    content_hash=None,
                    input_digest=None,
                    updated_at=now,
                    as_of=sa.case(
                        (later, sa.literal(when, type_=findings.c.as_of.type)),
                        else_=findings.c.as_of,
                    ),
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
            for key in keys
        ]
        insert_many(conn, finding_events, events, describe=_describe_event_row)


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
    rewritten. `types` keeps findings of types that were not fetched out of it. Findings an
    import also saw count as the API's (source "api+import").
    Returns the keys fixed. Active keys are streamed and diffed in Python, updates are batched."""
    # Sets and set-like collections (the sync's compact key set) are used as they are.
    seen = set(seen_keys) if isinstance(seen_keys, list | tuple) else seen_keys
    base = sa.select(findings.c.key).where(
        findings.c.connector == connector, findings.c.status == _ACTIVE
    )
    if source is not None:
        sources = [source, SOURCE_API_AND_IMPORT] if source == SOURCE_API else [source]
        base = base.where(findings.c.source.in_(sources))
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
    close_findings(conn, connector, absent, run_id=run_id, now=now, reason=reason)
    return absent
